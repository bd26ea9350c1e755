"""Scenarios: a named, scripted run of a pack's model, for ``gatewaysim run`` and for tests.

A scenario is a function ``fn(seed, duration, trace) -> ScenarioResult``. Decorate it with
:func:`scenario` to give it a name, a one-line summary and a default duration; list it in
the pack's manifest (``Pack(scenarios=...)``) and ``gatewaysim run NAME`` finds it. The
decorated object is still callable exactly like the function.

The caller owns the :class:`~gatewaysim.simulator.trace.Trace` (where it is written,
whether records are kept in memory) and its header; the scenario builds a world on it,
runs it for ``duration`` of virtual time, and reports what a person wants to know.

A scenario that can run under any variant of its pack (``faithful``, ``fixed``,
``mutant:NAME``) takes it as a fourth parameter, ``fn(seed, duration, trace, variant)``,
with the pack's default as its default value. :attr:`Scenario.takes_variant` is read from
the function's signature, so nothing has to be declared twice; :meth:`Scenario.run` refuses
a variant for a scenario whose script builds one fixed configuration.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from attrs import field, frozen

from .clock import Time
from .errors import ConfigError
from .trace import Trace, TraceRecord

if TYPE_CHECKING:
    from .world import World

Describer = Callable[[TraceRecord], "str | None"]
"""A pack's one-line reading of a trace record for timelines (``None``: the default)."""


@frozen(eq=False)
class ScenarioResult:
    """What a scenario hands back: the world it ran, its own summary, how to describe it.

    ``summary`` is printed as ``key: value`` lines in insertion order. ``describe`` is the
    pack's record describer for the timeline; ``None`` uses the model-free default.
    """

    world: World
    summary: dict[str, Any]
    describe: Describer | None = None


class ScenarioFn(Protocol):
    def __call__(self, seed: int, duration: Time, trace: Trace) -> ScenarioResult: ...


@frozen
class Scenario:
    """One named scenario. ``timeline``: print the readable timeline after a run."""

    name: str
    summary: str
    fn: ScenarioFn = field(repr=False)
    default_duration: Time
    timeline: bool = False

    def __attrs_post_init__(self) -> None:
        if not self.name or any(c.isspace() for c in self.name):
            raise ConfigError(f"scenario name must be one word, not {self.name!r}")
        if self.default_duration <= 0:
            raise ConfigError(f"scenario {self.name!r}: default duration must be positive")

    @property
    def takes_variant(self) -> bool:
        """True if the scenario's function takes a ``variant`` parameter."""
        try:
            params = inspect.signature(self.fn).parameters
        except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
            return False
        return "variant" in params

    def run(self, seed: int, duration: Time, trace: Trace,
            variant: str | None = None) -> ScenarioResult:
        """Run the scenario; ``variant`` (``None``: the scenario's default) is passed on
        only to a scenario that takes one, and is a :class:`ConfigError` for any other."""
        if variant is None:
            return self.fn(seed, duration, trace)
        if not self.takes_variant:
            raise ConfigError(f"scenario {self.name!r} runs one fixed configuration and takes "
                              "no --variant")
        return self.fn(seed, duration, trace, variant=variant)  # type: ignore[call-arg]

    def __call__(self, seed: int, duration: Time, trace: Trace) -> ScenarioResult:
        return self.fn(seed, duration, trace)


def scenario(name: str, summary: str, duration: Time, *, timeline: bool = False
             ) -> Callable[[ScenarioFn], Scenario]:
    """Declare a scenario: ``@scenario("echo", "an echo server and two clients", HOUR)``."""

    def wrap(fn: ScenarioFn) -> Scenario:
        return Scenario(name, summary, fn, duration, timeline)

    return wrap


__all__ = ["Describer", "Scenario", "ScenarioFn", "ScenarioResult", "scenario"]
