"""Echo variants with planted bugs, for testing the explorer and its failure files.

Each is a small, plausible mistake of the kind real clients and servers ship, so that
exploration has something true to find and shrink:

* :class:`GiveUpClient`: the backoff counter is never reset when a socket opens, and the
  client stops reconnecting after ``give_up_after`` attempts, counted over its whole life
  rather than per outage. Enough separate outages and it never comes back (a liveness bug).
* :class:`DuplicatingServer`: after a restart it echoes the first message of each
  connection twice, as a naive "resend what may have been lost" recovery would (a safety
  bug: the client sees a duplicate).
"""

from __future__ import annotations

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import Effect, Input, Note, Send, WsMessage, WsOpened
from gatewaysim.simulator.node import HostContext

from .client import EchoClient
from .server import EchoServer


class GiveUpClient(EchoClient):
    def __init__(self, ctx: HostContext, server: str = "echo", give_up_after: int = 3) -> None:
        super().__init__(ctx, server)
        self.give_up_after = give_up_after

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        attempts = self.attempts
        effects = super().on_input(now, inp)
        if type(inp) is WsOpened:
            self.attempts = attempts  # the bug: a successful open does not reset the counter
        return effects

    def _backoff(self, now: Time) -> list[Effect]:
        if self.attempts >= self.give_up_after:
            return [Note("reconnect.given_up", {"attempts": self.attempts})]
        return super()._backoff(now)


class DuplicatingServer(EchoServer):
    def __init__(self, ctx: HostContext) -> None:
        super().__init__(ctx)
        self._answered: set[str] = set()

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        effects = super().on_input(now, inp)
        if type(inp) is WsMessage and self.ctx.incarnation > 0 and inp.conn not in self._answered:
            self._answered.add(inp.conn)
            effects = [*effects, Send(inp.conn, inp.data)]  # the bug: a second copy
        return effects


__all__ = ["DuplicatingServer", "GiveUpClient"]
