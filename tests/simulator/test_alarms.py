"""Durable Object alarm rules, one test per rule."""

from __future__ import annotations

from itertools import pairwise

from gatewaysim.simulator import FailedWithEffects
from gatewaysim.simulator.clock import Time, s
from gatewaysim.simulator.messages import AlarmFired, DeleteAlarm, Effect, SetAlarm, Start

from .nodes import Do, Recorder, two_hosts

T0 = s(10)


def fired(node: Recorder) -> list[tuple[Time, int]]:
    return [(t, i.retry_count) for t, i in node.got(AlarmFired)]


def sys_types(world) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.type for r in world.trace.records if r.kind == "sys"]


def test_set_overwrites_the_pending_alarm() -> None:
    world, _, server = two_hosts()
    world.inject("srv", Do((SetAlarm(s(50)),)))
    world.inject("srv", Do((SetAlarm(s(30)),)))
    assert server.ctx.get_alarm() == s(30)
    world.run_for(s(100))
    assert fired(server) == [(s(30), 0)]
    assert server.ctx.get_alarm() is None


def test_delete_clears_the_alarm() -> None:
    world, _, server = two_hosts()
    world.inject("srv", Do((SetAlarm(s(5)), DeleteAlarm())))
    assert server.ctx.get_alarm() is None
    world.run_for(s(100))
    assert fired(server) == []


def test_a_time_in_the_past_fires_at_once() -> None:
    world, _, server = two_hosts()
    world.run_for(s(20))
    world.inject("srv", Do((SetAlarm(s(1)),)))
    world.run_for(s(1))
    assert fired(server) == [(s(20), 0)]


def test_get_reads_none_while_the_handler_runs_and_a_set_is_visible_after() -> None:
    reads: list[Time | None] = []

    def alarm(now: Time, inp: AlarmFired) -> list[Effect]:
        reads.append(world.node("srv").ctx.get_alarm())
        return [SetAlarm(now + s(60))]

    world, _, server = two_hosts(server_on={AlarmFired: alarm})
    world.inject("srv", Do((SetAlarm(T0),)))
    world.run_for(T0)
    assert reads == [None]
    assert server.ctx.get_alarm() == T0 + s(60)


def test_a_raising_handler_is_retried_2_4_8_16_32_64_s_then_given_up() -> None:
    def alarm(now: Time, inp: AlarmFired) -> list[Effect]:
        raise RuntimeError("handler failed")

    world, _, server = two_hosts(server_on={AlarmFired: alarm})
    world.inject("srv", Do((SetAlarm(T0),)))
    world.run_for(s(1000))
    times = [t for t, _ in fired(server)]
    assert [b - a for a, b in pairwise(times)] == [s(2), s(4), s(8), s(16), s(32), s(64)]
    assert [r for _, r in fired(server)] == [0, 1, 2, 3, 4, 5, 6]
    assert sys_types(world).count("alarm.retry") == 6
    assert sys_types(world)[-1] == "alarm.gave_up"
    assert server.ctx.get_alarm() is None


def test_retry_succeeds_then_stops() -> None:
    def alarm(now: Time, inp: AlarmFired) -> list[Effect]:
        if inp.retry_count < 2:
            raise RuntimeError("not yet")
        return []

    world, _, server = two_hosts(server_on={AlarmFired: alarm})
    world.inject("srv", Do((SetAlarm(T0),)))
    world.run_for(s(1000))
    assert fired(server) == [(T0, 0), (T0 + s(2), 1), (T0 + s(6), 2)]


def test_set_in_a_failing_handler_replaces_the_retry() -> None:
    def alarm(now: Time, inp: AlarmFired) -> list[Effect]:
        raise FailedWithEffects("boom after setAlarm", [SetAlarm(now + s(30))])

    world, _, server = two_hosts(server_on={AlarmFired: alarm})
    world.inject("srv", Do((SetAlarm(T0),)))
    world.run_for(T0 + s(31))
    assert fired(server) == [(T0, 0), (T0 + s(30), 0)]
    assert "alarm.retry_replaced" in sys_types(world)
    assert "alarm.retry" not in sys_types(world)


def test_effects_of_a_failing_handler_are_applied_before_the_retry() -> None:
    def alarm(now: Time, inp: AlarmFired) -> list[Effect]:
        if inp.retry_count == 0:
            raise FailedWithEffects("boom", [DeleteAlarm()])
        return []

    world, _, server = two_hosts(server_on={AlarmFired: alarm})
    world.inject("srv", Do((SetAlarm(T0),)))
    world.run_for(s(100))
    outs = [r.type for r in world.trace.records if r.kind == "out" and r.actor == "srv"]
    assert outs.count("DeleteAlarm") == 1
    assert fired(server) == [(T0, 0), (T0 + s(2), 1)]  # delete is best effort: still retried


def test_alarm_due_while_the_host_is_down_fires_on_restart() -> None:
    world, _, server = two_hosts()
    world.inject("srv", Do((SetAlarm(T0),)))
    world.crash("srv")
    world.run_for(s(60))
    assert "alarm.deferred" in sys_types(world)
    world.restart("srv")
    world.run_for(0)
    reborn = world.node("srv")
    assert fired(reborn) == [(s(60), 0)]
    assert [i for _, i in reborn.seen][:1] == [Start(1)]
    assert fired(server) == []


def test_alarm_set_at_restart_replaces_the_one_missed_while_down() -> None:
    world, _, _ = two_hosts(server_on={Start: lambda t, i: [SetAlarm(t + s(100))] if i.incarnation
                                        else []})
    world.inject("srv", Do((SetAlarm(T0),)))
    world.crash("srv")
    world.run_for(s(60))
    world.restart("srv")
    world.run_for(s(200))
    assert fired(world.node("srv")) == [(s(160), 0)]


def test_alarm_survives_a_crash_and_fires_in_the_next_incarnation() -> None:
    world, _, _ = two_hosts()
    world.inject("srv", Do((SetAlarm(T0),)))
    world.crash("srv")
    world.restart("srv")
    world.run_for(s(60))
    assert fired(world.node("srv")) == [(T0, 0)]
