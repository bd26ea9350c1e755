"""Replay a failure file: rebuild the driver from config and seed, apply the steps, judge.

Replay checks the invariant the file names (plus ``no-exception``, so a step that no
longer applies shows up as an error rather than as a silent pass) through the same
:class:`~gatewaysim.properties.execution.Execution` exploration used. With the same pack
code, config
and seed, the trace and its sha256 are the same in any process.
"""

from __future__ import annotations

import attrs
from attrs import field, frozen
from gatewaysim.simulator.timeline import render_timeline

from .execution import Execution, only
from .failure import Failure
from .invariants import Violation
from .packs import get_pack


@frozen
class ReplayResult:
    violation: Violation | None
    trace_sha256: str
    hash_matches: bool
    timeline_text: str = field(repr=False)
    variant: str
    steps_applied: int

    @property
    def reproduced(self) -> bool:
        """Any violation at all: the recorded one, or the run raising."""
        return self.violation is not None


def replay(failure: Failure, variant: str | None = None, *, timeline_limit: int | None = 400
           ) -> ReplayResult:
    """Rerun ``failure``; with ``variant``, under that variant's config instead of the file's."""
    if variant is not None:
        failure = under_variant(failure, variant)
    driver = get_pack(failure.pack).driver(failure.config, failure.seed, keep_records=True)
    ex = Execution(driver, only(failure.invariant_id))
    ex.start()
    for st in failure.steps:
        if ex.done:
            break
        ex.step(st)
    violation = ex.finish()
    text = render_timeline(driver.trace.records, describe=driver.describe, limit=timeline_limit)
    sha = driver.trace.sha256
    return ReplayResult(violation, sha, sha == failure.trace_sha256, text,
                        failure.variant, driver.steps_applied)


def under_variant(failure: Failure, variant: str) -> Failure:
    """The same run under another variant's config (e.g. the fixed one)."""
    return attrs.evolve(failure, variant=variant, config=get_pack(failure.pack).config(variant))


def trace_hash(failure: Failure) -> str:
    """The sha256 of the failing run's trace (what a failure file records)."""
    return replay(failure, timeline_limit=0).trace_sha256
