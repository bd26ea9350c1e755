"""Step arguments drawn from a pack's own strategies: the same ones, run after run.

The conformance kit needs concrete steps for every kind in a pack's vocabulary, with
arguments a real exploration could produce. ``strategy.example()`` would give them, but
differently on every call; here one small inner Hypothesis test with ``derandomize=True``
and no database draws them, on Hypothesis's default settings whichever profile is active,
so the same pack gets the same steps run after run. (Hypothesis now and then draws a
constant found in the loaded source modules, so a process that loaded other modules may
draw differently: the kit draws once and hands the run itself to its subprocesses.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st

from gatewaysim.properties.steps import Step, StepKind

_SETTINGS = dict(
    derandomize=True,
    database=None,
    phases=(Phase.generate,),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    verbosity=Verbosity.quiet,
    report_multiple_bugs=False,
)


def draw_args(kinds: Mapping[str, StepKind], examples: int = 3) -> list[dict[str, dict[str, Any]]]:
    """``examples`` deterministic draws: step kind name -> its arguments, for every kind.

    The first draw Hypothesis makes is its simplest (smallest integers, first choices);
    later ones vary. Callers that want one realistic draw take the last.
    """
    if examples < 1:
        raise ValueError(f"examples must be at least 1, not {examples}")
    drawn: list[dict[str, dict[str, Any]]] = []

    # Built on Hypothesis's own default profile, not the active one: a profile loaded by a
    # conftest (or HYPOTHESIS_PROFILE) would otherwise change what is drawn.
    @settings(settings.get_profile("default"), max_examples=examples,
              **_SETTINGS)  # type: ignore[arg-type]
    @given(st.data())
    def draw(data: st.DataObject) -> None:
        one: dict[str, dict[str, Any]] = {}
        for kind in kinds.values():
            one[kind.name] = {arg: data.draw(strategy, label=f"{kind.name}.{arg}")
                              for arg, strategy in sorted(kind.args.items())}
        drawn.append(one)

    draw()
    return drawn[-examples:]


def one_of_each(kinds: Mapping[str, StepKind], advance: Step, draw: Mapping[str, dict[str, Any]]
                ) -> list[Step]:
    """A short run over the whole vocabulary: each kind once (by name), time passing between.

    The step that advances time opens the run (the world boots and connects), follows every
    other step (so each one's consequences play out) and is not repeated on its own.
    """
    steps = [advance]
    for name, kind in kinds.items():
        if kind.time_arg is not None:
            continue
        steps += [Step(name, dict(draw[name])), advance]
    return steps


__all__ = ["draw_args", "one_of_each"]
