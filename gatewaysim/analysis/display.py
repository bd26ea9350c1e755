"""How views and timelines show themselves in Jupyter: HTML with the verdict on top.

A notebook cell that ends in a :class:`~gatewaysim.analysis.view.TraceView` shows where
its records came from and, for a run made of steps (a failure, a branch), whether the
run violates an invariant, which one, and when, before anything else. A timeline is a
:class:`Timeline`: a ``str`` (code that splits, searches or prints it is unchanged) that
Jupyter shows as preformatted text instead of an escaped one-line string.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from gatewaysim.simulator.clock import format_time

from .focus import outcome_of

if TYPE_CHECKING:
    from .view import TraceView

PRE = ("font-family:monospace;font-size:12px;line-height:1.35;white-space:pre;"
       "overflow-x:auto;margin:0")
PREVIEW_LINES = 12


class Timeline(str):
    """A text timeline: a plain ``str`` that also renders as preformatted HTML."""

    __slots__ = ()

    def _repr_html_(self) -> str:
        body = html.escape(str(self)) if self else "(nothing to show in the timeline)"
        return f'<pre style="{PRE}">{body}</pre>'

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain-text display: the lines, not a quoted string."""
        printer.text(str(self))


def verdict_html(view: TraceView) -> str:
    """The verdict banner of a view of an executed run ("" for any other view)."""
    outcome = outcome_of(view)
    if outcome is None:
        return ""
    v = outcome.violation
    if v is None:
        color, head = "#2e7d32", "HOLDS"
        body = ("no invariant violated" if outcome.settled else
                "no invariant violated (the run stopped before its last check)")
    else:
        color, head = "#c62828", "VIOLATED"
        body = (f"<b>{html.escape(v.invariant_id)}</b> at {format_time(v.t)} "
                f"(after {v.step_index} step(s)): {html.escape(v.message)}")
    lineage = [c for c in outcome.lineage() if c is not None]
    extra = ("<br><span style='color:#555'>branched: "
             + html.escape(" then ".join(repr(c) for c in lineage)) + "</span>"
             if lineage else "")
    return (f"<div style='border-left:5px solid {color};padding:4px 10px;margin:4px 0;"
            f"background:#fafafa'><b style='color:{color}'>{head}</b> {body}{extra}</div>")


def view_html(view: TraceView) -> str:
    """A view in Jupyter: verdict, where it came from, its steps, a timeline preview."""
    e = html.escape
    src = view.source
    span = view.span()
    facts = [f"{len(view)} records", f"{len(view.actors())} actors"]
    if span is not None:
        facts.append(f"{span[0]:.3f}s to {span[1]:.3f}s")
    where = src.kind + (f" {src.path}" if src.path else "")
    variant = view.header.get("variant") or src.variant
    if variant:
        where += f", variant {variant}"
    if view.header.get("pack"):
        where = f"{view.header['pack']} {where}"
    parts = ['<div style="font-family:sans-serif;font-size:13px">', verdict_html(view),
             f"<div><b>TraceView</b> of {e(where)}: {e(', '.join(facts))}</div>"]
    outcome = outcome_of(view)
    if outcome is not None and outcome.marks:
        rows = "".join(
            f"<tr><td style='padding:1px 8px;text-align:right'>{m.index}</td>"
            f"<td style='padding:1px 8px'>{format_time(m.t_us)}</td>"
            f"<td style='padding:1px 8px;font-family:monospace'>{e(repr(m.step))}</td>"
            f"<td style='padding:1px 8px'>{e(m.fault or '')}</td></tr>"
            for m in outcome.marks)
        parts.append("<details><summary>steps</summary><table><tr><th>#</th><th>at</th>"
                     f"<th>step</th><th>fault</th></tr>{rows}</table></details>")
    lines = str(view.timeline()).splitlines()
    if lines:
        shown = lines if len(lines) <= 2 * PREVIEW_LINES else [
            *lines[:PREVIEW_LINES], f"   … {len(lines) - 2 * PREVIEW_LINES} more lines …",
            *lines[-PREVIEW_LINES:]]
        parts.append(f"<details><summary>timeline ({len(lines)} lines)</summary>"
                     f"<pre style=\"{PRE}\">{e(chr(10).join(shown))}</pre></details>")
    parts.append("</div>")
    return "".join(parts)


__all__ = ["Timeline", "verdict_html", "view_html"]
