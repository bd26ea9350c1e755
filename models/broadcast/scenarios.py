"""The SYNC-012 test plan's four scenarios, in virtual time.

Each scenario is a plain function of a config (so tests run it under ``faithful`` and
``fixed``) wrapped by a ``@scenario`` for ``gatewaysim run`` (faithful). Their summaries hold
what the plan's "Verify" lines ask, measured, not asserted: the tests assert them.

1. ``broadcast-single-client``: alice connects, subscribes to ``orders``, creates an order
   optimistically; the backend saves and broadcasts ``order.created``; alice receives her own
   broadcast (and may ignore it); her cache shows the order.
2. ``broadcast-multi-client``: alice and bob subscribe; alice creates; bob receives the
   broadcast, invalidates and refetches; both show the same list.
3. ``broadcast-multi-tab``: alice's two tabs; tab 0 creates; tab 1 gets the BroadcastChannel
   message and shows the order before the server has saved it.
4. ``broadcast-reconnect``: alice's socket drops; she goes ``reconnecting``, reconnects,
   resubscribes every channel; a later broadcast (bob's order) reaches her again.
"""

from __future__ import annotations

from typing import Any

from gatewaysim.simulator.clock import Time, ms, s
from gatewaysim.simulator.scenario import ScenarioResult, scenario
from gatewaysim.simulator.trace import IN, Trace

from .config import BroadcastConfig
from .describe import describe
from .protocol import CreateOrder, Subscribe
from .world import BroadcastWorld, build_world

SETTLE: Time = s(1)
SHORT: Time = s(5)
LONG: Time = s(8)
"""Time given to connect, subscribe and load before a scenario acts."""


def _received(bw: BroadcastWorld, user: str, event: str) -> int:
    """How many ``event`` frames ``user``'s sockets received so far."""
    return sum(1 for r in bw.world.trace.records
               if r.actor == user and r.kind == IN and r.type == "WsMessage"
               and isinstance(r.data["data"], dict) and r.data["data"].get("event") == event)


def single_client(config: BroadcastConfig, seed: int = 0, duration: Time = SHORT,
                  trace: Trace | None = None) -> tuple[BroadcastWorld, dict[str, Any]]:
    trace = trace if trace is not None else Trace(keep=True)
    bw = build_world(config, seed, trace, users=(("alice", 1),))
    world = bw.world
    world.run_for(SETTLE)
    tab = bw.tab("alice/0")
    assert tab is not None
    subscribed = bw.server_channels(tab)
    count = bw.subscriber_count()
    world.inject("alice", CreateOrder(0))
    optimistic = tab.cache.shown()
    db_at_click = dict(bw.db.orders)
    world.run_for(duration - SETTLE)
    return bw, {
        "state": tab.state.value,
        "subscribed": list(subscribed),
        "subscriber count": count,
        "shown at click": optimistic,
        "database at click": db_at_click,
        "own broadcasts received": _received(bw, "alice", "order.created"),
        "own echoes ignored": sum(1 for r in trace.records if r.type == "Note"
                                  and r.data.get("event") == "echo.ignored"),
        "shown": tab.cache.shown(),
        "database": dict(bw.db.orders),
    }


def multi_client(config: BroadcastConfig, seed: int = 0, duration: Time = SHORT,
                 trace: Trace | None = None) -> tuple[BroadcastWorld, dict[str, Any]]:
    trace = trace if trace is not None else Trace(keep=True)
    bw = build_world(config, seed, trace, users=(("alice", 1), ("bob", 1)))
    bw.world.run_for(SETTLE)
    count = bw.subscriber_count()
    bw.world.inject("alice", CreateOrder(0))
    bw.world.run_for(duration - SETTLE)
    alice, bob = bw.tab("alice/0"), bw.tab("bob/0")
    assert alice is not None and bob is not None
    refetches = sum(1 for r in trace.records if r.actor == "bob" and r.type == "Note"
                    and r.data.get("event") == "fetch.response")
    return bw, {
        "subscriber count": count,
        "bob received": _received(bw, "bob", "order.created"),
        "bob refetches": refetches,
        "alice shows": alice.cache.shown(),
        "bob shows": bob.cache.shown(),
        "database": dict(bw.db.orders),
    }


def multi_tab(config: BroadcastConfig, seed: int = 0, duration: Time = SHORT,
              trace: Trace | None = None) -> tuple[BroadcastWorld, dict[str, Any]]:
    trace = trace if trace is not None else Trace(keep=True)
    bw = build_world(config, seed, trace, users=(("alice", 2),))
    bw.world.run_for(SETTLE)
    tab0, tab1 = bw.tab("alice/0"), bw.tab("alice/1")
    assert tab0 is not None and tab1 is not None
    bw.world.inject("alice", CreateOrder(0))
    at_click = {"tab 0 shows at click": tab0.cache.shown(),
                "tab 1 shows at click": tab1.cache.shown(),
                "database at click": dict(bw.db.orders)}
    bw.world.run_for(duration - SETTLE)
    return bw, {**at_click, "tab 0 shows": tab0.cache.shown(), "tab 1 shows": tab1.cache.shown(),
                "database": dict(bw.db.orders)}


def reconnect(config: BroadcastConfig, seed: int = 0, duration: Time = LONG,
              trace: Trace | None = None) -> tuple[BroadcastWorld, dict[str, Any]]:
    trace = trace if trace is not None else Trace(keep=True)
    bw = build_world(config, seed, trace, users=(("alice", 1), ("bob", 1)))
    world = bw.world
    world.inject("alice", Subscribe(0, "contacts"))
    world.run_for(SETTLE)
    alice = bw.tab("alice/0")
    assert alice is not None and alice.conn is not None
    before = bw.server_channels(alice)
    world.drop(alice.conn)
    states: list[str] = []
    world.trace.listeners.append(
        lambda r: states.append(r.data["data"]["to"]) if r.actor == "alice" and r.type == "Note"
        and r.data.get("event") == "client.state" else None)
    world.run_for(s(3))
    after = bw.server_channels(alice)
    received_before = _received(bw, "alice", "order.created")
    world.inject("bob", CreateOrder(0))
    world.run_for(duration - SETTLE - s(3))
    return bw, {
        "states after the drop": states,
        "subscribed before": list(before),
        "subscribed after": list(after),
        "broadcasts received after reconnect": _received(bw, "alice", "order.created")
        - received_before,
        "alice shows": alice.cache.shown(),
        "database": dict(bw.db.orders),
    }


def _result(pair: tuple[BroadcastWorld, dict[str, Any]]) -> ScenarioResult:
    bw, summary = pair
    return ScenarioResult(world=bw.world, summary=summary, describe=describe)


@scenario("broadcast-single-client", "SYNC-012 scenario 1: one client's optimistic create, "
          "saved, broadcast and shown", s(5), timeline=True)
def run_single_client(seed: int, duration: Time, trace: Trace) -> ScenarioResult:
    return _result(single_client(BroadcastConfig(), seed, max(duration, ms(1500)), trace))


@scenario("broadcast-multi-client", "SYNC-012 scenario 2: bob refetches alice's order on "
          "its broadcast", s(5), timeline=True)
def run_multi_client(seed: int, duration: Time, trace: Trace) -> ScenarioResult:
    return _result(multi_client(BroadcastConfig(), seed, max(duration, ms(1500)), trace))


@scenario("broadcast-multi-tab", "SYNC-012 scenario 3: tab 1 shows tab 0's order before the "
          "server saved it", s(5), timeline=True)
def run_multi_tab(seed: int, duration: Time, trace: Trace) -> ScenarioResult:
    return _result(multi_tab(BroadcastConfig(), seed, max(duration, ms(1500)), trace))


@scenario("broadcast-reconnect", "SYNC-012 scenario 4: drop, reconnecting, resubscribe, "
          "broadcasts flow again", s(8), timeline=True)
def run_reconnect(seed: int, duration: Time, trace: Trace) -> ScenarioResult:
    return _result(reconnect(BroadcastConfig(), seed, max(duration, s(5)), trace))


SCENARIOS = (run_single_client, run_multi_client, run_multi_tab, run_reconnect)

__all__ = ["SCENARIOS", "multi_client", "multi_tab", "reconnect", "single_client"]
