"""Small nodes for kernel tests: they record what reaches them and do what they are told."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import frozen

from gatewaysim.simulator import NetworkConfig, World
from gatewaysim.simulator.clock import Time, ms
from gatewaysim.simulator.messages import AcceptConnection, ConnectRequested, Effect, Input
from gatewaysim.simulator.node import HostContext, Node


@frozen
class Do(Input):
    """A test's way to make a node emit effects at a chosen instant (via ``world.inject``)."""

    effects: tuple = ()


Reaction = Callable[[Time, Any], list[Effect]]


class Recorder(Node):
    """Records every input with its time; accepts upgrades unless told otherwise."""

    def __init__(self, ctx: HostContext, accept: bool = True,
                 on: dict[type, Reaction] | None = None) -> None:
        super().__init__(ctx)
        self.seen: list[tuple[Time, Input]] = []
        self.accept = accept
        self.on = on or {}

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        self.seen.append((now, inp))
        if type(inp) is Do:
            return list(inp.effects)
        react = self.on.get(type(inp))
        if react is not None:
            return react(now, inp)
        if type(inp) is ConnectRequested and self.accept:
            return [AcceptConnection(inp.conn)]
        return []

    def got(self, cls: type) -> list[tuple[Time, Any]]:
        return [(t, i) for t, i in self.seen if type(i) is cls]


LATENCY = ms(10)


def two_hosts(latency: Time = LATENCY, jitter: Time = 0, seed: int = 0,
              client_on: dict | None = None, server_on: dict | None = None,
              **net: Any) -> tuple[World, Recorder, Recorder]:
    """A world with a client ``c`` and a server ``srv`` (both :class:`Recorder`)."""
    world = World(seed, network=NetworkConfig(latency=latency, jitter=jitter, **net))
    server = world.add_host("srv", lambda ctx: Recorder(ctx, on=server_on))
    client = world.add_host("c", lambda ctx: Recorder(ctx, on=client_on))
    assert isinstance(client, Recorder) and isinstance(server, Recorder)
    return world, client, server
