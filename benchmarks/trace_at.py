"""How long ``TraceView.at(t)`` takes on a 100,000-record trace, with snapshots and without.

Builds an echo world with many clients and a fault every few seconds (drops, client
crashes and restarts, server bounces), keeps its trace in memory, then asks for the
state of every actor at seeded-random instants twice in the same run: through the
snapshot index, and by the naive fold from the first record. Both answers are compared,
so the speed-up is for the same result.

    .venv/bin/python benchmarks/trace_at.py [--records 100000] [--queries 200] [--every 1000]

The last line is the figure: ``at(t) p99: X ms (naive: Y ms, speed-up Z.Zx)``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from gatewaysim.analysis import TraceView
from gatewaysim.analysis.state import state_at_naive
from gatewaysim.models.echo import EchoClient, EchoServer
from gatewaysim.simulator.clock import SECOND, ms, s
from gatewaysim.simulator.trace import Trace
from gatewaysim.simulator.world import World

SERVER = "echo"


def build_world(min_records: int, clients: int, seed: int) -> World:
    """Run until the trace holds ``min_records``, a fault every 2-5 s (seeded)."""
    header = {"seed": seed, "pack": "echo", "scenario": "bench-trace-at"}
    world = World(seed, trace=Trace(header=header, keep=True))
    world.add_host(SERVER, EchoServer)
    names = [f"client/{i}" for i in range(clients)]
    for name in names:
        world.add_host(name, lambda ctx: EchoClient(ctx, server=SERVER))
    rng = random.Random(seed)
    t = s(2)
    while world.trace.count < min_records:
        world.run_until(t)
        victim = rng.choice(names)
        roll = rng.random()
        if roll < 0.6:
            conn = world.node(victim).conn if world.host_up(victim) else None
            if conn is not None and world.network.connection(conn) is not None:
                world.drop(conn)
        elif roll < 0.9:
            (world.crash if world.host_up(victim) else world.restart)(victim)
        else:
            (world.crash if world.host_up(SERVER) else world.restart)(SERVER)
        t += s(rng.randint(2, 5)) + ms(rng.randint(0, 999))
    return world


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--every", type=int, default=1000, help="records between snapshots")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    world = build_world(args.records, args.clients, args.seed)
    built = time.perf_counter() - started
    view = TraceView.from_world(world, snapshot_every=args.every)
    span = view.span()
    assert span is not None
    faults = sum(r.kind == "fault" for r in view)
    print(f"trace: {len(view)} records, {len(view.actors())} actors, {faults} faults, "
          f"{span[1]:.1f}s virtual (built in {built:.2f}s)")

    started = time.perf_counter()
    index = view.index
    print(f"snapshot index: every {args.every} records, {len(index.snapshots)} snapshots, "
          f"built in {(time.perf_counter() - started) * 1000:.1f} ms")

    rng = random.Random(args.seed)
    last = view.records[-1].t
    instants = [rng.randint(0, last) for _ in range(args.queries)]
    fast: list[float] = []
    naive: list[float] = []
    for t_us in instants:
        t0 = time.perf_counter()
        got = view.at(t_us / SECOND)
        t1 = time.perf_counter()
        want = state_at_naive(view.records, t_us, view.rules)
        t2 = time.perf_counter()
        if got != want:
            raise SystemExit(f"at({t_us / SECOND}s) disagrees with the naive fold")
        fast.append((t1 - t0) * 1000)
        naive.append((t2 - t1) * 1000)
    print(f"{args.queries} queries at seeded-random t, same answers from both:")
    print(f"  snapshots: median {statistics.median(fast):.2f} ms, p99 {p99(fast):.2f} ms, "
          f"max {max(fast):.2f} ms")
    print(f"  naive fold: median {statistics.median(naive):.2f} ms, p99 {p99(naive):.2f} ms, "
          f"max {max(naive):.2f} ms")
    print(f"at(t) p99: {p99(fast):.2f} ms (naive: {p99(naive):.2f} ms, "
          f"speed-up {p99(naive) / p99(fast):.1f}x)")


if __name__ == "__main__":
    main()
