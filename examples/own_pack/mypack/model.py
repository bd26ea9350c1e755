"""The system under test: a counter server and a client that increments it once a second.

The client numbers each increment and keeps it until the server acknowledges it; after a
reconnect it sends the unacknowledged ones again. The server acknowledges in batches
(every 500 ms, to save frames) and drops a repeated increment id so a retry is not
counted twice. Its weakness: it remembers the ids it has applied *per connection*, so a
retry that arrives on the client's next connection is counted again. The fix flag
``dedupe_by_client`` remembers them per client instead.
"""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from gatewaysim.simulator.clock import Time, ms, s
from gatewaysim.simulator.config import PackConfig
from gatewaysim.simulator.messages import (
    AcceptConnection,
    ConnectRequested,
    Effect,
    Input,
    Note,
    OpenConnection,
    Send,
    Start,
    TimerFired,
    WsClosed,
    WsMessage,
    WsOpened,
    WsRejected,
)
from gatewaysim.simulator.node import HostContext, Node

TICK = s(1)
ACK_EVERY = ms(500)
RETRY = ms(300)


@frozen(kw_only=True)
class CounterConfig(PackConfig):
    FIXES: ClassVar[dict[str, str]] = {
        "dedupe_by_client": "The server remembers applied increment ids per client, across "
                            "connections, instead of per connection.",
    }


class CounterServer(Node):
    def __init__(self, ctx: HostContext, dedupe_by_client: bool) -> None:
        super().__init__(ctx)
        self.dedupe_by_client = dedupe_by_client
        self.value = 0
        self.peer: dict[str, str] = {}
        self.seen: dict[str, dict[int, None]] = {}  # conn (or client) -> ids applied
        self.unacked: dict[str, list[int]] = {}  # conn -> ids to acknowledge

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case ConnectRequested(conn=conn, peer=peer):
                self.peer[conn] = peer
                self.unacked[conn] = []
                return [AcceptConnection(conn)]
            case WsMessage(conn=conn, data={"op": "incr", "id": int(n)}):
                return self._increment(now, conn, n)
            case WsClosed(conn=conn):
                self.unacked.pop(conn, None)
                if not self.dedupe_by_client:
                    self.seen.pop(conn, None)  # the weakness: the ids go with the socket
                return []
            case TimerFired(key="ack"):
                out: list[Effect] = [Send(c, {"op": "ack", "ids": ids})
                                     for c, ids in self.unacked.items() if ids]
                self.unacked = {c: [] for c in self.unacked}
                return out
        return []

    def _increment(self, now: Time, conn: str, n: int) -> list[Effect]:
        key = self.peer[conn] if self.dedupe_by_client else conn
        seen = self.seen.setdefault(key, {})
        out: list[Effect] = []
        if n not in seen:
            seen[n] = None
            self.value += 1
            out.append(Note("applied", {"id": n, "value": self.value}))
        if conn in self.unacked:
            self.unacked[conn].append(n)
        if not self.timer_armed("ack"):
            out.append(self.set_timer("ack", now + ACK_EVERY))
        return out


class CounterClient(Node):
    def __init__(self, ctx: HostContext, server: str) -> None:
        super().__init__(ctx)
        self.server = server
        self.conn: str | None = None
        self.open = False
        self.issued = 0
        self.acked = 0
        self.pending: dict[int, None] = {}  # ids sent and not yet acknowledged, in order
        self._n = 0

    def _connect(self) -> list[Effect]:
        self._n += 1
        self.conn = f"{self.address}:ws{self._n}"
        return [OpenConnection(self.conn, self.server)]

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case Start():
                return self._connect()
            case WsOpened(conn=conn) if conn == self.conn:
                self.open = True
                resend = [Send(conn, {"op": "incr", "id": n}) for n in self.pending]
                return [Note("connected"), *resend, self.set_timer("tick", now + TICK)]
            case WsMessage(conn=conn, data={"op": "ack", "ids": ids}) if conn == self.conn:
                for n in ids:
                    if self.pending.pop(n, False) is None:
                        self.acked += 1
                return []
            case WsClosed(conn=conn) | WsRejected(conn=conn) if conn == self.conn:
                self.open = False
                self.conn = None
                delay = RETRY + self.ctx.rng.randint(0, RETRY)
                return [Note("disconnected"), self.cancel_timer("tick"),
                        self.set_timer("reconnect", now + delay)]
            case TimerFired(key="reconnect"):
                return self._connect()
            case TimerFired(key="tick") if self.open and self.conn is not None:
                self.issued += 1
                self.pending[self.issued] = None
                return [Send(self.conn, {"op": "incr", "id": self.issued}),
                        self.set_timer("tick", now + TICK)]
        return []
