"""An echo client: sends a numbered message every second, reconnects with backoff.

Backoff doubles from 500 ms to 8 s with full jitter drawn from ``ctx.rng`` (a seeded
stream), and resets when a socket opens.
"""

from __future__ import annotations

from gatewaysim.simulator.clock import Time, ms, s
from gatewaysim.simulator.messages import (
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

BASE = ms(500)
CAP = s(8)
SEND_EVERY = s(1)


class EchoClient(Node):
    def __init__(self, ctx: HostContext, server: str = "echo") -> None:
        super().__init__(ctx)
        self.server = server
        self.conn: str | None = None
        self.open = False
        self.attempts = 0
        self.sent = 0
        self.received = 0
        self._n = 0

    def _connect(self) -> list[Effect]:
        self._n += 1
        self.conn = f"{self.address}:ws{self._n}"
        return [OpenConnection(self.conn, self.server)]

    def _backoff(self, now: Time) -> list[Effect]:
        ceiling = min(CAP, BASE * 2**self.attempts)
        self.attempts += 1
        delay = self.ctx.rng.randint(0, ceiling)
        return [Note("reconnect.scheduled", {"delay": delay}),
                self.set_timer("reconnect", now + delay)]

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case Start():
                return self._connect()
            case WsOpened(conn=conn) if conn == self.conn:
                self.open = True
                self.attempts = 0
                return [Note("connected"), self.set_timer("send", now + SEND_EVERY)]
            case WsMessage(conn=conn) if conn == self.conn:
                self.received += 1
                return []
            case WsClosed(conn=conn) | WsRejected(conn=conn) if conn == self.conn:
                self.open = False
                self.conn = None
                return [Note("disconnected"), self.cancel_timer("send"), *self._backoff(now)]
            case TimerFired(key="reconnect"):
                return self._connect()
            case TimerFired(key="send") if self.open and self.conn is not None:
                self.sent += 1
                return [Send(self.conn, {"n": self.sent}), self.set_timer("send", now + SEND_EVERY)]
        return []

    def statistics(self) -> dict:
        return {**super().statistics(), "open": self.open, "sent": self.sent,
                "received": self.received, "attempts": self.attempts}
