"""One mutant as a task any runner can run: here, in a worker process, on a Dask worker.

A :class:`MutantTask` is a plain value that carries the model package itself (every file of
the campaign's snapshot), so a worker on another machine needs no shared disk: it writes
its own copy, applies the change and judges it in a fresh interpreter (:mod:`.child`) that
imports the copy. The copy is made in ``scratch`` (the campaign's ``mutants/`` directory
when the worker shares this machine, else a temporary directory of the worker's) and
removed after; the user's files are never touched.

The judging interpreter dies with the process that started it (``PR_SET_PDEATHSIG`` on
Linux), so a worker that is killed mid-mutant leaves no campaign running behind it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attrs import field, frozen

from .child import MARKER
from .operators import Mutant

_CHILD = "from gatewaysim.properties.mutation.child import main; main()"

Files = tuple[tuple[str, bytes], ...]
RUNNING = "running mutant #"
"""How the line a task emits once its mutant is being judged begins."""


def snapshot_files(folder: Path) -> Files:
    """Every file under ``folder`` but compiled bytecode, as (path inside it, bytes)."""
    return tuple((p.relative_to(folder).as_posix(), p.read_bytes())
                 for p in sorted(folder.rglob("*"))
                 if p.is_file() and "__pycache__" not in p.relative_to(folder).parts
                 and p.suffix != ".pyc")


@frozen
class MutantTask:
    """Everything a worker needs to judge mutant ``index`` (0: the unmutated baseline)."""

    index: int
    mutant: Mutant | None
    pack: str
    """How the judging interpreter finds the pack: its name or ``module:attr``."""
    variant: str
    seed: int
    max_examples: int
    package: str
    """The model package's import name (served from the copy)."""
    folder: str
    """The package's folder name (the copy's)."""
    files: Files = field(repr=False)
    budget_s: float
    """The mutant's campaign stops itself after this long (between examples)."""
    timeout_s: float
    """Then the judging interpreter is killed (a mutant stuck inside an example)."""
    scratch: str | None = None
    """Where copies are made (``None``: a temporary directory on the worker)."""
    storage: str | None = None
    """Hypothesis's storage directory for the judging interpreter (``None``: in the copy)."""
    trace_lines: bool = False
    """Record the lines of the package the campaign runs (the baseline does)."""

    def __repr__(self) -> str:
        return f"MutantTask({self.index}, {self.mutant!r})"


def run_mutant(task: MutantTask, emit: Callable[[str], None]) -> dict[str, Any]:
    """Copy the package, apply the mutant, judge it in a child interpreter: the verdict."""
    if task.scratch is not None:
        Path(task.scratch).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f"{task.index}-", dir=task.scratch))
    try:
        copy = root / task.folder
        for rel, data in task.files:
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            (copy / rel).write_bytes(data)
        if task.mutant is not None:
            target = copy / task.mutant.file
            try:
                mutated = task.mutant.apply(target.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:  # the snapshot was edited under the campaign
                return {"status": "error", "detail": str(exc), "seconds": 0.0}
            target.write_text(mutated, encoding="utf-8")
        job = {"pack": task.pack, "variant": task.variant, "seed": task.seed,
               "max_examples": task.max_examples, "package": task.package,
               "directory": str(copy), "budget_s": task.budget_s,
               "trace_lines": task.trace_lines, "parent": os.getpid()}
        storage = task.storage if task.storage is not None else str(root / ".hypothesis")
        return _judge(job, storage, task.timeout_s, lambda pid: emit(
            f"{RUNNING}{task.index} in process {os.getpid()} (judged by {pid})"))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _judge(job: dict[str, Any], storage: str, timeout_s: float,
           running: Callable[[int], None]) -> dict[str, Any]:
    # Bytecode and Hypothesis's cache of each mutated module's constants go nowhere near
    # the user's tree or working directory.
    env = {"HYPOTHESIS_STORAGE_DIRECTORY": storage, **os.environ,
           "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, *_flags(), "-c", _CHILD, json.dumps(job)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        running(proc.pid)
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.communicate()
        return {"status": "timed out",
                "detail": f"no verdict after {timeout_s:g}s (wall clock)",
                "seconds": round(time.monotonic() - start, 3)}
    except BaseException:  # Ctrl-C, or a lost progress queue: leave no child behind
        _kill(proc)
        proc.wait()
        raise
    for line in reversed(out.splitlines()):
        if line.startswith(MARKER):
            return dict(json.loads(line[len(MARKER):]))
    tail = " ".join((err.strip().splitlines() or ["no output"])[-1].split())
    return {"status": "crashed", "detail": f"exit {proc.returncode}: {tail}"[:300],
            "seconds": round(time.monotonic() - start, 3)}


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


__all__ = ["RUNNING", "MutantTask", "run_mutant", "snapshot_files"]
