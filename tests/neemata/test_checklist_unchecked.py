"""The items the seed's checklist left unchecked, and its section 5 gaps, in virtual time."""

from __future__ import annotations

from gatewaysim.models.neemata import NeemataConfig, NeemataWorld
from gatewaysim.models.neemata import protocol as p
from gatewaysim.simulator.clock import ms
from gatewaysim.simulator.trace import OUT

from .conftest import dirty


def rpc_ids(nw: NeemataWorld) -> list[int]:
    ids: list[int] = []
    nw.world.trace.listeners.append(
        lambda r: ids.append(r.data["data"].call_id) if r.kind == OUT and r.type == "Send"
        and isinstance(r.data["data"], p.Rpc) else None)
    return ids


def test_ids_wrap_to_zero_after_2_to_the_32_minus_2(any_nw: NeemataWorld) -> None:
    ids = rpc_ids(any_nw)
    any_nw.act(p.SkipIds(p.MAX_UINT32 - 1))
    for _ in range(3):
        any_nw.call("echo", {"value": 1})
        any_nw.run(ms(5))
    assert ids == [p.MAX_UINT32 - 1, 0, 1]


def test_a_wrapped_id_overwrites_a_live_call_on_faithful_only() -> None:
    for variant in ("faithful", "fixed"):
        nw = NeemataWorld(NeemataConfig.for_variant(variant))
        ids = rpc_ids(nw)
        slow = nw.call("slow", {"ms": 100, "value": "slow"})
        nw.act(p.SkipIds())
        fast = nw.call("echo", {"value": "fast"})
        nw.run(ms(200))
        if variant == "faithful":
            assert ids == [0, 0]
            # Both answers carry id 0: the first resolves the newer call, the second is
            # dropped, and the slow call only ends by its own timeout.
            assert nw.outcome(fast).value == "fast"
            assert nw.outcome(slow) is None
        else:
            assert ids == [0, 1]
            assert (nw.outcome(slow).value, nw.outcome(fast).value) == ("slow", "fast")


def test_double_abort_is_idempotent(any_nw: NeemataWorld) -> None:
    aborts: list = []
    any_nw.world.trace.listeners.append(
        lambda r: aborts.append(r) if r.kind == OUT and r.type == "Send"
        and isinstance(r.data["data"], p.RpcAbort) else None)
    op = any_nw.call("slow_abortable", {"ms": 1_000})
    any_nw.run(ms(10))
    any_nw.abort(op)
    any_nw.abort(op)
    any_nw.run(ms(10))
    assert any_nw.ledger.settle_counts[op] == 1 and len(aborts) == 1
    ignored = [d for _, e, d in any_nw.ledger.events if e == "abort.ignored"]
    assert [d["op"] for d in ignored] == [op]


def test_no_dangling_timers_after_a_call() -> None:
    """Unchecked in the seed: the faithful AbortSignal.timeout outlives its call."""
    for variant, dangling in (("faithful", 1), ("fixed", 0)):
        nw = NeemataWorld(NeemataConfig.for_variant(variant))
        nw.call("echo", {"value": 1})
        nw.run(ms(10))
        assert nw.client_stats().timers == dangling, variant
        nw.run(ms(5_000))
        assert nw.client_stats().timers == 0


def test_no_pending_promises_after_a_stream_ends(any_nw: NeemataWorld) -> None:
    any_nw.stream({"n": 3})
    any_nw.run(ms(30))
    g = any_nw.gateway_stats()
    assert (g.handlers, g.streams, g.rpcs) == (0, 0, 0)


def test_all_streams_are_aborted_on_disconnect(any_nw: NeemataWorld) -> None:
    ops = [any_nw.stream({"n": 50, "delay_ms": 5}) for _ in range(3)]
    any_nw.run(ms(20))
    any_nw.disconnect()
    any_nw.run(ms(30))
    assert all(any_nw.ledger.streams[op]["outcome"] == "error" for op in ops)
    assert all(any_nw.ledger.finally_ran[op] == 1 for op in ops)
    assert dirty(any_nw) == {}


def test_connection_state_can_be_queried(any_nw: NeemataWorld) -> None:
    assert any_nw.client_stats().state == "connected"
    any_nw.disconnect()
    assert any_nw.client_stats().state == "disconnected"
    any_nw.connect()
    assert any_nw.client_stats().state == "connecting"


def test_a_drop_during_mixed_transfers_leaves_both_sides_clean(any_nw: NeemataWorld) -> None:
    any_nw.upload(p.BlobSource(size=300_000, seed=1, delay=ms(5)))
    any_nw.download(300_000, delay_ms=5)
    any_nw.stream({"n": 50, "delay_ms": 5})
    any_nw.call("slow", {"ms": 100})
    any_nw.run(ms(30))
    any_nw.world.drop(any_nw.client.conn)
    any_nw.settle()
    assert dirty(any_nw) == {}
    assert any_nw.gateway_stats().connections == 0
