"""Folding trace records into the state of every actor, and answering "what was true at t?".

The trace records what happened, not what was true: to know whether a client was
connected at 12.3 s, the records before it have to be folded. :func:`fold_record` is that
fold, one record at a time, written once and used by :class:`StateIndex`, by the state
plots and by the naive reference the tests compare against.

What an actor's state holds (the keys of :meth:`ActorState.as_dict`):

``state``
    The model's own word for where it is. A ``Note("state", {"to": ...})`` sets it; actors
    that never emit such a note get it from :class:`StateRules` (the echo client says
    ``Note("connected")``, and opening a connection means ``"connecting"``). A crash
    clears it: the process that knew is gone.
``up``
    False between a ``crash`` fault and the next ``Start``.
``incarnation``
    The ``Start`` count, from 0 (``-1`` before the first start).
``connections``
    Sockets this actor holds open, sorted: a client's from ``WsOpened``, a server's from
    ``AcceptConnection``; gone at ``WsClosed``/``WsRejected`` or when the actor crashes.
``alarm``
    The pending Durable Object alarm time in microseconds, or ``None``: ``SetAlarm`` sets
    it, ``DeleteAlarm`` and ``AlarmFired`` clear it, a kernel ``alarm.retry`` re-arms it.
``notes``
    The data of the last note of every other event, keyed by event.
``partitions``
    Only meaningful for the ``world`` actor: the blocked ``(a, b)`` host pairs.

Periodic snapshots make :meth:`StateIndex.at` cheap on long traces: the state after every
``every`` records is kept, and a query replays at most ``every`` records from the nearest
snapshot before it instead of folding from the start.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from attrs import define, field, frozen

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.state_rules import StateRules
from gatewaysim.simulator.trace import FAULT, IN, OUT, SYS, TraceRecord

from .names import natural_key

WORLD = "world"


DEFAULT_RULES = StateRules()
"""No rules: a trace that names no installed pack gets its states from ``Note("state", ...)``
only. A pack's own rules come from its manifest (``Pack.state_rules``)."""


@define(slots=True)
class ActorState:
    """The mutable accumulator the fold works on; copied into snapshots, never handed out."""

    state: str | None = None
    up: bool = True
    incarnation: int = -1
    connections: set[str] = field(factory=set)
    alarm: Time | None = None
    notes: dict[str, Any] = field(factory=dict)
    partitions: set[tuple[str, str]] = field(factory=set)
    explicit: bool = False  # the actor emitted a state note; rules no longer apply

    def copy(self) -> ActorState:
        return ActorState(self.state, self.up, self.incarnation, set(self.connections),
                          self.alarm, dict(self.notes), set(self.partitions), self.explicit)

    def as_dict(self) -> Mapping[str, Any]:
        """A read-only view for users: sorted tuples instead of sets, no internal flags."""
        return MappingProxyType({
            "state": self.state,
            "up": self.up,
            "incarnation": self.incarnation,
            "connections": tuple(sorted(self.connections)),
            "alarm": self.alarm,
            "notes": MappingProxyType(dict(self.notes)),
            "partitions": tuple(sorted(self.partitions)),
        })


States = dict[str, ActorState]


def _actor(states: States, name: str) -> ActorState:
    st = states.get(name)
    if st is None:
        st = states[name] = ActorState()
    return st


def fold_record(states: States, rec: TraceRecord, rules: StateRules = DEFAULT_RULES) -> None:
    """Apply one record to ``states`` in place (the single definition of the reducer)."""
    kind, type_, data = rec.kind, rec.type, rec.data
    if kind == FAULT:
        _fold_fault(states, type_, data)
        return
    st = _actor(states, rec.actor)
    if kind == IN:
        if type_ == "WsMessage" or type_ == "TimerFired":
            return  # the common case, first: changes nothing tracked here
        if type_ == "WsOpened":
            st.connections.add(data["conn"])
        elif type_ == "WsClosed" or type_ == "WsRejected":
            st.connections.discard(data["conn"])
        elif type_ == "Start":
            st.up = True
            st.incarnation = data.get("incarnation", st.incarnation + 1)
        elif type_ == "AlarmFired":
            st.alarm = None
    elif kind == OUT:
        if type_ == "Note":
            event = data.get("event")
            payload = data.get("data") or {}
            if event == rules.state_event:
                if "to" in payload:
                    st.state = payload["to"]
                    st.explicit = True
                return
            st.notes[event] = payload
            if not st.explicit:
                mapped = rules.notes.get(event)  # type: ignore[arg-type]
                if mapped is not None:
                    st.state = mapped
            return
        if type_ == "AcceptConnection":
            st.connections.add(data["conn"])
        elif type_ == "SetAlarm":
            st.alarm = data["at"]
        elif type_ == "DeleteAlarm":
            st.alarm = None
        if not st.explicit:
            mapped = rules.effects.get(type_)
            if mapped is not None:
                st.state = mapped
    elif kind == SYS:
        if type_ == "alarm.retry":
            st.alarm = data.get("at")
        elif type_ == "accept.ignored":
            st.connections.discard(data.get("conn"))  # type: ignore[arg-type]


def _fold_fault(states: States, type_: str, data: Mapping[str, Any]) -> None:
    world = _actor(states, WORLD)
    world.notes[type_] = dict(data)
    if type_ == "crash":
        st = _actor(states, data["host"])
        st.up = False
        st.state = None
        st.connections.clear()
    elif type_ == "partition":
        a, b = data["a"], data["b"]
        world.partitions.add((a, b))
        if not data.get("one_way"):
            world.partitions.add((b, a))
    elif type_ == "heal":
        a, b = data.get("a"), data.get("b")
        if a is None:
            world.partitions.clear()
        else:
            world.partitions.discard((a, b))
            world.partitions.discard((b, a))


def fold(records: Iterable[TraceRecord], rules: StateRules = DEFAULT_RULES,
         states: States | None = None) -> States:
    """Fold ``records`` into ``states`` (a fresh dict if not given) and return it."""
    states = {} if states is None else states
    for rec in records:
        fold_record(states, rec, rules)
    return states


@frozen
class StatesAt(Mapping[str, Mapping[str, Any]]):
    """Every actor's state at one instant: a read-only mapping actor -> state dict.

    ``t_us`` is the instant in microseconds; ``t`` in seconds. Actors appear once a record
    mentions them (the ``world`` actor once a fault happened).
    """

    t_us: Time
    _states: Mapping[str, Mapping[str, Any]]

    @property
    def t(self) -> float:
        return self.t_us / 1_000_000

    def __getitem__(self, actor: str) -> Mapping[str, Any]:
        return self._states[actor]

    def __iter__(self) -> Iterator[str]:
        return iter(self._states)

    def __len__(self) -> int:
        return len(self._states)

    def __repr__(self) -> str:
        lines = [f"<StatesAt t={self.t:.6f}s actors={len(self)}>"]
        for actor, st in self._states.items():
            conns = len(st["connections"])
            lines.append(f"  {actor}: state={st['state']} up={st['up']} connections={conns}"
                         f" alarm={st['alarm']}")
        return "\n".join(lines)


def freeze(states: States, t_us: Time) -> StatesAt:
    """Turn a fold's accumulator into the read-only value users get, actors in natural order."""
    ordered = sorted(states, key=natural_key)
    return StatesAt(t_us, MappingProxyType({a: states[a].as_dict() for a in ordered}))


def state_at_naive(records: Sequence[TraceRecord], t_us: Time,
                   rules: StateRules = DEFAULT_RULES) -> StatesAt:
    """The reference answer: fold every record with ``t <= t_us`` from the very start."""
    states: States = {}
    for rec in records:
        if rec.t > t_us:
            break
        fold_record(states, rec, rules)
    return freeze(states, t_us)


class StateIndex:
    """Snapshots of the fold every ``every`` records, for fast :meth:`at` queries.

    Building costs one fold of the whole trace plus a copy of every actor's state per
    snapshot; a query costs one snapshot copy and at most ``every - 1`` folded records.
    Records must be in trace order (non-decreasing ``t``), as a trace writes them.
    """

    def __init__(self, records: Sequence[TraceRecord], rules: StateRules = DEFAULT_RULES,
                 every: int = 1000) -> None:
        if every < 1:
            raise ValueError(f"snapshot interval must be at least 1 record, got {every}")
        self.records = records
        self.rules = rules
        self.every = every
        self.times: list[Time] = [r.t for r in records]
        # snapshots[k] is the state after records[: k * every]
        self.snapshots: list[States] = []
        states: States = {}
        for i, rec in enumerate(records):
            if i % every == 0:
                self.snapshots.append({a: s.copy() for a, s in states.items()})
            fold_record(states, rec, rules)
        if len(records) % every == 0:
            self.snapshots.append({a: s.copy() for a, s in states.items()})

    def at_us(self, t_us: Time) -> StatesAt:
        """State after every record with ``t <= t_us``."""
        end = bisect_right(self.times, t_us)
        k = end // self.every
        states = {a: s.copy() for a, s in self.snapshots[k].items()}
        rules = self.rules
        for rec in self.records[k * self.every:end]:
            fold_record(states, rec, rules)
        return freeze(states, t_us)


@frozen
class Transition:
    """An actor's ``state`` or ``up`` changed at ``t_us`` (what the state plot draws)."""

    t_us: Time
    actor: str
    state: str | None
    up: bool


def transitions(records: Iterable[TraceRecord], rules: StateRules = DEFAULT_RULES
                ) -> list[Transition]:
    """Every change of ``(state, up)`` of every actor, in trace order."""
    states: States = {}
    last: dict[str, tuple[str | None, bool]] = {}
    out: list[Transition] = []
    for rec in records:
        fold_record(states, rec, rules)
        touched = (rec.data.get("host"),) if rec.kind == FAULT else (rec.actor,)
        for actor in touched:
            st = states.get(actor) if actor is not None else None
            if st is None:
                continue
            now = (st.state, st.up)
            if last.get(actor) != now:
                last[actor] = now
                out.append(Transition(rec.t, actor, st.state, st.up))
    return out


@frozen
class AlarmSpan:
    """One alarm on one actor: armed at ``set_us`` for ``due_us``; ended at ``end_us``.

    ``outcome`` is ``"fired"``, ``"deleted"``, ``"replaced"`` (a later ``SetAlarm``) or
    ``"pending"`` (still armed when the trace ends; ``end_us`` is then ``None``).
    """

    actor: str
    set_us: Time
    due_us: Time
    end_us: Time | None
    outcome: str


def alarm_spans(records: Iterable[TraceRecord]) -> list[AlarmSpan]:
    """Grace windows and other alarms: each ``SetAlarm`` until it fires, is deleted or replaced."""
    open_: dict[str, tuple[Time, Time]] = {}
    out: list[AlarmSpan] = []
    for rec in records:
        if rec.kind == OUT and rec.type == "SetAlarm":
            prev = open_.pop(rec.actor, None)
            if prev is not None:
                out.append(AlarmSpan(rec.actor, prev[0], prev[1], rec.t, "replaced"))
            open_[rec.actor] = (rec.t, rec.data["at"])
        elif (rec.kind == OUT and rec.type == "DeleteAlarm") or (
            rec.kind == IN and rec.type == "AlarmFired"
        ):
            prev = open_.pop(rec.actor, None)
            if prev is not None:
                outcome = "deleted" if rec.type == "DeleteAlarm" else "fired"
                out.append(AlarmSpan(rec.actor, prev[0], prev[1], rec.t, outcome))
    for actor, (set_us, due_us) in open_.items():
        out.append(AlarmSpan(actor, set_us, due_us, None, "pending"))
    return out
