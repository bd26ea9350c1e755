"""The broadcast pack's monitors: what users of SYNC-012 are promised, stated as checks.

Order matters: the first violated monitor of this tuple is the one a run reports, so the
specific promises (no phantom, monotonic reads, restored subscriptions, delivered
invalidations) come before the general ones (history, convergence), and each weakness is
reported under its own name.

=====================================  =========  ========================================
monitor                                kind       promise
=====================================  =========  ========================================
``broadcast.no-phantom``               safety     once its origin tab knows an order was
                                                  rejected no tab shows it; after
                                                  quiescence no tab shows an order the
                                                  database does not hold
``broadcast.history``                  safety     every cache state a tab shows is a
                                                  prefix of the committed history plus its
                                                  browser's own writes, never one the
                                                  browser knows was rejected (Elle-style)
``broadcast.monotonic-reads``          liveness   no refetch a tab applies shows an order
                                                  at an older version than one it read
``broadcast.subscriptions-restored``   liveness   after quiescence every open tab is
                                                  connected and subscribed to exactly its
                                                  channels
``broadcast.invalidation-delivered``   liveness   after quiescence every open tab read the
                                                  database after its last commit
``broadcast.converges``                liveness   after quiescence every open tab shows
                                                  what the database holds
``broadcast.*`` sometimes              sometimes  a resubscription after a loss; a refetch
                                                  answered out of order; a tab showing
                                                  another tab's optimistic entry
=====================================  =========  ========================================
"""

from __future__ import annotations

from typing import Any

from gatewaysim.simulator.clock import Time, format_time
from gatewaysim.simulator.trace import OUT, TraceRecord

from ..monitor import Check, Facts, Monitor
from ..monitors import Converges, Sometimes


def _note(record: TraceRecord, event: str) -> dict[str, Any] | None:
    """The data of ``Note(event, data)`` if ``record`` is one, else ``None``."""
    if record.kind == OUT and record.type == "Note" and record.data.get("event") == event:
        data: dict[str, Any] = record.data["data"]
        return data
    return None


class History(Monitor):
    """Each ``cache`` note a tab emits is checked against the history seen so far.

    Like Elle, it infers rather than trusts: the confirmed part of the cache must equal the
    database state after *some* prefix of the commits made so far (not necessarily the
    latest: a tab may be behind), and every optimistic entry laid over it must be a write
    its own browser started and has not been told was rejected (an aborted read, G1a).
    """

    def reset(self) -> None:
        self.states: list[dict[str, int]] = [{}]
        self.started: dict[str, str] = {}
        """mutation id -> the browser that started it."""
        self.failed: dict[str, int] = {}
        """mutation id -> the time its browser learned it failed."""
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        if self.problem is not None or record.kind != OUT or record.type != "Note":
            return
        event = record.data.get("event")
        data = record.data["data"]
        if event == "db.commit":
            state = dict(self.states[-1])
            state[data["order"]] = data["version"]
            self.states.append(state)
        elif event == "mutation.started":
            self.started[data["mid"]] = record.actor
        elif event == "mutation.settled" and not data["ok"]:
            self.failed[data["mid"]] = record.t
        elif event == "cache":
            self.problem = self._check(record, data)

    def _check(self, record: TraceRecord, data: dict[str, Any]) -> str | None:
        where = f"{data['tab']} at {format_time(record.t)}"
        confirmed = data["confirmed"]
        if confirmed and confirmed not in self.states:
            return (f"{where} shows {confirmed}, which is no prefix of the "
                    f"{len(self.states) - 1} commits so far")
        for mid, (order, _version) in data["overlay"].items():
            if self.started.get(mid) != record.actor:
                return f"{where} shows {order} from {mid}, a write its browser never made"
            if mid in self.failed:
                return (f"{where} shows {order} from {mid}, rejected at "
                        f"{format_time(self.failed[mid])} (an aborted read)")
        return None

    def judge(self, facts: Facts) -> str | None:
        return self.problem


HISTORY = History(
    "broadcast.history",
    "every cache state a tab shows is a prefix of the committed history plus its browser's "
    "own writes, none of them known to be rejected",
    "safety",
    doc=History.__doc__ or "",
)


PHANTOM_GRACE: Time = 0
"""How long a tab may go on showing an order after its origin tab learned it was rejected:
none, since a BroadcastChannel message arrives at once."""


class NoPhantom(Monitor):
    """A rejected order leaves every tab: within ``PHANTOM_GRACE`` of its origin tab learning
    of the rejection (judged after every step), and in any case once the run is quiet (no open
    tab then shows an order the database does not hold)."""

    def reset(self) -> None:
        self.creates: dict[str, str] = {}
        """mutation id -> the order a create would have made."""
        self.rejected: dict[str, int] = {}
        """order -> when its origin tab learned it was rejected."""

    def observe(self, record: TraceRecord) -> None:
        data = _note(record, "mutation.started")
        if data is not None and data["version"] == 1:
            self.creates[data["mid"]] = data["order"]
            return
        data = _note(record, "mutation.settled")
        if data is not None and not data["ok"] and data["mid"] in self.creates:
            self.rejected.setdefault(self.creates[data["mid"]], record.t)

    def judge(self, facts: Facts) -> str | None:
        stats = facts.statistics
        for tab in stats.open_tabs():
            for order, t in self.rejected.items():
                if order in tab.shown and order not in stats.database and (
                        facts.now >= t + PHANTOM_GRACE):
                    return (f"{tab.key} still shows {order} at {format_time(facts.now)}, "
                            f"rejected at {format_time(t)}")
            if facts.t_heal is not None:
                ghosts = sorted(set(tab.shown) - set(stats.database))
                if ghosts:
                    return (f"{tab.key} still shows {', '.join(ghosts)} after settling, which "
                            f"the database does not hold (it holds {sorted(stats.database)})")
        return None


NO_PHANTOM = NoPhantom(
    "broadcast.no-phantom",
    "once its origin tab knows an order was rejected no tab shows it (checked between steps), "
    "and after quiescence no tab shows an order the database lacks",
    "safety",
    doc="An optimistic entry must die with its write: the origin tab rolls back, and any tab "
        "it was shared with over the BroadcastChannel must learn of it too. "
        + (NoPhantom.__doc__ or ""),
)


class MonotonicReads(Monitor):
    """Per tab page (slot and life), each list the page reads from the server (a refetch it
    applies) shows every order at a version no older than a list it read before; an order
    not shown counts as version 0 (orders are never deleted). This is the session guarantee
    of monotonic reads, judged once the run is quiet over every read each page applied.
    Local changes (optimistic entries, rollbacks) are not reads: what they may show is the
    history monitor's business."""

    def reset(self) -> None:
        self.highest: dict[tuple[str, int], dict[str, tuple[int, int]]] = {}
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        data = _note(record, "cache")
        if data is None or data["cause"] != "read" or self.problem is not None:
            return
        confirmed = data["confirmed"]
        highest = self.highest.setdefault((data["tab"], data["life"]), {})
        for order, (version, t) in sorted(highest.items()):
            now = confirmed.get(order)
            if (now or 0) < version:
                shown = "no longer shows it" if now is None else f"shows v{now}"
                self.problem = (f"{data['tab']} read {order} v{version} at {format_time(t)} "
                                f"but after a read applied at {format_time(record.t)} {shown}")
                return
        for order, version in confirmed.items():
            if version > highest.get(order, (0, 0))[0]:
                highest[order] = (version, record.t)

    def judge(self, facts: Facts) -> str | None:
        return self.problem


MONOTONIC_READS = MonotonicReads(
    "broadcast.monotonic-reads",
    "once a tab read a version of an order from the server, no later read it applies shows "
    "an older one (judged after quiescence, over every read)",
    "liveness",
    doc=MonotonicReads.__doc__ or "",
)


def _subscriptions(facts: Facts) -> str | None:
    for tab in facts.statistics.open_tabs():
        if not tab.connected:
            return f"{tab.key} is not connected after settling (state {tab.state})"
        if tab.server_channels != tab.channels:
            return (f"{tab.key} means to be subscribed to {list(tab.channels)} but the backend "
                    f"holds {list(tab.server_channels)} for its socket")
    return None


SUBSCRIPTIONS = Check(
    "broadcast.subscriptions-restored",
    "after quiescence every open tab is connected and the backend holds exactly the channels "
    "it subscribed to (subscriptions after a reconnect equal those before it)",
    "liveness", _subscriptions,
    doc="The BroadcastClient resubscribes every channel it has handlers for when a socket "
        "opens; subscribe/unsubscribe made while disconnected count on the next socket.",
)


def _fresh(facts: Facts) -> str | None:
    stats = facts.statistics
    for tab in stats.open_tabs():
        if tab.as_of < stats.seq:
            return (f"{tab.key} last read the database at commit #{tab.as_of}, but commits up "
                    f"to #{stats.seq} were made: their invalidations never reached it")
    return None


INVALIDATED = Check(
    "broadcast.invalidation-delivered",
    "after quiescence every open tab has read the database after its last commit (no "
    "commit's invalidation was lost on its way to a tab)",
    "liveness", _fresh,
    doc="Each commit is broadcast; a tab that hears it refetches, so once the world is quiet "
        "every tab's data was read at or after the last commit. A notice the at-most-once bus "
        "dropped (a tab or an instance resubscribing) leaves the tab on an older read.",
)


CONVERGES = Converges(
    "broadcast.converges",
    "after quiescence every open tab's cache equals the database",
    source=lambda stats: stats.database,
    replicas=lambda stats: {t.key: t.shown for t in stats.open_tabs()},
    doc="Invalidate-and-refetch converges only if every tab hears of every commit after its "
        "last read; an at-most-once bus loses exactly those notices a reconnect overlaps.",
)


def _resubscribed(record: TraceRecord) -> str | None:
    data = _note(record, "subscriptions")
    if data is not None and data["reconnect"]:
        return f"{data['tab']} reconnected and resubscribed at {format_time(record.t)}"
    data = _note(record, "bus.subscribed")
    if data is not None and data["again"]:
        return f"{record.actor} resubscribed to Redis at {format_time(record.t)}"
    return None


def _out_of_order(record: TraceRecord) -> str | None:
    data = _note(record, "fetch.response")
    if data is not None and data["as_of"] < data["held"]:
        return (f"{data['tab']} got a response read at seq {data['as_of']} after holding seq "
                f"{data['held']} ({data['outcome']})")
    return None


def _remote_optimistic(record: TraceRecord) -> str | None:
    data = _note(record, "channel.received")
    if data is not None:
        return f"{data['tab']} laid {data['mid']} over its cache from the BroadcastChannel"
    return None


RESUBSCRIBED = Sometimes(
    "broadcast.resubscribed",
    "a tab or an instance loses its subscription and resubscribes",
    when=_resubscribed,
    doc="Without it, a campaign whose drops never bit would pass the reconnect promises.",
)
OUT_OF_ORDER = Sometimes(
    "broadcast.out-of-order-refetch",
    "a refetch response arrives after a newer one was already applied",
    when=_out_of_order,
    doc="The race the versioned cache exists for must actually happen.",
)
REMOTE_OPTIMISTIC = Sometimes(
    "broadcast.remote-optimistic",
    "a tab shows another tab's optimistic entry before the server answered",
    when=_remote_optimistic,
)

MONITORS = (NO_PHANTOM, HISTORY, MONOTONIC_READS, SUBSCRIPTIONS, INVALIDATED, CONVERGES,
            RESUBSCRIBED, OUT_OF_ORDER, REMOTE_OPTIMISTIC)

__all__ = ["CONVERGES", "HISTORY", "INVALIDATED", "MONITORS", "MONOTONIC_READS", "NO_PHANTOM",
           "OUT_OF_ORDER", "REMOTE_OPTIMISTIC", "RESUBSCRIBED", "SUBSCRIPTIONS"]
