"""The Neemata pack's driver: one client, one gateway, the operations of the seed and faults.

Operations are the suite's: unary calls (echo, slow, abort-aware slow, failing, counter,
unknown procedure) with default, short, long or no timeouts; RPC streams read fully, broken
off, aborted, abandoned or ignored; uploads consumed fully, partly, not at all, from fast or
slow sources that may fail; downloads read, broken off, aborted, abandoned or ignored, from
handlers that may fail after creating them. Faults are a dropped connection, a half-open one
that the gateway believes is still open, a slow link, a disconnect by the user, and a jump of
the id counters to the wrap at 2^32 (standing in for four billion earlier calls).

A client-believes half-open connection is left out: without the opt-in heartbeat plugin
nothing tells the client, and a download it reads then waits forever on both variants (see
the pack's README). Every step is a no-op when it does not apply; preconditions only keep
exploration from drawing steps that would be (``connect`` while connected, ``abort`` with
nothing to abort). Hypothesis's first examples favour the first choice of each
``sampled_from``, so the stream and download steps list first the consumers that show a
weakness (an ignored stream, a download broken off).
"""

from __future__ import annotations

from typing import Any, ClassVar

from attrs import frozen
from hypothesis import strategies as st

from gatewaysim.models.neemata import protocol as p
from gatewaysim.models.neemata.client import ClientStatistics
from gatewaysim.models.neemata.config import NeemataConfig
from gatewaysim.models.neemata.gateway import GatewayStatistics
from gatewaysim.models.neemata.world import CLIENT, GATEWAY, NeemataWorld, maps_of
from gatewaysim.simulator import clock
from gatewaysim.simulator.clock import Time, s
from gatewaysim.simulator.world import World

from ..driver import Driver
from ..steps import step

TIMEOUTS = [None, 50, 1_000, 10_000, 0]
"""Per-call timeouts in ms: the client default (5 s), short, long, none (0)."""


@frozen
class NeemataStatistics:
    """What the Neemata monitors judge from: both sides' maps."""

    client: ClientStatistics
    """The client's maps and counters (spec section 2)."""
    gateway: GatewayStatistics
    """The gateway's maps (spec section 3)."""

    def maps(self) -> dict[str, int]:
        """Every operation map of both sides by name (connections are judged apart)."""
        return maps_of(self.client, self.gateway)


def _consumer(stop: str, stop_after: int, read_delay_ms: int = 0) -> p.Consumer:
    if stop == "ignore":
        return p.Consumer(read=False)
    if stop == "none":
        return p.Consumer(read_delay=clock.ms(read_delay_ms))
    return p.Consumer(stop_after=max(1, stop_after), stop=stop,
                      read_delay=clock.ms(read_delay_ms))


class NeemataDriver(Driver):
    settle_bound: ClassVar[Time] = s(60)
    """Longer than any chain of honest waits: a 10 s call timeout, an 8 s handler, a 10 s
    Finish timer, 5 s Consume and Pull timers, and a slow stream's last chunks."""
    model_config: NeemataConfig

    def setup(self) -> World:
        self.nw = NeemataWorld(self.model_config, self.seed, trace=self.trace, connect=False)
        self.nw.connect()
        self.ops: list[str] = []
        self.n = 0
        self.slowed = False
        return self.nw.world

    # ------------------------------------------------------------------ views
    def statistics(self) -> NeemataStatistics:
        return NeemataStatistics(self.nw.client.statistics(), self.nw.gateway.statistics())

    @property
    def client(self) -> Any:
        return self.nw.client

    def _conn(self) -> str | None:
        conn = self.client.conn
        live = self.world.network.connection(conn) if conn else None
        return conn if live is not None and not live.broken else None

    def _op(self, prefix: str) -> str:
        self.n += 1
        op = f"{prefix}{self.n}"
        self.ops.append(op)
        return op

    def _live(self) -> str:
        return "live" if self.client.state.value == "connected" else self.client.state.value

    # ------------------------------------------------------------------ time
    @step(time_arg="ms", ms=st.one_of(st.integers(1, 100), st.integers(1, 6_000)))
    def advance(self, ms: int) -> None:
        """Let virtual time pass."""
        self.world.run_for(clock.ms(ms))

    # ------------------------------------------------------------------ operations
    @step(procedure=st.sampled_from(["echo", "slow", "slow_abortable", "fail", "counter",
                                     "unknown"]),
          work_ms=st.sampled_from([0, 20, 300, 8_000]), timeout=st.sampled_from(TIMEOUTS))
    def call(self, procedure: str, work_ms: int, timeout: int | None) -> None:
        """A unary call."""
        payload: dict[str, Any] = {"value": self.n, "work_ms": work_ms, "ms": work_ms}
        t = None if timeout is None else clock.ms(timeout)
        self.nw.call(procedure, payload, timeout=t, op=self._op("c"))

    @step(n=st.integers(1, 8), delay_ms=st.sampled_from([0, 400, 1_500, 10]),
          stop=st.sampled_from(["ignore", "none", "break", "abort", "abandon"]),
          stop_after=st.integers(1, 4), read_delay_ms=st.sampled_from([0, 30]),
          timeout=st.sampled_from([None, 1_000, 10_000, 0]))
    def stream(self, n: int, delay_ms: int, stop: str, stop_after: int, read_delay_ms: int,
               timeout: int | None) -> None:
        """An RPC stream of ``n`` chunks, read as ``stop`` says."""
        t = None if timeout is None else clock.ms(timeout)
        self.nw.stream({"n": n, "delay_ms": delay_ms},
                       consumer=_consumer(stop, stop_after, read_delay_ms), timeout=t,
                       op=self._op("s"))

    @step(size=st.sampled_from([1, 20_000, 70_000]),
          mode=st.sampled_from(["all", "partial", "ignore", "first"]),
          source_delay_ms=st.sampled_from([0, 20]), fails=st.booleans(), blobs=st.integers(1, 2))
    def upload(self, size: int, mode: str, source_delay_ms: int, fails: bool, blobs: int) -> None:
        """A call carrying ``blobs`` uploads that the handler consumes as ``mode`` says."""
        sources = [p.BlobSource(size=size, seed=self.n + i, delay=clock.ms(source_delay_ms),
                                error_at=size // 2 if fails and size > 1 else None)
                   for i in range(blobs)]
        self.nw.upload(*sources, mode=mode, extra={"limit": 10_000}, op=self._op("u"))

    @step(size=st.sampled_from([200_000, 70_000, 10]),
          stop=st.sampled_from(["break", "none", "abort", "abandon", "ignore"]),
          stop_after=st.integers(1, 3), delay_ms=st.sampled_from([0, 20]), fails=st.booleans())
    def download(self, size: int, stop: str, stop_after: int, delay_ms: int,
                 fails: bool) -> None:
        """A call whose handler creates a blob (and then, if ``fails``, throws)."""
        self.nw.download(size, consumer=_consumer(stop, stop_after), op=self._op("d"),
                         seed=self.n, delay_ms=delay_ms, fail=fails)

    @step(which=st.integers(0, 3), download=st.booleans(),
          precondition=lambda d: bool(d.ops))
    def abort(self, which: int, download: bool) -> None:
        """The caller aborts one of its recent operations (its signal, or its blob's)."""
        if not self.ops:
            return
        op = self.ops[-1 - min(which, len(self.ops) - 1)]
        self.nw.abort(op, download)

    @step(precondition=lambda d: d.client.state.value == "disconnected")
    def connect(self) -> None:
        """``client.connect()`` (a no-op while connected or connecting)."""
        self.nw.connect()

    # ------------------------------------------------------------------ faults
    @step(fault="disconnect")
    def disconnect(self) -> None:
        """``client.disconnect()`` by the user (twice in a row is allowed)."""
        self.cover(f"user disconnect while {self._live()}")
        self.nw.disconnect()

    @step(fault="drop")
    def drop(self) -> None:
        """The transport dies under both ends (1006)."""
        conn = self._conn()
        if conn is None:
            return
        self.cover(f"drop with {len(self.client.calls)} calls, "
                   f"{len(self.client.server_streams) + len(self.client.client_streams)} blobs")
        self.world.drop(conn)

    @step(fault="half_open")
    def half_open(self) -> None:
        """The transport dies; the client is told, the gateway believes it open until it sends."""
        conn = self._conn()
        if conn is None:
            return
        self.cover("half-open (gateway believes)")
        self.world.half_open(conn, "server")

    @step(fault="slow_link", latency_ms=st.sampled_from([1, 30, 300]))
    def slow_link(self, latency_ms: int) -> None:
        """Both directions get slower (still FIFO)."""
        self.cover(f"slow link {latency_ms}ms")
        self.slowed = True
        self.world.slow_link(CLIENT, GATEWAY, clock.ms(latency_ms))

    @step(fault="id_wrap", precondition=lambda d: d.client.call_ids.value < p.MAX_UINT32)
    def skip_ids(self) -> None:
        """The client's id counters jump to 2^32-1: the next ids wrap to 0."""
        if self.client.call_ids.value >= p.MAX_UINT32:
            return
        self.cover("ids wrapped with calls live" if self.client.calls else "ids wrapped")
        self.nw.act(p.SkipIds())

    # ------------------------------------------------------------------ settling
    def heal_faults(self) -> None:
        if self.slowed:
            self.slowed = False
            self.world.slow_link(CLIENT, GATEWAY, self.model_config.link_latency)


__all__ = ["NeemataDriver", "NeemataStatistics"]
