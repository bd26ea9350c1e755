"""The named scenarios ``gatewaysim run`` knows, and how to run one.

A scenario is a function ``fn(seed, duration, trace) -> ScenarioResult`` somewhere in a
model pack. The table below names it by a ``"module:function"`` string rather than by
importing it, so listing scenarios or running one imports only the pack that is needed:
a pack with heavy wiring costs nothing to a user who runs another.

The caller owns the :class:`~gatewaysim.simulator.trace.Trace` (where it is written, whether records
are kept in memory) and its header; the scenario builds a world on it, runs it for
``duration`` of virtual time, and reports what a person wants to know about the run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from attrs import frozen
from gatewaysim.simulator.clock import HOUR, MINUTE, SECOND, Time
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import Trace, TraceRecord

if TYPE_CHECKING:
    from gatewaysim.simulator.world import World


@frozen(eq=False)
class ScenarioResult:
    """What a scenario hands back: the world it ran, its own summary, how to describe it.

    ``summary`` is printed as ``key: value`` lines in insertion order. ``describe`` is the
    pack's record describer for the timeline (see :mod:`gatewaysim.simulator.timeline`); ``None``
    uses the model-free default.
    """

    world: World
    summary: dict[str, Any]
    describe: Callable[[TraceRecord], str | None] | None = None


class ScenarioFn(Protocol):
    def __call__(self, seed: int, duration: Time, trace: Trace) -> ScenarioResult: ...


@frozen
class Scenario:
    """One registered scenario. ``timeline``: print the readable timeline after a run."""

    name: str
    summary: str
    target: str  # "package.module:function"
    default_duration: Time
    timeline: bool = False

    def load(self) -> ScenarioFn:
        """Import the scenario's module and return its function."""
        module_name, _, attr = self.target.partition(":")
        module = importlib.import_module(module_name)
        fn: ScenarioFn = getattr(module, attr)
        return fn

    def run(self, seed: int, duration: Time, trace: Trace) -> ScenarioResult:
        return self.load()(seed, duration, trace)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="echo",
            summary="an echo server and two clients over jittered links; a drop and a crash",
            target="gatewaysim.models.echo.scenario:run_echo",
            default_duration=HOUR,
        ),
        # ---- Lumenize Mesh pack: lumenize-phase1 ... lumenize-phase6 go here. ----------
        Scenario(name="lumenize-phase1",
                 summary="grace-period queuing: a mesh call during grace is delivered on reconnect",
                 target="gatewaysim.models.lumenize.scenarios:phase1",
                 default_duration=10 * SECOND, timeline=True),
        Scenario(name="lumenize-phase2",
                 summary="grace expiry: the parked call fails; the late reconnect resubscribes",
                 target="gatewaysim.models.lumenize.scenarios:phase2",
                 default_duration=30 * SECOND, timeline=True),
        Scenario(name="lumenize-phase3",
                 summary="token expiry: 4401, refresh, reconnect; the expired call never settles",
                 target="gatewaysim.models.lumenize.scenarios:phase3",
                 default_duration=MINUTE, timeline=True),
        Scenario(name="lumenize-phase4",
                 summary="supersession: a duplicate tab takes over with 4409 (then ping-pong)",
                 target="gatewaysim.models.lumenize.scenarios:phase4",
                 default_duration=10 * SECOND, timeline=True),
        Scenario(name="lumenize-phase5",
                 summary="re-subscription lifecycle after the grace alarm; broadcasts flow on",
                 target="gatewaysim.models.lumenize.scenarios:phase5",
                 default_duration=30 * SECOND, timeline=True),
        Scenario(name="lumenize-phase6",
                 summary="access gate: unapproved users get 403 at the Worker, retried forever",
                 target="gatewaysim.models.lumenize.scenarios:phase6",
                 default_duration=5 * MINUTE, timeline=True),
        # ---- end of Lumenize Mesh pack ---------------------------------------------------
    )
}
"""Every scenario by name, in the order ``gatewaysim run --list`` shows them."""


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; a :class:`ConfigError` naming the known ones if none."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        known = ", ".join(SCENARIOS) or "none"
        raise ConfigError(f"unknown scenario {name!r}; known scenarios: {known}")
    return scenario


__all__ = ["SCENARIOS", "Scenario", "ScenarioFn", "ScenarioResult", "get_scenario"]
