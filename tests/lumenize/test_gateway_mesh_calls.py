"""Mesh -> client calls, ``__executeOperation`` (spec section 1.5): cases 8, 24, 25, 28, 29,
parked calls, the 30 s client-answer timer, late answers, token expiry and eviction."""

from __future__ import annotations

import json

from gatewaysim.models.lumenize import protocol as p
from gatewaysim.simulator.clock import ms, s

from .conftest import Bench


def _incoming(bench: Bench, conn: str | None = None) -> list[dict]:
    return bench.frames(conn=conn, kind="incoming_call")


def test_case24_envelope_version_0_is_rejected(bench: Bench) -> None:
    bench.connect()
    req = bench.rpc(version=0)
    error = bench.reply(req)["$error"]
    assert error == {"name": "Error", "message": "Unsupported RPC envelope version: 0"}
    assert _incoming(bench) == []


def test_case25_no_client_gives_client_disconnected_error(bench: Bench) -> None:
    req = bench.rpc()
    error = bench.reply(req)["$error"]
    assert error["name"] == "ClientDisconnectedError"
    assert error["message"] == "Client is not connected"
    assert error["clientInstanceName"] == "alice.tab1"


def test_case08_client_disconnected_error_survives_the_rpc_boundary(bench: Bench) -> None:
    """Case 8 checks class preservation through structured clone, which Python cannot
    model. The closest observable: the error crosses RPC as a plain value that keeps its
    name (the class tag), message and clientInstanceName through a JSON round trip."""
    req = bench.rpc(callee_instance=None)  # no callee name and no socket to read it from
    error = bench.reply(req)["$error"]
    assert json.loads(json.dumps(error)) == error
    assert error == {"name": "ClientDisconnectedError", "message": "Client is not connected",
                     "clientInstanceName": None}
    bench.connect(ttl_s=1)
    bench.run(s(2))
    req = bench.rpc(callee_instance=None)
    error = bench.reply(req)["$error"]
    assert error["message"] == "Client token expired"
    assert error["clientInstanceName"] == "alice.tab1"  # step 2: from the attachment
    assert json.loads(json.dumps(error)) == error


def test_connected_call_is_forwarded_and_answered(bench: Bench) -> None:
    """Section 1.5 step 7: an incoming_call with a fresh callId; the answer resolves it."""
    conn = bench.connect()
    req = bench.rpc("alice.tab1", "ping", 42)
    frame = _incoming(bench, conn)[0]
    assert frame["chain"] == {"method": "ping", "args": [42]}
    assert frame["callContext"]["callChain"][0]["instanceName"] == "echo"
    assert bench.gateway().statistics()["pending_calls"] == 1
    bench.answer("alice", frame["callId"], 42)
    assert bench.reply(req) == {"$result": 42}
    assert bench.gateway().statistics()["pending_calls"] == 0


def test_client_error_answer_becomes_dollar_error(bench: Bench) -> None:
    bench.connect()
    req = bench.rpc()
    call_id = _incoming(bench)[0]["callId"]
    bench.answer("alice", call_id, {"name": "Error", "message": "nope"}, success=False)
    assert bench.reply(req) == {"$error": {"name": "Error", "message": "nope"}}


def test_case28_parked_call_rejected_when_the_alarm_fires(bench: Bench) -> None:
    bench.connect()
    bench.close("alice")
    req = bench.rpc()
    assert bench.notes("call.parked") == [{"req": req}]
    assert bench.reply(req) is None
    bench.run(s(4))
    assert bench.reply(req) is None  # no timer of its own: still parked
    bench.run(s(2))
    error = bench.reply(req)["$error"]
    assert error == {"name": "ClientDisconnectedError",
                     "message": "Client did not reconnect within grace period",
                     "clientInstanceName": "alice.tab1"}
    assert bench.notes("alarm") == [{"rejected": 1}]


def test_case29_parked_call_delivered_on_reconnect(bench: Bench) -> None:
    bench.connect()
    bench.close("alice")
    req = bench.rpc("alice.tab1", "work")
    bench.run(s(2))
    conn = bench.connect()
    frame = _incoming(bench, conn)[0]
    assert frame["chain"]["method"] == "work"
    bench.answer("alice", frame["callId"], "reconnected-result")
    assert bench.reply(req) == {"$result": "reconnected-result"}
    bench.run(s(10))
    assert bench.notes("alarm") == []  # the accept deleted the grace alarm


def test_released_parked_call_reaches_the_client_before_connection_status(
        bench: Bench) -> None:
    """Section 1.1 note (inferred): waiters resume at step 9, before step 11 sends
    connection_status."""
    bench.connect()
    bench.close("alice")
    bench.rpc()
    conn = bench.connect()
    kinds = [f["type"] for f in bench.frames(conn=conn)]
    assert kinds == ["incoming_call", "connection_status"]


def test_grace_call_arriving_at_the_alarm_instant_is_grace_expired(bench: Bench) -> None:
    """Section 1.5 step 3: ``alarm - now <= 0`` gives "Client grace period has expired".

    With no alarm lateness in the model, a call can only land at the alarm instant ahead
    of ``alarm()`` if it was on its way before the close: a caller link slower than grace.
    """
    bench.world.slow_link("caller", "gateway/alice.tab1", s(6))
    bench.connect()
    req = bench.rpc(settle=False)  # lands 6 s from now
    bench.run(s(1) - ms(10))
    bench.close("alice", settle=False)  # reaches the gateway 1 s after the call left
    bench.run(s(15))  # the answer takes 6 s back as well
    assert bench.reply(req)["$error"]["message"] == "Client grace period has expired"
    assert bench.notes("call.parked") == []


def test_call_after_the_alarm_fired_is_not_connected(bench: Bench) -> None:
    bench.connect()
    bench.close("alice")
    bench.run(s(6))
    req = bench.rpc()
    assert bench.reply(req)["$error"]["message"] == "Client is not connected"


def test_30s_timer_fails_the_call_but_keeps_the_socket_open(bench: Bench) -> None:
    """Section 1.5 step 7 and 6: "Client call timed out"; gateway.mdx is wrong that the
    socket is closed."""
    conn = bench.connect()
    req = bench.rpc()
    bench.run(s(29))
    assert bench.reply(req) is None
    bench.run(s(2))
    assert bench.reply(req)["$error"] == {"name": "ClientDisconnectedError",
                                          "message": "Client call timed out",
                                          "clientInstanceName": "alice.tab1"}
    assert conn not in bench.client().closed
    assert bench.gateway().statistics()["open_sockets"] == [conn]


def test_timeout_takes_instance_name_from_the_live_socket(bench: Bench) -> None:
    """Section 1.5 step 7: with no socket left, the timed-out error has no instance name."""
    bench.connect()
    req = bench.rpc()
    bench.close("alice")
    bench.run(s(31))
    error = bench.reply(req)["$error"]
    assert error["message"] == "Client call timed out"
    assert error["clientInstanceName"] is None


def test_pending_call_is_not_rejected_when_the_socket_closes(bench: Bench) -> None:
    """Section 1.5 (faithful): only the 30 s timer ends a forwarded call."""
    bench.connect()
    req = bench.rpc()
    bench.close("alice")
    bench.run(s(20))
    assert bench.reply(req) is None
    assert bench.gateway().statistics()["pending_calls"] == 1


def test_late_answer_on_a_new_socket_still_resolves(bench: Bench) -> None:
    """Section 1.5 (inferred): the pending map belongs to the DO, not to a socket."""
    bench.connect()
    req = bench.rpc()
    call_id = _incoming(bench)[0]["callId"]
    bench.close("alice")
    bench.run(s(1))
    bench.connect()
    bench.answer("alice", call_id, "from the new socket")
    assert bench.reply(req) == {"$result": "from the new socket"}


def test_expired_token_on_mesh_call_closes_4401(bench: Bench) -> None:
    """Section 1.5 step 5: close 4401, "Client token expired", and the call is not delivered
    even after the client comes back with a fresh token."""
    conn = bench.connect(ttl_s=5)
    bench.run(s(6))
    req = bench.rpc()
    assert bench.reply(req)["$error"]["message"] == "Client token expired"
    assert bench.client().closed[conn] == (4401, "Token expired", True)
    assert _incoming(bench, conn) == []
    fresh = bench.connect()
    assert _incoming(bench, fresh) == []
    assert bench.notes("token.expired") == [{"where": "mesh_call"}]


def test_eviction_loses_pending_calls_and_waiters(bench: Bench) -> None:
    """Section 1 "Storage": pendingCalls and pendingReconnectWaiters live in memory only."""
    bench.connect()
    forwarded = bench.rpc()
    call_id = _incoming(bench)[0]["callId"]
    bench.world.evict("gateway/alice.tab1")
    bench.answer("alice", call_id, "too late")
    assert bench.notes("frame.dropped")[-1]["why"] == "unknown callId"
    bench.run(s(40))
    assert bench.reply(forwarded) is None  # hangs: no timer survived either
    bench.close("alice")
    parked = bench.rpc()
    bench.world.evict("gateway/alice.tab1")
    bench.run(s(10))
    assert bench.reply(parked) is None  # alarm() found no waiters to reject
    assert bench.notes("alarm")[-1] == {"rejected": 0}


def test_eviction_keeps_sockets_and_alarm(bench: Bench) -> None:
    conn = bench.connect()
    bench.world.evict("gateway/alice.tab1")
    assert bench.gateway().statistics()["open_sockets"] == [conn]
    bench.call("alice", "c1", "echo", "after eviction")
    assert bench.frames(conn=conn, kind="call_response")[0]["result"] == "after eviction"
    bench.close("alice")
    at = bench.alarm()
    bench.world.evict("gateway/alice.tab1")
    assert bench.alarm() == at
    assert bench.gateway().state() == "grace"


def test_call_ids_are_unique_and_reproducible(make_bench) -> None:  # type: ignore[no-untyped-def]
    """Call ids come from the seeded stream, not uuid4: same seed, same ids."""
    ids = []
    for _ in range(2):
        bench = make_bench(seed=7)
        bench.connect()
        for _ in range(3):
            bench.rpc()
        ids.append([f["callId"] for f in _incoming(bench)])
    assert ids[0] == ids[1]
    assert len(set(ids[0])) == 3


def test_grace_period_is_configurable(make_bench) -> None:  # type: ignore[no-untyped-def]
    """Section 1 constants: Nebula's tests use a 100 ms grace."""
    bench = make_bench(grace=ms(100))
    bench.connect()
    bench.close("alice", settle=False)
    bench.run(ms(50))
    req = bench.rpc(settle=False)
    bench.run(ms(150))
    assert bench.reply(req)["$error"]["message"] == "Client did not reconnect within grace period"
    assert p.GRACE_EXPIRED_ALARM == "Client did not reconnect within grace period"
