"""The test plan's layer-2 integration cases, against the model in virtual time.

2.1: a client connects and subscribes; it receives a broadcast; several clients on one
channel; unsubscribe stops delivery. 2.2: a broadcast from instance A reaches the clients
of every instance through Redis. Plus what Redis pub/sub promises: per-publisher order,
and nothing kept for a subscriber that is away.
"""

from __future__ import annotations

import itertools
from typing import Any

from gatewaysim.models.broadcast import BroadcastConfig, BroadcastWorld, build_world
from gatewaysim.models.broadcast.protocol import ORDERS, REDIS, Unsubscribe
from gatewaysim.simulator.clock import Time, ms, s
from gatewaysim.simulator.messages import (
    Effect,
    HttpRequest,
    HttpResponse,
    Input,
    Start,
    TimerFired,
)
from gatewaysim.simulator.node import HostContext, Node
from gatewaysim.simulator.trace import IN, Trace

FAITHFUL = BroadcastConfig()


class Poster(Node):
    """A test client of the HTTP API: creates order ``name-k`` on ``target`` every 100 ms."""

    def __init__(self, ctx: HostContext, target: str, count: int) -> None:
        super().__init__(ctx)
        self.target, self.count, self.sent = target, count, 0
        self.statuses: list[int] = []

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        if isinstance(inp, Start) or (isinstance(inp, TimerFired) and self.sent < self.count):
            self.sent += 1
            body = {"order": f"{self.address}-{self.sent}", "mid": f"m{self.sent}"}
            return [HttpRequest(f"{self.address}:r{self.sent}", self.target, "POST", "/orders",
                                body=body), self.set_timer("next", now + ms(100))]
        if isinstance(inp, HttpResponse):
            self.statuses.append(inp.status)
        return []


def _world(users: tuple[tuple[str, int], ...], seed: int = 0) -> BroadcastWorld:
    bw = build_world(FAITHFUL, seed, Trace(keep=True), users=users)
    bw.world.run_for(s(1))
    return bw


def _frames(bw: BroadcastWorld, actor: str) -> list[dict[str, Any]]:
    return [r.data["data"] for r in bw.world.trace.records
            if r.actor == actor and r.kind == IN and r.type == "WsMessage"
            and isinstance(r.data["data"], dict) and "channel" in r.data["data"]]


def test_client_connects_and_subscribes() -> None:
    bw = _world((("alice", 1),))
    tab = bw.tab("alice/0")
    assert tab is not None and tab.state.value == "connected"
    assert bw.subscriber_count(ORDERS) == 1
    assert bw.server_channels(tab) == (ORDERS,)


def test_client_receives_broadcast() -> None:
    bw = _world((("alice", 1),))
    bw.world.add_host("tester", lambda ctx: Poster(ctx, "api-a", 1))
    bw.world.run_for(s(1))
    (frame,) = _frames(bw, "alice")
    assert frame["channel"] == ORDERS and frame["event"] == "order.created"
    assert frame["payload"]["entity_id"] == "tester-1"
    assert bw.world.node("tester").statuses == [201]


def test_multiple_clients_same_channel() -> None:
    bw = _world((("alice", 1), ("bob", 1)))
    assert bw.subscriber_count(ORDERS) == 2
    bw.world.add_host("tester", lambda ctx: Poster(ctx, "api-b", 1))
    bw.world.run_for(s(1))
    assert len(_frames(bw, "alice")) == len(_frames(bw, "bob")) == 1


def test_client_unsubscribe_stops_delivery() -> None:
    bw = _world((("alice", 1),))
    bw.world.inject("alice", Unsubscribe(0, ORDERS))
    bw.world.run_for(ms(200))
    assert bw.subscriber_count(ORDERS) == 0
    bw.world.add_host("tester", lambda ctx: Poster(ctx, "api-a", 1))
    bw.world.run_for(s(1))
    assert _frames(bw, "alice") == []
    assert bw.redis.published == 1  # the broadcast happened; nobody was listening


def _spread_world() -> BroadcastWorld:
    """A world whose tabs landed on both instances (the load balancer draws per seed)."""
    for seed in range(20):
        bw = _world((("alice", 2), ("bob", 2)), seed)
        used = {bw.instance_of(bw.tab(k).conn) for k in bw.tab_keys()}  # type: ignore[union-attr]
        if used == set(bw.instances):
            return bw
    raise AssertionError("no seed in 0..19 put tabs on both instances")


def test_broadcast_from_instance_a_reaches_clients_on_every_instance() -> None:
    bw = _spread_world()
    bw.world.add_host("tester", lambda ctx: Poster(ctx, "api-a", 1))
    bw.world.run_for(s(2))
    for key in bw.tab_keys():
        tab = bw.tab(key)
        assert tab is not None
        assert tab.received == 1, (key, bw.instance_of(tab.conn))
    assert len(bw.redis.subscribers(ORDERS)) == len(bw.instances)


def test_redis_keeps_publisher_order() -> None:
    bw = _world((("alice", 1),))
    bw.world.add_host("tester", lambda ctx: Poster(ctx, "api-b", 5))
    bw.world.run_for(s(2))
    ids = [f["payload"]["entity_id"] for f in _frames(bw, "alice")]
    assert ids == [f"tester-{k}" for k in range(1, 6)]


def test_redis_keeps_nothing_for_an_instance_that_is_away() -> None:
    """While an instance's subscription is down, what is published is gone for its clients,
    even after it resubscribes: at-most-once, no history."""
    bw = _world((("alice", 1),))
    tab = bw.tab("alice/0")
    assert tab is not None
    home = bw.instance_of(tab.conn)
    assert home is not None
    node = bw.instance(home)
    assert node.sub_conn is not None
    bw.world.drop(node.sub_conn)
    bw.world.add_host("tester", lambda ctx: Poster(ctx, "api-a", 1))
    bw.world.run_for(s(3))
    assert node.bus_ready  # it came back and resubscribed...
    assert _frames(bw, "alice") == []  # ...but the broadcast made meanwhile never arrives
    assert bw.db.seq == 1
    assert REDIS in bw.world.hosts


def test_client_gives_up_after_ten_failed_attempts() -> None:
    """sync-patterns' BroadcastClient: delays 1 s * 2**n, then 'disconnected' for good."""
    bw = build_world(FAITHFUL, 0, Trace(keep=True), users=(("alice", 1),))
    for name in bw.instances:
        bw.world.partition("alice", name)
    bw.world.run_for(s(3600))
    tab = bw.tab("alice/0")
    assert tab is not None and tab.state.value == "disconnected"
    assert tab.attempts == FAITHFUL.max_reconnect_attempts
    opens = [r for r in bw.world.trace.records if r.actor == "alice" and r.type == "OpenConnection"]
    assert len(opens) == 1 + FAITHFUL.max_reconnect_attempts
    gaps = [b.t - a.t for a, b in itertools.pairwise(opens)]
    timeout = bw.world.network.config.connect_timeout
    # The first socket was already on its way when the partition began; every later attempt
    # fails after the connect timeout, then waits 1 s * 2**n.
    assert gaps[0] >= timeout + FAITHFUL.reconnect_delay
    assert gaps[1:] == [timeout + FAITHFUL.reconnect_delay * 2**n for n in range(1, len(gaps))]
