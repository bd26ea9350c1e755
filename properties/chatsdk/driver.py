"""The chat SDK pack's driver: one browser, the API and Centrifugo, and what can go wrong.

Faults come in swarm groups: a dropped WebSocket, a partition, a lossy link, a slow link,
airplane mode, the auth service down, a crashed API or Centrifugo, a rate limit, and a
signing-key rotation (the API refuses tokens the client still believes valid). The user
sends messages and starts an upload. Every step is a no-op where it does not apply.
"""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen
from hypothesis import strategies as st

from gatewaysim.models.chatsdk.api import Breaker
from gatewaysim.models.chatsdk.centrifuge import Lib
from gatewaysim.models.chatsdk.config import ChatConfig
from gatewaysim.models.chatsdk.protocol import API, REALTIME
from gatewaysim.models.chatsdk.world import ChatWorld
from gatewaysim.simulator import clock
from gatewaysim.simulator.clock import Time, s
from gatewaysim.simulator.world import World

from ..driver import Driver
from ..steps import step

BOOT: Time = s(1)
TYPING_EVERY: Time = s(20)
ADVANCE = st.one_of(st.integers(min_value=1, max_value=2_000),
                    st.integers(min_value=1, max_value=120).map(lambda n: n * 1_000),
                    st.integers(min_value=1, max_value=10).map(lambda n: n * 60_000))
"""Milliseconds (races), whole seconds (outages, backoff) or whole minutes (token
lifetimes: tokens live six minutes and refresh every minute)."""


@frozen
class ChatStatistics:
    """What the chat SDK monitors judge from, taken after a step."""

    state: str
    """The connection manager's state (``CONNECTED``, ``RECONNECTING``...)."""
    library: str
    """centrifuge-js's own state (``connected``, ``connecting``, ``disconnected``)."""
    recovering: bool
    """The library is re-establishing a connection it lost (not a first or user connect)."""
    connected: bool
    """The browser holds a Centrifugo connection that the server holds too."""
    attempts: int
    """Failed connect attempts since the last success (the library's counter)."""
    logouts: int
    """Times the app logged the user out because a refresh token was refused."""
    breaker: str
    """The circuit breaker's state."""
    queue: int
    """Messages in the outbox (created, not yet reported sent)."""
    logged_in: bool


class ChatDriver(Driver):
    settle_bound: ClassVar[Time] = s(90)
    model_config: ChatConfig

    def setup(self) -> World:
        self.chat = ChatWorld(self.model_config, self.seed, self.trace)
        # Boot: the app signs in and connects before the first step, so faults land on a
        # working client rather than all on the first millisecond.
        self.chat.run_for(BOOT)
        self.typing = True
        self.chat.world.schedule(self.chat.now + TYPING_EVERY, self._type)
        return self.chat.world

    def _type(self, _: object) -> None:
        """Background chat: the user writes a message every ``TYPING_EVERY`` until faults
        stop, so every run has traffic for the faults to hit."""
        if not self.typing:
            return
        self.chat.send_message()
        self.chat.world.schedule(self.chat.now + TYPING_EVERY, self._type)

    def statistics(self) -> ChatStatistics:
        client = self.chat.client
        lib = client.manager.lib
        return ChatStatistics(
            state=client.manager.state.value, library=lib.state.value,
            recovering=lib.state == Lib.CONNECTING and lib.lost,
            connected=self.chat.connected(), attempts=lib.attempts, logouts=client.logouts,
            breaker=client.api.breaker.state.value, queue=len(client.api.queue),
            logged_in=client.logged_in)

    def _where(self) -> str:
        return self.chat.client.manager.state.value.lower()

    # ------------------------------------------------------------------ time and the user
    @step(time_arg="ms", ms=ADVANCE)
    def advance(self, ms: int) -> None:
        """Let virtual time pass: milliseconds (races) or whole seconds up to two minutes
        (outages, token lifetimes)."""
        self.world.run_for(clock.ms(ms))

    @step()
    def send_message(self) -> None:
        """The user sends the next chat message."""
        if self.chat.offline:
            self.cover("message typed offline")
        self.chat.send_message()

    @step()
    def start_upload(self) -> None:
        """The user attaches a file (once per run)."""
        if not self.chat.client.api.uploads:
            self.chat.start_upload("file1")

    # ------------------------------------------------------------------ network faults
    @step(fault="drop")
    def drop_ws(self) -> None:
        """Break the WebSocket; both ends see 1006."""
        where = self._where()
        if self.chat.drop_ws():
            self.cover(f"ws dropped while {where}")

    @step(fault="partition")
    def partition(self) -> None:
        if not self.chat.partitioned:
            self.cover(f"partition while {self._where()}")
            self.chat.partition()

    @step(fault="partition")
    def heal_partition(self) -> None:
        if self.chat.partitioned:
            self.chat.heal_partition()

    @step(fault="loss", loss=st.sampled_from([0.2, 0.5]))
    def lossy(self, loss: float) -> None:
        if self.chat.loss != loss:
            self.cover(f"{int(loss * 100)} % loss")
            self.chat.set_loss(loss)

    @step(fault="loss")
    def lossless(self) -> None:
        if self.chat.loss:
            self.chat.set_loss(0.0)

    @step(fault="latency", one_way_ms=st.sampled_from([100, 250, 500]))
    def slow(self, one_way_ms: int) -> None:
        if self.chat.one_way != clock.ms(one_way_ms):
            self.cover(f"{one_way_ms} ms one way")
            self.chat.set_latency(clock.ms(one_way_ms))

    @step(fault="latency")
    def fast(self) -> None:
        if self.chat.one_way != self.model_config.latency:
            self.chat.set_latency(self.model_config.latency)

    @step(fault="offline", typed=st.integers(min_value=0, max_value=2))
    def go_offline(self, typed: int) -> None:
        """Airplane mode; the user then types ``typed`` messages (the document's scenario 6)."""
        if not self.chat.offline:
            self.cover(f"offline while {self._where()}")
            self.chat.go_offline()
            for _ in range(typed):
                self.cover("message typed offline")
                self.chat.send_message()

    @step(fault="offline")
    def go_online(self) -> None:
        if self.chat.offline:
            self.chat.go_online()

    # ------------------------------------------------------------------ server faults
    @step(fault="auth")
    def auth_down(self) -> None:
        if self.chat.auth_up:
            self.cover("auth service down")
            self.chat.set_auth(False)

    @step(fault="auth")
    def auth_up(self) -> None:
        if not self.chat.auth_up:
            self.chat.set_auth(True)

    @step(fault="crash", host=st.sampled_from([API, REALTIME]))
    def crash(self, host: str) -> None:
        if self.world.host_up(host):
            self.cover(f"{host} crashed while {self._where()}")
            self.chat.crash(host)

    @step(fault="crash", host=st.sampled_from([API, REALTIME]))
    def restart(self, host: str) -> None:
        if not self.world.host_up(host):
            self.chat.restart(host)

    @step(fault="rate_limit", requests=st.integers(min_value=1, max_value=12))
    def rate_limit(self, requests: int) -> None:
        self.cover("rate limited")
        self.world.rate_limit(API, requests, s(1))

    @step(fault="revoke")
    def rotate_key(self) -> None:
        """The API stops accepting every access token issued so far."""
        if self.world.host_up(API):
            self.cover("signing key rotated")
            self.chat.rotate_signing_key()

    # ------------------------------------------------------------------ settling
    def heal_faults(self) -> None:
        self.typing = False
        chat = self.chat
        if chat.partitioned:
            chat.heal_partition()
        if chat.loss:
            chat.set_loss(0.0)
        if chat.one_way != self.model_config.latency:
            chat.set_latency(self.model_config.latency)
        if chat.offline:
            chat.go_online()
        for host in (API, REALTIME):
            if not self.world.host_up(host):
                chat.restart(host)
        if not chat.auth_up:
            chat.set_auth(True)
        if API in self.world.network.rate_limits:
            self.world.rate_limit(API, 0, 0)
        if self.chat.client.api.breaker.state != Breaker.CLOSED:
            self.cover("settled with the breaker not closed")


__all__ = ["ChatDriver", "ChatStatistics"]
