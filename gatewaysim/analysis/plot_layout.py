"""Layout for the trace plots: the time axis, labels that never overlap, run markers.

The x axis is either virtual time in seconds (``axis="time"``) or *event order*
(``axis="order"``): every drawn event gets its own column, in trace order, like a Lamport
clock, so a burst of a hundred records in one millisecond spreads out and can be read,
while the ticks still say the virtual time (in seconds) of the event under them.

Labels go through :class:`Labels`: each label is given a row (a lane, or the strip above
the axes) and a few stagger levels; a label is drawn at the first level where it overlaps
nothing already placed, and otherwise dropped and counted, so text is never printed over
text. Widths are estimated from the character count and the axes' width, generously.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from gatewaysim.simulator.clock import SECOND, Time, format_time
from gatewaysim.simulator.trace import TraceRecord

from .focus import BOOKKEEPING_FAULTS, Focus, fault_records

if TYPE_CHECKING:
    from matplotlib.axes import Axes

AXES = ("time", "order")
FONT = 7.0
CHAR_PT = 0.62 * FONT  # an upper estimate of one character's width at FONT points
MAX_LABEL = 22  # characters; longer labels are shortened with "…"
C_VIOLATION = "#c62828"
C_FAULT_LINE = "#000000"
C_STEP = "#607d8b"
C_SETTLE = "#9e9e9e"
C_HUNG = "#d62728"
C_CALL = "#90a4ae"


def short(text: str, width: int = MAX_LABEL) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class Scale:
    """Maps an event (its time, and its record ``seq`` when it has one) to an x position."""

    def __init__(self, mode: str, lo: Time, hi: Time,
                 events: Iterable[tuple[int, Time]] = ()) -> None:
        if mode not in AXES:
            raise ValueError(f"axis must be one of {', '.join(AXES)}, not {mode!r}")
        self.mode = mode
        self.lo, self.hi = lo, hi
        pairs = sorted(set(events))
        self.seqs = [seq for seq, _ in pairs]
        self.times = [t for _, t in pairs]

    @property
    def order(self) -> bool:
        return self.mode == "order"

    def x(self, t: Time, seq: int | None = None) -> float:
        if not self.order:
            return t / SECOND
        if seq is not None:
            i = bisect_left(self.seqs, seq)
            if i < len(self.seqs) and self.seqs[i] == seq:
                return float(i)
        return bisect_left(self.times, t) - 0.5  # between the events before t and at t

    def limits(self) -> tuple[float, float]:
        if self.order:
            return -1.0, max(1.0, float(len(self.seqs)))
        pad = (self.hi - self.lo) / SECOND * 0.01
        return self.lo / SECOND - pad, self.hi / SECOND + pad

    def min_slant(self) -> float:
        """The least horizontal extent of an arrow, so its direction can be read."""
        lo, hi = self.limits()
        return 0.0 if self.order else (hi - lo) * 0.008

    def apply(self, ax: Axes) -> None:
        ax.set_xlim(*self.limits())
        if not self.order:
            ax.set_xlabel("virtual time (s)")
            return
        n = len(self.seqs)
        ticks = sorted({round(i * (n - 1) / 7) for i in range(8)}) if n else []
        ax.set_xticks(ticks, [f"{self.times[i] / SECOND:.3f}" for i in ticks], fontsize=7)
        ax.set_xlabel(f"event order ({n} events, one column each; ticks: virtual time in s)")


class Labels:
    """Places labels without overlap; counts the ones that did not fit."""

    def __init__(self, ax: Axes, scale: Scale) -> None:
        lo, hi = scale.limits()
        width_pt = float(ax.figure.get_size_inches()[0]) * 72 * 0.70
        self.per_pt = (hi - lo) / max(width_pt, 1.0)
        self.right = hi
        self.ax = ax
        self.taken: dict[Any, list[list[tuple[float, float]]]] = {}
        self.hidden = 0
        self.top_levels = 0

    def width(self, text: str) -> float:
        return (len(text) * CHAR_PT + 6) * self.per_pt

    def flips(self, x: float, text: str) -> bool:
        """True if ``text`` would run past the right edge: it is then drawn leftwards."""
        return x + self.width(text) > self.right

    def fit(self, row: Any, x: float, text: str, levels: int) -> int | None:
        """The first free level of ``row`` for ``text`` at ``x``, now taken."""
        a, b = x, x + self.width(text)
        if self.flips(x, text):
            a, b = x - self.width(text), x
        rows = self.taken.setdefault(row, [[] for _ in range(levels)])
        while len(rows) < levels:
            rows.append([])
        for level in range(levels):
            if all(b <= s or a >= e for s, e in rows[level]):
                rows[level].append((a, b))
                return level
        self.hidden += 1
        return None

    def on_lane(self, lane: int, x: float, text: str, color: str, *, below: bool = False,
                levels: int = 2, width: int = MAX_LABEL) -> None:
        text = short(text, width)
        level = self.fit(("lane", lane, below), x, text, levels)
        if level is None:
            return
        dy = -(11 + 8 * level) if below else 5 + 8 * level
        left = self.flips(x, text)
        self.ax.annotate(text, (x, lane), xytext=(-3 if left else 3, dy),
                         textcoords="offset points", ha="right" if left else "left",
                         fontsize=FONT, color=color, zorder=6, annotation_clip=True)

    def on_top(self, x: float, text: str, color: str, *, levels: int = 3) -> None:
        text = short(text, 40)
        level = self.fit("top", x, text, levels)
        if level is None:
            return
        self.top_levels = max(self.top_levels, level + 1)
        left = self.flips(x, text)
        self.ax.annotate(text, (x, 1.0), xycoords=("data", "axes fraction"),
                         xytext=(-2 if left else 2, 3 + 9 * level), textcoords="offset points",
                         ha="right" if left else "left", fontsize=FONT, color=color,
                         annotation_clip=True)

    def note(self) -> str:
        return (f" ({self.hidden} label(s) hidden to avoid overlap: narrow the window)"
                if self.hidden else "")


def draw_run_markers(ax: Axes, scale: Scale, labels: Labels, records: Sequence[TraceRecord],
                     focus: Focus | None) -> list[Any]:
    """Vertical lines for faults, steps, ``t_heal`` and the violation; legend handles."""
    from matplotlib.lines import Line2D

    lo, hi = scale.lo, scale.hi
    handles: list[Any] = []
    inside = [r for r in fault_records(records) if lo <= r.t <= hi]
    step_at: dict[tuple[Time, str], Any] = {}
    if focus is not None:
        for m in focus.steps:
            if m.fault is not None:
                step_at.setdefault((m.t_us, m.fault), m)
    # the violation first: its label is the one that must never be dropped
    v = focus.violation if focus is not None else None
    if v is not None and lo <= v.t <= hi:
        x = scale.x(v.t)
        ax.axvline(x, color=C_VIOLATION, linewidth=1.6, zorder=5)
        labels.on_top(x, f"violated: {v.invariant_id.rsplit('.', 1)[-1]}", C_VIOLATION)
        handles.append(Line2D([], [], color=C_VIOLATION, linewidth=1.6,
                              label=f"invariant violated ({format_time(v.t)})"))
    labelled: set[int] = set()
    for r in inside:
        x = scale.x(r.t, r.seq)
        ax.axvline(x, color=C_FAULT_LINE, linewidth=0.8, linestyle=(0, (2, 2)), zorder=1)
        mark = step_at.get((r.t, r.type))
        if mark is not None:
            labelled.add(mark.index)
        labels.on_top(x, f"#{mark.index} {r.type}" if mark is not None else r.type,
                      C_FAULT_LINE)
    if inside:
        handles.append(Line2D([], [], color=C_FAULT_LINE, linewidth=0.8, linestyle=(0, (2, 2)),
                              label=f"fault injected ({len(inside)})"))
    settles = [r for r in records if r.type in BOOKKEEPING_FAULTS and lo <= r.t <= hi
               and r.kind == "fault"]
    for r in settles:
        x = scale.x(r.t, r.seq)
        ax.axvline(x, color=C_SETTLE, linewidth=1.0, linestyle="-.", zorder=1)
        labels.on_top(x, "faults healed", C_SETTLE)
    if settles:
        handles.append(Line2D([], [], color=C_SETTLE, linewidth=1.0, linestyle="-.",
                              label="faults healed (t_heal)"))
    if focus is not None:
        plain = [m for m in focus.steps if m.index not in labelled and lo <= m.t_us <= hi]
        for m in plain:
            x = scale.x(m.t_us)
            ax.plot([x], [1.0], marker="v", color=C_STEP, markersize=5, clip_on=False,
                    transform=ax.get_xaxis_transform(), zorder=6)
            labels.on_top(x, f"#{m.index} {m.step.name}", C_STEP)
        if plain:
            handles.append(Line2D([], [], linestyle="none", marker="v", color=C_STEP,
                                  markersize=5, label=f"step applied ({len(plain)})"))
    return handles


def title_with(ax: Axes, labels: Labels, text: str) -> None:
    ax.set_title(text + labels.note(), fontsize=10, loc="left",
                 pad=6 + 9 * labels.top_levels)


__all__ = ["AXES", "Labels", "Scale", "draw_run_markers", "short", "title_with"]
