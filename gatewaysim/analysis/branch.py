"""Branching a run: rerun it with one decision changed and look at the new trace.

A run made of steps (a failure file, a branch, or any step list for a pack) is a
:class:`~gatewaysim.properties.run.RunSpec`: a pure function of pack, config, seed and
steps. Rerunning the whole step list with one step removed, replaced or delayed therefore
reproduces the original record for record up to the changed step, and only then goes its
own way. That is a branch: no snapshot of the world is needed, and
:func:`~gatewaysim.analysis.diff.diff` of the two views finds the first record after the
change.

Every rerun goes through :meth:`RunSpec.execute`, the one path exploration and ``gatewaysim
replay`` use, so a branch of a failure with nothing changed has exactly the failure file's
trace hash. Step indexes are 0-based positions in ``steps`` (``failure.steps[i]``), the same
numbering :meth:`TraceView.steps` shows. This module knows nothing of views;
:mod:`gatewaysim.analysis.view` builds on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

from gatewaysim.properties.pack import Pack
from gatewaysim.properties.run import RunResult, RunSpec, StepMark, resolve
from gatewaysim.simulator.clock import SECOND, Time
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import Trace, TraceRecord

if TYPE_CHECKING:
    from gatewaysim.properties.failure import Failure
    from gatewaysim.properties.monitor import Violation
    from gatewaysim.properties.steps import Step


def seconds_to_us(t: float) -> Time:
    """Seconds (as users write them) to the kernel's integer microseconds."""
    return round(t * SECOND)


# ---------------------------------------------------------------------------- changes
def _check_index(index: int | None, steps: Sequence[Step], what: str) -> int:
    if index is None:
        raise ConfigError(f"{what}: no step index (give one, or a time t to pick the first "
                          "fault step at or after it)")
    if isinstance(index, bool) or not isinstance(index, int):
        raise ConfigError(f"{what}: step index must be an integer, not {index!r}")
    if not 0 <= index < len(steps):
        last = f"0..{len(steps) - 1}" if steps else "none"
        raise ConfigError(f"{what}: step index {index} is out of range (this run has "
                          f"{len(steps)} steps, indexes {last})")
    return index


@frozen
class RemoveStep:
    """Leave out step ``index`` (a fault that does not happen)."""

    index: int | None = None

    def apply(self, steps: Sequence[Step], pack: Pack) -> tuple[Step, ...]:
        i = _check_index(self.index, steps, repr(self))
        return (*steps[:i], *steps[i + 1:])


@frozen
class ReplaceStep:
    """Apply ``step`` instead of step ``index`` (another fault, another client)."""

    index: int | None
    step: Step

    def apply(self, steps: Sequence[Step], pack: Pack) -> tuple[Step, ...]:
        i = _check_index(self.index, steps, repr(self))
        return (*steps[:i], pack.check_step(self.step, repr(self)), *steps[i + 1:])


@frozen
class ChangeArg:
    """Apply step ``index`` with argument ``name`` set to ``value`` (e.g. a longer advance)."""

    index: int | None
    name: str
    value: Any

    def apply(self, steps: Sequence[Step], pack: Pack) -> tuple[Step, ...]:
        from gatewaysim.properties.steps import Step

        i = _check_index(self.index, steps, repr(self))
        old = steps[i]
        kind = pack.steps[old.name]
        if self.name not in kind.args:
            takes = ", ".join(sorted(kind.args)) or "no arguments"
            raise ConfigError(f"{self!r}: step {i} ({old.name}) has no argument "
                              f"{self.name!r} (it takes {takes})")
        return (*steps[:i], Step(old.name, {**old.args, self.name: self.value}),
                *steps[i + 1:])


@frozen
class Delay:
    """Let ``by_ms`` more milliseconds of virtual time pass before step ``index``.

    The extra time is the pack's time-advancing step (declared with ``time_arg``) inserted
    before it, so every timer that falls in the gap (a heartbeat, a backoff, an alarm) fires
    before the step instead of after. To shorten a wait, change that step's argument with
    :class:`ChangeArg`.
    """

    index: int | None
    by_ms: int

    def apply(self, steps: Sequence[Step], pack: Pack) -> tuple[Step, ...]:
        i = _check_index(self.index, steps, repr(self))
        if isinstance(self.by_ms, bool) or not isinstance(self.by_ms, int) or self.by_ms < 1:
            raise ConfigError(f"{self!r}: by_ms must be a positive integer of milliseconds "
                              "(to shorten a wait, use ChangeArg on the step that advances "
                              "time)")
        return (*steps[:i], pack.advance_step(self.by_ms), *steps[i:])


Change = RemoveStep | ReplaceStep | ChangeArg | Delay
CHANGES = (RemoveStep, ReplaceStep, ChangeArg, Delay)


# ---------------------------------------------------------------------------- runs
@frozen
class RunOutcome:
    """An executed run, and where it came from.

    A view of it keeps the outcome as ``view.source.origin``, which is how the view can be
    branched again; ``parent`` and ``change`` say what it was branched from, ``failure``
    the failure file the lineage started from (if any).
    """

    result: RunResult = field(repr=False)
    change: Change | None = None
    parent: RunOutcome | None = field(default=None, repr=False, eq=False)
    failure: Failure | None = field(default=None, repr=False, eq=False)

    @property
    def run(self) -> RunSpec:
        return self.result.spec

    @property
    def violation(self) -> Violation | None:
        return self.result.violation

    @property
    def marks(self) -> tuple[StepMark, ...]:
        return self.result.marks

    @property
    def trace(self) -> Trace:
        return self.result.trace

    @property
    def describe(self) -> Callable[[TraceRecord], str | None]:
        return self.result.describe

    @property
    def settled(self) -> bool:
        """True if the run got through every step to the liveness check (no early stop)."""
        return self.result.settled

    def faults(self) -> tuple[StepMark, ...]:
        """The applied steps that inject a fault, in order."""
        return tuple(m for m in self.marks if m.fault is not None)

    def first_fault_at(self, t: float) -> StepMark:
        """The first fault step applied at or after ``t`` seconds."""
        t_us = seconds_to_us(t)
        for mark in self.faults():
            if mark.t_us >= t_us:
                return mark
        applied = ", ".join(f"{m.index} at {m.t:g}s" for m in self.faults()) or "none"
        raise ConfigError(f"no fault step was applied at or after t={t:g}s "
                          f"(fault steps: {applied})")

    def lineage(self) -> tuple[Change | None, ...]:
        """The changes from the first run of this lineage to this one."""
        chain: list[Change | None] = []
        node: RunOutcome | None = self
        while node is not None and node.parent is not None:
            chain.append(node.change)
            node = node.parent
        return tuple(reversed(chain))


def execute(spec: RunSpec, *, change: Change | None = None, parent: RunOutcome | None = None,
            failure: Failure | None = None) -> RunOutcome:
    """Execute ``spec`` keeping its records, and remember where it came from."""
    return RunOutcome(spec.execute(keep_records=True), change, parent, failure)


def changed(spec: RunSpec, change: Change) -> RunSpec:
    """The same run with ``change`` made to its steps (errors name the bad index or arg)."""
    if not isinstance(change, CHANGES):
        raise ConfigError(f"not a change: {change!r} (expected RemoveStep, ReplaceStep, "
                          "ChangeArg or Delay)")
    return attrs.evolve(spec, steps=change.apply(spec.steps, resolve(spec.pack)))


def target(change: Change, outcome: RunOutcome, t: float | None) -> Change:
    """Fill in a change's missing index from ``t``, or check its index against ``t``."""
    if change.index is None:
        if t is None:
            raise ConfigError(f"{change!r}: give a step index, or a time t to pick the first "
                              "fault step at or after it")
        return attrs.evolve(change, index=outcome.first_fault_at(t).index)
    if t is not None:
        mark = next((m for m in outcome.marks if m.index == change.index), None)
        if mark is not None and mark.t < t:
            raise ConfigError(f"{change!r}: step {change.index} was applied at {mark.t:g}s, "
                              f"before t={t:g}s (leave out t, or the index to let t pick)")
    return change


def branch_outcome(outcome: RunOutcome, t: float | None = None, change: Change | None = None,
                   *, variant: str | None = None) -> RunOutcome:
    """Rerun ``outcome``'s run with one decision changed; see :meth:`TraceView.branch`."""
    if change is None and t is None and variant is None:
        raise ConfigError("branch needs a change, a time t (remove the first fault step at "
                          "or after it) or a variant to rerun under")
    if change is not None and not isinstance(change, CHANGES):
        raise ConfigError(f"not a change: {change!r} (expected RemoveStep, ReplaceStep, "
                          "ChangeArg or Delay)")
    if change is None and t is not None:
        change = RemoveStep()
    spec = outcome.run
    if change is not None:
        change = target(change, outcome, t)
        spec = changed(spec, change)
    if variant is not None:
        spec = spec.under(variant)
    return execute(spec, change=change, parent=outcome, failure=outcome.failure)


__all__ = ["CHANGES", "Change", "ChangeArg", "Delay", "RemoveStep", "ReplaceStep", "RunOutcome",
           "StepMark", "branch_outcome", "changed", "execute", "seconds_to_us",
           "target"]
