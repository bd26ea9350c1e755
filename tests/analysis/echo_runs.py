"""Echo worlds with faults, the runs the analysis tests look at.

Faults are drawn from a ``random.Random`` seeded with the world's seed, outside the
models, so a seed names one run exactly.
"""

from __future__ import annotations

import random
from pathlib import Path

from gatewaysim.models.echo import EchoClient, EchoServer
from gatewaysim.simulator.clock import Time, ms, s
from gatewaysim.simulator.messages import (
    AcceptConnection,
    AlarmFired,
    ConnectRequested,
    DeleteAlarm,
    Effect,
    Input,
    Note,
    SetAlarm,
    WsClosed,
)
from gatewaysim.simulator.trace import Trace
from gatewaysim.simulator.world import World

SERVER = "echo"
GRACE = s(3)


class GraceEchoServer(EchoServer):
    """An echo server with a gateway's habit: a grace alarm after a socket closes.

    It gives the analysis tests alarm windows that fire (nobody came back) and that are
    deleted (a client reconnected first), the way a gateway's grace period behaves.
    """

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case ConnectRequested(conn=conn):
                return [AcceptConnection(conn), DeleteAlarm()]
            case WsClosed():
                return [SetAlarm(now + GRACE), Note("grace.started")]
            case AlarmFired():
                return [Note("grace.expired")]
        return super().on_input(now, inp)


def client_name(i: int) -> str:
    return f"client/{i}"


def echo_world(seed: int, clients: int = 3, duration_s: int = 30, faults: bool = True,
               path: Path | None = None, grace: bool = False) -> World:
    """Run an echo world for ``duration_s`` seconds; with faults every few seconds.

    ``grace`` uses :class:`GraceEchoServer`, whose lane then carries alarms.
    """
    trace = Trace(header={"seed": seed, "pack": "echo", "scenario": "echo-analysis"}, path=path,
                  keep=True)
    world = World(seed, trace=trace)
    world.add_host(SERVER, GraceEchoServer if grace else EchoServer)
    for i in range(clients):
        world.add_host(client_name(i), lambda ctx: EchoClient(ctx, server=SERVER))
    rng = random.Random(seed)
    t = s(2)
    end = s(duration_s)
    while t < end:
        world.run_until(t)
        if faults:
            apply_fault(world, rng, clients)
        t += s(rng.randint(2, 5)) + ms(rng.randint(0, 999))
    world.run_until(end)
    trace.close()
    return world


def apply_fault(world: World, rng: random.Random, clients: int) -> None:
    """One fault: drop a client's socket, crash or restart a client, or bounce the server."""
    victim = client_name(rng.randrange(clients))
    roll = rng.random()
    if roll < 0.5:
        if world.host_up(victim):
            conn = world.node(victim).conn
            if conn is not None and world.network.connection(conn) is not None:
                world.drop(conn)
    elif roll < 0.75:
        if world.host_up(victim):
            world.crash(victim)
        else:
            world.restart(victim)
    elif world.host_up(SERVER):
        world.crash(SERVER)
    else:
        world.restart(SERVER)
