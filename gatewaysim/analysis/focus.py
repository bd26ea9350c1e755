"""What a picture of a failing run should centre on: the lanes and the window that matter.

A failure or a branch has a verdict (:attr:`RunOutcome.violation`) and the steps that led
to it (:attr:`RunOutcome.marks`). A reader wants the actors the violation talks about and
the actors the faults hit, from the first fault to the moment the invariant was judged,
not every actor from t=0. The ``settle`` fault is bookkeeping (it marks ``t_heal``, the
moment the driver stops injecting faults), so it never anchors a window.

:func:`lanes_that_matter` is the one choice of lanes: the matplotlib plots (through
:func:`focus_of`) and the HTML report's SVG pictures both draw what it picks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attrs import frozen

from gatewaysim.simulator.clock import SECOND, Time, format_time
from gatewaysim.simulator.trace import FAULT, IN, OUT, TraceRecord

from .branch import RunOutcome
from .calls import CallSpan, call_spans
from .names import natural_key

if TYPE_CHECKING:
    from gatewaysim.properties.monitor import Violation

    from .view import TraceView

BOOKKEEPING_FAULTS = frozenset(("settle",))
"""Fault records that are not faults: ``settle`` marks ``t_heal``."""

PAD_FRACTION = 0.05
MIN_PAD: Time = SECOND // 2
MAX_FOCUS_RECORDS = 500
"""A default window holds at most this many records, ending at the violation: a long
liveness window (a minute of ping-pong) is shown by its last part, the part judged."""
NEAR = 5 * SECOND
MAX_LANES = 8
"""At most this many lanes are picked: a picture of more is not read."""
_CONN = re.compile(r"[\w./#-]+:ws\d+")


@frozen
class Focus:
    """The lanes, window and verdict a plot of an executed run is drawn around."""

    actors: tuple[str, ...]
    lo: Time
    hi: Time
    violation: Violation | None
    steps: tuple[Any, ...]

    def verdict(self) -> str:
        """One line: does the run violate, which invariant, when."""
        return verdict_line(self.violation)


def verdict_line(violation: Violation | None, hi: Time | None = None) -> str:
    """``violated ID at T`` or ``holds``; ``hi``: the end of the window drawn, if any."""
    if violation is None:
        return "holds: no invariant violated"
    later = " (judged after this window)" if hi is not None and violation.t > hi else ""
    return f"violated {violation.invariant_id} at {format_time(violation.t)}{later}"


def outcome_of(view: TraceView) -> RunOutcome | None:
    origin = view.source.origin
    return origin if isinstance(origin, RunOutcome) else None


def fault_records(records: Iterable[TraceRecord]) -> list[TraceRecord]:
    """The fault records that are faults: ``settle`` left out, and so are the heals and
    restarts the driver applies right after it (same instant), which end faults."""
    out: list[TraceRecord] = []
    settled_at: Time | None = None
    for r in records:
        if r.kind != FAULT:
            continue
        if r.type in BOOKKEEPING_FAULTS:
            settled_at = r.t
        elif settled_at is None or r.t != settled_at:
            out.append(r)
    return out


def connection_ends(records: Iterable[TraceRecord]) -> dict[str, dict[str, str]]:
    """conn -> {"client": actor, "server": actor}, from the opens and accepts."""
    ends: dict[str, dict[str, str]] = {}
    for r in records:
        if r.kind == OUT and r.type == "OpenConnection":
            ends.setdefault(r.data["conn"], {})["client"] = r.actor
        elif r.kind == OUT and r.type == "AcceptConnection":
            ends.setdefault(r.data["conn"], {})["server"] = r.actor
        elif r.kind == IN and r.type == "ConnectRequested":
            ends.setdefault(r.data["conn"], {}).setdefault("server", r.actor)
    return ends


def fault_actors(type_: str, data: Mapping[str, Any],
                 ends: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The actors a fault hits: its host, both ends of its connection, or its link's ends."""
    if "host" in data:
        return [data["host"]]
    if "conn" in data:
        return list(ends.get(data["conn"], {}).values())
    return [v for key in ("a", "b") if isinstance(v := data.get(key), str)]


def named_actors(text: str, actors: Sequence[str]) -> list[str]:
    """Actors a message names, as ``client/u0.t1`` or by instance (``u0.t1``)."""
    out = []
    for actor in actors:
        tail = actor.rsplit("/", 1)[-1]
        if actor in text or (tail != actor and len(tail) > 2 and _word_in(tail, text)):
            out.append(actor)
    return out


def _word_in(word: str, text: str) -> bool:
    start = text.find(word)
    while start >= 0:
        before = text[start - 1] if start else " "
        end = start + len(word)
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before in "._/#") and not (after.isalnum() or after in "_#"):
            return True
        start = text.find(word, start + 1)
    return False


def focus_of(view: TraceView) -> Focus | None:
    """The focus of a view of an executed run (failure, step list, branch), else ``None``."""
    outcome = outcome_of(view)
    if outcome is None:
        return None
    records = view.root.records
    faults = fault_records(records)
    violation = outcome.violation
    lanes = tuple(lanes_that_matter(records, violation, outcome.marks))
    anchors = [r.t for r in faults]
    if not anchors:  # no fault: the steps that did something (not the ones that wait)
        anchors = [m.t_us for m in outcome.marks if not _waits(m)]
    if violation is not None:  # when it happened, if the message says; else when judged
        anchors += mentioned_times(violation.message) or [violation.t]
    first = records[0].t if records else 0
    last = records[-1].t if records else SECOND
    if not anchors:
        return Focus(lanes, first, last, violation, outcome.marks)
    lo, hi = min(anchors), max(anchors)
    pad = max(MIN_PAD, round((hi - lo) * PAD_FRACTION))
    lo, hi = max(first, lo - pad), min(max(last, hi), hi + pad)
    inside = [r.t for r in records if lo <= r.t <= hi]
    if len(inside) > MAX_FOCUS_RECORDS:
        lo = inside[-MAX_FOCUS_RECORDS]
    return Focus(lanes, lo, hi, violation, outcome.marks)


def lanes_that_matter(records: Sequence[TraceRecord], violation: Violation | None = None,
                      steps: Sequence[Any] = (), calls: Sequence[CallSpan] | None = None,
                      limit: int = MAX_LANES) -> list[str]:
    """The actors a reader of this run needs, in natural order.

    The actors the violation's message names (by name, by instance as in ``u0.t1``, or
    through a connection id such as ``client/u0.t1:ws2``), the actors a fault hit (its
    host, the ends of its connection or link) or a fault step started (a duplicate tab),
    the issuers of calls that never settled (``calls``; default: the run's own), and the
    peers of those actors' connections, which show what they talked to. With none of
    those, the actors busiest in the seconds before the violation, else the busiest of the
    run. At most ``limit``; ``world`` (the actor of faults) is never one.
    """
    actors = sorted({r.actor for r in records if r.kind != FAULT and r.actor != "world"},
                    key=natural_key)
    known = set(actors)
    ends = connection_ends(records)
    chosen: list[str] = []

    def add(names: Iterable[str]) -> None:
        for name in names:
            if name in known and name not in chosen:
                chosen.append(name)

    if violation is not None:
        for conn in _CONN.findall(violation.message):
            add(ends.get(conn, {}).values())
        add(named_actors(violation.message, actors))
    for r in fault_records(records):
        add(fault_actors(r.type, r.data, ends))
    bounds = [m.record for m in steps] + [records[-1].seq if records else 0]
    for m, end in zip(steps, bounds[1:], strict=False):
        if m.fault:  # what a fault step started (a duplicate tab) is part of the fault
            add(r.actor for r in records
                if m.record < r.seq <= end and r.t == m.t_us and r.type == "Start")
    add(c.actor for c in (call_spans(records) if calls is None else calls) if c.hung)
    for a in list(chosen):
        for pair in ends.values():
            if a in pair.values():
                add(pair.values())
    if not chosen and violation is not None:
        add(_busy_before(records, violation.t, actors))
    if not chosen:
        counts: dict[str, int] = {}
        for r in records:
            if r.actor in known:
                counts[r.actor] = counts.get(r.actor, 0) + 1
        add(sorted(counts, key=lambda a: (-counts[a], natural_key(a))))
    return sorted(chosen[:limit], key=natural_key)


_TIME = re.compile(r"(?<![\d.])(\d+\.\d{3})s\b")


def mentioned_times(message: str) -> list[Time]:
    """Instants a violation message names (``t=1.070s``, ``the last at 179.290s``).

    A liveness invariant is judged at the end of the settle window, often minutes after
    what it reports happened; the message's own times say where to look.
    """
    return [round(float(x) * SECOND) for x in _TIME.findall(message)]


def _busy_before(records: Sequence[TraceRecord], t: Time, actors: Sequence[str]) -> list[str]:
    """The actors doing most in the seconds before ``t`` (the violation names none)."""
    counts: dict[str, int] = {}
    for r in records:
        if t - NEAR <= r.t <= t and r.actor in actors:
            counts[r.actor] = counts.get(r.actor, 0) + 1
    if not counts:
        return []
    top = max(counts.values())
    return [a for a, n in counts.items() if n * 10 >= top]


def _waits(mark: Any) -> bool:
    """A step that only lets time pass (``advance``, ``wait``): it anchors nothing."""
    args = mark.step.args
    return mark.fault is None and all(k in ("ms", "seconds", "minutes", "s") for k in args) \
        and bool(args)


__all__ = ["BOOKKEEPING_FAULTS", "Focus", "connection_ends", "fault_actors", "fault_records",
           "focus_of", "lanes_that_matter", "named_actors", "outcome_of", "verdict_line"]
