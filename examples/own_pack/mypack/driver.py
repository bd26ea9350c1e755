"""How gatewaysim drives the counter: the world, the faults, and the facts monitors read."""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen
from hypothesis import strategies as st

from gatewaysim.properties.driver import Driver
from gatewaysim.properties.steps import step
from gatewaysim.simulator import clock
from gatewaysim.simulator.world import World

from .model import CounterClient, CounterConfig, CounterServer

SERVER = "counter"
CLIENT = "client"


@frozen
class CounterStatistics:
    """What the monitors judge from."""

    value: int
    """The server's counter."""
    issued: int
    """Increments the client has issued (each one should count once)."""
    pending: int
    """Increments the client still waits to see acknowledged."""


class CounterDriver(Driver):
    settle_bound: ClassVar[clock.Time] = clock.s(10)
    model_config: CounterConfig

    def setup(self) -> World:
        world = World(self.seed, trace=self.trace)
        by_client = self.model_config.fixed("dedupe_by_client")
        world.add_host(SERVER, lambda ctx: CounterServer(ctx, by_client))
        world.add_host(CLIENT, lambda ctx: CounterClient(ctx, SERVER))
        return world

    @property
    def client(self) -> CounterClient:
        return self.world.node(CLIENT)

    def statistics(self) -> CounterStatistics:
        server: CounterServer = self.world.node(SERVER)
        return CounterStatistics(server.value, self.client.issued, len(self.client.pending))

    # ------------------------------------------------------------------ steps
    @step(time_arg="ms", ms=st.integers(min_value=1, max_value=5_000))
    def advance(self, ms: int) -> None:
        """Let virtual time pass."""
        self.world.run_for(clock.ms(ms))

    def _live_conn(self) -> str | None:
        conn = self.client.conn
        return conn if conn is not None and self.world.network.connection(conn) else None

    def _waiting(self) -> str:
        return "with acks due" if self.client.pending else "with nothing to ack"

    @step(fault="drop")
    def drop(self) -> None:
        """Break the client's connection; both ends see it close."""
        conn = self._live_conn()
        if conn is not None:
            self.cover(f"drop {self._waiting()}")
            self.world.drop(conn)

    @step(fault="half_open", believer=st.sampled_from(["server", "client"]))
    def half_open(self, believer: str) -> None:
        """Break the connection telling one end only; the other believes it is open."""
        conn = self._live_conn()
        if conn is not None:
            self.cover(f"half-open ({believer} believes) {self._waiting()}")
            self.world.half_open(conn, believer)

    def heal_faults(self) -> None:
        """Nothing lasts: a broken connection is the client's to replace."""
