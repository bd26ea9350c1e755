"""Invariants, violations, and the exception raised for each invariant.

An invariant is a named, checkable promise in the style of production systems ("echoes
arrive in the order sent, never duplicated"). *Safety* invariants are cheap and checked
after every step; *liveness* invariants are stated in virtual time and checked once, after
the driver settles (faults stop at ``t_heal`` and the world runs to quiescence within a
bound).

Each invariant id gets its own exception class. Hypothesis tells bugs apart by the type
and origin of the exception, so distinct classes make it shrink and report two different
invariants as two different bugs instead of merging them into one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from attrs import field, frozen
from gatewaysim.simulator.clock import Time, format_time

Kind = Literal["safety", "liveness"]

Check = Callable[[Any], "str | None"]
"""``check(driver) -> None`` when the invariant holds, else a one-line message."""


@frozen
class Invariant:
    id: str
    statement: str
    kind: Kind
    check: Check = field(repr=False)
    doc: str = field(default="", repr=False)

    def __attrs_post_init__(self) -> None:
        if self.kind not in ("safety", "liveness"):
            raise ValueError(f"invariant {self.id!r}: kind must be safety or liveness")


@frozen
class Violation:
    """An invariant that did not hold: where (step index: steps applied so far) and when."""

    invariant_id: str
    message: str
    t: Time
    step_index: int

    def describe(self) -> str:
        return (f"{self.invariant_id} violated at t={format_time(self.t)} "
                f"after step {self.step_index}: {self.message}")


NO_EXCEPTION = Invariant(
    id="no-exception",
    statement="no step, settle or check raises an exception",
    kind="safety",
    check=lambda driver: None,
    doc="A model or driver that raises is a finding like any other: it is shrunk, written "
        "to a failure file and replayed. The check itself lives in "
        "gatewaysim.properties.execution.",
)


class InvariantViolated(AssertionError):
    """Raised inside a Hypothesis run; carries the violation and the steps that led to it."""

    invariant_id = ""

    def __init__(self, violation: Violation, steps: list[Any]) -> None:
        super().__init__(violation.describe())
        self.violation = violation
        self.steps = list(steps)


_ERRORS: dict[str, type[InvariantViolated]] = {}


def violation_error(invariant_id: str) -> type[InvariantViolated]:
    """The exception class for ``invariant_id`` (one class per id, made once per process)."""
    cls = _ERRORS.get(invariant_id)
    if cls is None:
        words = re.split(r"[^0-9A-Za-z]+", invariant_id)
        name = "".join(w[:1].upper() + w[1:] for w in words if w) + "Violated"
        cls = type(name, (InvariantViolated,), {"invariant_id": invariant_id,
                                                  "__module__": __name__})
        _ERRORS[invariant_id] = cls
    return cls


def catalogue_text(invariants: tuple[Invariant, ...]) -> str:
    """The invariants as a table a person reads: id, kind, statement."""
    width = max((len(i.id) for i in invariants), default=0)
    return "\n".join(f"{i.id:<{width}}  {i.kind:<8}  {i.statement}" for i in invariants)
