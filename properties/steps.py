"""Steps: the unit of exploration, shrinking, replay and failure files.

A run is a list of :class:`Step` values applied to a freshly built driver. Steps hold only
JSON values, so a run can be written to a failure file, read back and applied again with
the same result: the driver is deterministic given its config and seed.

A pack declares its step kinds by decorating driver methods with :func:`step`. Each kind
names the Hypothesis strategies for its arguments and, for faults, the *fault kind* it
belongs to, which is what swarm testing switches on and off per run. Exactly one kind per
driver advances virtual time; it says so with ``time_arg``, the name of its argument in
milliseconds (``@step(time_arg="ms", ms=st.integers(1, 15_000))``), which is how
``branch()`` and the fault-plan passes insert or merge waits in any pack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from attrs import field, frozen
from hypothesis.strategies import SearchStrategy

from gatewaysim.simulator.errors import ConfigError

STEP_ATTR = "_gatewaysim_step"


@frozen
class Step:
    """One action in a run: a step kind's name and its JSON-able arguments."""

    name: str
    args: dict[str, Any] = field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "args": dict(self.args)}

    def __repr__(self) -> str:
        if not self.args:
            return f"Step({self.name!r})"
        return f"Step({self.name!r}, {self.args!r})"


@frozen
class StepKind:
    """How a driver performs one kind of step, and how Hypothesis draws its arguments.

    ``fault`` is the swarm group (``None``: always enabled, e.g. "advance time").
    ``precondition`` only steers exploration away from pointless steps; replay applies
    every step as written, so a step method must be a no-op when it does not apply.
    """

    name: str
    method: str
    args: Mapping[str, SearchStrategy] = field(factory=dict, repr=False)
    fault: str | None = None
    precondition: Callable[[Any], bool] | None = field(default=None, repr=False)
    time_arg: str | None = None
    """For the step that advances virtual time: its argument in milliseconds."""

    def check_args(self, args: Mapping[str, Any], where: str = "step") -> None:
        """A :class:`ConfigError` unless ``args`` has exactly this kind's argument names."""
        if not isinstance(args, Mapping):
            raise ConfigError(f"{where} ({self.name}): arguments must be an object")
        if set(args) != set(self.args):
            raise ConfigError(f"{where} ({self.name}) takes arguments {sorted(self.args)}, "
                              f"got {sorted(args)}")


def step(
    name: str | None = None,
    *,
    fault: str | None = None,
    precondition: Callable[[Any], bool] | None = None,
    time_arg: str | None = None,
    **args: SearchStrategy,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a driver method as a step kind: ``@step(fault="drop", delay_ms=st.integers(0, 50))``."""
    if time_arg is not None and (time_arg not in args or fault or precondition):
        raise TypeError(f"the step that advances time must take its {time_arg!r} argument and "
                        "be always enabled (no fault kind, no precondition)")

    def mark(fn: Callable[..., None]) -> Callable[..., None]:
        kind = StepKind(name or fn.__name__, fn.__name__, dict(args), fault, precondition,
                        time_arg)
        setattr(fn, STEP_ATTR, kind)
        return fn

    return mark


def steps_to_json(steps: list[Step]) -> list[dict[str, Any]]:
    return [s.to_json() for s in steps]


def format_steps(steps: list[Step]) -> str:
    """The run as Python, one step a line (how the findings and the emitted tests show it)."""
    return "\n".join(f"    {s!r}," for s in steps)
