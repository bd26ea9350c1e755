"""Turn a driver class into a Hypothesis ``RuleBasedStateMachine``.

One rule per step kind, its arguments drawn from the kind's strategies, so every fault
decision is a Hypothesis choice and shrinks. On top of the per-rule swarm Hypothesis does
by itself, an ``@initialize`` rule draws the subset of *fault kinds* enabled for this run
(swarm testing: a run without crashes explores partitions more deeply, and the subset
shrinks towards "no faults"). Preconditions honour the subset.

Safety is an ``@invariant`` (checked after every step), liveness is checked in
``teardown`` after ``settle()``, both through
:class:`~gatewaysim.properties.execution.Execution`, the
same code replay uses. A violation raises the invariant's own exception class carrying the
steps of the run, so whichever example Hypothesis reports last (the shrunk one) hands us
its minimal steps directly.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from attrs import frozen
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from gatewaysim.simulator.config import PackConfig

from .driver import observing_only, unhashed_traces
from .execution import Execution, muting, observed
from .monitor import Violation, violation_error
from .pack import Pack
from .steps import Step, StepKind


class OutOfTime(BaseException):
    """The explorer's wall-clock budget ran out: abandon the Hypothesis run at once.

    A ``BaseException`` on purpose: Hypothesis treats ``Exception`` as a test failure to
    shrink, but lets this through, so a budget stop is never mistaken for a bug.
    """


@frozen
class RunRecord:
    """What one example did: the swarm subset, its steps, its violation, its coverage, and
    the ``sometimes`` monitors it reached."""

    enabled: frozenset[str]
    steps: tuple[Step, ...]
    violation: Violation | None
    coverage: Counter[str]
    reached: frozenset[str] = frozenset()


class Observer(Protocol):
    """Hooks the explorer (or a test) installs to watch every example a machine runs."""

    def example_started(self) -> None:
        """Called before each example; may raise :class:`OutOfTime`."""

    def example_finished(self, run: RunRecord) -> None: ...


def fault_kinds(pack: Pack) -> tuple[str, ...]:
    return tuple(sorted({k.fault for k in pack.steps.values() if k.fault}))


def build_machine(
    pack: Pack,
    config: PackConfig | Mapping[str, Any],
    seed: int,
    *,
    variant: str | None = None,
    muted: Iterable[str] = (),
    observer: Observer | None = None,
) -> type[RuleBasedStateMachine]:
    """A state machine class exploring ``pack`` built from ``config`` and ``seed``.

    ``muted`` invariants are not checked (the explorer mutes those it has already found,
    to look for the next). ``observer`` sees every example start and finish.
    """
    kinds = pack.steps
    faults = fault_kinds(pack)
    checked = muting(muted)
    cfg = config if isinstance(config, PackConfig) else pack.read_config(config)
    driver_cls = pack.driver

    def _raise(self: Any, violation: Violation) -> None:
        raise violation_error(violation.invariant_id)(violation, self.execution.steps)

    def __init__(self: Any) -> None:
        RuleBasedStateMachine.__init__(self)
        if observer is not None:
            observer.example_started()
        # A finding is replayed and hashed then; this run is not. Muted invariants keep no
        # books, not even while the world is built.
        with unhashed_traces(), observing_only(observed(checked)):
            self.driver = pack.new_driver(cfg, seed, variant=variant)
        self.execution = Execution(self.driver, checked)
        self.enabled = frozenset()
        self.started = False

    def swarm(self: Any, enabled: frozenset[str]) -> None:
        self.enabled = frozenset(enabled)

    def safety(self: Any) -> None:
        ex = self.execution
        if not self.started:
            self.started = True
            ex.start()
        if ex.violation is not None and not ex.settled:
            _raise(self, ex.violation)

    def teardown(self: Any) -> None:
        ex = self.execution
        try:
            # An exception on its way out (a violation, or Hypothesis abandoning the
            # example) means this run is over: no settling, no liveness.
            if sys.exc_info()[0] is None and self.started and not ex.done:
                violation = ex.finish()
                if violation is not None:
                    _raise(self, violation)
        finally:
            if observer is not None:
                observer.example_finished(RunRecord(
                    self.enabled, tuple(ex.steps), ex.violation, self.driver.coverage(),
                    frozenset(ex.reached)))

    def __repr__(self: Any) -> str:
        return f"{name}()"

    namespace: dict[str, Any] = {
        "__init__": __init__, "safety": invariant()(safety), "teardown": teardown,
        "__repr__": __repr__, "__module__": __name__,
        "__doc__": f"Explores {driver_cls.__name__} (muted: {sorted(frozenset(muted))}).",
    }
    if faults:
        namespace["swarm"] = initialize(enabled=st.frozensets(st.sampled_from(faults)))(swarm)
    for kind in kinds.values():
        namespace[kind.name] = _rule_for(kind)
    name = driver_cls.__name__.removesuffix("Driver") + "Machine"
    return type(name, (RuleBasedStateMachine,), namespace)


def _rule_for(kind: StepKind) -> Callable[..., None]:
    def apply_step(self: Any, **args: Any) -> None:
        self.execution.step(Step(kind.name, args))

    apply_step.__name__ = apply_step.__qualname__ = kind.name
    apply_step.__doc__ = f"Apply a {kind.name!r} step."

    def allowed(self: Any) -> bool:
        if kind.fault is not None and kind.fault not in self.enabled:
            return False
        return kind.precondition is None or bool(kind.precondition(self.driver))

    allowed.__name__ = f"{kind.name}_allowed"
    fn = apply_step if kind.fault is None and kind.precondition is None else (
        precondition(allowed)(apply_step))
    return rule(**kind.args)(fn)
