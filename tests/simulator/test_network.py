"""What each end of a connection or an HTTP exchange sees, with and without faults."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gatewaysim.simulator import ConfigError, World
from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.messages import (
    AcceptConnection,
    CloseConnection,
    ConnectRequested,
    ForwardConnection,
    HttpFailed,
    HttpRequest,
    HttpRequestReceived,
    HttpRespond,
    HttpResponse,
    OpenConnection,
    RejectConnection,
    Send,
    SetAttachment,
    SetTimer,
    Start,
    StoragePut,
    TimerFired,
    WsClosed,
    WsMessage,
    WsOpened,
    WsRejected,
)

from .nodes import Do, Recorder, two_hosts

L = ms(10)
CONN = "c:ws1"


def connect(world: World, client: Recorder) -> None:
    world.inject("c", Do((OpenConnection(CONN, "srv"),)))
    world.run_for(2 * L)
    assert client.got(WsOpened), "the connection should be open"


def data_of(node: Recorder) -> list:
    return [i.data for _, i in node.got(WsMessage)]


def closes(node: Recorder) -> list[tuple[int, WsClosed]]:
    return node.got(WsClosed)


# ------------------------------------------------------------------ open, accept, reject
def test_open_and_accept_take_one_latency_each_way() -> None:
    world, client, server = two_hosts(latency=L)
    world.inject("c", Do((OpenConnection(CONN, "srv", {"token": "t"}),)))
    world.run_for(s(1))
    assert server.got(ConnectRequested) == [(L, ConnectRequested(CONN, "c", {"token": "t"}))]
    assert client.got(WsOpened) == [(2 * L, WsOpened(CONN, {}))]
    assert [v.conn for v in server.ctx.get_websockets()] == [CONN]


def test_reject_gives_the_client_the_status() -> None:
    world, client, _ = two_hosts(
        latency=L, server_on={ConnectRequested: lambda t, i: [RejectConnection(i.conn, 403, "no")]})
    world.inject("c", Do((OpenConnection(CONN, "srv"),)))
    world.run_for(s(1))
    assert client.got(WsRejected) == [(2 * L, WsRejected(CONN, 403, "no"))]
    assert world.network.connection(CONN) is None


def test_forward_hands_the_upgrade_to_another_host() -> None:
    world, client, server = two_hosts(latency=L)
    router = world.add_host("router", lambda ctx: Recorder(ctx, on={
        ConnectRequested: lambda t, i: [ForwardConnection(i.conn, "srv", {"routed": True})]}))
    world.inject("c", Do((OpenConnection(CONN, "router"),)))
    world.run_for(s(1))
    assert router.got(ConnectRequested)[0][0] == L
    assert server.got(ConnectRequested) == [(2 * L, ConnectRequested(CONN, "c", {"routed": True}))]
    assert client.got(WsOpened)[0][0] == 3 * L
    assert router.ctx.get_websockets() == []
    assert [v.conn for v in server.ctx.get_websockets()] == [CONN]


def test_open_to_an_unknown_host_is_refused() -> None:
    world, client, _ = two_hosts(latency=L)
    world.inject("c", Do((OpenConnection(CONN, "nobody"),)))
    world.run_for(s(1))
    assert client.got(WsRejected) == [(2 * L, WsRejected(CONN, 0, "connection refused"))]


# ------------------------------------------------------------------ messages
def test_messages_take_the_link_latency() -> None:
    world, client, server = two_hosts(latency=L)
    connect(world, client)
    t0 = world.now
    world.inject("c", Do((Send(CONN, "hi"),)))
    world.run_for(s(1))
    assert server.got(WsMessage) == [(t0 + L, WsMessage(CONN, "hi"))]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), jitter=st.integers(0, ms(50)),
       gaps=st.lists(st.integers(0, ms(20)), min_size=1, max_size=30))
def test_messages_are_fifo_per_direction_even_with_jitter(seed: int, jitter: int,
                                                          gaps: list[int]) -> None:
    world, client, server = two_hosts(latency=L, jitter=jitter, seed=seed)
    connect_at = world.now
    world.inject("c", Do((OpenConnection(CONN, "srv"),)))
    world.run_for(2 * (L + jitter) + 1)
    assert client.got(WsOpened), connect_at
    sent_at = []
    for n, gap in enumerate(gaps):
        world.run_for(gap)
        sent_at.append(world.now)
        world.inject("c", Do((Send(CONN, n),)))
        world.inject("srv", Do((Send(CONN, -n),)))
    world.run_for(s(10))
    assert data_of(server) == list(range(len(gaps)))
    assert data_of(client) == [-n for n in range(len(gaps))]
    for (arrived, _), sent in zip(server.got(WsMessage), sent_at):
        assert arrived >= sent + L


def test_slow_link_changes_arrival_time() -> None:
    world, client, server = two_hosts(latency=L)
    connect(world, client)
    world.slow_link("c", "srv", ms(300))
    t0 = world.now
    world.inject("c", Do((Send(CONN, 1),)))
    world.run_for(s(1))
    assert server.got(WsMessage)[0][0] == t0 + ms(300)


def test_slow_link_one_way_only_slows_that_direction() -> None:
    world, client, server = two_hosts(latency=L)
    connect(world, client)
    world.slow_link("c", "srv", ms(300), both=False)
    t0 = world.now
    world.inject("c", Do((Send(CONN, 1),)))
    world.inject("srv", Do((Send(CONN, 2),)))
    world.run_for(s(1))
    assert server.got(WsMessage)[0][0] == t0 + ms(300)
    assert client.got(WsMessage)[0][0] == t0 + L


def test_negative_latency_is_a_config_error() -> None:
    world, _, _ = two_hosts()
    try:
        world.slow_link("c", "srv", -1)
    except ConfigError as exc:
        assert "latency" in str(exc)
    else:  # pragma: no cover - the assertion is the test
        raise AssertionError("negative latency accepted")


# ------------------------------------------------------------------ close
def test_close_is_echoed_and_both_ends_see_the_code_cleanly() -> None:
    world, client, server = two_hosts(latency=L)
    connect(world, client)
    t0 = world.now
    world.inject("c", Do((CloseConnection(CONN, 4001, "bye"),)))
    world.run_for(s(1))
    assert closes(server) == [(t0 + L, WsClosed(CONN, 4001, "bye", True))]
    assert closes(client) == [(t0 + 2 * L, WsClosed(CONN, 4001, "bye", True))]
    assert server.ctx.get_websockets() == []
    assert world.network.connection(CONN) is None


def test_server_initiated_close_is_echoed_too() -> None:
    world, client, server = two_hosts(latency=L)
    connect(world, client)
    t0 = world.now
    world.inject("srv", Do((CloseConnection(CONN, 1011, "oops"),)))
    assert server.ctx.get_websockets()[0].ready_state == "CLOSING"
    world.run_for(s(1))
    assert closes(client) == [(t0 + L, WsClosed(CONN, 1011, "oops", True))]
    assert closes(server) == [(t0 + 2 * L, WsClosed(CONN, 1011, "oops", True))]


def test_close_before_open_fails_the_connection_and_the_server_learns() -> None:
    world, client, server = two_hosts(latency=L)
    world.inject("c", Do((OpenConnection(CONN, "srv"),)))
    world.run_for(L + 1)  # the accept is on its way back
    world.inject("c", Do((CloseConnection(CONN),)))
    world.run_for(s(1))
    assert [i.code for _, i in closes(client)] == [1006]
    assert not client.got(WsOpened)
    assert [(i.code, i.clean) for _, i in closes(server)] == [(1006, False)]
    assert server.ctx.get_websockets() == []


# ------------------------------------------------------------------ faults
def test_drop_both_ends_see_1006_after_their_own_delay() -> None:
    world, client, server = two_hosts(latency=L)
    connect(world, client)
    t0 = world.now
    world.drop(CONN, client_delay=ms(5), server_delay=ms(700))
    world.inject("c", Do((Send(CONN, "lost"),)))
    world.run_for(s(2))
    assert closes(client) == [(t0 + ms(5), WsClosed(CONN, 1006, "dropped", False))]
    assert closes(server) == [(t0 + ms(700), WsClosed(CONN, 1006, "dropped", False))]
    assert data_of(server) == []


def test_drop_of_a_connection_that_is_gone_is_ignored() -> None:
    world, _, _ = two_hosts()
    world.drop("no-such-conn")
    assert any(r.type == "fault.ignored" for r in world.trace.records)


def test_half_open_believer_learns_only_when_it_sends() -> None:
    world, client, server = two_hosts(latency=L, rto=s(3))
    connect(world, client)
    t0 = world.now
    world.half_open(CONN, believer="server")
    world.run_for(s(10))
    assert closes(client) == [(t0 + L, WsClosed(CONN, 1006, "half-open", False))]
    assert closes(server) == []
    assert [v.ready_state for v in server.ctx.get_websockets()] == ["OPEN"]
    t1 = world.now
    world.inject("srv", Do((Send(CONN, "anyone?"),)))
    world.run_for(s(10))
    assert closes(server) == [(t1 + s(3), WsClosed(CONN, 1006, "transport dead", False))]
    assert data_of(client) == []


def test_half_open_client_believer() -> None:
    world, client, server = two_hosts(latency=L, rto=s(2))
    connect(world, client)
    world.half_open(CONN, believer="client")
    world.run_for(s(5))
    assert [i.code for _, i in closes(server)] == [1006]
    assert closes(client) == []
    t1 = world.now
    world.inject("c", Do((Send(CONN, "x"),)))
    world.run_for(s(5))
    assert closes(client)[0][0] == t1 + s(2)


def test_partition_both_ways_sender_learns_after_rto_receiver_when_it_sends() -> None:
    world, client, server = two_hosts(latency=L, rto=s(1))
    connect(world, client)
    world.partition("c", "srv")
    t0 = world.now
    world.inject("c", Do((Send(CONN, "across"),)))
    world.run_for(s(5))
    assert data_of(server) == []
    assert closes(client) == [(t0 + s(1), WsClosed(CONN, 1006, "partitioned", False))]
    assert closes(server) == []
    world.heal()
    t1 = world.now
    world.inject("srv", Do((Send(CONN, "late"),)))
    world.run_for(s(5))
    assert closes(server)[0][0] == t1 + s(1)
    assert data_of(client) == []


def test_partition_one_way_blocks_only_that_direction() -> None:
    world, client, server = two_hosts(latency=L)
    connect(world, client)
    world.partition("c", "srv", one_way=True)
    world.inject("srv", Do((Send(CONN, "down"),)))
    world.run_for(s(1))
    assert data_of(client) == ["down"]
    world.inject("c", Do((Send(CONN, "up"),)))
    world.run_for(s(5))
    assert data_of(server) == []
    assert [i.code for _, i in closes(client)] == [1006]


def test_connect_across_a_partition_times_out_and_heal_lets_it_through() -> None:
    world, client, server = two_hosts(latency=L, connect_timeout=s(4))
    world.partition("c", "srv")
    world.inject("c", Do((OpenConnection(CONN, "srv"),)))
    world.run_for(s(10))
    assert client.got(WsRejected) == [(s(4), WsRejected(CONN, 0, "unreachable"))]
    assert server.got(ConnectRequested) == []
    world.heal("c", "srv")
    world.inject("c", Do((OpenConnection("c:ws2", "srv"),)))
    world.run_for(s(1))
    assert [i.conn for _, i in client.got(WsOpened)] == ["c:ws2"]


def test_accept_lost_in_a_partition_fails_the_handshake() -> None:
    world, client, server = two_hosts(latency=L, connect_timeout=s(4), rto=s(1))
    world.inject("c", Do((OpenConnection(CONN, "srv"),)))
    world.run_for(L // 2)
    world.partition("srv", "c", one_way=True)  # the upgrade gets in, the accept does not
    world.run_for(s(10))
    assert [i.code for _, i in closes(server)] == [1006]
    assert [(i.status, i.reason) for _, i in client.got(WsRejected)] == [(0, "unreachable")]


def test_crash_peers_see_1006_timers_lost_storage_kept_restart_is_a_new_incarnation() -> None:
    world, client, server = two_hosts(latency=L, crash_detect=ms(20))
    connect(world, client)
    world.inject("srv", Do((StoragePut("k", {"v": 1}), SetTimer("tick", world.now + s(1)))))
    world.inject("c", Do((HttpRequest("c:r1", "srv", "GET", "/"),)))
    world.run_for(L // 2)
    t0 = world.now
    world.crash("srv")
    assert not world.host_up("srv")
    world.run_for(s(5))
    assert closes(client) == [(t0 + ms(20), WsClosed(CONN, 1006, "host crashed", False))]
    assert client.got(HttpFailed) == [(t0 + ms(20),
                                       HttpFailed("c:r1", "connection lost: peer crashed"))]
    assert server.got(HttpRequestReceived) == []
    world.restart("srv")
    reborn = world.node("srv")
    assert reborn is not server
    assert reborn.seen == [(world.now, Start(1))]
    assert reborn.ctx.incarnation == 1
    assert reborn.ctx.storage["k"] == {"v": 1}
    assert reborn.ctx.get_websockets() == []
    world.run_for(s(5))
    assert reborn.got(TimerFired) == [] and server.got(TimerFired) == []


def test_request_to_a_crashed_host_is_refused_and_inputs_in_flight_are_lost() -> None:
    world, client, _ = two_hosts(latency=L)
    world.crash("srv")
    world.inject("c", Do((HttpRequest("c:r1", "srv", "GET", "/"),
                          OpenConnection(CONN, "srv"))))
    world.run_for(s(1))
    assert client.got(HttpFailed) == [(2 * L, HttpFailed("c:r1", "connection refused"))]
    assert client.got(WsRejected) == [(2 * L, WsRejected(CONN, 0, "connection refused"))]


def test_storage_is_a_copy_not_the_nodes_memory() -> None:
    world, _, server = two_hosts()
    value = {"n": 1}
    world.inject("srv", Do((StoragePut("k", value),)))
    value["n"] = 2
    read = server.ctx.storage["k"]
    read["n"] = 3
    assert server.ctx.storage["k"] == {"n": 1}


def test_evict_keeps_sockets_and_attachments_but_not_memory_or_timers() -> None:
    world, client, server = two_hosts(latency=L)
    connect(world, client)
    world.inject("srv", Do((SetAttachment(CONN, {"user": "u1"}),
                            SetTimer("tick", world.now + s(1)))))
    world.evict("srv")
    woken = world.node("srv")
    assert woken is not server and woken.seen[0][1] == Start(1)
    [view] = woken.ctx.get_websockets()
    assert (view.conn, view.attachment, view.ready_state) == (CONN, {"user": "u1"}, "OPEN")
    world.inject("c", Do((Send(CONN, "still there?"),)))
    world.run_for(s(5))
    assert data_of(woken) == ["still there?"]
    assert woken.got(TimerFired) == [] and server.got(TimerFired) == []


def test_a_close_notice_in_flight_survives_eviction() -> None:
    world, client, _ = two_hosts(latency=L)
    connect(world, client)
    world.drop(CONN, server_delay=ms(50))
    world.evict("srv")
    world.run_for(s(1))
    assert [i.code for _, i in closes(world.node("srv"))] == [1006]


# ------------------------------------------------------------------ HTTP
def test_http_request_and_response() -> None:
    world, client, server = two_hosts(
        latency=L,
        server_on={HttpRequestReceived: lambda t, i: [HttpRespond(i.req, 200, i.body * 2)]})
    world.inject("c", Do((HttpRequest("c:r1", "srv", "POST", "/x", {"h": "1"}, 21),)))
    world.run_for(s(1))
    assert server.got(HttpRequestReceived) == [
        (L, HttpRequestReceived("c:r1", "c", "POST", "/x", {"h": "1"}, 21))]
    assert client.got(HttpResponse) == [(2 * L, HttpResponse("c:r1", 200, 42))]


def test_http_timeout_when_nobody_answers() -> None:
    world, client, _ = two_hosts(latency=L)
    world.inject("c", Do((HttpRequest("c:r1", "srv", "GET", "/", timeout=s(2)),)))
    world.run_for(s(5))
    assert client.got(HttpFailed) == [(s(2), HttpFailed("c:r1", "timeout"))]


def test_http_timeout_wins_over_a_slower_partition_failure() -> None:
    world, client, _ = two_hosts(latency=L, http_unreachable=s(5))
    world.partition("c", "srv")
    world.inject("c", Do((HttpRequest("c:r1", "srv", "GET", "/", timeout=s(1)),
                          HttpRequest("c:r2", "srv", "GET", "/"))))
    world.run_for(s(10))
    assert client.got(HttpFailed) == [(s(1), HttpFailed("c:r1", "timeout")),
                                      (s(5), HttpFailed("c:r2", "unreachable"))]


def test_accept_effect_for_a_dead_upgrade_is_ignored() -> None:
    world, _, _ = two_hosts(latency=L)
    world.inject("srv", Do((AcceptConnection("never-requested"),)))
    assert any(r.type == "accept.ignored" for r in world.trace.records)


# ------------------------------------------------------------------ the close-notice window
def lost_frames(world: World, actor: str) -> list:
    return [r.data["why"] for r in world.trace.records
            if r.type == "frame.lost" and r.actor == actor]


def refused_sends(world: World, actor: str) -> list:
    return [r.data["why"] for r in world.trace.records
            if r.type == "send.dropped" and r.actor == actor]


def test_server_end_is_listed_until_its_drop_notice_arrives() -> None:
    world, client, server = two_hosts(latency=L)
    connect(world, client)
    t0 = world.now
    world.drop(CONN, client_delay=ms(5), server_delay=ms(700))
    world.run_for(ms(699))  # the server has not been told yet
    assert [(v.conn, v.ready_state) for v in server.ctx.get_websockets()] == [(CONN, "OPEN")]
    world.run_for(ms(1))
    assert closes(server) == [(t0 + ms(700), WsClosed(CONN, 1006, "dropped", False))]
    assert server.ctx.get_websockets() == []


def test_half_open_believer_is_still_listed_during_the_rto_and_told_once() -> None:
    world, client, server = two_hosts(latency=L, rto=s(3))
    connect(world, client)
    world.half_open(CONN, believer="server")
    world.run_for(s(1))
    t1 = world.now
    world.inject("srv", Do((Send(CONN, "first"),)))  # it finds out after rto
    world.run_for(s(1))
    assert [v.ready_state for v in server.ctx.get_websockets()] == ["OPEN"]
    world.inject("srv", Do((Send(CONN, "second"),)))  # still believes: lost, not refused
    world.run_for(s(10))
    assert lost_frames(world, "srv") == ["transport dead", "transport dead"]
    assert refused_sends(world, "srv") == []
    assert closes(server) == [(t1 + s(3), WsClosed(CONN, 1006, "transport dead", False))]
    assert server.ctx.get_websockets() == []
    assert data_of(client) == []


def test_client_send_while_its_drop_notice_is_pending_is_lost_not_refused() -> None:
    world, client, server = two_hosts(latency=L)
    connect(world, client)
    t0 = world.now
    world.drop(CONN, client_delay=ms(500), server_delay=ms(5))
    world.run_for(ms(100))
    world.inject("c", Do((Send(CONN, "into the void"),)))
    world.run_for(s(2))
    assert lost_frames(world, "c") == ["transport dead"]
    assert refused_sends(world, "c") == []
    assert closes(client) == [(t0 + ms(500), WsClosed(CONN, 1006, "dropped", False))]
    assert data_of(server) == []


def test_client_believer_sends_twice_and_is_told_once() -> None:
    world, client, server = two_hosts(latency=L, rto=s(2))
    connect(world, client)
    world.half_open(CONN, believer="client")
    world.run_for(s(1))
    t1 = world.now
    world.inject("c", Do((Send(CONN, "a"),)))
    world.run_for(s(1))
    world.inject("c", Do((Send(CONN, "b"),)))
    world.run_for(s(10))
    assert closes(client) == [(t1 + s(2), WsClosed(CONN, 1006, "transport dead", False))]
    assert lost_frames(world, "c") == ["transport dead", "transport dead"]
    assert refused_sends(world, "c") == []
    assert data_of(server) == []


def test_send_after_the_notice_arrived_is_refused_as_closed() -> None:
    world, client, _ = two_hosts(latency=L)
    connect(world, client)
    world.drop(CONN, client_delay=ms(5))
    world.run_for(ms(5))
    world.inject("c", Do((Send(CONN, "late"),)))
    assert lost_frames(world, "c") == []
    assert refused_sends(world, "c") == ["socket CLOSED"]  # the server is not told yet
    assert [i.code for _, i in closes(client)] == [1006]


def test_closing_a_connecting_socket_whose_failure_is_pending_gives_one_notice() -> None:
    world, client, _ = two_hosts(latency=L, connect_timeout=s(4))
    world.inject("c", Do((OpenConnection(CONN, "srv"),)))
    world.run_for(L + 1)  # accepted; the open frame is on its way
    world.half_open(CONN, believer="server")  # the client will be told it failed
    world.inject("c", Do((CloseConnection(CONN),)))
    world.run_for(s(10))
    assert [(type(i).__name__, i.reason) for _, i in
            client.got(WsClosed) + client.got(WsRejected)] == [
        ("WsClosed", "closed before open")]


# ------------------------------------------------------------------ the listing index
def scanned(world: World, host: str) -> list:
    """What ``get_websockets`` must list, found the slow way: every connection, in order."""
    return [(c.id, c.client, c.attachment, c.server_state) for c in world.network.conns.values()
            if c.server == host and c.server_state in ("OPEN", "CLOSING")]


def listed(world: World, host: str) -> list:
    return [(v.conn, v.peer, v.attachment, v.ready_state)
            for v in world.node(host).ctx.get_websockets()]


def test_a_later_connection_accepted_first_is_still_listed_after_the_older_one() -> None:
    world, _, server = two_hosts(latency=L)
    world.add_host("router", lambda ctx: Recorder(ctx, on={
        ConnectRequested: lambda t, i: [ForwardConnection(i.conn, "srv", {})]}))
    world.slow_link("c", "router", ms(200))
    world.inject("c", Do((OpenConnection("c:old", "router"), OpenConnection("c:new", "srv"))))
    world.run_for(s(1))
    assert [i.conn for _, i in server.got(ConnectRequested)] == ["c:new", "c:old"]
    assert [v[0] for v in listed(world, "srv")] == ["c:old", "c:new"]
    assert listed(world, "srv") == scanned(world, "srv")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16),
       ops=st.lists(st.tuples(st.sampled_from(["open", "close", "srv_close", "drop", "half",
                                               "crash", "send", "wait"]),
                              st.integers(0, 5)), max_size=40))
def test_the_listing_index_matches_a_scan_of_every_connection(seed: int,
                                                              ops: list[tuple[str, int]]) -> None:
    world, _, _ = two_hosts(latency=L, jitter=ms(7), seed=seed, rto=ms(300))
    world.add_namespace("obj/", Recorder)
    opened: list[str] = []
    for op, n in ops:
        conn = opened[n % len(opened)] if opened else "none"
        target = "srv" if n % 2 else f"obj/{n % 3}"
        if op == "open":
            opened.append(f"c:ws{len(opened)}")
            world.inject("c", Do((OpenConnection(opened[-1], target),)))
        elif op == "close":
            world.inject("c", Do((CloseConnection(conn),)))
        elif op == "srv_close" and world.network.connection(conn) is not None:
            server_host = world.network.connection(conn).server  # type: ignore[union-attr]
            if server_host is not None and world.host_up(server_host):
                world.inject(server_host, Do((CloseConnection(conn),)))
        elif op == "drop":
            world.drop(conn, server_delay=ms(n * 50))
        elif op == "half":
            world.half_open(conn, believer="server" if n % 2 else "client")
        elif op == "crash":
            world.crash(target)
        elif op == "send":
            world.inject("c", Do((Send(conn, n),)))
        world.run_for(ms(n * 20))
        for host in world.hosts:
            if world.host_up(host):
                assert listed(world, host) == scanned(world, host), host
