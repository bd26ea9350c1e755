"""The opt-in network additions: lossy links, latency distributions, offline hosts, a rate
limiter that answers 429 with Retry-After, and frames held across a partition."""

from __future__ import annotations

import pytest

from gatewaysim.simulator import ConfigError, World
from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.messages import (
    BrowserOffline,
    BrowserOnline,
    HttpFailed,
    HttpRequest,
    HttpRequestReceived,
    HttpRespond,
    HttpRespondWithHeaders,
    HttpResponse,
    HttpResponseWithHeaders,
    OpenConnection,
    Send,
    WsClosed,
    WsMessage,
    WsOpened,
    WsRejected,
)
from gatewaysim.simulator.network import ShiftedExponential, Uniform

from .nodes import Do, Recorder, two_hosts

L = ms(10)
CONN = "c:ws1"


def _answer(now: int, inp: HttpRequestReceived) -> list:
    return [HttpRespond(inp.req, 200, "ok")]


def _requests(world: World, n: int, timeout: int | None = None) -> None:
    for i in range(n):
        world.inject("c", Do((HttpRequest(f"c:h{i}", "srv", "GET", "/", timeout=timeout),)))


def _outcomes(client: Recorder) -> tuple[int, int]:
    ok = sum(1 for _, i in client.seen if isinstance(i, HttpResponse))
    failed = len(client.got(HttpFailed))
    return ok, failed


# ------------------------------------------------------------------ loss
def test_a_lossless_world_draws_nothing_and_every_request_succeeds() -> None:
    world, client, _ = two_hosts(server_on={HttpRequestReceived: _answer})
    _requests(world, 50)
    world.run_for(s(10))
    assert _outcomes(client) == (50, 0)
    assert "link:c->srv" not in world.rng._streams


def test_half_the_legs_lost_leaves_about_a_quarter_of_exchanges() -> None:
    world, client, _ = two_hosts(server_on={HttpRequestReceived: _answer})
    world.lossy_link("c", "srv", 0.5)
    _requests(world, 400)
    world.run_for(s(10))
    ok, failed = _outcomes(client)
    assert ok + failed == 400
    assert 60 <= ok <= 140, ok  # (1 - 0.5) ** 2 of 400 is 100
    reasons = {i.reason for _, i in client.got(HttpFailed)}
    assert reasons == {"lost"}


def test_a_lost_leg_fails_after_http_unreachable_or_the_timeout() -> None:
    world, client, _ = two_hosts(server_on={HttpRequestReceived: _answer})
    world.lossy_link("c", "srv", 1.0)
    _requests(world, 1)
    world.inject("c", Do((HttpRequest("c:t", "srv", "GET", "/", timeout=s(1)),)))
    world.run_for(s(10))
    assert client.got(HttpFailed) == [(s(1), HttpFailed("c:t", "timeout")),
                                      (s(5), HttpFailed("c:h0", "lost"))]


def test_loss_draws_come_from_the_links_own_stream() -> None:
    def run(seed: int) -> list:
        world, client, _ = two_hosts(seed=seed, server_on={HttpRequestReceived: _answer})
        world.lossy_link("c", "srv", 0.5)
        _requests(world, 40)
        world.run_for(s(10))
        return sorted(i.req for _, i in client.seen if isinstance(i, HttpResponse))

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_frames_are_not_lost_unless_the_link_says_so() -> None:
    for frames, expect_all in ((False, True), (True, False)):
        world, _client, server = two_hosts()
        world.inject("c", Do((OpenConnection(CONN, "srv"),)))
        world.run_for(s(1))
        world.lossy_link("c", "srv", 0.5, frames=frames)
        world.inject("c", Do(tuple(Send(CONN, n) for n in range(100))))
        world.run_for(s(1))
        got = [i.data for _, i in server.got(WsMessage)]
        assert (got == list(range(100))) is expect_all
        assert got == sorted(got)  # what arrives still arrives in order


def test_loss_must_be_a_probability() -> None:
    world, _, _ = two_hosts()
    with pytest.raises(ConfigError):
        world.lossy_link("c", "srv", 1.5)


# ------------------------------------------------------------------ latency distributions
def test_a_distribution_sets_the_latency_and_fifo_still_holds() -> None:
    world, _client, server = two_hosts()
    world.inject("c", Do((OpenConnection(CONN, "srv"),)))
    world.run_for(s(1))
    world.latency_distribution("c", "srv", Uniform(ms(100), ms(300)))
    start = world.now
    world.inject("c", Do(tuple(Send(CONN, n) for n in range(50))))
    world.run_for(s(1))
    arrivals = server.got(WsMessage)
    assert [i.data for _, i in arrivals] == list(range(50))
    assert all(ms(100) <= t - start <= ms(300) for t, _ in arrivals)
    assert arrivals[0][0] != arrivals[-1][0]  # drawn, not fixed


def test_shifted_exponential_stays_between_base_and_its_cap() -> None:
    import random

    dist = ShiftedExponential(ms(50), ms(20), cap_means=5)
    rng = random.Random(1)
    draws = [dist.sample(rng) for _ in range(2000)]
    assert min(draws) >= ms(50) and max(draws) <= ms(150)
    assert ms(60) < sum(draws) / len(draws) < ms(80)
    with pytest.raises(ConfigError):
        Uniform(ms(5), ms(1))


def test_set_link_keeps_a_links_loss() -> None:
    world, client, _ = two_hosts(server_on={HttpRequestReceived: _answer})
    world.lossy_link("c", "srv", 1.0)
    world.slow_link("c", "srv", ms(100))
    _requests(world, 3)
    world.run_for(s(10))
    assert _outcomes(client) == (0, 3)


# ------------------------------------------------------------------ offline hosts
def test_offline_is_a_partition_from_everyone_and_the_node_is_told() -> None:
    world, client, _ = two_hosts(server_on={HttpRequestReceived: _answer})
    world.add_host("other", Recorder)
    world.go_offline("c")
    world.go_offline("c")  # twice: told once
    _requests(world, 1)
    world.inject("c", Do((OpenConnection(CONN, "other"),)))
    world.run_for(s(20))
    assert [type(i) for _, i in client.seen if type(i) in (BrowserOffline, BrowserOnline)] == [
        BrowserOffline]
    assert client.got(HttpFailed) == [(s(5), HttpFailed("c:h0", "unreachable"))]
    assert [i.reason for _, i in client.got(WsRejected)] == ["unreachable"]
    world.go_online("c")
    world.inject("c", Do((HttpRequest("c:h9", "srv", "GET", "/"),)))
    world.run_for(s(1))
    assert client.seen[-1][1] == HttpResponse("c:h9", 200, "ok")
    assert len(client.got(BrowserOnline)) == 1


# ------------------------------------------------------------------ 429 with Retry-After
def test_the_rate_limiter_answers_429_with_retry_after_then_lets_requests_through() -> None:
    world, client, server = two_hosts(server_on={HttpRequestReceived: _answer})
    world.rate_limit("srv", 2, s(3))
    _requests(world, 3)
    world.run_for(s(1))
    answers = [i for _, i in client.seen if isinstance(i, HttpResponse)]
    assert answers[:2] == [
        HttpResponseWithHeaders("c:h0", 429, {"error": "Too Many Requests"},
                                {"Retry-After": "3"}),
        HttpResponseWithHeaders("c:h1", 429, {"error": "Too Many Requests"},
                                {"Retry-After": "3"}),
    ]
    assert answers[2] == HttpResponse("c:h2", 200, "ok")
    assert len(server.got(HttpRequestReceived)) == 1  # the limited ones never reached it


def test_a_node_can_answer_with_headers() -> None:
    def answer(now: int, inp: HttpRequestReceived) -> list:
        return [HttpRespondWithHeaders(inp.req, 429, None, {"Retry-After": "7"})]

    world, client, _ = two_hosts(server_on={HttpRequestReceived: answer})
    _requests(world, 1)
    world.run_for(s(1))
    (_, got), = [(t, i) for t, i in client.seen if isinstance(i, HttpResponse)]
    assert got == HttpResponseWithHeaders("c:h0", 429, None, {"Retry-After": "7"})


# ------------------------------------------------------------------ frames held at a partition
def _open(hold: bool, latency: int = ms(100)) -> tuple[World, Recorder, Recorder]:
    world, client, server = two_hosts(latency=latency, hold_in_flight=hold)
    world.inject("c", Do((OpenConnection(CONN, "srv"),)))
    world.run_for(s(1))
    assert client.got(WsOpened)
    return world, client, server


def test_by_default_a_frame_in_flight_arrives_during_the_partition() -> None:
    world, _, server = _open(hold=False)
    world.inject("c", Do((Send(CONN, "in flight"),)))
    world.run_for(ms(50))
    world.partition("c", "srv")
    world.run_for(ms(100))
    assert [i.data for _, i in server.got(WsMessage)] == ["in flight"]


def test_held_frames_arrive_in_order_after_the_heal_while_the_connection_lives() -> None:
    world, client, server = _open(hold=True)
    world.inject("c", Do((Send(CONN, 1), Send(CONN, 2))))
    world.run_for(ms(50))
    world.partition("c", "srv")
    world.run_for(s(5))
    assert server.got(WsMessage) == []
    heal_at = world.now
    world.heal()
    world.run_for(s(1))
    got = server.got(WsMessage)
    assert [i.data for _, i in got] == [1, 2]
    assert all(t == heal_at + ms(100) for t, _ in got)
    assert not client.got(WsClosed) and not server.got(WsClosed)


def test_held_frames_die_with_their_connection() -> None:
    world, _client, server = _open(hold=True)
    world.inject("c", Do((Send(CONN, "doomed"),)))
    world.run_for(ms(50))
    world.partition("c", "srv")
    world.run_for(ms(100))  # the frame reaches the partition and is held
    world.inject("srv", Do((Send(CONN, "across"),)))  # a send across breaks the connection
    world.run_for(s(5))
    world.heal()
    world.run_for(s(5))
    assert server.got(WsMessage) == []
    assert [c.code for _, c in server.got(WsClosed)] == [1006]  # the sender learnt
    lost = [r for r in world.trace if r.type == "frame.lost"]
    assert any("connection died" in r.data.get("why", "") for r in lost)


def test_an_offline_host_holds_frames_too() -> None:
    world, client, _server = _open(hold=True)
    world.inject("srv", Do((Send(CONN, "hello"),)))
    world.run_for(ms(50))
    world.go_offline("c")
    world.run_for(s(2))
    assert client.got(WsMessage) == []
    world.go_online("c")
    world.run_for(s(1))
    assert [i.data for _, i in client.got(WsMessage)] == ["hello"]
