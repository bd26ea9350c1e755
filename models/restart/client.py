"""``ComfyApi`` (comfyui-node) as a sans-IO node: its connection lifecycle, faithfully.

The library's socket handling lives in closures: each ``createSocket(isReconnect)`` call
has its own ``opened``, ``reconnecting`` and ``usePolling`` flags, captured by that
socket's handlers. Here each socket gets a :class:`SocketFlags` value holding exactly those,
so the handlers below read the way the library's do:

* ``onopen``: ``connected``, the ``reconnected`` event (``connected`` for the first socket),
  the polling fallback stopped, feature flags announced.
* ``onclose``: forget the socket if it is the current one; **return at once if the socket
  was created for a reconnect** (the ``reconnect_after_reconnect`` weakness); otherwise
  ``disconnected``, a ``status`` event with no detail if the socket had opened, then
  ``reconnectWs`` if ``autoReconnect`` or the socket had opened, and the polling fallback.
* ``reconnectWs(trigger)``: abort the running loop, ``reconnecting``, start a loop
  (``runWebSocketReconnect``): attempt 1 at once, then a check after
  ``min(base * 2^(n-1), max) +- jitter`` that tries again unless the socket is open *or
  still connecting*. The last attempt dispatches ``reconnection_failed`` the moment it is
  launched (the ``fail_after_last_attempt`` weakness).
* the polling fallback: every 2 s, GET ``/prompt``; on success a ``status`` event and, if
  the socket is not open, ``createSocket(true)``.

A workflow (``CallWrapper``) is kept per prompt: it completes on ``executed`` for its
output node, and on ``status`` asks ``/queue`` and ``/history`` whether its prompt went
missing; ``disconnected`` starts a 5 s grace period after which it fails with
``DisconnectedError`` unless ``reconnected`` comes first.

Everything a user can observe is a note: ``Note("state", {"to": ...})`` for each
``connectionState`` change, ``Note("event", {"name": ...})`` for each event a listener would
get, ``Note("callback", ...)`` for ``onReconnectionFailed``, and ``prompt.*`` notes.
"""

from __future__ import annotations

from typing import Any

from attrs import define, frozen

from gatewaysim.simulator.clock import Time, ms
from gatewaysim.simulator.messages import (
    CLOSE_NORMAL,
    CloseConnection,
    Effect,
    HttpFailed,
    HttpRequest,
    HttpResponse,
    Input,
    Note,
    OpenConnection,
    Send,
    TimerFired,
    WsClosed,
    WsMessage,
    WsOpened,
    WsRejected,
)
from gatewaysim.simulator.node import HostContext, Node

from .config import RestartConfig
from .protocol import (
    OUTPUT_NODE,
    SERVER,
    WS_PATH,
    ConnectionState,
    StateEvent,
    feature_flags_message,
    next_state,
    workflow,
)

CONNECTING, OPEN, CLOSING = "CONNECTING", "OPEN", "CLOSING"


# ---------------------------------------------------------------------------- options
@frozen
class ClientOptions:
    """The constructor options the document's tests pass."""

    auto_reconnect: bool = False
    on_reconnection_failed: bool = False
    """Whether an ``onReconnectionFailed`` callback was given (it notes when it runs)."""
    client_id: str = ""


# ---------------------------------------------------------------------------- user actions
@frozen
class Init(Input):
    """``await api.init()``: ping with retries, system stats, then ``createSocket()``."""


@frozen
class ReconnectWs(Input):
    """``api.reconnectWs(triggerEvent)``."""

    trigger_event: bool = True


@frozen
class AbortReconnect(Input):
    """``api.abortReconnect()``."""


@frozen
class ValidateConnection(Input):
    """``await api.validateConnection()``: GET /queue; notes ``validate`` with the result."""


@frozen
class SubmitPrompt(Input):
    """Run a workflow (``CallWrapper.run``): POST /prompt, then follow the prompt."""

    label: str = "p"


@frozen
class Destroy(Input):
    """``api.destroy()``."""


# ---------------------------------------------------------------------------- books
@define
class SocketFlags:
    """One ``createSocket`` closure: the flags its handlers capture."""

    is_reconnect: bool
    ready: str = CONNECTING
    opened: bool = False
    polling: bool = False  # usePolling
    loop: int | None = None  # the reconnection loop whose attempt made it


@define
class ReconnectLoop:
    """One ``runWebSocketReconnect`` controller."""

    number: int
    attempt: int = 0
    aborted: bool = False
    check_pending: bool = False
    finished: bool = False  # a check took the socket for a success
    exhausted: bool = False  # the last attempt was launched
    last_conn: str | None = None

    @property
    def key(self) -> str:
        return f"reconnect{self.number}.check"


@define
class PromptTracker:
    """One ``CallWrapper`` following one prompt."""

    label: str
    prompt_id: str | None = None
    recovery: bool = False  # disconnectRecoveryActive
    done: bool = False


class ComfyClient(Node):
    """A ``ComfyApi`` instance talking to the server at ``server``."""

    def __init__(self, ctx: HostContext, config: RestartConfig,
                 options: ClientOptions = ClientOptions(), server: str = SERVER) -> None:
        super().__init__(ctx)
        self.config = config
        self.options = options
        self.server = server
        self.state = ConnectionState.CONNECTING
        self.client_id = options.client_id or f"{ctx.address}-id"
        self.socket: str | None = None
        self.sockets: dict[str, SocketFlags] = {}
        self.loop: ReconnectLoop | None = None
        self.polling = False
        self.destroyed = False
        self.ready = False
        self.init_failed = False
        self.http: dict[str, tuple[str, str]] = {}  # req -> (purpose, prompt label or "")
        self.prompts: dict[str, PromptTracker] = {}
        self.last_activity: Time = 0
        self._init_tries = 0
        self._n_sockets = 0
        self._n_http = 0
        self._n_loops = 0

    # ------------------------------------------------------------------ observable
    def is_connected(self) -> bool:
        """``api.isConnected()``: the current socket is OPEN."""
        return self.socket is not None and self.sockets[self.socket].ready == OPEN

    def _set(self, event: StateEvent) -> list[Effect]:
        new = next_state(self.state, event)
        if new is self.state:
            return []
        self.state = new
        return [Note("state", {"to": new.value})]

    def _event(self, name: str, **data: Any) -> list[Effect]:
        """A listener would receive this event (none are left after ``destroy()``)."""
        if self.destroyed:
            return []
        return [Note("event", {"name": name, **data})]

    def _fixed(self, name: str) -> bool:
        return self.config.fixed(name)

    # ------------------------------------------------------------------ HTTP
    def _request(self, purpose: str, method: str, path: str, *, label: str = "",
                 body: Any = None, timeout: Time | None = None) -> list[Effect]:
        self._n_http += 1
        self.last_activity = self._clock  # fetchApi() resets the inactivity clock
        req = f"{self.address}:h{self._n_http}"
        self.http[req] = (purpose, label)
        return [HttpRequest(req, self.server, method, path, body=body, timeout=timeout)]

    # ------------------------------------------------------------------ inputs
    _clock: Time = 0
    """When the input being handled arrived (``fetchApi`` stamps ``lastActivity`` with it)."""

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        self._clock = now
        match inp:
            case WsOpened(conn=conn):
                return self._on_open(now, conn)
            case WsMessage(conn=conn, data=data):
                return self._on_message(now, conn, data)
            case WsClosed(conn=conn, code=code, reason=reason):
                return self._on_close(now, conn, code, reason, failed_open=False)
            case WsRejected(conn=conn, status=status, reason=reason):
                return self._on_close(now, conn, status, reason, failed_open=True)
            case HttpResponse(req=req, status=status, body=body):
                return self._on_http(now, req, status, body)
            case HttpFailed(req=req, reason=reason):
                return self._on_http(now, req, None, reason)
            case TimerFired(key=key):
                return self._on_timer(now, key)
            case Init():
                self._init_tries = 0
                return self._request("ping", "GET", "/prompt",
                                     timeout=self.config.delay("ping_timeout"))
            case ReconnectWs(trigger_event=trigger):
                return self.reconnect_ws(now, trigger)
            case AbortReconnect():
                return self._abort_loop()
            case ValidateConnection():
                return self._request("validate", "GET", "/queue")
            case SubmitPrompt(label=label):
                self.prompts[label] = PromptTracker(label)
                return [Note("prompt.submitted", {"label": label}),
                        *self._request("submit", "POST", "/prompt", label=label,
                                       body={"prompt": workflow(), "client_id": self.client_id})]
            case Destroy():
                return self._destroy()
        return []

    # ------------------------------------------------------------------ sockets
    def create_socket(self, is_reconnect: bool, loop: int | None = None) -> list[Effect]:
        effects: list[Effect] = [] if is_reconnect else self._set(StateEvent.CREATE)
        if self.socket is not None:
            return [*effects, Note("socket.skipped", {"existing": self.socket})]
        self._n_sockets += 1
        conn = f"{self.address}:ws{self._n_sockets}"
        self.socket = conn
        self.sockets[conn] = SocketFlags(is_reconnect, loop=loop)
        return [*effects, OpenConnection(conn, self.server,
                                         {"path": WS_PATH, "clientId": self.client_id})]

    def _on_open(self, now: Time, conn: str) -> list[Effect]:
        flags = self.sockets.get(conn)
        if flags is None:
            return []
        flags.ready, flags.opened, flags.polling = OPEN, True, False
        self.last_activity = now
        effects = [self.set_timer("heartbeat", now + self._heartbeat_every())]
        effects += self._set(StateEvent.OPEN)
        effects += self._event("reconnected" if flags.is_reconnect else "connected", conn=conn)
        effects += self._prompts_on(now, "reconnected" if flags.is_reconnect else "connected")
        if self.polling:
            effects += self._stop_polling()
        if self.socket == conn:
            effects.append(Send(conn, feature_flags_message()))
        return effects

    def _on_message(self, now: Time, conn: str, data: Any) -> list[Effect]:
        if conn not in self.sockets or self.destroyed:
            return []
        self.last_activity = now
        if not isinstance(data, dict) or not data.get("type") or not data.get("data"):
            return []
        kind, body = data["type"], data["data"]
        effects = self._event(kind, conn=conn, via="ws")
        if isinstance(body, dict) and body.get("sid"):
            self.client_id = body["sid"]
        return effects + self._prompts_on(now, kind, body)

    def _on_close(self, now: Time, conn: str, code: int, reason: str,
                  failed_open: bool) -> list[Effect]:
        flags = self.sockets.pop(conn, None)
        if flags is None:
            return []
        flags.ready = "CLOSED"
        effects: list[Effect] = [Note("socket.closed", {"conn": conn, "code": code,
                                                         "reason": reason,
                                                         "opened": flags.opened})]
        stops_heartbeat = self.socket == conn or not self._fixed("heartbeat_per_socket")
        if stops_heartbeat and self.timer_armed("heartbeat"):  # stopHeartbeat()
            effects.append(self.cancel_timer("heartbeat"))
        if self.destroyed:
            if self.socket == conn:
                self.socket = None
            return effects
        # onerror fires before onclose for a socket that never opened
        if failed_open and not flags.opened and not flags.is_reconnect and not flags.polling:
            flags.polling = True
            effects += self._start_polling(now)
        was_current = self.socket == conn
        if was_current:
            self.socket = None
        loop = self.loop
        if (loop is not None and loop.exhausted and loop.last_conn == conn and not flags.opened
                and not loop.aborted and self._fixed("fail_after_last_attempt")):
            effects += self._give_up(now)
        if flags.is_reconnect and not self._fixed("reconnect_after_reconnect"):
            return [*effects, Note("close.unhandled", {"conn": conn})]
        if flags.is_reconnect and not was_current:
            # fixed: the client replaced this socket itself (an attempt terminated it)
            return effects
        if (flags.is_reconnect and not flags.opened and loop is not None and not loop.aborted
                and flags.loop == loop.number):
            # fixed: a failed attempt of the running loop; the loop decides what comes next
            # (its pending check retries; a check that took it for a success resumes now)
            if not loop.check_pending and not loop.exhausted:
                loop.finished = False
                effects += self._try_reconnect(now, loop)
            return effects
        should_emit = flags.opened
        effects += self._set(StateEvent.CLOSE)
        if should_emit:
            effects += self._event("status", via="close")
            effects += self._prompts_on(now, "status")
        if self.options.auto_reconnect or should_emit:
            effects += self.reconnect_ws(now, should_emit)
        if not flags.is_reconnect and not flags.polling:
            flags.polling = True
            effects += self._start_polling(now)
        return effects

    def _terminate_socket(self) -> list[Effect]:
        conn = self.socket
        if conn is None:
            return []
        self.socket = None
        flags = self.sockets.get(conn)
        if flags is None or flags.ready == CLOSING:
            return []
        flags.ready = CLOSING
        return [CloseConnection(conn, CLOSE_NORMAL, "terminated")]

    # ------------------------------------------------------------------ reconnection loop
    def reconnect_ws(self, now: Time, trigger: bool) -> list[Effect]:
        effects = self._abort_loop()
        effects += self._set(StateEvent.RECONNECT)
        self._n_loops += 1
        loop = self.loop = ReconnectLoop(self._n_loops)
        effects.append(Note("reconnect.loop", {"loop": loop.number, "trigger": trigger}))
        if trigger:
            effects += self._event("disconnected") + self._prompts_on(now, "disconnected")
            effects += self._event("reconnecting")
        return effects + self._try_reconnect(now, loop)

    def _try_reconnect(self, now: Time, loop: ReconnectLoop) -> list[Effect]:
        if loop.aborted:
            return []
        loop.attempt += 1
        effects = self._terminate_socket()
        effects += self.create_socket(True, loop.number)
        loop.last_conn = self.socket
        effects.insert(0, Note("reconnect.attempt", {"loop": loop.number,
                                                     "attempt": loop.attempt,
                                                     "conn": self.socket}))
        if loop.attempt < self.config.max_attempts:
            loop.check_pending = True
            effects.append(self.set_timer(loop.key, now + self._delay(loop.attempt)))
        else:
            loop.exhausted = True
            if not self._fixed("fail_after_last_attempt") or loop.last_conn is None:
                effects += self._give_up(now)
        return effects

    def _delay(self, attempt: int) -> Time:
        cfg = self.config
        raw = min(cfg.delay("base_delay") * 2 ** (attempt - 1), cfg.delay("max_delay"))
        half = raw * cfg.jitter_percent // 200
        return max(0, raw + (self.ctx.rng.randint(-half, half) if half else 0))

    def _check(self, now: Time, loop: ReconnectLoop) -> list[Effect]:
        loop.check_pending = False
        if loop.aborted or loop is not self.loop:
            return []
        flags = self.sockets.get(self.socket) if self.socket is not None else None
        if flags is not None and flags.ready in (OPEN, CONNECTING):
            loop.finished = True
            return [Note("reconnect.success", {"loop": loop.number, "attempt": loop.attempt,
                                               "socket": flags.ready.lower()})]
        return self._try_reconnect(now, loop)

    def _abort_loop(self) -> list[Effect]:
        loop = self.loop
        if loop is None or loop.aborted:
            return []
        loop.aborted = True
        effects: list[Effect] = [Note("reconnect.aborted", {"loop": loop.number})]
        if loop.check_pending:
            loop.check_pending = False
            effects.append(self.cancel_timer(loop.key))
        return effects

    def _give_up(self, now: Time) -> list[Effect]:
        effects = self._event("reconnection_failed")
        effects += self._set(StateEvent.GIVE_UP)
        if self.options.on_reconnection_failed and not self.destroyed:
            loop = self.loop
            effects.append(Note("callback", {"name": "onReconnectionFailed",
                                             "conn": loop.last_conn if loop else None}))
        return effects + self._prompts_on(now, "reconnection_failed")

    # ------------------------------------------------------------------ polling fallback
    def _start_polling(self, now: Time) -> list[Effect]:
        self.polling = True
        return [Note("polling.started"),
                self.set_timer("poll", now + self.config.delay("polling_interval"))]

    def _stop_polling(self) -> list[Effect]:
        self.polling = False
        return [Note("polling.stopped"), self.cancel_timer("poll")]

    # ------------------------------------------------------------------ timers
    def _on_timer(self, now: Time, key: str) -> list[Effect]:
        if key == "poll":
            if not self.polling:
                return []
            return [self.set_timer("poll", now + self.config.delay("polling_interval")),
                    *self._request("poll", "GET", "/prompt",
                                   timeout=self.config.delay("poll_timeout"))]
        if key == "heartbeat":
            return self._heartbeat(now)
        if key == "init.retry":
            return self._request("ping", "GET", "/prompt",
                                 timeout=self.config.delay("ping_timeout"))
        if key.startswith("reconnect") and key.endswith(".check"):
            loop = self.loop
            if loop is not None and loop.key == key:
                return self._check(now, loop)
            return []
        if key.startswith("grace:"):
            tracker = self.prompts.get(key.removeprefix("grace:"))
            if tracker is not None:
                return self._fail_disconnected(tracker)
        return []

    def _heartbeat_every(self) -> Time:
        return max(ms(1000), self.config.delay("ws_timeout") // 2)

    def _heartbeat(self, now: Time) -> list[Effect]:
        """``startHeartbeat``'s interval: ping the socket after ``wsTimeout`` of silence."""
        effects: list[Effect] = [self.set_timer("heartbeat", now + self._heartbeat_every())]
        if not self.is_connected() or self.socket is None:
            return effects
        if now - self.last_activity >= self.config.delay("ws_timeout"):
            self.last_activity = now
            effects += [Note("heartbeat.ping", {"conn": self.socket}),
                        Send(self.socket, {"type": "ping"})]
        return effects

    # ------------------------------------------------------------------ HTTP answers
    def _on_http(self, now: Time, req: str, status: int | None, body: Any) -> list[Effect]:
        purpose, label = self.http.pop(req, ("", ""))
        ok = status == 200
        if purpose == "ping":
            if ok:
                return self._request("stats", "GET", "/system_stats")
            if self._init_tries > self.config.init_tries:  # pingSuccess: 1 + 11 pings
                self.init_failed = True
                return [Note("init.failed", {"pings": self._init_tries + 1})]
            self._init_tries += 1
            return [self.set_timer("init.retry", now + self.config.delay("init_delay"))]
        if purpose == "stats":
            self.ready = True
            return [*self.create_socket(False), Note("init.done")]
        if purpose == "poll":
            if not ok or not self.polling:
                return []
            effects = self._event("status", via="poll") + self._prompts_on(now, "status")
            if not self.is_connected():
                effects += self.create_socket(True)
            elif self.polling:
                effects += self._stop_polling()
            return effects
        if purpose == "validate":
            return [Note("validate", {"result": ok and isinstance(body, dict)})]
        tracker = self.prompts.get(label)
        if tracker is None or tracker.done:
            return []
        if purpose == "submit":
            if not ok:
                return self._settle(tracker, "failed", error="EnqueueFailedError")
            tracker.prompt_id = body["prompt_id"]
            return [Note("prompt.queued", {"label": label, "prompt_id": tracker.prompt_id})]
        if purpose == "queue":
            if not ok:
                return []
            queued = [item[1] for item in (*body.get("queue_pending", ()),
                                           *body.get("queue_running", ()))]
            if tracker.prompt_id in queued:
                return []
            return self._request("history:missing", "GET", f"/history/{tracker.prompt_id}",
                                 label=label)
        if purpose.startswith("history:"):
            completed = ok and isinstance(body, dict) and bool(
                body.get(tracker.prompt_id, {}).get("status", {}).get("completed"))
            if completed:
                return self._settle(tracker, "completed", via="history")
            if purpose == "history:missing" and ok and not tracker.recovery:
                return self._settle(tracker, "failed", error="WentMissingError")
        return []

    # ------------------------------------------------------------------ workflows
    def _prompts_on(self, now: Time, event: str, body: Any = None) -> list[Effect]:
        """What every waiting ``CallWrapper`` does on a client event."""
        effects: list[Effect] = []
        for tracker in list(self.prompts.values()):
            if tracker.done or tracker.prompt_id is None:
                continue
            pid = tracker.prompt_id
            if event == "executed" and isinstance(body, dict) and body.get("prompt_id") == pid \
                    and body.get("node") == OUTPUT_NODE:
                effects += self._settle(tracker, "completed", via="ws")
            elif event == "status":
                effects += self._request("queue", "GET", "/queue", label=tracker.label)
            elif event == "disconnected" and not tracker.recovery:
                tracker.recovery = True
                effects.append(self.set_timer(f"grace:{tracker.label}",
                                              now + self.config.delay("disconnect_grace")))
                effects += self._request("history:recovery", "GET", f"/history/{pid}",
                                         label=tracker.label)
            elif event == "reconnected":
                if tracker.recovery:
                    tracker.recovery = False
                    effects.append(self.cancel_timer(f"grace:{tracker.label}"))
                effects += self._request("history:reconnected", "GET", f"/history/{pid}",
                                         label=tracker.label)
            elif event == "reconnection_failed" and tracker.recovery:
                effects += self._fail_disconnected(tracker)
        return effects

    def _fail_disconnected(self, tracker: PromptTracker) -> list[Effect]:
        if tracker.done or not tracker.recovery:
            return []
        tracker.recovery = False
        return [self.cancel_timer(f"grace:{tracker.label}"),
                *self._settle(tracker, "failed", error="DisconnectedError")]

    def _settle(self, tracker: PromptTracker, outcome: str, **data: Any) -> list[Effect]:
        tracker.done = True
        effects: list[Effect] = []
        if tracker.recovery:
            tracker.recovery = False
            effects.append(self.cancel_timer(f"grace:{tracker.label}"))
        return [*effects, Note(f"prompt.{outcome}", {"label": tracker.label,
                                                      "prompt_id": tracker.prompt_id, **data})]

    # ------------------------------------------------------------------ destroy
    def _destroy(self) -> list[Effect]:
        if self.destroyed:
            return []
        self.destroyed = True
        effects: list[Effect] = [Note("destroyed")]
        if self._fixed("destroy_stops_reconnect"):
            effects += self._abort_loop()
        if self.polling:
            effects += self._stop_polling()
        effects += self._terminate_socket()
        for tracker in self.prompts.values():
            if tracker.recovery:
                tracker.recovery = False
                effects.append(self.cancel_timer(f"grace:{tracker.label}"))
        return effects

    def statistics(self) -> dict[str, Any]:
        return {**super().statistics(), "state": self.state.value, "socket": self.socket,
                "sockets": len(self.sockets), "http": len(self.http), "polling": self.polling,
                "destroyed": self.destroyed}

    def __repr__(self) -> str:
        return f"ComfyClient({self.address!r}, {self.state.value})"


__all__ = ["AbortReconnect", "ClientOptions", "ComfyClient", "Destroy", "Init",
           "PromptTracker", "ReconnectLoop", "ReconnectWs", "SocketFlags", "SubmitPrompt",
           "ValidateConnection"]
