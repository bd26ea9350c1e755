"""A failure file as a regression check: replay its run, and show what happened around it.

A finding stays useful after it is fixed: rerun, it should now pass. :func:`replay_failure`
reruns the run a failure file holds, judged by the invariant the file names (as
``gatewaysim replay`` does), keeps the records, and renders the part of the timeline a
reader needs: the virtual seconds before the violation, a marker, and what followed.
The pytest plugin builds its test items on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
from attrs import field, frozen

from gatewaysim.properties.failure import FORMAT, Failure, load_failure
from gatewaysim.properties.monitor import Violation
from gatewaysim.properties.run import RunResult
from gatewaysim.simulator.clock import Time, format_time, s
from gatewaysim.simulator.timeline import render_timeline

MAX_FAILURE_FILE_BYTES = 16 * 1024 * 1024
"""Larger JSON files are not read to see whether they are failure files."""

WINDOW_BEFORE: Time = s(10)
WINDOW_AFTER: Time = s(1)
WINDOW_LINES = 60


def is_failure_file(path: str | Path) -> bool:
    """True for a JSON file that says ``"format": "gatewaysim-failure"`` (cheap, never raises)."""
    p = Path(path)
    if p.suffix != ".json" or not p.is_file():
        return False
    try:
        if p.stat().st_size > MAX_FAILURE_FILE_BYTES:
            return False
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


@frozen
class Regression:
    """A failure file, replayed: does its invariant hold now, and what did the run do?"""

    path: Path
    failure: Failure = field(repr=False)
    result: RunResult = field(repr=False)

    @property
    def violation(self) -> Violation | None:
        return self.result.violation

    @property
    def holds(self) -> bool:
        """The invariant holds now (the bug is fixed) and nothing raised."""
        return self.result.violation is None

    @property
    def hash_matches(self) -> bool:
        return self.result.trace_sha256 == self.failure.trace_sha256

    def window(self, before: Time = WINDOW_BEFORE, after: Time = WINDOW_AFTER,
               limit: int = WINDOW_LINES) -> str:
        """The timeline from ``before`` the violation to ``after`` it, with a marker line."""
        records = self.result.trace.records
        v = self.violation
        if v is None:
            return render_timeline(records[-limit:], describe=self.result.describe)
        lead = [r for r in records if v.t - before <= r.t <= v.t]
        tail = [r for r in records if v.t < r.t <= v.t + after]
        shown = render_timeline(lead, describe=self.result.describe).splitlines()[-limit:]
        marker = f"{format_time(v.t):>9}  >>> {v.invariant_id} violated: {v.message}"
        rest = render_timeline(tail, describe=self.result.describe, limit=max(limit // 4, 1))
        return "\n".join([*shown, marker, *([rest] if rest else [])])

    def explain(self) -> str:
        """What a failing regression test prints."""
        f, v = self.failure, self.violation
        if v is None:
            return f"{f.invariant_id} holds (failure file {self.path})"
        what = ("still VIOLATED" if v.invariant_id == f.invariant_id
                else f"ERROR ({v.invariant_id}, instead of {f.invariant_id})")
        same = ("the trace is the recorded one" if self.hash_matches
                else "the trace differs from the recorded one (the model changed)")
        steps = "\n".join(f"    {st!r}," for st in f.steps) or "    (none)"
        return (f"{f.invariant_id} {what} at t={format_time(v.t)} after step "
                f"{v.step_index}: {v.message}\n"
                f"  failure file: {self.path}\n"
                f"  invariant: {f.statement}\n"
                f"  pack {f.pack}, variant {f.variant}, seed {f.seed}; {same}\n"
                f"  steps:\n{steps}\n"
                f"  timeline around the violation "
                f"({format_time(max(v.t - WINDOW_BEFORE, 0))} to "
                f"{format_time(v.t + WINDOW_AFTER)}):\n{self.window()}\n"
                f"  replay it: gatewaysim replay {self.path}")


def replay_failure(path: str | Path, *, variant: str | None = None) -> Regression:
    """Rerun the failure file at ``path`` (with ``variant``: under that variant's config)."""
    failure = load_failure(path)
    if variant is not None:
        failure = attrs.evolve(failure, spec=failure.spec.under(variant))
    result = failure.run.execute(keep_records=True)
    return Regression(Path(path), failure, result)


__all__ = ["Regression", "is_failure_file", "replay_failure"]
