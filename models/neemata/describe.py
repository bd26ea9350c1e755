"""The Neemata timeline: wire frames, calls, streams and blobs in words.

Frames are described where they are sent (an arrow shows the direction); their arrival is
hidden, since the link is FIFO with a fixed delay and the next line that matters is what the
receiver did. Records read back from a file hold dicts where a live trace holds values, so
every accessor here takes either.
"""

from __future__ import annotations

from typing import Any

import attrs

from gatewaysim.simulator.clock import format_duration
from gatewaysim.simulator.trace import IN, OUT, TraceRecord

_ID_FIELDS = ("call_id", "stream_id")


def _name(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "?"))
    return type(value).__name__


def _fields(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "type"}
    if attrs.has(type(value)):
        return {a.name: getattr(value, a.name) for a in attrs.fields(type(value))}
    return {}


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict) and set(value) == {"bytes"}:
        return f"<{len(value['bytes']) // 2} bytes>"
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 50 else text[:49] + "…"


def frame(msg: Any) -> str:
    """``RpcAbort id=3 reason='x'``: a wire message in a few words."""
    fields = _fields(msg)
    parts = [_name(msg)]
    for key in _ID_FIELDS:
        if key in fields:
            parts.append(f"id={fields.pop(key)}")
    for key, value in fields.items():
        if value in (None, "", (), []):
            continue
        parts.append(f"{key}={_short(value)}")
    return " ".join(parts)


def _note(actor: str, event: str, d: dict[str, Any]) -> str | None:
    op = d.get("op", "")
    if event == "call.issued":
        kind = "stream" if d.get("stream") else "call"
        return f"{kind} {op}: {d['procedure']} issued as id {d['call_id']}"
    if event == "call.settled":
        if d.get("ok"):
            return f"call {op} resolved {_short(d.get('value'))}"
        err = d.get("error") or {}
        return f"call {op} rejected {err.get('code')}: {err.get('message')}"
    if event == "stream.chunk":
        return f"{op} reads chunk {_short(d.get('chunk'))}"
    if event == "download.chunk":
        return f"{op} reads blob chunk {d.get('n')} ({d.get('bytes')} bytes)"
    if event in ("stream.settled", "download.settled"):
        what = event.split(".")[0]
        extra = f" ({d['error']})" if d.get("error") else ""
        return f"{what} {op} over: {d.get('outcome')} after {d.get('chunks')} chunks{extra}"
    if event == "response.dropped":
        return f"late {d.get('frame', 'response')} for id {d.get('call_id')} dropped"
    if event == "handler.started":
        return f"handler {d.get('procedure')} starts for {op} (id {d.get('call_id')})"
    if event in ("handler.returned", "handler.done", "handler.finally", "rpc.aborted"):
        rest = d.get("outcome") or d.get("error") or ""
        return f"{event} {op} {rest}".rstrip()
    if event in ("download.created", "upload.destroyed", "stream.consume_timeout",
                 "upload.consumed", "user.error", "error.escaped", "client.disconnected",
                 "client.connected", "gateway.connected", "gateway.closed", "call.timeout",
                 "abort.requested", "client.ids_skipped", "upload.released",
                 "download.released"):
        return f"{event} " + " ".join(f"{k}={_short(v)}" for k, v in d.items())
    return ""  # bookkeeping notes (pull.dropped, chunk.ignored...) stay out of the way


def describe(record: TraceRecord) -> str | None:
    """One line for a Neemata record; ``""`` hides it, ``None`` leaves it to the default."""
    if record.kind == OUT and record.type == "Send":
        arrow = "->" if record.actor == "client" else "<-"
        return f"{arrow} {frame(record.data['data'])}"
    if record.kind == IN and record.type == "WsMessage":
        return ""
    if record.kind == OUT and record.type == "Note":
        return _note(record.actor, record.data["event"], record.data.get("data") or {})
    if record.kind == IN and record.type == "Call":
        d = record.data
        timeout = d.get("timeout")
        when = "default timeout" if timeout is None else (
            "no timeout" if timeout == 0 else f"timeout {format_duration(timeout)}")
        extra = " (pre-aborted)" if d.get("pre_aborted") else ""
        return f"user: {d['op']} = {d['procedure']}({_short(d.get('payload'))}), {when}{extra}"
    if record.kind == IN and record.type in ("AbortOp", "Disconnect", "Connect", "SkipIds"):
        return f"user: {record.type} " + " ".join(f"{k}={v}" for k, v in record.data.items())
    if record.kind in (IN, OUT) and record.type in ("TimerFired", "SetTimer", "CancelTimer"):
        return ""
    return None


__all__ = ["describe", "frame"]
