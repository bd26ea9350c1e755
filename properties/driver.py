"""The driver: a pack's world, the steps that act on it, and the invariants that judge it.

A pack subclasses :class:`Driver`. Its ``setup`` builds the world from ``config`` and
``seed``; its step methods (marked with :func:`gatewaysim.properties.steps.step`) are the actions an
explorer may take; its ``invariants`` say what must hold. Everything else, Hypothesis
machines, replay and emitted tests, drives a pack only through this interface, so a
failure found by exploration replays the same way in any process.

The driver is sans-Hypothesis on purpose: it draws nothing itself. Every decision comes
in as a :class:`~gatewaysim.properties.steps.Step`, which is what makes a run shrinkable and
replayable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, ClassVar

from gatewaysim.simulator.clock import Time, s
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import Trace, TraceRecord
from gatewaysim.simulator.world import World

from .invariants import Invariant, Violation
from .steps import STEP_ATTR, Step, StepKind


class Driver:
    """Base class of a pack's driver. Subclasses set the class attributes and ``setup``."""

    pack: ClassVar[str] = ""
    invariants: ClassVar[tuple[Invariant, ...]] = ()
    settle_bound: ClassVar[Time] = s(30)
    """How much virtual time ``settle`` gives the system after ``t_heal``."""
    step_kinds: ClassVar[dict[str, StepKind]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kinds: dict[str, StepKind] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                kind = getattr(value, STEP_ATTR, None)
                if isinstance(kind, StepKind):
                    kinds[kind.name] = kind
        cls.step_kinds = dict(sorted(kinds.items()))
        ids = [inv.id for inv in cls.invariants]
        if len(set(ids)) != len(ids):
            raise TypeError(f"{cls.__name__}: duplicate invariant ids in {ids}")

    def __init__(self, config: Mapping[str, Any], seed: int, *, keep_records: bool = False) -> None:
        self.config = self.check_config(config)
        self.seed = int(seed)
        self.trace = Trace(header={"seed": self.seed, "pack": self.pack}, keep=keep_records)
        self.steps_applied = 0
        self.t_heal: Time | None = None
        self.covered: Counter[str] = Counter()
        self.world = self.setup()

    # ------------------------------------------------------------------ for subclasses
    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a config (from a variant or a failure file); raise ``ConfigError``."""
        if not isinstance(config, Mapping):
            raise ConfigError(f"{cls.pack} config must be a JSON object, not {config!r}")
        return dict(config)

    def setup(self) -> World:  # pragma: no cover - abstract
        """Build the world (use ``self.trace``, ``self.seed`` and ``self.config``)."""
        raise NotImplementedError

    def heal_faults(self) -> None:  # pragma: no cover - abstract
        """Stop every fault: heal partitions, restart crashed hosts, restore services."""
        raise NotImplementedError

    def describe(self, record: TraceRecord) -> str | None:
        """A pack's one-line reading of a trace record for the timeline (None: default)."""
        return None

    def cover(self, label: str) -> None:
        """Count a fault combination this run reached ("crash while reconnecting")."""
        self.covered[label] += 1

    # ------------------------------------------------------------------ the interface
    @property
    def now(self) -> Time:
        return self.world.now

    def apply(self, step: Step) -> None:
        kind = self.step_kinds.get(step.name)
        if kind is None:
            raise ConfigError(f"{self.pack} has no step {step.name!r}")
        getattr(self, kind.method)(**step.args)
        self.steps_applied += 1

    def _check(self, kind: str) -> list[Violation]:
        out = []
        for inv in self.invariants:
            if inv.kind != kind:
                continue
            message = inv.check(self)
            if message is not None:
                out.append(Violation(inv.id, message, self.now, self.steps_applied))
        return out

    def check_safety(self) -> list[Violation]:
        """Every safety invariant that does not hold now (cheap: runs after every step)."""
        return self._check("safety")

    def settle(self) -> None:
        """Faults stop at ``t_heal`` (now); run to quiescence, at most ``settle_bound`` on."""
        self.t_heal = self.now
        self.world.fault("settle", t_heal=self.t_heal)
        self.heal_faults()
        self.world.run_to_quiescence(limit=self.t_heal + self.settle_bound)

    def check_liveness(self) -> list[Violation]:
        """Every liveness invariant that does not hold (call after :meth:`settle`)."""
        return self._check("liveness")

    def coverage(self) -> Counter[str]:
        return Counter(self.covered)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed}, t={self.now})"
