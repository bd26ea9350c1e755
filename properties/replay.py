"""Replay a failure file: execute the run specification it holds, judged by its invariant.

Replay checks the invariant the file names (plus ``no-exception``, so a step that no
longer applies shows up as an error rather than as a silent pass) through
:meth:`~gatewaysim.properties.run.RunSpec.execute`, the one way every tool runs a spec.
With the same pack code, config and seed, the trace and its sha256 are the same in any
process.
"""

from __future__ import annotations

import attrs
from attrs import field, frozen

from gatewaysim.simulator.timeline import render_timeline

from .failure import Failure
from .monitor import Violation


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
    result = failure.run.execute(keep_records=timeline_limit != 0)
    text = render_timeline(result.trace.records, describe=result.describe,
                           limit=timeline_limit) if timeline_limit != 0 else ""
    return ReplayResult(result.violation, result.trace_sha256,
                        result.trace_sha256 == failure.trace_sha256, text, failure.variant,
                        result.steps_applied)


def under_variant(failure: Failure, variant: str) -> Failure:
    """The same run under another variant's config (e.g. the fixed one)."""
    return attrs.evolve(failure, spec=failure.spec.under(variant))


def trace_hash(failure: Failure) -> str:
    """The sha256 of the failing run's trace (what a failure file records)."""
    return replay(failure, timeline_limit=0).trace_sha256
