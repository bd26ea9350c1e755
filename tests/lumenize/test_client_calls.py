"""Calls (``lumenize-mesh.md`` sections 2.4 and 2.5): the queue, its limit and timeout,
sent calls across closes, ``disconnect()``, incoming calls and the heartbeat."""

from __future__ import annotations

from typing import Any

import pytest

from gatewaysim.models.lumenize import protocol
from gatewaysim.models.lumenize.client import (
    CLIENT_DISCONNECTED,
    QUEUE_FULL,
    QUEUED_CALL_TIMED_OUT,
)
from gatewaysim.models.lumenize.config import preset
from gatewaysim.models.lumenize.protocol import ClientCall, ClientDisconnect, WakeUp
from gatewaysim.simulator.clock import ms, s

from .client_fakes import (
    HOLD,
    FakeAccept,
    FakeClose,
    FakeSend,
    accept,
    connected,
    rig,
)


def _error(message: str) -> dict[str, Any]:
    return protocol.error_value("Error", message)


def test_call_on_an_open_socket_is_sent_at_once_and_settles_on_its_response() -> None:
    r = connected()
    r.inject(ClientCall("echo", [1, 2], tag="c"))
    (sent,) = [n for n in r.notes("call.sent") if n["tag"] == "c"]
    assert r.stats()["pending"] == [sent["callId"]]
    r.run(ms(100))
    frame = r.worker.calls()[-1]
    assert frame == {"type": "call", "callId": sent["callId"], "binding": "DOCUMENT",
                     "instance": "doc/main", "chain": {"method": "echo", "args": [1, 2]}}
    assert r.settled("c") == [{"callId": sent["callId"], "tag": "c", "ok": True,
                               "value": {"echo": "echo", "args": [1, 2]}}]
    assert r.stats()["pending"] == []


def test_call_is_sent_before_connection_status_when_the_socket_is_open() -> None:
    r = rig(worker=[accept(None)])
    r.run(ms(100))
    assert r.client.state == "connecting" and r.stats()["socket_open"]
    r.inject(ClientCall("early", tag="e"))
    assert r.stats()["queued"] == 0 and len(r.notes("call.sent")) == 1


def test_call_without_instance_addresses_the_worker_binding() -> None:
    r = connected()
    r.inject(ClientCall("hello", instance=None, binding="ECHO", tag="w"))
    r.run(ms(50))
    assert "instance" not in r.worker.calls()[-1]
    assert r.worker.calls()[-1]["binding"] == "ECHO"


def test_queued_calls_flush_in_fifo_order_on_connection_status_and_clear_their_timers() -> None:
    r = rig(worker=[HOLD])
    r.run(ms(100))
    for i in range(5):
        r.inject(ClientCall(f"m{i}", tag=f"q{i}"))
    assert r.stats()["queued"] == 5
    r.to_worker(FakeAccept(r.client.conn, ({"type": "connection_status",
                                             "subscriptionRequired": False},)))
    r.run(s(60))  # long past the 30 s queue timeout
    assert [c["chain"]["method"] for c in r.worker.calls()] == [f"m{i}" for i in range(5)]
    assert all(r.settled(f"q{i}")[0]["ok"] for i in range(5))
    assert not any(k.startswith("queued:") for k in r.client.statistics()["timers"])


def test_queued_call_times_out_after_30s() -> None:
    r = rig(worker=[HOLD])
    r.run(ms(100))
    r.inject(ClientCall("late", tag="t"))
    r.run(s(29.9))
    assert r.settled("t") == []
    r.run(ms(200))
    assert r.settled("t") == [{"callId": f"{r.client.address}:call1", "tag": "t", "ok": False,
                               "error": _error(QUEUED_CALL_TIMED_OUT)}]
    assert r.stats()["queued"] == 0 and r.stats()["pending"] == []


def test_queue_holds_100_then_rejects_and_the_pending_entry_leaks() -> None:
    r = rig(worker=[HOLD])
    r.run(ms(100))
    for i in range(101):
        r.inject(ClientCall("m", tag=f"q{i}"))
    assert r.stats()["queued"] == 100
    assert r.settled("q100") == [{"callId": f"{r.client.address}:call101", "tag": "q100",
                                  "ok": False, "error": _error(QUEUE_FULL)}]
    assert all(r.settled(f"q{i}") == [] for i in range(100))
    stats = r.stats()
    assert len(stats["pending"]) == 100 and stats["leaked"] == 1
    assert f"{r.client.address}:call101" in r.client.pending  # still in the map


def test_queue_limit_follows_the_config() -> None:
    r = rig(preset("faithful", max_queue=2), worker=[HOLD])
    r.run(ms(100))
    for i in range(3):
        r.inject(ClientCall("m", tag=f"q{i}"))
    assert r.stats()["queued"] == 2 and r.settled("q2")[0]["error"] == _error(QUEUE_FULL)


def test_call_response_with_unknown_call_id_is_ignored() -> None:
    r = connected()
    r.to_worker(FakeSend(r.client.conn, {"type": "call_response", "callId": "nobody",
                                         "success": True, "result": 1}))
    r.run(ms(50))
    assert [n["tag"] for n in r.notes("call.settled")] == ["subscribe:doc/main"]


def test_sent_call_is_never_rejected_on_close_or_reconnect() -> None:
    r = connected(answer_calls=False)
    r.inject(ClientCall("stranded", tag="x"))
    call_id = r.notes("call.sent")[-1]["callId"]
    r.world.drop(r.client.conn)
    r.run(s(300))
    assert r.client.state == "connected" and len(r.worker.upgrades) == 2
    assert r.settled("x") == []
    assert call_id in r.stats()["pending"]  # hangs forever (section 6)


def test_fix_reject_calls_on_socket_close_rejects_sent_unanswered_calls() -> None:
    r = connected(preset("faithful", fixes={"reject_calls_on_socket_close"}), answer_calls=False)
    r.inject(ClientCall("stranded", tag="x"))
    r.world.drop(r.client.conn)
    r.run(ms(100))
    (settled,) = r.settled("x")
    assert settled["ok"] is False
    assert settled["error"]["message"] == "WebSocket closed before the call was answered"
    assert r.stats()["pending"] == []
    r.run(s(5))
    assert r.client.state == "connected"  # only the calls changed: reconnect as before


def test_fix_does_not_reject_queued_calls_on_close() -> None:
    r = rig(preset("faithful", fixes={"reject_calls_on_socket_close"}), worker=[HOLD])
    r.run(ms(100))
    r.inject(ClientCall("waiting", tag="w"))
    r.to_worker(FakeAccept(r.client.conn))
    r.run(ms(50))
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(ms(50))
    assert r.settled("w") == [] and r.stats()["queued"] == 1


def test_disconnect_rejects_sent_and_queued_calls_with_client_disconnected() -> None:
    r = connected(answer_calls=False)
    r.inject(ClientCall("sent", tag="a"))
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(ms(50))
    r.inject(ClientCall("queued", tag="b"))
    assert r.client.state == "reconnecting" and r.stats()["queued"] == 1
    r.inject(ClientDisconnect())
    assert r.client.state == "disconnected"
    for tag in ("a", "b"):
        (settled,) = r.settled(tag)
        assert settled["ok"] is False and settled["error"] == _error(CLIENT_DISCONNECTED)
    assert r.stats()["pending"] == [] and r.stats()["queued"] == 0
    r.run(s(120))
    assert len(r.notes("reconnect.scheduled")) == 1  # the timer was cleared
    assert len(r.worker.upgrades) == 1


def test_disconnect_while_open_closes_with_1000_and_stops_the_heartbeat() -> None:
    r = connected()
    conn = r.client.conn
    r.inject(ClientDisconnect())
    r.run(s(120))
    assert (conn, 1000) in r.worker.closed
    assert r.client.state == "disconnected" and r.stats()["conn"] is None
    assert r.worker.pings() == [] and not r.client.timer_armed("heartbeat")
    assert r.notes("reconnect.scheduled") == []


def test_disconnect_while_connecting_aborts_the_socket_and_stays_down() -> None:
    r = rig(worker=[HOLD])
    r.run(ms(100))
    r.inject(ClientCall("queued", tag="q"))
    r.inject(ClientDisconnect())
    r.run(s(60))
    assert r.client.state == "disconnected"
    assert r.settled("q")[0]["error"] == _error(CLIENT_DISCONNECTED)
    assert r.notes("reconnect.scheduled") == []


# ---------------------------------------------------------------------------- incoming calls
def _incoming(call_id: str, method: str, *args: Any, origin: dict | None = None) -> dict:
    origin = origin or {"type": "LumenizeDO", "bindingName": "DOCUMENT", "instanceName": "main"}
    return {"type": "incoming_call", "callId": call_id, "chain": {"method": method,
                                                                   "args": list(args)},
            "callContext": {"callChain": [origin], "originAuth": None, "state": {}}}


def _responses(r) -> list[dict]:  # type: ignore[no-untyped-def]
    return [d for _, _, d in r.worker.received
            if isinstance(d, dict) and d.get("type") == "incoming_call_response"]


def test_incoming_handle_update_stores_the_document_and_answers() -> None:
    r = connected()
    r.to_worker(FakeSend(r.client.conn, _incoming("u1", "handleUpdate", "v2 text", 2)))
    r.run(ms(50))
    assert r.client.doc_content == "v2 text" and r.stats()["doc_version"] == 2
    assert r.notes("document")[-1] == {"version": 2, "content": "v2 text"}
    assert r.notes("incoming.handled") == [{"callId": "u1", "method": "handleUpdate"}]
    assert _responses(r) == [{"type": "incoming_call_response", "callId": "u1",
                              "success": True, "result": None}]


def test_incoming_ping_returns_its_argument_and_unknown_methods_error() -> None:
    r = connected()
    r.to_worker(FakeSend(r.client.conn, _incoming("p1", "ping", {"x": 1})))
    r.to_worker(FakeSend(r.client.conn, _incoming("n1", "launch")))
    r.run(ms(50))
    ping, unknown = _responses(r)
    assert ping == {"type": "incoming_call_response", "callId": "p1", "success": True,
                    "result": {"x": 1}}
    assert unknown["success"] is False and "launch" in unknown["error"]["message"]


@pytest.mark.parametrize(("origin_instance", "allowed"), [("bob.t9", False), ("alice.t1", True)])
def test_on_before_call_rejects_calls_from_other_clients(origin_instance: str,
                                                         allowed: bool) -> None:
    r = connected()
    origin = {"type": "LumenizeClient", "bindingName": protocol.DEFAULT_BINDING,
              "instanceName": origin_instance}
    r.to_worker(FakeSend(r.client.conn, _incoming("c1", "ping", 5, origin=origin)))
    r.run(ms(50))
    (reply,) = _responses(r)
    assert reply["success"] is allowed
    if allowed:
        assert reply["result"] == 5


def test_incoming_reply_is_dropped_when_the_current_socket_is_not_open() -> None:
    r = connected(worker=[accept(True), HOLD, HOLD])
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(s(1.05))  # the timer's socket, ws2, is held
    old = r.client.conn
    r.inject(WakeUp("visible"))  # reconnectNow: ws3, also held, is now this.ws
    r.run(ms(50))
    assert r.client.conn != old and not r.stats()["socket_open"]
    # ws2 opens late and carries an incoming call: onmessage is live, this.ws is not OPEN.
    r.to_worker(FakeAccept(old, (_incoming("d1", "ping", 1),)))
    r.run(ms(50))
    assert r.notes("incoming.handled") == [{"callId": "d1", "method": "ping"}]
    assert _responses(r) == []


# ---------------------------------------------------------------------------- heartbeat
def test_heartbeat_pings_every_30s_while_open_with_no_pong_check() -> None:
    r = connected()
    opened = ms(40)  # a fresh tab: refresh (20 ms) and upgrade (20 ms), no tab-id probe
    r.run(s(95))
    assert r.worker.pings() == [opened + s(30) + ms(10), opened + s(60) + ms(10),
                                opened + s(90) + ms(10)]
    assert r.client.state == "connected"  # no pong ever came: nothing happens


def test_heartbeat_stops_on_close_and_restarts_on_the_next_open() -> None:
    r = connected()
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(ms(50))
    assert not r.client.timer_armed("heartbeat")
    r.run(s(35))
    conns = {c for _, c, d in r.worker.received if d == protocol.PING}
    assert conns == {r.client.conn}  # pinging again, on the new socket


def test_heartbeat_interval_zero_disables_it() -> None:
    r = connected(preset("faithful", heartbeat_interval=0))
    r.run(s(120))
    assert r.worker.pings() == []
