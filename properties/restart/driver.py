"""The restart pack's driver: one ComfyUI server process, two clients, and what hits them.

``api`` is built as the document's automatic-reconnection tests build it (``autoReconnect:
true``, an ``onReconnectionFailed`` callback); ``api2`` with the defaults (the manual
tests), and it is the one a run may ``destroy()``. Both initialise against a running server
during setup, so every run starts with two connected clients.

Faults are the server's deaths and returns (SIGKILL, SIGTERM, a new process on the port),
lost TCP connections, partitions and a slow link; user actions are prompts, manual
``reconnectWs(true)`` and ``destroy()``. ``heal_faults`` restarts the server (after a
SIGTERM still in progress, as soon as the process exits), heals the network and restores
the link; user facts (a destroyed client) stay.
"""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen
from hypothesis import strategies as st

from gatewaysim.models.restart.client import (
    ClientOptions,
    ComfyClient,
    Destroy,
    Init,
    ReconnectWs,
    SubmitPrompt,
)
from gatewaysim.models.restart.config import RestartConfig
from gatewaysim.models.restart.protocol import SERVER
from gatewaysim.models.restart.world import LOOPBACK, SIGKILL, SIGTERM, ClientSpec, RestartWorld
from gatewaysim.simulator import clock
from gatewaysim.simulator.clock import Time, s
from gatewaysim.simulator.network import OPEN
from gatewaysim.simulator.world import World

from ..driver import Driver
from ..steps import step

AUTO, PLAIN = "api", "api2"
CLIENTS = (ClientSpec(AUTO, ClientOptions(auto_reconnect=True, on_reconnection_failed=True)),
           ClientSpec(PLAIN, ClientOptions(on_reconnection_failed=True)))
NAMES = (AUTO, PLAIN)

client_name = st.sampled_from(NAMES)
#: Mostly a few seconds (restart cycles, the loop's first checks), sometimes long enough for
#: the reconnection loop to run out of attempts, and sometimes one of the instants the
#: library's schedule makes interesting: its attempts start about 0, 1, 3, 7, 15, 30, 45, 60,
#: 75 and 90 s after a close, and a poll comes every 2 s.
advance_ms = st.one_of(st.integers(min_value=1, max_value=5_000),
                       st.integers(min_value=5_000, max_value=100_000),
                       st.sampled_from([1_000, 2_000, 3_000, 7_000, 15_000, 30_000, 60_000,
                                        75_000, 88_500, 89_000, 89_500]))


@frozen
class ClientFacts:
    """One client as its monitors see it after a step."""

    name: str
    state: str
    """``connectionState``."""
    connected: bool
    """Its current socket is OPEN on both ends (the server holds it too)."""
    open_sockets: int
    """Sockets OPEN from the client's side (current or not)."""
    server_sockets: int
    """Sockets the running server process holds for this client."""
    destroyed: bool
    ready: bool
    """``init()`` finished."""
    gave_up: bool
    """``reconnection_failed`` came from the running loop (the policy's last word)."""
    loop_running: bool
    """A reconnection loop has a check pending."""
    polling: bool


@frozen
class RestartStatistics:
    """What the restart monitors judge from."""

    server_up: bool
    """A server process accepts upgrades and requests (up and not shutting down)."""
    incarnation: int
    """How many processes were started on the port before the current one."""
    clients: tuple[ClientFacts, ...]

    def client(self, name: str) -> ClientFacts:
        return next(c for c in self.clients if c.name == name)


class RestartDriver(Driver):
    settle_bound: ClassVar[Time] = s(120)
    """A half-open socket found by the heartbeat (60 s of silence, looked at every 30 s, 1 s
    to learn the transport is dead), then a loop's longest pause (15 s + 15 % jitter) and an
    attempt's round trip, rounded up."""
    model_config: RestartConfig

    def setup(self) -> World:
        self.rw = RestartWorld(self.seed, self.trace, self.model_config, CLIENTS,
                               network=LOOPBACK)
        for name in NAMES:
            self.rw.world.inject(name, Init())
        self.rw.world.run_for(s(1))
        self._prompts = 0
        return self.rw.world

    # ------------------------------------------------------------------ facts
    def _client(self, name: str) -> ComfyClient:
        return self.world.node(name)

    def _facts(self, name: str) -> ClientFacts:
        c = self._client(name)
        net = self.world.network
        mine = [conn for conn in net.conns.values() if conn.client == name and not conn.broken]
        open_client = [conn for conn in mine if conn.client_state == OPEN]
        held = [conn for conn in mine if conn.server_state == OPEN and self.rw.running()]
        current = net.connection(c.socket) if c.socket is not None else None
        connected = (c.is_connected() and current is not None and not current.broken
                     and current.server_state == OPEN)
        loop = c.loop
        return ClientFacts(
            name, c.state.value, connected, len(open_client), len(held), c.destroyed, c.ready,
            loop is not None and loop.exhausted and not loop.aborted
            and c.state.value == "failed",
            loop is not None and loop.check_pending, c.polling)

    def statistics(self) -> RestartStatistics:
        server = self.world.hosts[SERVER]
        return RestartStatistics(self.rw.accepting(), server.incarnation,
                                 tuple(self._facts(name) for name in NAMES))

    def _label(self, name: str) -> str:
        c = self._client(name)
        return "connected" if c.is_connected() else c.state.value

    # ------------------------------------------------------------------ steps
    @step(time_arg="ms", ms=advance_ms)
    def advance(self, ms: int) -> None:
        """Let virtual time pass."""
        self.world.run_for(clock.ms(ms))

    @step(fault="crash")
    def sigkill(self) -> None:
        """SIGKILL the server: memory lost, every socket breaks (1006)."""
        if self.rw.running():
            self.cover(f"SIGKILL while api {self._label(AUTO)}")
            self.rw.kill(SIGKILL)

    @step(fault="crash")
    def sigterm(self) -> None:
        """SIGTERM the server: it closes every socket with 1000, then exits."""
        if self.rw.accepting():
            self.cover(f"SIGTERM while api {self._label(AUTO)}")
            self.rw.kill(SIGTERM)

    @step(fault="crash")
    def start(self) -> None:
        """A new server process on the same port (once the old one has exited)."""
        if not self.rw.running():
            self.cover(f"restart while api {self._label(AUTO)}")
            self.rw.start()

    @step(fault="drop", client=client_name)
    def drop(self, client: str) -> None:
        """The client's TCP connection is lost; both ends see 1006."""
        conn = self._client(client).socket
        if conn is not None and self.world.network.connection(conn) is not None:
            self.cover(f"drop while {client} {self._label(client)}")
            self.world.drop(conn)

    @step(fault="partition", client=client_name)
    def partition(self, client: str) -> None:
        if not self.world.network.is_blocked(client, SERVER):
            self.cover(f"partition while {client} {self._label(client)}")
            self.world.partition(client, SERVER)

    @step(fault="partition", client=client_name)
    def heal(self, client: str) -> None:
        if self.world.network.is_blocked(client, SERVER):
            self.world.heal(client, SERVER)

    @step(fault="slow", latency_ms=st.sampled_from([50, 300, 2000]))
    def slow_link(self, latency_ms: int) -> None:
        """Every client's link to the server gets slow and jittery (lossy TCP)."""
        self.cover(f"slow link {latency_ms}ms")
        for name in NAMES:
            self.world.slow_link(name, SERVER, clock.ms(latency_ms), clock.ms(latency_ms // 2))

    @step(fault="traffic", client=client_name)
    def submit_prompt(self, client: str) -> None:
        """Run a workflow (POST /prompt, then follow it)."""
        c = self._client(client)
        if not c.destroyed:
            self._prompts += 1
            self.cover(f"prompt while {client} {self._label(client)}")
            self.world.inject(client, SubmitPrompt(f"w{self._prompts}"))

    @step(fault="user", client=client_name)
    def reconnect_ws(self, client: str) -> None:
        """``reconnectWs(true)`` by hand."""
        c = self._client(client)
        if not c.destroyed:
            self.cover(f"reconnectWs while {client} {self._label(client)}")
            self.world.inject(client, ReconnectWs(True))

    @step(fault="destroy")
    def destroy(self) -> None:
        """``api2.destroy()``."""
        c = self._client(PLAIN)
        if not c.destroyed:
            self.cover(f"destroy while api2 {self._label(PLAIN)}"
                       + (" with a loop running" if c.loop and c.loop.check_pending else ""))
            self.world.inject(PLAIN, Destroy())

    # ------------------------------------------------------------------ settling
    def heal_faults(self) -> None:
        net = self.world.network
        if net.blocked:
            self.cover("settled while partitioned")
            self.world.heal()
        if net.links:
            for name in NAMES:
                self.world.slow_link(name, SERVER, LOOPBACK.latency, 0)
        if self.rw.shutting_down():
            self.cover("settled while the server shuts down")
            self.rw.restart_on_exit = True
        elif not self.rw.running():
            self.cover("settled with the server down")
            self.rw.start()


__all__ = ["AUTO", "CLIENTS", "NAMES", "PLAIN", "ClientFacts", "RestartDriver",
           "RestartStatistics"]
