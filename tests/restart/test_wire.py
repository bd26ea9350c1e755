"""The aiohttp transport over real loopback sockets: what each end reports, as the
simulated network reports it (close codes, clean or not, refusals)."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("aiohttp", reason="running for real needs aiohttp: "
                                      "pip install 'gatewaysim[real]'")

from gatewaysim.real import transport

pytestmark = pytest.mark.real


class Ends:
    """A server on port 0 that echoes messages, and what both ends reported."""

    def __init__(self) -> None:
        self.server: dict[str, list] = {}
        self.client: dict[str, list] = {}
        self.sockets: dict[str, transport.Socket] = {}
        self.listening: transport.Listening | None = None

    async def start(self) -> str:
        async def on_upgrade(path, request):  # type: ignore[no-untyped-def]
            if path == "/refuse":
                return False, 0, "connection refused"
            return path == "/ws", 404, "Not Found"

        async def on_socket(sock, request):  # type: ignore[no-untyped-def]
            name = request["name"]
            self.sockets[name] = sock
            got = self.server.setdefault(name, [])
            await sock.run(lambda data: (got.append(data), sock.send(data)),
                           lambda code, reason, clean: got.append((code, reason, clean)))

        async def on_request(method, path, headers, body):  # type: ignore[no-untyped-def]
            return 200, {"method": method, "path": path, "body": body,
                         "req": headers.get("X-Req")}

        self.listening = await transport.serve(on_upgrade, on_socket, on_request)
        return f"http://127.0.0.1:{self.listening.port}"

    async def dial(self, url: str, name: str) -> tuple[transport.Socket, asyncio.Future]:
        sock, status, _ = await transport.dial(url + "/ws", {"name": name})
        assert sock is not None and status == 101
        got = self.client.setdefault(name, [])
        reader = asyncio.ensure_future(sock.run(
            got.append, lambda code, reason, clean: got.append((code, reason, clean))))
        return sock, reader

    async def until(self, name: str, n: int) -> None:
        for _ in range(500):
            if len(self.server.get(name, [])) >= n and len(self.client.get(name, [])) >= n:
                return
            await asyncio.sleep(0.002)


async def _exchange() -> Ends:
    ends = Ends()
    url = await ends.start()
    ends.client["http"] = [await transport.request(url, "POST", "/prompt", {"a": 1},
                                                   {"X-Req": "r1"})]
    ends.client["refused"] = [(await transport.dial(url + "/nope", {}))[:2],
                              (await transport.dial(url + "/refuse", {}))[:2]]
    # messages both ways, then a close the client starts with its own code
    sock, reader = await ends.dial(url, "a")
    sock.send({"n": 1})
    sock.send({"big": "x" * 70_000})
    await ends.until("a", 2)
    sock.close(4000, "bye")
    await asyncio.wait_for(reader, 5)
    # a close the server starts
    sock, reader = await ends.dial(url, "b")
    await ends.until("b", 0)
    await asyncio.sleep(0.02)
    ends.sockets["b"].close(1000, "Server shutting down")
    await asyncio.wait_for(reader, 5)
    # both ends close at once
    sock, reader = await ends.dial(url, "c")
    await asyncio.sleep(0.02)
    ends.sockets["c"].close(1000, "Server shutting down")
    sock.close(1000, "terminated")
    await asyncio.wait_for(reader, 5)
    # the client drops the TCP connection; then the server drops one
    for name in ("d", "e"):
        sock, reader = await ends.dial(url, name)
        await asyncio.sleep(0.02)
        (sock if name == "d" else ends.sockets[name]).abort()
        await asyncio.wait_for(reader, 5)
    await ends.until("e", 1)
    assert ends.listening is not None
    await ends.listening.close()
    return ends


def test_http_websocket_and_every_kind_of_close():
    ends = asyncio.run(_exchange())
    assert ends.client["http"] == [(200, {"method": "POST", "path": "/prompt", "body": {"a": 1},
                                          "req": "r1"})]
    # an HTTP refusal has its status; a refusal without an answer is status 0
    assert ends.client["refused"] == [(None, 404), (None, 0)]
    echoed = [{"n": 1}, {"big": "x" * 70_000}]
    assert ends.server["a"] == [*echoed, (4000, "bye", True)]
    assert ends.client["a"] == [*echoed, (4000, "bye", True)]  # the echo has the same code
    assert ends.client["b"] == ends.server["b"] == [(1000, "Server shutting down", True)]
    assert ends.client["c"][0][::2] == ends.server["c"][0][::2] == (1000, True)
    # a dropped connection is 1006 both ways, never a clean 1000 (aiohttp's EOF code)
    for name in ("d", "e"):
        assert ends.client[name] == [(1006, "aborted" if name == "d" else "connection lost",
                                      False)]
        assert ends.server[name][0][::2] == (1006, False)


def test_a_missing_aiohttp_is_one_clear_configuration_error(monkeypatch):
    from gatewaysim.simulator.errors import ConfigError

    monkeypatch.setattr(transport, "aiohttp", None)
    with pytest.raises(ConfigError, match=r"pip install 'gatewaysim\[real\]'"):
        transport.require()
    with pytest.raises(ConfigError):
        asyncio.run(transport.request("http://127.0.0.1:1", "GET", "/", None))
