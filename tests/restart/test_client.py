"""The client core and the server node, step by step in small worlds."""

from __future__ import annotations

import itertools

import pytest

from gatewaysim.models.restart.client import (
    ClientOptions,
    Destroy,
    Init,
    ReconnectWs,
    ValidateConnection,
)
from gatewaysim.models.restart.config import RestartConfig
from gatewaysim.models.restart.protocol import (
    ConnectionState,
    StateError,
    StateEvent,
    next_state,
)
from gatewaysim.models.restart.script import Observer
from gatewaysim.models.restart.world import SIGKILL, SIGTERM, ClientSpec, RestartWorld
from gatewaysim.properties.restart import CONNECTION_STATE, PACK
from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import Trace
from gatewaysim.testing import check_table

NO_JITTER = RestartConfig(jitter_percent=0)


def world(config=NO_JITTER, **options):  # type: ignore[no-untyped-def]
    trace = Trace(keep=True)
    rw = RestartWorld(0, trace, config, (ClientSpec("api", ClientOptions(**options)),))
    observer = Observer(("api",))
    trace.listeners.append(observer.observe)
    rw.world.inject("api", Init())
    rw.world.run_for(ms(100))
    assert rw.client("api").is_connected()
    return rw, observer.logs["api"], trace


def notes(trace, event):  # type: ignore[no-untyped-def]
    return [r for r in trace.records if r.type == "Note" and r.data.get("event") == event]


def test_state_table_targets_are_the_library_assignments(monkeypatch):
    from gatewaysim.models.restart import protocol

    targets = {event: target for event, (_, target) in protocol.TRANSITIONS.items()}
    assert targets == {StateEvent.CREATE: ConnectionState.CONNECTING,
                       StateEvent.OPEN: ConnectionState.CONNECTED,
                       StateEvent.CLOSE: ConnectionState.DISCONNECTED,
                       StateEvent.RECONNECT: ConnectionState.RECONNECTING,
                       StateEvent.GIVE_UP: ConnectionState.FAILED}
    assert next_state(ConnectionState.FAILED, StateEvent.OPEN) is ConnectionState.CONNECTED
    monkeypatch.setitem(protocol.TRANSITIONS, StateEvent.OPEN,
                        (frozenset({ConnectionState.CONNECTING}), ConnectionState.CONNECTED))
    with pytest.raises(StateError):
        next_state(ConnectionState.FAILED, StateEvent.OPEN)


def test_the_manifest_declares_the_state_table_next_state_reads():
    rows = CONNECTION_STATE.table
    for state, event in itertools.product(ConnectionState, StateEvent):
        assert rows[(state, event)] is next_state(state, event)
    assert PACK.state_tables == (CONNECTION_STATE,)
    assert check_table(CONNECTION_STATE) == []


def test_attempts_follow_the_library_backoff_and_fail_at_the_tenth():
    rw, log, trace = world(on_reconnection_failed=True)
    t_kill = rw.world.now
    rw.kill(SIGKILL)
    rw.world.run_for(s(120))
    attempts = [(r.t - t_kill, r.data["data"]["attempt"])
                for r in notes(trace, "reconnect.attempt")]
    starts = [round(t / 1000) for t, _ in attempts]
    # attempt 1 when the close arrives (1 ms after the kill), then 1, 2, 4, 8, 15, 15... s
    assert [n for _, n in attempts] == list(range(1, 11))
    assert starts == [1, 1001, 3001, 7001, 15001, 30001, 45001, 60001, 75001, 90001]
    assert log.callbacks == [t_kill + ms(90001)]
    assert rw.client("api").state is ConnectionState.FAILED


def test_jitter_stays_within_fifteen_percent():
    rw, _log, trace = world(config=RestartConfig())
    t_kill = rw.world.now
    rw.kill(SIGKILL)
    rw.world.run_for(s(100))
    times = [r.t - t_kill for r in notes(trace, "reconnect.attempt")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    nominal = [1, 2, 4, 8, 15, 15, 15, 15, 15]
    for gap, base in zip(gaps, nominal):
        assert s(base) * 0.85 <= gap <= s(base) * 1.15
    assert len(set(gaps)) > 3  # jitter really varies


def test_fixed_client_fails_only_when_the_last_attempt_fails():
    rw, log, _trace = world(config=RestartConfig(jitter_percent=0, fixes=frozenset(
        {"fail_after_last_attempt"})), on_reconnection_failed=True)
    t_kill = rw.world.now
    rw.kill(SIGKILL)
    rw.world.run_for(s(120))
    assert log.callbacks == [t_kill + ms(90003)]  # the refusal of attempt 10, 2 ms later


def test_sigterm_closes_with_1000_and_the_process_exits():
    rw, log, trace = world()
    rw.kill(SIGTERM)
    rw.world.run_for(ms(10))
    assert not rw.running()
    assert log.closes[0][2] == 1000
    assert notes(trace, "process.exit")[0].data["data"]["why"] == "sockets closed"


def test_sigkill_is_an_abnormal_close():
    rw, log, _ = world()
    rw.kill(SIGKILL)
    rw.world.run_for(ms(10))
    assert log.closes[0][2] == 1006


def test_a_new_process_has_no_memory_of_the_old_one():
    rw, _, _ = world()
    from gatewaysim.models.restart.client import SubmitPrompt

    rw.world.inject("api", SubmitPrompt("a"))
    rw.world.run_for(ms(100))
    assert rw.server.queue == ["p0-1"]
    rw.kill(SIGKILL)
    rw.start()
    assert rw.server.queue == [] and rw.server.history == {}
    assert rw.server.ctx.incarnation == 1


def test_validate_connection_answers_from_an_http_health_check():
    rw, log, _ = world()
    rw.world.inject("api", ValidateConnection())
    rw.world.run_for(ms(10))
    rw.kill(SIGKILL)
    rw.world.inject("api", ValidateConnection())
    rw.world.run_for(ms(10))
    assert log.validations == [True, False]


def test_polling_fallback_reconnects_once_the_server_answers():
    rw, log, _trace = world(config=RestartConfig(jitter_percent=0, base_delay_ms=60_000))
    rw.kill(SIGKILL)
    rw.world.run_for(ms(2500))
    rw.start()
    rw.world.run_for(ms(2000))  # the next poll (4.0 s) beats the loop's check (60 s)
    assert rw.client("api").is_connected()
    assert log.count("status", via="poll") == 1


def test_destroy_leaves_the_reconnection_loop_running_on_faithful():
    rw, _, _trace = world()
    rw.kill(SIGKILL)
    rw.world.run_for(ms(10))
    rw.start()
    rw.world.inject("api", Destroy())
    rw.world.run_for(s(5))
    assert rw.client("api").socket is not None  # a socket made after destroy()
    fixed = RestartConfig(jitter_percent=0, fixes=frozenset({"destroy_stops_reconnect"}))
    rw2, _, _ = world(config=fixed)
    rw2.kill(SIGKILL)
    rw2.world.run_for(ms(10))
    rw2.start()
    rw2.world.inject("api", Destroy())
    rw2.world.run_for(s(5))
    assert rw2.client("api").socket is None


def test_manual_reconnect_while_connected_replaces_the_socket():
    rw, _log, _ = world()
    rw.world.inject("api", ReconnectWs(True))
    rw.world.run_for(s(3))
    assert rw.client("api").is_connected()
    assert len(rw.server.clients) == 1


def test_config_scales_every_delay():
    scaled = RestartConfig().scaled(0.1)
    assert (scaled.base_delay_ms, scaled.max_delay_ms, scaled.status_interval_ms) == (
        100, 1500, 500)
    assert scaled.max_attempts == 10
    with pytest.raises(ConfigError):
        RestartConfig(max_attempts=0)
    with pytest.raises(ConfigError):
        RestartConfig().scaled(0)


def test_init_gives_up_after_twelve_pings():
    trace = Trace(keep=True)
    rw = RestartWorld(0, trace, NO_JITTER, (ClientSpec("api"),), start_server=False)
    rw.world.inject("api", Init())
    rw.world.run_for(s(30))
    pings = [r for r in trace.records if r.type == "HttpRequest" and r.actor == "api"]
    assert len(pings) == 12  # the first ping, then maxTries + 1 more, a second apart
    assert notes(trace, "init.failed")[0].data["data"]["pings"] == 12
    assert rw.client("api").socket is None
