"""Gateway upgrade (spec section 1.1) and grace on reconnect (section 1.4): cases 1-5, 9,
11-16, 26, 27, plus the grace alarm rules and the ping auto-response."""

from __future__ import annotations

from gatewaysim.models.lumenize import protocol as p
from gatewaysim.simulator.clock import ms, s

from .conftest import Bench, claims_for, gateway_request


def _token(sub: str | None = "alice", **extra: object) -> str:
    return p.encode_token(claims_for(sub, **extra))


def test_case01_get_without_upgrade_is_426(bench: Bench) -> None:
    conn = bench.open("alice", gateway_request("alice.tab1", _token(), upgrade=False))
    assert bench.client().rejected[conn][0] == 426
    assert bench.gateway().statistics()["open_sockets"] == []


def test_case02_upgrade_without_authorization_is_401(bench: Bench) -> None:
    conn = bench.open("alice", gateway_request("alice.tab1", None))
    assert bench.client().rejected[conn] == (401, "Unauthorized: missing identity")


def test_case03_bob_cannot_take_alice_instance(bench: Bench) -> None:
    conn = bench.connect("bob", "alice.tab1", "bob")
    assert bench.client("bob").rejected[conn] == (403, "Forbidden: identity mismatch")


def test_case04_valid_jwt_with_routing_headers_opens_a_socket(bench: Bench) -> None:
    conn = bench.connect()
    assert bench.client().opened == [conn]
    sockets = bench.world.network.server_sockets("gateway/alice.tab1")
    assert [ws.conn for ws in sockets] == [conn]
    attachment = sockets[0].attachment
    assert attachment["sub"] == "alice"
    assert attachment["bindingName"] == p.DEFAULT_BINDING
    assert attachment["instanceName"] == "alice.tab1"
    assert attachment["claims"]["exp"] == 3600  # every payload field, exp included


def test_case05_fresh_instance_first_frame_is_connection_status_true(bench: Bench) -> None:
    conn = bench.connect()
    assert bench.frames(conn=conn)[0] == {"type": "connection_status",
                                          "subscriptionRequired": True}


def test_case09_second_connection_supersedes_the_first_with_4409(bench: Bench) -> None:
    first = bench.connect("alice")
    second = bench.connect("bob", "alice.tab1", "alice")
    assert bench.client("alice").closed[first] == (4409, "Superseded by new connection", True)
    assert bench.gateway().statistics()["open_sockets"] == [second]


def test_case11_superseding_connection_gets_subscription_required_false(bench: Bench) -> None:
    bench.connect("alice")
    second = bench.connect("bob", "alice.tab1", "alice")
    assert bench.frames("bob", second, "connection_status") == [
        {"type": "connection_status", "subscriptionRequired": False}]
    assert bench.notes("upgrade")[-1]["superseded"] == ["alice:ws1"]


def test_supersession_leaves_no_grace_alarm_when_the_old_peer_echoes_4409(bench: Bench) -> None:
    """Section 1.4: a 4409 close does nothing, so a clean supersession arms no alarm."""
    bench.connect("alice")
    bench.connect("bob", "alice.tab1", "alice")
    bench.run(s(1))
    assert bench.alarm() is None
    assert bench.notes("grace.armed") == []


def test_supersession_of_a_vanished_peer_arms_a_harmless_alarm(bench: Bench) -> None:
    """Section 1.4 (inferred): a half-open old peer never echoes 4409; the close arrives
    as 1006, arms the alarm while the new socket is connected, and the alarm only deletes
    itself."""
    first = bench.connect("alice")
    bench.world.half_open(first, believer="server", delay=s(60))
    second = bench.connect("bob", "alice.tab1", "alice")
    bench.run(s(2))
    assert bench.notes("grace.armed")[-1]["code"] == 1006
    bench.run(s(6))
    assert bench.notes("alarm") == [{"rejected": 0}]
    assert bench.gateway().statistics()["open_sockets"] == [second]
    assert bench.alarm() is None


def test_case12_bearer_not_a_jwt_is_401_invalid_token(bench: Bench) -> None:
    conn = bench.open("alice", gateway_request("alice.tab1", "not-a-valid-jwt"))
    assert bench.client().rejected[conn] == (401, "Unauthorized: invalid token")


def test_case13_jwt_without_sub_is_401_missing_identity(bench: Bench) -> None:
    conn = bench.open("alice", gateway_request("alice.tab1", _token(None)))
    assert bench.client().rejected[conn] == (401, "Unauthorized: missing identity")


def test_case14_missing_instance_header_is_403(bench: Bench) -> None:
    request = gateway_request(None, _token())
    conn = bench.open("alice", request, to="gateway/alice.tab1")
    assert bench.client().rejected[conn] == (403, "Forbidden: missing instance name")


def test_case15_missing_binding_header_is_403(bench: Bench) -> None:
    conn = bench.open("alice", gateway_request("alice.tab1", _token(), binding=None))
    assert bench.client().rejected[conn] == (403, "Forbidden: missing binding name")


def test_case16_instance_without_dot_is_403_invalid_format(bench: Bench) -> None:
    conn = bench.open("alice", gateway_request("nodot", _token()))
    status, reason = bench.client().rejected[conn]
    assert status == 403
    assert "invalid instance name format" in reason


def test_upgrade_checks_run_in_section_1_1_order(bench: Bench) -> None:
    """Section 1.1: no Upgrade beats no token beats a bad instance name."""
    conn = bench.open("alice", gateway_request("nodot", None, upgrade=False))
    assert bench.client().rejected[conn][0] == 426
    conn = bench.open("alice", gateway_request("nodot", None))
    assert bench.client().rejected[conn][0] == 401
    conn = bench.open("alice", gateway_request(None, _token(), binding=None),
                      to="gateway/x.y")
    assert bench.client().rejected[conn] == (403, "Forbidden: missing instance name")


def test_expired_token_is_still_accepted_at_upgrade(bench: Bench) -> None:
    """Section 1.1 note (case 23, first half): exp is never checked at upgrade."""
    bench.run(s(120))
    conn = bench.connect(ttl_s=-60)
    assert bench.client().opened == [conn]
    assert bench.frames(conn=conn, kind="connection_status")


def test_case26_reconnect_before_alarm_gets_subscription_required_false(bench: Bench) -> None:
    bench.connect()
    bench.close("alice", 1000)
    assert bench.gateway().state() == "grace"
    bench.run(s(2))
    conn = bench.connect()
    assert bench.frames(conn=conn, kind="connection_status")[0]["subscriptionRequired"] is False
    assert bench.alarm() is None  # step 10: the accept deleted the grace alarm
    assert bench.gateway().state() == "connected"


def test_case27_reconnect_after_alarm_fired_gets_subscription_required_true(bench: Bench) -> None:
    bench.connect()
    bench.close("alice", 1000)
    bench.run(s(6))
    assert bench.notes("alarm") == [{"rejected": 0}]
    assert bench.gateway().state() == "disconnected"
    conn = bench.connect()
    assert bench.frames(conn=conn, kind="connection_status")[0]["subscriptionRequired"] is True


def test_every_close_except_4409_overwrites_the_grace_alarm(bench: Bench) -> None:
    """Section 1.4: setAlarm(now + grace) on 1000, 1006, 4401, ...; each close pushes it."""
    for code in (1000, 4401, 4000):
        bench.connect()
        before = bench.world.now
        bench.close("alice", code)
        armed = bench.notes("grace.armed")[-1]
        assert armed["code"] == code
        assert before < armed["at"] - bench.config.grace <= bench.world.now
        assert bench.alarm() == armed["at"]
    conn = bench.connect()
    bench.world.drop(conn)
    bench.run()
    assert bench.notes("grace.armed")[-1]["code"] == 1006
    pushed = bench.notes("grace.armed")[-1]["at"]
    bench.run(s(1))
    bench.connect()
    bench.close("alice", 1000)
    assert bench.alarm() > pushed  # overwritten, not kept


def test_grace_alarm_from_a_second_close_replaces_the_first(bench: Bench) -> None:
    """One alarm per object: two closes 3 s apart leave one alarm, at the later deadline."""
    bench.connect()
    bench.close("alice")
    first = bench.alarm()
    bench.run(s(3))
    bench.connect()  # deletes the alarm
    bench.close("alice")
    second = bench.alarm()
    assert second is not None and first is not None and second > first
    bench.run(s(3))
    assert bench.notes("alarm") == []  # the first deadline passed without an alarm()
    bench.run(s(3))
    assert bench.notes("alarm") == [{"rejected": 0}]


def test_ping_is_auto_answered_without_waking_the_gateway(bench: Bench) -> None:
    """Section 1.1 step 8 and 1.6: pings never reach webSocketMessage, so an expired token
    is not noticed by a client that only pings."""
    bench.run(s(10))
    conn = bench.connect(ttl_s=-5)  # already expired, still accepted
    bench.send("alice", p.PING)
    assert bench.frames(conn=conn)[-1] == p.PONG
    gateway_inputs = [r for r in bench.world.trace.records
                      if r.actor == "gateway/alice.tab1" and r.kind == "in"
                      and r.type == "WsMessage"]
    assert gateway_inputs == []
    assert conn not in bench.client().closed
    bench.send("alice", {"type": "nonsense"})  # any real frame is checked: 4401
    assert bench.client().closed[conn][0] == 4401


def test_gateway_statistics_follow_sockets_and_alarm(bench: Bench) -> None:
    assert "gateway/alice.tab1" not in bench.world.hosts  # created on first contact
    conn = bench.connect()
    stats = bench.gateway().statistics()
    assert stats["state"] == "connected"
    assert stats["open_sockets"] == [conn]
    assert stats["alarm"] is None
    bench.close("alice")
    stats = bench.gateway().statistics()
    assert stats["state"] == "grace" and stats["open_sockets"] == []
    assert stats["alarm"] == bench.alarm()
    bench.run(s(6))
    assert bench.gateway().statistics()["state"] == "disconnected"
    assert repr(bench.gateway()) == "LumenizeGateway('alice.tab1')"


def test_upgrade_latency_does_not_change_the_frame_order(bench: Bench) -> None:
    """The accept (open) reaches the client before connection_status: FIFO per direction."""
    bench.world.slow_link("alice", "gateway/alice.tab1", ms(200), jitter=ms(150))
    conn = bench.connect(settle=False)
    bench.run(s(2))
    assert bench.client().opened == [conn]
    assert bench.frames(conn=conn)[0]["type"] == "connection_status"
