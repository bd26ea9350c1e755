"""Pictures of a run: a sequence diagram of messages and a state band per actor.

Both draw on a matplotlib ``Figure`` made without pyplot (no global figure state, no
window) and return it; a notebook shows it, a script saves it. Lanes are actors; the x
axis is virtual time in seconds or, with ``axis="order"``, event order (one column per
event, so bursts can be read; see :mod:`gatewaysim.analysis.plot_layout`).

What is drawn by default depends on where the view came from. A view of an executed run
(a failure, a step list, a branch) is drawn around its verdict: the lanes of the actors
the violation names and the faults hit, from the first fault to the violation, with the
steps, the faults, ``t_heal`` and the violation marked. Any other view shows every actor
(at most ``max_lanes``, the busiest) over the whole trace, faults marked. ``actors=``
(names or globs) and ``window=`` (seconds, or ``"all"``) override both. Pairing messages
and computing states always uses the whole view, so a message sent before the window
still arrives inside it and a client connected before the window is shown connected.
"""

from __future__ import annotations

import fnmatch
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attrs import frozen

from gatewaysim.simulator.clock import SECOND, Time, format_time
from gatewaysim.simulator.trace import FAULT, IN, OUT, SYS, TraceRecord

from .calls import CallSpan, call_spans
from .focus import (
    BOOKKEEPING_FAULTS,
    Focus,
    connection_ends,
    fault_actors,
    focus_of,
    verdict_line,
)
from .names import natural_key
from .plot_layout import C_CALL, C_HUNG, Labels, Scale, draw_run_markers, short, title_with
from .state import alarm_spans, transitions
from .view import TraceView

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Window = tuple[float | None, float | None]
MAX_LANES = 12
MANY_ARROWS = 600  # above this, arrowheads are markers rather than patches (speed)

# Arrow and marker colours: distinct in colour and, for markers, in shape.
C_MESSAGE = "#1f77b4"
C_OPEN = "#2ca02c"
C_HTTP = "#9467bd"
C_LOST = "#d62728"
C_CLOSE = "#ff7f0e"
C_FAULT = "#000000"

STATE_COLORS: Mapping[str, str] = {
    "connecting": "#f2c14e",
    "connected": "#4caf50",
    "reconnecting": "#ff9800",
    "disconnected": "#e53935",
    "down": "#616161",
    "up": "#cfd8dc",
}
_EXTRA = ("#8e24aa", "#1e88e5", "#00897b", "#6d4c41", "#c0ca33", "#d81b60", "#3949ab",
          "#00acc1", "#5e35b1", "#7cb342")


def require_matplotlib() -> Any:
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("trace plots need matplotlib: install gatewaysim[notebooks]") from exc
    del matplotlib
    return Figure


def _pick_actors(candidates: Sequence[str], actors: str | Iterable[str] | None) -> list[str]:
    """Lanes in the order given (globs expand in sorted order), or every candidate."""
    if actors is None:
        return list(candidates)
    pats = [actors] if isinstance(actors, str) else list(actors)
    out: list[str] = []
    for p in pats:
        for a in sorted(candidates, key=natural_key) if any(c in p for c in "*?[") else [p]:
            if fnmatch.fnmatchcase(a, p) and a not in out:
                out.append(a)
    return out


def _lanes(view: TraceView, candidates: Sequence[str], actors: str | Iterable[str] | None,
           focus: Focus | None, max_lanes: int, lo: Time, hi: Time) -> tuple[list[str], int]:
    """The lanes to draw and how many there could have been."""
    if actors is not None:
        return _pick_actors(candidates, actors), len(candidates)
    pool = list(candidates)
    if focus is not None:
        chosen = [a for a in candidates if a in focus.actors]
        pool = chosen or pool
    if len(pool) > max_lanes:  # the busiest, in their natural order
        busy = Counter(r.actor for r in view.records if lo <= r.t <= hi and r.actor in pool)
        keep = set(sorted(pool, key=lambda a: (-busy[a], natural_key(a)))[:max_lanes])
        pool = [a for a in pool if a in keep]
    return pool, len(candidates)


def _bounds(view: TraceView, window: Window | str | None, focus: Focus | None
            ) -> tuple[Time, Time]:
    records = view.root.records if view.root is not view else view.records
    first = records[0].t if records else 0
    last = records[-1].t if records else SECOND
    if window is None and focus is not None:
        return focus.lo, focus.hi
    if window is None or window == "all":
        lo, hi = first, last
    elif isinstance(window, str):
        raise ValueError(f"window is (start, end) in seconds or 'all', not {window!r}")
    else:
        lo = first if window[0] is None else round(window[0] * SECOND)
        hi = last if window[1] is None else round(window[1] * SECOND)
    if hi <= lo:
        hi = lo + SECOND
    return lo, hi


def _axes(ax: Axes | None, lanes: int, figsize: tuple[float, float] | None) -> Axes:
    if ax is not None:
        return ax
    figure_cls = require_matplotlib()
    size = figsize or (12.0, max(2.8, 0.62 * lanes + 2.0))
    fig = figure_cls(figsize=size, layout="constrained")
    return fig.add_subplot()


def _lane_axis(ax: Axes, lanes: list[str], scale: Scale) -> None:
    ax.set_yticks(range(len(lanes)), [short(a, 26) for a in lanes])
    ax.set_ylim(len(lanes) - 0.5, -0.5)  # first lane on top
    scale.apply(ax)
    ax.set_ylabel("actor")
    ax.grid(axis="x", color="#eeeeee", linewidth=0.8)
    ax.set_axisbelow(True)


def _title(kind: str, shown: int, total: int, lo: Time, hi: Time, focus: Focus | None) -> str:
    of = f"{shown} of {total} actors" if shown < total else f"{shown} actors"
    text = f"{kind}: {of}, {format_time(lo)} to {format_time(hi)}"
    if focus is not None:
        text += f"\n{verdict_line(focus.violation, hi)}"
    return text


def _legend(ax: Axes, handles: list[Any]) -> None:
    from matplotlib.lines import Line2D

    if not handles:
        handles = [Line2D([], [], linestyle="none", label="nothing in this window")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8,
              frameon=False)


# ---------------------------------------------------------------- sequence diagram
@frozen
class Arrow:
    """A message from one lane to another: ``what`` is message, open or http.

    ``seq0``/``seq1`` are the sequence numbers of the sending and receiving records
    (for an auto-response, the kernel's ``auto_response`` record), to look them up.
    """

    what: str
    src: str
    t0: Time
    dst: str
    t1: Time
    seq0: int
    seq1: int


@frozen
class Mark:
    """A point event on one lane: a lost send, a close, a rejection or a fault."""

    what: str
    actor: str
    t: Time
    label: str
    seq: int


def pair_messages(records: Iterable[TraceRecord]) -> tuple[list[Arrow], list[Mark]]:
    """Match sends to deliveries and collect the point events a sequence diagram marks.

    ``Send`` pairs with the ``WsMessage`` the other end of the same connection receives,
    first in first out (the network keeps each direction FIFO); a send the kernel reports
    lost (``frame.lost``, ``send.dropped``) or that never arrives becomes a ``lost`` mark.
    Upgrades pair ``OpenConnection``/``ForwardConnection`` with ``ConnectRequested`` and
    ``AcceptConnection`` with ``WsOpened``; HTTP pairs request with received and respond
    with response, by exchange id.
    """
    ends: dict[str, dict[str, str]] = defaultdict(dict)  # conn -> {"client"|"server": actor}
    sends: dict[tuple[str, str], deque[tuple[Time, int]]] = defaultdict(deque)  # (conn, sender)
    upgrades: dict[str, tuple[str, Time, int]] = {}
    accepts: dict[str, tuple[str, Time, int]] = {}
    http: dict[tuple[str, str], tuple[str, Time, int]] = {}
    arrows: list[Arrow] = []
    marks: list[Mark] = []
    for r in records:
        k, ty, d = r.kind, r.type, r.data
        if k == OUT:
            if ty == "Send":
                sends[(d["conn"], r.actor)].append((r.t, r.seq))
            elif ty in ("OpenConnection", "ForwardConnection"):
                if ty == "OpenConnection":
                    ends[d["conn"]]["client"] = r.actor
                upgrades[d["conn"]] = (r.actor, r.t, r.seq)
            elif ty == "AcceptConnection":
                ends[d["conn"]]["server"] = r.actor
                accepts[d["conn"]] = (r.actor, r.t, r.seq)
            elif ty == "HttpRequest":
                http[("req", d["req"])] = (r.actor, r.t, r.seq)
            elif ty == "HttpRespond":
                http[("resp", d["req"])] = (r.actor, r.t, r.seq)
            elif ty == "CloseConnection":
                marks.append(Mark("close", r.actor, r.t, f"closes {d.get('code')}", r.seq))
        elif k == IN:
            if ty == "WsMessage":
                conn = d["conn"]
                e = ends.get(conn, {})
                sender = e.get("server") if e.get("client") == r.actor else e.get("client")
                queue = sends.get((conn, sender)) if sender else None
                if queue:
                    t0, seq0 = queue.popleft()
                    arrows.append(Arrow("message", sender, t0, r.actor, r.t, seq0, r.seq))
            elif ty == "ConnectRequested":
                src = upgrades.pop(d["conn"], None)
                if src is not None:
                    arrows.append(Arrow("open", src[0], src[1], r.actor, r.t, src[2], r.seq))
            elif ty == "WsOpened":
                src = accepts.pop(d["conn"], None)
                if src is not None:
                    arrows.append(Arrow("open", src[0], src[1], r.actor, r.t, src[2], r.seq))
            elif ty == "WsClosed":
                marks.append(Mark("closed", r.actor, r.t, f"closed {d.get('code')}", r.seq))
            elif ty == "WsRejected":
                status = d.get("status")
                marks.append(Mark("closed", r.actor, r.t,
                                  f"rejected {status}" if status else
                                  f"refused: {d.get('reason') or 'no answer'}", r.seq))
            elif ty == "HttpRequestReceived":
                src = http.pop(("req", d["req"]), None)
                if src is not None:
                    arrows.append(Arrow("http", src[0], src[1], r.actor, r.t, src[2], r.seq))
            elif ty == "HttpResponse":
                src = http.pop(("resp", d["req"]), None)
                if src is not None:
                    arrows.append(Arrow("http", src[0], src[1], r.actor, r.t, src[2], r.seq))
            elif ty == "HttpFailed":
                marks.append(Mark("closed", r.actor, r.t, f"http failed: {d.get('reason')}", r.seq))
        elif k == SYS:
            if ty in ("frame.lost", "send.dropped"):
                queue = sends.get((d.get("conn"), r.actor))
                if queue:
                    t_sent, seq_sent = queue.pop()
                    marks.append(Mark("lost", r.actor, t_sent, ty, seq_sent))
            elif ty == "auto_response":
                conn = d["conn"]
                client = ends.get(conn, {}).get("client")
                queue = sends.get((conn, client)) if client else None
                if queue:
                    t0, seq0 = queue.popleft()
                    arrows.append(Arrow("message", client, t0, r.actor, r.t, seq0, r.seq))
                sends[(conn, r.actor)].append((r.t, r.seq))
        elif k == FAULT and ty not in BOOKKEEPING_FAULTS:
            for actor in fault_actors(ty, d, ends):
                marks.append(Mark("fault", actor, r.t, ty, r.seq))
    for (_conn, sender), queue in sends.items():
        marks.extend(Mark("lost", sender, t, "never arrived", seq) for t, seq in queue)
    return arrows, marks


def sequence_diagram(
    view: TraceView,
    *,
    actors: str | Iterable[str] | None = None,
    window: Window | str | None = None,
    axis: str = "time",
    labels: bool = True,
    calls: bool = True,
    max_lanes: int = MAX_LANES,
    title: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Actors as lanes, messages as arrows, closes, faults, steps and calls marked.

    Arrows: WebSocket messages (blue), connection upgrades and accepts (green), HTTP
    (purple), each with its head at the receiver; on the time axis an arrow is drawn at
    least slightly slanted, so a 10 ms message on a long axis still shows its direction
    (``axis="order"`` draws every arrow slanted). Marks: closes and refusals as received
    (orange circles, labelled with the code), sends that were lost (red crosses), faults
    (black diamonds on the lanes they hit, a dashed line named above the plot). A call
    that was issued and never settled is a red bar from its issue to the right edge;
    settled calls are thin grey bars under their lane (``calls=False`` hides both).
    Labels that would overlap are left out and counted in the title.
    """
    focus = focus_of(view)
    lo, hi = _bounds(view, window, focus)
    candidates = [a for a in view.actors() if a != "world"]
    lanes, total = _lanes(view, candidates, actors, focus, max_lanes, lo, hi)
    row = {a: i for i, a in enumerate(lanes)}
    arrows, marks = pair_messages(view.records)
    shown = [a for a in arrows if a.src in row and a.dst in row and a.t1 >= lo and a.t0 <= hi]
    shown_marks = [m for m in marks if m.actor in row and lo <= m.t <= hi]
    spans = [c for c in call_spans(view.records) if c.actor in row and c.start_us <= hi
             and (c.end_us is None or c.end_us >= lo)] if calls else []
    events: list[tuple[int, Time]] = []
    for a in shown:
        events += [(a.seq0, a.t0), (a.seq1, a.t1)]
    events += [(m.seq, m.t) for m in shown_marks]
    for c in spans:
        events.append((c.start_seq, c.start_us))
        if c.end_seq is not None and c.end_us is not None:
            events.append((c.end_seq, c.end_us))
    events += [(r.seq, r.t) for r in view.records if r.kind == FAULT and lo <= r.t <= hi]
    scale = Scale(axis, lo, hi, [(s, t) for s, t in events if lo <= t <= hi])
    ax = _axes(ax, len(lanes), figsize)
    placer = Labels(ax, scale)

    from matplotlib.lines import Line2D

    for lane in range(len(lanes)):
        ax.axhline(lane, color="#bbbbbb", linewidth=0.8, zorder=0)
    handles: list[Any] = []
    handles += _draw_arrows(ax, shown, row, scale)
    mark_styles = {"closed": ("o", C_CLOSE, "closed / refused (code)"),
                   "close": ("s", C_CLOSE, "close sent (code)"),
                   "lost": ("x", C_LOST, "message lost"),
                   "fault": ("D", C_FAULT, "fault hit this actor")}
    for what, (marker, color, name) in mark_styles.items():
        group = [m for m in shown_marks if m.what == what]
        if not group:
            continue
        filled = marker not in ("x",)
        ax.scatter([scale.x(m.t, m.seq) for m in group], [row[m.actor] for m in group],
                   marker=marker, s=40, zorder=4, linewidths=1.3,
                   facecolors=color if filled else None, edgecolors=color if filled else None,
                   color=None if filled else color)
        handles.append(Line2D([], [], linestyle="none", marker=marker, color=color,
                              markersize=6, label=f"{name} ({len(group)})"))
    if labels:
        for m in sorted(shown_marks, key=lambda m: m.seq):
            if m.what in ("closed", "close"):
                placer.on_lane(row[m.actor], scale.x(m.t, m.seq), m.label, "#a04000")
    handles += _draw_calls(ax, spans, row, scale, placer if labels else None)
    handles = draw_run_markers(ax, scale, placer, view.root.records, focus) + handles
    _lane_axis(ax, lanes, scale)
    title_with(ax, placer, title if title is not None else
               _title("Sequence diagram", len(lanes), total, lo, hi, focus))
    _legend(ax, handles)
    return ax.figure  # type: ignore[return-value]


def _draw_arrows(ax: Axes, shown: Sequence[Arrow], row: Mapping[str, int], scale: Scale
                 ) -> list[Any]:
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    styles = {"message": (C_MESSAGE, "WebSocket message"), "open": (C_OPEN, "connection open"),
              "http": (C_HTTP, "HTTP request/response")}
    slant = scale.min_slant()
    few = len(shown) <= MANY_ARROWS
    handles = []
    for what, (color, name) in styles.items():
        group = [a for a in shown if a.what == what]
        if not group:
            continue
        segs = []
        for a in group:
            x0 = scale.x(a.t0, a.seq0)
            x1 = max(scale.x(a.t1, a.seq1), x0 + slant)
            segs.append(((x0, row[a.src]), (x1, row[a.dst])))
        if few:
            for (x0, y0), (x1, y1) in segs:
                ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>",
                                             mutation_scale=7, color=color, linewidth=0.8,
                                             alpha=0.85, shrinkA=0, shrinkB=1, zorder=2))
        else:
            ax.add_collection(LineCollection(segs, colors=color, linewidths=0.7, alpha=0.7,
                                             zorder=2))
            for up in (True, False):
                heads = [s for s in segs if (s[1][1] < s[0][1]) == up]
                if heads:
                    ax.scatter([s[1][0] for s in heads], [s[1][1] for s in heads],
                               marker="^" if up else "v", s=14, color=color, zorder=3,
                               linewidths=0)
        handles.append(Line2D([], [], color=color, marker=">", markersize=5,
                              label=f"{name} ({len(group)})"))
    return handles


def _draw_calls(ax: Axes, spans: Sequence[CallSpan], row: Mapping[str, int], scale: Scale,
                placer: Labels | None) -> list[Any]:
    """Settled calls as thin grey bars under their lane; hung calls red, to the edge."""
    from matplotlib.lines import Line2D

    handles: list[Any] = []
    right = scale.limits()[1]
    settled = [c for c in spans if not c.hung]
    hung = [c for c in spans if c.hung]
    for c in settled:
        assert c.end_us is not None
        x0, x1 = scale.x(c.start_us, c.start_seq), scale.x(c.end_us, c.end_seq)
        ax.plot([x0, max(x1, x0 + scale.min_slant())], [row[c.actor] + 0.22] * 2,
                color=C_CALL, linewidth=2.5, solid_capstyle="butt", zorder=1)
    if settled:
        handles.append(Line2D([], [], color=C_CALL, linewidth=2.5,
                              label=f"call, issued to settled ({len(settled)})"))
    for c in hung:
        x0 = scale.x(c.start_us, c.start_seq)
        ax.plot([x0, right], [row[c.actor] + 0.22] * 2, color=C_HUNG, linewidth=3.5,
                solid_capstyle="butt", zorder=3)
        ax.scatter([x0], [row[c.actor] + 0.22], marker="|", s=60, color=C_HUNG, zorder=3)
        if placer is not None:
            left = scale.limits()[0]
            name = f"request {c.short_id}" if c.kind == "request" else c.short_id
            text = (f"{name} never settled" if c.start_us >= scale.lo else
                    f"{name} (issued {format_time(c.start_us)}) never settled")
            placer.on_lane(row[c.actor], max(x0, left), text, C_HUNG, below=True, levels=1,
                           width=48)
    if hung:
        handles.append(Line2D([], [], color=C_HUNG, linewidth=3.5,
                              label=f"call never settled ({len(hung)})"))
    return handles


# ---------------------------------------------------------------- state timeline
def state_color(state: str, colors: Mapping[str, str] | None = None) -> str:
    """A fixed colour for the usual states; others get stable colours by name."""
    if colors and state in colors:
        return colors[state]
    if state in STATE_COLORS:
        return STATE_COLORS[state]
    return _EXTRA[sum(state.encode()) % len(_EXTRA)]


def state_intervals(view: TraceView, end: Time | None = None
                    ) -> dict[str, list[tuple[Time, Time, str]]]:
    """Per actor, ``(start, end, label)`` spans where the label is its state or ``down``.

    Spans in which the actor's state is unknown (before its first state, after a crash
    cleared it and it came back without one) are left out.
    """
    stop = end if end is not None else (view.records[-1].t if view.records else 0)
    out: dict[str, list[tuple[Time, Time, str]]] = defaultdict(list)
    current: dict[str, tuple[Time, str | None]] = {}
    for tr in transitions(view.records, view.rules):
        label = "down" if not tr.up else tr.state
        prev = current.get(tr.actor)
        if prev is not None and prev[1] is not None and tr.t_us > prev[0]:
            out[tr.actor].append((prev[0], tr.t_us, prev[1]))
        current[tr.actor] = (tr.t_us, label)
    for actor, (start, label) in current.items():
        if label is not None and stop > start:
            out[actor].append((start, stop, label))
    return dict(out)


def state_timeline(
    view: TraceView,
    *,
    actors: str | Iterable[str] | None = None,
    window: Window | str | None = None,
    axis: str = "time",
    colors: Mapping[str, str] | None = None,
    max_lanes: int = MAX_LANES,
    title: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """A coloured band per actor showing its state over time, faults and alarms marked.

    Client lanes show their states (connecting, connected, reconnecting, disconnected, or
    whatever a model calls them) and ``down`` while crashed. Lanes of actors that accept
    connections or set alarms show ``up``/``down`` and each alarm while it is pending
    (hatched: from when it was set until it fired or was cancelled), the outcome marked.
    Faults are dashed lines named above the plot and diamonds on the lanes they hit; a
    call that was issued and never settled is a red bar from its issue to the right edge
    under its issuer's band (see :mod:`gatewaysim.analysis.calls`); a view of an executed
    run also marks its steps and its violation.
    """
    focus = focus_of(view)
    lo, hi = _bounds(view, window, focus)
    root = view.root.records
    intervals = state_intervals(view, end=root[-1].t if root else None)
    spans = alarm_spans(view.records)
    servers = sorted({r.actor for r in view.records
                      if r.kind == OUT and r.type in ("AcceptConnection", "SetAlarm")})
    hung = [c for c in call_spans(view.records) if c.hung and c.start_us <= hi]
    candidates = sorted((set(intervals) | set(servers) | {c.actor for c in hung}) - {"world"},
                        key=natural_key)
    lanes, total = _lanes(view, candidates, actors, focus, max_lanes, lo, hi)
    row = {a: i for i, a in enumerate(lanes)}
    events = [(r.seq, r.t) for r in view.records
              if lo <= r.t <= hi and (r.actor in row or r.kind == FAULT)]
    scale = Scale(axis, lo, hi, events)
    ax = _axes(ax, len(lanes), figsize)
    placer = Labels(ax, scale)

    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    used: dict[str, str] = {}
    for actor in lanes:
        spans_of = intervals.get(actor, [])
        if actor in servers and not any(label != "down" for *_x, label in spans_of):
            spans_of = _up_spans(spans_of, view, actor)
        bars: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for start, end, label in spans_of:
            a, b = max(start, lo), min(end, hi)
            if b > a:
                xa, xb = scale.x(a), scale.x(b)
                if xb > xa:
                    bars[label].append((xa, xb - xa))
        for label, xr in bars.items():
            color = state_color(label, colors)
            used[label] = color
            ax.broken_barh(xr, (row[actor] - 0.3, 0.6), facecolors=color, edgecolor="none",
                           zorder=1)
    handles: list[Any] = [Patch(facecolor=c, label=s) for s, c in _legend_order(used)]
    handles += _draw_alarms(ax, [s for s in spans if s.actor in row], row, scale)
    ends = connection_ends(view.records)
    hits = [(r, a) for r in view.records if r.kind == FAULT and r.type not in BOOKKEEPING_FAULTS
            and lo <= r.t <= hi for a in fault_actors(r.type, r.data, ends) if a in row]
    if hits:
        ax.scatter([scale.x(r.t, r.seq) for r, _ in hits], [row[a] for _, a in hits],
                   marker="D", s=34, color=C_FAULT, edgecolors="white", linewidths=0.8,
                   zorder=5)
        handles.append(Line2D([], [], linestyle="none", marker="D", color=C_FAULT,
                              markersize=6, label=f"fault hit this actor ({len(hits)})"))
    handles += _draw_calls(ax, [c for c in hung if c.actor in row], row, scale, placer)
    handles = draw_run_markers(ax, scale, placer, view.root.records, focus) + handles
    _lane_axis(ax, lanes, scale)
    title_with(ax, placer, title if title is not None else
               _title("State timeline", len(lanes), total, lo, hi, focus))
    _legend(ax, handles)
    return ax.figure  # type: ignore[return-value]


def _up_spans(spans: list[tuple[Time, Time, str]], view: TraceView, actor: str
              ) -> list[tuple[Time, Time, str]]:
    """A server lane without states of its own: ``up`` wherever it is not ``down``."""
    first = next((r.t for r in view.records if r.actor == actor), None)
    if first is None or not view.records:
        return spans
    out: list[tuple[Time, Time, str]] = []
    cursor = first
    for start, end, _label in spans:  # only "down" spans here
        if start > cursor:
            out.append((cursor, start, "up"))
        out.append((start, end, "down"))
        cursor = end
    if view.records[-1].t > cursor:
        out.append((cursor, view.records[-1].t, "up"))
    return out


def _legend_order(used: Mapping[str, str]) -> list[tuple[str, str]]:
    known = [s for s in STATE_COLORS if s in used]
    return [(s, used[s]) for s in known] + sorted(
        (s, c) for s, c in used.items() if s not in STATE_COLORS)


def _draw_alarms(ax: Axes, spans: Sequence[Any], row: Mapping[str, int], scale: Scale
                 ) -> list[Any]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = []
    if not spans:
        return handles
    lo, hi = scale.lo, scale.hi
    for s in spans:
        end = s.end_us if s.end_us is not None else max(hi, s.due_us)
        a, b = max(s.set_us, lo), min(end, hi)
        if b > a:
            xa, xb = scale.x(a), scale.x(b)
            ax.broken_barh([(xa, max(xb - xa, scale.min_slant()))],
                           (row[s.actor] - 0.12, 0.24), facecolors="none",
                           edgecolor="#263238", hatch="////", linewidth=0.8, zorder=2)
    handles.append(Patch(facecolor="none", edgecolor="#263238", hatch="////",
                         label="alarm pending (set, not yet fired)"))
    outcome_style = {"fired": ("v", "#c62828", "alarm fired"),
                     "deleted": ("X", "#37474f", "alarm cancelled"),
                     "replaced": ("|", "#37474f", "alarm moved (set again)")}
    for outcome, (marker, color, name) in outcome_style.items():
        group = [s for s in spans if s.outcome == outcome and s.end_us is not None
                 and lo <= s.end_us <= hi]
        if not group:
            continue
        ax.scatter([scale.x(s.end_us) for s in group], [row[s.actor] - 0.38 for s in group],
                   marker=marker, s=50, color=color, zorder=4)
        handles.append(Line2D([], [], linestyle="none", marker=marker, color=color,
                              markersize=7, label=f"{name} ({len(group)})"))
    return handles
