"""Pictures of a run: a sequence diagram of messages and a state band per actor.

Both draw on a matplotlib ``Figure`` made without pyplot (no global figure state, no
window) and return it; a notebook shows it, a script saves it. Time runs left to right
in seconds, one lane per actor. ``actors=`` (names or globs) and ``window=`` (seconds)
pick what to draw, so a long trace can be read a piece at a time; pairing messages and
computing states always uses the whole view, so a message sent before the window still
arrives inside it and a client connected before the window is shown connected.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attrs import frozen

from gatewaysim.simulator.clock import SECOND, Time
from gatewaysim.simulator.trace import FAULT, IN, OUT, SYS, TraceRecord

from .names import natural_key
from .state import alarm_spans, transitions
from .view import TraceView

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Window = tuple[float | None, float | None]

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


def _bounds(view: TraceView, window: Window | None) -> tuple[Time, Time]:
    first = view.records[0].t if view.records else 0
    last = view.records[-1].t if view.records else SECOND
    lo = first if window is None or window[0] is None else round(window[0] * SECOND)
    hi = last if window is None or window[1] is None else round(window[1] * SECOND)
    if hi <= lo:
        hi = lo + SECOND
    return lo, hi


def _axes(ax: Axes | None, lanes: int, figsize: tuple[float, float] | None) -> Axes:
    if ax is not None:
        return ax
    figure_cls = require_matplotlib()
    size = figsize or (12.0, max(2.5, 0.6 * lanes + 1.6))
    fig = figure_cls(figsize=size, layout="constrained")
    return fig.add_subplot()


def _lane_axis(ax: Axes, lanes: list[str], lo: Time, hi: Time, title: str) -> None:
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylim(len(lanes) - 0.5, -0.5)  # first lane on top
    pad = (hi - lo) / SECOND * 0.01
    ax.set_xlim(lo / SECOND - pad, hi / SECOND + pad)
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("actor")
    ax.set_title(title)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.8)
    ax.set_axisbelow(True)


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
                marks.append(Mark("close", r.actor, r.t, f"close {d.get('code')}", r.seq))
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
                marks.append(Mark("closed", r.actor, r.t, str(d.get("code")), r.seq))
            elif ty == "WsRejected":
                marks.append(Mark("closed", r.actor, r.t, f"rej {d.get('status')}", r.seq))
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
        elif k == FAULT:
            for actor in _fault_actors(ty, d, ends):
                marks.append(Mark("fault", actor, r.t, ty, r.seq))
    for (_conn, sender), queue in sends.items():
        marks.extend(Mark("lost", sender, t, "never arrived", seq) for t, seq in queue)
    return arrows, marks


def _fault_actors(type_: str, data: Mapping[str, Any],
                  ends: Mapping[str, Mapping[str, str]]) -> list[str]:
    if "host" in data:
        return [data["host"]]
    if "conn" in data:
        return list(ends.get(data["conn"], {}).values())
    return [v for key in ("a", "b") if isinstance(v := data.get(key), str)]


def sequence_diagram(
    view: TraceView,
    *,
    actors: str | Iterable[str] | None = None,
    window: Window | None = None,
    labels: bool | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Actors as lanes, messages as arrows, closes and faults as labelled marks.

    Arrows: WebSocket messages (blue), connection upgrades and accepts (green), HTTP
    (purple). Marks: close codes as received (orange circles), sends that were lost (red
    crosses), faults (black diamonds, named). ``labels`` writes the codes and fault names
    next to their marks; by default only when there are few enough to read.
    """
    lanes = _pick_actors([a for a in view.actors() if a != "world"], actors)
    lo, hi = _bounds(view, window)
    ax = _axes(ax, len(lanes), figsize)
    row = {a: i for i, a in enumerate(lanes)}
    arrows, marks = pair_messages(view.records)
    shown = [a for a in arrows if a.src in row and a.dst in row and a.t1 >= lo and a.t0 <= hi]
    shown_marks = [m for m in marks if m.actor in row and lo <= m.t <= hi]

    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    for lane in range(len(lanes)):
        ax.axhline(lane, color="#bbbbbb", linewidth=0.8, zorder=0)
    styles = {"message": (C_MESSAGE, "WebSocket message"), "open": (C_OPEN, "connection open"),
              "http": (C_HTTP, "HTTP request/response")}
    handles = []
    for what, (color, name) in styles.items():
        group = [a for a in shown if a.what == what]
        if not group:
            continue
        segs = [[(a.t0 / SECOND, row[a.src]), (a.t1 / SECOND, row[a.dst])] for a in group]
        ax.add_collection(LineCollection(segs, colors=color, linewidths=0.9, alpha=0.8,
                                         zorder=2))
        for up in (True, False):
            ends = [a for a in group if (row[a.dst] < row[a.src]) == up]
            if ends:
                ax.scatter([a.t1 / SECOND for a in ends], [row[a.dst] for a in ends],
                           marker="^" if up else "v", s=22, color=color, zorder=3,
                           linewidths=0)
        handles.append(Line2D([], [], color=color, marker=">", markersize=5,
                              label=f"{name} ({len(group)})"))
    mark_styles = {"closed": ("o", C_CLOSE, "close / reject (code)"),
                   "close": ("s", C_CLOSE, "close requested"),
                   "lost": ("x", C_LOST, "message lost"),
                   "fault": ("D", C_FAULT, "fault")}
    for what, (marker, color, name) in mark_styles.items():
        group = [m for m in shown_marks if m.what == what]
        if not group:
            continue
        filled = marker not in ("x",)
        ax.scatter([m.t / SECOND for m in group], [row[m.actor] for m in group], marker=marker,
                   s=46, zorder=4, linewidths=1.3,
                   facecolors=color if filled else None, edgecolors=color if filled else None,
                   color=None if filled else color)
        handles.append(Line2D([], [], linestyle="none", marker=marker, color=color,
                              markersize=6, label=f"{name} ({len(group)})"))
    if labels is None:
        labels = len([m for m in shown_marks if m.what != "lost"]) <= 40
    if labels:
        for m in shown_marks:  # faults named above the lane, codes below: no overlap
            if m.what in ("closed", "fault", "close"):
                above = m.what == "fault"
                ax.annotate(m.label, (m.t / SECOND, row[m.actor]),
                            xytext=(4, 7 if above else -12), textcoords="offset points",
                            fontsize=7, color=C_FAULT if above else "#a04000", zorder=5)
    if title is None:
        title = f"Sequence diagram: {len(lanes)} actors, {lo / SECOND:.1f}s to {hi / SECOND:.1f}s"
    _lane_axis(ax, lanes, lo, hi, title)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0),
                  fontsize=8, frameon=False)
    return ax.figure  # type: ignore[return-value]


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
    window: Window | None = None,
    colors: Mapping[str, str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """A coloured band per actor showing its state over time, with alarms on server lanes.

    Client lanes show their states (connecting, connected, reconnecting, disconnected, or
    whatever a model calls them) and ``down`` while crashed. Lanes of actors that accept
    connections or set alarms show ``up``/``down``, each alarm's window from ``SetAlarm``
    to when it fired or was deleted (a grace window, hatched), and the outcome marked.
    """
    lo, hi = _bounds(view, window)
    intervals = state_intervals(view, end=view.records[-1].t if view.records else None)
    spans = alarm_spans(view.records)
    servers = sorted({r.actor for r in view.records
                      if r.kind == OUT and r.type in ("AcceptConnection", "SetAlarm")})
    candidates = sorted((set(intervals) | set(servers)) - {"world"}, key=natural_key)
    lanes = _pick_actors(candidates, actors)
    ax = _axes(ax, len(lanes), figsize)
    row = {a: i for i, a in enumerate(lanes)}

    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    used: dict[str, str] = {}
    for actor in lanes:
        spans_of = intervals.get(actor, [])
        is_server = actor in servers
        if is_server and not any(label != "down" for *_x, label in spans_of):
            spans_of = _up_spans(spans_of, view, actor)
        bars: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for start, end, label in spans_of:
            a, b = max(start, lo), min(end, hi)
            if b > a:
                bars[label].append((a / SECOND, (b - a) / SECOND))
        for label, xr in bars.items():
            color = state_color(label, colors)
            used[label] = color
            ax.broken_barh(xr, (row[actor] - 0.3, 0.6), facecolors=color, edgecolor="none",
                           zorder=1)
    alarm_handles = _draw_alarms(ax, [s for s in spans if s.actor in row], row, lo, hi)
    handles: list[Any] = [Patch(facecolor=c, label=s) for s, c in _legend_order(used)]
    handles += alarm_handles
    if title is None:
        title = f"State timeline: {len(lanes)} actors, {lo / SECOND:.1f}s to {hi / SECOND:.1f}s"
    _lane_axis(ax, lanes, lo, hi, title)
    if not handles:
        handles = [Line2D([], [], linestyle="none", label="no states in this view")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8,
              frameon=False)
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


def _draw_alarms(ax: Axes, spans: Sequence[Any], row: Mapping[str, int], lo: Time, hi: Time
                 ) -> list[Any]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = []
    if not spans:
        return handles
    for s in spans:
        end = s.end_us if s.end_us is not None else max(hi, s.due_us)
        a, b = max(s.set_us, lo), min(end, hi)
        if b > a:
            ax.broken_barh([(a / SECOND, (b - a) / SECOND)], (row[s.actor] - 0.12, 0.24),
                           facecolors="none", edgecolor="#263238", hatch="////",
                           linewidth=0.8, zorder=2)
    handles.append(Patch(facecolor="none", edgecolor="#263238", hatch="////",
                         label="alarm window (SetAlarm to end)"))
    outcome_style = {"fired": ("v", "#c62828", "alarm fired"),
                     "deleted": ("X", "#37474f", "alarm deleted"),
                     "replaced": ("|", "#37474f", "alarm replaced")}
    for outcome, (marker, color, name) in outcome_style.items():
        group = [s for s in spans if s.outcome == outcome and s.end_us is not None
                 and lo <= s.end_us <= hi]
        if not group:
            continue
        ax.scatter([s.end_us / SECOND for s in group], [row[s.actor] - 0.38 for s in group],
                   marker=marker, s=50, color=color, zorder=4)
        handles.append(Line2D([], [], linestyle="none", marker=marker, color=color,
                              markersize=7, label=f"{name} ({len(group)})"))
    return handles
