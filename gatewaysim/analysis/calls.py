"""Call lifetimes: when each call was issued, when (and whether) it settled.

A call is named by a ``callId``/``call_id`` value in a note's data, the same keys
:meth:`TraceView.follow(call_id=...) <gatewaysim.analysis.view.TraceView.follow>` matches.
It is issued at the first note that names it and settled at the first note whose event
ends in ``settled`` (``call.settled``) and names it. A call with no such note was issued
and never settled: it *hung*, which is what a plot has to make visible, because a hung
call leaves no record of its own at the moment the run goes wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from attrs import frozen

from gatewaysim.simulator.clock import Time, format_time
from gatewaysim.simulator.trace import OUT, TraceRecord

from .view import CALL_ID_KEYS

SETTLED_SUFFIX = "settled"


@frozen
class CallSpan:
    """One call on the actor that issued it; ``end_us``/``end_seq`` are ``None`` if it hung."""

    call_id: str
    actor: str
    start_us: Time
    start_seq: int
    end_us: Time | None = None
    end_seq: int | None = None

    @property
    def hung(self) -> bool:
        return self.end_us is None

    @property
    def short_id(self) -> str:
        """The id without its actor prefix (``client/u0.t1:call1`` -> ``call1``)."""
        return self.call_id.rsplit(":", 1)[-1]

    def __repr__(self) -> str:
        end = "hung" if self.end_us is None else format_time(self.end_us)
        return f"CallSpan({self.call_id!r}, {format_time(self.start_us)} -> {end})"


def _call_id(data: Any) -> str | None:
    """The first ``callId``/``call_id`` string in a note's data (searched one level deep)."""
    if not isinstance(data, dict):
        return None
    for key in CALL_ID_KEYS:
        value = data.get(key)
        if isinstance(value, str):
            return value
    inner = data.get("data")
    if isinstance(inner, dict):
        for key in CALL_ID_KEYS:
            value = inner.get(key)
            if isinstance(value, str):
                return value
    return None


def call_spans(records: Iterable[TraceRecord]) -> list[CallSpan]:
    """Every call the notes name, in the order they were issued."""
    spans: dict[str, CallSpan] = {}
    for rec in records:
        if rec.kind != OUT or rec.type != "Note":
            continue
        call_id = _call_id(rec.data)
        if call_id is None:
            continue
        span = spans.get(call_id)
        if span is None:
            spans[call_id] = span = CallSpan(call_id, rec.actor, rec.t, rec.seq)
        event = str(rec.data.get("event", ""))
        if span.end_us is None and event.endswith(SETTLED_SUFFIX):
            spans[call_id] = CallSpan(call_id, span.actor, span.start_us, span.start_seq,
                                      rec.t, rec.seq)
    return list(spans.values())


__all__ = ["CallSpan", "call_spans"]
