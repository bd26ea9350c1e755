"""A mutation campaign: mutants of a pack's model package, each judged in its own process.

Mutants are the campaign's tasks, run by the same runners as an exploration's shards
(:mod:`gatewaysim.properties.scale.runners`): one after another here, in worker processes,
or on a ``dask.distributed`` cluster; each is judged in a fresh interpreter of its own
(:mod:`.task`), so the verdicts are the same wherever they run.

Layout of the work directory (a temporary one unless the user names it)::

    results.json          settings, the baseline, and one verdict per finished mutant
    source/<pkg>/         the model package as it was when the campaign started
    mutants/<n>-*/<pkg>/  the copy of it mutant ``n`` runs (removed after; a worker of a
                          remote cluster makes its copies in a temporary directory of its own)

Every mutant is made from ``source/``, so editing the model while a campaign runs cannot
tear it; a campaign is resumed only while the package is still what it was (its hash is
kept in ``results.json``). ``results.json`` is rewritten atomically after every verdict, so
an interrupted campaign loses only the mutants that were running, and ``resume`` skips every
mutant it holds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from attrs import frozen

from gatewaysim.properties.pack import Pack
from gatewaysim.properties.run import resolve
from gatewaysim.properties.scale.campaign import ShardEvent
from gatewaysim.properties.scale.runners import Dask, InProcess, Processes
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.files import write_atomic

from .operators import Mutant, generate, package_files
from .task import MutantTask, run_mutant, snapshot_files
from .verdicts import MutantProgress, Verdicts

RESULTS = "results.json"
SOURCE = "source"
MUTANTS = "mutants"
FORMAT = 1
STATUSES = ("killed", "crashed", "timed out", "survived", "stillborn", "error")


@frozen
class Settings:
    """What a campaign's verdicts depend on; a resumed campaign must use the same."""

    pack: str
    variant: str
    seed: int
    max_examples: int

    def as_dict(self) -> dict[str, Any]:
        return {"pack": self.pack, "variant": self.variant, "seed": self.seed,
                "max_examples": self.max_examples}


def model_package(pack: Pack) -> tuple[str, Path]:
    """The import name and folder of the package holding ``pack``'s model (its config's)."""
    module = sys.modules.get(pack.config.__module__)
    package = getattr(module, "__package__", None) or ""
    if not package:
        raise ConfigError(f"pack {pack.name!r}: its config {pack.config.__qualname__} is not "
                          "in a package, so there is no model package to mutate")
    init = getattr(sys.modules.get(package), "__file__", None)
    if not init or Path(init).name != "__init__.py":
        raise ConfigError(f"pack {pack.name!r}: model package {package} has no __init__.py")
    return package, Path(init).parent


def pack_spec(pack: str | Pack) -> str:
    """How a child process finds the pack: its entry-point name, or its ``module:attr``."""
    if isinstance(pack, str):
        return pack
    return pack.source if ":" in (pack.source or "") else pack.name


def _hard_limit(timeout_s: float) -> float:
    """When a child is killed: the explorer stops itself at ``timeout_s`` between examples;
    a mutant stuck inside one (an endless loop) gets a grace period more, then is killed."""
    return timeout_s + min(30.0, timeout_s)


@frozen
class Campaign:
    """Where a campaign stands: its settings, baseline, mutants and verdicts so far."""

    settings: Settings
    package: str
    source_dir: Path
    work: Path
    baseline: dict[str, Any]
    mutants: tuple[Mutant, ...]
    results: dict[str, dict[str, Any]]
    uncovered_sites: int
    """Sites on lines the baseline campaign never ran (not drawn from)."""
    interrupted: bool = False
    run_now: int = 0
    """Mutants judged by this call (the rest came from an earlier, resumed campaign)."""


def package_digest(folder: Path) -> str:
    """A hash of every module under ``folder`` (names and contents), to notice an edit."""
    digest = hashlib.sha256()
    for rel, path in package_files(folder):
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _snapshot(user_dir: Path, work: Path, recorded: str | None) -> Path:
    """The campaign's copy of the model package (made now, or kept from the campaign being
    resumed when the package has not changed since)."""
    root = work / SOURCE
    snapshot = root / user_dir.name
    if recorded is not None:
        if recorded != package_digest(user_dir) or recorded != package_digest(snapshot):
            raise ConfigError(f"the model package {user_dir} changed since the campaign in "
                              f"{work} started; start a new one with another --work directory")
        return snapshot
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(user_dir, snapshot, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return snapshot


def _load(work: Path, settings: Settings, resume: bool) -> dict[str, Any]:
    path = work / RESULTS
    if not path.exists():
        if resume:
            raise ConfigError(f"--resume: {work} holds no {RESULTS} to resume from")
        return {}
    if not resume:
        raise ConfigError(f"{work} already holds a mutation campaign; pass --resume to finish "
                          "it, or choose another --work directory")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a mutation results file of format {FORMAT}")
    if data.get("settings") != settings.as_dict():
        raise ConfigError(f"{path} was made with other settings ({data.get('settings')}); "
                          "resume with the same pack, variant, seed and --max-examples")
    return data


def _save(work: Path, settings: Settings, digest: str, baseline: dict[str, Any],
          results: dict[str, dict[str, Any]]) -> None:
    data = {"format": FORMAT, "settings": settings.as_dict(), "source_sha256": digest,
            "baseline": baseline, "results": results}
    write_atomic(work / RESULTS, json.dumps(data, indent=1, sort_keys=True) + "\n")


class Tasks:
    """Makes the campaign's tasks: every one carries the package snapshot and settings."""

    def __init__(self, settings: Settings, spec: str, package: str, source_dir: Path,
                 work: Path) -> None:
        self.settings = settings
        self.spec = spec
        self.package = package
        self.folder = source_dir.name
        self.files = snapshot_files(source_dir)
        self.work = work

    def make(self, n: int, mutant: Mutant | None, budget_s: float, timeout_s: float,
             here: bool = True, trace_lines: bool = False) -> MutantTask:
        """Task ``n``; ``here``: run on this machine (copies under the work directory)."""
        s = self.settings
        return MutantTask(n, mutant, self.spec, s.variant, s.seed, s.max_examples,
                          self.package, self.folder, self.files, budget_s, timeout_s,
                          str(self.work / MUTANTS) if here else None,
                          str(self.work / ".hypothesis") if here else None, trace_lines)


def mutate(pack: str | Pack, variant: str = "fixed", mutants: int = 50, seed: int = 0,
           max_examples: int = 200, workers: int = 1, work: Path | None = None,
           resume: bool = False, timeout_s: float | None = None, all_lines: bool = False,
           progress: Callable[[str], None] | None = None, *, dask: str | None = None,
           status: TextIO | None = None, status_every_s: float = 5.0, retries: int = 1,
           listeners: Sequence[Callable[[ShardEvent], None]] = ()) -> Campaign:
    """Run a mutation campaign on ``pack``'s model package and return where it stands.

    ``work`` must exist (a temporary directory is the caller's to make and remove). The
    unmutated package runs first, here (the *baseline*): it must pass, and the lines it runs
    decide which sites are drawn (all of them with ``all_lines``). ``timeout_s`` is the
    per-mutant wall-clock limit (default: ten times the baseline's time plus a minute).

    Mutants run ``workers`` at a time in worker processes (1: one after another in this
    process) or, with ``dask``, on the ``dask.distributed`` cluster at that address
    (``local``: a ``LocalCluster`` of ``workers`` processes). A mutant whose worker dies is
    run ``retries`` more times, then booked as ``error``. Progress lines go to ``progress``,
    or, with ``status``, to that stream with a live status line (plain lines in a pipe).
    A ``KeyboardInterrupt`` stops every mutant and returns what is done, ``interrupted``.
    """
    resolved = resolve(pack)
    resolved.config_of(variant)  # an unknown variant is bad input, before any work
    if mutants < 1 or max_examples < 1 or workers < 1:
        raise ConfigError("mutants, max examples and workers must each be at least 1")
    if work is None or not work.is_dir():
        raise ConfigError(f"work directory {work} does not exist")
    package, user_dir = model_package(resolved)
    settings = Settings(resolved.name, variant, seed, max_examples)
    data = _load(work, settings, resume)
    source_dir = _snapshot(user_dir, work, data.get("source_sha256"))
    digest = package_digest(source_dir)
    results: dict[str, dict[str, Any]] = dict(data.get("results", {}))
    baseline: dict[str, Any] = dict(data.get("baseline", {}))
    make = Tasks(settings, pack_spec(pack if isinstance(pack, str) else resolved), package,
                 source_dir, work)
    meter = MutantProgress(status, progress, status_every_s)
    if not baseline:
        meter.say(f"baseline: {resolved.name} {variant}, unmutated, {max_examples} examples")
        budget = timeout_s if timeout_s is not None else 3600.0
        try:
            baseline = run_mutant(make.make(0, None, budget, budget + 60.0, trace_lines=True),
                                  lambda _text: None)
        finally:
            shutil.rmtree(work / MUTANTS, ignore_errors=True)
        if baseline.get("status") != "survived":
            raise ConfigError(
                f"pack {resolved.name!r} variant {variant!r} does not pass unmutated "
                f"({_why(baseline)}); "
                "mutation testing needs a variant whose campaign passes")
        _save(work, settings, digest, baseline, results)
    ran = None if all_lines else {f: set(lines) for f, lines in baseline.get("ran", {}).items()}
    if timeout_s is None:
        timeout_s = 10 * float(baseline.get("seconds", 30.0)) + 60.0
    drawn = tuple(generate(source_dir, mutants, seed, ran))
    uncovered = 0 if ran is None else _uncovered(source_dir, ran)
    # A mutant that could not be judged (its file changed under the campaign, its worker
    # died twice) is tried again.
    here = dask is None or dask == "local"
    tasks = [make.make(n, m, timeout_s, _hard_limit(timeout_s), here)
             for n, m in enumerate(drawn, 1)
             if results.get(m.id, {}).get("status", "error") == "error"]
    parallel = min(workers, max(1, len(tasks)))
    runner = (Dask(dask, parallel) if dask is not None
              else InProcess() if parallel == 1 else Processes(parallel))
    meter.begin(len(drawn), len(drawn) - len(tasks))
    meter.say(f"{len(drawn)} mutants: {len(drawn) - len(tasks)} already judged, {len(tasks)} "
              f"to run on {runner.name}")
    book = Verdicts(results, lambda: _save(work, settings, digest, baseline, results), meter,
                    retries, listeners)
    interrupted = False
    try:
        if tasks:
            runner.run(tasks, book, run_mutant)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        meter.close()
        shutil.rmtree(work / MUTANTS, ignore_errors=True)
    judged = {m.id: results[m.id] for m in drawn if m.id in results}
    return Campaign(settings, package, source_dir, work, baseline, drawn, judged, uncovered,
                    interrupted, len(judged) - (len(drawn) - len(tasks)))


def _why(verdict: dict[str, Any]) -> str:
    if verdict.get("by"):
        return f"violates {', '.join(verdict['by'])}"
    return f"{verdict.get('status')}: {verdict.get('detail', '')}"


def judge(pack: str | Pack, mutant: Mutant | None, work: Path, variant: str = "fixed",
          max_examples: int = 200, seed: int = 0, timeout_s: float = 600.0) -> dict[str, Any]:
    """The verdict on one mutant (``None``: the unmutated package), without a campaign's
    book-keeping: ``{"status": ..., "by": [...], "detail": ..., "seconds": ...}``."""
    resolved = resolve(pack)
    resolved.config_of(variant)
    package, source_dir = model_package(resolved)
    settings = Settings(resolved.name, variant, seed, max_examples)
    source_dir = _snapshot(source_dir, work, None)
    make = Tasks(settings, pack_spec(pack if isinstance(pack, str) else resolved), package,
                 source_dir, work)
    try:
        return run_mutant(make.make(1, mutant, timeout_s, _hard_limit(timeout_s)),
                          lambda _text: None)
    finally:
        shutil.rmtree(work / MUTANTS, ignore_errors=True)


def _uncovered(source_dir: Path, ran: dict[str, set[int]]) -> int:
    from .operators import all_sites, is_run

    return sum(1 for site in all_sites(source_dir) if not is_run(site[0], ran))


__all__ = ["STATUSES", "Campaign", "Settings", "Tasks", "judge", "model_package", "mutate",
           "pack_spec"]

