"""Branching a run: rerun it with one decision changed and look at the new trace.

A run made of steps (a failure file, a branch, or any step list for a pack) is a pure
function of pack, config, seed and steps. Rerunning the whole step list with one step
removed, replaced or delayed therefore reproduces the original record for record up to
the changed step, and only then goes its own way. That is a branch: no snapshot of the
world is needed, and :func:`~gatewaysim.analysis.diff.diff` of the two views finds the
first record after the change.

Steps are applied and judged by :class:`gatewaysim.properties.execution.Execution`, the one path
exploration and ``gatewaysim replay`` use, so a branch of a failure with nothing changed
has exactly the failure file's trace hash. Step indexes are 0-based positions in
``steps`` (``failure.steps[i]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

from gatewaysim.simulator.clock import SECOND, Time, format_time
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import Trace, TraceRecord

if TYPE_CHECKING:
    from gatewaysim.properties.failure import Failure
    from gatewaysim.properties.invariants import Violation
    from gatewaysim.properties.steps import Step, StepKind

    from .view import TraceView

ADVANCE = "advance"
"""The step kind that lets virtual time pass (``advance(ms=...)``); :class:`Delay` inserts one."""


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


def _kind(kinds: Mapping[str, StepKind], name: str, what: str) -> StepKind:
    kind = kinds.get(name)
    if kind is None:
        raise ConfigError(f"{what}: the pack has no step {name!r} (known steps: "
                          f"{', '.join(kinds)})")
    return kind


@frozen
class RemoveStep:
    """Leave out step ``index`` (a fault that does not happen)."""

    index: int | None = None

    def apply(self, steps: Sequence[Step], kinds: Mapping[str, StepKind]) -> tuple[Step, ...]:
        i = _check_index(self.index, steps, repr(self))
        return (*steps[:i], *steps[i + 1:])


@frozen
class ReplaceStep:
    """Apply ``step`` instead of step ``index`` (another fault, another client)."""

    index: int | None
    step: Step

    def apply(self, steps: Sequence[Step], kinds: Mapping[str, StepKind]) -> tuple[Step, ...]:
        i = _check_index(self.index, steps, repr(self))
        kind = _kind(kinds, self.step.name, repr(self))
        if set(self.step.args) != set(kind.args):
            raise ConfigError(f"{self!r}: step {kind.name!r} takes arguments "
                              f"{sorted(kind.args)}, got {sorted(self.step.args)}")
        return (*steps[:i], self.step, *steps[i + 1:])


@frozen
class ChangeArg:
    """Apply step ``index`` with argument ``name`` set to ``value`` (e.g. a longer advance)."""

    index: int | None
    name: str
    value: Any

    def apply(self, steps: Sequence[Step], kinds: Mapping[str, StepKind]) -> tuple[Step, ...]:
        from gatewaysim.properties.steps import Step

        i = _check_index(self.index, steps, repr(self))
        old = steps[i]
        kind = _kind(kinds, old.name, repr(self))
        if self.name not in kind.args:
            takes = ", ".join(sorted(kind.args)) or "no arguments"
            raise ConfigError(f"{self!r}: step {i} ({old.name}) has no argument "
                              f"{self.name!r} (it takes {takes})")
        return (*steps[:i], Step(old.name, {**old.args, self.name: self.value}),
                *steps[i + 1:])


@frozen
class Delay:
    """Let ``by_ms`` more milliseconds of virtual time pass before step ``index``.

    The extra time is an ``advance`` step inserted before it, so every timer that falls in
    the gap (a heartbeat, a backoff, an alarm) fires before the step instead of after.
    To shorten a wait, change the ``ms`` of the ``advance`` step with :class:`ChangeArg`.
    """

    index: int | None
    by_ms: int

    def apply(self, steps: Sequence[Step], kinds: Mapping[str, StepKind]) -> tuple[Step, ...]:
        from gatewaysim.properties.steps import Step

        i = _check_index(self.index, steps, repr(self))
        if isinstance(self.by_ms, bool) or not isinstance(self.by_ms, int) or self.by_ms < 1:
            raise ConfigError(f"{self!r}: by_ms must be a positive integer of milliseconds "
                              "(to shorten a wait, use ChangeArg on an 'advance' step)")
        kind = _kind(kinds, ADVANCE, repr(self))
        if set(kind.args) != {"ms"}:
            raise ConfigError(f"{self!r}: the pack's {ADVANCE!r} step takes "
                              f"{sorted(kind.args)}, not just 'ms'")
        return (*steps[:i], Step(ADVANCE, {"ms": self.by_ms}), *steps[i:])


Change = RemoveStep | ReplaceStep | ChangeArg | Delay
CHANGES = (RemoveStep, ReplaceStep, ChangeArg, Delay)


# ---------------------------------------------------------------------------- runs
@frozen
class StepMark:
    """Where a step of an executed run landed: its position, the virtual time it was applied
    at, and how many trace records existed before it (the index its first record gets)."""

    index: int
    step: Step
    t_us: Time
    record: int
    fault: str | None = None
    """The step's fault kind (``None``: not a fault, e.g. ``advance``)."""

    @property
    def t(self) -> float:
        """:attr:`t_us` in seconds, as views take times."""
        return self.t_us / SECOND

    def __str__(self) -> str:
        tag = f" [{self.fault}]" if self.fault else ""
        return f"{self.index:>3}  {format_time(self.t_us)}  {self.step!r}{tag}"


@frozen
class Run:
    """What a rerun needs: pack, variant and its config, world seed, steps, and the judge.

    ``invariant_id`` names the invariant a failure file was judged by: the run then checks
    only it (and ``no-exception``), as ``gatewaysim replay`` does. ``None`` checks every
    invariant, as exploration does, and the run stops at the first violation.
    """

    pack: str
    variant: str
    config: dict[str, Any] = field(repr=False)
    seed: int
    steps: tuple[Step, ...] = field(converter=tuple, repr=False)
    invariant_id: str | None = None

    @classmethod
    def from_failure(cls, failure: Failure) -> Run:
        return cls(failure.pack, failure.variant, failure.config, failure.seed, failure.steps,
                   failure.invariant_id)

    @classmethod
    def of_steps(cls, pack: str, steps: Sequence[Step], *, variant: str | None = None,
                 seed: int = 0, invariant: str | None = None) -> Run:
        """A run of ``steps`` on ``pack`` under ``variant`` (default: the pack's default)."""
        from gatewaysim.properties.packs import get_pack

        p = get_pack(pack)
        chosen = variant if variant is not None else p.default_variant
        if invariant is not None:
            p.invariant(invariant)
        kinds = p.driver.step_kinds
        for i, st in enumerate(steps):
            kind = _kind(kinds, st.name, f"step {i}")
            if set(st.args) != set(kind.args):
                raise ConfigError(f"step {i} ({st.name}) takes arguments {sorted(kind.args)}, "
                                  f"got {sorted(st.args)}")
        return cls(p.name, chosen, p.config(chosen), seed, tuple(steps), invariant)

    def under(self, variant: str) -> Run:
        """The same steps and seed under another variant's config (e.g. ``fixed``)."""
        from gatewaysim.properties.packs import get_pack

        return attrs.evolve(self, variant=variant, config=get_pack(self.pack).config(variant))

    def changed(self, change: Change) -> Run:
        """The same run with ``change`` made to its steps (errors name the bad index or arg)."""
        if not isinstance(change, CHANGES):
            raise ConfigError(f"not a change: {change!r} (expected RemoveStep, ReplaceStep, "
                              "ChangeArg or Delay)")
        from gatewaysim.properties.packs import get_pack

        kinds = get_pack(self.pack).driver.step_kinds
        return attrs.evolve(self, steps=change.apply(self.steps, kinds))

    def execute(self, *, change: Change | None = None, parent: RunOutcome | None = None,
                failure: Failure | None = None) -> RunOutcome:
        """Build the driver, apply the steps through ``Execution``, and keep the trace."""
        from gatewaysim.properties.execution import Execution, check_all, only
        from gatewaysim.properties.packs import get_pack

        pack = get_pack(self.pack)
        driver = pack.driver(self.config, self.seed, keep_records=True)
        checked = only(self.invariant_id) if self.invariant_id is not None else check_all
        ex = Execution(driver, checked)
        ex.start()
        marks: list[StepMark] = []
        kinds = pack.driver.step_kinds
        for i, st in enumerate(self.steps):
            if ex.done:
                break
            kind = kinds.get(st.name)
            marks.append(StepMark(i, st, driver.now, driver.trace.count,
                                  kind.fault if kind is not None else None))
            ex.step(st)
        violation = ex.finish()
        return RunOutcome(self, violation, tuple(marks), driver.trace, driver.describe,
                          ex.settled, change, parent, failure)


@frozen
class RunOutcome:
    """An executed :class:`Run`: its verdict, where each step landed, and its trace.

    A view of it keeps the outcome as ``view.source.origin``, which is how the view can be
    branched again; ``parent`` and ``change`` say what it was branched from, ``failure``
    the failure file the lineage started from (if any).
    """

    run: Run
    violation: Violation | None
    marks: tuple[StepMark, ...] = field(repr=False)
    trace: Trace = field(repr=False, eq=False)
    describe: Callable[[TraceRecord], str | None] = field(repr=False, eq=False)
    settled: bool = False
    """True if the run got through every step to the liveness check (no early stop)."""
    change: Change | None = None
    parent: RunOutcome | None = field(default=None, repr=False, eq=False)
    failure: Failure | None = field(default=None, repr=False, eq=False)

    def faults(self) -> tuple[StepMark, ...]:
        """The applied steps that inject a fault, in order."""
        return tuple(m for m in self.marks if m.fault is not None)

    def first_fault_at(self, t: float) -> StepMark:
        """The first fault step applied at or after ``t`` seconds."""
        from .view import seconds_to_us

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


# ---------------------------------------------------------------------------- views
def outcome_of(view: TraceView) -> RunOutcome:
    """The executed run behind ``view``; a ``ConfigError`` if its records cannot be rerun."""
    origin = view.source.origin
    if isinstance(origin, RunOutcome):
        return origin
    where = f" {view.source.path}" if view.source.path else ""
    raise ConfigError(
        f"this view's records come from a {view.source.kind}{where}, which has no steps to "
        "rerun: branch a view of a run made of steps (TraceView.from_failure, "
        "TraceView.from_steps, or an earlier branch)")


def view_of(outcome: RunOutcome, kind: str, path: Path | None = None,
            variant: str | None = None, **kwargs: Any) -> TraceView:
    """A view of an executed run that remembers it (so it can be branched again)."""
    from .view import TraceView, ViewSource

    src = ViewSource(kind, path, variant, origin=outcome)
    return TraceView.from_trace(outcome.trace, source=src, **kwargs)


def _target(change: Change, outcome: RunOutcome, t: float | None) -> Change:
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


def branch(view: TraceView, t: float | None = None, change: Change | None = None, *,
           variant: str | None = None) -> TraceView:
    """Rerun ``view``'s run with one decision changed; see :meth:`TraceView.branch`."""
    outcome = outcome_of(view)
    if change is None and t is None and variant is None:
        raise ConfigError("branch needs a change, a time t (remove the first fault step at "
                          "or after it) or a variant to rerun under")
    if change is not None and not isinstance(change, CHANGES):
        raise ConfigError(f"not a change: {change!r} (expected RemoveStep, ReplaceStep, "
                          "ChangeArg or Delay)")
    if change is None and t is not None:
        change = RemoveStep()
    run = outcome.run
    if change is not None:
        change = _target(change, outcome, t)
        run = run.changed(change)
    if variant is not None:
        run = run.under(variant)
    new = run.execute(change=change, parent=outcome, failure=outcome.failure)
    return view_of(new, "branch", variant=run.variant, rules=view.rules,
                   snapshot_every=view.snapshot_every)
