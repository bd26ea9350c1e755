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

Each finding is replayed once more through :mod:`gatewaysim.properties.replay` to record its trace
hash, then written as a failure file: one file per distinct invariant.
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TextIO

from attrs import field, frozen
from gatewaysim.simulator.errors import ConfigError, DeterminismError
from gatewaysim.simulator.rng import derive_seed
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis.errors import Flaky
from hypothesis.reporting import with_reporter
from hypothesis.stateful import get_state_machine_test

from .failure import Failure, write_failure
from .invariants import InvariantViolated, Violation
from .machine import OutOfTime, RunRecord, build_machine
from .packs import Pack, get_pack
from .profiles import profile_settings
from .replay import replay
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
        else:
            lines.append("no invariant violated")
        lines += ["", f"coverage (fault combinations reached, over {self.examples} examples):"]
        if self.coverage:
            width = max(len(label) for label, _ in self.coverage)
            lines += [f"  {label:<{width}}  {n}" for label, n in self.coverage]
        else:
            lines.append("  (none: no fault was injected)")
        return "\n".join(lines)


def findings_table(findings: tuple[Finding, ...]) -> str:
    header = ("invariant", "steps", "time to find", "examples", "failure file")
    rows = [(f.invariant_id, str(len(f.steps)), f"{f.found_after_s:.1f}s",
             str(f.examples_to_find), str(f.path) if f.path else "-") for f in findings]
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
        self.progress = progress
        self.every_s = every_s
        self.next_report = self.start + every_s
        self.examples = 0
        self.steps = 0
        self.round = 0
        self.coverage: Counter[str] = Counter()
        self.timed_out = False
        self.first_seen: dict[str, tuple[float, int]] = {}
        self.best: dict[str, tuple[Violation, tuple[Step, ...]]] = {}

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def say(self, text: str) -> None:
        if self.progress is not None:
            print(text, file=self.progress, flush=True)

    def example_started(self) -> None:
        now = time.monotonic()
        if now >= self.deadline:
            self.timed_out = True
            raise OutOfTime
        self.examples += 1
        if now >= self.next_report:
            self.next_report = now + self.every_s
            rate = self.examples / max(now - self.start, 1e-9)
            seen = ", ".join(self.first_seen) or "none"
            self.say(f"  {now - self.start:6.1f}s  round {self.round}  {self.examples} examples  "
                     f"{self.steps} steps  {rate:.1f}/s  findings: {seen}")

    def example_finished(self, run: RunRecord) -> None:
        self.steps += len(run.steps)
        self.coverage.update(run.coverage)
        v = run.violation
        if v is None:
            return
        if v.invariant_id not in self.first_seen:
            self.first_seen[v.invariant_id] = (self.elapsed(), self.examples)
            self.say(f"  {self.elapsed():6.1f}s  found {v.invariant_id} after {self.examples} "
                     f"examples ({len(run.steps)} steps); shrinking")
        best = self.best.get(v.invariant_id)
        if best is None or len(run.steps) < len(best[1]):
            self.best[v.invariant_id] = (v, run.steps)


def _flatten(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _flatten(sub)]
    return [exc]


def _file_name(pack: str, variant: str, invariant_id: str) -> str:
    return re.sub(r"[^0-9A-Za-z._-]+", "_", f"{pack}-{variant}-{invariant_id}") + ".json"


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
) -> ExploreReport:
    """Explore ``pack``/``variant`` for at most ``budget_s`` seconds of wall time.

    ``seed`` is the world seed of every run and seeds Hypothesis (round ``k`` uses a seed
    derived from it), so a campaign is repeatable given its seed, profile and budget.
    ``max_examples`` bounds each round (default: the profile's). Failure files go to
    ``out_dir`` (``None``: write none).
    """
    pack = get_pack(pack) if isinstance(pack, str) else pack
    config = pack.config(variant)
    base = profile_settings(profile)
    if not budget_s > 0:
        raise ConfigError(f"budget must be greater than zero, not {budget_s}")
    if max_examples is not None and max_examples < 1:
        raise ConfigError(f"max examples must be at least 1, not {max_examples}")
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and out.exists() and not out.is_dir():
        raise ConfigError(f"output directory {out} exists and is not a directory")

    run_settings = settings(
        base,
        max_examples=max_examples or base.max_examples,
        report_multiple_bugs=True,
        # The explain phase re-runs the minimal example many times to annotate which parts
        # mattered. The failure file and its replay already show that, and on a stateful
        # machine the phase took most of a campaign's budget, cutting shrinking short.
        phases=[phase for phase in base.phases if phase is not Phase.explain],
        verbosity=Verbosity.quiet,
        deadline=None,
        suppress_health_check=[*base.suppress_health_check, HealthCheck.too_slow,
                               HealthCheck.filter_too_much],
    )
    campaign = _Campaign(budget_s, progress, progress_every_s)
    campaign.say(f"exploring {pack.name} (variant {variant}, profile {profile}, seed {seed}, "
                 f"budget {budget_s:g}s)")
    findings: dict[str, Finding] = {}
    stopped = "budget spent"
    while True:
        campaign.round += 1
        muted = tuple(findings)
        finals, out_of_time = _run_round(pack, variant, config, seed, muted, run_settings,
                                         campaign)
        new = [i for i in campaign.first_seen if i not in findings]
        for invariant_id in new:
            violation, steps = finals.get(invariant_id) or campaign.best[invariant_id]
            findings[invariant_id] = _record(pack, variant, config, seed, invariant_id,
                                             violation, steps, campaign, out)
            campaign.say(f"  {campaign.elapsed():6.1f}s  {invariant_id}: minimal run has "
                         f"{len(steps)} steps")
        if out_of_time:
            break
        if not new and (base.derandomize or max_examples is not None):
            stopped = "a round found nothing new"
            break
        if campaign.elapsed() >= budget_s:
            break
    return ExploreReport(
        pack.name, variant, seed, profile, budget_s, campaign.elapsed(), campaign.examples,
        campaign.steps, campaign.round, stopped, tuple(findings.values()),
        tuple(sorted(campaign.coverage.items())),
    )


def _run_round(
    pack: Pack, variant: str, config: dict, seed: int, muted: tuple[str, ...],
    run_settings: settings, campaign: _Campaign,
) -> tuple[dict[str, tuple[Violation, tuple[Step, ...]]], bool]:
    """One Hypothesis run; returns the shrunk violations it reported and whether time ran out."""
    machine = build_machine(pack.driver, config, seed, muted=muted, observer=campaign)
    machine._hypothesis_internal_use_seed = derive_seed(seed, f"explore round {campaign.round}")
    test = get_state_machine_test(machine, settings=run_settings)
    # The example database is keyed by this digest: keep packs, variants and muted sets
    # apart (the machine classes share their source, which is what Hypothesis hashes).
    key = f"gatewaysim explore {pack.name} {variant} {sorted(muted)}".encode()
    test.hypothesis.inner_test._hypothesis_internal_add_digest = hashlib.sha384(key).digest()
    finals: dict[str, tuple[Violation, tuple[Step, ...]]] = {}
    try:
        with with_reporter(lambda _text: None):
            test()
    except BaseException as exc:
        # Hypothesis may report the abandoned example as flaky data generation (it stopped
        # drawing at once, unlike the examples it had seen with that prefix): still a stop.
        if campaign.timed_out:
            return finals, True
        _collect(exc, pack.name, variant, finals)
    return finals, False


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


def _record(pack: Pack, variant: str, config: dict, seed: int, invariant_id: str,
            violation: Violation, steps: tuple[Step, ...], campaign: _Campaign,
            out: Path | None) -> Finding:
    """Replay a finding once more (trace hash, and a check that it reproduces) and save it."""
    found_after, examples = campaign.first_seen[invariant_id]
    failure = Failure(pack.name, variant, config, seed, steps, invariant_id,
                      pack.invariant(invariant_id).statement, violation, "0" * 64,
                      found_after, examples)
    result = replay(failure, timeline_limit=0)
    if result.violation != violation:
        raise DeterminismError(
            f"{pack.name}/{variant}: {invariant_id} found by exploration did not reproduce on "
            f"replay (got {result.violation})")
    failure = Failure(pack.name, variant, config, seed, steps, invariant_id,
                      failure.statement, violation, result.trace_sha256, found_after, examples)
    path = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = write_failure(out / _file_name(pack.name, variant, invariant_id), failure)
    return Finding(invariant_id, steps, violation, found_after, examples, path,
                   result.trace_sha256, campaign.round)
