"""The document's 13 reconnection tests in simulation and for real.

    python benchmarks/restart.py [--scale F] [--sim-only] [--lumenize]

Each test runs once on the virtual clock and once with real server processes and sockets
(``gatewaysim.real``, aiohttp: the ``real`` extra), with the library's delays times
``--scale`` (default 1: the document's own timings, so the real column is what its suite
costs). Prints, per test, the virtual time it covers, the wall time in simulation and for
real, whether its expectations held both ways, and whether what the users saw for real
conforms to a simulated run told the real process start times; then the totals, and last
the figure this benchmark is for: how many times longer the real run takes than the
simulated one.

``--lumenize`` also runs the Lumenize phases that run for real (phase 1, a drop within
grace, as scripted and as written; phase 4, a duplicate tab), each whole, at the phases'
own delays, and prints them the same way after the totals (they are not in the ratio).
"""

from __future__ import annotations

import argparse
import time

from gatewaysim.models.restart.scenarios import DOCUMENT, config_for
from gatewaysim.models.restart.script import run_sim
from gatewaysim.simulator.clock import SECOND
from gatewaysim.simulator.trace import Trace


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--sim-only", action="store_true", help="skip the real runs")
    p.add_argument("--repeat", type=int, default=20,
                   help="simulated runs per test (the wall time is their mean)")
    p.add_argument("--lumenize", action="store_true",
                   help="also run the Lumenize phases 1 and 4 both ways")
    args = p.parse_args()
    from gatewaysim.real import transport
    from gatewaysim.real.conformance import compare, fault_times, tolerance_ms
    from gatewaysim.real.runner import run_real_sync

    if not args.sim_only:
        transport.require()
    where = "simulation only" if args.sim_only else f"aiohttp {transport.aiohttp.__version__}"
    print(f"13 tests, delays x{args.scale:g}, {where}")
    print(f"{'test':<26} {'virtual':>9} {'sim wall':>10} {'real wall':>10} {'passes':>7} "
          f"{'conforms':>9}")
    virtual = sim_wall = real_wall = 0.0
    differing: list[str] = []
    for script in DOCUMENT:
        config = config_for(script.name)
        t0 = time.perf_counter()
        for _ in range(args.repeat):
            run = run_sim(script, config=config, scale=args.scale)
        sim_s = (time.perf_counter() - t0) / args.repeat
        v = run.world.world.now / SECOND
        real_s = 0.0
        ok = run.passed
        conforms = "-"
        if not args.sim_only:
            real = run_real_sync(script, config, args.scale)
            real_s = real.wall_s
            ok = ok and real.passed
            trace = Trace(keep=True)  # the same test, told the real start times
            told = run_sim(script, 0, trace, config, args.scale, startup_ms=real.startup_ms)
            diffs = compare(told.observer.logs, fault_times(trace), real.observer.logs,
                            fault_times(real.trace), told.verdicts, real.verdicts,
                            tolerance_ms(script.tolerance_ms * args.scale, real.startups))
            conforms = "yes" if not diffs else "NO"
            differing += [f"{script.name}: {d}" for d in diffs]
        virtual += v
        sim_wall += sim_s
        real_wall += real_s
        print(f"{script.name:<26} {v:>8.2f}s {sim_s * 1000:>8.2f}ms {real_s:>9.2f}s "
              f"{'yes' if ok else 'NO':>7} {conforms:>9}")
    print(f"{'total':<26} {virtual:>8.2f}s {sim_wall * 1000:>8.2f}ms {real_wall:>9.2f}s")
    if args.lumenize:
        print("lumenize phases, whole, at their own delays (not in the totals):")
        differing += _lumenize(args.repeat, args.sim_only)
    print(f"virtual time covered: {virtual:.2f}s")
    print(f"wall time in simulation: {sim_wall * 1000:.1f}ms")
    if not args.sim_only:
        for line in differing:
            print(f"differs: {line}")
        print(f"wall time for real: {real_wall:.2f}s")
        print(f"real / simulated wall time: {real_wall / sim_wall:.0f}x")
    else:
        print(f"virtual / simulated wall time: {virtual / sim_wall:.0f}x")


def _lumenize(repeat: int, sim_only: bool) -> list[str]:
    """One line per Lumenize phase that runs for real; the differences found."""
    from gatewaysim.real.conformance import tolerance_ms
    from gatewaysim.real.lumenize import SCRIPTS, run_real_sync
    from gatewaysim.real.lumenize import run_sim as run_phase
    from gatewaysim.real.lumenize_view import compare as compare_phase

    differing: list[str] = []
    for script in SCRIPTS.values():
        t0 = time.perf_counter()
        for _ in range(repeat):
            sim = run_phase(script)
        sim_s = (time.perf_counter() - t0) / repeat
        real_s, conforms = 0.0, "-"
        if not sim_only:
            real = run_real_sync(script, scale=1.0)
            real_s = real.wall_s
            diffs = compare_phase(sim.records, sim.end, real.records, real.end,
                                  tolerance_ms(script.tolerance_ms, [real.startup_s]))
            conforms = "yes" if not diffs else "NO"
            differing += [f"{script.name}: {d}" for d in diffs]
        print(f"{script.name.removeprefix('lumenize-'):<26} {sim.end / SECOND:>8.2f}s "
              f"{sim_s * 1000:>8.2f}ms {real_s:>9.2f}s {'-':>7} {conforms:>9}")
    return differing


if __name__ == "__main__":
    main()
