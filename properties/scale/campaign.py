"""A campaign at scale: one exploration as ``K`` shards, merged into one findings table.

Theory of operation. The campaign's example bound (``max_examples``, or a derandomized
profile's default) is split over a *fixed* number of shards, ``seeds``, chosen by the user
and independent of where they run. Shard ``i`` is an ordinary example-bounded
:func:`~gatewaysim.properties.explorer.explore` campaign with a seed of its own (shard 0 the
campaign's seed, the others seeds derived from it) and a fault mix of its own
(:mod:`.swarm`). Each shard is repeatable, so the merged result is too: one process, every
core or a Dask cluster run the same shards and so find the same things; only the wall time
differs.

The merge keeps, for each invariant, the smallest run any shard found (ties: the lowest
shard), with the shard and seed that found it, and its *findability*: how many shards hit
it, and how many examples that took (:mod:`.findability`). Failure files are written by
the coordinator, once per invariant, after the merge.

Faults of the campaign itself: a shard whose worker dies is run once more (same shard, same
result), then reported as failed; the findings of every other shard stand. Ctrl-C stops
the campaign, and the shards finished so far are merged, written and shown.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import attrs
from attrs import field, frozen

from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.rng import derive_seed

from ..explorer import (
    CI_EXAMPLES,
    ExploreReport,
    Finding,
    _settle_imports,
    check_out_dir,
    coverage_lines,
    failure_file_name,
    sometimes_lines,
)
from ..failure import Failure, write_failure
from ..monitor import Violation
from ..pack import Pack
from ..profiles import profile_settings
from ..progress import fit, plain_width, terminal_width, wrap
from ..run import RunSpec, resolve
from ..shrink import DEFAULT_REPLAYS
from ..steps import Step
from .database import drop_snapshot, take_snapshot
from .findability import Findability, Rate
from .runners import Dask, InProcess, Processes
from .shard import BUDGET_SPENT, ShardTask
from .swarm import swarm_mix

DEFAULT_SEEDS = 8
"""Shards in a campaign when ``--seeds`` is not given: enough for a first findability
estimate, and a fixed number, so the same command finds the same on any machine."""


def every_core() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def shard_seed(seed: int, index: int) -> int:
    """Shard 0 explores with the campaign's own seed; the others with seeds derived from it."""
    return seed if index == 0 else derive_seed(seed, f"campaign shard {index}")


def split(total: int, shards: int) -> list[int]:
    """``total`` examples over ``shards`` shards, the first ones taking the remainder."""
    return [total // shards + (1 if i < total % shards else 0) for i in range(shards)]


@frozen
class ShardOutcome:
    """How one shard ended: ``done`` (with its report), ``failed`` or ``not run``."""

    task: ShardTask
    status: str
    attempts: int = 0
    report: ExploreReport | None = field(default=None, repr=False)
    why: str = ""


@frozen
class CampaignFinding:
    """A distinct invariant the campaign violated: the smallest run of any shard."""

    invariant_id: str
    steps: tuple[Step, ...] = field(repr=False)
    violation: Violation = field(repr=False)
    trace_sha256: str = field(repr=False)
    shard: int
    seed: int
    findability: Findability
    shrunk: bool = True
    from_database: bool = False
    found_after_s: float = 0.0
    examples_to_find: int = 0
    path: Path | None = None


@frozen
class CampaignReport:
    pack: str
    variant: str
    seed: int
    profile: str
    backend: str
    elapsed_s: float
    shards: tuple[ShardOutcome, ...] = field(repr=False)
    findings: tuple[CampaignFinding, ...]
    interrupted: bool = False

    @property
    def done(self) -> tuple[ShardOutcome, ...]:
        return tuple(s for s in self.shards if s.status == "done")

    @property
    def failed_shards(self) -> tuple[ShardOutcome, ...]:
        return tuple(s for s in self.shards if s.status == "failed")

    @property
    def examples(self) -> int:
        return sum(s.report.examples for s in self.done if s.report is not None)

    @property
    def steps(self) -> int:
        return sum(s.report.steps for s in self.done if s.report is not None)

    @property
    def examples_per_s(self) -> float:
        return self.examples / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def sometimes(self) -> tuple[tuple[str, str, int], ...]:
        """Each ``sometimes`` monitor with the examples of every finished shard reaching it."""
        reached: Counter[str] = Counter()
        statements: dict[str, str] = {}
        for s in self.done:
            assert s.report is not None
            for i, statement, n in s.report.sometimes:
                reached[i] += n
                statements[i] = statement
        return tuple((i, statements[i], reached[i]) for i in statements)

    @property
    def unreached(self) -> tuple[str, ...]:
        return tuple(i for i, _, n in self.sometimes if n == 0) if self.done else ()

    @property
    def coverage(self) -> tuple[tuple[str, int], ...]:
        total: Counter[str] = Counter()
        for s in self.done:
            assert s.report is not None
            total.update(dict(s.report.coverage))
        return tuple(sorted(total.items()))

    @property
    def failed(self) -> bool:
        """A finding, an unreached ``sometimes``, or a shard that did not finish."""
        return bool(self.findings or self.unreached or len(self.done) < len(self.shards))

    def render(self) -> str:
        done, total = len(self.done), len(self.shards)
        lines = [
            f"explored {self.pack} (variant {self.variant}, profile {self.profile}, seed "
            f"{self.seed}) in {total} shards on {self.backend} for {self.elapsed_s:.1f}s: "
            f"{self.examples} examples, {self.steps} steps, {self.examples_per_s:.1f} "
            f"examples/s; shards: {done} done, {len(self.failed_shards)} failed, "
            f"{total - done - len(self.failed_shards)} not run"
            + ("; interrupted (Ctrl-C): the table holds the shards finished so far"
               if self.interrupted else ""),
            "",
        ]
        if self.findings:
            lines.append(campaign_table(self.findings))
        elif not done:
            lines.append("no shard finished: nothing to report")
        else:
            lines.append("no invariant violated" + ("" if done == total else
                                                     f" in the {done} shards that finished"))
        retried = [s for s in self.shards if s.attempts > 1]
        if retried or self.failed_shards:
            lines += ["", "shards that did not run cleanly:"]
            for s in self.shards:
                if s.attempts > 1 or s.status == "failed":
                    lines.append(f"  shard {s.task.index} (seed {s.task.seed}): {s.status} "
                                 f"after {s.attempts} attempt(s); {s.why}")
        incomplete = [s for s in self.done if s.report is not None
                      and s.report.stopped.startswith("incomplete")]
        for s in incomplete:
            lines.append(f"  shard {s.task.index}: {s.report.stopped}")  # type: ignore[union-attr]
        lines += sometimes_lines(self.sometimes, self.examples,
                                 {i for i, _, n in self.sometimes if n == 0})
        lines += ["", "swarm mixes (fault kinds each shard may enable):"]
        for s in self.shards:
            mix = "every kind" if s.task.swarm is None else ", ".join(s.task.swarm)
            lines.append(f"  shard {s.task.index}: {mix}")
        lines += coverage_lines(self.coverage, self.examples)
        return "\n".join(lines)


def campaign_table(findings: Sequence[CampaignFinding]) -> str:
    header = ("invariant", "steps", "shard", "seed", "shards that hit it",
              "examples per hit", "failure file")
    rows = []
    for f in findings:
        ex = f.findability.examples
        rows.append((f.invariant_id + (" (from the database)" if f.from_database else ""),
                     str(len(f.steps)) + ("" if f.shrunk else " (not fully shrunk)"),
                     str(f.shard), str(f.seed), str(f.findability.shards),
                     f"1 in {ex.of / ex.hits:.0f} ({ex.hits} in {ex.of})" if ex.hits else "-",
                     str(f.path) if f.path else "-"))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {1, 2, 3}

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([fmt(header), *(fmt(r) for r in rows)])


def merge(outcomes: Sequence[ShardOutcome]) -> list[CampaignFinding]:
    """One finding per invariant: the smallest run of any finished shard (ties: the lowest
    shard), with how many shards and examples it took."""
    done = sorted((s for s in outcomes if s.status == "done" and s.report is not None),
                  key=lambda s: s.task.index)
    best: dict[str, tuple[ShardOutcome, Finding]] = {}
    for s in done:
        assert s.report is not None
        for f in s.report.findings:
            kept = best.get(f.invariant_id)
            if kept is None or len(f.steps) < len(kept[1].steps):
                best[f.invariant_id] = (s, f)
    merged = []
    for invariant_id in sorted(best):
        s, f = best[invariant_id]
        hits = exposure = 0
        for other in done:
            assert other.report is not None
            hit = next((g for g in other.report.findings if g.invariant_id == invariant_id),
                       None)
            hits += hit is not None
            exposure += hit.examples_to_find if hit is not None else other.report.examples
        findability = Findability(Rate(hits, len(done)), Rate(hits, max(exposure, hits)))
        merged.append(CampaignFinding(
            invariant_id, f.steps, f.violation, f.trace_sha256, s.task.index, s.task.seed,
            findability, f.shrunk, f.from_database, f.found_after_s, f.examples_to_find))
    return merged


# ---------------------------------------------------------------------- progress
_COUNTS = re.compile(r"round \d+\s+(\d+) examples\s+(\d+) steps")
_FOUND = re.compile(r"found (\S+) after")


class Progress:
    """The whole campaign on one status line in a terminal; plain lines in a pipe or CI."""

    def __init__(self, stream: TextIO | None, shards: int, budget_s: float,
                 every_s: float) -> None:
        self.stream = stream
        self.tty = bool(stream is not None and stream.isatty() and not os.environ.get("CI"))
        self.wrap_at = None if self.tty else plain_width(stream)  # plain lines fit the width
        self.shards = shards
        self.start = time.monotonic()
        self.deadline = self.start + budget_s
        self.every_s = every_s
        self.next_line = self.start + every_s
        self.live: dict[int, tuple[int, int]] = {}  # running shard -> (examples, steps)
        self.finished_examples = 0
        self.finished_steps = 0
        self.done = 0
        self.failed = 0
        self.found: list[str] = []
        self.width = 0

    def say(self, text: str) -> None:
        """A line of its own (above the status line in a terminal)."""
        if self.stream is None:
            return
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0
        for part in wrap(text, self.wrap_at):
            print(part, file=self.stream, flush=True)

    def line(self, index: int, text: str) -> None:
        counts = _COUNTS.search(text)
        if counts:
            self.live[index] = (int(counts.group(1)), int(counts.group(2)))
        found = _FOUND.search(text)
        if found and found.group(1) not in self.found:
            self.found.append(found.group(1))

    def shard_done(self, index: int, report: ExploreReport) -> None:
        self.live.pop(index, None)
        self.done += 1
        self.finished_examples += report.examples
        self.finished_steps += report.steps
        for f in report.findings:
            if f.invariant_id not in self.found:
                self.found.append(f.invariant_id)

    def shard_lost(self, index: int, final: bool) -> None:
        self.live.pop(index, None)
        self.failed += final

    def status(self) -> str:
        now = time.monotonic()
        examples = self.finished_examples + sum(e for e, _ in self.live.values())
        steps = self.finished_steps + sum(s for _, s in self.live.values())
        elapsed = max(now - self.start, 1e-9)
        found = ", ".join(self.found) or "none"
        return (f"{elapsed:6.1f}s  shards {self.done}/{self.shards} done"
                f"{f', {self.failed} failed' if self.failed else ''}  {examples} examples  "
                f"{steps / elapsed:.0f} steps/s  findings: {found}  "
                f"budget left {max(self.deadline - now, 0):.0f}s")

    def tick(self, force: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if self.tty:  # rewritten in place from this thread (workers are forked from it)
            text = fit(self.status(), terminal_width(self.stream) - 1)
            self.stream.write("\r" + text.ljust(self.width))
            self.stream.flush()
            self.width = len(text)
        elif force or now >= self.next_line:
            self.next_line = now + self.every_s
            for part in wrap("  " + self.status(), self.wrap_at):
                print(part, file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty and self.width and self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


@frozen
class ShardEvent:
    """What happened to a shard, for a listener (a test, a dashboard)."""

    kind: str
    """``started``, ``line``, ``finished`` or ``failed``."""
    shard: int
    attempt: int
    pid: int | None
    text: str = ""


class _Coordinator:
    """The runners' :class:`~.runners.Sink`: books every shard, decides retries."""

    def __init__(self, tasks: Sequence[ShardTask], progress: Progress, retries: int,
                 listeners: Sequence[Callable[[ShardEvent], None]]) -> None:
        self.outcomes = {t.index: ShardOutcome(t, "not run") for t in tasks}
        self.progress = progress
        self.retries = retries
        self.listeners = listeners
        self.current: dict[int, tuple[int, int | None]] = {}

    def _tell(self, kind: str, task: ShardTask, text: str = "") -> None:
        attempt, pid = self.current.get(task.index, (0, None))
        for listen in self.listeners:
            listen(ShardEvent(kind, task.index, attempt, pid, text))

    def started(self, task: ShardTask, attempt: int, pid: int | None) -> None:
        self.current[task.index] = (attempt, pid)
        why = self.outcomes[task.index].why  # a retry keeps what the last attempt died of
        self.outcomes[task.index] = ShardOutcome(task, "running", attempt, None, why)
        self._tell("started", task)

    def line(self, task: ShardTask, text: str) -> None:
        self.progress.line(task.index, text)
        self._tell("line", task, text)

    def finished(self, task: ShardTask, report: ExploreReport) -> None:
        attempts = self.outcomes[task.index].attempts
        self.outcomes[task.index] = ShardOutcome(task, "done", attempts, report,
                                                 self.outcomes[task.index].why)
        self.progress.shard_done(task.index, report)
        found = ", ".join(f.invariant_id for f in report.findings) or "nothing"
        self.progress.say(f"  shard {task.index} (seed {task.seed}) done: {report.examples} "
                          f"examples, found {found}")
        self._tell("finished", task)
        self.progress.tick(force=True)

    def failed(self, task: ShardTask, attempt: int, why: str, retry: bool) -> bool:
        again = retry and attempt <= self.retries
        status = "running" if again else "not run" if why == BUDGET_SPENT else "failed"
        self.outcomes[task.index] = ShardOutcome(task, status, attempt, None, why)
        self.progress.shard_lost(task.index, final=status == "failed")
        if status == "not run":
            self.progress.say(f"  shard {task.index} (seed {task.seed}): {why}")
        else:
            self.progress.say(f"  shard {task.index} (seed {task.seed}) lost on attempt "
                              f"{attempt}: {why}; "
                              f"{'running it again' if again else 'reported as failed'}")
        self._tell("failed", task, why)
        return again

    def tick(self) -> None:
        self.progress.tick()


def plan(pack: Pack, variant: str, *, seeds: int, seed: int, profile: str,
         max_examples: int | None, budget_s: float, parallel: int, shrink_replays: int,
         database: Path | None, snapshot: Path | None,
         progress_every_s: float, deadline: float | None = None) -> list[ShardTask]:
    """The campaign's shards: seeds, fault mixes and example bounds."""
    if seeds < 1:
        raise ConfigError(f"a campaign needs at least one shard, not {seeds}")
    base = profile_settings(profile)
    total = max_examples if max_examples is not None else (
        CI_EXAMPLES if base.derandomize else None)
    if total is not None and total < seeds:
        raise ConfigError(f"{total} examples cannot be split over {seeds} shards: give at "
                          f"least one example per shard")
    bounds: list[int | None] = list(split(total, seeds)) if total is not None else [None] * seeds
    # With no example bound the shards share the budget: ``parallel`` at a time.
    shard_budget = budget_s if total is not None else max(
        budget_s * min(parallel, seeds) / seeds, 1.0)
    tasks = [ShardTask(i, pack.name, variant, shard_seed(seed, i), profile, bounds[i],
                       shard_budget, shrink_replays, swarm_mix(pack, seed, i), pack.source,
                       str(database) if database is not None else None,
                       str(snapshot) if snapshot is not None else None, progress_every_s,
                       deadline)
             for i in range(seeds)]
    if len({t.seed for t in tasks}) != len(tasks):
        raise ConfigError(f"seed {seed}: two shards drew the same seed; choose another seed")
    return tasks


def run_campaign(
    pack: str | Pack,
    variant: str = "faithful",
    *,
    seeds: int = DEFAULT_SEEDS,
    workers: int | None = None,
    dask: str | None = None,
    budget_s: float = 60.0,
    max_examples: int | None = None,
    seed: int = 0,
    out_dir: str | Path | None = "findings",
    profile: str = "ci",
    database: str | Path | None = None,
    progress: TextIO | None = sys.stderr,
    progress_every_s: float = 5.0,
    shrink_replays: int = DEFAULT_REPLAYS,
    retries: int = 1,
    listeners: Sequence[Callable[[ShardEvent], None]] = (),
) -> CampaignReport:
    """Explore ``pack``/``variant`` as ``seeds`` shards on ``workers`` processes (default:
    every core; 1: one after another in this process) or, with ``dask``, on the
    ``dask.distributed`` cluster at that address (``local``: a ``LocalCluster`` of
    ``workers`` processes).

    ``max_examples`` (a derandomized profile's default: 1,000) is the whole campaign's
    bound, split over the shards; with it the merged findings do not depend on ``workers``
    or the backend. ``database`` is the example database directory every shard shares
    (default: the profile's, when it is a directory). A shard whose worker dies is run
    ``retries`` more times before it is reported as failed.

    ``budget_s`` bounds the campaign's wall time. With an example bound it is a safety stop:
    a shard it cuts short is reported ``incomplete``, one it leaves unstarted ``not run``
    (both make the campaign fail rather than pass on less than was asked). Without one,
    the shards share it, ``workers`` at a time.
    """
    pack = resolve(pack)
    pack.config_of(variant)  # an unknown variant is an error before any worker starts
    base = profile_settings(profile)
    if not budget_s > 0:
        raise ConfigError(f"budget must be greater than zero, not {budget_s}")
    if max_examples is not None and max_examples < 1:
        raise ConfigError(f"max examples must be at least 1, not {max_examples}")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be at least 1, not {workers}")
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        check_out_dir(out)
    parallel = workers if workers is not None else every_core()
    if database is None and base.database is not None:
        database = getattr(base.database, "path", None)
    db = Path(database) if database is not None else None
    snapshot = take_snapshot(db) if db is not None else None
    runner = (Dask(dask, parallel, warm=_settle_imports) if dask is not None
              else InProcess() if parallel == 1 else Processes(parallel))
    tasks = plan(pack, variant, seeds=seeds, seed=seed, profile=profile,
                 max_examples=max_examples, budget_s=budget_s, parallel=parallel,
                 shrink_replays=shrink_replays, database=db, snapshot=snapshot,
                 progress_every_s=min(progress_every_s, 1.0), deadline=time.time() + budget_s)
    meter = Progress(progress, len(tasks), budget_s, progress_every_s)
    meter.say(f"exploring {pack.name} (variant {variant}, profile {profile}, seed {seed}) as "
              f"{len(tasks)} shards on {runner.name}"
              + (f", example database {db}" if db is not None else ""))
    coordinator = _Coordinator(tasks, meter, retries, listeners)
    interrupted = False
    try:
        runner.run(tasks, coordinator)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        meter.close()
        if snapshot is not None:
            drop_snapshot(snapshot)
    outcomes = tuple(o if o.status != "running" else ShardOutcome(o.task, "not run",
                                                                  o.attempts, None, o.why)
                     for o in (coordinator.outcomes[t.index] for t in tasks))
    findings = [_write(pack, variant, f, out) for f in merge(outcomes)]
    return CampaignReport(pack.name, variant, seed, profile, runner.name,
                          time.monotonic() - meter.start, outcomes, tuple(findings),
                          interrupted)


def _write(pack: Pack, variant: str, finding: CampaignFinding,
           out: Path | None) -> CampaignFinding:
    """The finding's failure file, written once (with its findability)."""
    if out is None:
        return finding
    config = pack.config_of(variant)
    spec = RunSpec(pack.name, variant, config.to_dict(), finding.seed, finding.steps)
    failure = Failure(spec, finding.invariant_id, pack.monitor(finding.invariant_id).statement,
                      finding.violation, finding.trace_sha256, finding.found_after_s,
                      finding.examples_to_find, pack.source, finding.shrunk,
                      finding.findability)
    out.mkdir(parents=True, exist_ok=True)
    path = write_failure(out / failure_file_name(pack.name, variant, finding.invariant_id), failure)
    return attrs.evolve(finding, path=path)
