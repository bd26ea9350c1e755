"""Integration cases of ``lumenize-mesh.md`` section 5, end to end: real clients, the
Worker and its auth hooks, the token service, gateways and mesh DOs in one world.

Cases 81-84 and 88 and the gateway cases 1-37 are covered elsewhere (``test_worker_auth``,
``test_gateway_*``, ``test_client_*``); case 86 also at the gateway level in
``test_mesh_objects``. Here: 85-87 (Nebula), 89-94 (the planned resilience phases, each
with a different fault than ``test_phases`` uses for the same phase), and the section 6
known issues, each *found* in ``faithful`` and gone in ``fixed``.
"""

from __future__ import annotations

from typing import Any

import pytest

from gatewaysim.models.lumenize import ClientSpec, build_world, preset
from gatewaysim.models.lumenize import protocol as p
from gatewaysim.models.lumenize.config import LumenizeConfig
from gatewaysim.models.lumenize.mesh import MeshNode
from gatewaysim.models.lumenize.world import LumenizeWorld
from gatewaysim.simulator.clock import MINUTE, SECOND, Time, ms, s
from gatewaysim.simulator.messages import (
    Effect,
    HttpRequestReceived,
    HttpRespond,
    Input,
    Note,
    TimerFired,
)
from gatewaysim.simulator.trace import TraceRecord

ALICE = "alice.t1"
A = p.CLIENT_PREFIX + ALICE
B = A + "#2"
GW = p.gateway_address(ALICE)


# ---------------------------------------------------------------------- helpers
def world(variant: str = "faithful", *specs: ClientSpec, seed: int = 1,
          **overrides: Any) -> LumenizeWorld:
    config: LumenizeConfig = preset(variant, **overrides)
    return build_world(config, seed, list(specs) or [ClientSpec("alice")])


def notes(lw: LumenizeWorld, event: str, actor: str | None = None,
          after: Time = -1) -> list[TraceRecord]:
    return [r for r in lw.trace.records if r.type == "Note" and r.data["event"] == event
            and (actor is None or r.actor == actor) and r.t > after]


def data(records: list[TraceRecord]) -> list[dict[str, Any]]:
    return [r.data["data"] for r in records]


def stats(lw: LumenizeWorld, address: str) -> dict[str, Any]:
    return lw.world.node(address).statistics()


def settled(lw: LumenizeWorld, client: str, tag: str) -> list[dict[str, Any]]:
    return [d for d in data(notes(lw, "call.settled", client)) if d["tag"] == tag]


def subscribes(lw: LumenizeWorld, client: str = A, after: Time = -1) -> list[TraceRecord]:
    return [r for r in notes(lw, "call.sent", client, after)
            if r.data["data"]["tag"] == "subscribe:doc/main"]


def closes(lw: LumenizeWorld, code: int, actor: str = GW) -> list[TraceRecord]:
    return [r for r in lw.trace.records if r.type == "CloseConnection" and r.actor == actor
            and r.data["code"] == code]


def connected(lw: LumenizeWorld, client: str, after: Time) -> list[Time]:
    return [r.t for r in notes(lw, "state", client, after) if r.data["data"]["to"] == "connected"]


# ---------------------------------------------------------------------- case 85
def test_case85_superseded_client_is_back_about_1s_later_and_resubscribes_to_a_snapshot() -> None:
    """Nebula: a second client with the same instanceName supersedes the first, which goes
    ``reconnecting`` and is ``connected`` again about 1 s later. Nebula disposes the second
    client at once (to avoid the ping-pong of section 6) and its app resubscribes after a
    reconnect; the modelled app subscribes only on ``subscriptionRequired``, so the test
    plays Nebula's app and calls ``subscribe`` itself."""
    lw = world()
    lw.run_until(s(1))
    lw.publish("v1")
    lw.add_client(ClientSpec("alice"))
    lw.run_until(s(1) + ms(200))
    assert stats(lw, B)["state"] == "connected"
    lw.inject(B, p.ClientDisconnect())  # disposed at once
    (superseded,) = closes(lw, p.CLOSE_SUPERSEDED)
    a_states = data(notes(lw, "state", A, after=s(1)))
    assert a_states == [{"from": "connected", "to": "reconnecting"}]
    lw.run_until(s(3))
    (back,) = connected(lw, A, after=s(1))
    assert s(1) <= back - superseded.t <= s(1) + ms(100)
    lw.publish("v2")
    lw.run_until(s(4))
    lw.client_call(A, "subscribe", tag="subscribe:doc/main")  # Nebula's resubscribe
    lw.run_until(s(5))
    snapshot = settled(lw, A, "subscribe:doc/main")[-1]
    assert snapshot["ok"] and snapshot["value"] == {"content": "v2", "version": 2}
    assert stats(lw, A)["doc_version"] == 2 and stats(lw, A)["state"] == "connected"
    assert len(closes(lw, p.CLOSE_SUPERSEDED)) == 1  # no ping-pong once B is gone


# ---------------------------------------------------------------------- case 86
def test_case86_after_grace_a_fanout_gets_client_disconnected_and_drops_only_that_row() -> None:
    """Nebula, grace 100 ms (``LUMENIZE_MESH_GRACE_PERIOD_MS``): b calls ``disconnect()``;
    after the grace period a fan-out fails for b with ``ClientDisconnectedError`` and b's
    row is dropped. The earlier successful fan-out dropped nothing."""
    lw = world("faithful", ClientSpec("a"), ClientSpec("b"), grace=ms(100))
    lw.run_until(s(1))
    lw.publish("one")
    lw.run_until(s(2))
    assert notes(lw, "subscriber.dropped") == []
    assert lw.broadcaster().subscribers == ["a.t1", "b.t1"]
    lw.inject("client/b.t1", p.ClientDisconnect())
    lw.run_until(s(2) + ms(200))
    assert data(notes(lw, "alarm", "gateway/b.t1")) == [{"rejected": 0}]
    lw.publish("two")
    lw.run_until(s(3))
    assert data(notes(lw, "mesh_call.settled", "gateway/b.t1"))[-1]["error"] == {
        "name": "ClientDisconnectedError", "message": p.NOT_CONNECTED,
        "clientInstanceName": "b.t1"}
    assert data(notes(lw, "subscriber.dropped")) == [
        {"instanceName": "b.t1", "reason": p.NOT_CONNECTED}]
    assert lw.broadcaster().subscribers == ["a.t1"]
    assert stats(lw, "client/a.t1")["doc_version"] == 2
    assert stats(lw, "client/b.t1")["state"] == "disconnected"


# ---------------------------------------------------------------------- case 87
TURN = "turn/main"
TURN_TIME = 2 * SECOND


class TurnDO(MeshNode):
    """A chat DO as in Nebula: ``startTurn`` is acknowledged at once (the client called it
    fire-and-forget), and the reply comes :data:`TURN_TIME` later as a mesh call to the
    client addressed by its instanceName, not on the socket the turn arrived on."""

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        if isinstance(inp, HttpRequestReceived) and inp.path == p.EXECUTE_OPERATION:
            caller = inp.body["callContext"]["callChain"][0]["instanceName"]
            return [HttpRespond(inp.req, 200, p.rpc_result("turn started")),
                    self.set_timer(f"turn:{caller}", now + TURN_TIME)]
        if isinstance(inp, TimerFired) and inp.key.startswith("turn:"):
            name = inp.key.removeprefix("turn:")
            req, request = self.call_client(name, "ping", ["turn reply"])
            self.waiting[req] = ("turn-reply", name)
            return [request, Note("mesh_call.sent", {"tag": "turn-reply", "instanceName": name,
                                                     "method": "ping"})]
        return super().on_input(now, inp)


def test_case87_a_pending_turn_survives_a_4409_reconnect_and_lands_on_the_new_socket() -> None:
    lw = world()
    lw.world.add_host(TURN, lambda ctx: TurnDO(ctx, lw.config))
    lw.run_until(s(1))
    lw.client_call(A, "startTurn", ["hello"], instance=TURN, binding="TURN", awaited=False)
    lw.run_until(s(1) + ms(100))
    old = lw.force_close(ALICE, p.CLOSE_SUPERSEDED, p.REASON_SUPERSEDED)
    lw.run_until(s(5))
    new = stats(lw, A)["conn"]
    assert old == f"{A}:ws1" and new == f"{A}:ws2"
    assert notes(lw, "grace.armed", GW) == []  # a 4409 arms no grace period
    (forwarded,) = data(notes(lw, "call.forwarded", GW, after=s(1) + ms(100)))
    assert forwarded["conn"] == new
    assert lw.mesh_node(TURN).results == [
        {"tag": "turn-reply", "instanceName": ALICE, "ok": True, "value": "turn reply"}]
    # client -> gateway -> turn/main (20 ms), the turn, turn/main -> gateway -> client.
    assert [r.t for r in notes(lw, "incoming.handled", A)] == [s(1) + ms(20) + TURN_TIME
                                                                + ms(20)]


# ---------------------------------------------------------------------- cases 89-94
def test_case89_network_drop_call_during_grace_delivered_on_reconnect() -> None:
    """Phase 1 with a network drop (both ends see 1006) instead of a force-close."""
    lw = world()
    lw.run_until(s(1))
    lw.drop_client(A)
    lw.run_until(s(1) + ms(100))
    lw.call_client(ALICE, "ping", [89], tag="c89")
    lw.run_until(s(5))
    assert len(notes(lw, "call.parked", GW)) == 1
    ups = data(notes(lw, "upgrade", GW))
    assert [u["subscriptionRequired"] for u in ups] == [True, False]
    assert lw.mesh_node().results == [
        {"tag": "c89", "instanceName": ALICE, "ok": True, "value": 89}]
    assert len(subscribes(lw)) == 1


def test_case90_app_disconnect_call_rejected_at_alarm_and_later_connect_resubscribes() -> None:
    """Phase 2 with the app's own ``disconnect()`` (close 1000) and a later ``connect()``."""
    lw = world()
    lw.run_until(s(1))
    lw.inject(A, p.ClientDisconnect())
    lw.run_until(s(1) + ms(500))
    lw.call_client(ALICE, "ping", [90], tag="c90")
    lw.run_until(s(10))
    assert data(notes(lw, "grace.armed", GW))[0]["code"] == p.CLOSE_NORMAL
    (result,) = lw.mesh_node().results
    assert result["ok"] is False and result["error"]["name"] == "ClientDisconnectedError"
    assert result["error"]["message"] == p.GRACE_EXPIRED_ALARM
    lw.inject(A, p.ClientConnect())
    lw.run_until(s(11))
    assert data(notes(lw, "upgrade", GW, after=s(10)))[0]["subscriptionRequired"] is True
    assert len(notes(lw, "subscription_required", A, after=s(10))) == 1
    assert len(subscribes(lw, after=s(10))) == 1
    assert settled(lw, A, "subscribe:doc/main")[-1]["ok"] is True


def test_case91_two_second_token_then_a_call_closes_4401_refreshes_and_reconnects() -> None:
    """Phase 3 with ``SetTokenTtl`` mid-session plus a forced refresh (the app clears the
    token and the connection drops), then a fire-and-forget call on the expired token."""
    lw = world()
    lw.run_until(s(1))
    lw.inject(p.AUTH, p.SetTokenTtl(2))
    lw.inject(A, p.ClearAccessToken())
    lw.drop_client(A)
    lw.run_until(s(3))
    exp = stats(lw, A)["token_exp"]
    assert stats(lw, A)["state"] == "connected" and exp <= 5
    lw.run_until((exp + 1) * SECOND)
    lw.client_call(A, "echo", ["late"], instance=None, binding=p.WORKER_BINDING,
                   awaited=False, tag="c91")
    t_call = lw.now
    lw.run_until(t_call + s(1))
    assert len(closes(lw, p.CLOSE_TOKEN_EXPIRED)) == 1
    assert next(d["reason"] for d in data(notes(lw, "refresh.started", A, after=t_call))) == \
        "token_expired"
    assert len(notes(lw, "upgrade", GW, after=t_call)) == 1
    assert stats(lw, A)["state"] == "connected" and stats(lw, A)["token_exp"] > exp


def test_case92_after_supersession_fanouts_go_to_the_second_tab_it_never_subscribed() -> None:
    """Phase 4 through a broadcast: the row is keyed by instanceName, so the fan-out lands
    on the tab holding the socket, B, which was told ``subscriptionRequired: false`` and
    never subscribed itself (the real code, with only the ping-pong fixed)."""
    lw = world("fixed", fixes=frozenset(LumenizeConfig.FIXES) - {"takeover_requires_resubscribe"})
    lw.run_until(s(1))
    lw.add_client(ClientSpec("alice"))
    lw.run_until(s(2))
    lw.publish("for whoever holds alice.t1")
    lw.run_until(s(3))
    assert subscribes(lw, B) == []
    assert stats(lw, B)["doc_version"] == 1 and stats(lw, A)["doc_version"] == 0
    assert [r.actor for r in notes(lw, "incoming.handled")] == [B]


def test_case92_fixed_a_tab_taking_over_is_told_to_resubscribe() -> None:
    """Fix takeover_requires_resubscribe: B took the instance over from A, so the gateway
    says ``subscriptionRequired: true`` and B subscribes to a snapshot of its own."""
    lw = world("fixed")
    lw.run_until(s(1))
    lw.add_client(ClientSpec("alice"))
    lw.run_until(s(2))
    assert [d["subscriptionRequired"] for d in data(notes(lw, "upgrade", GW))] == [True, True]
    assert len(subscribes(lw, B)) == 1
    lw.publish("for whoever holds alice.t1")
    lw.run_until(s(3))
    assert stats(lw, B)["doc_version"] == 1


def test_case93_resubscribe_lifecycle_with_test_grace_of_100ms() -> None:
    """Phase 5 with a 100 ms grace (Nebula's setting): a plain 1 s reconnect is already too
    late, the next publish drops the row, and the reconnect resubscribes to a snapshot."""
    lw = world("faithful", grace=ms(100))
    lw.run_until(s(1))
    lw.force_close(ALICE, p.CLOSE_NORMAL)
    lw.run_until(s(1) + ms(500))
    lw.publish("while away")
    lw.run_until(s(3))
    assert data(notes(lw, "subscriber.dropped")) == [
        {"instanceName": ALICE, "reason": p.NOT_CONNECTED}]
    assert data(notes(lw, "upgrade", GW, after=s(1)))[0]["subscriptionRequired"] is True
    assert settled(lw, A, "subscribe:doc/main")[-1]["value"] == {"content": "while away",
                                                                 "version": 1}
    lw.publish("after")
    lw.run_until(s(4))
    assert stats(lw, A)["doc_version"] == 2 and lw.broadcaster().subscribers == [ALICE]


@pytest.mark.parametrize("claims", [{"adminApproved": False}, {"emailVerified": False}])
@pytest.mark.parametrize("variant", ["faithful", "fixed"])
def test_case94_access_gate_is_403_at_the_worker_not_401(claims: dict, variant: str) -> None:
    """The task expected 401; the code answers 403 and the gateway is never reached."""
    lw = world(variant, ClientSpec("carol", claims=claims))
    lw.run_until(s(10))
    rejects = [r.data for r in lw.trace.records if r.type == "RejectConnection"]
    assert rejects and {(d["status"], d["reason"]) for d in rejects} == {
        (403, "Account not yet approved")}
    assert all(r.actor == p.WORKER for r in lw.trace.records if r.type == "RejectConnection")
    assert lw.gateway("carol.t1") is None
    if variant == "faithful":  # 1006 to the browser: retried (1, 2, 4 s ...)
        assert len(rejects) == 4 and stats(lw, "client/carol.t1")["state"] == "reconnecting"
    else:
        assert len(rejects) == 1 and stats(lw, "client/carol.t1")["login_required"] == 1


# ---------------------------------------------------------------------- section 6
def _stranded_call(variant: str) -> LumenizeWorld:
    """An awaited call is in flight at the gateway (the Worker answers slowly) when the
    client's socket drops; the answer comes back to a socket that is gone."""
    lw = world(variant)
    lw.run_until(s(1))
    lw.slow_link(GW, p.WORKER, ms(500))
    lw.client_call(A, "echo", ["stranded"], instance=None, binding=p.WORKER_BINDING,
                   tag="stranded")
    lw.run_until(s(1) + ms(200))
    lw.drop_client(A)
    lw.run_until(MINUTE)
    return lw


def test_known_issue_awaited_callraw_hangs_after_its_socket_dropped_found_in_faithful() -> None:
    lw = _stranded_call("faithful")
    (lost,) = data(notes(lw, "reply.lost", GW))
    assert lost == {"callId": f"{A}:call2", "conn": f"{A}:ws1"}
    assert settled(lw, A, "stranded") == []  # a minute later, still pending
    assert stats(lw, A)["pending"] == [f"{A}:call2"]
    assert stats(lw, A)["state"] == "connected"


def test_known_issue_awaited_callraw_is_rejected_on_close_when_fixed() -> None:
    lw = _stranded_call("fixed")
    (result,) = settled(lw, A, "stranded")
    assert result["ok"] is False
    assert result["error"]["message"] == "WebSocket closed before the call was answered"
    assert notes(lw, "call.settled", A, after=s(1) + ms(300)) == []  # at the close, not later
    assert stats(lw, A)["pending"] == []


def _silent_loss(variant: str, cause: str) -> LumenizeWorld:
    """A fan-out fails with "Client token expired" (an idle client's token ran out: pings
    never check exp) or "Client call timed out" (the client's answer was lost, and its
    reconnect superseded the half-open old socket the gateway still listed); either way
    the broadcaster drops the row while the client is back within grace."""
    lw = world(variant)
    if cause == "token":
        lw.inject(p.AUTH, p.SetTokenTtl(2))
        lw.run_until(s(3))
        lw.inject(p.AUTH, p.SetTokenTtl(900))
        lw.run_until(s(5))
        lw.publish("v1")
    else:  # the client's answer to the fan-out is lost; it notices and reconnects
        lw.run_until(s(2))
        lw.partition(A, GW, one_way=True)
        lw.publish("v1")
        lw.run_until(s(2) + ms(500))
        lw.heal(A, GW)
    lw.run_until(s(40))
    lw.publish("v2")
    lw.run_until(s(45))
    return lw


CAUSES = {"token": p.TOKEN_EXPIRED, "timeout": p.CALL_TIMED_OUT}


@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_known_issue_silent_subscription_loss_found_in_faithful(cause: str) -> None:
    lw = _silent_loss("faithful", cause)
    (dropped,) = data(notes(lw, "subscriber.dropped"))
    assert dropped == {"instanceName": ALICE, "reason": CAUSES[cause]}
    later = data(notes(lw, "upgrade", GW, after=s(1)))
    assert later and all(u["subscriptionRequired"] is False for u in later)
    assert len(subscribes(lw)) == 1  # never resubscribed
    # The client believes it is subscribed; the broadcaster no longer knows it.
    assert stats(lw, A)["subscribed"] == ["doc/main"] and stats(lw, A)["state"] == "connected"
    assert lw.broadcaster().subscribers == []
    # It never gets v2 (with a lost answer it did apply v1: only the reply was lost).
    assert stats(lw, A)["doc_version"] == {"token": 0, "timeout": 1}[cause]
    assert lw.broadcaster().version == 2


@pytest.mark.parametrize("cause", sorted(CAUSES))
def test_known_issue_silent_subscription_loss_fixed_by_resubscribe_after_fanout_drop(
        cause: str) -> None:
    lw = _silent_loss("fixed", cause)
    assert len(notes(lw, "subscriber.dropped")) == 1
    assert len(notes(lw, "subscription_required", A)) == 2
    assert len(subscribes(lw)) == 2
    assert lw.broadcaster().subscribers == [ALICE]
    assert stats(lw, A)["doc_version"] == 2 == lw.broadcaster().version


HERD = 12


def _herd(variant: str) -> list[Time]:
    """Every client's connection is dropped at the same instant (a deploy, an outage);
    the times of their reconnect upgrades."""
    lw = world(variant, *(ClientSpec(f"u{i:02d}") for i in range(HERD)), seed=3)
    lw.run_until(s(2))
    for client in lw.clients:
        lw.drop_client(client)
    lw.run_until(s(40))
    return sorted(next(r.t for r in lw.trace.records if r.type == "OpenConnection"
                       and r.actor == client and r.t > s(2)) for client in lw.clients)


def test_known_issue_lockstep_reconnect_herd_found_in_faithful() -> None:
    times = _herd("faithful")
    assert len(times) == HERD
    assert times[-1] - times[0] < ms(1)  # all within the same millisecond
    assert times[0] == s(3) + ms(10)  # exactly 1 s after learning of the drop


def test_known_issue_lockstep_reconnect_herd_spread_by_jittered_backoff() -> None:
    times = _herd("fixed")
    assert len(set(times)) == HERD
    assert times[-1] - times[0] > ms(300)
    assert all(s(2) < t <= s(3) + ms(10) for t in times)  # within the first ceiling, 1 s


# ---------------------------------------------------------------------- a name fixed as undefined
@pytest.mark.parametrize("variant", ["faithful", "fixed"])
def test_token_cleared_during_the_first_connect_probe(variant: str) -> None:
    """A reloaded tab (tab id stored, so the first connect waits 50 ms for the duplicate
    probe) whose app calls clearAccessToken() after the refresh returned. Faithful: the
    real client names the instance ``undefined.t1`` from ``claims?.sub`` and opens a socket
    with no token; the Worker refuses it (401, seen as 1006), and every later attempt,
    with a fresh token for alice, is refused by gateway ``undefined.t1`` (403 identity
    mismatch, also seen as 1006): the tab never connects. Fixed: the attempt fails, the
    next one refreshes, and the tab connects as ``alice.t1``."""
    lw = world(variant, ClientSpec("alice", tab_id_stored=True))
    while lw.client(A).access_token is None:
        lw.run_for(ms(1))
    assert lw.client(A).instance_name is None  # the probe is still running
    lw.inject(A, p.ClearAccessToken())
    lw.run_until(MINUTE)
    if variant == "faithful":
        assert lw.client(A).instance_name == "undefined.t1"
        assert stats(lw, A)["state"] == "reconnecting" and stats(lw, A)["connects"] == 0
        assert notes(lw, "upgrade", GW) == []
        refusals = [r.data["status"] for r in lw.trace.records
                    if r.type == "RejectConnection"]
        assert refusals[0] == 401 and refusals[1:] and set(refusals[1:]) == {403}
    else:
        assert lw.client(A).instance_name == ALICE
        assert stats(lw, A)["state"] == "connected"
        assert len(notes(lw, "upgrade", GW)) == 1
