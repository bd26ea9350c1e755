"""The chat SDK's timeline: its notes in words; everything else as the kernel says it."""

from __future__ import annotations

from gatewaysim.simulator.clock import format_duration
from gatewaysim.simulator.trace import OUT, TraceRecord

_WORDS = {
    "conn.state": lambda d: f"connection manager: {d['previous']} -> {d['to']}",
    "rt.state": lambda d: f"centrifuge-js: {d['state']}",
    "rt.reconnect_scheduled": lambda d: f"reconnect in {format_duration(d['delay'])} "
                                        f"(attempt {d['attempt']})",
    "quality": lambda d: f"network indicator: {d['quality']} ({d['latency_ms']} ms, "
                         f"loss {d['loss']:g})",
    "token.refresh.start": lambda d: f"token refresh #{d['flight']} presenting {d['presented']}",
    "token.refresh.done": lambda d: f"token refresh #{d['flight']} done",
    "token.refresh.failed": lambda d: f"token refresh #{d['flight']} failed "
                                      f"({d['status'] or d['failure']})",
    "auth.logout": lambda d: "LOGGED OUT",
    "breaker.state": lambda d: f"circuit breaker {d['previous']} -> {d['state']}",
    "message.created": lambda d: f"user sends message {d['seq']}",
    "message.sent": lambda d: f"message {d['seq']} reported sent",
    "message.stored": lambda d: f"server stores message {d['seq']}",
    "api.unchecked_401_retry": lambda d: f"401 retry of {d['op']} returned status "
                                         f"{d['status']} as a success",
    "upload.paused": lambda d: f"upload {d['upload']} paused at {d['offset']}",
    "upload.resumed": lambda d: f"upload {d['upload']} resumes at {d['offset']}",
    "upload.done": lambda d: f"upload {d['upload']} done",
}


def describe(record: TraceRecord) -> str | None:
    """One line for the records a person reads a chat SDK timeline for (``None``: default)."""
    if record.kind == OUT and record.type == "Note":
        words = _WORDS.get(record.data.get("event", ""))
        if words is not None:
            try:
                return words(record.data.get("data", {}))
            except (KeyError, TypeError):
                return None
    return None


__all__ = ["describe"]
