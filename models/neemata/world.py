"""A client and a gateway on the simulated transport, with helpers a test reads like the suite.

The real suite (``tests/test/_setup.ts``) joins a ``StaticClient`` and a ``Gateway`` by an
EventEmitter channel that delivers each direction with ``setTimeout(1 ms)``: FIFO per
direction, both sides working concurrently. Here that is the kernel's network with a 1 ms
link (``NeemataConfig.link_latency``); faults (drop, half-open, a slow link) come on top
for exploration.

:class:`NeemataWorld` keeps what the application saw, read from the client's notes: every
call's settlement, every chunk, every stream's and download's end. Scenarios, tests, the
driver and the benchmark all build their world here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from attrs import define, field, frozen

from gatewaysim.simulator.clock import Time, ms
from gatewaysim.simulator.network import NetworkConfig
from gatewaysim.simulator.trace import OUT, Trace, TraceRecord
from gatewaysim.simulator.world import World

from . import protocol as p
from .client import ClientStatistics, NeemataClient
from .config import NeemataConfig
from .gateway import GatewayStatistics, NeemataGateway

CLIENT = "client"
GATEWAY = "gateway"
SETTLE_LIMIT: Time = 60_000_000
"""How far :meth:`NeemataWorld.settle` runs at most: a minute of virtual time."""


@frozen
class Outcome:
    """How a call settled, as its caller saw it."""

    ok: bool
    value: Any = None
    code: str = ""
    message: str = ""
    t: Time = 0

    def __repr__(self) -> str:
        if self.ok:
            return f"Outcome(ok, {self.value!r})"
        return f"Outcome({self.code}: {self.message!r})"


@define
class Ledger:
    """What the application saw, from the client's notes (a trace listener)."""

    calls: dict[str, Outcome] = field(factory=dict)
    settle_counts: dict[str, int] = field(factory=dict)
    chunks: dict[str, list[Any]] = field(factory=dict)
    streams: dict[str, dict] = field(factory=dict)
    downloads: dict[str, dict] = field(factory=dict)
    finally_ran: dict[str, int] = field(factory=dict)
    handler_results: dict[str, dict] = field(factory=dict)
    events: list[tuple[Time, str, dict]] = field(factory=list)

    def __call__(self, rec: TraceRecord) -> None:
        if rec.kind != OUT or rec.type != "Note":
            return
        event = rec.data["event"]
        data = rec.data["data"]
        if rec.actor == GATEWAY:
            if event == "handler.finally":
                self.finally_ran[data["op"]] = self.finally_ran.get(data["op"], 0) + 1
            elif event == "handler.returned":
                self.handler_results[data["op"]] = data
            return
        if event == "call.settled":
            op = data["op"]
            self.settle_counts[op] = self.settle_counts.get(op, 0) + 1
            if op not in self.calls:
                err = data.get("error") or {}
                self.calls[op] = Outcome(data["ok"], data.get("value"), err.get("code", ""),
                                         err.get("message", ""), rec.t)
        elif event == "stream.chunk":
            self.chunks.setdefault(data["op"], []).append(data["chunk"])
        elif event == "stream.settled":
            self.streams[data["op"]] = {**data, "t": rec.t}
        elif event == "download.settled":
            self.downloads[data["op"]] = {**data, "t": rec.t}
        self.events.append((rec.t, event, data))


def maps_of(c: ClientStatistics, g: GatewayStatistics) -> dict[str, int]:
    """Every operation map of both sides by name, as a size.

    Connections, their download id counters and their heartbeats are left out: they live as
    long as the connection, not an operation, and are judged on their own.
    """
    return {
        "client.calls": c.calls, "client.rpc_streams": c.rpc_streams,
        "client.client_streams": c.client_streams, "client.server_streams": c.server_streams,
        "client.signals": c.signals, "client.reserved_ids": c.reserved_ids,
        "client.timers": c.timers,
        "gateway.rpcs": g.rpcs, "gateway.streams": g.streams,
        "gateway.client_streams": g.client_streams, "gateway.server_streams": g.server_streams,
        "gateway.client_call_streams": g.client_call_streams,
        "gateway.server_call_streams": g.server_call_streams,
        "gateway.connection_client_streams": g.connection_client_streams,
        "gateway.connection_server_streams": g.connection_server_streams,
        "gateway.handlers": g.handlers, "gateway.timers": g.timers,
    }


class NeemataWorld:
    """One client and one gateway; ``call``/``stream``/``upload``/``download`` act at ``now``."""

    def __init__(self, config: NeemataConfig | None = None, seed: int = 0, *,
                 trace: Trace | None = None, connect: bool = True) -> None:
        self.config = config or NeemataConfig()
        self.world = World(seed, network=NetworkConfig(latency=self.config.link_latency),
                           trace=trace, header={"pack": "neemata"})
        self.ledger = Ledger()
        self.world.trace.listeners.append(self.ledger)
        cfg = self.config
        self.world.add_host(GATEWAY, lambda ctx: NeemataGateway(ctx, cfg))
        self.world.add_host(CLIENT, lambda ctx: NeemataClient(ctx, cfg, GATEWAY,
                                                              connect_on_start=connect))
        self._ops = 0
        if connect:
            self.run(ms(5))

    # ------------------------------------------------------------------ views
    @property
    def client(self) -> NeemataClient:
        return self.world.node(CLIENT)

    @property
    def gateway(self) -> NeemataGateway:
        return self.world.node(GATEWAY)

    @property
    def now(self) -> Time:
        return self.world.now

    def client_stats(self) -> ClientStatistics:
        return self.client.statistics()

    def gateway_stats(self) -> GatewayStatistics:
        return self.gateway.statistics()

    def maps(self) -> dict[str, int]:
        """Every client and gateway map by name, as a size (connections excluded)."""
        return maps_of(self.client_stats(), self.gateway_stats())

    def dirty(self) -> dict[str, int]:
        return {k: v for k, v in self.maps().items() if v}

    def outcome(self, op: str) -> Outcome | None:
        return self.ledger.calls.get(op)

    # ------------------------------------------------------------------ time
    def run(self, duration: Time) -> None:
        self.world.run_for(duration)

    def settle(self, limit: Time = SETTLE_LIMIT) -> None:
        """Run until nothing is scheduled (at most ``limit`` on)."""
        self.world.run_to_quiescence(limit=self.now + limit)

    # ------------------------------------------------------------------ actions
    def _op(self, prefix: str) -> str:
        self._ops += 1
        return f"{prefix}{self._ops}"

    def act(self, inp: Any) -> None:
        self.world.inject(CLIENT, inp)

    def call(self, procedure: str = "echo", payload: dict | None = None, *,
             timeout: Time | None = None, pre_aborted: bool = False,
             uploads: Iterable[p.BlobSource] = (), consumer: p.Consumer | None = None,
             op: str | None = None) -> str:
        op = op or self._op("c")
        self.act(p.Call(op, procedure, dict(payload or {}), timeout, False,
                        consumer or p.Consumer(), tuple(uploads), pre_aborted))
        return op

    def stream(self, payload: dict | None = None, *, consumer: p.Consumer | None = None,
               timeout: Time | None = None, op: str | None = None,
               procedure: str = "stream") -> str:
        op = op or self._op("s")
        self.act(p.Call(op, procedure, dict(payload or {}), timeout, True,
                        consumer or p.Consumer()))
        return op

    def upload(self, *sources: p.BlobSource, mode: str = "all", timeout: Time | None = None,
               extra: dict | None = None, op: str | None = None) -> str:
        return self.call("upload", {"mode": mode, "count": len(sources), **(extra or {})},
                         uploads=sources, timeout=timeout, op=op or self._op("u"))

    def download(self, size: int = 100_000, *, consumer: p.Consumer | None = None,
                 timeout: Time | None = None, op: str | None = None, **args: Any) -> str:
        return self.call("download", {"size": size, **args}, consumer=consumer,
                         timeout=timeout, op=op or self._op("d"))

    def abort(self, op: str, download: bool = False) -> None:
        self.act(p.AbortOp(op, download))

    def disconnect(self) -> None:
        self.act(p.Disconnect())

    def connect(self) -> None:
        self.act(p.Connect())


__all__ = ["CLIENT", "GATEWAY", "SETTLE_LIMIT", "Ledger", "NeemataWorld", "Outcome", "maps_of"]
