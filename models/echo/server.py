"""An echo server: accepts every upgrade and sends each message back."""

from __future__ import annotations

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import (
    AcceptConnection,
    ConnectRequested,
    Effect,
    Input,
    Send,
    WsMessage,
)
from gatewaysim.simulator.node import Node


class EchoServer(Node):
    def __init__(self, ctx) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ctx)
        self.echoed = 0

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case ConnectRequested(conn=conn):
                return [AcceptConnection(conn)]
            case WsMessage(conn=conn, data=data):
                self.echoed += 1
                return [Send(conn, data)]
        return []

    def statistics(self) -> dict:
        return {**super().statistics(), "echoed": self.echoed}
