"""Replay a failure file: execute the run specification it holds, judged by its invariant.

Replay checks the invariant the file names (plus ``no-exception``, so a step that no
longer applies shows up as an error rather than as a silent pass) through
:meth:`~gatewaysim.properties.run.RunSpec.execute`, the one way every tool runs a spec.
With the same pack code, config and seed, the trace and its sha256 are the same in any
process.

The verdict is exact (:class:`Verdict`): the run holds now; it fails the way the file
recorded (the same invariant after the same step, and, under the file's own config, the
same trace hash); or it fails differently. The trace streams: only the records of the last
``window`` of virtual time are kept (the run stops at its violation, so those are the
records before it), so a long failure file replays in memory bounded by the window.
"""

from __future__ import annotations

import fnmatch
import os
from collections import deque
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path

import attrs
from attrs import field, frozen

from gatewaysim.simulator.clock import SECOND, Time, format_duration, format_time
from gatewaysim.simulator.files import is_special, resolve_target, temp_sibling
from gatewaysim.simulator.timeline import TIME_WIDTH, Describe, describe_default, format_line
from gatewaysim.simulator.trace import FAULT, TraceRecord

from .failure import Failure
from .monitor import Violation
from .run import StepMark

DEFAULT_WINDOW = 60 * SECOND
"""How much of the run before the violation a replay's timeline shows by default: a
liveness invariant is judged at the end of its settle window, so its cause lies up to a
settle window earlier."""

MAX_KEPT = 200_000
"""At most this many records of the window are held in memory (the newest are kept)."""


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
    """Records of the run before the window :attr:`timeline_text` shows."""
    marks: tuple[StepMark, ...] = field(default=(), repr=False)
    """Where each applied step landed (0-based ``index``, as ``steps[i]`` in the file)."""
    window: tuple[Time, Time] | None = None
    """The span of virtual time the timeline covers (``None``: no timeline)."""
    lines_cut: int = 0
    """Lines of the window left out by the line limit (the earliest ones)."""

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
           trace_path: str | Path | None = None, window: Time | None = DEFAULT_WINDOW,
           actors: Sequence[str] = ()) -> ReplayResult:
    """Rerun ``failure``; with ``variant``, under that variant's config instead of the file's.

    The timeline shows ``window`` microseconds of virtual time before the violation (before
    the end of the run if the invariant holds; ``None``: the whole run), only the actors
    matching one of the ``actors`` globs if any are given (faults and steps are always
    shown), and at most ``timeline_limit`` lines: the ones nearest the violation.
    ``timeline_limit=0`` renders no timeline at all. With ``trace_path``, the run's trace is
    written there (whole, through a temporary file).
    """
    original = failure
    if variant is not None:
        failure = under_variant(failure, variant)
    config_changed = failure.config != original.config
    keep = _Window(window if timeline_limit != 0 else 0)
    if trace_path is None:
        result = failure.run.execute(listeners=(keep.append,))
    else:
        dest = resolve_target(trace_path)
        tmp = None if is_special(dest) else temp_sibling(dest)
        try:
            result = failure.run.execute(listeners=(keep.append,),
                                         trace_path=tmp if tmp is not None else dest)
            if tmp is not None:
                os.replace(tmp, dest)
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    text, span, before, cut = "", None, 0, 0
    if timeline_limit != 0:
        end = result.violation.t if result.violation is not None else keep.last_t
        lo = 0 if window is None else max(0, end - window)
        records = [r for r in keep.records if lo <= r.t <= end]
        before = result.trace.count - len(records)
        text, cut = render_window(records, result.describe, result.marks, actors=actors,
                                  limit=timeline_limit)
        span = (lo, end)
    matches = result.trace_sha256 == original.trace_sha256
    return ReplayResult(result.violation, result.trace_sha256, matches, text, failure.variant,
                        result.steps_applied,
                        verdict_of(original, result.violation, matches, config_changed),
                        config_changed, before, result.marks, span, cut)


class _Window:
    """A listener keeping the records of the last ``span`` microseconds (``None``: all)."""

    def __init__(self, span: Time | None) -> None:
        self.span = span
        self.records: deque[TraceRecord] = deque(maxlen=MAX_KEPT)
        self.last_t: Time = 0

    def append(self, rec: TraceRecord) -> None:
        self.last_t = rec.t
        if self.span == 0:
            return
        records = self.records
        records.append(rec)
        if self.span is not None:
            lo = rec.t - self.span
            while records[0].t < lo:
                records.popleft()


def render_window(records: Sequence[TraceRecord], describe: Describe | None,
                  marks: Sequence[StepMark] = (), *, actors: Sequence[str] = (),
                  limit: int | None = None) -> tuple[str, int]:
    """The timeline of ``records`` with a line for each step where it was applied.

    Only records of actors matching an ``actors`` glob are shown (faults always); with
    ``limit``, only the last ``limit`` lines. Returns the text and how many lines the
    limit left out.
    """
    pending = [m for m in marks if not records or m.record + 1 >= records[0].seq]
    lines: list[str] = []
    k = 0
    for rec in records:
        while k < len(pending) and pending[k].record < rec.seq:
            lines.append(_step_line(pending[k]))
            k += 1
        if actors and rec.kind != FAULT and not any(fnmatch.fnmatchcase(rec.actor, p)
                                                    for p in actors):
            continue
        text = describe(rec) if describe is not None else None
        if text is None:
            text = describe_default(rec)
        if text:
            lines.append(format_line(rec.t, rec.actor, text))
    lines.extend(_step_line(m) for m in pending[k:] if not records or m.t_us <= records[-1].t)
    cut = 0
    if limit is not None and len(lines) > limit:
        cut = len(lines) - limit
        lines = lines[cut:]
    return "\n".join(lines), cut


def _step_line(mark: StepMark) -> str:
    tag = f" [{mark.fault}]" if mark.fault else ""
    return f"{format_time(mark.t_us):>{TIME_WIDTH}}  -- step {mark.index}: {mark.step!r}{tag} --"


def describe_window(span: tuple[Time, Time], violation: Violation | None) -> str:
    """Says what a timeline window covers, in words: ``the 1m before the violation ...``."""
    lo, hi = span
    what = "the violation" if violation is not None else "the end of the run"
    if lo == 0:
        return f"the whole run up to {what} at {format_time(hi)}"
    return (f"the {format_duration(hi - lo)} before {what} at {format_time(hi)} "
            f"(from {format_time(lo)})")


def under_variant(failure: Failure, variant: str) -> Failure:
    """The same run under another variant's config (e.g. the fixed one)."""
    return attrs.evolve(failure, spec=failure.spec.under(variant))


def trace_hash(failure: Failure) -> str:
    """The sha256 of the failing run's trace (what a failure file records)."""
    return replay(failure, timeline_limit=0).trace_sha256
