"""Replay a failure file: execute the run specification it holds, judged by its invariant.

Replay checks the invariant the file names (plus ``no-exception``, so a step that no
longer applies shows up as an error rather than as a silent pass) through
:meth:`~gatewaysim.properties.run.RunSpec.execute`, the one way every tool runs a spec.
With the same pack code, config and seed, the trace and its sha256 are the same in any
process.

The verdict is exact (:class:`Verdict`): the run holds now; it fails the way the file
recorded (the same invariant after the same step, and, under the file's own config, the
same trace hash); or it fails differently. The trace streams: only the last records are
kept, for the timeline around the violation, so a long failure file replays in constant
memory.
"""

from __future__ import annotations

import os
from collections import deque
from enum import IntEnum
from pathlib import Path

import attrs
from attrs import field, frozen

from gatewaysim.simulator.files import is_special, resolve_target, temp_sibling
from gatewaysim.simulator.timeline import render_timeline
from gatewaysim.simulator.trace import TraceRecord

from .failure import Failure
from .monitor import Violation

TAIL_RECORDS = 4000
"""How many of the last records a replay keeps for its timeline."""


class Verdict(IntEnum):
    """What a replay found, as the exit status ``gatewaysim replay`` gives it."""

    HOLDS = 0
    """The invariant holds now: the bug is gone (or the file is under a fixed variant)."""
    REPRODUCED = 1
    """The same invariant fails after the same step (and, under the file's own config,
    the trace hash is the recorded one)."""
    DIFFERENT = 3
    """The run fails, but not as recorded: another invariant, another step, or another
    trace (the model changed since the file was written)."""


@frozen
class ReplayResult:
    violation: Violation | None
    trace_sha256: str
    hash_matches: bool
    timeline_text: str = field(repr=False)
    variant: str
    steps_applied: int
    verdict: Verdict = Verdict.HOLDS
    config_changed: bool = False
    """The run's config is not the file's (``--variant``)."""
    records_before_timeline: int = 0
    """Records of the run not in :attr:`timeline_text` (it shows the end of the run)."""

    @property
    def reproduced(self) -> bool:
        """Any violation at all: the recorded one, or the run raising."""
        return self.violation is not None


def verdict_of(failure: Failure, violation: Violation | None, hash_matches: bool,
               config_changed: bool) -> Verdict:
    if violation is None:
        return Verdict.HOLDS
    recorded = failure.violation
    same = (violation.invariant_id == failure.invariant_id
            and violation.step_index == recorded.step_index)
    if same and (hash_matches or config_changed):
        return Verdict.REPRODUCED
    return Verdict.DIFFERENT


def replay(failure: Failure, variant: str | None = None, *, timeline_limit: int | None = 400,
           trace_path: str | Path | None = None) -> ReplayResult:
    """Rerun ``failure``; with ``variant``, under that variant's config instead of the file's.
    With ``trace_path``, the run's trace is written there (whole, through a temporary file)."""
    original = failure
    if variant is not None:
        failure = under_variant(failure, variant)
    config_changed = failure.config != original.config
    tail: deque[TraceRecord] = deque(maxlen=TAIL_RECORDS if timeline_limit != 0 else 0)
    if trace_path is None:
        result = failure.run.execute(listeners=(tail.append,))
    else:
        dest = resolve_target(trace_path)
        tmp = None if is_special(dest) else temp_sibling(dest)
        try:
            result = failure.run.execute(listeners=(tail.append,),
                                         trace_path=tmp if tmp is not None else dest)
            if tmp is not None:
                os.replace(tmp, dest)
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    text = ""
    if timeline_limit != 0:
        text = render_timeline(_last_lines(list(tail), result.describe, timeline_limit),
                               describe=result.describe)
    matches = result.trace_sha256 == original.trace_sha256
    return ReplayResult(result.violation, result.trace_sha256, matches, text, failure.variant,
                        result.steps_applied,
                        verdict_of(original, result.violation, matches, config_changed),
                        config_changed, result.trace.count - len(tail))


def _last_lines(records: list[TraceRecord], describe: object, limit: int | None
                ) -> list[TraceRecord]:
    """The records whose lines end the timeline: the last ``limit`` that show a line."""
    if limit is None:
        return records
    from gatewaysim.simulator.timeline import describe_default

    shown: list[TraceRecord] = []
    for rec in reversed(records):
        text = describe(rec) if callable(describe) else None  # type: ignore[operator]
        if text is None:
            text = describe_default(rec)
        if text:
            shown.append(rec)
            if len(shown) >= limit:
                break
    return list(reversed(shown))


def under_variant(failure: Failure, variant: str) -> Failure:
    """The same run under another variant's config (e.g. the fixed one)."""
    return attrs.evolve(failure, spec=failure.spec.under(variant))


def trace_hash(failure: Failure) -> str:
    """The sha256 of the failing run's trace (what a failure file records)."""
    return replay(failure, timeline_limit=0).trace_sha256
