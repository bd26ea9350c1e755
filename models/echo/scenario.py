"""The ``echo`` scenario: an echo server, two clients, jittered links, a drop and a crash.

It is small enough to read in one sitting and still exercises what every gateway meets:
a connection that dies under one client (a drop a quarter of the way in), and the server
crashing halfway and coming back ten seconds later, so both clients go through backoff,
refused upgrades and reconnects. ``bob`` sits on a slower, jittery link than ``alice``.

Fault times are fractions of the duration, so a short run still sees both faults.
"""

from __future__ import annotations

from gatewaysim.simulator.clock import HOUR, Time, ms, s
from gatewaysim.simulator.network import NetworkConfig
from gatewaysim.simulator.scenario import ScenarioResult, scenario
from gatewaysim.simulator.trace import OUT, Trace, TraceRecord
from gatewaysim.simulator.world import World

from .client import EchoClient
from .describe import describe
from .server import EchoServer

SERVER = "echo"
CLIENTS = ("alice", "bob")
RESTART_AFTER: Time = s(10)


def _drop_current(world: World, client: str) -> None:
    """Drop the client's connection if it has one open (a mid-reconnect client has none)."""
    node: EchoClient = world.node(client)
    if node is not None and node.open and node.conn is not None:
        world.drop(node.conn)


@scenario("echo", "an echo server and two clients over jittered links; a drop and a crash",
          HOUR)
def run_echo(seed: int, duration: Time, trace: Trace) -> ScenarioResult:
    """Run the echo world for ``duration`` of virtual time on ``trace``."""
    world = World(seed, network=NetworkConfig(latency=ms(20), jitter=ms(30)), trace=trace)

    connects = dict.fromkeys(CLIENTS, 0)

    def count_connects(rec: TraceRecord) -> None:
        if rec.kind == OUT and rec.type == "Note" and rec.data.get("event") == "connected":
            connects[rec.actor] += 1

    trace.listeners.append(count_connects)
    try:
        world.add_host(SERVER, EchoServer)
        world.slow_link("bob", SERVER, latency=ms(80), jitter=ms(60))
        for name in CLIENTS:
            world.add_host(name, lambda ctx: EchoClient(ctx, server=SERVER))

        crash_at = duration // 2
        world.schedule(duration // 4, lambda _: _drop_current(world, "alice"))
        world.schedule(crash_at, lambda _: world.crash(SERVER))
        world.schedule(crash_at + min(RESTART_AFTER, duration // 10),
                       lambda _: world.restart(SERVER))
        world.run_for(duration)
    finally:
        trace.listeners.remove(count_connects)

    clients: list[EchoClient] = [world.node(name) for name in CLIENTS]
    sent = sum(c.sent for c in clients)
    received = sum(c.received for c in clients)
    summary = {
        "clients": ", ".join(CLIENTS),
        "messages sent": sent,
        "echoes received": received,
        "lost or in flight": sent - received,
        "reconnects": sum(max(0, n - 1) for n in connects.values()),
        "server restarts": world.hosts[SERVER].incarnation,
    }
    return ScenarioResult(world=world, summary=summary, describe=describe)


__all__ = ["describe", "run_echo"]
