"""centrifuge-js's client as it reconnects, and the document's ``ConnectionManager`` on top.

What the library does (read from centrifuge-js ``src/centrifuge.ts`` and ``src/utils.ts``):

* Three states: disconnected, connecting, connected. A lost transport moves *connected* to
  *connecting* and emits ``connecting``; failed attempts while already connecting emit
  nothing (``_setState`` returns false for the same state).
* The delay before each attempt is ``backoff(attempt, minReconnectDelay, maxReconnectDelay)``
  = ``min(max, min + randInt(0, min(max, min * 2^attempt)))``: full jitter with a floor.
  The attempt counter resets on a successful connect. There is **no** ``getReconnectDelay``
  option: the library's ``Options`` has none and nothing reads it, so the document's
  callback is never called, its ``reconnectAttempts`` stays 0, the manager never shows
  RECONNECTING and never reaches FAILED, and the library retries forever.
* ``getToken`` is called only when the client holds no token or the server said it expired
  (connect error 109 sets ``_refreshRequired``); otherwise a reconnect sends the cached token.
* ``offline`` closes the transport and keeps connecting; ``online`` cancels the pending
  delay and reconnects at once.
* The server pings every 25 s; silence for ping + ``maxServerPingDelay`` closes the
  transport (3012) and reconnects. A token with ``expires`` is refreshed in-band at ``ttl``;
  a failed in-band refresh is retried after 5-10 s.

Fix ``intended_reconnect_policy`` gives the manager the policy the document meant, and fix
``token_per_connect`` asks the token manager before every attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from gatewaysim.simulator.clock import SECOND, Time, s
from gatewaysim.simulator.messages import CloseConnection, OpenConnection, Send

from .config import ChatConfig
from .protocol import (
    CLOSE_NO_PING,
    CODE_TRANSPORT_CLOSED,
    REALTIME,
    TOKEN_EXPIRED_ERROR,
    ConnectionState,
)
from .runtime import Effects, Runtime
from .tokens import TokenManager

RECONNECT_TIMER = "rt.reconnect"
PING_TIMER = "rt.ping"
INBAND_TIMER = "rt.refresh"
CONNECT_TIMEOUT_TIMER = "rt.connect_timeout"
COMMAND_TIMEOUT = s(5)  # centrifuge-js ``timeout``


class Lib(Enum):
    """centrifuge-js ``State``."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"


class ManagerEvent(Enum):
    """What the manager hears: the library's events, as the manager classifies them."""

    CONNECTING = "connecting"
    RECONNECTING = "reconnecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    GIVE_UP = "give_up"


# Theory of operation: the manager mirrors the library's events into the document's five
# states. The library says "connecting" on the first connect and on every lost connection;
# whether the manager calls that CONNECTING or RECONNECTING is the manager's classification
# (faithful: RECONNECTING only if reconnectAttempts > 0, which never happens; fixed: a lost
# connection or a retry from FAILED is RECONNECTING). GIVE_UP exists only under the fixed
# policy. ``setState`` notifies even when the state does not change, hence the self-loops.
# The manager's state follows the library's: library disconnected <-> DISCONNECTED or FAILED,
# connecting <-> CONNECTING or RECONNECTING, connected <-> CONNECTED; so a pair missing here
# (CONNECTED then CONNECTED, FAILED then CONNECTED) cannot occur, UNREACHABLE says why for
# each, and one arriving is a model bug (TransitionError).
S, E = ConnectionState, ManagerEvent
TRANSITIONS: dict[tuple[ConnectionState, ManagerEvent], ConnectionState] = {
    (S.DISCONNECTED, E.CONNECTING): S.CONNECTING,
    (S.DISCONNECTED, E.RECONNECTING): S.RECONNECTING,
    (S.DISCONNECTED, E.DISCONNECTED): S.DISCONNECTED,
    (S.CONNECTING, E.CONNECTING): S.CONNECTING,
    (S.CONNECTING, E.RECONNECTING): S.RECONNECTING,
    (S.CONNECTING, E.CONNECTED): S.CONNECTED,
    (S.CONNECTING, E.DISCONNECTED): S.DISCONNECTED,
    (S.CONNECTING, E.GIVE_UP): S.FAILED,
    (S.CONNECTED, E.CONNECTING): S.CONNECTING,
    (S.CONNECTED, E.RECONNECTING): S.RECONNECTING,
    (S.CONNECTED, E.DISCONNECTED): S.DISCONNECTED,
    (S.RECONNECTING, E.RECONNECTING): S.RECONNECTING,
    (S.RECONNECTING, E.CONNECTED): S.CONNECTED,
    (S.RECONNECTING, E.DISCONNECTED): S.DISCONNECTED,
    (S.RECONNECTING, E.GIVE_UP): S.FAILED,
    (S.FAILED, E.RECONNECTING): S.RECONNECTING,
    (S.FAILED, E.DISCONNECTED): S.DISCONNECTED,
}
_CONNECTED_ONLY_FROM_CONNECTING = (
    "the library emits connected only as it goes from connecting to connected (the connect "
    "reply on its current socket), when the manager is CONNECTING or RECONNECTING")
_GIVE_UP_ONLY_FROM_CONNECTING = (
    "the library gives up only in _schedule_reconnect, which acts only while it is "
    "connecting, when the manager is CONNECTING or RECONNECTING")
UNREACHABLE: dict[tuple[ConnectionState, ManagerEvent], str] = {
    (S.DISCONNECTED, E.CONNECTED): _CONNECTED_ONLY_FROM_CONNECTING,
    (S.CONNECTED, E.CONNECTED): _CONNECTED_ONLY_FROM_CONNECTING,
    (S.FAILED, E.CONNECTED): _CONNECTED_ONLY_FROM_CONNECTING,
    (S.DISCONNECTED, E.GIVE_UP): _GIVE_UP_ONLY_FROM_CONNECTING,
    (S.CONNECTED, E.GIVE_UP): _GIVE_UP_ONLY_FROM_CONNECTING,
    (S.FAILED, E.GIVE_UP): _GIVE_UP_ONLY_FROM_CONNECTING,
    (S.RECONNECTING, E.CONNECTING):
        "the library says connecting only as it leaves disconnected or connected, so never "
        "while the manager is RECONNECTING (which faithful never reaches at all)",
    (S.FAILED, E.CONNECTING):
        "FAILED exists only under the fixed policy, which classifies a connecting heard in "
        "FAILED (retry_from_failed) as RECONNECTING",
}
"""The manager's pairs with no row on purpose: (state, event) -> why it never meets them."""
del S, E


class TransitionError(RuntimeError):
    """The manager got an event its table has no row for."""


def full_jitter_backoff(rng: Any, attempt: int, lo: Time, hi: Time) -> Time:
    """centrifuge-js ``backoff(step, min, max)``, in microseconds."""
    step = min(attempt, 31)
    interval = rng.randint(0, min(hi, lo * 2 ** step))
    return min(hi, lo + interval)


class Centrifuge:
    """The library's client: transport, connect command, backoff, pings, in-band refresh."""

    def __init__(self, rt: Runtime, config: ChatConfig, tokens: TokenManager, rng: Any,
                 emit: Callable[[Time, str, int], Effects]) -> None:
        self.rt = rt
        self.config = config
        self.tokens = tokens
        self.rng = rng
        self.emit = emit  # (now, event, code): "connecting" | "connected" | "disconnected"
        self.state = Lib.DISCONNECTED
        self.token = ""
        self.refresh_required = False
        self.attempts = 0
        self.conn: str | None = None
        self.transport_closed = True
        self.reconnecting = False
        self.went_offline = False
        self.client_id: str | None = None
        self.ever_connected = False
        self.lost = False  # a connection was lost and not re-established (nor given up by
        # the user): what the manager should show as RECONNECTING (or FAILED)
        self.attempts_started = 0  # transports opened, over the client's life
        self._n = 0
        self._cmd = 0
        self._gen = 0  # bumps on every state change: stale token callbacks are ignored
        self.give_up: Callable[[Time], Effects] | None = None  # set by the fixed manager

    # ------------------------------------------------------------------ public API
    def connect(self, now: Time) -> Effects:
        if self.state != Lib.DISCONNECTED:
            return []
        effects = self._set(Lib.CONNECTING)
        effects += self.emit(now, "connecting", 0)
        return [*effects, *self._start_reconnecting(now)]

    def disconnect(self, now: Time) -> Effects:
        self.lost = False
        return self._disconnect(now, 0, "disconnect called", reconnect=False)

    def offline(self, now: Time) -> Effects:
        if self.state in (Lib.CONNECTED, Lib.CONNECTING):
            effects = self._disconnect(now, CODE_TRANSPORT_CLOSED, "transport closed",
                                       reconnect=True)
            self.went_offline = True
            return effects
        return []

    def online(self, now: Time) -> Effects:
        if self.state != Lib.CONNECTING:
            return []
        if self.went_offline and not self.transport_closed:
            self.went_offline = False
            self.transport_closed = True
        return [*self.rt.cancel(RECONNECT_TIMER), *self._start_reconnecting(now)]

    # ------------------------------------------------------------------ reconnecting
    def _set(self, state: Lib) -> Effects:
        if state == self.state:
            return []
        self.state = state
        self._gen += 1
        return [self.rt.note("rt.state", state=state.value, attempts=self.attempts)]

    def _delay(self, now: Time) -> Time | None:
        """``_getReconnectDelay``: the library's backoff, or the intended policy (fixed)."""
        cfg = self.config
        if cfg.fixed("intended_reconnect_policy"):
            if self.attempts >= cfg.max_reconnect_attempts:
                return None
            delay = min(cfg.min_reconnect_delay * 2 ** min(self.attempts, 31),
                         cfg.max_reconnect_delay)
        else:
            delay = full_jitter_backoff(self.rng, self.attempts, cfg.min_reconnect_delay,
                                        cfg.max_reconnect_delay)
        self.attempts += 1
        return delay

    def _schedule_reconnect(self, now: Time) -> Effects:
        if self.state != Lib.CONNECTING:
            return []
        delay = self._delay(now)
        if delay is None:
            effects = self._disconnect(now, 0, "gave up", reconnect=False, emit=False)
            return [*effects, *(self.give_up(now) if self.give_up else [])]
        return [self.rt.note("rt.reconnect_scheduled", delay=delay, attempt=self.attempts),
                *self.rt.after(RECONNECT_TIMER, now + delay, self._start_reconnecting)]

    def _start_reconnecting(self, now: Time) -> Effects:
        if self.state != Lib.CONNECTING or self.reconnecting or not self.transport_closed:
            return []
        self.reconnecting = True
        need = (self.refresh_required or self.token == ""
                or self.config.fixed("token_per_connect"))
        if not need:
            return self._open(now)
        gen = self._gen
        return self.tokens.get_valid_token(
            now, lambda t, token, error: self._got_token(t, gen, token, error))

    def _got_token(self, now: Time, gen: int, token: str | None, error: str | None) -> Effects:
        if self.state != Lib.CONNECTING or gen != self._gen:
            return []
        if token is None:
            self.reconnecting = False
            return [self.rt.note("rt.token_error", error=error),
                    *self._schedule_reconnect(now)]
        self.token = token
        return self._open(now)

    def _open(self, now: Time) -> Effects:
        self._n += 1
        self.attempts_started += 1
        self.conn = f"{self.rt.node.address}:ws{self._n}"
        self.transport_closed = False
        return [OpenConnection(self.conn, REALTIME)]

    def _disconnect(self, now: Time, code: int, reason: str, reconnect: bool,
                    emit: bool = True) -> Effects:
        if self.state == Lib.DISCONNECTED:
            return []
        previous = self.state
        self.reconnecting = False
        effects = self._set(Lib.CONNECTING if reconnect else Lib.DISCONNECTED)
        if previous == Lib.CONNECTING:
            effects += self.rt.cancel(RECONNECT_TIMER)
        if previous == Lib.CONNECTED:
            effects += [*self.rt.cancel(PING_TIMER), *self.rt.cancel(INBAND_TIMER)]
            self.client_id = None
            self.lost = reconnect
        effects += self.rt.cancel(CONNECT_TIMEOUT_TIMER)
        if emit and self.state != previous:
            effects += self.emit(now, "connecting" if reconnect else "disconnected", code)
        if self.conn is not None and not self.transport_closed:
            effects.append(CloseConnection(self.conn, 1000, reason))
            self.transport_closed = True
            self.conn = None
        return [*effects, *self._schedule_reconnect(now)]

    # ------------------------------------------------------------------ transport events
    def opened(self, now: Time, conn: str) -> Effects:
        if conn != self.conn:
            return []
        self._cmd += 1
        return [Send(conn, {"id": self._cmd, "connect": {"token": self.token}}),
                *self.rt.after(CONNECT_TIMEOUT_TIMER, now + COMMAND_TIMEOUT,
                               lambda t: self._disconnect(t, 3, "connect timeout", True))]

    def closed(self, now: Time, conn: str, code: int) -> Effects:
        if conn != self.conn:
            return []
        self.transport_closed = True
        self.conn = None
        reconnect = not (3500 <= code < 4000 or 4500 <= code < 5000)
        if self.state == Lib.CONNECTING:  # an attempt failed: back off again
            self.reconnecting = False
            return [*self.rt.cancel(CONNECT_TIMEOUT_TIMER),
                    *(self._schedule_reconnect(now) if reconnect else
                      self._disconnect(now, code, "terminal", reconnect=False))]
        return self._disconnect(now, code, "transport closed", reconnect)

    def message(self, now: Time, conn: str, data: Any) -> Effects:
        if conn != self.conn or not isinstance(data, dict):
            return []
        effects: Effects = []
        if self.state == Lib.CONNECTED:
            effects += self._arm_ping(now)
        if "connect" in data:
            return [*effects, *self._connect_reply(now, data["connect"])]
        if data.get("error") is not None and data.get("of") == "connect":
            return [*effects, *self._connect_error(now, data["error"])]
        if "ping" in data:
            return [*effects, Send(conn, {"pong": True})]
        if "refresh" in data:
            return [*effects, *self._schedule_inband(now, data["refresh"])]
        if data.get("error") is not None and data.get("of") == "refresh":
            return [*effects, *self._inband_retry(now)]
        return effects

    def _connect_reply(self, now: Time, result: dict) -> Effects:
        self.attempts = 0
        self.refresh_required = False
        if self.state == Lib.CONNECTED:
            return []
        self.client_id = result.get("client")
        self.lost = False
        effects = [*self.rt.cancel(CONNECT_TIMEOUT_TIMER), *self._set(Lib.CONNECTED)]
        self.ever_connected = True
        effects += self._arm_ping(now)
        effects += self._schedule_inband(now, result)
        return [*effects, *self.emit(now, "connected", 0)]

    def _connect_error(self, now: Time, error: dict) -> Effects:
        if self.state != Lib.CONNECTING:
            return []
        code = error.get("code", 0)
        if code == TOKEN_EXPIRED_ERROR:
            self.refresh_required = True
        reconnect = code < 100 or code == TOKEN_EXPIRED_ERROR or bool(error.get("temporary"))
        if not reconnect:
            return self._disconnect(now, code, error.get("message", ""), reconnect=False)
        # "closing transport due to connect error": stays connecting, backs off again
        effects: Effects = self.rt.cancel(CONNECT_TIMEOUT_TIMER)
        if self.conn is not None:
            effects.append(CloseConnection(self.conn, 1000, "connect error"))
        self.conn = None
        self.transport_closed = True
        self.reconnecting = False
        return [*effects, *self._schedule_reconnect(now)]

    def _arm_ping(self, now: Time) -> Effects:
        cfg = self.config
        return self.rt.after(PING_TIMER, now + cfg.server_ping_interval + cfg.max_server_ping_delay,
                             lambda t: self._disconnect(t, CLOSE_NO_PING, "no ping", True))

    # ------------------------------------------------------------------ in-band refresh
    def _schedule_inband(self, now: Time, result: dict) -> Effects:
        if not result.get("expires"):
            return []
        ttl = int(result.get("ttl", 0)) * SECOND
        return self.rt.after(INBAND_TIMER, now + ttl, self._refresh)

    def _refresh(self, now: Time) -> Effects:
        client = self.client_id

        def done(t: Time, token: str | None, error: str | None) -> Effects:
            if client != self.client_id or self.state != Lib.CONNECTED:
                return []
            if token is None:
                return self._inband_retry(t)
            self.token = token
            if self.conn is None:
                return []
            self._cmd += 1
            return [Send(self.conn, {"id": self._cmd, "refresh": {"token": token}})]

        return self.tokens.get_valid_token(now, done)

    def _inband_retry(self, now: Time) -> Effects:
        cfg = self.config
        delay = self.rng.randint(cfg.refresh_retry_delay_lo, cfg.refresh_retry_delay_hi)
        return self.rt.after(INBAND_TIMER, now + delay, self._refresh)

    def __repr__(self) -> str:
        return f"Centrifuge({self.state.value}, attempts={self.attempts}, conn={self.conn!r})"


class ConnectionManager:
    """The document's ``ConnectionManager``: the library's events as five states."""

    def __init__(self, rt: Runtime, config: ChatConfig, tokens: TokenManager, rng: Any) -> None:
        self.rt = rt
        self.config = config
        self.intended = config.fixed("intended_reconnect_policy")
        self.state = ConnectionState.DISCONNECTED
        self.reconnect_attempts = 0  # written only by getReconnectDelay, never called
        self.lib = Centrifuge(rt, config, tokens, rng, self._on_library)
        if self.intended:
            self.lib.give_up = self._give_up

    def connect(self, now: Time) -> Effects:
        return self.lib.connect(now)

    def disconnect(self, now: Time) -> Effects:
        effects = self.lib.disconnect(now)
        return [*effects, *self._event(ManagerEvent.DISCONNECTED)]

    def retry_from_failed(self, now: Time) -> Effects:
        """Fixed policy: FAILED is left when the network shows signs of life."""
        if self.state != ConnectionState.FAILED:
            return []
        return self.lib.connect(now)

    def _on_library(self, now: Time, event: str, code: int) -> Effects:
        if event == "connected":
            self.reconnect_attempts = 0
            return self._event(ManagerEvent.CONNECTED)
        if event == "disconnected":
            return self._event(ManagerEvent.DISCONNECTED)
        if self.intended:
            lost = self.state in (ConnectionState.CONNECTED, ConnectionState.FAILED,
                                  ConnectionState.RECONNECTING)
            return self._event(ManagerEvent.RECONNECTING if lost else ManagerEvent.CONNECTING)
        return self._event(ManagerEvent.RECONNECTING if self.reconnect_attempts > 0
                           else ManagerEvent.CONNECTING)

    def _give_up(self, now: Time) -> Effects:
        return self._event(ManagerEvent.GIVE_UP)

    def _event(self, event: ManagerEvent) -> Effects:
        new = TRANSITIONS.get((self.state, event))
        if new is None:
            raise TransitionError(f"connection manager: no transition from "
                                  f"{self.state.value} on {event.value}")
        old, self.state = self.state, new
        if new == old:
            return []
        return [self.rt.note("conn.state", to=new.value, previous=old.value,
                             attempts=self.lib.attempts)]

    def __repr__(self) -> str:
        return f"ConnectionManager({self.state.value}, {self.lib!r})"


__all__ = ["TRANSITIONS", "UNREACHABLE", "Centrifuge", "ConnectionManager", "Lib",
           "ManagerEvent", "TransitionError", "full_jitter_backoff"]
