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
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from gatewaysim.simulator.clock import MAX_DURATION, MS
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
class Arg:
    """What one step argument accepts, and how Hypothesis draws it.

    Declared once, it serves both directions: exploration draws values from ``strategy``,
    and a failure file, a branch or a hand-written run is checked against the type and
    range, so ``"ms": 1.5`` or ``"client": 99`` is refused with one line naming the step
    instead of turning virtual time into a float or silently meaning another user.
    """

    type: type
    strategy: SearchStrategy = field(repr=False)
    low: int | None = None
    high: int | None = None
    choices: tuple[Any, ...] | None = None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable, or ``None``."""
        if isinstance(value, bool) and self.type is not bool:
            return f"must be {self.describe()}, not {value!r}"
        if not isinstance(value, self.type):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            return f"must be {self.describe()}, not {shown}"
        if self.choices is not None and value not in self.choices:
            return f"must be {self.describe()}, not {value!r}"
        if self.low is not None and value < self.low:
            return f"must be {self.describe()}, not {value!r}"
        if self.high is not None and value > self.high:
            return f"must be {self.describe()}, not {value!r}"
        return None

    def describe(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(repr, self.choices))
        if self.type is bool:
            return "true or false"
        if self.type is int:
            return f"an integer from {self.low} to {self.high}"
        return f"a {self.type.__name__}"


def Int(low: int, high: int, strategy: SearchStrategy | None = None) -> Arg:
    """An integer argument from ``low`` to ``high``; drawn uniformly unless a strategy with a
    bias of its own (within the range) is given."""
    return Arg(int, strategy if strategy is not None else st.integers(low, high), low, high)


def OneOf(*choices: Any, strategy: SearchStrategy | None = None) -> Arg:
    """One of a fixed set of values (strings, usually)."""
    kinds = {type(c) for c in choices}
    if len(kinds) != 1:
        raise TypeError(f"OneOf takes values of one type, got {sorted(k.__name__ for k in kinds)}")
    drawn = strategy if strategy is not None else st.sampled_from(choices)
    return Arg(kinds.pop(), drawn, choices=tuple(choices))


def Bool() -> Arg:
    return Arg(bool, st.booleans())


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
    specs: Mapping[str, Arg | None] = field(factory=dict, repr=False)
    """Each argument's declared type and range (``None``: drawn from a bare strategy, so
    only its name is checked)."""

    def check_args(self, args: Mapping[str, Any], where: str = "step") -> None:
        """A :class:`ConfigError` unless ``args`` has exactly this kind's argument names,
        each of its declared type and in its declared range."""
        if not isinstance(args, Mapping):
            raise ConfigError(f"{where} ({self.name}): arguments must be an object")
        if set(args) != set(self.args):
            raise ConfigError(f"{where} ({self.name}) takes arguments {sorted(self.args)}, "
                              f"got {sorted(args)}")
        for arg, value in sorted(args.items()):
            spec = self.specs.get(arg)
            problem = spec.problem(value) if spec is not None else None
            if problem is not None:
                raise ConfigError(f"{where} ({self.name}): {arg!r} {problem}")


def step(
    name: str | None = None,
    *,
    fault: str | None = None,
    precondition: Callable[[Any], bool] | None = None,
    time_arg: str | None = None,
    **args: Arg | SearchStrategy,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a driver method as a step kind: ``@step(fault="drop", client=Int(0, 3))``.

    Arguments are declared with :class:`Arg` values (:func:`Int`, :func:`OneOf`,
    :func:`Bool`), which give both the strategy exploration draws from and the type and
    range a failure file is checked against; a bare Hypothesis strategy is accepted too,
    but then only the argument's name can be checked.
    """
    if time_arg is not None and (time_arg not in args or fault or precondition):
        raise TypeError(f"the step that advances time must take its {time_arg!r} argument and "
                        "be always enabled (no fault kind, no precondition)")
    strategies = {k: v.strategy if isinstance(v, Arg) else v for k, v in args.items()}
    specs = {k: v if isinstance(v, Arg) else None for k, v in args.items()}
    if time_arg is not None and specs[time_arg] is None:
        # Time is always checked: whole milliseconds, at least one, at most a week.
        specs[time_arg] = Int(1, MAX_DURATION // MS, strategy=strategies[time_arg])

    def mark(fn: Callable[..., None]) -> Callable[..., None]:
        kind = StepKind(name or fn.__name__, fn.__name__, strategies, fault, precondition,
                        time_arg, specs)
        setattr(fn, STEP_ATTR, kind)
        return fn

    return mark


def steps_to_json(steps: list[Step]) -> list[dict[str, Any]]:
    return [s.to_json() for s in steps]


def format_steps(steps: list[Step]) -> str:
    """The run as Python, one step a line (how the findings and the emitted tests show it)."""
    return "\n".join(f"    {s!r}," for s in steps)
