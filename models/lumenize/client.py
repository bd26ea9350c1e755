"""``LumenizeClient``: the browser-side client of Lumenize Mesh (``lumenize-mesh.md`` section 2).

The client is a sans-IO node. The real client's ``async`` flows (``connectInternal``
awaiting a token refresh and the 50 ms tab-id probe) become *attempts*: small records
waiting on an HTTP exchange and a timer, resumed by the inputs that finish them. Several
attempts may be under way at once, as in the real client (``reconnectNow`` during an
awaited refresh), and an attempt is never cancelled: ``disconnect()`` during an awaited
refresh does not stop the socket being created afterwards (section 6, inferred).

State changes go through the table in :mod:`gatewaysim.models.lumenize.client_table`; bookkeeping
that does not depend on the state (calls, heartbeats, refresh exchanges) is handled here.

Everything the real code gets wrong is kept, and each fix flag or mutant of
:mod:`gatewaysim.models.lumenize.config` is tested in the one place the behaviour differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attrs import define, field, frozen

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import (
    CloseConnection,
    Effect,
    HttpFailed,
    HttpRequest,
    HttpResponse,
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

from . import client_table as table
from . import protocol
from .backoff import reconnect_delay
from .config import LumenizeConfig
from .protocol import (
    ClearAccessToken,
    ClientCall,
    ClientConnect,
    ClientDisconnect,
    WakeUp,
)

# Error messages the client itself produces (section 2.4 / 2.5).
QUEUE_FULL = "Message queue full"
QUEUED_CALL_TIMED_OUT = "Call timed out while waiting for connection"
CLIENT_DISCONNECTED = "Client disconnected"
REFRESH_EXPIRED = "Refresh token expired or invalid"
#: Fix ``reject_calls_on_socket_close``: the message a stranded call is rejected with.
#: Not in the real code (it never rejects them); chosen here.
SOCKET_CLOSED_BEFORE_ANSWER = "WebSocket closed before the call was answered"
REFRESH_PATH = "/auth/refresh-token"
DISCONNECT_REASON = "Client disconnect"

WAKE_KINDS = {"online": table.WAKE_ONLINE, "visible": table.WAKE_VISIBLE,
              "focus": table.WAKE_VISIBLE}

# Client-side readyState of a socket, as the browser's WebSocket shows it.
CONNECTING, OPEN, CLOSING, CLOSED = "CONNECTING", "OPEN", "CLOSING", "CLOSED"

# Refresh waiters that are not connect attempts.
REAUTH = "reauth"  # the 4401 path

RECONNECT_TIMER = "reconnect"
HEARTBEAT_TIMER = "heartbeat"


@define
class Socket:
    """One WebSocket the client created; ``attached`` is false once handlers are detached."""

    conn: str
    ready: str = CONNECTING
    attached: bool = True

    def __repr__(self) -> str:
        return f"Socket({self.conn!r}, {self.ready})"


@define
class PendingCall:
    """An entry of the real client's pending map. ``settled`` entries are leaks (queue full)."""

    call_id: str
    tag: str
    method: str
    sent_on: str | None = None
    settled: bool = False

    def __repr__(self) -> str:
        return f"PendingCall({self.call_id!r}, {self.method!r}, sent_on={self.sent_on!r})"


@define
class QueuedCall:
    call_id: str
    frame: dict

    def __repr__(self) -> str:
        return f"QueuedCall({self.call_id!r})"


@define
class Refresh:
    """One ``refreshToken()`` HTTP exchange and who awaits it (attempt numbers or REAUTH)."""

    req: str
    reason: str
    waiters: list[int | str] = field(factory=list)

    def __repr__(self) -> str:
        return f"Refresh({self.req!r}, {self.reason!r}, waiters={self.waiters!r})"


@define
class Attempt:
    """A ``connectInternal()`` suspended on its awaits (section 2.3)."""

    number: int
    refresh: str | None = None  # the exchange it awaits
    probing: bool = False  # the tab-id probe timer is running

    def __repr__(self) -> str:
        return f"Attempt({self.number}, refresh={self.refresh!r}, probing={self.probing})"


@frozen
class RefreshResult:
    """How one refresh ended, as ``refreshToken()`` resolves or rejects (section 2.3)."""

    ok: bool
    status: int | None = None
    error: str | None = None
    login_required: bool = False


class LumenizeClient(Node):
    """The faithful ``LumenizeClient`` (section 2), with its client-side fix flags and mutants."""

    def __init__(
        self,
        ctx: HostContext,
        config: LumenizeConfig,
        *,
        refresh_token: str,
        tab_id: str,
        binding: str = protocol.DEFAULT_BINDING,
        origin: str = "https://app.lumenize.local",
        subscribe_to: tuple[str, ...] = ("doc/main",),
        auto_connect: bool = True,
        tab_id_stored: bool = False,
    ) -> None:
        super().__init__(ctx)
        self.config = config
        self.refresh_token = refresh_token
        self.tab_id = tab_id
        self.binding = binding
        self.origin = origin
        self.subscribe_to = tuple(subscribe_to)
        self.auto_connect = auto_connect
        # sessionStorage already holds the tab id (a reloaded or duplicated tab): the first
        # connect then runs the 50 ms BroadcastChannel probe; a fresh tab stores one at once.
        self.tab_id_stored = tab_id_stored

        self.state = table.DISCONNECTED
        self.access_token: str | None = None
        self.claims: dict[str, Any] | None = None
        self.instance_name: str | None = None
        self.attempts = 0
        self.reauth_forced = False  # section 2.2 step 1, once per cycle
        self.upgrade_401_retried = False  # fix rejected_upgrade_terminal, once per cycle

        self.conn: str | None = None  # this.ws
        self.sockets: dict[str, Socket] = {}
        self.pending: dict[str, PendingCall] = {}
        self.queue: list[QueuedCall] = []
        self.refreshes: dict[str, Refresh] = {}
        self.shared_refresh: str | None = None  # ensureFreshToken's in-flight promise
        self.connect_attempts: dict[int, Attempt] = {}

        self.doc_content: Any = None
        self.doc_version: Any = None
        self.subscribed: set[str] = set()
        self.resubscribe_owed: set[str] = set()
        """Fix resubscribe_until_done: documents told subscriptionRequired and not yet
        resubscribed to."""
        self.login_required = 0
        self.connects = 0
        self._n_ws = 0
        self._n_call = 0
        self._n_req = 0
        self._n_attempt = 0

    # ------------------------------------------------------------------ dispatch
    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case Start():
                return self.fire(now, table.CONNECT) if self.auto_connect else []
            case ClientConnect():
                return self.fire(now, table.CONNECT)
            case ClientDisconnect():
                return self.fire(now, table.DISCONNECT)
            case WakeUp(kind=kind):
                if kind not in WAKE_KINDS:
                    raise ValueError(f"unknown wake-up {kind!r} (known: online, visible, focus)")
                return [] if self._stays_down() else self.fire(now, WAKE_KINDS[kind])
            case ClearAccessToken():
                self.access_token = None
                self.claims = None
                return []
            case ClientCall():
                return self._call(now, inp)
            case WsOpened(conn=conn):
                return self._socket_opened(now, conn)
            case WsMessage(conn=conn, data=data):
                return self._socket_message(now, conn, data)
            case WsClosed(conn=conn, code=code, reason=reason, clean=clean):
                return self._socket_closed(now, conn, code, reason, clean)
            case WsRejected(conn=conn, status=status, reason=reason):
                return self._socket_rejected(now, conn, status, reason)
            case HttpResponse(req=req) | HttpFailed(req=req) if req in self.refreshes:
                return self._refresh_finished(now, req, inp)
            case TimerFired(key=key):
                return self._timer(now, key)
        return []

    def fire(self, now: Time, event: str, **data: Any) -> list[Effect]:
        """Apply the table row for ``(self.state, event)``: enter its state, run its handler."""
        row = table.lookup(self.state, event)
        effects: list[Effect] = []
        if row.to is not None:
            effects += self._set_state(row.to)
        effects += getattr(self, row.handler)(now, **data)
        return effects

    def _set_state(self, to: str) -> list[Effect]:
        if to == self.state:
            return []
        old, self.state = self.state, to
        return [Note("state", {"from": old, "to": to})]

    def _timer(self, now: Time, key: str) -> list[Effect]:
        if key == RECONNECT_TIMER:
            return self.fire(now, table.RECONNECT_TIMER)
        if key == HEARTBEAT_TIMER:
            return self._heartbeat(now)
        kind, _, arg = key.partition(":")
        if kind == "tab_probe":
            return self._probe_done(now, int(arg))
        if kind == "queued":
            return self._queued_timeout(arg)
        return []

    # ------------------------------------------------------------------ table handlers
    def _ignore(self, now: Time, **_: Any) -> list[Effect]:
        return []

    def _on_connect(self, now: Time, **_: Any) -> list[Effect]:
        # Section 2.1: clear the timer and run connectInternal; attempts are not reset.
        return [*self._cancel(RECONNECT_TIMER), *self._connect_internal(now)]

    def _on_socket_open(self, now: Time, conn: str, **_: Any) -> list[Effect]:
        # Section 2.1 "socket open": attempts=0, the re-auth cycle re-armed, heartbeat on.
        # onopen is not guarded, so an old socket opening does this too (inferred).
        if not self.config.mutant("backoff_never_reset"):  # section 2.2: reset on open
            self.attempts = 0
        self.reauth_forced = False
        self.upgrade_401_retried = False
        effects = self._start_heartbeat(now)
        if self.config.mutant("queue_flushed_twice"):
            # Mutant: send the queue on open without emptying it; connection_status
            # flushes (and sends) it again.
            for queued in self.queue:
                if self._current_open():
                    effects += self._send_call(queued.call_id, queued.frame)
        return effects

    def _on_connection_status(self, now: Time, subscription_required: bool) -> list[Effect]:
        effects = self._flush_queue()
        if subscription_required:  # section 2.1: only when the flag is true
            effects.append(Note("subscription_required", {}))
            effects += self._on_subscription_required(now)
        elif self.resubscribe_owed:
            effects += self._resubscribe_owed(now)
        return effects

    def _on_login_required(self, now: Time, code: int, reason: str, **_: Any) -> list[Effect]:
        self.login_required += 1
        return [*self._stop_heartbeat(), Note("login_required", {"code": code, "reason": reason})]

    def _on_close_expired(self, now: Time, **_: Any) -> list[Effect]:
        # Section 2.1 "close 4401": drop the token (the claims stay, as in the real
        # handleClose) and call refreshToken() directly (not de-duplicated, section 2.3);
        # the state stays as it is until the refresh ends.
        self.access_token = None
        effects = self._stop_heartbeat()
        req, start = self._start_refresh(now, "token_expired")
        self.refreshes[req].waiters.append(REAUTH)
        return effects + start

    def _on_close_superseded(self, now: Time, **_: Any) -> list[Effect]:
        return self._stop_heartbeat()

    def _on_close_other(self, now: Time, **_: Any) -> list[Effect]:
        return [*self._stop_heartbeat(), *self._schedule_reconnect(now)]

    def _on_error(self, now: Time, **_: Any) -> list[Effect]:
        return [Note("connection_error", {})]

    def _on_reauth_failed(self, now: Time, **_: Any) -> list[Effect]:
        # Any failure on the 4401 path is terminal, with code 401 (spec case 82).
        return self._on_login_required(now, code=401, reason=REFRESH_EXPIRED)

    def _on_rejected_retry(self, now: Time, **_: Any) -> list[Effect]:
        # Fix rejected_upgrade_terminal: a 401 upgrade means the token was refused; drop
        # it, refresh once (connectInternal sees no token) and retry at once.
        self.upgrade_401_retried = True
        self.access_token = None
        return self._connect_internal(now)

    def _on_disconnect(self, now: Time, **_: Any) -> list[Effect]:
        # Section 2.5 disconnect(): timers off, handlers detached, close(1000) if OPEN or
        # CONNECTING, every pending and queued call rejected. In-flight attempts go on.
        effects: list[Effect] = [*self._cancel(RECONNECT_TIMER), *self._stop_heartbeat()]
        sock = self.sockets.get(self.conn) if self.conn is not None else None
        if sock is not None:  # a socket that already closed is forgotten
            sock.attached = False
            if sock.ready in (CONNECTING, OPEN):
                sock.ready = CLOSING
                effects.append(CloseConnection(sock.conn, protocol.CLOSE_NORMAL,
                                               DISCONNECT_REASON))
        self.conn = None
        for queued in self.queue:
            effects.append(self.cancel_timer(f"queued:{queued.call_id}"))
        self.queue = []
        pending, self.pending = self.pending, {}
        for call in pending.values():
            if not call.settled:
                effects += self._settle(call, ok=False, error=CLIENT_DISCONNECTED)
        return effects

    def _reconnect_now(self, now: Time, **_: Any) -> list[Effect]:
        # Section 2.5: attempts=0, clear the timer, connectInternal; the state stays (disconnected
        # until connection_status) and a CONNECTING socket is not closed: a second one opens.
        self.attempts = 0
        gone = self._abandon_connecting() if self.config.fixed("one_connect_in_flight") else []
        return [*gone, *self._cancel(RECONNECT_TIMER), *self._connect_internal(now)]

    def _schedule_reconnect(self, now: Time, **_: Any) -> list[Effect]:
        # Section 2.2. Step 1: forced re-auth at most once per cycle (re-armed on open).
        # Only the token is dropped; the claims stay (as in the real scheduleReconnect).
        if self.access_token is not None and self.attempts >= 1 and not self.reauth_forced \
                and not self.config.mutant("forced_reauth_skipped"):
            self.access_token = None
            self.reauth_forced = True
        # Step 2: the delay, then attempts++. No jitter and no limit, unless fixed.
        delay = reconnect_delay(self.attempts, self.config, self.ctx.rng)
        if not self.config.mutant("backoff_never_grows"):
            self.attempts += 1
        # Step 3 (reconnecting) is the table's; the timer overwrites any earlier one.
        return [Note("reconnect.scheduled", {"attempt": self.attempts, "delay": delay}),
                self.set_timer(RECONNECT_TIMER, now + delay)]

    # ------------------------------------------------------------------ connectInternal
    def _connect_internal(self, now: Time, **_: Any) -> list[Effect]:
        """Start ``connectInternal()`` (section 2.3); it may finish now or later."""
        self._n_attempt += 1
        attempt = Attempt(self._n_attempt)
        effects: list[Effect] = []
        if self.instance_name is None:
            # First connect: refreshToken() (direct) in parallel with getOrCreateTabId(),
            # which waits for the 50 ms duplicate probe only when sessionStorage already
            # holds a tab id; otherwise it stores a new one at once (the next first-connect
            # attempt, if this one fails, then finds it stored and probes).
            attempt.probing = self.tab_id_stored
            self.tab_id_stored = True
            if attempt.probing:
                effects.append(self.set_timer(f"tab_probe:{attempt.number}",
                                              now + self.config.tab_probe))
            if self.access_token is None:
                if self.config.fixed("single_flight_first_connect"):
                    # Fix (spec 2.3; realtime-systems 3 #10): join the refresh in flight.
                    # Two attempts that each present the same rotating cookie log the tab
                    # out when the slower one gets 401.
                    req, start = self._ensure_fresh_token(now)
                else:
                    req, start = self._start_refresh(now, "first_connect")
                effects += start
                attempt.refresh = req
        elif self._needs_token_refresh(now):
            req, start = self._ensure_fresh_token(now)
            effects += start
            attempt.refresh = req
        if attempt.refresh is None and not attempt.probing:
            return effects + self._finish_attempt(now, attempt)
        if attempt.refresh is not None:
            self.refreshes[attempt.refresh].waiters.append(attempt.number)
        self.connect_attempts[attempt.number] = attempt
        return effects

    def _needs_token_refresh(self, now: Time) -> bool:
        """Missing token, or a numeric ``exp`` with ``exp - 30 <= floor(now_s)`` (section 2.3)."""
        if self.access_token is None:
            return True
        exp = (self.claims or {}).get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            return False  # a token with no readable exp is trusted
        if self.config.mutant("refresh_lead_ignored"):
            return exp <= protocol.now_seconds(now)
        return exp - self.config.refresh_lead_s <= protocol.now_seconds(now)

    def _probe_done(self, now: Time, number: int) -> list[Effect]:
        attempt = self.connect_attempts.get(number)
        if attempt is None:
            return []
        if not self.config.mutant("probe_end_forgotten"):
            attempt.probing = False
        if attempt.refresh is not None:
            return []
        del self.connect_attempts[number]
        return self._finish_attempt(now, attempt)

    def _attempt_refreshed(self, now: Time, number: int, result: RefreshResult) -> list[Effect]:
        attempt = self.connect_attempts.get(number)
        if attempt is None:
            return []
        attempt.refresh = None
        if not result.ok:
            # Promise.all rejects at once: the attempt ends without waiting for the probe.
            del self.connect_attempts[number]
            effects: list[Effect] = []
            if attempt.probing:
                effects.append(self.cancel_timer(f"tab_probe:{number}"))
            if result.login_required:
                return effects + self.fire(now, table.CONNECT_FAILED_LOGIN,
                                           code=result.status, reason=REFRESH_EXPIRED)
            return effects + self.fire(now, table.CONNECT_FAILED)
        if self.config.mutant("refreshed_attempt_backs_off"):
            del self.connect_attempts[number]
            return self.fire(now, table.CONNECT_FAILED)
        if attempt.probing:
            return []
        del self.connect_attempts[number]
        return self._finish_attempt(now, attempt)

    def _finish_attempt(self, now: Time, attempt: Attempt) -> list[Effect]:
        """The awaits are over: set instanceName if needed, then create the WebSocket.

        The real client names the instance ``${claims?.sub}.${tabId}`` and adds the token
        subprotocol only ``if (accessToken)``: a token dropped while the attempt awaited (a
        forced re-auth or ``clearAccessToken()`` meanwhile) opens a socket with no token,
        which the Worker refuses (401, seen as 1006), and claims dropped meanwhile fix the
        name as ``undefined.<tabId>`` for the life of the tab. Fix
        ``connect_requires_token`` fails such an attempt instead: it backs off, and the
        next attempt refreshes.
        """
        guarded = self.config.fixed("connect_requires_token")
        if self.instance_name is None:
            sub = (self.claims or {}).get("sub")
            if sub is None and guarded:
                return self.fire(now, table.CONNECT_FAILED)
            self.instance_name = f"{'undefined' if sub is None else sub}.{self.tab_id}"
            if sub is None:
                effects: list[Effect] = [Note("instance_name.undefined",
                                              {"instanceName": self.instance_name})]
                return effects + self._create_socket()
        if self.access_token is None and guarded:
            return self.fire(now, table.CONNECT_FAILED)
        return self._create_socket()

    def _create_socket(self) -> list[Effect]:
        self._n_ws += 1
        conn = f"{self.address}:ws{self._n_ws}"
        self.conn = conn  # the previous socket, if any, is left as it is
        self.sockets[conn] = Socket(conn)
        assert self.instance_name is not None
        protocols = [protocol.SUBPROTOCOL]
        if self.access_token is not None:
            protocols.append(protocol.TOKEN_PROTOCOL_PREFIX + self.access_token)
        if self.config.fixed("takeover_requires_resubscribe"):
            # One id per page load: the host and its incarnation stand for a random id.
            protocols.append(f"{protocol.PAGE_PROTOCOL_PREFIX}{self.address}@"
                             f"{self.ctx.incarnation}")
        request = {
            "path": f"/gateway/{self.binding}/{self.instance_name}",
            "headers": {"Upgrade": "websocket", "Origin": self.origin},
            "protocols": protocols,
        }
        effects: list[Effect] = []
        if self.access_token is None:
            effects.append(Note("connect.without_token", {"conn": conn}))
        return [*effects, OpenConnection(conn, protocol.WORKER, request)]

    # ------------------------------------------------------------------ tokens
    def _start_refresh(self, now: Time, reason: str) -> tuple[str, list[Effect]]:
        """``refreshToken()``: POST the refresh cookie to the token service."""
        self._n_req += 1
        req = f"{self.address}:refresh{self._n_req}"
        self.refreshes[req] = Refresh(req, reason)
        return req, [
            Note("refresh.started", {"reason": reason}),
            HttpRequest(req, protocol.AUTH, "POST", REFRESH_PATH,
                        headers={"Cookie": self.refresh_token}),
        ]

    def _ensure_fresh_token(self, now: Time) -> tuple[str, list[Effect]]:
        """Single-flight: join the refresh in flight, if any (section 2.3)."""
        if self.shared_refresh is not None and not self.config.mutant(
            "refresh_not_single_flight"  # mutant: always start another exchange
        ):
            return self.shared_refresh, []
        req, effects = self._start_refresh(now, "ensure_fresh")
        self.shared_refresh = req
        return req, effects

    def _refresh_finished(self, now: Time, req: str, inp: Input) -> list[Effect]:
        flight = self.refreshes.pop(req)
        if self.shared_refresh == req:
            self.shared_refresh = None
        result = self._refresh_result(inp)
        done: dict[str, Any] = {"ok": result.ok}
        if result.status is not None:
            done["status"] = result.status
        if result.error is not None:
            done["error"] = result.error
        effects: list[Effect] = [Note("refresh.done", done)]
        for waiter in flight.waiters:
            if waiter == REAUTH:
                if not result.ok and not result.login_required and self.config.fixed(
                        "reauth_retries_transient_failure"):
                    # Fix (spec 2.1 "close 4401", case 82; realtime-systems 3 #11): only a
                    # definitive 401/403 is terminal. A token service that is down or
                    # answers 5xx is transient: back off and reconnect (which refreshes).
                    effects += self.fire(now, table.REAUTH_OK if self.config.mutant(
                        "reauth_failure_retried_at_once") else table.CONNECT_FAILED)
                    continue
                effects += self.fire(now, table.REAUTH_OK if result.ok else table.REAUTH_FAILED)
            else:
                assert isinstance(waiter, int)
                effects += self._attempt_refreshed(now, waiter, result)
        return effects

    def _refresh_result(self, inp: Input) -> RefreshResult:
        """Section 2.3 outcomes: 401/403 → LoginRequiredError; anything else wrong is transient."""
        if isinstance(inp, HttpFailed):
            return RefreshResult(False, error=inp.reason)
        assert isinstance(inp, HttpResponse)
        if inp.status in (401, 403):
            # Mutant refresh_refusal_retried: a refused cookie taken for a passing failure.
            return RefreshResult(False, status=inp.status, login_required=not self.config.mutant(
                "refresh_refusal_retried"))
        if not 200 <= inp.status < 300:
            # Mutant refresh_outage_logs_out: a failing service taken for a refusal.
            return RefreshResult(False, status=inp.status, login_required=self.config.mutant(
                "refresh_outage_logs_out"))
        body = inp.body if isinstance(inp.body, dict) else {}
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated and not self.config.mutant(
                "rotated_cookie_not_kept"):
            self.refresh_token = rotated  # the presented one is now revoked
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            return RefreshResult(False, status=inp.status, error="No access token in response")
        try:
            claims = protocol.decode_token(token)
        except protocol.TokenError:
            return RefreshResult(False, status=inp.status, error="Malformed access token")
        self.access_token = token
        self.claims = claims
        return RefreshResult(True, status=inp.status)

    # ------------------------------------------------------------------ socket events
    def _socket_opened(self, now: Time, conn: str) -> list[Effect]:
        sock = self.sockets.get(conn)
        if sock is None or not sock.attached or sock.ready == CLOSING:
            return []
        sock.ready = OPEN
        self.connects += 1
        return self.fire(now, table.SOCKET_OPEN, conn=conn)

    def _socket_message(self, now: Time, conn: str, data: Any) -> list[Effect]:
        sock = self.sockets.get(conn)
        if sock is None or not sock.attached or sock.ready == CLOSING:
            return []
        if not isinstance(data, dict):
            return []  # lmz:pong and any other text: nothing to do (no liveness check)
        kind = data.get("type")
        if kind == "connection_status":
            if self.config.mutant("subscription_required_on_false"):
                data = {**data, "subscriptionRequired": "subscriptionRequired" in data}
            return self.fire(now, table.CONNECTION_STATUS,
                             subscription_required=bool(data.get("subscriptionRequired")))
        if kind == "call_response":
            return self._call_response(now, data)
        if kind == "incoming_call":
            if self.config.mutant("incoming_call_needs_connected"):
                return [] if self.state != table.CONNECTED else self._incoming_call(now, data)
            return self._incoming_call(now, data)
        return []

    def _socket_closed(self, now: Time, conn: str, code: int, reason: str,
                       clean: bool) -> list[Effect]:
        sock = self.sockets.pop(conn, None)
        if sock is None or not sock.attached:
            return []
        sock.ready = CLOSED
        effects: list[Effect] = []
        if not clean:  # the browser fires error before an abnormal close
            effects += self.fire(now, table.ERROR)
        if self.config.fixed("reject_calls_on_socket_close"):
            # Fix (section 6 "awaited callRaw across the client socket"): the gateway
            # answers on the originating socket only, so its calls can never settle.
            for call in list(self.pending.values()):
                if call.sent_on == conn and not call.settled:
                    del self.pending[call.call_id]
                    effects += self._settle(call, ok=False, error=SOCKET_CLOSED_BEFORE_ANSWER)
        return effects + self.fire(now, self._classify_close(conn, code), code=code,
                                   reason=reason)

    def _socket_rejected(self, now: Time, conn: str, status: int, reason: str) -> list[Effect]:
        sock = self.sockets.pop(conn, None)
        if sock is None or not sock.attached:
            return []
        sock.ready = CLOSED
        effects = self.fire(now, table.ERROR)
        if self.config.fixed("rejected_upgrade_terminal") and self._is_current(conn):
            # Fix: the client sees the upgrade's status (section 2.1, last line).
            if status == 403 or (status == 401 and self.upgrade_401_retried):
                return effects + self.fire(now, table.REJECTED_LOGIN, code=status,
                                           reason=reason)
            if status == 401:
                return effects + self.fire(now, table.REJECTED_RETRY)
            # 429 and the rest: back off like any failed connection.
        # Faithful: a browser hides the status and reports close 1006.
        return effects + self.fire(now, self._classify_close(conn, protocol.CLOSE_ABNORMAL),
                                   code=protocol.CLOSE_ABNORMAL, reason="")

    def _is_current(self, conn: str) -> bool:
        """Is ``conn`` this.ws? Mutant no_stale_close_guard answers yes for any socket
        (section 2.1, "close on a socket that is no longer current")."""
        return conn == self.conn or self.config.mutant("no_stale_close_guard")

    def _classify_close(self, conn: str, code: int) -> str:
        # The stale-close guard (section 2.1): onclose of a socket that is no longer
        # this.ws returns at once. Mutant no_stale_close_guard drops the check.
        if not self._is_current(conn):
            return table.CLOSE_STALE
        if code in (protocol.CLOSE_NO_TOKEN, protocol.CLOSE_UNAUTHORIZED):
            return table.CLOSE_LOGIN
        if code == protocol.CLOSE_TOKEN_EXPIRED:
            return table.CLOSE_EXPIRED
        if code == protocol.CLOSE_SUPERSEDED and self.config.fixed("superseded_client_stays_down"):
            return table.CLOSE_SUPERSEDED  # fix: section 6 "ping-pong"
        return table.CLOSE_OTHER

    def _current_open(self) -> bool:
        sock = self.sockets.get(self.conn) if self.conn is not None else None
        return sock is not None and sock.ready == OPEN

    # ------------------------------------------------------------------ heartbeat
    def _start_heartbeat(self, now: Time) -> list[Effect]:
        if self.config.heartbeat_interval <= 0:  # <= 0 turns it off (section 2)
            return []
        return [self.set_timer(HEARTBEAT_TIMER, now + self.config.heartbeat_interval)]

    def _stop_heartbeat(self) -> list[Effect]:
        return self._cancel(HEARTBEAT_TIMER)

    def _cancel(self, key: str) -> list[Effect]:
        """clearTimeout: a no-op (and no trace record) when the timer is not armed."""
        return [self.cancel_timer(key)] if self.timer_armed(key) else []

    def _heartbeat(self, now: Time) -> list[Effect]:
        # setInterval: ping on this.ws when it is OPEN; never look for the pong.
        effects: list[Effect] = []
        if self._current_open():
            assert self.conn is not None
            effects.append(Send(self.conn, protocol.PING))
        return effects + self._start_heartbeat(now)

    # ------------------------------------------------------------------ outgoing calls
    def _call(self, now: Time, inp: ClientCall) -> list[Effect]:
        """``callRaw`` / ``call`` (section 2.4): pending entry with no timeout; send or queue."""
        self._n_call += 1
        call_id = f"{self.address}:call{self._n_call}"
        frame: dict[str, Any] = {"type": "call", "callId": call_id, "binding": inp.binding}
        if inp.instance is not None:
            frame["instance"] = inp.instance
        frame["chain"] = {"method": inp.method, "args": list(inp.args)}
        call = PendingCall(call_id, inp.tag, inp.method)
        self.pending[call_id] = call
        issued = Note("call.issued", {"callId": call_id, "tag": inp.tag})
        if self._current_open():  # even before connection_status
            return [issued, *self._send_call(call_id, frame)]
        if len(self.queue) >= self.config.max_queue:
            call.settled = True  # rejected, but the pending entry leaks (inferred)
            return [issued, *self._settle(call, ok=False, error=QUEUE_FULL)]
        self.queue.append(QueuedCall(call_id, frame))
        return [issued,
                self.set_timer(f"queued:{call_id}", now + self.config.queued_call_timeout)]

    def _send_call(self, call_id: str, frame: dict) -> list[Effect]:
        assert self.conn is not None
        call = self.pending.get(call_id)
        if call is not None:
            call.sent_on = self.conn
        tag = call.tag if call is not None else ""
        return [Send(self.conn, frame), Note("call.sent", {"callId": call_id, "tag": tag})]

    def _flush_queue(self) -> list[Effect]:
        """FIFO, clearing each call's 30 s timer. A send on a socket that is not OPEN is
        discarded as a browser discards it, and the call stays pending (inferred)."""
        effects: list[Effect] = []
        queue, self.queue = self.queue, []
        for queued in queue:
            effects.append(self.cancel_timer(f"queued:{queued.call_id}"))
            if self._current_open():
                effects += self._send_call(queued.call_id, queued.frame)
        return effects

    def _queued_timeout(self, call_id: str) -> list[Effect]:
        for i, queued in enumerate(self.queue):
            if queued.call_id == call_id:
                if not self.config.mutant("timed_out_call_stays_queued"):
                    del self.queue[i]
                call = self.pending.pop(call_id, None)
                if call is None or call.settled:
                    return []
                return self._settle(call, ok=False, error=QUEUED_CALL_TIMED_OUT)
        return []

    def _call_response(self, now: Time, data: dict) -> list[Effect]:
        call = self.pending.get(data.get("callId"))  # type: ignore[arg-type]
        if call is None or call.settled:
            return []  # unknown callId: ignored (section 2.4)
        if not self.config.mutant("answered_call_kept"):
            del self.pending[call.call_id]
        if data.get("success"):
            value = data.get("result")
            effects = self._settle(call, ok=True, value=value)
            if call.tag.startswith("subscribe:"):
                effects += self._subscribed(call.tag.removeprefix("subscribe:"), value)
            return effects
        return self._settle(call, ok=False, error=data.get("error"))

    def _settle(self, call: PendingCall, *, ok: bool, value: Any = None,
                error: Any = None) -> list[Effect]:
        call.settled = True
        data: dict[str, Any] = {"callId": call.call_id, "tag": call.tag, "ok": ok}
        if ok:
            data["value"] = value
        else:
            data["error"] = (protocol.error_value("Error", error) if isinstance(error, str)
                             else error)
        return [Note("call.settled", data)]

    # ------------------------------------------------------------------ the app
    def _on_subscription_required(self, now: Time) -> list[Effect]:
        """The modelled app: subscribe (awaited) to every document it follows."""
        if self.config.fixed("resubscribe_until_done"):
            self.resubscribe_owed.update(self.subscribe_to)
        return self._subscribe(now, self.subscribe_to)

    def _subscribed(self, doc: str, value: Any) -> list[Effect]:
        self.subscribed.add(doc)
        self.resubscribe_owed.discard(doc)
        if isinstance(value, dict) and "version" in value:
            return self._apply_document(value.get("content"), value["version"])
        return []

    def _apply_document(self, content: Any, version: Any) -> list[Effect]:
        self.doc_content = content
        self.doc_version = version
        return [Note("document", {"version": version, "content": content})]

    # ------------------------------------------------------------------ incoming calls
    def _incoming_call(self, now: Time, data: dict) -> list[Effect]:
        """Section 2.5: onBeforeCall, run the @mesh method, answer on this.ws if OPEN."""
        call_id = data.get("callId")
        chain = data.get("chain") if isinstance(data.get("chain"), dict) else {}
        method = chain.get("method")
        args = chain.get("args") if isinstance(chain.get("args"), list) else []
        effects: list[Effect] = []
        denied = self._on_before_call(data.get("callContext"))
        if denied is not None:
            ok, result = False, protocol.error_value("Error", denied)
        else:
            ok, result, effects = self._run_mesh_method(method, args)
        effects.append(Note("incoming.handled", {"callId": call_id, "method": method}))
        if self._current_open():  # otherwise the reply is silently dropped
            assert self.conn is not None
            reply: dict[str, Any] = {"type": "incoming_call_response", "callId": call_id,
                                     "success": ok}
            reply["result" if ok else "error"] = result
            effects.append(Send(self.conn, reply))
        return effects

    def _on_before_call(self, call_context: Any) -> str | None:
        """Default onBeforeCall: refuse calls that originate from another LumenizeClient."""
        chain = call_context.get("callChain") if isinstance(call_context, dict) else None
        if not chain or not isinstance(chain[0], dict):
            return None
        origin = chain[0]
        other = origin.get("instanceName") != self.instance_name
        if origin.get("type") == "LumenizeClient" and other:
            return "Calls from other LumenizeClients are not allowed"
        return None

    def _run_mesh_method(self, method: Any, args: list) -> tuple[bool, Any, list[Effect]]:
        if method == "handleUpdate" and len(args) >= 2:
            if self.config.mutant("update_reported_failed"):
                return False, None, self._apply_document(args[0], args[1])
            return True, None, self._apply_document(args[0], args[1])
        if method == "ping":
            return True, args[0] if args else None, []
        return False, protocol.error_value("Error", f"{method!r} is not a @mesh method"), []

    # ------------------------------------------------------------------ inspection
    def statistics(self) -> dict[str, Any]:
        return {
            **super().statistics(),
            "state": self.state,
            "conn": self.conn,
            "socket_open": self._current_open(),
            "instance_name": self.instance_name,
            "token_exp": (self.claims or {}).get("exp"),
            "attempts": self.attempts,
            "pending": sorted(c.call_id for c in self.pending.values() if not c.settled),
            "queued": len(self.queue),
            "subscribed": sorted(self.subscribed),
            "doc_version": self.doc_version,
            "login_required": self.login_required,
            "connects": self.connects,
            "leaked": sum(1 for c in self.pending.values() if c.settled),
        }

    def __repr__(self) -> str:
        return f"LumenizeClient({self.address!r}, state={self.state!r})"

    def _abandon_connecting(self) -> list[Effect]:
        """Fix one_connect_in_flight: this.ws still CONNECTING is closed before a wake-up
        opens another, so at most one socket of the tab can open. A socket closed while
        CONNECTING never fires onopen nor onmessage (WHATWG: messages arrive only when
        OPEN); its onclose, later, meets the stale-socket guard."""
        sock = self.sockets.get(self.conn) if self.conn is not None else None
        if sock is None or sock.ready != CONNECTING:
            return []
        sock.ready = CLOSING
        return [CloseConnection(sock.conn, protocol.CLOSE_NORMAL, "Abandoned for a new attempt")]

    def _stays_down(self) -> bool:
        """Fix disconnected_stays_down: a disconnected tab (told to log in, superseded by a
        newer tab, or disconnect()ed) waits for the app's connect(); a wake-up does not
        reconnect it."""
        return self.state == table.DISCONNECTED and self.config.fixed("disconnected_stays_down")

    def _resubscribe_owed(self, now: Time) -> list[Effect]:
        """Fix resubscribe_until_done: a connection_status that says false after a true
        whose resubscribe was lost (its socket half-open, say, and superseded by this one):
        the gateway vouches for nothing lost since that socket, where the client never had
        its subscription back, so the app subscribes again."""
        owed = sorted(self.resubscribe_owed)
        return [Note("resubscribe.owed", {"documents": owed}), *self._subscribe(now, owed)]

    def _subscribe(self, now: Time, documents: Sequence[str]) -> list[Effect]:
        """The app's awaited ``subscribe`` call to each document, in order."""
        effects: list[Effect] = []
        for doc in documents:
            effects += self._call(now, ClientCall("subscribe", [], instance=doc,
                                                  binding="DOCUMENT", tag=f"subscribe:{doc}"))
        return effects
