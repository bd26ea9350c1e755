"""``gatewaysim real SCENARIO``: run a restart scenario with real processes and sockets.

The server runs in its own OS process (``python -m gatewaysim.real.serve``) on 127.0.0.1;
SIGTERM and SIGKILL are sent for real and a new process is started on the same port; the
clients run in this process on an asyncio loop. The same scenario is then run in simulation
(told how long each real process took to start) and what each client's user observed is
compared: the output ends with ``conforms`` or the list of differences.

Exit status: 0 when the real run's expectations hold as in simulation and the runs conform,
1 otherwise, 2 for bad input or when aiohttp (the ``real`` extra) is not installed.
"""

from __future__ import annotations

import argparse
from typing import Any

from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import Trace

from .args import seed_arg

NAME = "real"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        NAME,
        help="run a restart scenario with real server processes and sockets, and compare it "
             "with the simulation",
        description=(
            "Run a restart-pack scenario for real: each server start is a new OS process on "
            "127.0.0.1, kills are real SIGTERM/SIGKILL, dropped connections are real TCP "
            "aborts. Then run it in simulation and compare what each client's user saw."),
    )
    p.add_argument("scenario", nargs="?", metavar="SCENARIO",
                   help="scenario name, with or without the restart- prefix (see --list)")
    p.add_argument("--scale", type=_scale, default=0.1, metavar="F",
                   help="multiply every delay of the scenario and the client by F "
                        "(default: 0.1, a tenth of the library's delays)")
    p.add_argument("--variant", default="faithful", help="faithful (default) or fixed")
    p.add_argument("--seed", type=seed_arg, default=0, metavar="N")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.01 <= value <= 10:
        raise argparse.ArgumentTypeError(f"must be from 0.01 to 10, not {text}")
    return value


def run(args: argparse.Namespace) -> int:
    # The restart pack is imported only when this command runs: `gatewaysim run echo`
    # loads no other pack.
    from gatewaysim.models.restart.config import RestartConfig
    from gatewaysim.models.restart.scenarios import BY_NAME, config_for
    from gatewaysim.models.restart.script import run_sim
    from gatewaysim.real import transport
    from gatewaysim.real.conformance import TIMING_FLOOR_MS, compare, fault_times
    from gatewaysim.real.runner import run_real_sync

    if args.list:
        for script in BY_NAME.values():
            where = "" if script.real else "  (simulation only)"
            print(f"restart-{script.name:<26} {script.summary}{where}")
        return 0
    transport.require()
    if args.scenario is None:
        raise ConfigError("a scenario name is required (see 'gatewaysim real --list')")
    name = args.scenario.removeprefix("restart-")
    script = BY_NAME.get(name)
    if script is None:
        raise ConfigError(f"unknown restart scenario {args.scenario!r} (see --list)")
    if not script.real:
        raise ConfigError(f"restart-{name} needs link latency the real host cannot emulate")
    if not 0 < args.scale <= 10:
        raise ConfigError(f"--scale must be in (0, 10], not {args.scale}")
    config = config_for(name, RestartConfig.for_variant(args.variant))
    real = run_real_sync(script, config, args.scale, args.seed)
    trace = Trace(keep=True)
    sim = run_sim(script, args.seed, trace, config, args.scale, startup_ms=real.startup_ms)
    print(f"scenario:  restart-{name}: {script.summary}")
    print(f"replays:   {script.source}")
    print(f"transport: aiohttp {transport.aiohttp.__version__}; scale {args.scale:g}; "
          f"{real.processes} server process(es), "
          f"each ready in {', '.join(f'{t:.0f}ms' for t in real.startup_ms)}")
    print(f"wall time: {real.wall_s:.2f}s for real")
    print()
    width = max((len(v.label) for v in real.verdicts), default=0)
    for v_real, v_sim in zip(real.verdicts, sim.verdicts):
        print(f"  {v_real.label:<{width}}  real {v_real.observed!r:<16} "
              f"sim {v_sim.observed!r:<16} {'ok' if v_real.holds else 'FAILS'}")
    for client, log in real.observer.logs.items():
        print(f"  {client} states: {' -> '.join(to for _, to in log.states)}")
    diffs = compare(sim.observer.logs, fault_times(trace), real.observer.logs,
                    fault_times(real.trace), sim.verdicts, real.verdicts,
                    script.tolerance_ms * args.scale)
    print()
    if diffs:
        print("differences:")
        for d in diffs:
            print(f"  {d}")
        return 1
    tolerance = max(script.tolerance_ms * args.scale, TIMING_FLOOR_MS)
    print(f"conforms (timings within {tolerance:.0f}ms of the simulation after each fault)")
    return 0 if all(v.holds for v in real.verdicts) == sim.passed else 1


__all__ = ["add_parser", "run"]
