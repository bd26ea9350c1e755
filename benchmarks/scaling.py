"""Campaign scaling: one example-bounded campaign on 1 and 2 worker processes and on a
2-worker Dask ``LocalCluster``, examples/s of each and the speed-up over 1 worker.

    python benchmarks/scaling.py [--quick] [--pack echo] [--variant faithful]

The campaign is the same each time (same seeds, same shards, same example bound: the
merged findings must agree, and the script checks that they do), so only the wall time
differs. Times are end to end, as a user sees them, from the call to the merged findings.
The *cold* LocalCluster figure includes starting the cluster (its workers forked from this
process, as ``--dask local`` does), every shard's work on it, and stopping it; the *warm*
one sends the same campaign to a cluster with the same settings that is already up and has
imported gatewaysim (``--dask tcp://...`` to a long-lived cluster). The line before them
times starting and stopping such a cluster alone: the whole difference between the two.

Targets on two cores: >= 1.8x with 2 processes, >= 1.6x with the LocalCluster. On a
machine other people are loading, two processes do not get two cores, so each line also
gives the load average and examples per CPU-second (the CPU the campaign's processes
used): if that stays level from 1 to 2 workers, sharding costs nothing and the missing
speed-up is cores the machine did not have to give. The first line measures that directly:
how much faster two processes run a plain CPU loop than one (2.0x on two idle cores).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import time
from typing import Any

from gatewaysim.properties.scale.campaign import CampaignReport, run_campaign
from gatewaysim.properties.scale.runners import LOCAL_CLUSTER


def _cpu() -> float:
    """CPU seconds of this process and of every child it has waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _run(label: str, args: argparse.Namespace, cpu: Any = _cpu,
         **backend: object) -> tuple[float, CampaignReport]:
    start, cpu_start = time.monotonic(), cpu()
    report = run_campaign(args.pack, args.variant, seeds=args.seeds,
                          max_examples=args.examples, seed=1, profile="ci", out_dir=None,
                          progress=None, budget_s=3600, **backend)  # type: ignore[arg-type]
    wall, used = time.monotonic() - start, cpu() - cpu_start
    rate = report.examples / wall
    print(f"{label:<30} {report.examples:>6} examples  {wall:6.1f}s  {rate:7.1f} examples/s  "
          f"{report.examples / used:6.1f} per CPU-s  load {os.getloadavg()[0]:.1f}",
          flush=True)
    return rate, report


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def _capacity(n: int = 10_000_000) -> float:
    """How many times faster two processes do two loops' work than one process does one's,
    times two: the cores this machine gives right now (2.0 on two idle cores)."""
    start = time.monotonic()
    _spin(n)
    one = time.monotonic() - start
    start = time.monotonic()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_spin, [n, n])
    return 2 * one / (time.monotonic() - start)


def _outcome(report: CampaignReport) -> tuple[object, ...]:
    """What the campaign decided: each shard's status, examples and steps, and the merged
    findings (a pack with no bug still has its shards' counts to agree on)."""
    shards = tuple((s.status, s.report.examples if s.report else None,
                    s.report.steps if s.report else None) for s in report.shards)
    return shards, {f.invariant_id: (len(f.steps), f.shard) for f in report.findings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller campaign")
    parser.add_argument("--pack", default="echo")
    parser.add_argument("--variant", default="faithful")
    args = parser.parse_args()
    args.seeds, args.examples = (8, 800) if args.quick else (16, 3200)
    print(f"campaign: {args.pack} ({args.variant}), {args.seeds} shards, {args.examples} "
          f"examples, profile ci; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"cores this machine gives two processes now (a plain CPU loop): {_capacity():.2f}")
    one, ref = _run("1 worker process", args, workers=1)
    two, procs = _run("2 worker processes", args, workers=2)
    local, dask = _run("dask LocalCluster, 2 workers", args, workers=2, dask="local")
    warm, running = _on_a_running_cluster(args)
    print(f"starting and stopping a 2-worker LocalCluster alone: {_start_stop():.2f}s")
    same = _outcome(ref) == _outcome(procs) == _outcome(dask) == _outcome(running)
    print(f"same shards, counts and findings on every backend: {'yes' if same else 'NO'}")
    cold_x, warm_x = f"{local / one:.2f}x", f"{warm / one:.2f}x"
    cluster = (f"{cold_x} cold (started and stopped by the campaign), {warm_x} warm (already "
               f"running)" if cold_x != warm_x else f"{cold_x} cold and warm alike")
    print(f"speed-up over 1 worker in examples/s, end to end, load {os.getloadavg()[0]:.1f}: "
          f"2 processes {two / one:.2f}x (target >= 1.8x); LocalCluster {cluster} "
          f"(target >= 1.6x)")


def _on_a_running_cluster(args: argparse.Namespace) -> tuple[float, CampaignReport]:
    """The campaign sent to the address of a LocalCluster started (and warmed) beforehand,
    as ``--dask tcp://...`` sends it to a cluster that is already up."""
    import dask
    from distributed import Client, LocalCluster

    with (dask.config.set(LOCAL_CLUSTER),
          LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                       dashboard_address=None, silence_logs=40) as cluster,
          Client(cluster) as client):
        client.run(_warm)  # import gatewaysim in each worker, as a long-lived one has

        def cpu() -> float:
            return _cpu() + sum(client.run(_worker_cpu).values())

        return _run("dask cluster already up", args, cpu=cpu, dask=cluster.scheduler_address,
                    workers=2)


def _start_stop() -> float:
    """Seconds to start a 2-worker LocalCluster as ``--dask local`` does, and stop it."""
    import dask
    from distributed import Client, LocalCluster

    start = time.monotonic()
    with (dask.config.set(LOCAL_CLUSTER),
          LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                       dashboard_address=None, silence_logs=40) as cluster,
          Client(cluster) as client):
        client.run(os.getpid)  # both workers answer
    return time.monotonic() - start


def _warm() -> None:
    from gatewaysim.properties.explorer import _settle_imports

    _settle_imports()


def _worker_cpu() -> float:
    import psutil

    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


if __name__ == "__main__":
    main()
