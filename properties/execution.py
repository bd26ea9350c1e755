"""How a run is executed and judged: the one definition exploration, replay and tests share.

A run is: build the driver; check safety; then for each step, apply it and check safety;
then settle and check liveness. The first violation of a *checked* invariant ends the run.
An exception from the model or the driver is a violation of ``no-exception``; when that
invariant is not checked, the exception ends the run with no violation (a broken driver
cannot be driven further).

:class:`Execution` is the stepping engine; the Hypothesis machine drives it one drawn step
at a time, and :meth:`gatewaysim.properties.run.RunSpec.execute` (replay, emitted tests,
``branch()``, ``TraceView``) drives it over a known list. So a failure file reproduces
exactly the check that found it. Monitors only read, so which invariants are checked never
changes the trace up to the point where the run stops.

Along the way it notes which ``sometimes`` monitors the run reached, and when.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from attrs import frozen

from .driver import Driver
from .monitor import NO_EXCEPTION, Monitor, Violation
from .steps import Step

Checked = Callable[[str], bool]
"""Which invariant ids count: ``lambda id: id not in muted``, or one id for a replay."""


def check_all(invariant_id: str) -> bool:
    return True


@frozen
class Only:
    """Check one invariant and ``no-exception`` (how a replay judges a failure file).

    ``no-exception`` stays on so that a step that no longer applies (a changed model, a
    hand-edited file) is reported as an error instead of ending the run silently.
    """

    watched: frozenset[str]
    judges_every_monitor: bool
    """True for a ``no-exception`` failure: an exception can come from judging as well as
    from stepping (a monitor reads the driver's statistics, which read the model), and the
    run that found it judged every invariant not yet found. So its replay judges every
    monitor too, or the exception would not happen again; only an exception ends it."""

    def __call__(self, invariant_id: str) -> bool:
        return invariant_id in self.watched


def only(invariant_id: str) -> Checked:
    """Check ``invariant_id`` and ``no-exception``: see :class:`Only`."""
    return Only(frozenset({invariant_id, NO_EXCEPTION.id}),
                judges_every_monitor=invariant_id == NO_EXCEPTION.id)


def observed(checked: Checked) -> Callable[[Monitor], bool]:
    """The monitors a run under ``checked`` keeps books for and judges: the checked
    invariants and every ``sometimes`` monitor (those never end a run, so they are never
    muted); every monitor for the replay of an exception (:attr:`Only.judges_every_monitor`).
    """
    if isinstance(checked, Only) and checked.judges_every_monitor:
        return lambda m: True
    return lambda m: m.kind == "sometimes" or checked(m.id)


def muting(muted: Iterable[str]) -> Checked:
    """Check everything except ``muted`` (exploration rounds after an invariant was found)."""
    frozen_muted = frozenset(muted)
    return lambda other: other not in frozen_muted


class Execution:
    """Runs one driver step by step and reports the first checked violation."""

    __slots__ = ("_sometimes", "checked", "done", "driver", "reached", "settled", "steps",
                 "violation")

    def __init__(self, driver: Driver, checked: Checked = check_all) -> None:
        self.driver = driver
        self.checked = checked
        self.steps: list[Step] = []
        self.violation: Violation | None = None
        self.settled = False
        self.done = False
        """True once the run has ended: a checked violation, or an unchecked exception."""
        self.reached: dict[str, str] = {}
        """``sometimes`` monitor id -> what the run showed when it first reached it."""
        # An invariant that is not checked costs nothing: it neither observes nor is
        # judged. ``sometimes`` monitors never end a run, so they always keep their books.
        driver.judge_only(observed(checked))
        self._sometimes = any(m.kind == "sometimes" for m in driver.monitors)

    def _reach(self) -> None:
        if not self._sometimes:
            return
        for monitor, message in self.driver.judge(("sometimes",)):
            if monitor.id not in self.reached:
                self.reached[monitor.id] = message
                # Reached once is reached for the run: its books no longer matter.
                self.driver.stop_judging(monitor)
        self._sometimes = len(self.reached) < sum(
            m.kind == "sometimes" for m in self.driver.monitors)

    def _crash(self, exc: Exception) -> Violation | None:
        self.done = True
        if not self.checked(NO_EXCEPTION.id):
            return None
        message = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        return Violation(NO_EXCEPTION.id, message, self.driver.now, self.driver.steps_applied)

    def _first(self, violations: list[Violation]) -> Violation | None:
        for v in violations:
            if self.checked(v.invariant_id):
                return v
        return None

    def _safety(self) -> Violation | None:
        try:
            found = self._first(self.driver.check_safety())
            self._reach()
        except Exception as exc:
            found = self._crash(exc)
        self.violation = found
        self.done = self.done or found is not None
        return found

    def start(self) -> Violation | None:
        """Check safety before the first step (the world has booted)."""
        return self._safety()

    def step(self, step: Step) -> Violation | None:
        """Apply ``step`` and check safety (nothing happens once the run is done)."""
        if self.done:
            return self.violation
        self.steps.append(step)
        try:
            self.driver.apply(step)
        except Exception as exc:
            self.driver.steps_applied += 1
            self.violation = self._crash(exc)
            return self.violation
        return self._safety()

    def finish(self) -> Violation | None:
        """Settle (faults stop at t_heal, bounded run to quiescence) and check liveness."""
        if self.done:
            return self.violation
        self.settled = True
        try:
            self.driver.settle()
            found = self._first(self.driver.check_liveness())
            self._reach()
        except Exception as exc:
            found = self._crash(exc)
        self.violation = found
        self.done = True
        return found
