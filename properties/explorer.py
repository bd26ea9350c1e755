"""The explorer: a time-boxed campaign that finds every distinct invariant violation it can.

A campaign runs in *rounds*. Each round is one Hypothesis run of the pack's state machine
(``report_multiple_bugs`` on, so one round can find several invariants). When a round
finds invariants, they are recorded with their shrunk runs and muted, and the next round
looks for the rest: one bug that is easy to hit would otherwise hide every other. A round
that finds nothing new ends a ``ci`` campaign (derandomized: running it again would find
the same nothing) or an explicitly bounded one (``max_examples``); otherwise the next round
starts from a new seed until the wall-clock budget is spent.

The budget is wall-clock time, read by the explorer only (simulated code never sees it).
When it runs out mid-round, the campaign stops at the next example and keeps, for each
invariant already seen, the shortest failing run seen so far (every run Hypothesis
executes while shrinking is a real, reproducible failing run).

Each finding is replayed once more through :mod:`gatewaysim.properties.replay` to record its
trace hash, then written as a failure file: one file per distinct invariant.

Progress goes to a :class:`~gatewaysim.properties.progress.StatusLine`: one live line with
the budget left in a terminal, plain lines in a pipe or in CI. Ctrl-C stops the campaign
with :class:`Interrupted`, which carries the report so far: the findings already shrunk
(their failure files written) and the invariants seen but not shrunk yet.

``sometimes`` monitors are counted once per example that reaches them. One that no example
reached is reported as a finding of its own (with no run to replay: the point is that
nothing happened), so a campaign whose faults never bit does not pass in silence.
"""

from __future__ import annotations

import re
import signal
import sys
import threading
import time
import unittest
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TextIO

from attrs import field, frozen
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.database import ExampleDatabase
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from gatewaysim.simulator.config import PackConfig
from gatewaysim.simulator.errors import ConfigError, DeterminismError
from gatewaysim.simulator.files import temp_sibling
from gatewaysim.simulator.rng import derive_seed

from .failure import Failure, write_failure
from .machine import OutOfTime, RunRecord, build_machine
from .monitor import InvariantViolated, Violation
from .pack import Pack
from .profiles import profile_settings
from .progress import StatusLine
from .replay import replay
from .run import RunSpec, resolve
from .shrink import DEFAULT_REPLAYS, shrink
from .steps import Step


@frozen
class Finding:
    """A distinct invariant the campaign violated, with its minimal run."""

    invariant_id: str
    steps: tuple[Step, ...] = field(repr=False)
    violation: Violation = field(repr=False)
    found_after_s: float
    examples_to_find: int
    path: Path | None
    trace_sha256: str = field(repr=False)
    round: int = 1
    shrunk: bool = True
    """The fault-plan pass finished: no single deletion, merge or weakening left would make
    the run smaller. ``False``: its replay budget ran out first."""
    from_database: bool = False
    """First seen replaying the example database (an earlier campaign's failure)."""


@frozen
class ExploreReport:
    pack: str
    variant: str
    seed: int
    profile: str
    budget_s: float
    elapsed_s: float
    examples: int
    steps: int
    rounds: int
    stopped: str
    findings: tuple[Finding, ...]
    coverage: tuple[tuple[str, int], ...] = field(repr=False)
    sometimes: tuple[tuple[str, str, int], ...] = field(default=(), repr=False)
    """Each ``sometimes`` monitor: id, statement, and how many examples reached it."""
    from_database: tuple[str, ...] = field(default=(), repr=False)
    """Findings first seen while replaying the example database (earlier campaigns')."""
    interrupted: bool = False
    """Stopped by Ctrl-C: ``findings`` are the ones shrunk and written before it."""
    unshrunk: tuple[str, ...] = field(default=(), repr=False)
    """Invariants seen violated but not yet shrunk when the campaign was interrupted (they
    have no minimal run, so no failure file and no row in the table)."""

    @property
    def unreached(self) -> tuple[str, ...]:
        """``sometimes`` monitors no example reached: findings too (unless the campaign was
        interrupted: it did not get the chance)."""
        if self.interrupted:
            return ()
        return tuple(i for i, _, n in self.sometimes if n == 0)

    @property
    def failed(self) -> bool:
        """An invariant was violated, or a situation the campaign must reach was not."""
        return bool(self.findings or self.unreached)

    @property
    def examples_per_s(self) -> float:
        return self.examples / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def render(self) -> str:
        """Summary, findings table and coverage, as the command line prints them."""
        lines = [
            f"explored {self.pack} (variant {self.variant}, profile {self.profile}, seed "
            f"{self.seed}) for {self.elapsed_s:.1f}s: {self.examples} examples, {self.steps} "
            f"steps, {self.examples_per_s:.1f} examples/s, {self.rounds} round(s); "
            f"stopped: {self.stopped}",
            "",
        ]
        if self.findings:
            lines.append(findings_table(self.findings))
        elif self.interrupted:
            lines.append("no finding shrunk before the interrupt" if self.unshrunk
                         else "no invariant violated before the interrupt")
        else:
            lines.append("no invariant violated")
        if self.unshrunk:
            lines.append(f"also seen, not shrunk before the interrupt (no failure file): "
                         f"{', '.join(self.unshrunk)}")
        lines += sometimes_lines(self.sometimes, self.examples, set(self.unreached))
        lines += coverage_lines(self.coverage, self.examples)
        return "\n".join(lines)


def sometimes_lines(sometimes: Sequence[tuple[str, str, int]], examples: int,
                    unreached: set[str]) -> list[str]:
    """The summary's ``sometimes`` section (none when the pack declares no situation)."""
    if not sometimes:
        return []
    lines = ["", f"sometimes (situations the campaign must reach, examples that did, "
                 f"of {examples}):"]
    width = max(len(i) for i, _, _ in sometimes)
    for i, statement, n in sometimes:
        mark = "NEVER REACHED" if i in unreached else str(n)
        lines.append(f"  {i:<{width}}  {mark:>13}  {statement}")
    return lines


def coverage_lines(coverage: Sequence[tuple[str, int]], examples: int) -> list[str]:
    """The summary's coverage section: how many examples reached each fault combination."""
    lines = ["", f"coverage (fault combinations: how many of the {examples} examples "
                 "reached each):"]
    if not coverage:
        return [*lines, "  (none: no fault was injected)"]
    width = max(len(label) for label, _ in coverage)
    return lines + [f"  {label:<{width}}  {n}" for label, n in coverage]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or another ``KeyboardInterrupt``) stopped :func:`explore`; ``report`` holds
    what the campaign had when it stopped: the findings already shrunk (and written), the
    counts and coverage so far. The interrupt it replaces is its ``__cause__``."""

    def __init__(self, report: ExploreReport) -> None:
        super().__init__("exploration interrupted")
        self.report = report


def findings_table(findings: tuple[Finding, ...]) -> str:
    header = ("invariant", "steps", "time to find", "examples", "failure file")
    rows = [(f.invariant_id + (" (from the database)" if f.from_database else ""),
             str(len(f.steps)) + ("" if f.shrunk else " (not fully shrunk)"),
             f"{f.found_after_s:.1f}s", str(f.examples_to_find), str(f.path) if f.path else "-")
            for f in findings]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {1, 2, 3}

    def fmt(row: tuple[str, ...]) -> str:
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(header), *(fmt(r) for r in rows)])


class _Campaign:
    """The observer every machine of the campaign reports to: counts, budget, progress."""

    def __init__(self, budget_s: float, progress: TextIO | None, every_s: float) -> None:
        self.start = time.monotonic()
        self.deadline = self.start + budget_s
        self.out = StatusLine(progress, self.status)
        """A live status line in a terminal; plain lines (every ``every_s``) elsewhere."""
        self.every_s = every_s
        self.next_report = self.start + every_s
        self.examples = 0
        """Every example run (generated or replayed from the database)."""
        self.generated = 0
        """Examples Hypothesis generated (the campaign's bound counts these)."""
        self.round_examples = 0
        self.limit: int | None = None
        """The campaign's example bound: the example after the last one is not started."""
        self.bounded = False
        self.phase = "generate"
        self.from_database: tuple[str, ...] = ()
        self.steps = 0
        self.round = 0
        self.coverage: Counter[str] = Counter()
        self.timed_out = False
        self.interrupted = False
        """Ctrl-C was pressed (set by :func:`_noticing_ctrl_c`'s handler)."""
        self.first_seen: dict[str, tuple[float, int]] = {}
        self.best: dict[str, tuple[Violation, tuple[Step, ...]]] = {}
        self.reached: Counter[str] = Counter()
        self.shrinking: str | None = None
        """The invariant whose run is being shrunk, if any (the live line says so)."""

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def say(self, text: str) -> None:
        self.out.say(text)

    def status(self) -> str:
        """The live line: time, budget left, what runs, the counts, the findings so far.
        Read from the status line's own thread, so it only reads."""
        now = time.monotonic()
        elapsed = max(now - self.start, 1e-9)
        doing = f"shrinking {self.shrinking}" if self.shrinking else f"round {self.round}"
        count = (f"{self.generated}/{self.limit}" if self.limit is not None
                 else str(self.examples))
        seen = tuple(self.first_seen)  # one read of what the main thread adds to
        found = f"findings {len(seen)}" + (f": {', '.join(seen)}" if seen else "")
        return (f"{elapsed:6.1f}s  budget left {max(self.deadline - now, 0):.0f}s  {doing}  "
                f"{count} examples  {self.examples / elapsed:.0f}/s  {found}")

    def example_started(self) -> None:
        if self.interrupted:  # a Ctrl-C that code between examples swallowed
            raise KeyboardInterrupt
        now = time.monotonic()
        if now >= self.deadline:
            self.timed_out = True
            raise OutOfTime
        if self.phase == "generate" and self.limit is not None and self.generated >= self.limit:
            self.bounded = True
            raise OutOfTime
        self.examples += 1
        if self.phase == "generate":
            self.generated += 1
            self.round_examples += 1
        if now >= self.next_report and not self.out.live:
            self.next_report = now + self.every_s
            rate = self.examples / max(now - self.start, 1e-9)
            seen = ", ".join(self.first_seen) or "none"
            self.say(f"  {now - self.start:6.1f}s  round {self.round}  {self.examples} examples  "
                     f"{self.steps} steps  {rate:.1f}/s  findings: {seen}  "
                     f"budget left {max(self.deadline - now, 0):.0f}s")

    def example_finished(self, run: RunRecord) -> None:
        self.steps += len(run.steps)
        self.coverage.update(sorted(run.coverage))  # once per example that reached it
        self.reached.update(run.reached)
        v = run.violation
        if v is None:
            return
        if v.invariant_id not in self.first_seen:
            self.first_seen[v.invariant_id] = (self.elapsed(), self.examples)
            if self.phase == "database":
                self.from_database = (*self.from_database, v.invariant_id)
            self.say(f"  {self.elapsed():6.1f}s  found {v.invariant_id} after {self.examples} "
                     f"examples ({len(run.steps)} steps); shrinking")
        best = self.best.get(v.invariant_id)
        if best is None or len(run.steps) < len(best[1]):
            self.best[v.invariant_id] = (v, run.steps)


def _flatten(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _flatten(sub)]
    return [exc]


def failure_file_name(pack: str, variant: str, invariant_id: str) -> str:
    return re.sub(r"[^0-9A-Za-z._-]+", "_", f"{pack}-{variant}-{invariant_id}") + ".json"


INTERRUPTED = "interrupted: the table holds the findings shrunk before it"
"""Why an interrupted campaign stopped, as its summary says."""

CI_EXAMPLES = 1000
"""Generated examples in a campaign under a derandomized profile (``ci``) when none is given:
enough to find a single-flight race that a few hundred miss, bounded so CI stays short."""


def explore(
    pack: str | Pack,
    variant: str = "faithful",
    budget_s: float = 60.0,
    max_examples: int | None = None,
    seed: int = 0,
    out_dir: str | Path | None = "findings",
    profile: str = "dev",
    progress: TextIO | None = sys.stderr,
    progress_every_s: float = 5.0,
    shrink_replays: int = DEFAULT_REPLAYS,
    swarm: Collection[str] | None = None,
    database: ExampleDatabase | None = None,
) -> ExploreReport:
    """Explore ``pack``/``variant``: generate examples until ``max_examples`` of them have
    run (a derandomized profile's default: :data:`CI_EXAMPLES`) or, with no example bound,
    until ``budget_s`` seconds of wall time are spent.

    With an example bound the campaign is repeatable: the same pack, variant, seed, profile
    and bound give the same findings, minimal runs and counts, however loaded the machine;
    ``budget_s`` is then only a safety stop, reported as ``incomplete``. ``seed`` is the
    world seed of every run and seeds Hypothesis (round ``k`` uses a seed derived from it).
    Hypothesis only generates; each finding is then made minimal by the fault-plan pass
    (:mod:`gatewaysim.properties.shrink`) with ``shrink_replays`` replays of its own, so how
    small a minimal run is does not depend on the search either. Failure files go to
    ``out_dir`` (``None``: write none).

    ``swarm`` narrows the fault kinds the swarm may enable (``None``: every kind of the pack),
    so the shards of a campaign (:mod:`gatewaysim.properties.scale`) explore different fault
    mixes. ``database`` replaces the profile's example database (``None``: the profile's).
    """
    pack = resolve(pack)
    config = pack.config_of(variant)
    base = profile_settings(profile)
    if database is not None:
        base = settings(base, database=database)
    if not budget_s > 0:
        raise ConfigError(f"budget must be greater than zero, not {budget_s}")
    if max_examples is not None and max_examples < 1:
        raise ConfigError(f"max examples must be at least 1, not {max_examples}")
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        check_out_dir(out)
    total = max_examples if max_examples is not None else (
        CI_EXAMPLES if base.derandomize else None)
    _settle_imports()

    run_settings = settings(
        base,
        report_multiple_bugs=True,
        # Generation only: a round ends at its first bug (Hypothesis would otherwise keep
        # searching for a wall-clock while), and shrinking is the fault-plan pass's, with a
        # budget of replays rather than of seconds. No explain phase either: the failure file
        # and its replay show what mattered.
        phases=[Phase.generate],
        verbosity=Verbosity.quiet,
        deadline=None,
        suppress_health_check=[*base.suppress_health_check, HealthCheck.too_slow,
                               HealthCheck.filter_too_much],
    )
    campaign = _Campaign(budget_s, progress, progress_every_s)
    campaign.limit = total
    bound = f"{total} examples" if total is not None else f"budget {budget_s:g}s"
    findings: dict[str, Finding] = {}
    try:
        with campaign.out, _noticing_ctrl_c(campaign):
            campaign.say(f"exploring {pack.name} (variant {variant}, profile {profile}, seed "
                         f"{seed}, {bound})")
            stopped = _search(pack, variant, config, seed, base, run_settings, total,
                              budget_s, campaign, findings, out, shrink_replays, swarm)
    except KeyboardInterrupt as exc:
        # What was found so far is kept: the findings already shrunk have their failure
        # files; the one being shrunk (if any) and those not reached yet are named.
        unshrunk = tuple(i for i in campaign.first_seen if i not in findings)
        raise Interrupted(_report_of(pack, variant, seed, profile, budget_s, campaign,
                                     INTERRUPTED, findings, unshrunk)) from exc
    return _report_of(pack, variant, seed, profile, budget_s, campaign, stopped, findings)


def _search(pack: Pack, variant: str, config: PackConfig, seed: int, base: settings,
            run_settings: settings, total: int | None, budget_s: float, campaign: _Campaign,
            findings: dict[str, Finding], out: Path | None, shrink_replays: int,
            swarm: Collection[str] | None) -> str:
    """The campaign's rounds; each finding goes into ``findings`` as soon as it is shrunk
    and written. Returns why the campaign stopped."""
    stopped = "budget spent" if total is None else "example bound reached"
    if base.database is not None and Phase.reuse in base.phases:
        # Examples that failed in earlier campaigns first: a regression shows at once.
        campaign.phase = "database"
        reuse = settings(run_settings, phases=[Phase.reuse])
        finals, _ = _run_round(pack, variant, config, seed, (), reuse, campaign, swarm)
        _record_new(findings, finals, pack, variant, config, seed, campaign, out,
                    shrink_replays)
        campaign.phase = "generate"
    while True:
        if total is not None and campaign.generated >= total:
            break
        campaign.round += 1
        muted = tuple(findings)
        left = total - campaign.generated if total is not None else base.max_examples
        finals, out_of_time = _run_round(pack, variant, config, seed, muted,
                                         settings(run_settings, max_examples=left), campaign,
                                         swarm)
        new = _record_new(findings, finals, pack, variant, config, seed, campaign, out,
                          shrink_replays)
        if out_of_time:
            stopped = (f"incomplete: the wall-clock safety stop ({budget_s:g}s) came first"
                       if total is not None else "budget spent")
            break
        if total is None and campaign.elapsed() >= budget_s:
            break
        if total is not None and not new and campaign.round_examples < left:
            stopped = "every example this search can draw was drawn"
            break
    return stopped


def _report_of(pack: Pack, variant: str, seed: int, profile: str, budget_s: float,
               campaign: _Campaign, stopped: str, findings: dict[str, Finding],
               unshrunk: tuple[str, ...] | None = None) -> ExploreReport:
    sometimes = tuple((m.id, m.statement, campaign.reached[m.id])
                      for m in pack.monitors if m.kind == "sometimes")
    return ExploreReport(
        pack.name, variant, seed, profile, budget_s, campaign.elapsed(), campaign.generated,
        campaign.steps, campaign.round, stopped, tuple(findings.values()),
        tuple(sorted(campaign.coverage.items())), sometimes, campaign.from_database,
        interrupted=unshrunk is not None, unshrunk=unshrunk or (),
    )


def _record_new(findings: dict[str, Finding],
                finals: dict[str, tuple[Violation, tuple[Step, ...]]], pack: Pack,
                variant: str, config: PackConfig, seed: int, campaign: _Campaign,
                out: Path | None, shrink_replays: int) -> list[str]:
    """Shrink, replay and save every invariant first seen in the round just run."""
    new = [i for i in campaign.first_seen if i not in findings]
    for invariant_id in new:
        violation, steps = finals.get(invariant_id) or campaign.best[invariant_id]
        campaign.shrinking = invariant_id
        findings[invariant_id] = _record(pack, variant, config, seed, invariant_id,
                                         violation, steps, campaign, out, shrink_replays)
        campaign.shrinking = None
        campaign.say(f"  {campaign.elapsed():6.1f}s  {invariant_id}: minimal run has "
                     f"{len(findings[invariant_id].steps)} steps")
    return new


def _settle_imports() -> None:
    """Import every gatewaysim module before a campaign.

    Hypothesis sometimes draws a constant it found in the source of *local* modules loaded
    at the time, so which of our modules happen to be imported (the command line imports
    different ones than pytest or a notebook) would change what a derandomized campaign
    draws. With all of them loaded, it draws the same wherever it runs.
    """
    import importlib
    import pkgutil

    roots = ("gatewaysim", "gatewaysim.simulator", "gatewaysim.models", "gatewaysim.properties")
    for root in roots:  # the folders install apart, so each is walked on its own
        package = importlib.import_module(root)
        for info in sorted(pkgutil.walk_packages(package.__path__, f"{root}.",
                                                 onerror=lambda _name: None),
                           key=lambda i: i.name):
            if info.name in _SKIP_IMPORT or info.name.startswith(_SKIP_PREFIXES):
                continue
            try:
                importlib.import_module(info.name)
            except Exception:  # an optional extra that is not installed: not ours to load
                continue


_SKIP_IMPORT = frozenset({"gatewaysim.__main__"})
_SKIP_PREFIXES = ("gatewaysim.pytest_plugin",)


def check_out_dir(out: Path) -> None:
    """Make sure failure files can be written to ``out`` *before* the campaign, so a typo or
    a read-only disk costs no findings. Nothing is left behind: the folder itself is made
    only when the first finding is written."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output directory {out} exists and is not a directory")
    probe_in = out
    while not probe_in.exists():
        if len(probe_in.name) > 255:
            raise ConfigError(f"cannot use {out}: File name too long")
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        raise ConfigError(f"output directory {out}: {probe_in} is not a directory")
    temp_sibling(probe_in / "probe").unlink()


class _Keyed(ExampleDatabase):
    """The campaign's view of an example database: its keys prefixed by pack, variant and
    muted set, so rounds that explore different things never replay each other's examples
    (their machine classes share their source, which is all Hypothesis keys on)."""

    def __init__(self, db: ExampleDatabase, prefix: bytes) -> None:
        super().__init__()
        self.db = db
        self.prefix = prefix

    def save(self, key: bytes, value: bytes) -> None:
        self.db.save(self.prefix + key, value)

    def fetch(self, key: bytes) -> Iterable[bytes]:
        return self.db.fetch(self.prefix + key)

    def delete(self, key: bytes, value: bytes) -> None:
        self.db.delete(self.prefix + key, value)

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        self.db.move(self.prefix + src, self.prefix + dest, value)


def _run_round(
    pack: Pack, variant: str, config: PackConfig, seed: int, muted: tuple[str, ...],
    run_settings: settings, campaign: _Campaign, swarm: Collection[str] | None = None,
) -> tuple[dict[str, tuple[Violation, tuple[Step, ...]]], bool]:
    """One Hypothesis run; returns the shrunk violations it reported and whether time ran out."""
    campaign.round_examples = 0
    if swarm is not None:
        from .scale.swarm import narrowed

        pack = narrowed(pack, swarm)  # the machine's view only: runs are judged by the pack's
    machine = build_machine(pack, config, seed, variant=variant, muted=muted,
                            observer=campaign)
    machine = hypothesis_seed(derive_seed(seed, f"explore round {campaign.round}"))(machine)
    db = run_settings.database
    if db is not None:
        prefix = f"gatewaysim explore {pack.name} {variant} {sorted(muted)}|".encode()
        db = _Keyed(db, prefix)
    finals: dict[str, tuple[Violation, tuple[Step, ...]]] = {}
    try:
        run_state_machine_as_test(machine, settings=settings(run_settings, database=db))
    except BaseException as exc:
        # Hypothesis may report the abandoned example as flaky data generation (it stopped
        # drawing at once, unlike the examples it had seen with that prefix): still a stop.
        if campaign.timed_out:
            return finals, True
        if campaign.bounded or isinstance(exc, unittest.SkipTest):
            # SkipTest: the database had no example to replay (a first campaign).
            return finals, False
        interrupt = _interrupt_behind(exc)
        if interrupt is not None and interrupt is not exc:
            # Ctrl-C inside Hypothesis's own set-up (hashing the test's source, say) can
            # surface as the internal error its handler then raised: still an interrupt.
            raise interrupt from exc
        if campaign.interrupted and not isinstance(exc, KeyboardInterrupt):
            # ...or be swallowed where Python ignores exceptions (a gc callback), leaving
            # whatever Hypothesis made of the aborted example.
            raise KeyboardInterrupt from exc
        _collect(exc, pack.name, variant, finals)
    return finals, False


@contextmanager
def _noticing_ctrl_c(campaign: _Campaign) -> Iterator[None]:
    """While the campaign runs, Ctrl-C also sets ``campaign.interrupted``, so that an
    interrupt some library swallows still stops the campaign. Only in the main thread, and
    only over Python's default handler (a caller's own handler is left alone)."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return

    def on_ctrl_c(signum: int, frame: FrameType | None) -> None:
        campaign.interrupted = True
        if not _in_exec_of_source(frame):
            raise KeyboardInterrupt
        # Raised at the next example instead: CPython remembers a KeyboardInterrupt that
        # leaves an exec() of source text (attrs builds its classes that way) and, caught
        # or not, ends the process with SIGINT rather than the command's exit status.

    def unraisable(report: sys.UnraisableHookArgs) -> None:
        # The interrupt raised in a gc callback, which Python would print as "Exception
        # ignored": the flag above carries it to the next example instead.
        if not (campaign.interrupted and isinstance(report.exc_value, KeyboardInterrupt)):
            previous_hook(report)

    previous_hook = sys.unraisablehook
    signal.signal(signal.SIGINT, on_ctrl_c)
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.unraisablehook = previous_hook


def _in_exec_of_source(frame: FrameType | None, caller: str = __file__) -> bool:
    """Whether ``frame`` runs inside the top level of source text given to ``exec()`` by
    code that ``caller`` (a module's file) called: a program that is itself such text
    (``python -c``, a pytest-xdist worker) does not count."""
    while frame is not None:
        code = frame.f_code
        if code.co_filename == caller:
            return False
        if code.co_name == "<module>" and code.co_filename.startswith("<"):
            return True
        frame = frame.f_back
    return False


def _interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The ``KeyboardInterrupt`` that ``exc`` is, or was raised while handling."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is e for e in seen):
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.append(current)
        current = current.__cause__ or current.__context__
    return None


def _collect(exc: BaseException, pack: str, variant: str,
             finals: dict[str, tuple[Violation, tuple[Step, ...]]]) -> None:
    """Keep the shrunk violations Hypothesis reported; anything else is re-raised."""
    if isinstance(exc, Flaky):
        raise DeterminismError(f"{pack}/{variant}: a run behaved differently when rerun, so "
                               f"the model is not deterministic: {exc}") from exc
    leaves = _flatten(exc)
    if not all(isinstance(e, InvariantViolated) for e in leaves):
        raise exc
    for e in leaves:
        assert isinstance(e, InvariantViolated)
        finals[e.violation.invariant_id] = (e.violation, tuple(e.steps))


def _record(pack: Pack, variant: str, config: PackConfig, seed: int, invariant_id: str,
            violation: Violation, steps: tuple[Step, ...], campaign: _Campaign,
            out: Path | None, shrink_replays: int) -> Finding:
    """Shrink a finding's run further (its own budget), replay it once more (trace hash, and
    a check that it reproduces) and save it."""
    found_after, examples = campaign.first_seen[invariant_id]
    spec = RunSpec(pack.name, variant, config.to_dict(), seed, steps)
    shrunk = shrink(spec, violation, replays=shrink_replays)
    steps, violation = shrunk.steps, shrunk.violation
    spec = RunSpec(pack.name, variant, config.to_dict(), seed, steps)
    failure = Failure(spec, invariant_id, pack.monitor(invariant_id).statement, violation,
                      "0" * 64, found_after, examples, pack.source)
    result = replay(failure, timeline_limit=0)
    if result.violation != violation:
        raise DeterminismError(
            f"{pack.name}/{variant}: {invariant_id} found by exploration did not reproduce on "
            f"replay (got {result.violation})")
    failure = Failure(spec, invariant_id, failure.statement, violation, result.trace_sha256,
                      found_after, examples, pack.source, shrunk.complete)
    path = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = write_failure(out / failure_file_name(pack.name, variant, invariant_id), failure)
    return Finding(invariant_id, steps, violation, found_after, examples, path,
                   result.trace_sha256, campaign.round, shrunk.complete,
                   invariant_id in campaign.from_database)
