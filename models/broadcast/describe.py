"""The broadcast pack's timeline: commits, broadcasts, refetches and caches in words."""

from __future__ import annotations

from gatewaysim.simulator.trace import IN, OUT, TraceRecord


def describe(record: TraceRecord) -> str | None:
    """One line for the records a person reads a broadcast timeline for (``None``: default)."""
    if record.kind == OUT and record.type == "Note":
        event, d = record.data.get("event"), record.data.get("data", {})
        if event == "db.commit":
            return f"commit #{d['seq']}: {d['order']} v{d['version']} ({d['mid']})"
        if event == "cache":
            shown = dict(d["confirmed"])
            for order, version in d["overlay"].values():
                shown[order] = version
            extra = f" + optimistic {sorted(d['overlay'])}" if d["overlay"] else ""
            return f"{d['tab']} shows {shown} (read at #{d['as_of']}){extra}"
        if event == "fetch.response":
            return (f"{d['tab']} refetch read at #{d['as_of']} arrives holding #{d['held']}: "
                    f"{d['outcome']}")
        if event == "mutation.started":
            return f"{d['tab']} optimistically writes {d['order']} v{d['version']} ({d['mid']})"
        if event == "mutation.settled":
            return f"{d['tab']} {d['mid']} {'succeeded' if d['ok'] else 'FAILED'}"
        if event == "client.state":
            return f"{d['tab']} {d['to']}"
        if event == "bus.down":
            return f"{record.actor} lost its Redis subscription"
        if event == "bus.subscribed":
            return f"{record.actor} subscribed to Redis{' again' if d['again'] else ''}"
        if event == "bus.published":
            return f"redis publishes on {d['channel']} to {d['receivers']} instance(s)"
        if event == "channel.received":
            return f"{d['tab']} gets {d['mid']} on the BroadcastChannel"
        if event == "echo.ignored":
            return f"{d['tab']} ignores its own {d['event']}"
        if event == "subscriptions":
            again = " again" if d["reconnect"] else ""
            return f"{d['tab']} subscribes{again} to {d['channels']}"
        if event == "api.rejected":
            return f"{record.actor} rejects {d['order']} ({d['mid']})"
    if record.kind == IN and record.type == "WsMessage" and isinstance(
            record.data.get("data"), dict) and "event" in record.data["data"]:
        frame = record.data["data"]
        return f"{record.actor} receives {frame['event']} on {frame['channel']}"
    return None


__all__ = ["describe"]
