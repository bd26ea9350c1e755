"""A crashed Durable Object (a namespace host) is recreated by the next thing that reaches it."""

from __future__ import annotations

from gatewaysim.simulator import NetworkConfig, World
from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.messages import (
    AlarmFired,
    HttpRequest,
    HttpRequestReceived,
    HttpRespond,
    HttpResponse,
    OpenConnection,
    SetAlarm,
    Start,
    StoragePut,
    WsOpened,
    WsRejected,
)

from .nodes import Do, Recorder

L = ms(10)
DO = "obj/a"


def namespace_world(on: dict | None = None) -> tuple[World, Recorder]:
    """A world with a client ``c`` and a namespace ``obj/`` of :class:`Recorder` objects."""
    world = World(0, network=NetworkConfig(latency=L))
    world.add_namespace("obj/", lambda ctx: Recorder(ctx, on=on))
    client = world.add_host("c", Recorder)
    assert isinstance(client, Recorder)
    return world, client


def revivals(world: World) -> list[tuple[int, str, dict]]:
    return [(r.t, r.actor, r.data) for r in world.trace.records if r.type == "host.revived"]


def create_and_crash(world: World, client: Recorder) -> Recorder:
    world.inject("c", Do((OpenConnection("c:ws1", DO),)))
    world.run_for(s(1))
    first = world.node(DO)
    world.inject(DO, Do((StoragePut("k", "kept"),)))
    world.crash(DO)
    world.run_for(s(1))
    assert not world.host_up(DO)
    return first


def test_a_connection_to_a_crashed_namespace_host_revives_it() -> None:
    world, client = namespace_world()
    first = create_and_crash(world, client)
    t = world.now
    world.inject("c", Do((OpenConnection("c:ws2", DO),)))
    world.run_for(s(1))
    reborn = world.node(DO)
    assert reborn is not first
    assert revivals(world) == [(t, DO, {"incarnation": 1, "by": "connect"})]
    assert reborn.seen[0] == (t, Start(1))
    assert reborn.ctx.storage["k"] == "kept"
    assert [i.conn for _, i in client.got(WsOpened)] == ["c:ws1", "c:ws2"]
    assert client.got(WsRejected) == []


def test_a_request_to_a_crashed_namespace_host_revives_it() -> None:
    world, client = namespace_world(
        {HttpRequestReceived: lambda t, i: [HttpRespond(i.req, 200, "hi")]})
    create_and_crash(world, client)
    world.inject("c", Do((HttpRequest("c:r1", DO, "GET", "/"),)))
    world.run_for(s(1))
    assert [d["by"] for _, _, d in revivals(world)] == ["request"]
    assert [(i.status, i.body) for _, i in client.got(HttpResponse)] == [(200, "hi")]


def test_an_upgrade_in_flight_at_the_crash_fails_and_the_retry_revives() -> None:
    world, client = namespace_world()
    world.inject("c", Do((OpenConnection("c:ws1", DO),)))
    world.run_for(L // 2)  # the upgrade is on its way when the object dies
    world.crash(DO)
    world.run_for(s(1))
    assert [(i.conn, i.reason) for _, i in client.got(WsRejected)] == [("c:ws1", "host crashed")]
    assert revivals(world) == []
    world.inject("c", Do((OpenConnection("c:ws2", DO),)))
    world.run_for(s(1))
    assert [d for _, _, d in revivals(world)] == [{"incarnation": 1, "by": "connect"}]
    assert [i.conn for _, i in client.got(WsOpened)] == ["c:ws2"]


def test_an_alarm_due_while_crashed_revives_the_object_and_runs() -> None:
    world, _ = namespace_world()
    world.inject("c", Do((OpenConnection("c:ws1", DO),)))
    world.run_for(s(1))
    alarm_at = world.now + s(30)
    world.inject(DO, Do((SetAlarm(alarm_at),)))
    world.crash(DO)
    world.run_for(s(60))
    reborn = world.node(DO)
    assert revivals(world) == [(alarm_at, DO, {"incarnation": 1, "by": "alarm"})]
    assert [(t, type(i).__name__) for t, i in reborn.seen] == [
        (alarm_at, "Start"), (alarm_at, "AlarmFired")]
    assert not any(r.type == "alarm.deferred" for r in world.trace.records)


def test_an_alarm_set_by_the_dead_incarnation_is_kept_across_a_revival() -> None:
    world, client = namespace_world()
    world.inject("c", Do((OpenConnection("c:ws1", DO),)))
    world.run_for(s(1))
    world.inject(DO, Do((SetAlarm(world.now + s(100)),)))
    world.crash(DO)
    world.inject("c", Do((OpenConnection("c:ws2", DO),)))  # revives it at once
    world.run_for(s(200))
    reborn = world.node(DO)
    assert [i.retry_count for _, i in reborn.got(AlarmFired)] == [0]
    assert [i.conn for _, i in client.got(WsOpened)] == ["c:ws1", "c:ws2"]
    assert [d["by"] for _, _, d in revivals(world)] == ["connect"]


def test_a_plain_host_stays_down_until_restart() -> None:
    world = World(0, network=NetworkConfig(latency=L))
    world.add_host("obj/plain", Recorder)
    client = world.add_host("c", Recorder)
    assert isinstance(client, Recorder)
    world.crash("obj/plain")
    world.inject("c", Do((OpenConnection("c:ws1", "obj/plain"),)))
    world.run_for(s(1))
    assert client.got(WsRejected) == [(2 * L, WsRejected("c:ws1", 0, "connection refused"))]
    assert revivals(world) == []
    assert not world.host_up("obj/plain")
    world.restart("obj/plain")
    assert world.host_up("obj/plain")


def test_explicit_restart_still_works_and_a_live_host_is_not_revived() -> None:
    world, client = namespace_world()
    create_and_crash(world, client)
    world.restart(DO)
    assert world.node(DO).ctx.incarnation == 1
    world.inject("c", Do((OpenConnection("c:ws2", DO),)))
    world.run_for(s(1))
    assert revivals(world) == []
    assert any(r.type == "restart" and r.kind == "fault" for r in world.trace.records)
    assert world.node(DO).ctx.incarnation == 1
