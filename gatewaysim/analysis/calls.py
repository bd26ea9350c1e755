"""Call lifetimes: when each call was issued, when (and whether) it settled.

This is the one definition the plots, the HTML report and the Perfetto export share. Two
kinds of call are read from trace records, with no knowledge of any model:

- A **call id**: a value under a ``callId``/``call_id`` key, at any depth of a note's data
  (the keys :meth:`TraceView.follow(call_id=...) <gatewaysim.analysis.view.TraceView.follow>`
  matches). The call is issued at the first note that names it and settled at the first
  note whose event ends in ``settled`` (``call.settled``) and names it. A string id names
  one call wherever it appears; an integer id is a per-connection counter (Neemata's), so
  it is the issuing actor's own: its call starts at that actor's ``*.issued`` note and
  settles at that actor's settle note (a server's notes naming the same number are its
  view of the call, not a call of its own).
- A **request**: an HTTP exchange, issued by the ``HttpRequest`` an actor sends and
  settled when that actor receives its ``HttpResponse`` or ``HttpFailed``. A mesh object
  calling a client through its gateway is one (Lumenize's ``node/main#0:rpc1``): while the
  client is away the gateway parks it, naming only its request id, and if nothing releases
  it, no record of the caller's side ever says it ended.

A note that names a request and a call id not seen before (Lumenize's ``call.forwarded``:
the gateway passes the mesh call on to the client as ``incoming_call`` ``ic-…``) makes the
call id part of the request's call: it settles when the request does.

A call with no settlement *hung* (or was still in flight when the run ended): a plot draws
it to the end of the run, in red, because a hung call leaves no record of its own at the
moment the run goes wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from attrs import evolve, frozen

from gatewaysim.simulator.clock import Time, format_time
from gatewaysim.simulator.trace import IN, OUT, TraceRecord

from .view import CALL_ID_KEYS

SETTLED_SUFFIX = "settled"
ISSUED_SUFFIX = "issued"
REQUEST_KEY = "req"
REQUEST_ENDS = frozenset({"HttpResponse", "HttpFailed"})


@frozen
class CallSpan:
    """One call on the actor that issued it; ``end_us``/``end_seq`` are ``None`` if it never
    settled. ``kind`` is ``call`` (a call id) or ``request`` (an HTTP exchange)."""

    call_id: str
    actor: str
    start_us: Time
    start_seq: int
    end_us: Time | None = None
    end_seq: int | None = None
    kind: str = "call"
    records: int = 1
    """How many records name the call."""
    aliases: tuple[str, ...] = ()
    """Call ids that joined this request (see the module's docstring)."""

    @property
    def hung(self) -> bool:
        return self.end_us is None

    @property
    def settled(self) -> bool:
        return self.end_us is not None

    @property
    def short_id(self) -> str:
        """The id without its actor prefix (``client/u0.t1:call1`` -> ``call1``)."""
        return self.call_id.rsplit(":", 1)[-1]

    def end_or(self, last: Time) -> Time:
        """When it settled, or ``last`` (the end of the run) for a call that never did."""
        return self.end_us if self.end_us is not None else last

    def __repr__(self) -> str:
        end = "hung" if self.end_us is None else format_time(self.end_us)
        return f"CallSpan({self.call_id!r}, {format_time(self.start_us)} -> {end})"


def named_ids(value: Any, keys: Iterable[str] = CALL_ID_KEYS) -> Iterator[tuple[str, Any]]:
    """Every ``(key, value)`` under one of ``keys``, at any depth of nested dicts and lists,
    in the order they are written (a stack in reverse keeps it)."""
    wanted = set(keys)
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            nested = []
            for k, item in v.items():
                if k in wanted and isinstance(item, str | int) and not isinstance(item, bool):
                    yield k, item
                elif isinstance(item, dict | list | tuple):
                    nested.append(item)
            stack.extend(reversed(nested))
        elif isinstance(v, list | tuple):
            stack.extend(reversed(v))


def call_ids(value: Any) -> list[str]:
    """Every call id under a ``callId``/``call_id`` key in nested dicts and lists."""
    return [str(v) for _k, v in named_ids(value)]


def _event(rec: TraceRecord) -> str:
    return str(rec.data.get("event", "")) if rec.kind == OUT and rec.type == "Note" else ""


def call_spans(records: Iterable[TraceRecord]) -> list[CallSpan]:
    """Every call in ``records`` (call ids and requests), in the order they were issued."""
    spans: list[CallSpan] = []
    open_: dict[Any, int] = {}  # call key -> index in spans of its latest call
    requests: dict[str, int] = {}  # request id -> index in spans
    joined: dict[str, int] = {}  # call id that joined a request -> index in spans
    for rec in records:
        event = _event(rec)
        if rec.kind == OUT and rec.type == "HttpRequest" and isinstance(
                rec.data.get(REQUEST_KEY), str):
            req = rec.data[REQUEST_KEY]
            requests[req] = len(spans)
            spans.append(CallSpan(req, rec.actor, rec.t, rec.seq, kind="request"))
            continue
        named = list(named_ids(rec.data, (*CALL_ID_KEYS, REQUEST_KEY)))
        if not named:
            continue
        reqs = [v for k, v in named if k == REQUEST_KEY and v in requests]
        ids = [v for k, v in named if k != REQUEST_KEY]
        touched: dict[int, None] = {}
        for req in reqs:
            touched[requests[req]] = None
        for cid in dict.fromkeys(ids):
            key = cid if isinstance(cid, str) else (rec.actor, cid)
            if isinstance(cid, str) and cid in joined:
                touched[joined[cid]] = None
            elif key in open_ and (isinstance(cid, str) or not event.endswith(ISSUED_SUFFIX)
                                   or spans[open_[key]].hung):
                touched[open_[key]] = None
                if not isinstance(cid, str) and event.endswith(ISSUED_SUFFIX):
                    # the same number issued again while the first call is open (a reused
                    # id): a call of its own; the first one keeps waiting
                    open_[key] = len(spans)
                    spans.append(CallSpan(str(cid), rec.actor, rec.t, rec.seq))
            elif isinstance(cid, str) and event and reqs:
                joined[cid] = requests[reqs[0]]
                i = joined[cid]
                spans[i] = evolve(spans[i], aliases=(*spans[i].aliases, cid))
                touched[i] = None
            elif event and (isinstance(cid, str) or event.endswith(ISSUED_SUFFIX)):
                open_[key] = len(spans)
                spans.append(CallSpan(str(cid), rec.actor, rec.t, rec.seq, records=0))
                touched[open_[key]] = None
        for i in touched:
            span = spans[i]
            end = span.end_us is None and (
                (span.kind == "call" and event.endswith(SETTLED_SUFFIX)
                 and (span.actor == rec.actor or isinstance(_first(span, ids), str)))
                or (span.kind == "request" and rec.kind == IN and rec.type in REQUEST_ENDS
                    and rec.actor == span.actor))
            spans[i] = evolve(span, records=span.records + 1,
                              end_us=rec.t if end else span.end_us,
                              end_seq=rec.seq if end else span.end_seq)
    return spans


def _first(span: CallSpan, ids: list[Any]) -> Any:
    """The id of ``span`` as this record names it (a string, or the actor's number)."""
    for cid in ids:
        if str(cid) == span.call_id:
            return cid
    return None


__all__ = ["CallSpan", "call_ids", "call_spans", "named_ids"]
