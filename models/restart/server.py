"""The ComfyUI server process: HTTP endpoints, a WebSocket at ``/ws``, status every 5 s.

It is the mock server of the document as a sans-IO node, with a real (in-memory) queue and
history so that a prompt's fate can be asked for: ``/prompt`` (GET: health, POST: enqueue),
``/queue``, ``/history`` and ``/history/<id>``, ``/system_stats``. Prompts run one at a
time with the mock's timers (``executing`` after 200 ms, ``executed`` 500 ms later,
``execution_success`` 100 ms after that), broadcast to every socket as the mock does.

Everything is in memory: a crash, or a new process after a restart, starts empty. Session
ids and prompt ids carry the process's incarnation, so a client can tell processes apart.

Death comes two ways. SIGKILL is the world's ``crash`` (peers see 1006). SIGTERM is the
:class:`Terminate` input: the mock's shutdown handler closes every socket with 1000
"Server shutting down" and stops listening (new upgrades and requests are refused), then
says ``process.exit`` once every socket is closed, or after 2 s at most. Whoever hosts the
node (the simulated world, or a real process) ends the process on that note.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import (
    AcceptConnection,
    CloseConnection,
    ConnectRequested,
    Effect,
    HttpRequestReceived,
    HttpRespond,
    Input,
    Note,
    RejectConnection,
    Send,
    Start,
    TimerFired,
    WsClosed,
    WsMessage,
)
from gatewaysim.simulator.node import HostContext, Node

from .config import RestartConfig
from .protocol import OUTPUT_NODE, WS_PATH, status_message

EXIT = "process.exit"
"""The note a server node gives when its process should end now."""
CLOSE_SHUTDOWN = 1000
SHUTDOWN_REASON = "Server shutting down"


@frozen
class Terminate(Input):
    """SIGTERM reached the process (the test harness's ``killServer``)."""


class ComfyServer(Node):
    """One server process. ``ctx.incarnation`` numbers the processes started on this port."""

    def __init__(self, ctx: HostContext, config: RestartConfig) -> None:
        super().__init__(ctx)
        self.config = config
        self.clients: dict[str, str] = {}  # conn -> peer, in accept order
        self.queue: list[str] = []  # prompt ids; the first is running
        self.history: dict[str, dict[str, Any]] = {}
        self.shutting_down = False
        self.exited = False
        self._prompts = 0
        self._sessions = 0
        self.statuses_sent = 0

    # ------------------------------------------------------------------ helpers
    @property
    def silent(self) -> bool:
        return self.config.mutant("silent_after_restart") and self.ctx.incarnation > 0

    def _broadcast(self, message: dict[str, Any]) -> list[Effect]:
        return [Send(conn, message) for conn in self.clients]

    def _status(self, sid: str | None = None) -> dict[str, Any]:
        return status_message(len(self.queue), sid)

    def _respond(self, req: str, status: int, body: Any) -> list[Effect]:
        return [HttpRespond(req, status, body)]

    # ------------------------------------------------------------------ inputs
    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case Start():
                return [Note("server.ready", {"incarnation": self.ctx.incarnation}),
                        self.set_timer("status", now + self.config.delay("status_interval"))]
            case ConnectRequested(conn=conn, peer=peer, request=request):
                return self._upgrade(conn, peer, request)
            case WsMessage(conn=conn, data=data):
                if isinstance(data, dict) and data.get("type") == "ping" and conn in self.clients:
                    return [Send(conn, {"type": "pong"})]
                return []
            case WsClosed(conn=conn):
                self.clients.pop(conn, None)
                return self._maybe_exit()
            case HttpRequestReceived():
                return self._http(now, inp)
            case TimerFired(key="status"):
                return self._tick(now)
            case TimerFired(key=key) if key.startswith("exec:"):
                return self._exec_step(now, key)
            case TimerFired(key="force_exit"):
                return self._exit("forced")
            case Terminate():
                return self._terminate(now)
        return []

    def _upgrade(self, conn: str, peer: str, request: dict[str, Any]) -> list[Effect]:
        if self.shutting_down:
            return [RejectConnection(conn, 0, "connection refused")]
        if request.get("path", WS_PATH) != WS_PATH:
            return [RejectConnection(conn, 404, "Not Found")]
        self.clients[conn] = peer
        self._sessions += 1
        effects: list[Effect] = [AcceptConnection(conn)]
        if not self.silent:
            sid = f"sid-{self.ctx.incarnation}-{self._sessions}"
            self.statuses_sent += 1
            effects.append(Send(conn, self._status(sid)))
        return effects

    def _tick(self, now: Time) -> list[Effect]:
        effects: list[Effect] = [self.set_timer("status",
                                                now + self.config.delay("status_interval"))]
        if self.clients and not self.silent:
            self.statuses_sent += len(self.clients)
            effects += self._broadcast(self._status())
        return effects

    # ------------------------------------------------------------------ HTTP
    def _http(self, now: Time, req: HttpRequestReceived) -> list[Effect]:
        if self.shutting_down:
            return self._respond(req.req, 503, None)
        method, path = req.method, req.path
        if method == "GET" and path == "/queue":
            running = [[0, pid, {}, {}, []] for pid in self.queue[:1]]
            pending = [[i + 1, pid, {}, {}, []] for i, pid in enumerate(self.queue[1:])]
            return self._respond(req.req, 200, {"queue_running": running,
                                                "queue_pending": pending})
        if method == "GET" and path == "/prompt":
            return self._respond(req.req, 200,
                                 {"exec_info": {"queue_remaining": len(self.queue)}})
        if method == "GET" and path == "/system_stats":
            return self._respond(req.req, 200, {"system": {"os": "mock", "ram_total": 16 * 10**9,
                                                           "ram_free": 8 * 10**9},
                                                "devices": []})
        if method == "GET" and path == "/history":
            return self._respond(req.req, 200, dict(self.history))
        if method == "GET" and path.startswith("/history/"):
            pid = path.removeprefix("/history/")
            entry = self.history.get(pid)
            return self._respond(req.req, 200, {pid: entry} if entry is not None else {})
        if method == "POST" and path == "/prompt":
            return self._enqueue(now, req)
        return self._respond(req.req, 404, "Not Found")

    def _enqueue(self, now: Time, req: HttpRequestReceived) -> list[Effect]:
        self._prompts += 1
        pid = f"p{self.ctx.incarnation}-{self._prompts}"
        self.queue.append(pid)
        effects: list[Effect] = [
            HttpRespond(req.req, 200, {"prompt_id": pid, "number": self._prompts,
                                       "node_errors": {}}),
            Note("prompt.accepted", {"prompt_id": pid})]
        if len(self.queue) == 1:
            effects += self._run_next(now)
        return effects

    def _run_next(self, now: Time) -> list[Effect]:
        if not self.queue:
            return []
        pid = self.queue[0]
        return [self.set_timer(f"exec:start:{pid}", now + self.config.delay("exec_start"))]

    def _exec_step(self, now: Time, key: str) -> list[Effect]:
        _, phase, pid = key.split(":", 2)
        cfg = self.config
        if phase == "start":
            return [*self._broadcast({"type": "executing",
                                      "data": {"node": None, "prompt_id": pid}}),
                    self.set_timer(f"exec:output:{pid}", now + cfg.delay("exec_output"))]
        if phase == "output":
            output = {"images": [{"filename": "mock_image.png", "subfolder": "",
                                  "type": "output"}]}
            self.history[pid] = {"status": {"status_str": "success", "completed": True},
                                 "outputs": {OUTPUT_NODE: output}}
            return [*self._broadcast({"type": "executed",
                                      "data": {"node": OUTPUT_NODE, "prompt_id": pid,
                                               "output": output}}),
                    self.set_timer(f"exec:success:{pid}", now + cfg.delay("exec_success"))]
        # success: the prompt leaves the queue, the next one starts
        if self.queue and self.queue[0] == pid:
            self.queue.pop(0)
        return [*self._broadcast({"type": "execution_success", "data": {"prompt_id": pid}}),
                Note("prompt.executed", {"prompt_id": pid}), *self._run_next(now)]

    # ------------------------------------------------------------------ shutdown
    def _terminate(self, now: Time) -> list[Effect]:
        if self.shutting_down:
            return []
        self.shutting_down = True
        effects: list[Effect] = [Note("server.shutting_down", {"sockets": len(self.clients)}),
                                 self.cancel_timer("status"),
                                 self.set_timer("force_exit",
                                                now + self.config.delay("force_exit"))]
        effects += [CloseConnection(conn, CLOSE_SHUTDOWN, SHUTDOWN_REASON)
                    for conn in self.clients]
        return effects + self._maybe_exit()

    def _maybe_exit(self) -> list[Effect]:
        if self.shutting_down and not self.clients:
            return self._exit("sockets closed")
        return []

    def _exit(self, why: str) -> list[Effect]:
        if self.exited:
            return []
        self.exited = True
        return [self.cancel_timer("force_exit"), Note(EXIT, {"why": why})]

    def statistics(self) -> dict[str, Any]:
        return {**super().statistics(), "clients": len(self.clients), "queue": list(self.queue),
                "history": len(self.history), "shutting_down": self.shutting_down}

    def __repr__(self) -> str:
        return f"ComfyServer({self.address!r}, incarnation={self.ctx.incarnation})"


__all__ = ["CLOSE_SHUTDOWN", "EXIT", "SHUTDOWN_REASON", "ComfyServer", "Terminate"]
