"""The report's HTML pages: the index with its findings table, and one page per finding.

Every page is one file with its style and script inline and a content security policy
that forbids loading anything, so a report opens with no network access. Pages hold no
wall-clock time: the same runs give the same pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from gatewaysim.analysis.calls import CallSpan
from gatewaysim.analysis.names import natural_key
from gatewaysim.simulator.clock import SECOND, format_duration, format_time
from gatewaysim.simulator.timeline import describe_default
from gatewaysim.simulator.trace import FAULT, TraceRecord

from .assets import CSP, CSS, JS

if TYPE_CHECKING:
    from .store import ReportItem

MAX_ROWS = 20_000
"""At most this many timeline rows on a page: the ones nearest the violation."""


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n"
        f"<script>{JS}</script>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _after(step_index: int) -> str:
    return f"after step {step_index - 1}" if step_index > 0 else "before any step"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], id_: str = "") -> str:
    """A table; cells are HTML already escaped by the caller."""
    attr = f' id="{id_}"' if id_ else ""
    out = [f"<table{attr}>"]
    if any(head):
        out += ["<thead><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr></thead>"]
    out.append("<tbody>")
    for row in rows:
        cells = [f"<th>{row[0]}</th>", *(f"<td>{c}</td>" for c in row[1:])] if not any(
            head) else [f"<td>{c}</td>" for c in row]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


# ------------------------------------------------------------------ index
def index_page(items: Sequence[ReportItem], explore: Any = None, title: str = "") -> str:
    heading = title or _default_title(items, explore)
    parts = [f"<h1>{escape(heading)}</h1>"]
    if explore is not None:
        parts.append(_explore_summary(explore))
    if not items:
        parts.append('<p class="verdict holds">No finding: every invariant held.</p>')
    rows = []
    for i, it in enumerate(items):
        v = it.result.violation
        verdict = (f'<span class="hung">VIOLATED</span> at {format_time(v.t)} '
                   f"{_after(v.step_index)}" if v is not None
                   else "holds now (does not reproduce)")
        rows.append([
            str(i + 1),
            f'<a href="{escape(it.page)}">{escape(it.invariant_id)}</a>',
            escape(it.statement),
            verdict,
            str(len(it.failure.steps)),
            escape(v.message if v is not None else ""),
        ])
    if items:
        parts.append("<h2>Findings</h2>")
        parts.append(_table(["#", "invariant", "statement", "verdict", "steps", "message"],
                            rows, "findings"))
        parts.append('<p class="muted">Each finding links to its page: the steps, a '
                     "filterable timeline, a sequence diagram and a state timeline. To rerun "
                     "one in a terminal: <code>gatewaysim replay FAILURE_FILE</code> (the "
                     "page links the failure file); <code>--emit-test PATH</code> writes a "
                     "regression test for it.</p>")
    parts.append('<p class="muted">summary.json holds the same table for programs.</p>')
    return page(heading, "\n".join(parts))


def _default_title(items: Sequence[ReportItem], explore: Any) -> str:
    if explore is not None:
        return f"gatewaysim report: {explore.pack} ({explore.variant})"
    packs = sorted({(it.failure.pack, it.result.spec.variant) for it in items})
    what = ", ".join(f"{p} ({v})" for p, v in packs)
    return f"gatewaysim report: {what}" if what else "gatewaysim report"


def _explore_summary(r: Any) -> str:
    rows = [
        ["pack", escape(r.pack)], ["variant", escape(r.variant)], ["seed", str(r.seed)],
        ["profile", escape(r.profile)],
        ["examples", f"{r.examples} ({r.steps} steps, {r.rounds} rounds)"],
        ["wall-clock time", f"{r.elapsed_s:.1f}s of a {r.budget_s:g}s budget"],
        ["stopped", escape(r.stopped)],
    ]
    unreached = getattr(r, "unreached", ())
    if unreached:
        rows.append(["never reached", '<span class="hung">'
                     + escape(", ".join(unreached)) + "</span>"])
    return "<h2>Campaign</h2>" + _table(["", ""], rows, "campaign")


# ------------------------------------------------------------------ finding page
def finding_page(item: ReportItem, seq_svgs: dict[str, str], state_svg: str,
                 lanes: Sequence[str], calls: Sequence[CallSpan]) -> str:
    f, r = item.failure, item.result
    v = r.violation
    title = f"{item.invariant_id}: {f.pack} ({r.spec.variant})"
    parts = ['<p><a href="../index.html">&larr; all findings</a></p>',
             f"<h1>{escape(item.invariant_id)}</h1>",
             f"<p>{escape(item.statement)}</p>"]
    if v is not None:
        parts.append(f'<p class="verdict violated">VIOLATED {escape(v.invariant_id)} at '
                     f"t={format_time(v.t)} {_after(v.step_index)}: {escape(v.message)}</p>")
    else:
        parts.append('<p class="verdict holds">The invariant holds on this run now: the '
                     "failure no longer reproduces.</p>")
    meta = [["pack", escape(f.pack)], ["variant", escape(r.spec.variant)],
            ["seed", str(f.seed)],
            ["trace sha256", f'<span class="mono">{escape(r.trace_sha256)}</span>'
             + ("" if r.trace_sha256 == f.trace_sha256 else
                ' <span class="hung">(differs from the failure file\'s)</span>')],
            ["records", str(r.trace.count)],
            ["failure file", '<a href="failure.json">failure.json</a>'
             + (f' <span class="muted">(from {escape(str(item.source))})</span>'
                if item.source is not None else "")],
            ["Perfetto trace", '<a href="perfetto.json">perfetto.json</a> <span class="muted">'
             "(open it in ui.perfetto.dev: actors as tracks, calls as spans)</span>"]]
    if f.examples:
        meta.append(["found", f"after {f.examples} examples, {f.found_after_s:.1f}s"])
    parts.append(_table(["", ""], meta, "meta"))

    parts.append("<h2>Steps</h2>")
    at = {m.index: m for m in r.marks}
    step_rows = []
    for i, st in enumerate(f.steps):
        m = at.get(i)
        step_rows.append([str(i), format_time(m.t_us) if m else "not run",
                          f"<code>{escape(repr(st))}</code>",
                          escape(m.fault or "") if m else ""])
    parts.append(_table(["step", "applied at", "step", "fault"], step_rows, "steps")
                 if step_rows else "<p>(no steps)</p>")

    if calls:
        parts.append("<h2>Calls</h2>")
        records = r.trace.records
        last = records[-1].t if records else 0
        call_rows = [[f"<code>{escape(c.call_id)}</code>"
                      + (f' <span class="muted">(as {escape(", ".join(c.aliases))})</span>'
                         if c.aliases else ""),
                      "HTTP request" if c.kind == "request" else "call",
                      escape(c.actor), format_time(c.start_us),
                      (f"settled after {format_duration(c.end_or(last) - c.start_us)}"
                       if c.settled else
                       f'<span class="hung">never settled</span> '
                       f"({format_duration(last - c.start_us)} to the end of the run)")]
                     for c in sorted(calls, key=lambda c: c.settled)]  # hung ones first
        parts.append(_table(["call", "kind", "issued by", "issued at", "outcome"], call_rows,
                            "calls"))

    parts.append("<h2>Sequence diagram</h2>")
    parts.append(f'<p class="muted">Lanes: {escape(", ".join(lanes))}: the actors the '
                 "violation names, the actors faults touched and the ends of their "
                 "connections, and the issuers of hung calls. Dashed lines are steps and "
                 "faults with no actor; the red line is the violation. Hover a mark for "
                 "details.</p>")
    buttons = {"time": "whole run, time axis", "order": "whole run, event-order axis",
               "zoom": "the seconds before the violation"}
    parts.append('<div class="controls">' + "".join(
        f'<button type="button" data-show-axis="{axis}">{escape(buttons[axis])}</button>'
        for axis in seq_svgs) + "</div>")
    for axis, svg in seq_svgs.items():
        parts.append(f'<div class="figure" data-axis="{axis}">{svg}</div>')
    parts.append("<h2>State timeline</h2>")
    parts.append(f'<div class="figure">{state_svg}</div>')

    parts.append("<h2>Timeline</h2>")
    parts.append(_timeline(item))
    return page(title, "\n".join(parts))


def _timeline(item: ReportItem) -> str:
    r = item.result
    describe = r.describe
    records: list[TraceRecord] = list(r.trace.records)
    cut = max(0, len(records) - MAX_ROWS)
    records = records[cut:]
    marks = [m for m in r.marks if not records or m.record + 1 >= records[0].seq]
    actors = sorted({rec.actor for rec in records}, key=natural_key)
    kinds = sorted({rec.kind for rec in records})
    rows: list[str] = []
    k = 0

    def step_row(m: Any) -> str:
        return (f'<tr class="step"><td></td><td>{format_time(m.t_us)}</td><td></td>'
                f"<td>step {m.index}: {escape(repr(m.step))}"
                f"{' [' + escape(m.fault) + ']' if m.fault else ''}</td></tr>")

    for rec in records:
        while k < len(marks) and marks[k].record < rec.seq:
            rows.append(step_row(marks[k]))
            k += 1
        text = describe(rec)
        if text is None:
            text = describe_default(rec)
        if not text:
            continue
        cls = "record fault" if rec.kind == FAULT else "record"
        rows.append(f'<tr class="{cls}" data-actor="{escape(rec.actor)}" '
                    f'data-kind="{escape(rec.kind)}"><td>{rec.seq}</td>'
                    f"<td>{format_time(rec.t)}</td><td>{escape(rec.actor)}</td>"
                    f"<td>{escape(text)}</td></tr>")
    rows.extend(step_row(m) for m in marks[k:])
    v = r.violation
    if v is not None:
        rows.append(f'<tr class="violation"><td></td><td>{format_time(v.t)}</td><td></td>'
                    f"<td>VIOLATED {escape(v.invariant_id)}: {escape(v.message)}</td></tr>")
    actor_opts = "".join(f'<option value="{escape(a)}">{escape(a)}</option>' for a in actors)
    kind_opts = "".join(f'<option value="{escape(x)}">{escape(x)}</option>' for x in kinds)
    note = (f'<p class="muted">The first {cut} records are not shown; the whole trace is in '
            "perfetto.json.</p>" if cut else "")
    span = (records[-1].t - records[0].t) / SECOND if records else 0.0
    shown = sum(1 for row in rows if row.startswith('<tr class="record'))
    return (
        f'<p class="muted">Every record a timeline shows: {shown} records over '
        f"{span:.3f}s of virtual time; steps and the violation are marked rows. Timer and "
        "raw message records are left out (see perfetto.json).</p>" + note +
        '<div class="controls">'
        '<label>text <input type="search" id="filter-text" placeholder="e.g. closed"></label>'
        f'<label>actor <select id="filter-actor"><option value="">all actors</option>'
        f"{actor_opts}</select></label>"
        f'<label>kind <select id="filter-kind"><option value="">all kinds</option>'
        f"{kind_opts}</select></label>"
        '<span id="shown-count" class="muted"></span></div>'
        '<table id="timeline"><thead><tr><th>#</th><th>t</th><th>actor</th><th>what</th>'
        "</tr></thead><tbody>" + "\n".join(rows) + "</tbody></table>"
    )


__all__ = ["MAX_ROWS", "finding_page", "index_page", "page"]
