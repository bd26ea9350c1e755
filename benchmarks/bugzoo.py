"""Bug zoo benchmark: how fast exploration finds each planted bug and each real weakness of
the Lumenize model, and how small it shrinks them.

    python benchmarks/bugzoo.py [--quick] [--seeds N] [--workers N] [--dask ADDRESS|local]
                                [--hypothesis-replays N] [--bug NAME ...]

Each zoo bug is hunted as variant ``mutant:<name>`` (planted on top of ``fixed``), once per
seed (``gatewaysim.properties.lumenize.zoo.hunt``: the search stops at the first violation,
then shrinks that run with budgets of its own, Hypothesis's shrinker and then the
fault-plan pass). The real weaknesses come from one ``faithful`` exploration per seed
(``explore``, which finds several in one campaign and shrinks each the same way). Every
hunt and exploration is a task on the campaign runners of
``gatewaysim.properties.scale`` (worker processes on every core by default, or a Dask
cluster), so the benchmark uses the whole machine. Hunts and explorations are seeded and
bounded by examples, so in this process or in forked worker processes (any number) the
same seeds give the same findings and minimal runs; only the wall time changes. (A Dask
worker does not load this script, and Hypothesis draws constants from the local modules
a process has loaded, so there the draws may differ.)

Time to find: a hunt's search up to its violation, an exploration's "found after"; both
are wall time in a worker, so they grow with the machine's load (the example counts do
not). Minimal steps: the shrunk run. A hunt judges only the invariant the zoo names for
its bug (``zoo.CAUGHT_BY``; the others are muted): a weakness of ``fixed`` itself, or
another invariant the bug also breaks, would otherwise end a seed's search before the
named one is reached. Each minimal run is replayed under ``fixed`` too, and a row says so
if it fails there as well (the run would then not show the planted bug). ``--quick`` uses
one seed; ``--bug NAME`` hunts only that bug. The summary line comes last: rows found, the
median over rows of the median time to find, and the largest minimal run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from gatewaysim.models.lumenize.config import MUTANTS
from gatewaysim.properties.explorer import ExploreReport
from gatewaysim.properties.lumenize.zoo import (
    CAUGHT_BY,
    HYPOTHESIS_REPLAYS,
    Hunt,
    HuntTask,
    run_zoo_task,
)
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.scale.campaign import every_core
from gatewaysim.properties.scale.database import drop_snapshot, take_snapshot
from gatewaysim.properties.scale.runners import Dask, InProcess, Processes
from gatewaysim.properties.scale.shard import ShardTask
from gatewaysim.properties.shrink import DEFAULT_REPLAYS

REAL_FINDINGS = (
    "lumenize.no_pingpong",
    "lumenize.subscribed_in_rows",
    "lumenize.client_calls_settle",
    "lumenize.rejected_upgrade_stops",
    "lumenize.herd_dispersed",
    "lumenize.one_connected",
    "lumenize.single_flight_refresh",
    "lumenize.subscription_required",
)
"""The real weaknesses of ``faithful`` (``tests/properties/lumenize/test_minimal_runs.py``
holds a hand-checked run of each); anything else a faithful exploration finds gets a row
too, marked as not in this list."""
HUNT_EXAMPLES = 5000
"""Examples a hunt may generate (per bug and seed) before it counts as a miss."""
FAITHFUL_EXAMPLES = 1000
"""Examples of each seed's faithful exploration."""
SAFETY_S = 1800.0
"""Wall-clock safety stop of one task: a task it cuts short says so in its row."""
TARGET_STEPS = 6
TARGET_FIND_S = 10.0


class _Book:
    """The runners' sink: keeps each task's result, retries a task whose worker died once,
    and prints a line as each task ends."""

    def __init__(self, tasks: list[Any], labels: dict[int, str]) -> None:
        self.total = len(tasks)
        self.labels = labels
        self.results: dict[int, Hunt | ExploreReport] = {}
        self.failures: dict[int, str] = {}
        self.start = time.monotonic()

    def _say(self, text: str) -> None:
        done = len(self.results) + len(self.failures)
        print(f"  {time.monotonic() - self.start:6.0f}s  [{done}/{self.total}] {text}",
              file=sys.stderr, flush=True)

    def started(self, task: Any, attempt: int, pid: int | None) -> None:
        pass

    def line(self, task: Any, text: str) -> None:
        pass

    def finished(self, task: Any, report: Hunt | ExploreReport) -> None:
        self.results[task.index] = report
        label = self.labels[task.index]
        if isinstance(report, Hunt):
            found = (f"{report.invariant_id} after {report.examples} examples "
                     f"({report.seconds:.1f}s), minimal run {len(report.steps)} steps "
                     f"(from {report.found_steps}, shrunk in {report.shrink_s:.1f}s)"
                     if report.invariant_id else f"nothing in {report.examples} examples")
        else:
            found = ", ".join(f"{f.invariant_id} ({len(f.steps)})" for f in report.findings)
        self._say(f"{label}: {found}")

    def failed(self, task: Any, attempt: int, why: str, retry: bool) -> bool:
        again = retry and attempt <= 1
        if not again:
            self.failures[task.index] = why
        self._say(f"{self.labels[task.index]} lost on attempt {attempt}: {why}"
                  + ("; running it again" if again else ""))
        return again

    def tick(self) -> None:
        pass


Hit = tuple[float, int, int, bool]
"""One seed that found a row's bug: seconds and examples to find, minimal steps, and
whether the fault-plan pass finished."""


def _rows(seeds: list[int], bugs: list[str], faithful_too: bool,
          tasks: dict[int, tuple[str, int]], book: _Book
          ) -> list[tuple[str, str, list[Hit], list[str]]]:
    """(row name, invariant, hits, notes) per real finding and per zoo bug."""
    faithful: dict[int, ExploreReport] = {}
    hunts: dict[tuple[str, int], Hunt] = {}
    lost: dict[tuple[str, int], str] = {}
    for index, (what, seed) in tasks.items():
        result = book.results.get(index)
        if result is None:
            lost[(what, seed)] = book.failures.get(index, "not run")
        elif isinstance(result, ExploreReport):
            faithful[seed] = result
        else:
            hunts[(what, seed)] = result
    rows = []
    found_ids = sorted({f.invariant_id for r in faithful.values() for f in r.findings})
    real = [*REAL_FINDINGS, *(i for i in found_ids if i not in REAL_FINDINGS)]
    for invariant_id in real if faithful_too else []:
        hits, notes = [], []
        for seed in seeds:
            report = faithful.get(seed)
            if report is None:
                notes.append(f"seed {seed}: {lost.get(('faithful', seed), 'not run')}")
                continue
            f = next((f for f in report.findings if f.invariant_id == invariant_id), None)
            if f is not None:
                hits.append((f.found_after_s, f.examples_to_find, len(f.steps), f.shrunk))
            if report.stopped.startswith("incomplete"):
                notes.append(f"seed {seed}: {report.stopped}")
        name = "real: " + invariant_id.removeprefix("lumenize.")
        if invariant_id not in REAL_FINDINGS:
            notes.append("not in the known list")
        rows.append((name, invariant_id, hits, notes))
    for mutant in bugs:
        expected = CAUGHT_BY[mutant]
        hits, notes = [], []
        for seed in seeds:
            h = hunts.get((mutant, seed))
            if h is None:
                notes.append(f"seed {seed}: {lost.get((mutant, seed), 'not run')}")
            elif h.invariant_id == expected:
                hits.append((h.seconds, h.examples, len(h.steps), h.shrunk))
                fixed = RunSpec.of("lumenize", h.steps, variant="fixed", seed=h.seed,
                                   judge=expected)
                if fixed.execute().violation is not None:
                    notes.append(f"seed {seed}: its minimal run fails under fixed too")
            elif h.invariant_id is not None:
                notes.append(f"seed {seed}: {h.invariant_id} came first")
            elif h.stopped != "example bound reached":
                notes.append(f"seed {seed}: {h.stopped}")
        rows.append(("zoo: " + mutant, expected, hits, notes))
    return rows


def _table(rows: list[tuple[str, str, list[Hit], list[str]]], seeds: int) -> list[str]:
    header = ("bug", "caught by", "found", "median find", "median examples", "median steps",
              "max steps", "notes")
    table = [header]
    for name, invariant_id, hits, notes in rows:
        cut = sum(not shrunk for *_, shrunk in hits)
        if cut:
            notes = [*notes, f"{cut} not fully shrunk"]
        if hits:
            table.append((name, invariant_id, f"{len(hits)}/{seeds}",
                          f"{statistics.median(t for t, _, _, _ in hits):.1f}s",
                          f"{statistics.median(e for _, e, _, _ in hits):g}",
                          f"{statistics.median(n for _, _, n, _ in hits):g}",
                          str(max(n for _, _, n, _ in hits)), "; ".join(notes)))
        else:
            table.append((name, invariant_id, f"0/{seeds}", "-", "-", "-", "-",
                          "; ".join(notes)))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return ["  ".join(c.ljust(w) if i in (0, 1, 7) else c.rjust(w)
                      for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in table]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: every core; 1: this process)")
    parser.add_argument("--dask", metavar="ADDRESS", default=None,
                        help="run the tasks on this dask scheduler ('local': a LocalCluster)")
    parser.add_argument("--hypothesis-replays", type=int, default=HYPOTHESIS_REPLAYS,
                        metavar="N", help="budget of Hypothesis's shrinker in each hunt "
                        f"(default {HYPOTHESIS_REPLAYS}; 0: the fault-plan pass alone)")
    parser.add_argument("--bug", action="append", default=None, metavar="NAME",
                        help="only this zoo bug (repeatable), and no faithful exploration")
    args = parser.parse_args()
    n_seeds = args.seeds if args.seeds is not None else 1 if args.quick else 3
    if n_seeds < 1 or (args.workers is not None and args.workers < 1):
        print("bugzoo: --seeds and --workers must be at least 1", file=sys.stderr)
        return 2
    if args.hypothesis_replays < 0:
        print("bugzoo: --hypothesis-replays must be at least 0", file=sys.stderr)
        return 2
    seeds = list(range(n_seeds))
    bugs = sorted(MUTANTS) if args.bug is None else sorted(set(args.bug))
    if set(bugs) - set(MUTANTS):
        print(f"bugzoo: no zoo bug {sorted(set(bugs) - set(MUTANTS))[0]!r}", file=sys.stderr)
        return 2
    faithful_too = args.bug is None
    workers = args.workers or every_core()
    runner = (Dask(args.dask, workers) if args.dask is not None
              else InProcess() if workers == 1 else Processes(workers))

    # Each faithful exploration gets an empty example database of its own: a time to find
    # must not come from a failure an earlier run left in .hypothesis/.
    scratch = Path(tempfile.mkdtemp(prefix="bugzoo-"))
    snapshot = take_snapshot(scratch / "db")
    tasks: list[Any] = []
    what: dict[int, tuple[str, int]] = {}
    labels: dict[int, str] = {}
    for seed in seeds if faithful_too else []:  # the long ones first: no worker ends alone
        i = len(tasks)
        tasks.append(ShardTask(i, "lumenize", "faithful", seed, "dev", FAITHFUL_EXAMPLES,
                               SAFETY_S, DEFAULT_REPLAYS, None, None, str(scratch / "db"),
                               str(snapshot)))
        what[i], labels[i] = ("faithful", seed), f"faithful seed {seed}"
    for mutant in bugs:
        for seed in seeds:
            i = len(tasks)
            tasks.append(HuntTask(i, f"mutant:{mutant}", seed, HUNT_EXAMPLES,
                                  judge=CAUGHT_BY[mutant], budget_s=SAFETY_S,
                                  hypothesis_replays=args.hypothesis_replays))
            what[i], labels[i] = (mutant, seed), f"zoo {mutant} seed {seed}"

    load_before = os.getloadavg()[0]
    print(f"bug zoo: {len(bugs)} planted bug(s)"
          f"{' and the faithful model' if faithful_too else ''}, {n_seeds} seed(s), "
          f"{len(tasks)} tasks on {runner.name}; load {load_before:.1f} on "
          f"{os.cpu_count()} cores", file=sys.stderr, flush=True)
    book = _Book(tasks, labels)
    start = time.monotonic()
    interrupted = False
    try:
        runner.run(tasks, book, run_zoo_task)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        drop_snapshot(snapshot)
        shutil.rmtree(scratch, ignore_errors=True)
    wall = time.monotonic() - start

    rows = _rows(seeds, bugs, faithful_too, what, book)
    print("\n".join(_table(rows, n_seeds)))
    found_rows = [(name, hits) for name, _, hits, _ in rows if hits]
    medians = [statistics.median(t for t, _, _, _ in hits) for _, hits in found_rows]
    largest = max(((n, name) for name, hits in found_rows for _, _, n, _ in hits),
                  default=(0, "-"))
    searches = sum(len(hits) for _, hits in found_rows)
    cut = sum(not s for _, hits in found_rows for *_, s in hits)
    kinds = Counter(type(r).__name__ for r in book.results.values())
    print(f"\n{n_seeds} seed(s), {len(tasks)} tasks ({kinds['Hunt']} hunts, "
          f"{kinds['ExploreReport']} explorations finished"
          f"{', interrupted (Ctrl-C)' if interrupted else ''}) on {runner.name} in "
          f"{wall:.0f}s; load {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"shrinking: Hypothesis's shrinker {args.hypothesis_replays} replays, then the "
          f"fault-plan pass {DEFAULT_REPLAYS}, per finding")
    print(f"targets: every bug and real finding <= {TARGET_STEPS} steps, median time to "
          f"find < {TARGET_FIND_S:g}s"
          + (f"; {cut} minimal run(s) not fully shrunk" if cut else ""))
    median = statistics.median(medians) if medians else float("nan")
    print(f"bugzoo: {len(found_rows)}/{len(rows)} found ({searches} of "
          f"{len(rows) * n_seeds} searches), median time to find {median:.1f}s, "
          f"max minimal steps {largest[0]} ({largest[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
