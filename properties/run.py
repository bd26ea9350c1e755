"""A run specification: pack, variant, config, seed and steps, and the one way to execute it.

Exploration finds runs; everything after that works on a :class:`RunSpec`. ``replay`` and
emitted regression tests execute the spec a failure file holds, ``TraceView`` views one,
``branch()`` changes one step of one and executes it again. Because every one of them goes
through :meth:`RunSpec.execute`, and that through
:class:`~gatewaysim.properties.execution.Execution` (the engine the Hypothesis machine
drives one step at a time), the same spec gives the same trace, byte for byte, whichever
tool runs it and in whichever process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

from gatewaysim.simulator.clock import SECOND, Time, format_time
from gatewaysim.simulator.config import PackConfig
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import Listener, Trace, TraceRecord

from .execution import Checked, Execution, check_all, only
from .monitor import Violation
from .steps import Step, steps_to_json

if TYPE_CHECKING:
    from .pack import Pack


def _json_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


@frozen
class StepMark:
    """Where a step of an executed run landed: its position, the virtual time it was applied
    at, and how many trace records existed before it (the index its first record gets)."""

    index: int
    step: Step
    t_us: Time
    record: int
    fault: str | None = None
    """The step's fault kind (``None``: not a fault, e.g. the step that advances time)."""

    @property
    def t(self) -> float:
        """:attr:`t_us` in seconds, as views take times."""
        return self.t_us / SECOND

    def __str__(self) -> str:
        tag = f" [{self.fault}]" if self.fault else ""
        return f"{self.index:>3}  {format_time(self.t_us)}  {self.step!r}{tag}"


@frozen
class RunSpec:
    """Everything a run is: rerunning an equal spec gives the same trace.

    ``judge`` names the invariant a failure file was judged by: the run then checks only it
    (and ``no-exception``), as ``gatewaysim replay`` does. ``None`` checks every invariant,
    as exploration does, and the run stops at the first violation.
    """

    pack: str
    variant: str
    config: dict[str, Any] = field(converter=_json_dict, repr=False)
    seed: int
    steps: tuple[Step, ...] = field(converter=tuple, repr=False)
    judge: str | None = None

    @classmethod
    def of(cls, pack: str | Pack, steps: Sequence[Step] = (), *, variant: str | None = None,
           seed: int = 0, judge: str | None = None,
           config: PackConfig | Mapping[str, Any] | None = None) -> RunSpec:
        """A checked spec: the pack exists, the variant and config are valid, every step is
        one of the pack's kinds with its arguments, and ``judge`` is one of its invariants."""
        p = resolve(pack)
        chosen = variant if variant is not None else p.default_variant
        if config is None:
            cfg = p.config_of(chosen)
        elif isinstance(config, PackConfig):
            cfg = config
        else:
            cfg = p.read_config(config)
        if judge is not None:
            p.monitor(judge)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, not {seed!r}")
        return cls(p.name, chosen, cfg.to_dict(), seed, p.check_steps(steps), judge)

    # ------------------------------------------------------------------ derived specs
    def under(self, variant: str) -> RunSpec:
        """The same steps and seed under another variant's config (e.g. ``fixed``)."""
        p = resolve(self.pack)
        return attrs.evolve(self, variant=variant, config=p.config_of(variant).to_dict())

    def with_steps(self, steps: Sequence[Step]) -> RunSpec:
        return attrs.evolve(self, steps=resolve(self.pack).check_steps(steps))

    def judged_by(self, invariant_id: str | None) -> RunSpec:
        return attrs.evolve(self, judge=invariant_id)

    # ------------------------------------------------------------------ running it
    def execute(self, *, keep_records: bool = False, trace_path: str | Path | None = None,
                checked: Checked | None = None, listeners: Sequence[Listener] = ()
                ) -> RunResult:
        """Build a fresh driver, apply every step through ``Execution``, settle, judge.

        Records stream: they are kept in memory only with ``keep_records``; ``listeners``
        see each one as it is written (a replay keeps the last few for its timeline).
        """
        p = resolve(self.pack)
        driver = p.new_driver(p.read_config(self.config), self.seed, variant=self.variant,
                              keep_records=keep_records, trace_path=trace_path,
                              listeners=listeners)
        if checked is None:
            checked = only(self.judge) if self.judge is not None else check_all
        ex = Execution(driver, checked)
        marks: list[StepMark] = []
        try:
            ex.start()
            kinds = driver.step_kinds
            for i, st in enumerate(self.steps):
                if ex.done:
                    break
                kind = kinds.get(st.name)
                marks.append(StepMark(i, st, driver.now, driver.trace.count,
                                      kind.fault if kind is not None else None))
                ex.step(st)
            violation = ex.finish()
        finally:
            driver.trace.close()
        return RunResult(self, violation, tuple(marks), driver.trace, p.describe, ex.settled,
                         driver.steps_applied, dict(ex.reached), driver.trace.sha256)

    def to_json(self) -> dict[str, Any]:
        return {"pack": self.pack, "variant": self.variant, "config": self.config,
                "seed": self.seed, "steps": steps_to_json(list(self.steps))}


@frozen
class RunResult:
    """An executed :class:`RunSpec`: its verdict, where each step landed, and its trace."""

    spec: RunSpec
    violation: Violation | None
    marks: tuple[StepMark, ...] = field(repr=False)
    trace: Trace = field(repr=False, eq=False)
    describe: Callable[[TraceRecord], str | None] = field(repr=False, eq=False)
    settled: bool = False
    """True if the run got through every step to the liveness check (no early stop)."""
    steps_applied: int = 0
    reached: dict[str, str] = field(factory=dict, repr=False)
    trace_sha256: str = ""


def resolve(pack: str | Pack) -> Pack:
    """The pack named ``pack``; a :class:`Pack` value is made known by name as it passes."""
    from .pack import Pack, get_pack, register

    return register(pack) if isinstance(pack, Pack) else get_pack(pack)


__all__ = ["RunResult", "RunSpec", "StepMark", "resolve"]
