"""The restart world: one ComfyUI server process, its clients, and a process supervisor.

:class:`RestartWorld` wraps a kernel :class:`~gatewaysim.simulator.world.World` with the
verbs of the document's ``ServerManager``: :meth:`start` (a new process on the same
port), :meth:`kill` with ``SIGTERM`` (graceful: the server closes its sockets with 1000,
then exits) or ``SIGKILL`` (the world's ``crash``: peers see 1006), and :meth:`running`.

The supervisor is a trace listener: when the server node says ``process.exit`` (its SIGTERM
handler finished), the process ends at that instant, as ``process.exit(0)`` would.
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import field, frozen

from gatewaysim.simulator.clock import ms
from gatewaysim.simulator.network import NetworkConfig
from gatewaysim.simulator.trace import OUT, Trace, TraceRecord
from gatewaysim.simulator.world import World

from .client import ClientOptions, ComfyClient
from .config import RestartConfig
from .protocol import SERVER
from .server import EXIT, ComfyServer, Terminate

SIGTERM, SIGKILL = "SIGTERM", "SIGKILL"
LOOPBACK = NetworkConfig(latency=ms(1), crash_detect=ms(1))
"""A loopback link, as between a test process and a server it spawned: 1 ms each way."""
MAX_EVENTS = 200_000
"""Events one ``run_for`` may take. A restart cycle costs a few dozen; a client that
reconnects in a tight loop would otherwise fill memory instead of failing a run."""


@frozen
class ClientSpec:
    """A client of the world: its host name and its ``ComfyApi`` options."""

    name: str
    options: ClientOptions = field(factory=ClientOptions)


class RestartWorld:
    """The world plus the ServerManager verbs. ``world`` is the kernel world itself."""

    def __init__(self, seed: int, trace: Trace | None, config: RestartConfig,
                 clients: Sequence[ClientSpec], network: NetworkConfig | None = None,
                 start_server: bool = True, max_events: int = MAX_EVENTS) -> None:
        self.config = config
        self.world = World(seed, network=network or LOOPBACK, trace=trace,
                           max_events=max_events)
        self.trace = self.world.trace
        self.restart_on_exit = False
        self.trace.listeners.append(self._supervise)
        self.world.add_host(SERVER, lambda ctx: ComfyServer(ctx, config), start=start_server)
        self.clients = tuple(spec.name for spec in clients)
        for spec in clients:
            self.world.add_host(spec.name, self._client_factory(spec))

    def _client_factory(self, spec: ClientSpec):  # type: ignore[no-untyped-def]
        config = self.config
        return lambda ctx: ComfyClient(ctx, config, spec.options)

    def _supervise(self, record: TraceRecord) -> None:
        if (record.actor == SERVER and record.kind == OUT and record.type == "Note"
                and record.data.get("event") == EXIT):
            self.world.schedule(record.t, self._exit)

    def _exit(self, _arg: object = None) -> None:
        self.world.crash(SERVER)
        if self.restart_on_exit:
            self.restart_on_exit = False
            self.world.restart(SERVER)

    # ------------------------------------------------------------------ ServerManager
    def running(self) -> bool:
        """A server process is alive (it may be shutting down)."""
        return self.world.host_up(SERVER)

    def shutting_down(self) -> bool:
        return self.running() and self.server.shutting_down

    def accepting(self) -> bool:
        """A process is up and not shutting down: it answers upgrades and requests."""
        return self.running() and not self.server.shutting_down

    def start(self) -> bool:
        """Start a new process on the port (no-op, False, while one still holds it)."""
        if self.running():
            return False
        self.world.restart(SERVER)  # a first start is recorded as a restart too
        return True

    def kill(self, signal: str = SIGTERM) -> bool:
        """Send ``signal`` to the server process (no-op, False, if there is none)."""
        if not self.running():
            return False
        if signal == SIGKILL:
            self.world.crash(SERVER)
        else:
            self.world.fault("signal", host=SERVER, signal=signal)
            self.world.inject(SERVER, Terminate())
        return True

    # ------------------------------------------------------------------ access
    @property
    def server(self) -> ComfyServer:
        return self.world.node(SERVER)

    def client(self, name: str) -> ComfyClient:
        return self.world.node(name)

    def __repr__(self) -> str:
        return f"RestartWorld(t={self.world.now}, clients={list(self.clients)})"


__all__ = ["LOOPBACK", "SIGKILL", "SIGTERM", "ClientSpec", "RestartWorld"]
