"""Reconnecting (``lumenize-mesh.md`` sections 2.2 and 2.5): backoff, forced re-auth,
wake-ups, and the two inferred races of section 6."""

from __future__ import annotations

import pytest

from gatewaysim.models.lumenize.backoff import backoff_ceiling, reconnect_delay
from gatewaysim.models.lumenize.config import preset
from gatewaysim.models.lumenize.protocol import ClientDisconnect, WakeUp
from gatewaysim.simulator.clock import ms, s

from .client_fakes import (
    HOLD,
    Answer,
    FakeAccept,
    FakeClose,
    accept,
    connected,
    reject,
    rig,
    status,
)

SEQUENCE = [ms(d) for d in (1000, 2000, 4000, 8000, 16000, 30000, 30000)]


def test_backoff_delays_double_to_a_30s_cap_without_jitter_or_limit() -> None:
    r = rig(worker_default=reject(500))
    r.run(s(100))
    delays = [n["delay"] for n in r.notes("reconnect.scheduled")]
    assert delays[:7] == SEQUENCE
    assert [n["attempt"] for n in r.notes("reconnect.scheduled")][:7] == list(range(1, 8))
    r.run(s(600))  # no limit on attempts
    assert all(n["delay"] == ms(30000) for n in r.notes("reconnect.scheduled")[6:])
    assert len(r.notes("reconnect.scheduled")) > 25


def test_backoff_ceiling_function_matches_the_spec_sequence() -> None:
    config = preset("faithful")
    assert [backoff_ceiling(n, config) for n in range(7)] == SEQUENCE
    assert backoff_ceiling(10_000, config) == ms(30000)  # no overflow for huge counters


def test_attempts_reset_on_open_before_connection_status() -> None:
    r = rig(worker=[reject(500), reject(500), reject(500), accept(None)])
    r.run(s(7.2))  # 1 s + 2 s + 4 s of backoff, then an upgrade opened without a status
    assert r.client.state == "reconnecting" and r.stats()["socket_open"]
    assert r.client.attempts == 0  # reset by open alone
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(ms(100))
    assert [n["delay"] for n in r.notes("reconnect.scheduled")] == [*SEQUENCE[:3], ms(1000)]


def test_attempts_reset_on_wake_up_reconnect_now() -> None:
    r = rig(worker=[reject(500)] * 4)
    r.run(s(5))  # failures at 0.07 s, 1.09 s and 3.1 s
    assert r.client.attempts == 3
    r.inject(WakeUp("focus"))
    assert r.client.attempts == 0


def test_forced_reauth_happens_once_per_cycle_and_is_rearmed_on_open() -> None:
    r = rig(worker=[reject(500)] * 5, worker_default=reject(500))
    r.run(s(40))  # five failed upgrades in one cycle
    reasons = [n["reason"] for n in r.notes("refresh.started")]
    assert reasons == ["first_connect", "ensure_fresh"]  # one forced re-auth, not four
    # Open re-arms the cycle: the first failure after it does not force (attempts 0),
    # the second does.
    r2 = rig(worker=[reject(500), reject(500), accept(True)], worker_default=reject(500))
    r2.run(s(3.5))
    assert r2.client.state == "connected"
    assert len(r2.notes("refresh.started")) == 2
    r2.to_worker(FakeClose(r2.client.conn, 1011))
    r2.run(s(1.05))  # first failure after open: attempts 0 -> no forced re-auth
    assert len(r2.notes("refresh.started")) == 2
    r2.run(s(3))  # second failure: attempts 1 -> forced once more
    assert len(r2.notes("refresh.started")) == 3


def test_forced_reauth_needs_a_token_and_a_prior_attempt() -> None:
    r = connected()
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(ms(50))
    assert r.client.access_token is not None  # attempts was 0: token kept
    assert not r.client.reauth_forced


# ---------------------------------------------------------------------------- wake-ups
@pytest.mark.parametrize("kind", ["visible", "focus", "online"])
def test_wake_up_while_reconnecting_reconnects_now(kind: str) -> None:
    r = rig(worker=[reject(500), reject(500)])
    r.run(s(1.2))  # attempts 2, next try due in 2 s
    assert r.client.state == "reconnecting" and r.client.timer_armed("reconnect")
    r.inject(WakeUp(kind))
    assert r.client.attempts == 0 and not r.client.timer_armed("reconnect")
    r.run(ms(200))
    assert r.client.state == "connected"
    assert len(r.worker.upgrades) == 3


@pytest.mark.parametrize("kind", ["visible", "focus", "online"])
def test_wake_up_while_connected_does_nothing(kind: str) -> None:
    r = connected()
    r.inject(WakeUp(kind))
    r.run(s(1))
    assert len(r.worker.upgrades) == 1 and r.states() == ["connecting", "connected"]


def test_online_reconnects_even_after_disconnect() -> None:
    r = connected()
    r.inject(ClientDisconnect())
    r.run(s(10))
    assert r.client.state == "disconnected"
    r.inject(WakeUp("visible"))
    r.inject(WakeUp("focus"))
    r.run(s(1))
    assert len(r.worker.upgrades) == 1  # visible/focus: only while reconnecting
    r.inject(WakeUp("online"))
    assert r.client.state == "disconnected"  # reconnectNow does not change the state...
    r.run(ms(200))
    assert len(r.worker.upgrades) == 2
    assert r.client.state == "connected"  # ...connection_status does


def test_online_reconnects_even_after_login_required() -> None:
    r = connected(auth=[Answer(), status(401), Answer()], rotate=False)
    r.to_worker(FakeClose(r.client.conn, 4401))
    r.run(s(1))
    assert r.client.state == "disconnected" and len(r.notes("login_required")) == 1
    r.inject(WakeUp("online"))
    r.run(ms(200))
    assert r.client.state == "connected" and len(r.worker.upgrades) == 2


def test_unknown_wake_up_kind_is_refused() -> None:
    r = connected()
    with pytest.raises(ValueError, match="unknown wake-up"):
        r.inject(WakeUp("blur"))


# ---------------------------------------------------------------------------- inferred races
def test_disconnect_during_an_awaited_refresh_does_not_stop_the_socket() -> None:
    r = rig(auth=[Answer(delay=s(1))])
    r.run(ms(100))
    r.inject(ClientDisconnect())
    assert r.client.state == "disconnected"
    r.run(s(2))
    assert len(r.worker.upgrades) == 1  # created after disconnect()
    assert r.client.state == "connected"


def test_reconnect_now_during_connecting_opens_a_second_socket() -> None:
    r = connected(worker=[accept(True), HOLD])
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(s(1.05))
    first = r.client.conn
    assert r.client.sockets[first].ready == "CONNECTING"
    r.inject(WakeUp("visible"))
    r.run(ms(100))
    assert len(r.worker.upgrades) == 3
    assert r.client.conn != first and first in r.client.sockets  # the old one is not closed
    r.to_worker(FakeAccept(first))
    r.run(ms(50))
    assert r.client.sockets[first].ready == "OPEN"
    assert r.stats()["connects"] == 3


def test_jittered_backoff_is_seeded_and_bounded() -> None:
    config = preset("faithful", fixes={"jittered_backoff"})

    def delays(seed: int) -> list[int]:
        r = rig(config, worker_default=reject(500), seed=seed)
        r.run(s(100))
        return [n["delay"] for n in r.notes("reconnect.scheduled")][:7]

    first, again, other = delays(1), delays(1), delays(2)
    assert first == again  # same seed, same delays
    assert first != other
    assert first != SEQUENCE
    assert all(0 <= d <= ceiling for d, ceiling in zip(first, SEQUENCE, strict=True))


def test_reconnect_delay_without_the_fix_ignores_the_rng() -> None:
    import random

    config = preset("faithful")
    rng = random.Random(0)
    assert [reconnect_delay(n, config, rng) for n in range(7)] == SEQUENCE
    assert rng.random() == random.Random(0).random()  # nothing was drawn
