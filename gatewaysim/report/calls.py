"""Call lifetimes read from trace records: from the first record naming a call id to its
settlement, or to the end of the run for a call that never settled (a hung call).

A call is found the way :meth:`gatewaysim.analysis.view.TraceView.follow` finds one: its id
under a ``callId``/``call_id`` key at any depth of a record's data (a note, or a frame a
``Send`` carries). It settles at a note whose event is ``call.settled``; a model that
names no calls simply has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from attrs import frozen

from gatewaysim.analysis.view import CALL_ID_KEYS
from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.trace import OUT, TraceRecord

SETTLED_EVENTS = frozenset({"call.settled"})


@frozen
class CallSpan:
    """One call: issued by ``actor`` at ``t0``; ``t1`` is its settlement, or the last record
    of the run if it never settled (``settled`` is then false)."""

    call_id: str
    actor: str
    t0: Time
    t1: Time
    settled: bool
    records: int
    """How many records name the call."""

    @property
    def hung(self) -> bool:
        return not self.settled


def call_ids(value: Any) -> list[str]:
    """Every call id under a ``callId``/``call_id`` key in nested dicts and lists."""
    out: list[str] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            for k, item in v.items():
                if k in CALL_ID_KEYS and isinstance(item, str | int):
                    out.append(str(item))
                elif isinstance(item, dict | list | tuple):
                    stack.append(item)
        elif isinstance(v, list | tuple):
            stack.extend(v)
    return out


def call_spans(records: Iterable[TraceRecord]) -> list[CallSpan]:
    """Every call in ``records``, in the order calls first appear."""
    first: dict[str, TraceRecord] = {}
    settled: dict[str, Time] = {}
    count: dict[str, int] = {}
    last_t: Time = 0
    for rec in records:
        last_t = rec.t
        ids = call_ids(rec.data)
        if not ids:
            continue
        settles = (rec.kind == OUT and rec.type == "Note"
                   and rec.data.get("event") in SETTLED_EVENTS)
        for cid in dict.fromkeys(ids):
            first.setdefault(cid, rec)
            count[cid] = count.get(cid, 0) + 1
            if settles and cid not in settled:
                settled[cid] = rec.t
    return [CallSpan(cid, rec.actor, rec.t, settled.get(cid, last_t), cid in settled, count[cid])
            for cid, rec in first.items()]


__all__ = ["SETTLED_EVENTS", "CallSpan", "call_ids", "call_spans"]
