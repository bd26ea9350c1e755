"""Real sockets for the sans-IO nodes, with aiohttp: serve, dial, request.

Three calls: :func:`serve` (an aiohttp ``web.Application`` on 127.0.0.1 whose one route
hands WebSocket upgrades and HTTP requests to callbacks), :func:`dial` (open a WebSocket
with ``ClientSession.ws_connect``: a :class:`Socket`, or ``None`` and a status) and
:func:`request` (one JSON HTTP exchange). A :class:`Socket` is either end of a WebSocket:
``send(data)``, ``close(code, reason)``, ``abort()`` (drop the TCP connection: no close
frame, the peer sees 1006) and ``run(on_message, on_closed)``, which reads until the socket
is closed and reports the close once.

The close is reported as the simulated network reports it
(:mod:`gatewaysim.simulator.network`), because a difference would be a difference between
the simulated and the real run that no user could see for real:

* a close frame from the peer: its code and reason, clean, and the same code echoed back
  (aiohttp's ``autoclose`` would answer 1000 whatever came; the network echoes the code);
* a close this end started: the code of the peer's answer (its close frame), clean, once
  the closing handshake is over;
* no close frame (the peer aborted, crashed or exited, or this end aborted): 1006, not
  clean. aiohttp reports a connection that ended without a close frame as 1000 (its EOF
  path); here only a close frame makes a close clean.

Refusing an upgrade with status 0 (the model's "connection refused") drops the TCP
connection without an answer, so the dialling end sees a failed connect, as it would
against a port nobody listens on; any other status is an HTTP answer with that status.
aiohttp's client sends an idempotent request (the upgrade's GET included) once more when
the connection drops before an answer, so the refusing node sees such an upgrade twice;
the dialling node sees one failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from gatewaysim.simulator.errors import ConfigError

try:
    import aiohttp
    from aiohttp import web
except ImportError:  # pragma: no cover - depends on the environment
    aiohttp = None  # type: ignore[assignment]
    web = None  # type: ignore[assignment]

ABNORMAL = 1006
"""The close code of a connection that ended without a close frame."""
INSTALL_HINT = "running for real needs aiohttp: pip install 'gatewaysim[real]'"
CLOSE_TIMEOUT_S = 5.0
"""How long a closing handshake may wait for the peer's close frame (then 1006)."""
CONNECT_TIMEOUT_S = 10.0
"""How long an upgrade may wait for its answer (the simulated ``connect_timeout``)."""
HTTP_TIMEOUT_S = 30.0
"""The longest any HTTP exchange may take when the node sets no timeout of its own."""

OnMessage = Callable[[Any], None]
OnClosed = Callable[[int, str, bool], None]
"""``on_closed(code, reason, clean)``: ``clean`` when a close frame was exchanged."""
Upgrade = Callable[[str, dict[str, Any]], Awaitable[tuple]]
"""``on_upgrade(path, request) -> (accepted, status, reason[, response])``: ``response`` is
the accepting node's answer (``{"protocol": ...}`` picks the subprotocol)."""
HEADERS_HEADER = "X-Gatewaysim-Headers"
"""Names the headers that are the node's own (the rest are the HTTP stack's): the far end
gives its node exactly those, as the simulated network hands over the request's dict."""
Established = Callable[["Socket", dict[str, Any]], Awaitable[None]]
"""``on_socket(socket, request)``: runs for the socket's whole life."""
Request = Callable[[str, str, dict[str, str], Any], Awaitable[tuple[int, Any]]]
"""``on_request(method, path, headers, body) -> (status, body)``."""


def available() -> bool:
    return aiohttp is not None


def require() -> None:
    """Raise :class:`ConfigError` (one line, exit status 2) when aiohttp is missing."""
    if aiohttp is None:
        raise ConfigError(INSTALL_HINT)


class Listening:
    """A listening server: its port, and how to stop listening."""

    def __init__(self, port: int, stop: Callable[[], Awaitable[None]]) -> None:
        self.port = port
        self._stop = stop

    async def close(self) -> None:
        await self._stop()

    def __repr__(self) -> str:
        return f"Listening(port={self.port})"


class Socket:
    """One end of an aiohttp WebSocket (``web.WebSocketResponse`` or the client's).

    :meth:`run` reads; sends go through one writer task, in the order the node gave them,
    and so does the close (after the sends before it). What the node sent before
    :meth:`run` is written at once, in the loop turn that answered the upgrade: a server's
    first frames leave with its answer, as they do from the mock's ``connection`` handler.

    The closing handshake differs by end, because aiohttp's do:

    * client: ``close()`` from the writer task while :meth:`run` waits in ``receive()``
      (aiohttp hands the reader over and waits for the server's close frame). :meth:`run`
      awaits ``receive()`` itself, so a frame that arrived with the upgrade answer is
      handled in the same loop turn as the open.
    * server: aiohttp's ``close()`` from another task while ``receive()`` waits shuts TCP
      right after its own close frame, without the client's answer; a close frame the
      client sent at the same moment then meets a closed socket, the kernel answers with a
      reset and the client can lose the close frame it had not read yet (1006 where the
      network says 1000). So a server end receives in a task of its own, and on a close
      request :meth:`run` stops that task and closes itself, reading the client's answer.

    ``transport`` is the TCP transport :meth:`abort` drops.
    """

    def __init__(self, ws: Any, transport: Any, *, server: bool,
                 session: Any = None, flushed: Callable[[], None] | None = None) -> None:
        self.ws = ws
        self._flushed = flushed  # called once what was sent before run() is written
        self.transport = transport
        self.server = server
        self.session = session
        self.close_sent: tuple[int, str] | None = None
        self.aborted = False
        self.done = False
        self._initiated = False  # the node asked to close (not an echo)
        self._close_now: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._out: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._writer: asyncio.Future | None = None  # started by run()

    # ------------------------------------------------------------------ the node's calls
    def send(self, data: Any) -> None:
        if self.close_sent is None and not self.aborted:
            self._out.put_nowait(("text", data))

    def close(self, code: int, reason: str = "") -> None:
        """Start the closing handshake (after what was sent before)."""
        if self.close_sent is None and not self.aborted:
            self.close_sent = (code, reason)
            self._initiated = True
            self._out.put_nowait(("close", None))

    def abort(self) -> None:
        """Drop the TCP connection now: no close frame either way."""
        self.aborted = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    @property
    def closing(self) -> bool:
        """This end asked to close and the socket is not done yet."""
        return self._initiated and not self.done and not self.aborted

    # ------------------------------------------------------------------ writing
    async def _send_queued(self) -> bool:
        """Write what is queued now, with no suspension between frames; True at a close."""
        while not self._out.empty():
            kind, value = self._out.get_nowait()
            if kind == "close":
                return True
            await self.ws.send_str(json.dumps(value))
        return False

    async def _write(self) -> None:
        while True:
            kind, value = await self._out.get()
            if kind == "close":
                if self.server:
                    self._close_now.set_result(None)
                else:
                    await self._close()
                return
            try:
                await self.ws.send_str(json.dumps(value))
            except (ConnectionError, RuntimeError, aiohttp.ClientError):
                return  # the connection is gone: run() reports it

    async def _close(self) -> None:
        assert self.close_sent is not None
        code, reason = self.close_sent
        with contextlib.suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
            await self.ws.close(code=code, message=reason.encode())

    def _answer(self) -> tuple[int, str] | None:
        """After our close: the peer's answer (its code, our reason), or ``None``."""
        answer = self.ws.close_code
        if answer is None or int(answer) == ABNORMAL or self.aborted:
            return None
        assert self.close_sent is not None
        return int(answer), self.close_sent[1]

    # ------------------------------------------------------------------ reading
    async def _next(self) -> Any:
        """The next message, or ``None`` when a server end is asked to close."""
        if not self.server:
            return await self.ws.receive()
        if self._close_now.done():
            return None
        receiving = asyncio.ensure_future(self.ws.receive())
        try:
            await asyncio.wait((receiving, self._close_now),
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not receiving.done():
                receiving.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await receiving
        if receiving.cancelled():
            return None
        return receiving.result()

    async def run(self, on_message: OnMessage, on_closed: OnClosed) -> None:
        """Read until the socket closes; report the close exactly once."""
        frame: tuple[int, str] | None = None  # the close frame that ended it, if any
        try:
            closing = await self._send_queued()
            if self._flushed is not None:
                self._flushed()
            if closing:
                await self._close()
                frame = self._answer()
                return
            self._writer = asyncio.ensure_future(self._write())
            while True:
                msg = await self._next()
                if msg is None:  # a server end closes (see the class docstring)
                    await self._close()
                    frame = self._answer()
                    break
                if msg.type == aiohttp.WSMsgType.TEXT:
                    with contextlib.suppress(ValueError):
                        on_message(json.loads(msg.data))
                elif msg.type == aiohttp.WSMsgType.CLOSE and not self.aborted:
                    frame = (int(msg.data), msg.extra or "")
                    if self.close_sent is None:  # echo the peer's code, as the network does
                        self.close_sent = frame
                        await self._close()
                    elif self.server:  # both ends closing: ours must still go out
                        if self._writer is not None:
                            self._writer.cancel()
                        with contextlib.suppress(ConnectionError, RuntimeError):
                            await self._send_queued()
                        await self._close()
                    break
                elif msg.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.PING,
                                      aiohttp.WSMsgType.PONG):
                    break  # CLOSING (a client's close runs), CLOSED (no frame), ERROR
        except (ConnectionError, asyncio.IncompleteReadError, aiohttp.ClientError):
            pass
        finally:
            writer = self._writer
            if writer is not None and self._initiated and not self.aborted:
                # a client's close runs in the writer task: its handshake decides
                await asyncio.wait((writer,), timeout=CLOSE_TIMEOUT_S * 2)  # never raises
                if frame is None and not self.server:
                    frame = self._answer()
            if writer is not None and not writer.done():
                writer.cancel()
            if self.session is not None:
                with contextlib.suppress(Exception):
                    await self.session.close()
            self.done = True
            if frame is None:
                on_closed(ABNORMAL, "aborted" if self.aborted else "connection lost", False)
            else:
                on_closed(frame[0], frame[1], True)

    def __repr__(self) -> str:
        return (f"Socket(server={self.server}, close_sent={self.close_sent!r}, "
                f"done={self.done})")


class _Cork:
    """``TCP_CORK`` on a connection until :meth:`open`: the upgrade's answer and the frames
    the node sent with its accept leave together, as one write does from a server that
    sends from its ``connection`` handler. A client that read the answer alone would report
    the open a moment before those frames, and a script step could fall in between (the
    simulated network delivers them at the same instant). Without ``TCP_CORK`` (not Linux)
    it does nothing."""

    def __init__(self, transport: Any) -> None:
        option = getattr(socket, "TCP_CORK", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        self._sock = sock if option is not None else None
        self._set(1)

    def _set(self, value: int) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, value)

    def open(self) -> None:
        self._set(0)
        self._sock = None


async def serve(on_upgrade: Upgrade, on_socket: Established, on_request: Request,
                host: str = "127.0.0.1", port: int = 0) -> Listening:
    """Listen on ``host:port`` (0: any free port): upgrades go to ``on_upgrade`` then
    ``on_socket``, every other request to ``on_request``."""
    require()

    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path
        if request.headers.get("Upgrade", "").lower() == "websocket":
            req: dict[str, Any] = {"path": path, **dict(request.query)}
            own = node_headers(request.headers)
            if own is not None:
                req["headers"] = own
            offered = request.headers.get("Sec-WebSocket-Protocol")
            if offered is not None:
                req["protocols"] = [p.strip() for p in offered.split(",") if p.strip()]
            answer = await on_upgrade(path, req)
            ok, status, reason = answer[:3]
            response = answer[3] if len(answer) > 3 else {}
            if not ok and not status:  # refused: no answer at all
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=503)  # goes nowhere: the connection is gone
            if not ok:
                return web.json_response({"error": reason}, status=status)
            chosen = (response or {}).get("protocol")
            ws = web.WebSocketResponse(autoclose=False, autoping=True,
                                       timeout=CLOSE_TIMEOUT_S,
                                       protocols=(chosen,) if chosen else ())
            cork = _Cork(request.transport)  # the answer and the first frames: one segment
            await ws.prepare(request)
            await on_socket(Socket(ws, request.transport, server=True, flushed=cork.open),
                            req)
            return ws
        body = None
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                body = await request.json()
        status, answer = await on_request(request.method, path, dict(request.headers), body)
        return web.json_response(answer, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = runner.addresses[0][1]
    return Listening(bound, runner.cleanup)


def _tracing(found: dict[str, Any]) -> Any:
    """A trace config that keeps the upgrade's TCP transport in ``found`` (what
    :meth:`Socket.abort` drops: aiohttp's client WebSocket does not expose it)."""

    async def on_request_end(session: Any, context: SimpleNamespace, params: Any) -> None:
        connection = params.response.connection
        if connection is not None:
            found["transport"] = connection.transport

    config = aiohttp.TraceConfig()
    config.on_request_end.append(on_request_end)
    return config


def node_headers(headers: Any) -> dict[str, str] | None:
    """The headers a node sent (named in :data:`HEADERS_HEADER`), or ``None`` if it named
    none."""
    lower = {str(k).lower(): v for k, v in headers.items()}
    names = lower.get(HEADERS_HEADER.lower())
    if names is None:
        return None
    return {name: lower[name.lower()] for name in names.split(",")
            if name and name.lower() in lower}


def with_node_headers(own: dict[str, Any] | None,
                      extra: dict[str, str] | None = None) -> dict[str, str]:
    """Real request headers carrying a node's own ``own`` (and ``extra``, the host's)."""
    out = {str(k): str(v) for k, v in (own or {}).items()}
    if own is not None:
        out[HEADERS_HEADER] = ",".join(out)
    out.update(extra or {})
    return out


async def dial(url: str, query: dict[str, str], headers: dict[str, str] | None = None,
               protocols: tuple[str, ...] = ()) -> tuple[Socket | None, int, str]:
    """Open a WebSocket to ``url``: a socket, or ``None`` with the status (0: no answer).

    ``headers`` go with the upgrade; ``protocols`` is its ``Sec-WebSocket-Protocol``."""
    require()
    found: dict[str, Any] = {}
    session = aiohttp.ClientSession(trace_configs=[_tracing(found)],
                                    timeout=aiohttp.ClientTimeout(total=CONNECT_TIMEOUT_S))
    try:
        ws = await session.ws_connect(
            url, params=query, autoclose=False, autoping=True, headers=headers,
            protocols=protocols, timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT_S))
    except aiohttp.WSServerHandshakeError as exc:
        await session.close()
        return None, exc.status, "upgrade refused"
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        await session.close()
        return None, 0, f"connection refused ({type(exc).__name__})"
    except BaseException:  # cancelled: the node closed the socket before it opened
        await session.close()
        raise
    return Socket(ws, found.get("transport"), server=False, session=session), 101, ""


async def request(url: str, method: str, path: str, body: Any,
                  headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One JSON HTTP exchange (``ConnectionError`` when the server cannot be reached)."""
    require()
    try:
        async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)) as session, \
                session.request(method, url + path, json=body, headers=headers) as resp:
            try:
                answer = await resp.json(content_type=None)
            except ValueError:
                answer = await resp.text()
            return resp.status, answer
    except aiohttp.ClientError as exc:
        raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc


__all__ = ["ABNORMAL", "HEADERS_HEADER", "INSTALL_HINT", "Listening", "Socket", "available",
           "dial", "node_headers", "request", "require", "serve", "with_node_headers"]
