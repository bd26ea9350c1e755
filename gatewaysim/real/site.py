"""Several sans-IO nodes in one process, behind one listening socket.

A Cloudflare Worker and the Durable Objects it routes to answer on one hostname: the
Worker gets every upgrade, may hand it to an object (``ForwardConnection``), and the
object's accept is what the client sees. :class:`RealSite` does that on 127.0.0.1: each
node is a :class:`~gatewaysim.real.host.RealHost`; an upgrade or request names the node it
is for (the ``to`` query parameter, the ``X-Gatewaysim-To`` header); a forwarded upgrade
moves to the next node in the same process, its dialler still waiting; hosts under a
namespace (``gateway/``) are created on first contact, as the world creates them. Calls
between the nodes are real HTTP exchanges on the same listener.

Every node shares the site's trace and clock. Outside inputs (a mesh node told to call a
client, a document told to change) come in through :meth:`RealSite.inject`; a dropped
connection through :meth:`RealSite.drop`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from gatewaysim.simulator.messages import Input
from gatewaysim.simulator.trace import FAULT, SYS, Trace

from . import transport
from .host import TO_HEADER, RealClock, RealHost

Factory = Callable[[Any], Any]


class RealSite:
    """Nodes by address, namespaces by prefix, one listener (``entry`` gets what names no
    node)."""

    def __init__(self, trace: Trace, clock: RealClock, *, entry: str, seed: int = 0) -> None:
        self.trace = trace
        self.clock = clock
        self.entry = entry
        self.seed = seed
        self.hosts: dict[str, RealHost] = {}
        self.namespaces: dict[str, Factory] = {}
        self.listening: transport.Listening | None = None
        self.started = False

    # ------------------------------------------------------------------ nodes
    def url(self, _address: str = "") -> str:
        """Every node of the site answers on the same listener."""
        assert self.listening is not None, "listen() first"
        return f"http://127.0.0.1:{self.listening.port}"

    def add_host(self, address: str, factory: Factory) -> RealHost:
        host = RealHost(address, factory, self.trace, self.clock, self.url, seed=self.seed,
                        forward=self._forward)
        self.hosts[address] = host
        if self.started:
            host.start()
        return host

    def add_namespace(self, prefix: str, factory: Factory) -> None:
        self.namespaces[prefix] = factory

    def host(self, address: str) -> RealHost | None:
        """The node at ``address``, created (and started) on first contact in a namespace."""
        host = self.hosts.get(address)
        if host is None:
            factory = next((f for prefix, f in self.namespaces.items()
                            if address.startswith(prefix)), None)
            if factory is not None:
                host = self.add_host(address, factory)
        return host

    def start(self) -> None:
        """Start every node added so far (each gets ``Start``), in the order added."""
        self.started = True
        for host in list(self.hosts.values()):
            host.start()

    async def listen(self, port: int = 0) -> int:
        self.listening = await transport.serve(self._on_upgrade, self._on_socket,
                                               self._on_request, "127.0.0.1", port)
        return self.listening.port

    async def close(self) -> None:
        for host in list(self.hosts.values()):
            await host.close(settle_s=0.2)
        if self.listening is not None:
            await self.listening.close()
            self.listening = None

    @property
    def errors(self) -> list[BaseException]:
        return [e for host in self.hosts.values() for e in host.errors]

    # ------------------------------------------------------------------ outside inputs
    def inject(self, address: str, inp: Input) -> bool:
        host = self.host(address)
        if host is None:
            return False
        host.deliver(inp)
        return True

    def drop(self, conn: str) -> bool:
        """Close ``conn``'s TCP connection at this end (the ``drop`` fault, for real)."""
        for host in self.hosts.values():
            if host.abort(conn):
                self.trace.emit(self.clock.now(), "world", FAULT, "drop", {"conn": conn})
                return True
        return False

    def force_close(self, address: str, code: int, reason: str = "") -> str | None:
        """``ctx.getWebSockets()[0].close(code, reason)`` from outside the node, as a test
        does to a Durable Object: a close frame with ``code`` (whatever it is)."""
        host = self.hosts.get(address)
        conns = [conn for conn, (_, state) in host.listed.items() if state == "OPEN"] \
            if host is not None else []
        if not conns:
            return None
        self.trace.emit(self.clock.now(), "world", FAULT, "force_close",
                        {"host": address, "conn": conns[0], "code": code})
        host.close_socket(conns[0], code, reason)  # type: ignore[union-attr]
        return conns[0]

    # ------------------------------------------------------------------ routing
    def _forward(self, conn: str, to: str, request: dict[str, Any], answer: Any,
                 peer: str) -> None:
        # The next loop turn, as the world applies a forward after the effects before it.
        self.clock.loop.call_soon(self._arrive, conn, to, request, answer, peer)

    def _arrive(self, conn: str, to: str, request: dict[str, Any], answer: Any,
                peer: str) -> None:
        if answer.done():
            return
        host = self.host(to)
        if host is None:
            self.trace.emit(self.clock.now(), to, SYS, "upgrade.refused",
                            {"conn": conn, "why": "no such node"})
            answer.set_result((False, 0, "connection refused"))
            return
        host.expect_upgrade(conn, peer, request, answer)

    async def _on_upgrade(self, path: str, request: dict[str, Any]) -> tuple:
        conn = request.pop("conn", None) or f"{self.entry}:in{len(self.hosts)}"
        peer = request.pop("peer", "")
        to = request.pop("to", self.entry)
        clean = dict(request)
        request["conn"] = conn
        answer: asyncio.Future = self.clock.loop.create_future()
        self._arrive(conn, to, clean, answer, peer)
        return await answer

    async def _on_socket(self, sock: Any, request: dict[str, Any]) -> None:
        conn = request["conn"]
        host = next((h for h in self.hosts.values() if conn in h.early), None)
        if host is None:  # nobody expects it any more
            sock.abort()
            return
        await host._on_socket(sock, request)

    async def _on_request(self, method: str, path: str, headers: dict[str, str],
                          body: Any) -> tuple[int, Any]:
        lower = {k.lower(): v for k, v in headers.items()}
        host = self.host(lower.get(TO_HEADER.lower(), self.entry))
        if host is None:
            return 404, {"error": "no such node"}
        return await host._on_request(method, path, headers, body)

    def __repr__(self) -> str:
        return f"RealSite(entry={self.entry!r}, hosts={list(self.hosts)!r})"


__all__ = ["RealSite"]
