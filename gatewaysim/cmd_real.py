"""``gatewaysim real SCENARIO``: run a scenario with real processes and sockets.

Restart scenarios (``restart-NAME``): the server runs in its own OS process (``python -m
gatewaysim.real.serve``) on 127.0.0.1; SIGTERM and SIGKILL are sent for real and a new
process is started on the same port; the clients run in this process on an asyncio loop.
The same scenario is then run in simulation (told how long each real process took to
start) and what each client's user observed is compared: the output ends with
``conforms`` or the list of differences.

Lumenize phases (``lumenize-phase1``, ``lumenize-phase1-force-close``, ``lumenize-phase4``;
the first with a real drop, the second as the phase is written): the Worker, the token service,
the mesh objects and the gateways run in one OS process; the tabs run here. A drop closes
the TCP connection; a duplicate tab is a second real client with the same identity. The
phase is then run in simulation with the same delays and compared the same way.

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
        help="run a restart scenario or a Lumenize phase with real processes and sockets, "
             "and compare it with the simulation",
        description=(
            "Run a scenario for real on 127.0.0.1 and compare what each client's user saw "
            "with a simulated run. restart-NAME (or NAME): each server start is a new OS "
            "process, kills are real SIGTERM/SIGKILL, dropped connections are real TCP "
            "aborts. lumenize-phase1 (a drop within the grace period; "
            "lumenize-phase1-force-close is the phase as written, a close frame with code "
            "1006) and lumenize-phase4 (a duplicate tab): the Worker, gateways, token "
            "service and mesh objects run as "
            "one OS process, the tabs in this one; a drop closes the TCP connection, a "
            "duplicate tab is a second real client with the same identity. --list shows "
            "every name."),
    )
    p.add_argument("scenario", nargs="?", metavar="SCENARIO",
                   help="restart-NAME (the prefix may be left out), lumenize-phase1, "
                        "lumenize-phase1-force-close or lumenize-phase4 (see --list)")
    p.add_argument("--scale", type=_scale, default=None, metavar="F",
                   help="multiply every delay of the scenario and the client by F "
                        "(default: 0.1 for restart, 1 for lumenize)")
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


LUMENIZE_PREFIX = "lumenize-"


def run(args: argparse.Namespace) -> int:
    # The packs are imported only when this command runs: `gatewaysim run echo` loads no
    # other pack.
    from gatewaysim.models.restart.config import RestartConfig
    from gatewaysim.models.restart.scenarios import BY_NAME, config_for
    from gatewaysim.models.restart.script import run_sim
    from gatewaysim.real import transport
    from gatewaysim.real.conformance import compare, fault_times, tolerance_ms
    from gatewaysim.real.runner import run_real_sync

    if args.list:
        for script in BY_NAME.values():
            where = "" if script.real else "  (simulation only)"
            print(f"restart-{script.name:<26} {script.summary}{where}")
        from gatewaysim.real.lumenize import SCRIPTS

        for lumenize in SCRIPTS.values():
            print(f"{lumenize.name:<34} {lumenize.summary}")
        return 0
    transport.require()
    if args.scenario is None:
        raise ConfigError("a scenario name is required (see 'gatewaysim real --list')")
    if args.scenario.startswith(LUMENIZE_PREFIX):
        return _run_lumenize(args)
    args.scale = 0.1 if args.scale is None else args.scale
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
          f"each ready in {', '.join(f'{1000 * t:.0f}ms' for t in real.startups)}")
    print(f"wall time: {real.wall_s:.2f}s for real")
    print()
    width = max((len(v.label) for v in real.verdicts), default=0)
    for v_real, v_sim in zip(real.verdicts, sim.verdicts):
        print(f"  {v_real.label:<{width}}  real {v_real.observed!r:<16} "
              f"sim {v_sim.observed!r:<16} {'ok' if v_real.holds else 'FAILS'}")
    for client, log in real.observer.logs.items():
        print(f"  {client} states: {' -> '.join(to for _, to in log.states)}")
    tolerance = tolerance_ms(script.tolerance_ms * args.scale, real.startups)
    diffs = compare(sim.observer.logs, fault_times(trace), real.observer.logs,
                    fault_times(real.trace), sim.verdicts, real.verdicts, tolerance)
    print()
    if diffs:
        print("differences:")
        for d in diffs:
            print(f"  {d}")
        return 1
    print(f"conforms (timings within {tolerance:.0f}ms of the simulation after each fault)")
    return 0 if all(v.holds for v in real.verdicts) == sim.passed else 1


def _run_lumenize(args: argparse.Namespace) -> int:
    from gatewaysim.models.lumenize.config import LumenizeConfig
    from gatewaysim.real import transport
    from gatewaysim.real.conformance import tolerance_ms
    from gatewaysim.real.lumenize import SCRIPTS, run_real_sync, run_sim
    from gatewaysim.real.lumenize_view import compare, user_view

    script = SCRIPTS.get(args.scenario)
    if script is None:
        raise ConfigError(f"{args.scenario!r} does not run for real (these do: "
                          f"{', '.join(SCRIPTS)})")
    LumenizeConfig.for_variant(args.variant)  # an unknown variant: one line, status 2
    scale = script.scale if args.scale is None else args.scale
    real = run_real_sync(script, args.variant, scale, args.seed)
    sim = run_sim(script, args.variant, scale, args.seed)
    print(f"scenario:  {script.name}: {script.summary}")
    if script.differs:
        print(f"differs:   {script.differs}")
    print(f"transport: aiohttp {transport.aiohttp.__version__}; scale {scale:g}; "
          f"variant {args.variant}; 1 server process, ready in {real.startup_s * 1000:.0f}ms")
    print(f"wall time: {real.wall_s:.2f}s for real, {sim.wall_s * 1000:.1f}ms in simulation")
    print()
    view = user_view(real.records)
    for tab, seen in view.tabs.items():
        print(f"  {tab} states: {' -> '.join(s.what for s in seen.states)}")
        closes = [s.what.removeprefix("closed ") for s in seen.closes]
        print(f"  {tab} closes: {', '.join(closes) or '-'}")
    for result in view.mesh_results:
        print(f"  mesh call {result.what}")
    tolerance = tolerance_ms(script.tolerance_ms, [real.startup_s])
    diffs = compare(sim.records, sim.end, real.records, real.end, tolerance)
    print()
    if diffs:
        print("differences:")
        for d in diffs:
            print(f"  {d}")
        return 1
    print(f"conforms (each state change within {tolerance:.0f}ms of the simulation, "
          "measured from the event before it)")
    return 0


__all__ = ["add_parser", "run"]
