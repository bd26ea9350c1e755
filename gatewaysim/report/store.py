"""Writing a report folder: the runs of some findings, executed again keeping their records,
drawn and written as one self-contained folder a CI system can keep as an artifact::

    DIR/index.html             the findings table, linking to one page per finding
    DIR/summary.json           the same table for programs
    DIR/01-echo.order/index.html     the finding's page: steps, calls, pictures, timeline
    DIR/01-echo.order/failure.json   the failure file (``gatewaysim replay`` takes it)
    DIR/01-echo.order/perfetto.json  the trace in the Chrome trace-event format

The folder is written whole or not at all: it is built in a temporary sibling folder and
renamed into place, so a reader (or a CI upload) never sees half a report. An existing
folder is replaced only if it is an earlier report (it holds a report's ``summary.json``)
or empty; anything else is refused before any run starts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from gatewaysim.analysis.calls import call_spans
from gatewaysim.analysis.focus import lanes_that_matter
from gatewaysim.analysis.view import TraceView
from gatewaysim.properties.failure import Failure, load_failure
from gatewaysim.properties.pack import get_pack
from gatewaysim.properties.run import RunResult, RunSpec
from gatewaysim.simulator.clock import SECOND, format_duration, format_time
from gatewaysim.simulator.errors import ConfigError

from .html import finding_page, index_page
from .perfetto import to_trace_events
from .svg import sequence_diagram_svg, state_timeline_svg

ZOOM = 5 * SECOND
"""How much of a long run before the violation the zoomed sequence diagram shows."""

FORMAT = "gatewaysim-report"
VERSION = 1


@frozen
class ReportItem:
    """One finding to report: its failure (the run and what was found), the run executed
    again with its records kept, and the failure file it came from (if any)."""

    failure: Failure
    result: RunResult
    source: Path | None = None
    slug: str = ""

    @property
    def invariant_id(self) -> str:
        return self.failure.invariant_id

    @property
    def statement(self) -> str:
        return self.failure.statement

    @property
    def page(self) -> str:
        """The finding's page, relative to the report folder."""
        return f"{self.slug}/index.html"


Reportable = Any
"""What :func:`write_report` takes for one finding: a :class:`ReportItem`, a
:class:`~gatewaysim.properties.failure.Failure`, the path of a failure file, a
``(failure, executed run, source path)`` triple, or an explorer
:class:`~gatewaysim.properties.explorer.Finding` (read from its failure file, or rebuilt
from the campaign's pack, variant and seed when it has none)."""


def check_report_dir(path: str | Path) -> Path:
    """Refuse a report folder that cannot be written, before anything runs: its parent
    must be a directory, and the folder itself absent, empty, or an earlier report."""
    dest = Path(path)
    if not dest.parent.is_dir() and str(dest.parent) not in ("", "."):
        raise ConfigError(f"cannot write the report {path}: {dest.parent} is not a directory")
    if dest.exists():
        if not dest.is_dir():
            raise ConfigError(f"cannot write the report {path}: it is not a directory")
        if any(dest.iterdir()) and not _is_report(dest):
            raise ConfigError(f"cannot write the report {path}: it is a directory that holds "
                              "something other than a gatewaysim report")
    probe = dest.with_name(f".{dest.name}.{os.getpid()}.probe")
    try:
        probe.mkdir()
    except OSError as exc:
        raise ConfigError(f"cannot write the report {path}: {exc.strerror}") from None
    probe.rmdir()
    return dest


def _is_report(path: Path) -> bool:
    try:
        summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and summary.get("format") == FORMAT


def item_of(thing: Reportable, explore: Any = None) -> ReportItem:
    """A :class:`ReportItem` for one of the things :func:`write_report` takes."""
    if isinstance(thing, ReportItem):
        return thing
    if isinstance(thing, tuple):
        failure, result, source = thing
        return ReportItem(failure, result, Path(source) if source is not None else None)
    source: Path | None = None
    if isinstance(thing, str | Path):
        source = Path(thing)
        failure = load_failure(source)
    elif isinstance(thing, Failure):
        failure = thing
    elif hasattr(thing, "examples_to_find"):  # an explorer Finding
        failure, source = _failure_of_finding(thing, explore)
    else:
        raise TypeError(f"cannot report a {type(thing).__name__}: expected a Finding, "
                        "a Failure or the path of a failure file")
    return ReportItem(failure, failure.run.execute(keep_records=True), source)


def _failure_of_finding(finding: Any, explore: Any) -> tuple[Failure, Path | None]:
    if finding.path is not None:
        return load_failure(finding.path), Path(finding.path)
    if explore is None:
        raise ConfigError(f"the finding {finding.invariant_id} has no failure file: pass the "
                          "ExploreReport it belongs to, so its run can be rebuilt")
    spec = RunSpec.of(explore.pack, finding.steps, variant=explore.variant, seed=explore.seed)
    statement = get_pack(explore.pack).monitor(finding.invariant_id).statement
    return Failure(spec, finding.invariant_id, statement, finding.violation,
                   finding.trace_sha256, finding.found_after_s, finding.examples_to_find,
                   shrunk=finding.shrunk), None


def _slug(i: int, invariant_id: str) -> str:
    return f"{i + 1:02d}-" + (re.sub(r"[^A-Za-z0-9._-]+", "_", invariant_id)[:80] or "finding")


def write_report(dir: str | Path, findings: Iterable[Reportable], explore: Any = None, *,
                 title: str = "") -> Path:
    """Write a report of ``findings`` to the folder ``dir``; returns its ``index.html``.

    ``findings`` are explorer ``Finding`` values, ``Failure`` values or failure file
    paths (see :data:`Reportable`); ``explore`` is the campaign's ``ExploreReport``, if
    any (its summary heads the index, and it rebuilds findings that have no file). Each
    finding's run is executed again keeping its records.
    """
    dest = check_report_dir(dir)
    items = [item_of(x, explore) for x in findings]
    items = [ReportItem(it.failure, it.result, it.source, _slug(i, it.invariant_id))
             for i, it in enumerate(items)]
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for it in items:
            _write_finding(tmp / it.slug, it)
        (tmp / "index.html").write_text(index_page(items, explore, title), encoding="utf-8")
        (tmp / "summary.json").write_text(
            json.dumps(summary(items, explore), indent=2) + "\n", encoding="utf-8")
        _swap_in(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest / "index.html"


def _swap_in(tmp: Path, dest: Path) -> None:
    """Put the finished folder in place of ``dest`` (an earlier report, or nothing)."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.{os.getpid()}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dest, old)
    try:
        os.replace(tmp, dest)
    except OSError:
        if old is not None:
            os.replace(old, dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_finding(folder: Path, it: ReportItem) -> None:
    folder.mkdir()
    r = it.result
    records = r.trace.records
    calls = call_spans(records)
    lanes = lanes_that_matter(records, r.violation, r.marks, calls)
    view = TraceView(r.trace.header, records, rules=get_pack(it.failure.pack).state_rules)
    seq = {axis: sequence_diagram_svg(records, lanes=lanes, steps=r.marks,
                                      violation=r.violation, axis=axis)
           for axis in ("time", "order")}
    end = r.violation.t if r.violation is not None else (records[-1].t if records else 0)
    if records and end - records[0].t > 2 * ZOOM:
        window = (end - ZOOM, end)
        what = "the violation" if r.violation is not None else "the end of the run"
        seq["zoom"] = sequence_diagram_svg(
            records, lanes=lanes, steps=r.marks, violation=r.violation, window=window,
            title=f"Sequence diagram: the {format_duration(ZOOM)} before {what}, "
                  f"{format_time(window[0])} to {format_time(window[1])}")
    state = state_timeline_svg(view, lanes=lanes, steps=r.marks, violation=r.violation)
    (folder / "index.html").write_text(finding_page(it, seq, state, lanes, calls),
                                       encoding="utf-8")
    (folder / "failure.json").write_text(json.dumps(it.failure.to_json(), indent=2) + "\n",
                                         encoding="utf-8")
    events = to_trace_events(records, describe=r.describe, steps=r.marks,
                             violation=r.violation,
                             title=f"{it.failure.pack} {r.spec.variant} {it.invariant_id}")
    (folder / "perfetto.json").write_text(
        json.dumps(events, separators=(",", ":"), ensure_ascii=False, default=str) + "\n",
        encoding="utf-8")


def summary(items: Sequence[ReportItem], explore: Any = None) -> dict[str, Any]:
    """What ``summary.json`` holds: the findings table, and the campaign if there was one."""
    out: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if explore is not None:
        out["explore"] = {
            "pack": explore.pack, "variant": explore.variant, "seed": explore.seed,
            "profile": explore.profile, "examples": explore.examples,
            "elapsed_s": round(explore.elapsed_s, 3), "stopped": explore.stopped,
            "unreached": list(getattr(explore, "unreached", ())),
        }
    rows = []
    for it in items:
        v = it.result.violation
        calls = call_spans(it.result.trace.records)
        rows.append({
            "invariant": it.invariant_id,
            "statement": it.statement,
            "pack": it.failure.pack,
            "variant": it.result.spec.variant,
            "seed": it.failure.seed,
            "steps": len(it.failure.steps),
            "violated": v is not None,
            "violation": None if v is None else {
                "invariant": v.invariant_id, "message": v.message, "t_us": v.t,
                "after_step": v.step_index - 1 if v.step_index > 0 else None},
            "trace_sha256": it.result.trace_sha256,
            "reproduces_recorded_trace": it.result.trace_sha256 == it.failure.trace_sha256,
            "hung_calls": [c.call_id for c in calls if c.hung],
            "page": it.page,
            "failure_file": f"{it.slug}/failure.json",
            "perfetto": f"{it.slug}/perfetto.json",
            "source": str(it.source) if it.source is not None else None,
        })
    out["findings"] = rows
    return out


__all__ = ["FORMAT", "ReportItem", "Reportable", "check_report_dir", "item_of", "summary",
           "write_report"]
