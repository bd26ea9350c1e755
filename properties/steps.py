"""Steps: the unit of exploration, shrinking, replay and failure files.

A run is a list of :class:`Step` values applied to a freshly built driver. Steps hold only
JSON values, so a run can be written to a failure file, read back and applied again with
the same result: the driver is deterministic given its config and seed.

A pack declares its step kinds by decorating driver methods with :func:`step`. Each kind
names the Hypothesis strategies for its arguments and, for faults, the *fault kind* it
belongs to, which is what swarm testing switches on and off per run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from attrs import field, frozen
from hypothesis.strategies import SearchStrategy

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


def step(
    name: str | None = None,
    *,
    fault: str | None = None,
    precondition: Callable[[Any], bool] | None = None,
    **args: SearchStrategy,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a driver method as a step kind: ``@step(fault="drop", delay_ms=st.integers(0, 50))``."""

    def mark(fn: Callable[..., None]) -> Callable[..., None]:
        kind = StepKind(name or fn.__name__, fn.__name__, dict(args), fault, precondition)
        setattr(fn, STEP_ATTR, kind)
        return fn

    return mark


def steps_to_json(steps: list[Step]) -> list[dict[str, Any]]:
    return [s.to_json() for s in steps]


def format_steps(steps: list[Step]) -> str:
    """The run as Python, one step a line (how the findings and the emitted tests show it)."""
    return "\n".join(f"    {s!r}," for s in steps)
