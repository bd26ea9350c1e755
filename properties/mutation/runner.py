"""A mutation campaign: mutants of a pack's model package, each judged in its own process.

Layout of the work directory (a temporary one unless the user names it)::

    results.json        settings, the baseline, and one verdict per finished mutant
    source/<pkg>/       the model package as it was when the campaign started
    mutants/<n>/<pkg>/  the copy of it mutant ``n`` runs (removed after)

Every mutant is made from ``source/``, so editing the model while a campaign runs cannot
tear it; a campaign is resumed only while the package is still what it was (its hash is
kept in ``results.json``). ``results.json`` is rewritten atomically after every verdict, so
an interrupted campaign loses only the mutants that were running, and ``resume`` skips every
mutant it holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from attrs import frozen

from gatewaysim.properties.pack import Pack
from gatewaysim.properties.run import resolve
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.files import write_atomic

from .child import MARKER
from .operators import Mutant, generate, package_files

RESULTS = "results.json"
SOURCE = "source"
FORMAT = 1
_CHILD = "from gatewaysim.properties.mutation.child import main; main()"
STATUSES = ("killed", "crashed", "timed out", "survived", "error")


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


class Job:
    """Runs mutants (or the unmutated baseline) in child processes; can stop them all."""

    def __init__(self, settings: Settings, spec: str, package: str, source_dir: Path,
                 work: Path, budget_s: float, timeout_s: float) -> None:
        self.settings = settings
        self.spec = spec
        self.package = package
        self.source_dir = source_dir
        self.work = work
        self.budget_s = budget_s
        self.timeout_s = timeout_s
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[int, subprocess.Popen[str]] = {}

    def run(self, slot: str, mutant: Mutant | None, trace_lines: bool = False) -> dict[str, Any]:
        """Copy the package, apply ``mutant`` (None: the baseline), judge it in a child."""
        root = self.work / "mutants" / slot
        shutil.rmtree(root, ignore_errors=True)
        copy = root / self.source_dir.name
        shutil.copytree(self.source_dir, copy,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if mutant is not None:
            target = copy / mutant.file
            try:
                mutated = mutant.apply(target.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:  # the snapshot was edited under the campaign
                shutil.rmtree(root, ignore_errors=True)
                return {"status": "error", "detail": str(exc), "seconds": 0.0}
            target.write_text(mutated, encoding="utf-8")
        job = {**self.settings.as_dict(), "pack": self.spec, "package": self.package,
               "directory": str(copy), "budget_s": self.budget_s, "trace_lines": trace_lines}
        try:
            return self._child(job)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _child(self, job: dict[str, Any]) -> dict[str, Any]:
        # Bytecode and Hypothesis's cache of each mutated module's constants go nowhere near
        # the user's tree or working directory.
        env = {"HYPOTHESIS_STORAGE_DIRECTORY": str(self.work / ".hypothesis"), **os.environ,
               "PYTHONDONTWRITEBYTECODE": "1"}
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, *_flags(), "-c", _CHILD, json.dumps(job)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env, start_new_session=True)
        with self._lock:
            self._running[proc.pid] = proc
        try:
            if self.stopping.is_set():
                _kill(proc)
            out, err = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()
            return {"status": "timed out",
                    "detail": f"no verdict after {self.timeout_s:g}s (wall clock)",
                    "seconds": round(time.monotonic() - start, 3)}
        except BaseException:  # Ctrl-C while the baseline runs: leave no child behind
            _kill(proc)
            proc.wait()
            raise
        finally:
            with self._lock:
                self._running.pop(proc.pid, None)
        for line in reversed(out.splitlines()):
            if line.startswith(MARKER):
                return dict(json.loads(line[len(MARKER):]))
        tail = " ".join((err.strip().splitlines() or ["no output"])[-1].split())
        return {"status": "crashed", "detail": f"exit {proc.returncode}: {tail}"[:300],
                "seconds": round(time.monotonic() - start, 3)}

    def stop(self) -> None:
        """Kill every child still running (they are in sessions of their own)."""
        self.stopping.set()
        with self._lock:
            procs = list(self._running.values())
        for proc in procs:
            _kill(proc)


def _hard_limit(timeout_s: float) -> float:
    """When a child is killed: the explorer stops itself at ``timeout_s`` between examples;
    a mutant stuck inside one (an endless loop) gets a grace period more, then is killed."""
    return timeout_s + min(30.0, timeout_s)


def _flags() -> list[str]:
    """The interpreter options that decide where imports come from, passed on to a child
    (``-S``, ``-s``, ``-E``, ``-I``), so it imports gatewaysim from where this process did."""
    f = sys.flags
    return [flag for flag, on in (("-I", f.isolated), ("-S", f.no_site),
                                  ("-s", f.no_user_site and not f.isolated),
                                  ("-E", f.ignore_environment and not f.isolated)) if on]


def _kill(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


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


def mutate(pack: str | Pack, variant: str = "fixed", mutants: int = 50, seed: int = 0,
           max_examples: int = 200, workers: int = 1, work: Path | None = None,
           resume: bool = False, timeout_s: float | None = None, all_lines: bool = False,
           progress: Callable[[str], None] | None = None) -> Campaign:
    """Run a mutation campaign on ``pack``'s model package and return where it stands.

    ``work`` must exist (a temporary directory is the caller's to make and remove). The
    unmutated package runs first (the *baseline*): it must pass, and the lines it runs decide
    which sites are drawn (all of them with ``all_lines``). ``timeout_s`` is the per-mutant
    wall-clock limit (default: ten times the baseline's time plus a minute).
    A ``KeyboardInterrupt`` stops every child and returns what is done, ``interrupted``.
    """
    say = progress or (lambda _text: None)
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
    budget = timeout_s if timeout_s is not None else 3600.0
    job = Job(settings, pack_spec(pack if isinstance(pack, str) else resolved), package,
              source_dir, work, budget, budget + 60.0)
    if not baseline:
        say(f"baseline: {resolved.name} {variant}, unmutated, {max_examples} examples")
        baseline = job.run("baseline", None, trace_lines=True)
        if baseline.get("status") != "survived":
            raise ConfigError(
                f"pack {resolved.name!r} variant {variant!r} does not pass unmutated "
                f"({_why(baseline)}); "
                "mutation testing needs a variant whose campaign passes")
        _save(work, settings, digest, baseline, results)
    ran = None if all_lines else {f: set(lines) for f, lines in baseline.get("ran", {}).items()}
    if timeout_s is None:
        timeout_s = 10 * float(baseline.get("seconds", 30.0)) + 60.0
    job.budget_s, job.timeout_s = timeout_s, _hard_limit(timeout_s)
    drawn = tuple(generate(source_dir, mutants, seed, ran))
    uncovered = 0 if ran is None else _uncovered(source_dir, ran)
    # A mutant that could not be judged (its file changed under the campaign) is tried again.
    todo = [(n, m) for n, m in enumerate(drawn, 1)
            if results.get(m.id, {}).get("status", "error") == "error"]
    say(f"{len(drawn)} mutants: {len(drawn) - len(todo)} already judged, {len(todo)} to run "
        f"on {min(workers, max(1, len(todo)))} worker(s)")
    interrupted = False
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures: dict[Future[dict[str, Any]], tuple[int, Mutant]] = {
            pool.submit(job.run, str(n), m): (n, m) for n, m in todo}
        pending = set(futures)
        finished = len(drawn) - len(todo)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: futures[f][0]):
                n, m = futures[future]
                verdict = future.result()
                results[m.id] = {**verdict, "n": n}
                _save(work, settings, digest, baseline, results)
                finished += 1
                say(f"  [{finished}/{len(drawn)}] #{n} {verdict['status']}: {m.id}")
    except KeyboardInterrupt:
        interrupted = True
        job.stop()
        pool.shutdown(wait=True, cancel_futures=True)
    except BaseException:
        job.stop()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    judged = {m.id: results[m.id] for m in drawn if m.id in results}
    return Campaign(settings, package, source_dir, work, baseline, drawn, judged, uncovered,
                    interrupted, len(judged) - (len(drawn) - len(todo)))


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
    job = Job(settings, pack_spec(pack if isinstance(pack, str) else resolved), package,
              source_dir, work, timeout_s, _hard_limit(timeout_s))
    return job.run("single", mutant)


def _uncovered(source_dir: Path, ran: dict[str, set[int]]) -> int:
    from .operators import all_sites, is_run

    return sum(1 for site in all_sites(source_dir) if not is_run(site[0], ran))


__all__ = ["STATUSES", "Campaign", "Settings", "judge", "model_package", "mutate", "pack_spec"]

