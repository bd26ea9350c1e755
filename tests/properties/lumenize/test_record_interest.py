"""The Lumenize monitors' declared record interests lose nothing.

Every record-reading monitor of the pack says which record types and kinds it reads, and
is handed no other record (that is most of what judging every invariant costs). Here each
declaration is checked against runs: the bug zoo's minimal runs (under their mutant,
``fixed`` and ``faithful``) and seeded random runs of every step kind, with a copy of each
monitor fed every record beside one fed only what it declares. A record left out that
changes the books is reported, naming the monitor and the record.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from gatewaysim.models.lumenize.config import MUTANTS
from gatewaysim.properties.interests import declares_interest, handed, undeclared_reads
from gatewaysim.properties.lumenize import PACK
from gatewaysim.properties.lumenize.monitors import NoPingpong
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step
from gatewaysim.testing.draw import draw_args

from .test_bugzoo import MINIMAL_RUNS


def _records(spec: RunSpec) -> list:
    """Every record of the whole run: nothing checked, so no violation cuts it short."""
    return list(spec.execute(keep_records=True, checked=lambda _id: False).trace.records)


def _random_runs(count: int, length: int, seed: int) -> Iterator[list[Step]]:
    """Seeded random runs: step kinds chosen at random, each with one of a few argument
    draws from the pack's own strategies (the kit's deterministic drawer)."""
    rng = random.Random(seed)
    draws = draw_args(PACK.steps, examples=8)
    kinds = sorted(PACK.steps)
    for _ in range(count):
        yield [Step(kind, dict(rng.choice(draws)[kind]))
               for kind in (rng.choice(kinds) for _ in range(length))]


def test_every_record_reading_monitor_declares_what_it_reads() -> None:
    undeclared = [m.id for m in PACK.monitors if m.observes_records and not declares_interest(m)]
    assert undeclared == []


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_no_monitor_misses_a_record_on_the_zoo_runs(mutant: str) -> None:
    spec = RunSpec.of(PACK, MINIMAL_RUNS[mutant], variant=f"mutant:{mutant}")
    for variant in (spec.variant, "fixed", "faithful"):
        assert undeclared_reads(PACK.monitors, _records(spec.under(variant))) == []


@pytest.mark.parametrize("variant", ["fixed", "faithful"])
def test_no_monitor_misses_a_record_on_random_runs(variant: str) -> None:
    for steps in _random_runs(count=30, length=15, seed=7):
        spec = RunSpec.of(PACK, steps, variant=variant)
        assert undeclared_reads(PACK.monitors, _records(spec)) == []


def test_a_declaration_that_leaves_out_a_record_it_reads_is_reported() -> None:
    """``no_pingpong`` counts the gateway's 4409 closes: told it reads only notes, the
    supersession in a duplicate-tab run is the record it misses."""
    narrow = NoPingpong("test.narrow_pingpong", "as no_pingpong, declared too narrowly",
                        "liveness", types={"Note"})
    steps = MINIMAL_RUNS["grace_alarm_on_4409"]
    records = _records(RunSpec.of(PACK, steps, variant="fixed"))
    found = undeclared_reads([narrow], records)
    assert [(f.monitor, f.record.type) for f in found] == [
        ("test.narrow_pingpong", "CloseConnection")]
    assert not handed(narrow, found[0].record)
    assert "CloseConnection" in str(found[0])
    # Declared as it should be, the same run has nothing to report.
    assert undeclared_reads([NoPingpong("test.pingpong", "as no_pingpong", "liveness",
                                        types={"CloseConnection"})], records) == []
