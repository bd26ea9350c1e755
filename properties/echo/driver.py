"""The echo pack's driver: one echo server, one client, and the faults that hit them.

Small on purpose: it proves the exploration machinery end to end (swarm, shrinking,
failure files, replay, emitted tests) on a model whose correct behaviour is obvious.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gatewaysim.models.echo import EchoClient, EchoServer
from gatewaysim.models.echo.buggy import DuplicatingServer, GiveUpClient
from gatewaysim.simulator import clock
from gatewaysim.simulator.clock import format_duration, s
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.network import OPEN
from gatewaysim.simulator.trace import IN, OUT, TraceRecord
from gatewaysim.simulator.world import World
from hypothesis import strategies as st

from ..driver import Driver
from ..steps import step
from .invariants import INVARIANTS

SERVER = "echo"
CLIENT = "client"

CLIENTS = ("faithful", "give-up")
SERVERS = ("faithful", "duplicate-after-restart")


class EchoDriver(Driver):
    pack: ClassVar[str] = "echo"
    invariants = INVARIANTS
    settle_bound = s(20)

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        config = super().check_config(config)
        expected = {"client", "server", "give_up_after"}
        if set(config) != expected:
            raise ConfigError(f"echo config needs exactly the keys {sorted(expected)}, "
                              f"got {sorted(config)}")
        if config["client"] not in CLIENTS:
            raise ConfigError(f"echo config: client must be one of {CLIENTS}")
        if config["server"] not in SERVERS:
            raise ConfigError(f"echo config: server must be one of {SERVERS}")
        limit = config["give_up_after"]
        if type(limit) is not int or limit < 1:
            raise ConfigError(
                f"echo config: give_up_after must be a positive integer, not {limit!r}")
        return config

    def setup(self) -> World:
        world = World(self.seed, trace=self.trace)
        self.order_problem: str | None = None
        self.gave_up = False
        self._sent: dict[str, set[int]] = {}
        self._last: dict[str, int] = {}
        self.trace.listeners.append(self._watch)
        server = DuplicatingServer if self.config["server"] != "faithful" else EchoServer
        world.add_host(SERVER, server)
        if self.config["client"] == "faithful":
            world.add_host(CLIENT, lambda ctx: EchoClient(ctx, SERVER))
        else:
            limit = self.config["give_up_after"]
            world.add_host(CLIENT, lambda ctx: GiveUpClient(ctx, SERVER, limit))
        return world

    # ------------------------------------------------------------------ observation
    def _watch(self, rec: TraceRecord) -> None:
        """Follow the client's sends and echoes as they are recorded (the order invariant)."""
        if rec.actor != CLIENT:
            return
        if rec.kind == OUT and rec.type == "Send":
            self._sent.setdefault(rec.data["conn"], set()).add(rec.data["data"]["n"])
        elif rec.kind == IN and rec.type == "WsMessage" and self.order_problem is None:
            conn, n = rec.data["conn"], rec.data["data"]["n"]
            last = self._last.get(conn)
            if n not in self._sent.get(conn, ()):
                self.order_problem = f"{conn} delivered n={n}, which was never sent on it"
            elif last is not None and n == last:
                self.order_problem = f"{conn} delivered n={n} twice"
            elif last is not None and n < last:
                self.order_problem = f"{conn} delivered n={n} after n={last}"
            self._last[conn] = n
        elif rec.kind == OUT and rec.type == "Note" and rec.data["event"] == "reconnect.given_up":
            self.gave_up = True

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

    # ------------------------------------------------------------------ steps
    @step(ms=st.integers(min_value=1, max_value=15_000))
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

    @step(fault="half_open", believer=st.sampled_from(["server", "client"]))
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

    def describe(self, record: TraceRecord) -> str | None:
        if record.actor == CLIENT and record.kind == OUT and record.type == "Send":
            return f"client sends n={record.data['data']['n']} on {record.data['conn']}"
        if record.actor == CLIENT and record.kind == IN and record.type == "WsMessage":
            return f"client receives echo n={record.data['data']['n']} on {record.data['conn']}"
        if record.kind == OUT and record.type == "Note" and record.data["event"] == (
                "reconnect.scheduled"):
            return f"reconnect scheduled in {format_duration(record.data['data']['delay'])}"
        if record.actor == SERVER and record.kind == OUT and record.type == "Send":
            return f"server echoes n={record.data['data']['n']} on {record.data['conn']}"
        return None
