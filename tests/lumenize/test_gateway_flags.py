"""Each gateway-side fix flag and mutant changes exactly the behaviour it names.

Every test runs the same script on the faithful gateway and on the flagged one and checks
both outcomes: the faithful one as spec section 1 says, the flagged one as ``config.FIXES``
or ``config.MUTANTS`` says.
"""

from __future__ import annotations

from gatewaysim.models.lumenize import protocol as p
from gatewaysim.models.lumenize.config import preset
from gatewaysim.simulator.clock import s

from .conftest import Bench, BenchFactory, Rpc


def _flagged(make_bench: BenchFactory, *, fix: str | None = None,
             mutant: str | None = None) -> tuple[Bench, Bench]:
    faithful = make_bench()
    flagged = make_bench(preset("faithful", fixes=frozenset({fix} if fix else ()),
                                mutants=frozenset({mutant} if mutant else ())))
    return faithful, flagged


# ---------------------------------------------------------------------- fixes
def test_fix_reject_calls_on_socket_close_rejects_pending_calls(
        make_bench: BenchFactory) -> None:
    """Section 6: faithful pending calls outlive the socket until the 30 s timer."""
    outcomes = []
    for bench in _flagged(make_bench, fix="reject_calls_on_socket_close"):
        bench.connect()
        req = bench.rpc()
        bench.close("alice")
        outcomes.append(bench.reply(req))
        bench.run(s(31))
        outcomes.append(bench.reply(req)["$error"]["message"])
    assert outcomes[0] is None
    assert outcomes[1] == p.CALL_TIMED_OUT
    assert outcomes[2] == {"$error": {"name": "ClientDisconnectedError",
                                      "message": p.SOCKET_CLOSED,
                                      "clientInstanceName": "alice.tab1"}}
    assert outcomes[3] == p.SOCKET_CLOSED  # answered once, the timer was cancelled


def test_fix_reject_calls_on_socket_close_spares_calls_on_other_sockets(
        make_bench: BenchFactory) -> None:
    _, bench = _flagged(make_bench, fix="reject_calls_on_socket_close")
    bench.connect("alice")
    bench.connect("bob", "alice.tab1", "alice")  # supersedes alice's socket
    req = bench.rpc()  # forwarded on bob's socket
    bench.run(s(1))  # alice's 4409 close completes
    assert bench.reply(req) is None
    assert bench.gateway().statistics()["pending_calls"] == 1


def _lost(bench: Bench) -> str:
    bench.world.inject("caller", Rpc("gateway/alice.tab1", {"resource": "doc/main"},
                                     path=p.SUBSCRIPTION_LOST))
    bench.run()
    return bench.caller.sent[-1]


def test_fix_resubscribe_after_fanout_drop_tells_an_open_socket_now(
        make_bench: BenchFactory) -> None:
    faithful, fixed = _flagged(make_bench, fix="resubscribe_after_fanout_drop")
    for bench in (faithful, fixed):
        bench.connect()
    req = _lost(faithful)
    assert faithful.caller.replies[req][1] == 404
    assert faithful.frames(kind="connection_status") == [
        {"type": "connection_status", "subscriptionRequired": True}]
    req = _lost(fixed)
    assert fixed.reply(req) == {"$result": None}
    assert fixed.frames(kind="connection_status")[-1] == {"type": "connection_status",
                                                          "subscriptionRequired": True}
    assert len(fixed.frames(kind="connection_status")) == 2


def test_fix_resubscribe_after_fanout_drop_flags_the_next_connection(
        make_bench: BenchFactory) -> None:
    """A reconnect within grace normally says false (section 1.4); after a lost
    subscription the fixed gateway says true, once."""
    results = []
    for bench in _flagged(make_bench, fix="resubscribe_after_fanout_drop"):
        bench.connect()
        bench.close("alice")
        _lost(bench)
        first = bench.connect()
        bench.close("alice")
        second = bench.connect()
        results.append([bench.frames(conn=c, kind="connection_status")[0]
                        ["subscriptionRequired"] for c in (first, second)])
    assert results == [[False, False], [True, False]]


# ---------------------------------------------------------------------- mutants
def test_mutant_waiters_not_resolved_on_accept(make_bench: BenchFactory) -> None:
    delivered = []
    for bench in _flagged(make_bench, mutant="waiters_not_resolved_on_accept"):
        bench.connect()
        bench.close("alice")
        req = bench.rpc()
        conn = bench.connect()
        bench.run(s(60))
        delivered.append((len(bench.frames(conn=conn, kind="incoming_call")), bench.reply(req)))
    assert delivered[0][0] == 1
    assert delivered[1] == (0, None)  # parked forever: the accept deleted the alarm


def test_mutant_alarm_not_deleted_on_accept(make_bench: BenchFactory) -> None:
    alarms = []
    for bench in _flagged(make_bench, mutant="alarm_not_deleted_on_accept"):
        bench.connect()
        bench.close("alice")
        bench.connect()
        alarms.append(bench.alarm())
        bench.run(s(6))
        alarms.append(bench.notes("alarm"))
    assert alarms[0] is None and alarms[1] == []
    assert alarms[2] is not None and alarms[3] == [{"rejected": 0}]


def test_mutant_subscription_required_after_close(make_bench: BenchFactory) -> None:
    flags = []
    for bench in _flagged(make_bench, mutant="subscription_required_after_close"):
        bench.connect("alice")
        conn = bench.connect("bob", "alice.tab1", "alice")
        flags.append(bench.frames("bob", conn, "connection_status")[0]["subscriptionRequired"])
    assert flags == [False, True]


def test_mutant_grace_alarm_on_4409(make_bench: BenchFactory) -> None:
    armed = []
    for bench in _flagged(make_bench, mutant="grace_alarm_on_4409"):
        bench.connect("alice")
        bench.connect("bob", "alice.tab1", "alice")
        bench.run(s(1))
        armed.append([n["code"] for n in bench.notes("grace.armed")])
    assert armed == [[], [4409]]


def test_mutant_no_token_check_on_mesh_call(make_bench: BenchFactory) -> None:
    seen = []
    for bench in _flagged(make_bench, mutant="no_token_check_on_mesh_call"):
        conn = bench.connect(ttl_s=1)
        bench.run(s(2))
        req = bench.rpc()
        seen.append((len(bench.frames(conn=conn, kind="incoming_call")),
                     conn in bench.client().closed, bench.reply(req)))
    assert seen[0][:2] == (0, True)
    assert seen[0][2]["$error"]["message"] == p.TOKEN_EXPIRED
    assert seen[1] == (1, False, None)


def test_mutant_alarm_handler_raises(make_bench: BenchFactory) -> None:
    """Faithful ``alarm()`` never raises, so it is never retried (section 1.4)."""
    outcomes = []
    for bench in _flagged(make_bench, mutant="alarm_handler_raises"):
        bench.connect()
        bench.close("alice")
        req = bench.rpc()
        bench.run(s(10))
        retries = [r for r in bench.world.trace.records if r.type == "alarm.retry"]
        outcomes.append((bench.reply(req), len(retries)))
    assert outcomes[0][0]["$error"]["message"] == p.GRACE_EXPIRED_ALARM
    assert outcomes[0][1] == 0
    assert outcomes[1][0] is None  # the rejections were lost with the failed handler
    assert outcomes[1][1] >= 1


def test_mutant_parked_call_delivered_twice(make_bench: BenchFactory) -> None:
    counts = []
    for bench in _flagged(make_bench, mutant="parked_call_delivered_twice"):
        bench.connect()
        bench.close("alice")
        bench.rpc()
        conn = bench.connect()
        bench.send("alice", {"type": "nonsense"})
        ids = [f["callId"] for f in bench.frames(conn=conn, kind="incoming_call")]
        counts.append(ids)
    assert len(counts[0]) == 1
    assert counts[1] == [counts[1][0], counts[1][0]]
