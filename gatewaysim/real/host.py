"""A sans-IO node on a real asyncio loop, with real sockets: the world's job, done for real.

:class:`RealHost` does for one node what :class:`~gatewaysim.simulator.world.World` does
for every node: it hands the node its inputs, records each input and each effect in a
:class:`~gatewaysim.simulator.trace.Trace`, and applies the effects after ``handle``
returns, in order: timers on the loop's clock, WebSockets and HTTP exchanges over
:mod:`.transport` on 127.0.0.1. The node is the model's core, unchanged.

Times are microseconds since the host's :class:`RealClock` started (the loop's monotonic
clock): the one place in gatewaysim where real time is read. Connection and request ids
travel with the upgrade and the request (``conn`` and ``peer`` query parameters, two
headers), so both ends use the ids the simulated network would have used and their traces
line up.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from typing import Any

from gatewaysim.simulator.clock import SECOND, Time
from gatewaysim.simulator.messages import (
    AcceptConnection,
    CancelTimer,
    CloseConnection,
    ConnectRequested,
    Effect,
    HttpFailed,
    HttpRequest,
    HttpRequestReceived,
    HttpRespond,
    HttpResponse,
    Input,
    Note,
    OpenConnection,
    RejectConnection,
    Send,
    SetTimer,
    Start,
    TimerFired,
    WsClosed,
    WsMessage,
    WsOpened,
    WsRejected,
)
from gatewaysim.simulator.node import SocketView
from gatewaysim.simulator.rng import derive_seed
from gatewaysim.simulator.trace import IN, OUT, Trace

from . import transport

REQ_HEADER, PEER_HEADER = "X-Gatewaysim-Req", "X-Gatewaysim-Peer"


class RealClock:
    """Microseconds since the clock was made, read from the running loop's clock."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()

    def now(self) -> Time:
        return round((self.loop.time() - self.t0) * SECOND)

    def delay_until(self, at: Time) -> float:
        return max(0.0, (at - self.now()) / SECOND)


class RealContext:
    """What a node may read about its host (the real twin of ``HostContext``)."""

    def __init__(self, host: RealHost, incarnation: int, seed: int) -> None:
        self._host = host
        self.address = host.address
        self.incarnation = incarnation
        self.rng = random.Random(derive_seed(seed, f"host:{host.address}#{incarnation}"))
        self.storage: dict[str, Any] = {}

    def get_alarm(self) -> Time | None:
        return None

    def get_websockets(self) -> list[SocketView]:
        return [SocketView(conn, self._host.peers_of.get(conn, ""), None, "OPEN")
                for conn in self._host.sockets if conn in self._host.peers_of]

    def __repr__(self) -> str:
        return f"RealContext({self.address!r}, incarnation={self.incarnation})"


class RealHost:
    """One node on the loop. ``resolve(address)`` gives a peer's base URL (``http://...``)."""

    def __init__(self, address: str, factory: Callable[[Any], Any], trace: Trace,
                 clock: RealClock, resolve: Callable[[str], str] | Mapping[str, str],
                 *, incarnation: int = 0, seed: int = 0,
                 on_note: Callable[[str, dict], None] | None = None) -> None:
        self.address = address
        self.factory = factory
        self.trace = trace
        self.clock = clock
        self.resolve = resolve if callable(resolve) else resolve.__getitem__
        self.incarnation = incarnation
        self.seed = seed
        self.on_note = on_note
        self.node: Any = None
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.sockets: dict[str, Any] = {}
        self.peers_of: dict[str, str] = {}
        self.dialing: dict[str, asyncio.Task] = {}
        self.upgrades: dict[str, asyncio.Future] = {}
        self.early: dict[str, list[Effect]] = {}  # effects for accepted, not yet open sockets
        self.responses: dict[str, asyncio.Future] = {}
        self.tasks: set[asyncio.Task] = set()
        self.listening: Any = None
        self.errors: list[BaseException] = []

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        self.node = self.factory(RealContext(self, self.incarnation, self.seed))
        self.deliver(Start(self.incarnation))

    async def listen(self, port: int = 0, host: str = "127.0.0.1") -> int:
        self.listening = await transport.serve(self._on_upgrade, self._on_socket,
                                               self._on_request, host, port)
        return self.listening.port

    async def close(self, settle_s: float = transport.CLOSE_TIMEOUT_S) -> None:
        """Stop: timers, tasks, sockets (aborted) and the listening socket.

        Timers stop first; then a socket whose closing handshake is under way gets up to
        ``settle_s`` to finish, so that its close is reported as the simulated world reports
        it (a script that ends right after ``destroy()`` and a kill still sees the client's
        close, and no timer of the stopped script opens anything meanwhile).
        """
        for handle in self.timers.values():  # first: no timer starts anything new
            handle.cancel()
        self.timers.clear()
        loop = self.clock.loop
        deadline = loop.time() + settle_s
        while (any(sock.closing for sock in self.sockets.values())
               and loop.time() < deadline):
            await asyncio.sleep(0.002)
        for sock in list(self.sockets.values()):
            sock.abort()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.listening is not None:
            await self.listening.close()
            self.listening = None

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())  # type: ignore[arg-type]

    # ------------------------------------------------------------------ delivery
    def deliver(self, inp: Input) -> None:
        """Hand ``inp`` to the node now, record it, and apply what it returns."""
        if self.node is None:
            return
        now = self.clock.now()
        self.trace.emit_value(now, self.address, IN, inp)
        effects = self.node.handle(now, inp)
        for eff in effects or ():
            self.trace.emit_value(now, self.address, OUT, eff)
            self._apply(eff)

    def _apply(self, eff: Effect) -> None:
        match eff:
            case SetTimer(key=key, at=at):
                old = self.timers.pop(key, None)
                if old is not None:
                    old.cancel()
                self.timers[key] = self.clock.loop.call_later(self.clock.delay_until(at),
                                                              self._timer, key)
            case CancelTimer(key=key):
                handle = self.timers.pop(key, None)
                if handle is not None:
                    handle.cancel()
            case OpenConnection(conn=conn, to=to, request=request):
                self.dialing[conn] = self._spawn(self._dial(conn, to, request))
            case AcceptConnection(conn=conn):
                self._answer_upgrade(conn, (True, 101, ""))
            case RejectConnection(conn=conn, status=status, reason=reason):
                self._answer_upgrade(conn, (False, status, reason))
            case Send(conn=conn, data=data):
                if conn in self.early:
                    self.early[conn].append(eff)
                elif conn in self.sockets:
                    self.sockets[conn].send(data)
            case CloseConnection(conn=conn, code=code, reason=reason):
                self._close(conn, code, reason, eff)
            case HttpRequest():
                self._spawn(self._request(eff))
            case HttpRespond(req=req, status=status, body=body):
                fut = self.responses.pop(req, None)
                if fut is not None and not fut.done():
                    fut.set_result((status, body))
            case Note(event=event, data=data):
                if self.on_note is not None:
                    self.on_note(event, data)
            case _:
                raise NotImplementedError(f"{self.address}: the real host cannot apply {eff!r}")

    def _timer(self, key: str) -> None:
        self.timers.pop(key, None)
        self.deliver(TimerFired(key))

    # ------------------------------------------------------------------ client side
    async def _dial(self, conn: str, to: str, request: dict[str, Any]) -> None:
        query = {k: str(v) for k, v in request.items() if k != "path"}
        query.update(conn=conn, peer=self.address)
        url = self.resolve(to) + request.get("path", "/")
        try:
            sock, status, reason = await transport.dial(url, query)
        finally:
            self.dialing.pop(conn, None)
        if sock is None:
            self.deliver(WsRejected(conn, status, reason))
            return
        self.sockets[conn] = sock
        self.deliver(WsOpened(conn))
        await sock.run(lambda data: self.deliver(WsMessage(conn, data)),
                       lambda code, why, clean: self._closed(conn, code, why, clean))

    def _closed(self, conn: str, code: int, reason: str, clean: bool) -> None:
        self.sockets.pop(conn, None)
        self.peers_of.pop(conn, None)
        self.deliver(WsClosed(conn, code, reason, clean))

    def _close(self, conn: str, code: int, reason: str, eff: Effect) -> None:
        task = self.dialing.pop(conn, None)
        if task is not None:  # closing before open fails the connection (1006)
            task.cancel()
            self.clock.loop.call_soon(self.deliver,
                                      WsClosed(conn, 1006, "closed before open", False))
        elif conn in self.early:
            self.early[conn].append(eff)
        elif conn in self.sockets:
            self.sockets[conn].close(code, reason)

    def abort(self, conn: str) -> bool:
        """Drop ``conn``'s TCP connection (the ``drop`` fault, for real)."""
        sock = self.sockets.get(conn)
        if sock is None:
            return False
        sock.abort()
        return True

    async def _request(self, eff: HttpRequest) -> None:
        url = self.resolve(eff.to)
        timeout = None if eff.timeout is None else eff.timeout / SECOND
        headers = {REQ_HEADER: eff.req, PEER_HEADER: self.address}
        try:
            status, body = await asyncio.wait_for(
                transport.request(url, eff.method, eff.path, eff.body, headers), timeout)
        except TimeoutError:
            self.deliver(HttpFailed(eff.req, "timeout"))
            return
        except (OSError, ConnectionError) as exc:
            self.deliver(HttpFailed(eff.req, f"connection refused ({type(exc).__name__})"))
            return
        self.deliver(HttpResponse(eff.req, status, body))

    # ------------------------------------------------------------------ server side
    def _answer_upgrade(self, conn: str, answer: tuple[bool, int, str]) -> None:
        fut = self.upgrades.pop(conn, None)
        if fut is not None and not fut.done():
            if answer[0]:
                self.early[conn] = []
            fut.set_result(answer)

    async def _on_upgrade(self, path: str, request: dict[str, Any]) -> tuple[bool, int, str]:
        conn = request.pop("conn", None) or f"{self.address}:in{len(self.upgrades)}"
        peer = request.pop("peer", "")
        request["conn"] = conn
        fut = self.clock.loop.create_future()
        self.upgrades[conn] = fut
        self.peers_of[conn] = peer
        clean = {k: v for k, v in request.items() if k != "conn"}
        self.deliver(ConnectRequested(conn, peer, clean))
        return await fut

    async def _on_socket(self, sock: Any, request: dict[str, Any]) -> None:
        conn = request["conn"]
        self.sockets[conn] = sock
        for eff in self.early.pop(conn, []):
            self._apply(eff)
        await sock.run(lambda data: self.deliver(WsMessage(conn, data)),
                       lambda code, why, clean: self._closed(conn, code, why, clean))

    async def _on_request(self, method: str, path: str, headers: dict[str, str],
                          body: Any) -> tuple[int, Any]:
        lower = {k.lower(): v for k, v in headers.items()}
        req = lower.get(REQ_HEADER.lower()) or f"{self.address}:r{len(self.responses)}"
        peer = lower.get(PEER_HEADER.lower(), "")
        fut = self.clock.loop.create_future()
        self.responses[req] = fut
        self.deliver(HttpRequestReceived(req, peer, method, path, {}, body))
        return await fut

    def __repr__(self) -> str:
        return f"RealHost({self.address!r}, incarnation={self.incarnation})"


__all__ = ["RealClock", "RealContext", "RealHost"]
