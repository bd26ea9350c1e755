"""The echo pack's timeline: sends, echoes and backoff in words; the rest as the kernel says."""

from __future__ import annotations

from gatewaysim.simulator.clock import format_time
from gatewaysim.simulator.trace import IN, OUT, TraceRecord


def describe(record: TraceRecord) -> str | None:
    """One line for the echo records a person reads a timeline for (``None``: default)."""
    if record.kind == OUT and record.type == "Send":
        who = "server echoes" if record.actor == "echo" else f"{record.actor} sends"
        return f"{who} n={record.data['data']['n']} on {record.data['conn']}"
    if record.kind == IN and record.type == "WsMessage" and record.actor != "echo":
        return f"{record.actor} receives echo n={record.data['data']['n']} on {record.data['conn']}"
    if record.kind == OUT and record.type == "Note" and record.data.get("event") == (
            "reconnect.scheduled"):
        return f"reconnect in {format_time(record.data['data']['delay'])}"
    return None


__all__ = ["describe"]
