"""Building the broadcast world: Redis, the backend instances, the database, the browsers.

Both the scenarios and the exploration driver build the same world from a config, a seed
and a trace, and read it through :class:`BroadcastWorld`'s accessors.
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import define

from gatewaysim.simulator.network import NetworkConfig
from gatewaysim.simulator.trace import Trace
from gatewaysim.simulator.world import World

from .browser import Browser, Tab
from .config import BroadcastConfig
from .database import Database
from .instance import BackendInstance
from .protocol import ORDERS, REDIS, instance_name
from .redis import RedisPubSub

USERS: tuple[tuple[str, int], ...] = (("alice", 2), ("bob", 1))
"""The default browsers: alice with two tabs (BroadcastChannel), bob with one."""


@define(eq=False)
class BroadcastWorld:
    """A built world with its database and the names of its parts."""

    world: World
    db: Database
    instances: tuple[str, ...]
    users: tuple[str, ...]

    def browser(self, user: str) -> Browser:
        return self.world.node(user)

    def instance(self, name: str) -> BackendInstance:
        return self.world.node(name)

    @property
    def redis(self) -> RedisPubSub:
        return self.world.node(REDIS)

    def tab(self, key: str) -> Tab | None:
        """The open tab ``alice/0`` (``None`` if that slot is closed)."""
        user, _, slot = key.partition("/")
        return self.browser(user).tab(int(slot))

    def tab_keys(self) -> tuple[str, ...]:
        """Every tab slot, open or not: ``alice/0``, ``alice/1``, ``bob/0``."""
        return tuple(f"{u}/{slot}" for u in self.users for slot in self.browser(u).tabs)

    def instance_of(self, conn: str | None) -> str | None:
        """The instance holding the server end of ``conn`` (``None``: not accepted)."""
        if conn is None:
            return None
        c = self.world.network.connection(conn)
        return None if c is None else c.server

    def server_channels(self, tab: Tab) -> tuple[str, ...]:
        """The channels the backend holds for the tab's current socket."""
        where = self.instance_of(tab.conn)
        if where is None or tab.conn is None:
            return ()
        return self.instance(where).channels_of(tab.conn)

    def subscriber_count(self, channel: str = ORDERS) -> int:
        """Subscribers of ``channel`` summed over every instance."""
        return sum(self.instance(i).subscriber_count(channel) for i in self.instances)

    def __repr__(self) -> str:
        return (f"BroadcastWorld(instances={list(self.instances)}, users={list(self.users)}, "
                f"t={self.world.now})")


def build_world(config: BroadcastConfig, seed: int, trace: Trace | None = None, *,
                users: Sequence[tuple[str, int]] = USERS) -> BroadcastWorld:
    """Redis, ``config.instances`` backends on one database, and one browser per user."""
    net = NetworkConfig(latency=config.latency, jitter=config.jitter)
    world = World(seed, network=net, trace=trace)
    db = Database()
    instances = tuple(instance_name(i) for i in range(config.instances))
    world.add_host(REDIS, RedisPubSub)
    for name in instances:
        world.add_host(name, lambda ctx: BackendInstance(ctx, db, config))
    for user, tabs in users:
        for name in instances:
            latency, jitter = config.downlink(name, user)
            if (latency, jitter) != (config.latency, config.jitter):
                world.network.set_link(name, user, latency, jitter, both=False)
        world.add_host(user, lambda ctx, n=tabs: Browser(ctx, config, instances, tabs=n))
    return BroadcastWorld(world, db, instances, tuple(u for u, _ in users))


__all__ = ["USERS", "BroadcastWorld", "build_world"]
