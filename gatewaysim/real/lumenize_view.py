"""What a Lumenize user observed, and every difference between a simulated and a real run.

A tab's user (application code on ``LumenizeClient``) observes its state changes, the
events it fires (``onSubscriptionRequired``, ``onLoginRequired``, ``error``), the calls it
makes and how they settle, the ``@mesh`` calls it handles, the document it holds, the close
codes of its sockets and what arrives on each socket (so the messages after each
reconnection). A mesh object's user observes how its calls to a tab end.
:func:`user_view` reads exactly those from a run's records; :func:`compare` lists what
differs.

Orders and counts are compared exactly. The one allowance is at the end of a run: a run
that stops at a fixed time may have seen one event more or less than the other when that
event falls at the end (a ping-pong that drifts a few milliseconds a cycle). An event only
one run has is a difference unless, moved by the drift measured at the last event both
runs share, it would fall after the other run's end, within the tolerance.

Timings are compared per state change, measured from the event before it: the tab's
previous state change or the latest fault (a drop, a tab opening), whichever is later; a
mesh call's result from the latest fault. So a difference does not accumulate along a
ping-pong, and each gap must match within the script's tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attrs import frozen

from gatewaysim.models.lumenize import protocol as p
from gatewaysim.simulator.clock import Time, format_duration
from gatewaysim.simulator.trace import FAULT, IN, OUT, TraceRecord

from .conformance import Difference

MS = 1000


@frozen
class Seen:
    """One thing a user observed, and when."""

    t: Time
    what: str


def _value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _error(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('name')}: {error.get('message')}"
    return str(error)


def _settled(d: dict) -> str:
    outcome = f"ok {_value(d.get('value'))}" if d.get("ok") else _error(d.get("error"))
    return f"call [{d.get('tag')}] {outcome}"


EVENTS: dict[str, Any] = {
    "subscription_required": lambda d: "onSubscriptionRequired",
    "login_required": lambda d: f"onLoginRequired {d.get('code')}",
    "connection_error": lambda d: "error",
    "call.settled": _settled,
    "incoming.handled": lambda d: f"handled {d.get('method')}",
    "document": lambda d: f"document v{d.get('version')} {_value(d.get('content'))}",
}
"""Client notes a user sees, and how each reads."""


def _frame(data: Any) -> str:
    if not isinstance(data, dict):
        return _value(data)
    kind = data.get("type")
    if kind == "connection_status":
        return f"connection_status subscriptionRequired={data.get('subscriptionRequired')}"
    if kind == "incoming_call":
        chain = data.get("chain") or {}
        return f"incoming_call {chain.get('method')}{tuple(chain.get('args') or ())}"
    if kind == "call_response":
        return f"call_response success={data.get('success')}"
    return str(kind)


@frozen
class TabView:
    """What one tab's user observed, each item with its time."""

    states: tuple[Seen, ...]
    events: tuple[Seen, ...]
    closes: tuple[Seen, ...]
    """``closed <code>`` per socket close, ``rejected <status>`` per refused upgrade."""
    messages: tuple[Seen, ...]
    """``socket <n>: <frame>``: what arrived on the tab's n-th open socket."""


@frozen
class UserView:
    tabs: dict[str, TabView]
    mesh_results: tuple[Seen, ...]
    """``[tag] <instance>: ok <value>`` or ``... <error>`` per call a mesh node made."""
    faults: tuple[Time, ...]


def user_view(records: Sequence[TraceRecord]) -> UserView:
    tabs: dict[str, dict[str, list[Seen]]] = {}
    sockets: dict[str, dict[str, int]] = {}
    results: list[Seen] = []
    faults: list[Time] = []
    for r in records:
        if r.kind == FAULT:
            faults.append(r.t)
            continue
        if r.kind == OUT and r.type == "Note" and r.data["event"] == "mesh_call.result":
            d = r.data["data"]
            outcome = f"ok {_value(d.get('value'))}" if d.get("ok") else _error(d.get("error"))
            results.append(Seen(r.t, f"[{d.get('tag')}] {d.get('instanceName')}: {outcome}"))
            continue
        if not r.actor.startswith(p.CLIENT_PREFIX):
            continue
        tab = tabs.setdefault(r.actor, {"states": [], "events": [], "closes": [],
                                        "messages": []})
        opened = sockets.setdefault(r.actor, {})
        if r.kind == OUT and r.type == "Note":
            event, d = r.data["event"], r.data["data"]
            if event == "state":
                tab["states"].append(Seen(r.t, str(d["to"])))
            elif event in EVENTS:
                tab["events"].append(Seen(r.t, EVENTS[event](d)))
        elif r.kind == IN and r.type == "WsOpened":
            opened[r.data["conn"]] = len(opened) + 1
        elif r.kind == IN and r.type == "WsClosed":
            tab["closes"].append(Seen(r.t, f"closed {r.data['code']}"))
        elif r.kind == IN and r.type == "WsRejected":
            tab["closes"].append(Seen(r.t, f"rejected {r.data['status']}"))
        elif r.kind == IN and r.type == "WsMessage":
            n = opened.get(r.data["conn"], 0)
            tab["messages"].append(Seen(r.t, f"socket {n}: {_frame(r.data['data'])}"))
    return UserView({name: TabView(*(tuple(v[k]) for k in ("states", "events", "closes",
                                                           "messages")))
                     for name, v in tabs.items()}, tuple(results), tuple(faults))


def _latest(t: Time, anchors: Sequence[Time]) -> Time:
    before = [a for a in anchors if a <= t]
    return before[-1] if before else 0


def _sequence(who: str, what: str, sim: Sequence[Seen], real: Sequence[Seen], sim_end: Time,
              real_end: Time, tolerance: Time) -> list[Difference]:
    """Items in order; the tail allowance of the module docstring."""
    n = min(len(sim), len(real))
    if [s.what for s in sim[:n]] != [r.what for r in real[:n]]:
        return [Difference(who, what, [s.what for s in sim], [r.what for r in real])]
    drift = real[n - 1].t - sim[n - 1].t if n else 0
    late = ([s for s in sim[n:] if s.t + drift + tolerance <= real_end]
            + [r for r in real[n:] if r.t - drift + tolerance <= sim_end])
    if late:
        return [Difference(who, what, [s.what for s in sim], [r.what for r in real])]
    return []


def _gaps(items: Sequence[Seen], anchors: Sequence[Time], per_item: bool) -> list[Time]:
    """Each item's time after the event before it (see the module docstring)."""
    out = []
    for i, item in enumerate(items):
        since = _latest(item.t, anchors)
        if per_item and i:
            since = max(since, items[i - 1].t)
        out.append(item.t - since)
    return out


def _timings(who: str, what: str, sim: Sequence[Seen], real: Sequence[Seen],
             sim_faults: Sequence[Time], real_faults: Sequence[Time], tolerance: Time,
             per_item: bool) -> list[Difference]:
    out = []
    pairs = zip(_gaps(sim, sim_faults, per_item), _gaps(real, real_faults, per_item))
    for i, (a, b) in enumerate(pairs):
        if abs(a - b) > tolerance:
            out.append(Difference(who, f"time of {what} {i} ({sim[i].what}) after the "
                                  "event before it", format_duration(a), format_duration(b)))
    return out


def compare(sim: Sequence[TraceRecord], sim_end: Time, real: Sequence[TraceRecord],
            real_end: Time, tolerance_ms: float) -> list[Difference]:
    """Every observable difference between the two runs (an empty list: they conform)."""
    tolerance = round(tolerance_ms * MS)
    a, b = user_view(sim), user_view(real)
    out: list[Difference] = []
    for name in sorted(set(a.tabs) | set(b.tabs)):
        empty = TabView((), (), (), ())
        ta, tb = a.tabs.get(name, empty), b.tabs.get(name, empty)
        for what in ("states", "events", "closes", "messages"):
            out += _sequence(name, what, getattr(ta, what), getattr(tb, what), sim_end,
                             real_end, tolerance)
        out += _timings(name, "state", ta.states, tb.states, a.faults, b.faults, tolerance,
                        per_item=True)
    out += _sequence("mesh", "call results", a.mesh_results, b.mesh_results, sim_end,
                     real_end, tolerance)
    out += _timings("mesh", "call result", a.mesh_results, b.mesh_results, a.faults,
                    b.faults, tolerance, per_item=False)
    return out


__all__ = ["EVENTS", "Seen", "TabView", "UserView", "compare", "user_view"]
