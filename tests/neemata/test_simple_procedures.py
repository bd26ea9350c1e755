"""``simple-procedures.spec.ts`` (spec section 5, 21 cases) in virtual time.

Each test waits as the real test does (its sleeps and timeouts, on the virtual clock) and
asserts what the real test asserts, its "clean" checks included.
"""

from __future__ import annotations

import attrs

from gatewaysim.models.neemata import NeemataConfig, NeemataWorld
from gatewaysim.models.neemata import protocol as p
from gatewaysim.simulator.clock import ms

from .conftest import dirty, is_clean


def test_01_unknown_procedure_reaches_the_root_default(any_nw: NeemataWorld) -> None:
    op = any_nw.call("no.such.procedure", {"x": 1})
    any_nw.run(ms(10))
    assert any_nw.outcome(op).value == {"defaulted": True}
    assert is_clean(any_nw)


def test_02_known_procedure_bypasses_the_default(any_nw: NeemataWorld) -> None:
    op = any_nw.call("echo", {"value": "hi"})
    any_nw.run(ms(10))
    assert any_nw.outcome(op).value == "hi"


def test_03_echo_returns_its_input_and_cleans_up(any_nw: NeemataWorld) -> None:
    op = any_nw.call("echo", {"value": {"a": 1}})
    any_nw.run(ms(10))
    assert any_nw.outcome(op).ok and any_nw.outcome(op).value == {"a": 1}
    assert is_clean(any_nw)


def test_04_sequential_calls_see_a_cumulative_counter(any_nw: NeemataWorld) -> None:
    values = []
    for _ in range(3):
        op = any_nw.call("counter")
        any_nw.run(ms(5))
        values.append(any_nw.outcome(op).value)
    assert values == [1, 2, 3]


def test_05_concurrent_calls_all_resolve(any_nw: NeemataWorld) -> None:
    ops = [any_nw.call("echo", {"value": i}) for i in range(3)]
    any_nw.run(ms(10))
    assert [any_nw.outcome(op).value for op in ops] == [0, 1, 2]


def test_06_to_09_payload_shapes(any_nw: NeemataWorld) -> None:
    shapes = [None, {"a": {"b": [1, {"c": "d"}]}}, [1, 2, [3]], {}]
    ops = [any_nw.call("echo", {} if v is None else {"value": v}) for v in shapes]
    any_nw.run(ms(10))
    assert [any_nw.outcome(op).value for op in ops] == shapes


def test_10_handler_throws_rejects_and_cleans_up(any_nw: NeemataWorld) -> None:
    op = any_nw.call("fail", {"message": "boom"})
    any_nw.run(ms(10))
    outcome = any_nw.outcome(op)
    assert not outcome.ok and outcome.code == p.INTERNAL_SERVER_ERROR
    assert is_clean(any_nw)


def test_11_12_api_and_protocol_errors_keep_code_and_message(any_nw: NeemataWorld) -> None:
    a = any_nw.call("fail", {"code": "CUSTOM", "message": "custom", "plain": False})
    b = any_nw.call("fail", {"code": "NotFound", "message": "gone", "plain": False})
    any_nw.run(ms(10))
    assert (any_nw.outcome(a).code, any_nw.outcome(a).message) == ("CUSTOM", "custom")
    assert (any_nw.outcome(b).code, any_nw.outcome(b).message) == ("NotFound", "gone")


def test_13_call_after_disconnect_rejects(nw: NeemataWorld) -> None:
    nw.disconnect()
    op = nw.call("echo", {"value": 1})
    nw.run(ms(5))
    outcome = nw.outcome(op)
    assert not outcome.ok
    assert outcome.code == p.TYPE_ERROR  # faithful: null messageContext (section 4 item 13)
    fixed = NeemataWorld(NeemataConfig.for_variant("fixed"))
    fixed.disconnect()
    op = fixed.call("echo", {"value": 1})
    fixed.run(ms(5))
    assert fixed.outcome(op).code == p.CONNECTION_ERROR


def test_14_timeout_rejects_while_the_handler_works_on(any_nw: NeemataWorld) -> None:
    op = any_nw.call("slow", {"ms": 10_000}, timeout=ms(50))
    any_nw.run(ms(50))
    outcome = any_nw.outcome(op)
    assert not outcome.ok and outcome.code == p.CLIENT_REQUEST_ERROR
    assert outcome.t - 5 * 1000 == ms(50)  # issued at 5 ms: rejected at its deadline
    any_nw.run(ms(50))  # the real test sleeps 50 ms "to prevent 'Call not found'"
    assert is_clean(any_nw)
    assert any_nw.gateway_stats().handlers == 1  # the handler ignores its signal
    any_nw.settle()
    events = [e for _, e, _ in any_nw.ledger.events]
    assert "response.dropped" in events  # its late answer is dropped quietly


def test_15_a_generous_timeout_lets_a_fast_call_resolve(any_nw: NeemataWorld) -> None:
    op = any_nw.call("echo", {"value": 1, "work_ms": 20}, timeout=ms(1000))
    any_nw.run(ms(30))
    assert any_nw.outcome(op).value == 1


def test_16_ten_concurrent_calls_with_timeouts_resolve_cleanly(any_nw: NeemataWorld) -> None:
    ops = [any_nw.call("echo", {"value": i, "work_ms": 10}, timeout=ms(1000)) for i in range(10)]
    any_nw.run(ms(50))
    assert [any_nw.outcome(op).value for op in ops] == list(range(10))
    assert is_clean(any_nw)


def test_17_client_default_timeout_and_per_call_override() -> None:
    nw = NeemataWorld(attrs.evolve(NeemataConfig(), client_timeout=ms(10)))
    short = nw.call("echo", {"value": 1, "work_ms": 50})
    long = nw.call("echo", {"value": 2, "work_ms": 50}, timeout=ms(1000))
    nw.run(ms(100))
    assert not nw.outcome(short).ok
    assert nw.outcome(long).value == 2


def test_18_abort_before_the_response(any_nw: NeemataWorld) -> None:
    op = any_nw.call("slow", {"ms": 200})
    any_nw.run(ms(50))
    any_nw.abort(op)
    any_nw.run(ms(10))
    assert any_nw.outcome(op).code == p.CLIENT_REQUEST_ERROR
    assert is_clean(any_nw)


def test_19_abort_during_server_work(any_nw: NeemataWorld) -> None:
    op = any_nw.call("slow", {"ms": 100})
    any_nw.run(ms(20))
    assert any_nw.gateway_stats().rpcs == 1
    any_nw.abort(op)
    any_nw.run(ms(10))
    assert not any_nw.outcome(op).ok
    assert is_clean(any_nw)


def test_20_abort_reaches_the_handler(any_nw: NeemataWorld) -> None:
    op = any_nw.call("slow_abortable", {"ms": 10_000})
    any_nw.run(ms(20))
    any_nw.abort(op)
    any_nw.run(ms(10))
    assert not any_nw.outcome(op).ok
    # The handler saw its signal: it threw at once instead of working 10 s.
    assert any_nw.ledger.handler_results[op]["error"] == p.INTERNAL_SERVER_ERROR
    assert any_nw.gateway_stats().handlers == 0
    assert is_clean(any_nw)


def test_21_pre_aborted_call_sends_nothing(any_nw: NeemataWorld) -> None:
    records: list = []
    any_nw.world.trace.listeners.append(records.append)
    op = any_nw.call("echo", {"value": 1}, pre_aborted=True)
    any_nw.run(ms(20))
    assert any_nw.outcome(op).code == p.CLIENT_REQUEST_ERROR
    assert not [r for r in records if r.type == "Send"]  # nothing on the wire
    assert op not in any_nw.ledger.handler_results  # the handler never ran
    assert is_clean(any_nw) and dirty(any_nw) == {}
