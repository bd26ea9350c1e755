"""diff: where two runs part, and what differs after."""

from __future__ import annotations

from collections import Counter

from gatewaysim.analysis import TraceView, diff

from .echo_runs import echo_world


def test_the_same_seed_gives_identical_runs() -> None:
    a = echo_world(seed=21, clients=3, duration_s=30)
    b = echo_world(seed=21, clients=3, duration_s=30)
    result = diff(a, b)
    assert result.identical
    assert result.index is None and result.a is None and result.b is None
    assert result.len_a == result.len_b == a.trace.count
    assert not result.by_type and not result.header_changes
    assert str(result).startswith("identical")


def test_different_seeds_part_at_the_first_differing_record() -> None:
    va = TraceView.from_world(echo_world(seed=21, clients=3, duration_s=30))
    vb = TraceView.from_world(echo_world(seed=22, clients=3, duration_s=30))
    result = diff(va, vb, behaviour=False)
    assert not result.identical
    first = next(i for i, (x, y) in enumerate(zip(va.records, vb.records))
                 if x.to_json() != y.to_json())
    assert result.index == first
    assert result.a == va.records[first] and result.b == vb.records[first]
    assert result.t_us == min(va.records[first].t, vb.records[first].t)
    assert result.header_changes["seed"] == (21, 22)
    tail_a = Counter(r.type for r in va.records[first:])
    tail_b = Counter(r.type for r in vb.records[first:])
    assert dict(result.by_type) == {
        k: (tail_a[k], tail_b[k]) for k in tail_a | tail_b if tail_a[k] != tail_b[k]}
    assert f"record {first}" in str(result)


def test_a_run_that_stops_early_parts_where_it_ends() -> None:
    short = echo_world(seed=5, clients=2, duration_s=10)
    long = echo_world(seed=5, clients=2, duration_s=20)
    result = diff(short, long)
    assert not result.identical
    assert result.index == short.trace.count
    assert result.a is None and result.b == long.trace.records[short.trace.count]
    assert "(run ended)" in str(result)
