"""Redis pub/sub as the bus between backend instances: at-most-once, no history.

Theory of operation: a connection that has sent ``subscribe`` for a channel receives every
message published to that channel *after* Redis processed the subscribe, and nothing from
before; a connection that is closed (or not yet resubscribed) simply is not in the list when
a message is published, and Redis keeps no copy for it. Order is kept per publisher because
each connection is FIFO in each direction and Redis forwards in arrival order. Subscribers
of a channel are served in the order they subscribed (a dict keeps insertion order).
"""

from __future__ import annotations

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import (
    AcceptConnection,
    ConnectRequested,
    Effect,
    Input,
    Note,
    Send,
    WsClosed,
    WsMessage,
)
from gatewaysim.simulator.node import HostContext, Node


class RedisPubSub(Node):
    def __init__(self, ctx: HostContext) -> None:
        super().__init__(ctx)
        self.channels: dict[str, dict[str, None]] = {}
        self.published = 0
        self.delivered = 0

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case ConnectRequested(conn=conn):
                return [AcceptConnection(conn)]
            case WsMessage(conn=conn, data={"op": "subscribe", "channels": channels}):
                for channel in channels:
                    self.channels.setdefault(channel, {})[conn] = None
                return [Send(conn, {"op": "subscribed", "channels": list(channels)})]
            case WsMessage(data={"op": "publish", "channel": channel, "data": data}):
                self.published += 1
                targets = list(self.channels.get(channel, {}))
                self.delivered += len(targets)
                out: list[Effect] = [Note("bus.published", {"channel": channel,
                                                            "receivers": len(targets)})]
                out += [Send(c, {"op": "message", "channel": channel, "data": data})
                        for c in targets]
                return out
            case WsClosed(conn=conn):
                for subscribers in self.channels.values():
                    subscribers.pop(conn, None)
        return []

    def subscribers(self, channel: str) -> tuple[str, ...]:
        return tuple(self.channels.get(channel, {}))

    def __repr__(self) -> str:
        return f"RedisPubSub({self.address!r}, published={self.published})"


__all__ = ["RedisPubSub"]
