"""The restart pack's timeline: client states, events and prompts in the library's words."""

from __future__ import annotations

from gatewaysim.simulator.trace import FAULT, OUT, TraceRecord

_QUIET = frozenset({"polling.started", "polling.stopped", "socket.skipped", "socket.closed"})


def describe(record: TraceRecord) -> str | None:
    """One line for the records a person reads a restart timeline for (``None``: default)."""
    if record.kind == FAULT and record.type == "signal":
        return f"{record.data['signal']} to the server process"
    if record.kind != OUT or record.type != "Note":
        return None
    event, data = record.data.get("event"), record.data.get("data", {})
    if event == "state":
        return f"connectionState = {data['to']!r}"
    if event == "event":
        via = f" ({data['via']})" if data.get("via") else ""
        return f"event {data['name']}{via}"
    if event == "callback":
        return f"{data['name']}() called"
    if event == "reconnect.attempt":
        return f"reconnect attempt #{data['attempt']} (loop {data['loop']}) -> {data['conn']}"
    if event == "close.unhandled":
        return f"close of {data['conn']} ignored: the socket was created for a reconnect"
    if event == "validate":
        return f"validateConnection() -> {data['result']}"
    if event and event.startswith("prompt."):
        extra = f" {data['error']}" if data.get("error") else ""
        return f"{event} {data.get('label', data.get('prompt_id'))}{extra}"
    if event in _QUIET:
        return ""
    return None


__all__ = ["describe"]
