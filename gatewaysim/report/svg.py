"""SVG pictures of one run, drawn from its trace records with no plotting library: a
sequence diagram and a state timeline, both with the steps, faults, the violation and
call lifetimes marked.

Each picture has one lane per actor, and by default only the lanes that matter
(:func:`gatewaysim.analysis.focus.lanes_that_matter`, the choice the notebook plots make
too). Calls are :func:`gatewaysim.analysis.calls.call_spans`: a call that never settled
(a client's call, or a request such as a mesh call a gateway parked) is drawn to the end
of the run, in red. The x axis is virtual time in seconds, or, with
``axis="order"``, the order of events (Lamport-style: each drawn event gets its own column,
so a burst of 10 ms messages on a three-minute run is as readable as a slow exchange).
Text is set in a monospace font so its width is known here, and every label is placed in
the first row of its lane (or of the marker band on top) where it overlaps no other label:
labels never overlap, and a label with no free row is left to its marker's tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from attrs import frozen

from gatewaysim.analysis.calls import CallSpan, call_spans
from gatewaysim.analysis.focus import connection_ends, fault_actors, lanes_that_matter
from gatewaysim.analysis.plots import pair_messages, state_color, state_intervals
from gatewaysim.analysis.view import TraceView
from gatewaysim.simulator.clock import SECOND, Time, format_duration, format_time
from gatewaysim.simulator.trace import FAULT, TraceRecord

FONT = 11
CHAR_W = FONT * 0.6  # monospace advance width
LEFT = 150  # lane names
RIGHT = 20
PLOT_W = 1000  # time axis width
ORDER_COL = 14  # pixels per event on the event-order axis
LANE_ROWS = 3  # label rows under each lane line
ROW_H = FONT + 3
TOP_ROWS = 4  # label rows of the step / fault / violation band
MAX_ARROWS = 600
REPEAT_GAP = 300  # pixels before the same label is repeated on a lane
HALO = ' stroke="#ffffff" stroke-width="3" paint-order="stroke"'

C_MESSAGE = "#1f77b4"
C_OPEN = "#2ca02c"
C_HTTP = "#9467bd"
C_LOST = "#d62728"
C_CLOSE = "#ff7f0e"
C_FAULT = "#000000"
C_STEP = "#555555"
C_VIOLATION = "#d62728"
C_CALL = "#7f7f7f"
C_HUNG = "#d62728"
ARROW_COLORS = {"message": C_MESSAGE, "open": C_OPEN, "http": C_HTTP}


@frozen
class Marker:
    """A vertical line across every lane: a step, a fault with no actor, the violation."""

    what: str  # step, fault, violation
    t: Time
    label: str
    seq: int
    title: str


# ------------------------------------------------------------------ layout helpers
def text_width(text: str) -> float:
    return len(text) * CHAR_W


class Rows:
    """Greedy label placement: each label goes in the first row where it overlaps none."""

    def __init__(self, rows: int) -> None:
        self.taken: list[list[tuple[float, float]]] = [[] for _ in range(rows)]

    def place(self, x0: float, x1: float) -> int | None:
        for i, spans in enumerate(self.taken):
            if all(x1 + 4 <= a or x0 >= b + 4 for a, b in spans):
                spans.append((x0, x1))
                return i
        return None


def _ticks(lo: Time, hi: Time, target: int = 10) -> list[Time]:
    span = max(hi - lo, 1)
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    step_us = max(1, round(step))
    first = -(-lo // step_us) * step_us
    return list(range(first, hi + 1, step_us))


def _seconds(t: Time) -> str:
    s = t / SECOND
    return f"{s:g}s" if abs(s - round(s, 3)) < 1e-9 else f"{s:.3f}s"


class Axis:
    """Maps a record (its time and sequence number) to x, on a time or event-order axis."""

    def __init__(self, kind: str, lo: Time, hi: Time, seqs: Sequence[tuple[Time, int]] = ()):
        if kind not in ("time", "order"):
            raise ValueError(f"axis must be 'time' or 'order', not {kind!r}")
        self.kind, self.lo, self.hi = kind, lo, max(hi, lo + 1)
        self.cols: dict[int, int] = {}
        self.col_times: list[tuple[int, Time]] = []
        if kind == "order":
            for t, seq in sorted(set(seqs), key=lambda p: p[1]):
                if seq not in self.cols:
                    self.cols[seq] = len(self.cols)
                    self.col_times.append((seq, t))
        self.width = PLOT_W if kind == "time" else max(PLOT_W, (len(self.cols) + 1) * ORDER_COL)

    def x(self, t: Time, seq: int) -> float:
        if self.kind == "time":
            return LEFT + (t - self.lo) / (self.hi - self.lo) * self.width
        col = self.cols.get(seq)
        if col is None:  # an event not drawn itself: just after the last drawn one before it
            col = sum(1 for s in self.cols if s < seq) - 0.5
        return LEFT + (col + 0.5) * ORDER_COL

    def ticks(self) -> list[tuple[float, str]]:
        if self.kind == "time":
            return [(self.x(t, 0), _seconds(t)) for t in _ticks(self.lo, self.hi)]
        out: list[tuple[float, str]] = []
        rows = Rows(1)
        for seq, t in self.col_times:
            x = self.x(t, seq)
            label = format_time(t)
            if rows.place(x - text_width(label) / 2, x + text_width(label) / 2) is not None:
                out.append((x, label))
        return out

    @property
    def label(self) -> str:
        return ("virtual time (s)" if self.kind == "time"
                else "event order (one column per event; labels give its virtual time)")


# ------------------------------------------------------------------ the pictures
def markers(records: Sequence[TraceRecord], steps: Sequence[Any], violation: Any
            ) -> list[Marker]:
    out = [Marker("step", m.t_us, f"step {m.index}", m.record + 1,
                  f"step {m.index}: {m.step!r} at {format_time(m.t_us)}") for m in steps]
    ends = connection_ends(records)
    for r in records:
        if r.kind == FAULT and not fault_actors(r.type, r.data, ends):
            out.append(Marker("fault", r.t, r.type, r.seq,
                              f"fault {r.type} at {format_time(r.t)}"))
    if violation is not None:
        last = records[-1].seq + 1 if records else 0
        out.append(Marker("violation", violation.t, f"VIOLATED {violation.invariant_id}", last,
                          f"{violation.invariant_id} violated at {format_time(violation.t)}: "
                          f"{violation.message}"))
    return out


class _Canvas:
    """The shared frame of both pictures: lanes, axis, marker band, label rows."""

    def __init__(self, lanes: Sequence[str], axis: Axis, title: str, lane_h: int) -> None:
        self.lanes, self.axis, self.title, self.lane_h = list(lanes), axis, title, lane_h
        self.top = 28 + TOP_ROWS * ROW_H
        self.y = {a: self.top + 10 + i * lane_h for i, a in enumerate(self.lanes)}
        self.bottom = self.top + 10 + len(self.lanes) * lane_h
        self.width = LEFT + axis.width + RIGHT
        self.height = self.bottom + 40
        self.body: list[str] = []
        self.top_rows = Rows(TOP_ROWS)
        self.lane_rows = {a: Rows(LANE_ROWS) for a in self.lanes}
        self.last_label: dict[tuple[str, str], float] = {}

    def label_in_lane(self, actor: str, x: float, text: str, color: str, base: float) -> None:
        """Label a mark under its lane, unless the same text was labelled just before on
        this lane (a repeated close code is read once) or no row is free."""
        last = self.last_label.get((actor, text))
        if last is not None and x - last < REPEAT_GAP:
            return
        w = text_width(text)
        x0 = min(x + 3, self.width - 2 - w)  # near the right edge, it ends at its mark
        row = self.lane_rows[actor].place(x0, x0 + w)
        if row is not None:
            self.last_label[(actor, text)] = x
            y = base + (row + 1) * ROW_H
            self.body.append(f'<text x="{x0:.1f}" y="{y:.1f}" fill="{color}"{HALO}>'
                             f"{escape(text)}</text>")

    def marker(self, m: Marker) -> None:
        x = self.axis.x(m.t, m.seq)
        color = {"step": C_STEP, "fault": C_FAULT, "violation": C_VIOLATION}[m.what]
        dash = ' stroke-dasharray="4 3"' if m.what != "violation" else ""
        width = 2 if m.what == "violation" else 1
        self.body.append(f'<g class="marker {m.what}"><title>{escape(m.title)}</title>'
                         f'<line x1="{x:.1f}" y1="{self.top:.1f}" x2="{x:.1f}" '
                         f'y2="{self.bottom:.1f}" stroke="{color}" stroke-width="{width}"'
                         f"{dash}/>")
        w = text_width(m.label)
        cx = min(max(x, LEFT + w / 2), LEFT + self.axis.width + RIGHT - w / 2)
        row = self.top_rows.place(cx - w / 2, cx + w / 2)
        if row is not None:
            y = 28 + (row + 1) * ROW_H - 3
            weight = ' font-weight="bold"' if m.what == "violation" else ""
            self.body.append(f'<text x="{cx:.1f}" y="{y:.1f}" text-anchor="middle" '
                             f'fill="{color}"{weight}{HALO}>{escape(m.label)}</text>')
        self.body.append("</g>")

    def render(self, kind: str, legend: Sequence[tuple[str, str]]) -> str:
        ax = self.axis
        head = [f'<svg xmlns="http://www.w3.org/2000/svg" class="{kind}" '
                f'width="{self.width:.0f}" height="{self.height:.0f}" '
                f'viewBox="0 0 {self.width:.0f} {self.height:.0f}" '
                f'font-family="monospace" font-size="{FONT}">',
                f'<text x="4" y="16" font-weight="bold">{escape(self.title)}</text>']
        for x, label in ax.ticks():
            head.append(f'<line x1="{x:.1f}" y1="{self.top:.1f}" x2="{x:.1f}" '
                        f'y2="{self.bottom:.1f}" stroke="#eeeeee"/>'
                        f'<text x="{x:.1f}" y="{self.bottom + 14:.1f}" text-anchor="middle" '
                        f'fill="#444">{escape(label)}</text>')
        head.append(f'<text x="{LEFT}" y="{self.bottom + 30:.1f}" fill="#444">'
                    f"{escape(ax.label)}</text>")
        for a, y in self.y.items():
            name = a if text_width(a) <= LEFT - 8 else a[: int((LEFT - 8) / CHAR_W) - 1] + "…"
            head.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                        f"<title>{escape(a)}</title>{escape(name)}</text>"
                        f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + ax.width:.1f}" '
                        f'y2="{y:.1f}" stroke="#cccccc"/>')
        x = max(LEFT + 260, 4 + text_width(self.title) + 24)
        for label, color in legend:
            if x + text_width(label) + 20 > self.width:
                break
            head.append(f'<rect x="{x}" y="7" width="10" height="10" fill="{color}"/>'
                        f'<text x="{x + 14}" y="16">{escape(label)}</text>')
            x += 14 + text_width(label) + 14
        return "\n".join([*head, *self.body, "</svg>"])


def _bounds(records: Sequence[TraceRecord], violation: Any) -> tuple[Time, Time]:
    lo = records[0].t if records else 0
    hi = records[-1].t if records else SECOND
    if violation is not None:
        hi = max(hi, violation.t)
    return lo, hi


def sequence_diagram_svg(records: Sequence[TraceRecord], *, lanes: Sequence[str] | None = None,
                         steps: Sequence[Any] = (), violation: Any = None, axis: str = "time",
                         window: tuple[Time, Time] | None = None,
                         title: str | None = None) -> str:
    """A sequence diagram: messages, upgrades and HTTP as arrows between lanes; closes,
    losses and faults as marks on their lane; calls as bars under the issuer's lane (red:
    never settled); steps, lane-less faults and the violation as vertical lines.

    ``window`` (microseconds, both ends inclusive) draws only that span of the run: the
    messages sent and received inside it, and the calls alive in it, cut at its edges.
    Messages are paired over the whole run all the same."""
    calls = call_spans(records)
    if lanes is None:
        lanes = lanes_that_matter(records, violation, steps, calls)
    on = set(lanes)
    lo, hi = window if window is not None else _bounds(records, violation)

    def inside(t: Time) -> bool:
        return lo <= t <= hi

    arrows, marks = pair_messages(records)
    arrows = [a for a in arrows if a.src in on and a.dst in on and inside(a.t0)
              and inside(a.t1)]
    cut = max(0, len(arrows) - MAX_ARROWS)
    arrows = arrows[cut:]
    ends = connection_ends(records)
    faults = [(r, a) for r in records if r.kind == FAULT and inside(r.t)
              for a in fault_actors(r.type, r.data, ends) if a in on]
    marks = [m for m in marks if m.actor in on and m.what != "fault" and inside(m.t)]
    if cut:
        first_seq = arrows[0].seq0 if arrows else 0
        marks = [m for m in marks if m.seq >= first_seq]
    last = records[-1].t if records else hi
    if window is not None:
        calls = [c for c in calls if c.start_us <= hi and c.end_or(last) >= lo]
        steps = [m for m in steps if inside(m.t_us)]
        if violation is not None and not inside(violation.t):
            violation = None
    seqs = [(a.t0, a.seq0) for a in arrows] + [(a.t1, a.seq1) for a in arrows]
    seqs += [(m.t, m.seq) for m in marks] + [(r.t, r.seq) for r, _ in faults]
    seqs += [(c.start_us, c.start_seq) for c in calls if c.actor in on]
    ax = Axis(axis, lo, hi, seqs)
    shown = f"{len(lanes)} of {len({r.actor for r in records if r.kind != FAULT})} actors"
    if title is None:
        title = f"Sequence diagram: {shown}, {_seconds(lo)} to {_seconds(hi)}"
        if cut:
            title += f" (the last {len(arrows)} messages; {cut} earlier not drawn)"
    cv = _Canvas(lanes, ax, title, lane_h=14 + LANE_ROWS * ROW_H + 12)
    for a in arrows:
        x0, x1 = ax.x(a.t0, a.seq0), ax.x(a.t1, a.seq1)
        y0, y1 = cv.y[a.src], cv.y[a.dst]
        color = ARROW_COLORS.get(a.what, C_MESSAGE)
        tip = f"{a.what} {a.src} -> {a.dst}, sent {format_time(a.t0)}, " \
              f"received {format_time(a.t1)} (#{a.seq0} -> #{a.seq1})"
        cv.body.append(f'<g class="arrow {a.what}"><title>{escape(tip)}</title>'
                       f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
                       f'stroke="{color}" stroke-width="1"/>'
                       f"{_head(x0, y0, x1, y1, color)}</g>")
    colors = {"lost": C_LOST, "close": C_CLOSE, "closed": C_CLOSE}
    for m in marks:
        x, y = ax.x(m.t, m.seq), cv.y[m.actor]
        color = colors.get(m.what, C_CLOSE)
        label = _mark_label(m)
        cv.body.append(f'<g class="mark {m.what}"><title>{escape(label)} at '
                       f'{format_time(m.t)} (#{m.seq})</title>'
                       f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/></g>')
        cv.label_in_lane(m.actor, x, label, color, y + 14)
    for r, actor in faults:
        x, y = ax.x(r.t, r.seq), cv.y[actor]
        cv.body.append(f'<g class="mark fault"><title>fault {escape(r.type)} at '
                       f'{format_time(r.t)}</title>'
                       f'<path d="M{x:.1f},{y - 6:.1f} l6,6 l-6,6 l-6,-6 z" fill="{C_FAULT}"/>'
                       "</g>")
        cv.label_in_lane(actor, x, r.type, C_FAULT, y + 14)
    _draw_calls(cv, [c for c in calls if c.actor in on], records, 3, (lo, hi))
    for m in markers(records, steps, violation):
        if inside(m.t):
            cv.marker(m)
    legend = [("message", C_MESSAGE), ("upgrade", C_OPEN), ("http", C_HTTP), ("lost", C_LOST),
              ("close", C_CLOSE), ("fault", C_FAULT), ("call", C_CALL), ("hung call", C_HUNG)]
    return cv.render("sequence-diagram", legend)


def _mark_label(m: Any) -> str:
    """Plain words for a mark: ``rejected (status 403)`` rather than ``rej 403``."""
    if m.what == "closed" and m.label.startswith("rej "):
        status = m.label.removeprefix("rej ")
        return "rejected" if status in ("0", "None") else f"rejected (status {status})"
    if m.what == "closed" and m.label.isdigit():
        return f"closed {m.label}"
    return m.label if m.what != "lost" else f"lost ({m.label})"


def _seq_at(records: Sequence[TraceRecord], t: Time) -> int:
    """The sequence number of the first record at or after ``t``."""
    for r in records:
        if r.t >= t:
            return r.seq
    return records[-1].seq if records else 0


def _draw_calls(cv: _Canvas, calls: Sequence[CallSpan], records: Sequence[TraceRecord],
                offset: float, window: tuple[Time, Time]) -> None:
    """Each call as a bar just under its issuer's lane line, from issue to settlement (cut
    at the edges of ``window``); a call that never settled runs to the right edge (the end
    of the run) in red and is labelled."""
    lo, hi = window
    level: dict[str, list[float]] = {}
    for c in calls:
        t0 = max(c.start_us, lo)
        seq0 = c.start_seq if c.start_us >= lo else _seq_at(records, lo)
        if c.hung:
            t1, seq1 = hi, records[-1].seq + 1 if records else 0
        else:
            assert c.end_us is not None and c.end_seq is not None
            t1, seq1 = min(c.end_us, hi), c.end_seq if c.end_us <= hi else _seq_at(records, hi)
        x0 = cv.axis.x(t0, seq0)
        x1 = LEFT + cv.axis.width if c.hung else max(x0 + 2, cv.axis.x(t1, seq1))
        ends = level.setdefault(c.actor, [])
        row = next((i for i, e in enumerate(ends) if e + 2 <= x0), len(ends))
        if row == len(ends):
            ends.append(x1)
        else:
            ends[row] = x1
        if row >= 3 and not c.hung:
            continue
        y = cv.y[c.actor] + offset + min(row, 2) * 3
        color = C_HUNG if c.hung else C_CALL
        what = "request" if c.kind == "request" else "call"
        also = f" (as {', '.join(c.aliases)})" if c.aliases else ""
        state = ("never settled (drawn to the end of the run)" if c.hung
                 else f"settled after {format_duration(c.end_or(t1) - c.start_us)}")
        cv.body.append(f'<g class="call{" hung" if c.hung else ""}"><title>{what} '
                       f'{escape(c.call_id)}{escape(also)} issued {format_time(c.start_us)}, '
                       f'{state}</title>'
                       f'<rect x="{x0:.1f}" y="{y:.1f}" width="{x1 - x0:.1f}" height="2.5" '
                       f'fill="{color}"/></g>')
        if c.hung:
            cv.label_in_lane(c.actor, x0, f"hung {what} {c.short_id}", C_HUNG,
                             cv.y[c.actor] + 14)


def _head(x0: float, y0: float, x1: float, y1: float, color: str) -> str:
    angle = math.atan2(y1 - y0, x1 - x0)
    size = 6
    pts = [(x1, y1)]
    for da in (2.7, -2.7):
        pts.append((x1 + size * math.cos(angle + da), y1 + size * math.sin(angle + da)))
    return f'<polygon points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}" fill="{color}"/>'


def up_down(records: Sequence[TraceRecord], actor: str, end: Time) -> list[tuple[Time, Time, str]]:
    """``up``/``down`` spans of an actor with no states of its own (a server): up from its
    first record, down from a ``crash`` fault on it to the ``restart``."""
    first = next((r.t for r in records if r.actor == actor), None)
    if first is None:
        return []
    out: list[tuple[Time, Time, str]] = []
    start, label = first, "up"
    for r in records:
        if r.kind == FAULT and r.data.get("host") == actor and r.type in ("crash", "restart"):
            new = "down" if r.type == "crash" else "up"
            if new != label:
                if r.t > start:
                    out.append((start, r.t, label))
                start, label = max(r.t, start), new
    if end > start:
        out.append((start, end, label))
    return out


def state_timeline_svg(view: TraceView, *, lanes: Sequence[str] | None = None,
                       steps: Sequence[Any] = (), violation: Any = None, axis: str = "time",
                       title: str | None = None,
                       colors: Mapping[str, str] | None = None) -> str:
    """A coloured band per actor for its state over time (``down`` while crashed), with
    faults on the lanes they touch, calls under the issuer's band, and the steps and the
    violation as vertical lines."""
    records = view.records
    calls = call_spans(records)
    if lanes is None:
        lanes = lanes_that_matter(records, violation, steps, calls)
    lo, hi = _bounds(records, violation)
    intervals = dict(state_intervals(view, end=hi))
    for a in lanes:
        if not intervals.get(a):
            intervals[a] = up_down(records, a, hi)
    ends = connection_ends(records)
    faults = [(r, a) for r in records if r.kind == FAULT
              for a in fault_actors(r.type, r.data, ends) if a in lanes]
    bounds_seq: list[tuple[Time, int]] = []
    seq_of = {r.t: r.seq for r in reversed(records)}
    for a in lanes:
        for start, end, _label in intervals.get(a, ()):
            bounds_seq += [(start, seq_of.get(start, _seq_at(records, start))),
                           (end, seq_of.get(end, _seq_at(records, end)))]
    bounds_seq += [(r.t, r.seq) for r, _ in faults]
    ax = Axis(axis, lo, hi, bounds_seq)
    if title is None:
        title = f"State timeline: {len(lanes)} actors, {_seconds(lo)} to {_seconds(hi)}"
    cv = _Canvas(lanes, ax, title, lane_h=14 + LANE_ROWS * ROW_H + 12)
    used: dict[str, str] = {}
    for a in lanes:
        y = cv.y[a]
        for start, end, label in intervals.get(a, ()):
            x0 = ax.x(start, seq_of.get(start, _seq_at(records, start)))
            x1 = ax.x(end, seq_of.get(end, _seq_at(records, end)))
            color = state_color(label, colors)
            used[label] = color
            cv.body.append(f'<rect class="state" x="{x0:.1f}" y="{y - 7:.1f}" '
                           f'width="{max(x1 - x0, 0.5):.1f}" height="14" fill="{color}">'
                           f"<title>{escape(a)} {escape(label)} from {format_time(start)} "
                           f"for {format_duration(end - start)}</title></rect>")
            if x1 - x0 > text_width(label) + 6:
                cv.body.append(f'<text x="{x0 + 3:.1f}" y="{y + 4:.1f}" fill="#111">'
                               f"{escape(label)}</text>")
    for r, actor in faults:
        x, y = ax.x(r.t, r.seq), cv.y[actor]
        cv.body.append(f'<g class="mark fault"><title>fault {escape(r.type)} at '
                       f'{format_time(r.t)}</title>'
                       f'<path d="M{x:.1f},{y - 9:.1f} l5,5 l-5,5 l-5,-5 z" fill="{C_FAULT}" '
                       'stroke="#fff" stroke-width="1"/></g>')
        cv.label_in_lane(actor, x, r.type, C_FAULT, y + 10)
    _draw_calls(cv, [c for c in calls if c.actor in lanes], records, 8, (lo, hi))
    for m in markers(records, steps, violation):
        cv.marker(m)
    legend = sorted(used.items(), key=lambda kv: kv[0])
    legend += [("fault", C_FAULT), ("hung call", C_HUNG)]
    return cv.render("state-timeline", legend)


__all__ = ["Axis", "Marker", "Rows", "markers", "sequence_diagram_svg", "state_timeline_svg",
           "text_width"]
