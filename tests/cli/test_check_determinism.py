"""``--check-determinism`` locates where two runs part: a model that iterates over a set of
strings is planted, and the first differing record is named from each run."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ..properties.helpers import gatewaysim

PLANTED = '''
    from typing import ClassVar

    from attrs import frozen

    from gatewaysim.properties.driver import Driver
    from gatewaysim.properties.monitor import Check
    from gatewaysim.properties.pack import Pack
    from gatewaysim.properties.steps import Int, step
    from gatewaysim.simulator.clock import SECOND, ms
    from gatewaysim.simulator.config import PackConfig
    from gatewaysim.simulator.messages import Note, SetTimer, Start, TimerFired
    from gatewaysim.simulator.node import Node
    from gatewaysim.simulator.scenario import ScenarioResult, scenario
    from gatewaysim.simulator.world import World

    NAMES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


    class Greeter(Node):
        """Greets everyone once a second; the bug: in the order of a set of strings."""

        def on_input(self, now, inp):
            if isinstance(inp, Start | TimerFired):
                return [*(Note("hello", {"to": n}) for n in set(NAMES)),
                        SetTimer("tick", now + SECOND)]
            return []


    @frozen(kw_only=True)
    class PlantedConfig(PackConfig):
        pass


    class PlantedDriver(Driver):
        def setup(self):
            world = World(self.seed, trace=self.trace)
            world.add_host("greeter", Greeter)
            return world

        def heal_faults(self):
            pass

        @step(time_arg="ms", ms=Int(1, 10_000))
        def advance(self, ms_):
            self.world.run_for(ms(ms_))


    @scenario("planted", "greets in set order", 3 * SECOND)
    def planted(seed, duration, trace):
        world = World(seed, trace=trace)
        world.add_host("greeter", Greeter)
        world.run_for(duration)
        return ScenarioResult(world, {})


    PACK = Pack(name="planted", summary="a planted set iteration", config=PlantedConfig,
                driver=PlantedDriver, monitors=(Check("planted.ok", "ok", "safety",
                                                      lambda f: None),),
                scenarios=(planted,))
'''


def test_a_planted_set_iteration_is_located(tmp_path: Path) -> None:
    (tmp_path / "planted.py").write_text(textwrap.dedent(PLANTED).replace("ms_", "ms_value"))
    result = gatewaysim("run", "planted", "--pack", "planted:PACK", "--check-determinism",
                        cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "determinism check: NOT DETERMINISTIC"
    assert lines[0].startswith("the runs part at record ")
    assert lines[1].startswith("  both:  t=0.000s greeter ")
    run1, run2 = lines[2], lines[3]
    assert run1.startswith("  run 1: t=0.000s greeter out Note {'data': {'to': ")
    assert run1.endswith("(PYTHONHASHSEED=1)") and run2.endswith("(PYTHONHASHSEED=2)")
    assert run1.split("(PYTHONHASHSEED")[0] != run2.split("(PYTHONHASHSEED")[0]


def test_a_deterministic_scenario_passes_the_check(tmp_path: Path) -> None:
    result = gatewaysim("run", "echo", "--duration", "20s", "--check-determinism")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith("gave identical traces")
