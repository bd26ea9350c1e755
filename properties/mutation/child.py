"""What runs in a mutant's own process: import the mutated copy first, run the campaign.

The parent starts ``python -c`` with a JSON job on the command line. Before anything of the
model is imported, a meta-path finder is put at the front of ``sys.meta_path`` that answers
for the model package's name alone with the copy's directory; its submodules are then found
through the package's ``__path__``, inside the copy. This works the same for an editable
install and for an installed wheel, and nothing of the user's tree is written.

The last line on stdout is the verdict, ``MUTATION-RESULT {json}``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import time
import traceback
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import FrameType
from typing import Any

MARKER = "MUTATION-RESULT "


class _CopyFirst:
    """A meta-path finder that serves one package from another directory."""

    def __init__(self, package: str, directory: Path) -> None:
        self.package = package
        self.directory = directory

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> ModuleSpec | None:
        if fullname != self.package:
            return None
        return importlib.util.spec_from_file_location(
            fullname, self.directory / "__init__.py",
            submodule_search_locations=[str(self.directory)])


def _line_tracer(directory: Path, ran: dict[str, set[int]]) -> Any:
    """A ``sys.settrace`` function recording the lines run in the copy's modules."""
    prefix = str(directory) + "/"

    def on_call(frame: FrameType, event: str, arg: object) -> Any:
        filename = frame.f_code.co_filename
        if not filename.startswith(prefix):
            return None
        lines = ran.setdefault(filename[len(prefix):], set())
        lines.add(frame.f_lineno)

        def on_line(frame: FrameType, event: str, arg: object) -> Any:
            if event == "line":
                lines.add(frame.f_lineno)
            return on_line

        return on_line

    return on_call


def _verdict(job: dict[str, Any], directory: Path, ran: dict[str, set[int]]) -> dict[str, Any]:
    from gatewaysim.properties.explorer import explore
    from gatewaysim.properties.pack import get_pack, load_pack

    try:
        pack = load_pack(job["pack"]) if ":" in job["pack"] else get_pack(job["pack"])
        module = importlib.import_module(job["package"])
    except BaseException as exc:
        return {"status": "stillborn", "detail": f"import: {_one_line(exc)}"}
    loaded = Path(module.__file__ or "").resolve()
    if loaded.parent != directory.resolve():
        return {"status": "error", "detail": f"the model package came from {loaded}, "
                                             "not the mutated copy"}
    if job.get("trace_lines"):  # the baseline, whose lines choose the mutants
        sys.settrace(_line_tracer(directory, ran))
    else:
        stillborn = _stillborn(pack, job)
        if stillborn is not None:
            return {"status": "stillborn", "detail": stillborn}
    try:
        report = explore(pack, variant=job["variant"], max_examples=job["max_examples"],
                         seed=job["seed"], profile="ci", out_dir=None, progress=None,
                         budget_s=job["budget_s"])
    except BaseException as exc:
        return {"status": "crashed", "detail": f"explorer: {_one_line(exc)}"}
    finally:
        sys.settrace(None)
    found = [f.invariant_id for f in report.findings]
    by = [i for i in found if i != "no-exception"] + list(report.unreached)
    result: dict[str, Any] = {"examples": report.examples}
    if by:
        details = {f.invariant_id: f.violation.message for f in report.findings}
        first = by[0]
        return {**result, "status": "killed", "by": by,
                "detail": details.get(first, "never reached")}
    if found:
        exc_finding = report.findings[0]
        return {**result, "status": "crashed", "detail": exc_finding.violation.message}
    if report.stopped.startswith("incomplete"):
        return {**result, "status": "timed out", "detail": report.stopped}
    return {**result, "status": "survived"}


def _stillborn(pack: Any, job: dict[str, Any]) -> str | None:
    """Why the mutated model cannot even run its empty run (boot, then three idle minutes
    of settling), or ``None`` when it can.

    Such a mutant (a removed ``super().__init__``, a field never created) fails every run,
    whatever the invariants say: it is the Python form of a mutant that does not compile,
    which mutation tools leave out of the score. Checked with ``no-exception`` alone, so a
    mutant whose empty run breaks an invariant is still judged (and killed) by the campaign.
    """
    from gatewaysim.properties.execution import only
    from gatewaysim.properties.monitor import NO_EXCEPTION
    from gatewaysim.properties.run import RunSpec

    try:
        spec = RunSpec.of(pack, (), variant=job["variant"], seed=job["seed"])
        found = spec.execute(checked=only(NO_EXCEPTION.id)).violation
    except Exception as exc:  # building the spec or the world, before the run can catch it
        return f"empty run: {_one_line(exc)}"
    if found is not None and found.invariant_id == NO_EXCEPTION.id:
        return f"empty run: {found.message}"[:300]
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _die_with(parent: int | None) -> None:
    """Be killed when the process that started this one dies (a campaign's worker killed
    mid-mutant, or stopped by Ctrl-C), rather than run on with nobody to read the verdict.
    Linux only; elsewhere the mutant's own budget ends it."""
    if parent is None:
        return
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        try:
            ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
        except (OSError, AttributeError):
            return
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def main() -> None:
    """Run the job given as JSON in ``sys.argv[1]``; print the verdict last."""
    job = json.loads(sys.argv[1])
    _die_with(job.get("parent"))
    directory = Path(job["directory"])
    sys.meta_path.insert(0, _CopyFirst(job["package"], directory))
    ran: dict[str, set[int]] = {}
    start = time.monotonic()
    try:
        result = _verdict(job, directory, ran)
    except BaseException:
        result = {"status": "error", "detail": traceback.format_exc(limit=3)}
    result["seconds"] = round(time.monotonic() - start, 3)
    if job.get("trace_lines"):
        result["ran"] = {f: sorted(lines) for f, lines in sorted(ran.items())}
    sys.stdout.flush()
    print(MARKER + json.dumps(result, sort_keys=True), flush=True)


__all__ = ["MARKER", "main"]
