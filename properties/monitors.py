"""A library of reusable monitors: the promises real-time systems make, stated once.

Each monitor here is generic: a pack tells it which trace records mean what (a call issued,
a call settled, a message sent or delivered) with small functions of a record, or where in
its typed ``statistics()`` value to look (its maps, its replicas, its sessions). The books
are kept incrementally from records, so judging after every step costs little. The
record-reading ones take ``types`` and ``kinds``: the record types (``"Note"``) and kinds
(``"fault"``) their functions can answer for. Given them, a monitor is handed no other
record, which is most of what judging it costs (see ``Monitor.record_kinds``).

======================  ==========  =====================================================
monitor                 kind        promise
======================  ==========  =====================================================
:class:`SettlesOnce`    safety      every operation settles at most once (and only after
                                    it was issued)
:class:`SettlesWithin`  liveness    every operation settles within a bound of virtual time
:class:`MapsEmpty`      liveness    after settling, every internal map is empty (no leaks)
:class:`Converges`      liveness    after quiescence, every replica equals the source
:class:`SessionsPerKey` safety or   at most one connected session per key; or, after
                        liveness    faults stop, exactly one for every key that needs one
:class:`InOrder`        safety      per stream, delivered in the order sent, never
                                    duplicated or invented; lossless too, if asked
:class:`HerdDispersal`  liveness    clients dropped together do not come back together
:class:`Sometimes`      sometimes   a situation the campaign must reach at least once
======================  ==========  =====================================================
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from gatewaysim.simulator.clock import Time, format_duration, format_time
from gatewaysim.simulator.trace import TraceRecord

from .monitor import Facts, Kind, Monitor

RecordKey = Callable[[TraceRecord], "Hashable | None"]
"""A function of a trace record: the key it is about, or ``None`` if it is not one."""


def _first(items: Iterable[str]) -> str | None:
    return next(iter(items), None)


class SettlesOnce(Monitor):
    """Every operation ``issued`` is ``settled`` at most once, and never before it was issued.

    A second settlement means two code paths (a timeout, a close, a reply) both believe
    they own the operation: the promise resolves twice, a callback runs twice.
    """

    def __init__(self, id: str, statement: str, *, issued: RecordKey, settled: RecordKey,
                 doc: str = "", types: Iterable[str] | None = None,
                 kinds: Iterable[str] | None = None) -> None:
        self.issued = issued
        self.settled = settled
        super().__init__(id, statement, "safety", doc=doc, types=types, kinds=kinds)

    def reset(self) -> None:
        self.open: dict[Hashable, Time] = {}
        self.done: dict[Hashable, Time] = {}
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        key = self.issued(record)
        if key is not None:
            self.open[key] = record.t
        key = self.settled(record)
        if key is None or self.problem is not None:
            return
        if key in self.done:
            self.problem = (f"{key!r} settled twice: at {format_time(self.done[key])} and "
                            f"at {format_time(record.t)}")
        elif key not in self.open:
            self.problem = f"{key!r} settled at {format_time(record.t)} but was never issued"
        else:
            self.done[key] = record.t
            del self.open[key]

    def judge(self, facts: Facts) -> str | None:
        return self.problem


class SettlesWithin(Monitor):
    """Every operation settles within ``bound`` of being issued; judged after settling.

    ``excused(facts, key)`` may excuse an operation nobody waits for any more (its tab
    was closed).
    """

    def __init__(self, id: str, statement: str, *, issued: RecordKey, settled: RecordKey,
                 bound: Time, excused: Callable[[Facts, Hashable], bool] | None = None,
                 doc: str = "", types: Iterable[str] | None = None,
                 kinds: Iterable[str] | None = None) -> None:
        self.issued = issued
        self.settled = settled
        self.bound = bound
        self.excused = excused
        super().__init__(id, statement, "liveness", doc=doc, types=types, kinds=kinds)

    def reset(self) -> None:
        self.open: dict[Hashable, Time] = {}
        self.late: list[tuple[Hashable, Time, Time]] = []

    def observe(self, record: TraceRecord) -> None:
        key = self.issued(record)
        if key is not None and key not in self.open:
            self.open[key] = record.t
        key = self.settled(record)
        if key is not None and key in self.open:
            issued = self.open.pop(key)
            if record.t - issued > self.bound:
                self.late.append((key, issued, record.t))

    def judge(self, facts: Facts) -> str | None:
        for key, issued, settled in self.late:
            if self.excused is None or not self.excused(facts, key):
                return (f"{key!r} issued at {format_time(issued)} took "
                        f"{format_duration(settled - issued)} to settle (bound "
                        f"{format_duration(self.bound)})")
        for key, issued in self.open.items():
            if issued + self.bound <= facts.now and (
                    self.excused is None or not self.excused(facts, key)):
                return (f"{key!r} issued at {format_time(issued)} never settled "
                        f"({format_duration(facts.now - issued)} later)")
        return None


class MapsEmpty(Monitor):
    """After every operation settles and the world is quiet, every internal map is empty.

    ``maps(statistics)`` gives the size of each map by a readable name (``"client.calls"``).
    """

    def __init__(self, id: str, statement: str, *,
                 maps: Callable[[Any], Mapping[str, int]], doc: str = "") -> None:
        self.maps = maps
        super().__init__(id, statement, "liveness", doc=doc)

    def judge(self, facts: Facts) -> str | None:
        left = {name: n for name, n in self.maps(facts.statistics).items() if n}
        if not left:
            return None
        listed = ", ".join(f"{name}={n}" for name, n in sorted(left.items()))
        return f"maps not empty after settling: {listed}"


class Converges(Monitor):
    """After quiescence every replica equals the source of truth.

    ``source(statistics)`` is the truth (the database); ``replicas(statistics)`` maps each
    replica's name to what it holds (a client's cache).
    """

    def __init__(self, id: str, statement: str, *, source: Callable[[Any], Any],
                 replicas: Callable[[Any], Mapping[str, Any]], doc: str = "") -> None:
        self.source = source
        self.replicas = replicas
        super().__init__(id, statement, "liveness", doc=doc)

    def judge(self, facts: Facts) -> str | None:
        truth = self.source(facts.statistics)
        for name, held in sorted(self.replicas(facts.statistics).items()):
            if held != truth:
                return f"{name} holds {held!r}, the source holds {truth!r}"
        return None


class SessionsPerKey(Monitor):
    """At most one connected session per key (safety), or exactly one for every key that
    needs one once faults stop (liveness).

    ``sessions(statistics)`` maps a key (an instance name, a user) to its connected
    sessions; ``required(statistics)`` (exactly-one only) names the keys that must have one.
    """

    def __init__(self, id: str, statement: str, *,
                 sessions: Callable[[Any], Mapping[str, Sequence[str]]],
                 required: Callable[[Any], Iterable[str]] | None = None,
                 doc: str = "") -> None:
        self.sessions = sessions
        self.required = required
        kind: Kind = "safety" if required is None else "liveness"
        super().__init__(id, statement, kind, doc=doc)

    def judge(self, facts: Facts) -> str | None:
        stats = facts.statistics
        held = self.sessions(stats)
        for key, sessions in sorted(held.items()):
            if len(sessions) > 1:
                return f"{key} has {len(sessions)} connected sessions: {sorted(sessions)}"
        if self.required is not None:
            for key in sorted(self.required(stats)):
                if not held.get(key):
                    since = facts.now - (facts.t_heal or 0)
                    return (f"{key} has no connected session {format_duration(since)} after "
                            "faults stopped")
        return None


class InOrder(Monitor):
    """Per stream, messages are delivered in the order sent, never duplicated or invented;
    with ``lossless``, every message sent is delivered by the time the run settles.

    ``sent(record)`` and ``delivered(record)`` give ``(stream, sequence number)`` for the
    records that send and deliver a message. Lossless is judged after settling only.
    """

    def __init__(self, id: str, statement: str, *,
                 sent: Callable[[TraceRecord], tuple[Hashable, int] | None],
                 delivered: Callable[[TraceRecord], tuple[Hashable, int] | None],
                 lossless: bool = False, doc: str = "", types: Iterable[str] | None = None,
                 kinds: Iterable[str] | None = None) -> None:
        self.sent = sent
        self.delivered = delivered
        self.lossless = lossless
        super().__init__(id, statement, "safety", doc=doc, types=types, kinds=kinds)

    def reset(self) -> None:
        self.sent_seqs: dict[Hashable, set[int]] = {}
        self.got: dict[Hashable, set[int]] = {}
        self.last: dict[Hashable, int] = {}
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        s = self.sent(record)
        if s is not None:
            self.sent_seqs.setdefault(s[0], set()).add(s[1])
            return
        d = self.delivered(record)
        if d is None or self.problem is not None:
            return
        stream, n = d
        last = self.last.get(stream)
        if n not in self.sent_seqs.get(stream, ()):
            self.problem = f"{stream} delivered n={n}, which was never sent on it"
        elif n in self.got.get(stream, ()):
            self.problem = f"{stream} delivered n={n} twice"
        elif last is not None and n < last:
            self.problem = f"{stream} delivered n={n} after n={last}"
        self.got.setdefault(stream, set()).add(n)
        self.last[stream] = n

    def judge(self, facts: Facts) -> str | None:
        if self.problem is not None or not self.lossless or facts.t_heal is None:
            return self.problem
        for stream, seqs in sorted(self.sent_seqs.items(), key=lambda kv: repr(kv[0])):
            missing = sorted(seqs - self.got.get(stream, set()))
            if missing:
                return f"{stream}: n={missing[:5]} sent but never delivered"
        return None


class HerdDispersal(Monitor):
    """Clients dropped together do not come back together: after a drop of ``n >= minimum``
    clients, no more than ``max(minimum, n // 2 + 1) - 1`` of their first arrivals fall
    inside any ``window``.

    ``dropped(record)`` gives the clients a record drops at once (a gateway-wide drop);
    ``arrival(record)`` the client a record shows arriving (an upgrade reaching the server);
    ``woken(record)`` a client the user woke, whose arrival is not the backoff's choice.
    """

    def __init__(self, id: str, statement: str, *,
                 dropped: Callable[[TraceRecord], Iterable[str] | None],
                 arrival: Callable[[TraceRecord], str | None], window: Time,
                 woken: Callable[[TraceRecord], str | None] | None = None,
                 minimum: int = 3, doc: str = "", types: Iterable[str] | None = None,
                 kinds: Iterable[str] | None = None) -> None:
        self.dropped = dropped
        self.arrival = arrival
        self.woken = woken
        self.window = window
        self.minimum = minimum
        super().__init__(id, statement, "liveness", doc=doc, types=types, kinds=kinds)

    def reset(self) -> None:
        self.herds: list[tuple[Time, frozenset[str], dict[str, Time]]] = []
        self.woke: list[tuple[Time, str]] = []

    def observe(self, record: TraceRecord) -> None:
        clients = self.dropped(record)
        if clients is not None:
            herd = frozenset(clients)
            if len(herd) >= self.minimum:
                self.herds.append((record.t, herd, {}))
            return
        if self.woken is not None:
            w = self.woken(record)
            if w is not None:
                self.woke.append((record.t, w))
        client = self.arrival(record)
        if client is not None:
            for t_herd, herd, first in self.herds:
                if client in herd and client not in first and record.t > t_herd:
                    first[client] = record.t

    def judge(self, facts: Facts) -> str | None:
        for t_herd, herd, first_seen in self.herds:
            first = dict(first_seen)
            for t_user, client in self.woke:
                if client in first and t_herd < t_user <= first[client]:
                    del first[client]
            times = sorted(first.values())
            need = max(self.minimum, len(herd) // 2 + 1)
            for i in range(len(times) - need + 1):
                if times[i + need - 1] - times[i] < self.window:
                    return (f"after the drop of {len(herd)} clients at {format_time(t_herd)}, "
                            f"{need} came back within "
                            f"{format_duration(times[i + need - 1] - times[i])} of each other "
                            f"(from {format_time(times[i])})")
        return None


class Sometimes(Monitor):
    """A situation a campaign must reach at least once: ``when(record)`` says, for a record
    that shows it, what was reached (a string or ``True``). ``types`` (e.g. ``{"Note"}``),
    when given, are the only record types ``when`` can answer for: it is asked about no
    other record."""

    def __init__(self, id: str, statement: str, *,
                 when: Callable[[TraceRecord], str | bool | None], doc: str = "",
                 types: Iterable[str] | None = None) -> None:
        self.when = when
        super().__init__(id, statement, "sometimes", doc=doc, types=types)

    def reset(self) -> None:
        self.seen: str | None = None

    def observe(self, record: TraceRecord) -> None:
        if self.seen is None:
            hit = self.when(record)
            if hit:
                self.seen = hit if isinstance(hit, str) else (
                    f"{record.actor} {record.type} at {format_time(record.t)}")

    def judge(self, facts: Facts) -> str | None:
        return self.seen


__all__ = ["Converges", "HerdDispersal", "InOrder", "MapsEmpty", "RecordKey", "SessionsPerKey",
           "SettlesOnce", "SettlesWithin", "Sometimes"]
