"""HTTP/1.1 and WebSocket (RFC 6455) over asyncio streams: the transport of last resort.

:mod:`gatewaysim.real.transport` serves and dials with aiohttp. When aiohttp is not
installed, this module does the same with the standard library only: enough of HTTP/1.1
(one JSON request per connection, ``Connection: close``) and of WebSocket (text frames,
close frames with a code, ping and pong; no extensions, no fragmentation) for a pack's nodes
to talk over real sockets. Both present the same :class:`Socket` and the same server
callbacks to :class:`~gatewaysim.real.host.RealHost`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import struct
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
ABNORMAL = 1006
NO_STATUS = 1005


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


class Socket:
    """One end of a WebSocket: ``send``, ``close`` (a close frame) and ``abort`` (drop TCP)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 masked: bool) -> None:
        self.reader = reader
        self.writer = writer
        self.masked = masked
        self.close_sent = False
        self.closed = False

    def _frame(self, opcode: int, payload: bytes) -> bytes:
        head = bytes([0x80 | opcode])
        n = len(payload)
        mask_bit = 0x80 if self.masked else 0
        if n < 126:
            head += bytes([mask_bit | n])
        elif n < 1 << 16:
            head += bytes([mask_bit | 126]) + struct.pack("!H", n)
        else:
            head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
        if self.masked:
            mask = os.urandom(4)
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            head += mask
        return head + payload

    def _write(self, opcode: int, payload: bytes) -> None:
        if self.closed or self.writer.is_closing():
            return
        self.writer.write(self._frame(opcode, payload))

    def send(self, data: Any) -> None:
        if not self.close_sent:
            self._write(TEXT, json.dumps(data).encode())

    def close(self, code: int, reason: str = "") -> None:
        if self.close_sent:
            return
        self.close_sent = True
        self._write(CLOSE, struct.pack("!H", code) + reason.encode()[:120])

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (the peer sees 1006)."""
        self.closed = True
        transport = self.writer.transport
        with contextlib.suppress(Exception):
            transport.abort()

    async def _read_frame(self) -> tuple[int, bytes]:
        b1, b2 = await self.reader.readexactly(2)
        opcode, n = b1 & 0x0F, b2 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        mask = await self.reader.readexactly(4) if b2 & 0x80 else None
        payload = await self.reader.readexactly(n)
        if mask is not None:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return opcode, payload

    async def run(self, on_message: Callable[[Any], None],
                  on_closed: Callable[[int, str, bool], None]) -> None:
        """Read frames until the socket closes; report the close exactly once."""
        code, reason, clean = ABNORMAL, "", False
        try:
            while True:
                opcode, payload = await self._read_frame()
                if opcode == TEXT:
                    try:
                        on_message(json.loads(payload.decode()))
                    except ValueError:
                        continue
                elif opcode == PING:
                    self._write(PONG, payload)
                elif opcode == CLOSE:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else NO_STATUS
                    reason, clean = payload[2:].decode(errors="replace"), True
                    if not self.close_sent:  # echo, as a WebSocket stack does
                        self.close(code, reason)
                    break
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            with contextlib.suppress(Exception):
                self.writer.close()
            on_closed(code, reason, clean)


# ---------------------------------------------------------------------------- HTTP bits
async def _read_head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return lines[0], headers


def _response(status: int, body: Any, extra: str = "") -> bytes:
    payload = b"" if body is None else json.dumps(body).encode()
    reason = {200: "OK", 101: "Switching Protocols", 404: "Not Found",
              503: "Service Unavailable"}.get(status, "Status")
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n{extra}\r\n")
    return head.encode() + payload


Upgrade = Callable[[str, dict[str, Any]], Awaitable[tuple[bool, int, str]]]
Established = Callable[[Socket, dict[str, Any]], Awaitable[None]]
Request = Callable[[str, str, dict[str, str], Any], Awaitable[tuple[int, Any]]]


class Listening:
    """A listening server: its port, and how to stop listening."""

    def __init__(self, port: int, stop: Callable[[], Awaitable[None]]) -> None:
        self.port = port
        self._stop = stop

    async def close(self) -> None:
        await self._stop()


async def serve(on_upgrade: Upgrade, on_socket: Established, on_request: Request,
                host: str = "127.0.0.1", port: int = 0) -> Listening:
    """Listen on ``host:port``; upgrades go to ``on_upgrade`` then ``on_socket``, other
    requests to ``on_request``."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line, headers = await _read_head(reader)
            method, target, _ = line.split(" ", 2)
            url = urlsplit(target)
            query = dict(parse_qsl(url.query))
            if headers.get("upgrade", "").lower() == "websocket":
                request = {"path": url.path, **query}
                ok, status, _reason = await on_upgrade(url.path, request)
                if not ok:
                    writer.write(_response(status or 503, None))
                    await writer.drain()
                    writer.close()
                    return
                key = accept_key(headers.get("sec-websocket-key", ""))
                writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                              f"Connection: Upgrade\r\nSec-WebSocket-Accept: {key}\r\n\r\n")
                             .encode())
                await writer.drain()
                await on_socket(Socket(reader, writer, masked=False), request)
                return
            length = int(headers.get("content-length", "0") or 0)
            raw = await reader.readexactly(length) if length else b""
            body = json.loads(raw) if raw else None
            status, answer = await on_request(method, url.path, headers, body)
            writer.write(_response(status, answer))
            await writer.drain()
            writer.close()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, OSError):
            with contextlib.suppress(Exception):
                writer.close()

    server = await asyncio.start_server(connection, host, port, reuse_address=True)

    async def stop() -> None:
        server.close()

    return Listening(server.sockets[0].getsockname()[1], stop)


async def dial(url: str, query: dict[str, str]) -> tuple[Socket | None, int, str]:
    """Open a WebSocket to ``url``: the socket, or ``None`` with a status (0: unreachable)."""
    parts = urlsplit(url)
    try:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    except OSError as exc:
        return None, 0, f"connection refused ({exc.errno})"
    key = base64.b64encode(os.urandom(16)).decode()
    target = parts.path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    writer.write((f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    try:
        await writer.drain()
        line, headers = await _read_head(reader)
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        writer.close()
        return None, 0, "connection lost during the upgrade"
    status = int(line.split(" ")[1])
    if status != 101 or headers.get("sec-websocket-accept") != accept_key(key):
        writer.close()
        return None, status, "upgrade refused"
    return Socket(reader, writer, masked=True), 101, ""


async def request(url: str, method: str, path: str, body: Any,
                  headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One JSON HTTP exchange (raises ``OSError`` when the server cannot be reached)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    payload = b"" if body is None else json.dumps(body).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    try:
        writer.write((f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}"
                      f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                      "Connection: close\r\n\r\n").encode() + payload)
        await writer.drain()
        line, headers = await _read_head(reader)
        length = headers.get("content-length")
        raw = await (reader.readexactly(int(length)) if length else reader.read())
    except asyncio.IncompleteReadError as exc:
        raise ConnectionResetError("connection lost") from exc
    finally:
        writer.close()
    status = int(line.split(" ")[1])
    try:
        answer = json.loads(raw) if raw else None
    except ValueError:
        answer = raw.decode(errors="replace")
    return status, answer


__all__ = ["Listening", "Socket", "accept_key", "dial", "request", "serve"]
