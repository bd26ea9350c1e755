"""Real sockets for the sans-IO nodes: aiohttp when it is installed, else :mod:`.wire`.

Three calls, the same for both backends: :func:`serve` (listen; upgrades and requests go to
callbacks), :func:`dial` (open a WebSocket; a :class:`Socket`-like value or a status) and
:func:`request` (one JSON HTTP exchange). A socket offers ``send(data)``, ``close(code,
reason)``, ``abort()`` (drop the TCP connection, the peer sees 1006) and
``run(on_message, on_closed)``, which reads until the socket closes and reports the close
once with its code and whether a close frame arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from . import wire

try:  # pragma: no cover - depends on the environment
    import aiohttp
    from aiohttp import web
except ImportError:  # pragma: no cover
    aiohttp = None  # type: ignore[assignment]
    web = None  # type: ignore[assignment]

BACKEND = "aiohttp" if aiohttp is not None else "stdlib"
"""Which implementation :func:`serve`, :func:`dial` and :func:`request` use."""


class AioSocket:
    """An aiohttp WebSocket (either end) behind the :class:`~.wire.Socket` interface."""

    def __init__(self, ws: Any, session: Any = None, transport: Any = None) -> None:
        self.ws = ws
        self.session = session
        self.transport = transport
        self.close_sent = False
        self._out: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._writer = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        while True:
            kind, value = await self._out.get()
            try:
                if kind == "text":
                    await self.ws.send_str(json.dumps(value))
                else:
                    code, reason = value
                    await self.ws.close(code=code, message=reason.encode())
                    return
            except (ConnectionError, RuntimeError):
                return

    def send(self, data: Any) -> None:
        if not self.close_sent:
            self._out.put_nowait(("text", data))

    def close(self, code: int, reason: str = "") -> None:
        if not self.close_sent:
            self.close_sent = True
            self._out.put_nowait(("close", (code, reason)))

    def abort(self) -> None:
        """Drop the TCP connection (aiohttp has no public call for it: its writer's
        transport, else the request's)."""
        transport = getattr(getattr(self.ws, "_writer", None), "transport", None)
        transport = transport or self.transport
        if transport is not None:
            transport.abort()

    async def run(self, on_message, on_closed) -> None:  # type: ignore[no-untyped-def]
        reason = ""
        try:
            while True:  # receive(), not ``async for``: the iterator swallows the close frame
                msg = await self.ws.receive()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    with contextlib.suppress(ValueError):
                        on_message(json.loads(msg.data))
                elif msg.type == aiohttp.WSMsgType.CLOSE:
                    reason = msg.extra or ""
                    break
                elif msg.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED,
                                  aiohttp.WSMsgType.ERROR):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            code = self.ws.close_code if self.ws.close_code is not None else wire.ABNORMAL
            self._writer.cancel()
            if self.session is not None:
                await self.session.close()
            on_closed(code, reason, code != wire.ABNORMAL)


async def serve(on_upgrade: wire.Upgrade, on_socket: wire.Established, on_request: wire.Request,
                host: str = "127.0.0.1", port: int = 0) -> wire.Listening:
    if aiohttp is None:
        return await wire.serve(on_upgrade, on_socket, on_request, host, port)

    async def handle(request: Any) -> Any:
        path = request.path
        if request.headers.get("Upgrade", "").lower() == "websocket":
            req = {"path": path, **dict(request.query)}
            ok, status, _reason = await on_upgrade(path, req)
            if not ok:
                return web.Response(status=status or 503)
            ws = web.WebSocketResponse(autoping=True)
            await ws.prepare(request)
            await on_socket(AioSocket(ws, transport=request.transport), req)
            return ws
        body = None
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                body = await request.json()
        status, answer = await on_request(request.method, path, dict(request.headers), body)
        return web.json_response(answer, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return wire.Listening(bound, runner.cleanup)


async def dial(url: str, query: dict[str, str]) -> tuple[Any, int, str]:
    if aiohttp is None:
        return await wire.dial(url, query)
    session = aiohttp.ClientSession()
    try:
        ws = await session.ws_connect(url, params=query, autoping=True)
    except aiohttp.WSServerHandshakeError as exc:
        await session.close()
        return None, exc.status, "upgrade refused"
    except (aiohttp.ClientError, OSError) as exc:
        await session.close()
        return None, 0, f"connection refused ({type(exc).__name__})"
    return AioSocket(ws, session), 101, ""


async def request(url: str, method: str, path: str, body: Any,
                  headers: dict[str, str] | None = None) -> tuple[int, Any]:
    if aiohttp is None:
        return await wire.request(url, method, path, body, headers)
    try:
        async with aiohttp.ClientSession() as session, session.request(
                method, url + path, json=body, headers=headers) as resp:
            try:
                answer = await resp.json(content_type=None)
            except ValueError:
                answer = await resp.text()
            return resp.status, answer
    except aiohttp.ClientError as exc:
        raise ConnectionError(str(exc)) from exc


__all__ = ["BACKEND", "dial", "request", "serve"]
