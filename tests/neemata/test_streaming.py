"""``streaming.spec.ts`` (25 cases) and ``edge-cases.spec.ts`` (2) in virtual time."""

from __future__ import annotations

import pytest

from gatewaysim.models.neemata import NeemataConfig, NeemataWorld
from gatewaysim.models.neemata import protocol as p
from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.trace import OUT

from .conftest import dirty, is_clean


def ns(nw: NeemataWorld, op: str) -> list[int]:
    return [c["n"] for c in nw.ledger.chunks.get(op, [])]


def test_01_during_a_stream_both_sides_hold_it_then_forget_it(any_nw: NeemataWorld) -> None:
    op = any_nw.stream({"n": 5, "delay_ms": 20})
    any_nw.run(ms(30))
    assert any_nw.client_stats().rpc_streams == 1 and any_nw.gateway_stats().rpcs == 1
    any_nw.run(ms(200))
    assert any_nw.ledger.streams[op]["outcome"] == "end"
    assert any_nw.client_stats().rpc_streams == 0 and any_nw.gateway_stats().rpcs == 0


def test_02_three_unconsumed_streams_are_held_then_cleaned(any_nw: NeemataWorld) -> None:
    later = p.Consumer(start_after=ms(100))
    ops = [any_nw.stream({"n": 3}, consumer=later) for _ in range(3)]
    any_nw.run(ms(20))
    assert any_nw.client_stats().rpc_streams == 3 and any_nw.gateway_stats().rpcs == 3
    any_nw.run(ms(200))
    assert all(ns(any_nw, op) == [0, 1, 2] for op in ops)
    assert any_nw.client_stats().rpc_streams == 0 and any_nw.gateway_stats().rpcs == 0
    assert any_nw.client_stats().is_clean


def test_03_manual_iteration_to_the_end_frees_rpcs_and_pulls(any_nw: NeemataWorld) -> None:
    any_nw.stream({"n": 4}, consumer=p.Consumer(read_delay=ms(3)))
    any_nw.run(ms(100))
    g = any_nw.gateway_stats()
    assert g.rpcs == 0 and g.streams == 0


@pytest.mark.parametrize("n", [5, 1, 0, 100])
def test_04_to_07_chunks_arrive_in_order(any_nw: NeemataWorld, n: int) -> None:
    op = any_nw.stream({"n": n})
    any_nw.run(ms(10 + 5 * n))
    assert ns(any_nw, op) == list(range(n))
    assert any_nw.ledger.streams[op]["outcome"] == "end"


def test_08_delayed_chunks(any_nw: NeemataWorld) -> None:
    op = any_nw.stream({"n": 5, "delay_ms": 30})
    any_nw.run(ms(250))
    assert ns(any_nw, op) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("how", ["break", "cancel-falls-back-to-break"])
def test_09_10_break_after_three_keeps_the_first_three(any_nw: NeemataWorld, how: str) -> None:
    op = any_nw.stream({"n": 100, "delay_ms": 2}, consumer=p.Consumer(stop_after=3))
    any_nw.run(ms(100))
    assert ns(any_nw, op) == [0, 1, 2]
    assert any_nw.ledger.streams[op]["outcome"] == "break"


def test_11_signal_abort_after_two(any_nw: NeemataWorld) -> None:
    op = any_nw.stream({"n": 100, "delay_ms": 2}, consumer=p.Consumer(stop_after=2,
                                                                      stop="abort"))
    any_nw.run(ms(100))
    assert 2 <= len(ns(any_nw, op)) < 100
    assert any_nw.ledger.streams[op]["outcome"] == "abort"


def test_12_server_error_mid_stream_rejects_after_three(any_nw: NeemataWorld) -> None:
    op = any_nw.stream({"n": 10, "fail_at": 3})
    any_nw.run(ms(50))
    assert ns(any_nw, op) == [0, 1, 2]
    assert any_nw.ledger.streams[op]["outcome"] == "error"


def test_13_client_abort_stops_the_handler_and_runs_its_finally(any_nw: NeemataWorld) -> None:
    op = any_nw.stream({"n": 100, "delay_ms": 5})
    any_nw.run(ms(40))
    any_nw.abort(op)
    any_nw.run(ms(50))
    assert len(ns(any_nw, op)) < 100
    assert any_nw.ledger.finally_ran[op] == 1


def test_14_each_chunk_is_sent_only_after_the_previous_one_was_consumed(
        any_nw: NeemataWorld) -> None:
    sends, reads = [], []

    def watch(rec):  # type: ignore[no-untyped-def]
        if rec.kind == OUT and rec.type == "Send" and isinstance(rec.data["data"],
                                                                 p.RpcStreamChunk):
            sends.append(rec.t)
        if rec.kind == OUT and rec.type == "Note" and rec.data["event"] == "stream.chunk":
            reads.append(rec.t)

    any_nw.world.trace.listeners.append(watch)
    any_nw.stream({"n": 5}, consumer=p.Consumer(read_delay=ms(20)))
    any_nw.run(ms(300))
    assert len(sends) == len(reads) == 5
    for i in range(1, 5):  # chunk i leaves after chunk i-1 was read and processed (20 ms)
        assert sends[i] >= reads[i - 1] + ms(20)


def test_15_fifty_chunks_to_a_slow_client(any_nw: NeemataWorld) -> None:
    op = any_nw.stream({"n": 50}, consumer=p.Consumer(read_delay=ms(10)), timeout=0)
    any_nw.run(s(2))
    assert ns(any_nw, op) == list(range(50))


def test_16_ten_chunks_in_under_500ms(any_nw: NeemataWorld) -> None:
    op = any_nw.stream({"n": 10})
    any_nw.run(ms(500))
    assert any_nw.ledger.streams[op]["outcome"] == "end"
    assert any_nw.ledger.streams[op]["t"] < ms(500)


@pytest.mark.parametrize("consumer,outcome", [
    (p.Consumer(), "end"),
    (p.Consumer(stop_after=2, stop="abort"), "abort"),
])
def test_17_18_handler_finally_runs_and_the_client_is_clean(
        any_nw: NeemataWorld, consumer: p.Consumer, outcome: str) -> None:
    op = any_nw.stream({"n": 10, "delay_ms": 2}, consumer=consumer)
    any_nw.run(ms(200))
    assert any_nw.ledger.streams[op]["outcome"] == outcome
    assert any_nw.ledger.finally_ran[op] == 1
    assert any_nw.client_stats().is_clean


@pytest.mark.parametrize("payload,consumer", [
    ({"n": 5}, p.Consumer()),  # 19/21 normal end
    ({"n": 20, "delay_ms": 2}, p.Consumer(stop_after=3)),  # 20/25 break
    ({"n": 20, "delay_ms": 2}, p.Consumer(stop_after=3, stop="abort")),  # 22 abort
    ({"n": 20, "fail_at": 2}, p.Consumer()),  # 23 server error
])
def test_19_to_25_every_map_is_empty_afterwards(any_nw: NeemataWorld, payload: dict,
                                                consumer: p.Consumer) -> None:
    any_nw.stream(payload, consumer=consumer)
    any_nw.run(ms(200))
    assert is_clean(any_nw)
    assert dirty(any_nw) == {}


def test_24_three_concurrent_streams_clean(any_nw: NeemataWorld) -> None:
    ops = [any_nw.stream({"n": 4, "delay_ms": 3}) for _ in range(3)]
    any_nw.run(ms(100))
    assert all(ns(any_nw, op) == [0, 1, 2, 3] for op in ops)
    assert dirty(any_nw) == {}


def test_edge_01_abort_right_after_the_call_rejects(any_nw: NeemataWorld) -> None:
    op = any_nw.call("echo", {"value": 1})
    any_nw.abort(op)  # synchronous: the response can never win
    any_nw.run(ms(10))
    assert any_nw.outcome(op).code == p.CLIENT_REQUEST_ERROR


def test_edge_02_ten_concurrent_streams_of_five(any_nw: NeemataWorld) -> None:
    ops = [any_nw.stream({"n": 5}) for _ in range(10)]
    any_nw.run(ms(100))
    assert all(ns(any_nw, op) == [0, 1, 2, 3, 4] for op in ops)


# --------------------------------------------------------------------------- spec 2.3 details
def test_no_pull_before_the_first_read_and_n_plus_one_pulls_for_n_chunks() -> None:
    nw = NeemataWorld(NeemataConfig())
    pulls = []
    nw.world.trace.listeners.append(
        lambda r: pulls.append(r.t) if r.kind == OUT and r.type == "Send" and isinstance(
            r.data["data"], p.RpcPull) else None)
    nw.stream({"n": 3}, consumer=p.Consumer(start_after=ms(50)))
    nw.run(ms(40))
    assert pulls == []  # resolved at 7 ms, nothing pulled before the first read
    nw.run(ms(60))
    assert len(pulls) == 4


def test_faithful_stream_ends_with_two_abort_frames_fixed_with_none() -> None:
    for variant, frames in (("faithful", 2), ("fixed", 0)):
        nw = NeemataWorld(NeemataConfig.for_variant(variant))
        aborts = []
        nw.world.trace.listeners.append(
            lambda r, a=aborts: a.append(r) if r.kind == OUT and r.type == "Send" and isinstance(
                r.data["data"], p.RpcAbort) else None)
        nw.stream({"n": 2})
        nw.run(ms(50))
        assert len(aborts) == frames, variant


def test_call_timeout_caps_a_running_stream_on_faithful_only() -> None:
    """[probe] timeout 100 ms: 2 of 10 chunks (here 20 ms apart: 4), then AbortError."""
    for variant, want in (("faithful", 4), ("fixed", 10)):
        nw = NeemataWorld(NeemataConfig.for_variant(variant))
        op = nw.stream({"n": 10, "delay_ms": 20}, timeout=ms(100))
        nw.run(ms(400))
        assert len(ns(nw, op)) == want, variant
        assert nw.ledger.streams[op]["outcome"] == ("error" if want < 10 else "end")


def test_never_iterated_stream_floods_after_the_consume_timeout_on_faithful() -> None:
    """[probe] 5 chunks + End at once after the 5 s first-pull timeout, with no pull."""
    nw = NeemataWorld(NeemataConfig())
    op = nw.stream({"n": 5}, consumer=p.Consumer(read=False), timeout=0)
    nw.run(ms(4_990))
    assert nw.client_stats().rpc_streams == 1
    nw.run(ms(20))
    assert nw.client_stats().rpc_streams == 0  # End arrived: 5 chunks sent unasked
    fixed = NeemataWorld(NeemataConfig.for_variant("fixed"))
    fixed.stream({"n": 5}, consumer=p.Consumer(read=False), timeout=0, op=op)
    chunks = []
    fixed.world.trace.listeners.append(
        lambda r: chunks.append(r) if r.kind == OUT and r.type == "Send" and isinstance(
            r.data["data"], p.RpcStreamChunk) else None)
    fixed.run(ms(5_100))
    assert chunks == [] and dirty(fixed) == {}  # aborted with "Consume timeout"
