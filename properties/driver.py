"""The driver: a pack's world, the steps that act on it, and the facts its monitors read.

A pack subclasses :class:`Driver`. Its ``setup`` builds the world from ``model_config`` (the
pack's frozen config value) and ``seed``; its step methods (marked with
:func:`gatewaysim.properties.steps.step`) are the actions an explorer may take; its
``statistics()`` is the typed, frozen value monitors judge from. The monitors themselves
are declared in the pack's manifest; each driver gets fresh copies and feeds them every
trace record as it is written.

Everything else (Hypothesis machines, replay, emitted tests, ``branch()``) drives a pack
only through this interface and :class:`~gatewaysim.properties.run.RunSpec`, so a failure
found by exploration replays the same way in any process.

The driver is sans-Hypothesis on purpose: it draws nothing itself. Every decision comes
in as a :class:`~gatewaysim.properties.steps.Step`, which is what makes a run shrinkable
and replayable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar

from gatewaysim.simulator.clock import Time, s
from gatewaysim.simulator.config import PackConfig
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import Listener, Trace
from gatewaysim.simulator.world import World

from .monitor import Facts, Monitor, Violation
from .steps import STEP_ATTR, Step, StepKind

_HASHED: ContextVar[bool] = ContextVar("gatewaysim_hashed_traces", default=True)
_OBSERVED: ContextVar[Callable[[Monitor], bool] | None] = ContextVar(
    "gatewaysim_observed_monitors", default=None)


@contextmanager
def unhashed_traces() -> Iterator[None]:
    """Drivers built inside this block write no trace lines (``Trace(hashed=False)``).

    For an explorer's examples: nobody reads their fingerprints (a finding is replayed
    through :class:`~gatewaysim.properties.run.RunSpec`, whose trace is hashed), so
    encoding and hashing every record would be work thrown away.
    """
    token = _HASHED.set(False)
    try:
        yield
    finally:
        _HASHED.reset(token)


@contextmanager
def observing_only(keep: Callable[[Monitor], bool]) -> Iterator[None]:
    """Drivers built inside this block feed records only to the monitors ``keep`` accepts,
    from the first record on (what :meth:`Driver.judge_only` does once the run has started).

    For an explorer's examples: the monitors it has muted would otherwise keep books on
    every record the world writes while it is built, only to be dropped right after.
    """
    token = _OBSERVED.set(keep)
    try:
        yield
    finally:
        _OBSERVED.reset(token)


class Driver:
    """Base class of a pack's driver. Subclasses define ``setup``, steps and ``statistics``."""

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
        timed = [k.name for k in kinds.values() if k.time_arg is not None]
        if len(timed) > 1:
            raise TypeError(f"{cls.__name__}: more than one step advances time: {timed}")

    @classmethod
    def advance_kind(cls) -> StepKind:
        """The one step kind that lets virtual time pass (declared with ``time_arg``)."""
        for kind in cls.step_kinds.values():
            if kind.time_arg is not None:
                return kind
        raise TypeError(f"{cls.__name__} declares no step that advances time: mark one with "
                        "@step(time_arg='ms', ms=...)")

    def __init__(self, config: PackConfig, seed: int, *, pack: str = "", variant: str = "",
                 monitors: Iterable[Monitor] = (), keep_records: bool = False,
                 trace_path: str | Path | None = None,
                 listeners: Iterable[Listener] = ()) -> None:
        if not isinstance(config, PackConfig):
            raise ConfigError(f"{type(self).__name__} takes a PackConfig, not {config!r}")
        self.model_config = config
        self.seed = int(seed)
        self.pack = pack
        self.variant = variant
        self.monitors: tuple[Monitor, ...] = tuple(m.fresh() for m in monitors)
        header = {"seed": self.seed, "pack": pack, "variant": variant,
                  "config": config.to_dict()}
        hashed = trace_path is not None or _HASHED.get()
        self.trace = Trace(path=trace_path, header=header, keep=keep_records, hashed=hashed)
        keep = _OBSERVED.get()
        self._judged: tuple[Monitor, ...] = (
            self.monitors if keep is None else tuple(m for m in self.monitors if keep(m)))
        for m in self._judged:
            if m.observes_records:
                self.trace.listen(m.observe, m.record_types, m.record_kinds)
        self.trace.listeners.extend(listeners)
        self.steps_applied = 0
        self.t_heal: Time | None = None
        self.covered: Counter[str] = Counter()
        self.world = self.setup()

    @property
    def config(self) -> dict[str, Any]:
        """The config as JSON (what trace headers and failure files hold)."""
        return self.model_config.to_dict()

    # ------------------------------------------------------------------ for subclasses
    def setup(self) -> World:  # pragma: no cover - abstract
        """Build the world (use ``self.trace``, ``self.seed`` and ``self.model_config``)."""
        raise NotImplementedError

    def heal_faults(self) -> None:  # pragma: no cover - abstract
        """Stop every fault: heal partitions, restart crashed hosts, restore services."""
        raise NotImplementedError

    def statistics(self) -> Any:
        """The typed, frozen facts monitors judge from (an attrs value; never a dict)."""
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

    def judge_only(self, keep: Callable[[Monitor], bool]) -> None:
        """Of the monitors judged so far, judge only those ``keep`` accepts; the others
        stop observing records (a monitor muted once stays muted for the run).

        A muted invariant then costs nothing: its books are not kept and it is never
        judged. Monitors only read, so the trace is the same either way.
        """
        judged = [m for m in self._judged if keep(m)]
        for m in self._judged:
            if m.observes_records and not any(m is j for j in judged):
                self.trace.unlisten(m.observe)
        self._judged = tuple(judged)

    def stop_judging(self, monitor: Monitor) -> None:
        """Judge ``monitor`` no more in this run, and stop feeding it records."""
        self._judged = tuple(m for m in self._judged if m is not monitor)
        if monitor.observes_records:
            self.trace.unlisten(monitor.observe)

    def judge(self, kinds: tuple[str, ...]) -> list[tuple[Monitor, str]]:
        """Every judged monitor of ``kinds`` whose judgement is a message, with the message."""
        facts = Facts(self)
        out = []
        for m in self._judged:
            if m.kind in kinds:
                message = m.judge(facts)
                if message is not None:
                    out.append((m, message))
        return out

    def _violations(self, kinds: tuple[str, ...]) -> list[Violation]:
        return [Violation(m.id, message, self.now, self.steps_applied)
                for m, message in self.judge(kinds)]

    def check_safety(self) -> list[Violation]:
        """Every safety invariant that does not hold now (cheap: runs after every step)."""
        return self._violations(("safety",))

    def settle(self) -> None:
        """Faults stop at ``t_heal`` (now); run to quiescence, at most ``settle_bound`` on."""
        self.t_heal = self.now
        self.world.fault("settle", t_heal=self.t_heal)
        self.heal_faults()
        self.world.run_to_quiescence(limit=self.t_heal + self.settle_bound)

    def check_liveness(self) -> list[Violation]:
        """Every invariant judged after settling: liveness, and safety once more (a promise
        broken while the system settled is as much a violation as one broken between
        steps)."""
        return self._violations(("safety", "liveness"))

    def coverage(self) -> Counter[str]:
        return Counter(self.covered)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed}, t={self.now})"
