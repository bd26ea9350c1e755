"""A day in the life of a Lumenize deployment, in virtual time: how fast does it run?

    python benchmarks/day_in_the_life.py [--quick] [--clients N] [--hours H] [--seed S]
                                         [--trace FILE] [--profile [N]]

100 browser tabs (the faithful model: client -> Worker -> gateway -> document DO) live
through 24 hours of virtual time: heartbeats every 30 s, 15-minute access tokens (each
refreshed on the reconnect after it runs out), a connection drop per tab every 10 minutes
on average, and a document broadcast every minute fanned out to every subscriber. The
trace is hashed as it streams and never kept (``keep=False``), as a long run would use it.

Drops are exponential inter-arrival times drawn from one named rng stream per tab
(``day.drops/<address>``), so adding a tab never shifts another tab's drops, and the same
seed gives the same trace hash on any run. ``--quick`` runs one virtual hour, a smoke
test for CI. ``--profile`` runs under cProfile and prints the top functions by own time.

The default variant is ``fixed``. Under ``faithful`` the day stops being the day described:
nothing refreshes a connected tab's token, so 15 minutes in, the next broadcast finds
every idle token expired, each fan-out fails with "Client token expired", the broadcaster
drops the row, and the tab reconnects within grace told ``subscriptionRequired: false``
(section 6, silent subscription loss). Nearly every subscriber is gone by minute 16 and
the rest of the day measures an idle system. ``--variant faithful`` shows it.

Prints the events, trace records, trace hash, wall seconds (and CPU seconds: on a shared,
loaded machine the CPU figure is the one to compare) and the peak resident memory of the
process (``resource.getrusage``; the target for a 24-hour run with its trace streamed,
``--trace FILE``, is under 100 MB); the last line is ``virtual/wall ratio: N`` (the target
is 8,640: a day in under 10 s). ``--encoder json`` encodes record payloads with the standard
library only (same trace hash; the default uses orjson where it writes the same bytes).

With ``--clients`` other than 100, a 100-client world of the same hours takes turns with it a
virtual minute at a time (so both meet the same spells of a shared machine), and the last
line compares events per CPU second: cost per event must stay flat as the system grows (the
target for ``--clients 1000 --hours 1`` is within 20 % of the 100-client run). Measured:
0.89 (52,106 against 58,803 events/s, load average about 4 on 2 cores).

Where the time goes (cProfile, ``--quick``: one virtual hour, 67,222 events, 174,981 records,
6.8 s profiled), own time by layer: the kernel (delivery, effects, network, scheduler) 32 %
plus about 8 % in the builtins it calls (dict lookups, heap operations); the trace 32 %
(``Trace.emit_value`` 33 % cumulative, of which payload encoding 14 %, the batched sha256
1 %); the Lumenize model 19 %; building the frozen inputs and effects (attrs ``__init__``)
5 %. Nothing scales with the number of hosts or links per event (see the 1,000-client line).

What changed, measured (CPU seconds of the one-hour run, best of 3, before and after taking
turns in one session on a loaded 2-core machine): 1.055 -> 0.928 s, virtual/CPU 3,411 ->
3,880. Payloads (a message's data, a note's fields, a request's headers) had gone through
the standard library's C encoder with sorted keys at about 1.2 us each (2.2 us for a nested
note): stubbing that encoder out took the run from 1.08 to 0.76 s. They now go through
orjson where it writes the same bytes (trees of exact dicts, lists, tuples, str, int, bool
and None; anything else, floats above all, keeps the standard encoder): with everything
else equal, 1.04-1.07 s with ``--encoder json`` against 0.91-0.92 s with orjson, the same
trace hash. The rest: a ``Send`` applied in one call in the common case, timers re-armed
without the ``World.now`` property, notes recorded without an applier call, one lookup
less per record.

What stands between this and 8,640 (a day in 10 s, 0.417 s for this hour): the same hour
with nothing encoded or hashed (``Trace(hashed=False)``) takes about 0.58 s, so even a free
trace would reach about 6,200; the model's own code is about a fifth of the profile and the
kernel's per-event interpreter work (about 4 us an event: a delivery, its records, its
effects) is spread over a dozen small functions with no single hot spot left. Reaching
8,640 needs compiled code for the kernel and trace together (a mypyc build of the scheduler
alone is measured in ``kernel.py``: it does not move a real run) or a lighter model.

Measured since: ``scheduler``, ``world``, ``network`` and ``trace`` compiled together with
mypyc (their attrs classes moved to modules left interpreted, since mypyc type-checks class
bodies and ``field(factory=...)`` fails there; six ``type: ignore`` lines; the same trace
hash) run this hour in 0.91 of the interpreted time (whole processes, 6 pairs taking turns).
The compiled kernel still calls the interpreted model, builds attrs inputs and effects through
their generated ``__init__``, and encodes lines with the generated per-class encoders, which
is where the time is; a compiled kernel is not enough, and compiling the models would tie
every pack to a build step. Not adopted.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import resource
import sys
import time
from typing import Any

from gatewaysim.models.lumenize import ClientSpec, build_world, preset
from gatewaysim.models.lumenize.config import PRESETS
from gatewaysim.models.lumenize.world import LumenizeWorld, trace_header
from gatewaysim.simulator.clock import HOUR, MINUTE, SECOND, Time, format_duration
from gatewaysim.simulator.trace import Trace, use_orjson

_clock = time.perf_counter  # bound before any World installs the determinism guard
_cpu = time.process_time  # CPU seconds: what a loaded, shared machine does not inflate

BASE_CLIENTS = 100  # the size the other runs are compared with
MEAN_DROP_INTERVAL: Time = 10 * MINUTE
BROADCAST_EVERY: Time = MINUTE


def build(seed: int, clients: int, duration: Time, variant: str = "fixed",
          trace_path: str | None = None) -> LumenizeWorld:
    """The world and its day's script: drops per tab, a broadcast a minute."""
    config = preset(variant)  # real constants: heartbeat 30 s, access tokens 900 s
    header = {**trace_header(config, seed), "bench": "day_in_the_life", "clients": clients,
              "duration": duration}
    specs = [ClientSpec(f"user{i:03d}") for i in range(clients)]
    trace = Trace(header=header, keep=False, path=trace_path)
    lw = build_world(config, seed, specs, trace=trace)
    world = lw.world

    def drop(arg: tuple[str, Any]) -> None:
        address, rng = arg
        lw.drop_client(address)  # a no-op (and no record) while the tab has no socket
        _schedule_drop(address, rng)

    def _schedule_drop(address: str, rng: Any) -> None:
        gap = max(1, round(rng.expovariate(1.0) * MEAN_DROP_INTERVAL))
        if world.now + gap <= duration:
            world.schedule(world.now + gap, drop, (address, rng))

    for address in lw.clients:
        _schedule_drop(address, world.rng.stream(f"day.drops/{address}"))

    def broadcast(n: int) -> None:
        lw.publish(f"revision {n}")
        if world.now + BROADCAST_EVERY <= duration:
            world.schedule(world.now + BROADCAST_EVERY, broadcast, n + 1)

    world.schedule(BROADCAST_EVERY, broadcast, 1)
    return lw


SLICE: Time = MINUTE  # with two worlds, they take turns a virtual minute at a time


def run(seed: int, clients: int, duration: Time, variant: str, trace_path: str | None = None,
        base: int | None = None) -> list[tuple[LumenizeWorld, float, float]]:
    """Run the day; with ``base``, a second world of ``base`` tabs takes turns with it.

    Taking turns a virtual minute at a time (which goes first alternating), the two worlds
    meet the same spells of a shared machine, so the ratio of their rates holds even when
    the absolute rates do not. Each world's events are the same as in a run of its own.
    Returns ``(world, wall seconds, CPU seconds)`` per world.
    """
    worlds = [build(seed, clients, duration, variant, trace_path)]
    if base is not None:
        worlds.append(build(seed, base, duration, variant))
    # Everything built so far lives for the whole run: frozen, the collector's full passes
    # stop walking it. Without this, those passes are the one cost that grows with the
    # number of tabs (events/s at 1,000 clients fell to about 0.6 of the 100-client rate).
    gc.collect()
    gc.freeze()
    spent = [[0.0, 0.0] for _ in worlds]
    try:
        t, turn = 0, 0
        while True:
            t = duration if len(worlds) == 1 else min(duration, t + SLICE)
            for i in (range(len(worlds)) if turn % 2 == 0 else reversed(range(len(worlds)))):
                start, start_cpu = _clock(), _cpu()
                worlds[i].run_until(t)
                spent[i][0] += _clock() - start
                spent[i][1] += _cpu() - start_cpu
            turn += 1
            if t >= duration:
                break
    finally:
        gc.unfreeze()
    for lw in worlds:
        lw.trace.close()
    return [(lw, wall, cpu) for lw, (wall, cpu) in zip(worlds, spent)]


def peak_resident_mb() -> float:
    """The process's peak resident set so far (Linux reports kilobytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / (1024 * 1024)


def report(lw: LumenizeWorld, duration: Time, wall: float, cpu: float) -> None:
    trace = lw.trace
    connected = sum(1 for a in lw.clients if lw.client(a).statistics()["state"] == "connected")
    doc = lw.broadcaster().statistics()
    print(f"variant:        {lw.config.variant}")
    print(f"clients:        {len(lw.clients)} ({connected} connected at the end)")
    print(f"virtual time:   {format_duration(duration)}")
    print(f"broadcasts:     {doc['version']} ({len(doc['subscribers'])} subscribers at the end)")
    print(f"events:         {lw.world.scheduler.steps:,}")
    print(f"trace records:  {trace.count:,}")
    print(f"trace sha256:   {trace.sha256}")
    print(f"wall seconds:   {wall:.2f} (CPU {cpu:.2f}: virtual/CPU {duration / SECOND / cpu:,.0f})")
    print(f"records/s:      {trace.count / wall:,.0f}")
    print(f"events/s:       {lw.world.scheduler.steps / wall:,.0f}")
    print(f"peak resident:  {peak_resident_mb():.1f} MB")
    print(f"virtual/wall ratio: {duration / SECOND / wall:,.0f}")


def profile(seed: int, clients: int, duration: Time, variant: str, top: int) -> None:
    lw = build(seed, clients, duration, variant)
    profiler = cProfile.Profile()
    profiler.runcall(lw.run_until, duration)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one virtual hour (CI smoke run)")
    parser.add_argument("--clients", type=int, default=100, help="browser tabs (default 100)")
    parser.add_argument("--hours", type=float, default=None,
                        help="virtual hours to run (default 24, or 1 with --quick)")
    parser.add_argument("--seed", type=int, default=1, help="master seed (default 1)")
    parser.add_argument("--variant", choices=PRESETS, default="fixed",
                        help="model variant (default fixed; see the module docstring)")
    parser.add_argument("--trace", metavar="FILE", default=None,
                        help="also stream the trace to FILE as JSON Lines")
    parser.add_argument("--profile", type=int, nargs="?", const=25, default=None, metavar="N",
                        help="run under cProfile and print the top N functions by own time")
    parser.add_argument("--encoder", choices=("orjson", "json"), default="orjson",
                        help="encode record payloads with orjson where it writes the same "
                             "bytes (the default, when installed) or with the standard "
                             "encoder only; the trace hash is the same")
    args = parser.parse_args(argv)
    encoder = "orjson" if use_orjson(args.encoder == "orjson") else "json"
    hours = args.hours if args.hours is not None else (1 if args.quick else 24)
    if args.clients < 1 or hours <= 0:
        parser.error("--clients must be >= 1 and --hours > 0")
    duration = round(hours * HOUR)
    if args.profile is not None:
        profile(args.seed, args.clients, duration, args.variant, args.profile)
    compare = args.clients != BASE_CLIENTS
    runs = run(args.seed, args.clients, duration, args.variant, args.trace,
               base=BASE_CLIENTS if compare else None)
    lw, wall, cpu = runs[0]
    print(f"trace encoder:  {encoder}")
    report(lw, duration, wall, cpu)
    if compare:
        (base, base_wall, base_cpu) = runs[1]
        rate = lw.world.scheduler.steps / cpu
        base_rate = base.world.scheduler.steps / base_cpu
        print(f"\n{BASE_CLIENTS} clients, same hours, taking turns with it a virtual minute at "
              f"a time: {base.world.scheduler.steps:,} events in {base_wall:.2f} s (CPU "
              f"{base_cpu:.2f} s); trace sha256 {base.trace.sha256}")
        print(f"events/s (CPU) at {args.clients} clients: {rate:,.0f}; at {BASE_CLIENTS} "
              f"clients: {base_rate:,.0f}; ratio {rate / base_rate:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
