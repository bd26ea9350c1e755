"""Shards explore different fault mixes, and share an example database across campaigns."""

from __future__ import annotations

from pathlib import Path

from gatewaysim.properties.machine import fault_kinds
from gatewaysim.properties.pack import get_pack
from gatewaysim.properties.scale.campaign import run_campaign, shard_seed, split
from gatewaysim.properties.scale.swarm import narrowed, swarm_mix


def test_shards_get_disjoint_seeds_and_different_fault_mixes() -> None:
    pack = get_pack("echo")
    kinds = fault_kinds(pack)
    mixes = [swarm_mix(pack, 3, i) for i in range(2 ** len(kinds) - 1)]
    assert mixes[0] is None  # shard 0 is the unsharded campaign: every kind
    rest = [frozenset(m) for m in mixes[1:] if m is not None]
    assert len(rest) == len(mixes) - 1 == len(set(rest))
    assert all(0 < len(m) < len(kinds) for m in rest)
    assert len({shard_seed(3, i) for i in range(100)}) == 100
    assert split(10, 3) == [4, 3, 3] and sum(split(1000, 7)) == 1000


def test_a_narrowed_pack_draws_only_its_fault_kinds() -> None:
    pack = get_pack("echo")
    view = narrowed(pack, ["crash"])
    faults = {k.fault for k in view.steps.values() if k.fault is not None}
    assert faults == {"crash"}
    assert {k for k, v in view.steps.items() if v.fault is None} == {
        k for k, v in pack.steps.items() if v.fault is None}
    assert get_pack("echo").steps == pack.steps  # the registered pack is untouched


def test_a_failure_found_once_is_replayed_first_by_the_next_campaign(tmp_path: Path) -> None:
    db = tmp_path / "db"
    args = {"seeds": 2, "max_examples": 40, "seed": 7, "profile": "ci", "out_dir": None,
            "progress": None, "database": db}
    first = run_campaign("echo", "buggy", workers=2, **args)  # type: ignore[arg-type]
    assert first.findings and not any(f.from_database for f in first.findings)
    assert any(db.iterdir())
    assert [p.name for p in tmp_path.iterdir()] == ["db"]  # the snapshot is cleaned up
    second = run_campaign("echo", "buggy", workers=1, **args)  # type: ignore[arg-type]
    assert any(f.from_database for f in second.findings)
