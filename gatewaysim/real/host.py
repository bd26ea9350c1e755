"""A sans-IO node on a real asyncio loop, with real sockets: the world's job, done for real.

:class:`RealHost` does for one node what :class:`~gatewaysim.simulator.world.World` does
for every node: it hands the node its inputs, records each input and each effect in a
:class:`~gatewaysim.simulator.trace.Trace`, and applies the effects after ``handle``
returns, in order: timers on the loop's clock, WebSockets and HTTP exchanges over
:mod:`.transport` on 127.0.0.1. The node is the model's core, unchanged.

Times are microseconds since the host's :class:`RealClock` started (the loop's monotonic
clock): the one place in gatewaysim where real time is read. Connection and request ids
travel with the upgrade and the request (``conn``, ``peer`` and ``to`` query parameters,
three headers), so both ends use the ids the simulated network would have used and their
traces line up; ``to`` names the node addressed, for a process that holds several
(:mod:`.site`). A request's own headers and an upgrade's ``headers`` and ``protocols``
travel as real headers (``Sec-WebSocket-Protocol`` for the protocols), and the far end
hands its node exactly what the simulated network would.

What a Durable Object reads from its runtime is here too: its alarm (:mod:`.alarms`, the
kernel's rules on the loop's clock), its durable storage (a dict in the process, read
through the kernel's read-only view), and its accepted sockets with their attachments
and ready states; ``SetAutoResponse`` answers a frame without waking the node, and
``ForwardConnection`` hands an upgrade to another node of the same process.
"""

from __future__ import annotations

import asyncio
import copy
import random
from collections.abc import Callable, Mapping
from typing import Any

from gatewaysim.simulator.clock import SECOND, Time
from gatewaysim.simulator.errors import DeterminismError, FailedWithEffects
from gatewaysim.simulator.messages import (
    AcceptConnection,
    CancelTimer,
    CloseConnection,
    ConnectRequested,
    DeleteAlarm,
    Effect,
    ForwardConnection,
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
    SetAlarm,
    SetAttachment,
    SetAutoResponse,
    SetTimer,
    Start,
    StorageDelete,
    StoragePut,
    TimerFired,
    WsClosed,
    WsMessage,
    WsOpened,
    WsRejected,
)
from gatewaysim.simulator.node import SocketView
from gatewaysim.simulator.rng import derive_seed
from gatewaysim.simulator.trace import IN, OUT, SYS, Trace
from gatewaysim.simulator.world import StorageView

from . import transport
from .alarms import LoopAlarms

REQ_HEADER, PEER_HEADER = "X-Gatewaysim-Req", "X-Gatewaysim-Peer"
TO_HEADER, PATH_HEADER = "X-Gatewaysim-To", "X-Gatewaysim-Path"
METHOD_HEADER = "X-Gatewaysim-Method"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
"""Methods that go on the wire as they are; another (a model's ``RPC``, standing for a
Workers RPC call) goes as a POST naming it in :data:`METHOD_HEADER`: HTTP parsers refuse
methods they do not know."""
OPEN, CLOSING = "OPEN", "CLOSING"

Forward = Callable[[str, str, dict[str, Any], Any, str], None]
"""``forward(conn, to, request, answer, peer)``: hand a pending upgrade to node ``to``."""


class RealClock:
    """Microseconds since ``origin`` (a reading of the loop's clock; default: now).

    Processes that share an origin share a time base: the loop's clock is
    ``time.monotonic()``, one clock for every process on the machine.
    """

    def __init__(self, origin: float | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time() if origin is None else origin

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

    @property
    def storage(self) -> StorageView:
        """Durable storage (the process's), read-only: write it with ``StoragePut``."""
        return StorageView(self._host.storage)

    def get_alarm(self) -> Time | None:
        return self._host.alarms.get()

    def get_websockets(self) -> list[SocketView]:
        """Accepted sockets that are OPEN or CLOSING, in the order they were accepted."""
        host = self._host
        return [SocketView(conn, host.peers_of.get(conn, ""), attachment, state)
                for conn, (attachment, state) in host.listed.items()]

    def __repr__(self) -> str:
        return f"RealContext({self.address!r}, incarnation={self.incarnation})"


class RealHost:
    """One node on the loop. ``resolve(address)`` gives a peer's base URL (``http://...``)."""

    def __init__(self, address: str, factory: Callable[[Any], Any], trace: Trace,
                 clock: RealClock, resolve: Callable[[str], str] | Mapping[str, str],
                 *, incarnation: int = 0, seed: int = 0,
                 on_note: Callable[[str, dict], None] | None = None,
                 forward: Forward | None = None) -> None:
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
        self.forward = forward
        self.storage: dict[str, Any] = {}
        self.alarms = LoopAlarms(self)
        self.listed: dict[str, list[Any]] = {}  # accepted conn -> [attachment, ready state]
        self.auto: dict[str, str] = {}  # SetAutoResponse: frame -> answer

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
        self.alarms.close()
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
        try:
            effects = self.node.handle(now, inp)
        except Exception as exc:  # a model that raises: the run reports it, not a log line
            self.errors.append(exc)
            raise
        self._apply_all(now, effects)

    def _apply_all(self, now: Time, effects: list[Effect] | None) -> None:
        for eff in effects or ():
            self.trace.emit_value(now, self.address, OUT, eff)
            self._apply(eff)

    def deliver_alarm(self, inp: Input) -> str | None:
        """Run ``alarm()`` as the world does: the error text if the handler raised."""
        if self.node is None:
            return None
        now = self.clock.now()
        self.trace.emit_value(now, self.address, IN, inp)
        try:
            effects = self.node.handle(now, inp)
        except DeterminismError:
            raise
        except Exception as exc:  # the runtime catches and retries
            if isinstance(exc, FailedWithEffects):
                self._apply_all(now, exc.effects)
            text = f"{type(exc).__name__}: {exc}"
            self.trace.emit(now, self.address, SYS, "alarm.failed", {"error": text})
            return text
        self._apply_all(now, effects)
        return None

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
            case AcceptConnection(conn=conn, attachment=attachment, response=response):
                if conn in self.upgrades:
                    self.listed[conn] = [attachment, OPEN]
                self._answer_upgrade(conn, (True, 101, "", dict(response)))
            case RejectConnection(conn=conn, status=status, reason=reason):
                self._answer_upgrade(conn, (False, status, reason))
            case ForwardConnection(conn=conn, to=to, request=request):
                answer = self.upgrades.pop(conn, None)
                if answer is not None and self.forward is not None:
                    self.forward(conn, to, dict(request), answer,
                                 self.peers_of.pop(conn, ""))
                elif answer is not None and not answer.done():
                    answer.set_result((False, 502, f"no route to {to}"))
            case SetAttachment(conn=conn, attachment=attachment):
                if conn in self.listed:
                    self.listed[conn][0] = attachment
            case SetAutoResponse(request=request, response=response):
                self.auto[request] = response
            case SetAlarm(at=at):
                self.alarms.set(at)
            case DeleteAlarm():
                self.alarms.delete()
            case StoragePut(key=key, value=value):
                self.storage[key] = copy.deepcopy(value)
            case StorageDelete(key=key):
                self.storage.pop(key, None)
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
        special = ("path", "headers", "protocols")
        query = {k: str(v) for k, v in request.items() if k not in special}
        query.update(conn=conn, peer=self.address, to=to)
        url = self.resolve(to) + request.get("path", "/")
        headers = (transport.with_node_headers(request["headers"])
                   if "headers" in request else None)
        try:
            sock, status, reason = await transport.dial(
                url, query, headers, tuple(request.get("protocols") or ()))
        finally:
            self.dialing.pop(conn, None)
        if sock is None:
            self.deliver(WsRejected(conn, status, reason))
            return
        self.sockets[conn] = sock
        protocol = getattr(sock.ws, "protocol", None)
        self.deliver(WsOpened(conn, {"protocol": protocol} if protocol else {}))
        await sock.run(lambda data: self.deliver(WsMessage(conn, data)),
                       lambda code, why, clean: self._closed(conn, code, why, clean))

    def _closed(self, conn: str, code: int, reason: str, clean: bool) -> None:
        self.sockets.pop(conn, None)
        self.peers_of.pop(conn, None)
        self.listed.pop(conn, None)
        self.deliver(WsClosed(conn, code, reason, clean))

    def _close(self, conn: str, code: int, reason: str, eff: Effect) -> None:
        task = self.dialing.pop(conn, None)
        if task is not None:  # closing before open fails the connection (1006)
            task.cancel()
            self.clock.loop.call_soon(self.deliver,
                                      WsClosed(conn, 1006, "closed before open", False))
        elif conn in self.early:
            self.early[conn].append(eff)
            if conn in self.listed:
                self.listed[conn][1] = CLOSING
        elif conn in self.sockets:
            self.sockets[conn].close(code, reason)
            if conn in self.listed:
                self.listed[conn][1] = CLOSING

    def close_socket(self, conn: str, code: int, reason: str = "") -> None:
        """Start the closing handshake of ``conn`` from outside the node."""
        self._close(conn, code, reason, CloseConnection(conn, code, reason))

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
        extra = {REQ_HEADER: eff.req, PEER_HEADER: self.address, TO_HEADER: eff.to}
        path, method = eff.path, eff.method
        if not path.startswith("/"):  # an RPC name, not a URL path: sent as it is
            extra[PATH_HEADER] = path
            path = "/" + path
        if method not in HTTP_METHODS:
            extra[METHOD_HEADER] = method
            method = "POST"
        headers = transport.with_node_headers(eff.headers, extra)
        try:
            status, body = await asyncio.wait_for(
                transport.request(url, method, path, eff.body, headers), timeout)
        except TimeoutError:
            self.deliver(HttpFailed(eff.req, "timeout"))
            return
        except (OSError, ConnectionError) as exc:
            self.deliver(HttpFailed(eff.req, f"connection refused ({type(exc).__name__})"))
            return
        self.deliver(HttpResponse(eff.req, status, body))

    # ------------------------------------------------------------------ server side
    def _answer_upgrade(self, conn: str, answer: tuple) -> None:
        fut = self.upgrades.pop(conn, None)
        if fut is None:
            return
        if fut.done():  # the dialler is gone (its upgrade timed out)
            self.listed.pop(conn, None)
            return
        if answer[0]:
            self.early[conn] = []
        else:
            self.peers_of.pop(conn, None)
        fut.set_result(answer)

    def expect_upgrade(self, conn: str, peer: str, request: dict[str, Any],
                       answer: asyncio.Future) -> None:
        """Hand the node an upgrade; ``answer`` gets the accept or reject it decides."""
        self.upgrades[conn] = answer
        self.peers_of[conn] = peer
        self.deliver(ConnectRequested(conn, peer, request))

    async def _on_upgrade(self, path: str, request: dict[str, Any]) -> tuple:
        conn = request.pop("conn", None) or f"{self.address}:in{len(self.upgrades)}"
        peer = request.pop("peer", "")
        request.pop("to", None)
        clean = dict(request)
        request["conn"] = conn
        fut = self.clock.loop.create_future()
        self.expect_upgrade(conn, peer, clean, fut)
        return await fut

    async def _on_socket(self, sock: Any, request: dict[str, Any]) -> None:
        conn = request["conn"]
        self.sockets[conn] = sock
        for eff in self.early.pop(conn, []):
            self._apply(eff)
        await sock.run(lambda data: self._message(conn, data),
                       lambda code, why, clean: self._closed(conn, code, why, clean))

    def _message(self, conn: str, data: Any) -> None:
        """A frame on an accepted socket: answered by an auto-response, or delivered."""
        if self.auto and isinstance(data, str) and data in self.auto and conn in self.listed:
            self.trace.emit(self.clock.now(), self.address, SYS, "auto_response",
                            {"conn": conn, "request": data, "response": self.auto[data]})
            sock = self.sockets.get(conn)
            if sock is not None:
                sock.send(self.auto[data])
            return
        self.deliver(WsMessage(conn, data))

    async def _on_request(self, method: str, path: str, headers: dict[str, str],
                          body: Any) -> tuple[int, Any]:
        lower = {k.lower(): v for k, v in headers.items()}
        req = lower.get(REQ_HEADER.lower()) or f"{self.address}:r{len(self.responses)}"
        peer = lower.get(PEER_HEADER.lower(), "")
        path = lower.get(PATH_HEADER.lower(), path)
        method = lower.get(METHOD_HEADER.lower(), method)
        own = transport.node_headers(headers) or {}
        fut = self.clock.loop.create_future()
        self.responses[req] = fut
        self.deliver(HttpRequestReceived(req, peer, method, path, own, body))
        return await fut

    def __repr__(self) -> str:
        return f"RealHost({self.address!r}, incarnation={self.incarnation})"


__all__ = ["RealClock", "RealContext", "RealHost"]
