"""The echo pack's driver: one echo server, one client, and the faults that hit them.

Small on purpose: it proves the exploration machinery end to end (swarm, shrinking,
failure files, replay, emitted tests) on a model whose correct behaviour is obvious.
"""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen
from hypothesis import strategies as st

from gatewaysim.models.echo import EchoClient, EchoServer
from gatewaysim.models.echo.buggy import DuplicatingServer, GiveUpClient
from gatewaysim.models.echo.config import EchoConfig
from gatewaysim.simulator import clock
from gatewaysim.simulator.clock import s
from gatewaysim.simulator.network import OPEN
from gatewaysim.simulator.world import World

from ..driver import Driver
from ..steps import Int, OneOf, step

SERVER = "echo"
CLIENT = "client"


@frozen
class EchoStatistics:
    """What the echo monitors judge from, taken after a step."""

    client_connected: bool
    """The client holds an open socket that the server holds open too."""
    client_state: str
    """``connected``, ``connecting`` (a socket is opening) or ``reconnecting`` (backing off)."""
    attempts: int
    """Reconnect attempts since the last open (the ``give_up`` mutant never resets it)."""


class EchoDriver(Driver):
    settle_bound: ClassVar[clock.Time] = s(20)
    model_config: EchoConfig

    def setup(self) -> World:
        world = World(self.seed, trace=self.trace)
        cfg = self.model_config
        server = DuplicatingServer if cfg.mutant("duplicate_after_restart") else EchoServer
        world.add_host(SERVER, server)
        if cfg.mutant("give_up"):
            world.add_host(CLIENT, lambda ctx: GiveUpClient(ctx, SERVER, cfg.give_up_after))
        else:
            world.add_host(CLIENT, lambda ctx: EchoClient(ctx, SERVER))
        return world

    @property
    def client(self) -> EchoClient:
        return self.world.node(CLIENT)

    def client_connected(self) -> bool:
        client = self.client
        if not client.open or client.conn is None:
            return False
        conn = self.world.network.connection(client.conn)
        return conn is not None and not conn.broken and conn.server_state == OPEN

    def _client_state(self) -> str:
        if self.client_connected():
            return "connected"
        return "connecting" if self.client.conn is not None else "reconnecting"

    def statistics(self) -> EchoStatistics:
        return EchoStatistics(self.client_connected(), self._client_state(),
                              self.client.attempts)

    # ------------------------------------------------------------------ steps
    # Exploration draws waits of up to 15 s; a run written by hand may wait up to an hour.
    @step(time_arg="ms", ms=Int(1, 3_600_000, strategy=st.integers(1, 15_000)))
    def advance(self, ms: int) -> None:
        """Let virtual time pass."""
        self.world.run_for(clock.ms(ms))

    @step(fault="drop")
    def drop(self) -> None:
        """Break the client's connection; both ends see 1006."""
        conn = self.client.conn
        if conn is None or self.world.network.connection(conn) is None:
            return
        self.cover(f"drop while {self._client_state()}")
        self.world.drop(conn)

    @step(fault="half_open", believer=OneOf("server", "client"))
    def half_open(self, believer: str) -> None:
        """Break the connection telling only one end; the other believes it is open."""
        conn = self.client.conn
        if conn is None or self.world.network.connection(conn) is None:
            return
        self.cover(f"half-open ({believer} believes) while {self._client_state()}")
        self.world.half_open(conn, believer)

    @step(fault="crash")
    def crash(self) -> None:
        if self.world.host_up(SERVER):
            self.cover(f"crash while {self._client_state()}")
            self.world.crash(SERVER)

    @step(fault="crash")
    def restart(self) -> None:
        if not self.world.host_up(SERVER):
            self.cover(f"restart while client {self._client_state()}")
            self.world.restart(SERVER)

    @step(fault="partition")
    def partition(self) -> None:
        if not self.world.network.is_blocked(CLIENT, SERVER):
            self.cover(f"partition while {self._client_state()}")
            self.world.partition(CLIENT, SERVER)

    @step(fault="partition")
    def heal(self) -> None:
        if self.world.network.is_blocked(CLIENT, SERVER):
            self.world.heal(CLIENT, SERVER)

    # ------------------------------------------------------------------ settling
    def heal_faults(self) -> None:
        if self.world.network.is_blocked(CLIENT, SERVER):
            self.cover("settled while partitioned")
            self.world.heal()
        if not self.world.host_up(SERVER):
            self.cover("settled with the server down")
            self.world.restart(SERVER)
