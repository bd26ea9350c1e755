"""The standard-library transport: HTTP and WebSocket framing over real loopback sockets."""

from __future__ import annotations

import asyncio

import pytest

from gatewaysim.real import wire

pytestmark = pytest.mark.real


async def _exchange() -> dict:
    got: dict = {"server": [], "client": [], "closes": []}

    async def on_upgrade(path, request):  # type: ignore[no-untyped-def]
        return (path == "/ws", 404, "")

    async def on_socket(sock, request):  # type: ignore[no-untyped-def]
        await sock.run(lambda data: (got["server"].append(data), sock.send(data)),
                       lambda code, reason, clean: got["closes"].append(("server", code)))

    async def on_request(method, path, headers, body):  # type: ignore[no-untyped-def]
        return 200, {"method": method, "path": path, "body": body, "req": headers.get("x-req")}

    listening = await wire.serve(on_upgrade, on_socket, on_request)
    url = f"http://127.0.0.1:{listening.port}"
    got["http"] = await wire.request(url, "POST", "/prompt", {"a": 1}, {"X-Req": "r1"})
    sock, status, _ = await wire.dial(url + "/nope", {})
    got["refused"] = (sock, status)
    sock, status, _ = await wire.dial(url + "/ws", {"clientId": "c"})
    done = asyncio.Event()
    big = "x" * 70_000  # a 64-bit length, masked by the client
    reader = asyncio.ensure_future(sock.run(
        lambda data: (got["client"].append(data), len(got["client"]) == 2 and done.set()),
        lambda code, reason, clean: got["closes"].append(("client", code, reason, clean))))
    sock.send({"n": 1})
    sock.send({"big": big})
    await asyncio.wait_for(done.wait(), 5)
    sock.close(4000, "bye")
    await asyncio.wait_for(reader, 5)
    sock2, _, _ = await wire.dial(url + "/ws", {})
    reader2 = asyncio.ensure_future(sock2.run(lambda d: None, lambda code, reason, clean:
                                              got["closes"].append(("aborted", code, clean))))
    await asyncio.sleep(0.05)
    sock2.abort()
    await asyncio.wait_for(reader2, 5)
    await listening.close()
    return got


def test_http_and_websocket_round_trips():
    got = asyncio.run(_exchange())
    assert got["http"] == (200, {"method": "POST", "path": "/prompt", "body": {"a": 1},
                                 "req": "r1"})
    assert got["refused"] == (None, 404)
    assert got["server"] == got["client"] == [{"n": 1}, {"big": "x" * 70_000}]
    assert ("client", 4000, "bye", True) in got["closes"]
    assert ("server", 4000) in got["closes"]
    assert ("aborted", 1006, False) in got["closes"]
