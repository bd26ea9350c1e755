"""Tokens (``lumenize-mesh.md`` section 2.3): first connect, ``needsTokenRefresh``,
single-flight ``ensureFreshToken`` and the two paths that bypass it."""

from __future__ import annotations

from gatewaysim.models.lumenize import protocol
from gatewaysim.models.lumenize.config import preset
from gatewaysim.models.lumenize.protocol import (
    ClearAccessToken,
    ClientConnect,
    ClientDisconnect,
    WakeUp,
)
from gatewaysim.simulator.clock import ms, s

from .client_fakes import (
    Answer,
    FakeClose,
    accept,
    connected,
    reject,
    rig,
    status,
)


def test_first_connect_of_a_fresh_tab_connects_as_soon_as_the_refresh_returns() -> None:
    """No tab id in sessionStorage: getOrCreateTabId stores a new one without the probe."""
    r = rig()
    r.run(ms(200))
    assert [q.t for q in r.auth.requests] == [ms(10)]  # refresh sent at once
    (t, _conn, _request), = r.worker.upgrades
    assert t == ms(10) + ms(10) + ms(10)  # request, answer, upgrade: no 50 ms wait
    assert r.client.instance_name == "alice.t1"


def test_first_connect_with_a_stored_tab_id_refreshes_in_parallel_with_the_50ms_probe() -> None:
    r = rig(tab_id_stored=True)
    r.run(ms(200))
    assert [q.t for q in r.auth.requests] == [ms(10)]  # refresh sent at once
    (t, _conn, request), = r.worker.upgrades
    assert t == ms(50) + ms(10)  # socket created when the 50 ms probe ends
    assert r.client.instance_name == "alice.t1"
    assert request["path"] == f"/gateway/{protocol.DEFAULT_BINDING}/alice.t1"
    assert request["headers"] == {"Upgrade": "websocket", "Origin": "https://app.lumenize.local"}
    token = r.client.access_token
    assert request["protocols"] == ["lmz", "lmz.access-token." + token]


def test_first_connect_waits_for_a_slow_refresh_after_the_probe() -> None:
    r = rig(auth=[Answer(delay=ms(300))])
    r.run(ms(400))
    (t, _conn, _request), = r.worker.upgrades
    assert t == ms(10) + ms(300) + ms(10) + ms(10)


def test_refresh_token_rotates_and_the_rotated_one_is_presented_next() -> None:
    r = connected()
    r.to_worker(FakeClose(r.client.conn, 4401))
    r.run(ms(200))
    assert [q.cookie for q in r.auth.requests] == ["rt-0", "rt-1"]
    assert r.client.refresh_token == "rt-2"
    assert r.client.state == "connected"


def _reconnect_at(r, t: int) -> None:  # type: ignore[no-untyped-def]
    r.inject(ClientDisconnect())
    r.world.run_until(t)
    r.inject(ClientConnect())
    r.run(ms(100))


def test_refresh_when_exp_minus_30_reaches_now() -> None:
    r = connected(auth=[Answer(ttl_s=100)])  # exp = 100: refresh from now_s = 70
    _reconnect_at(r, s(69.999))
    assert len(r.auth.requests) == 1  # floor(69.999) = 69 < 70
    assert r.client.state == "connected"
    _reconnect_at(r, s(70))
    assert len(r.auth.requests) == 2
    assert r.notes("refresh.started")[-1] == {"reason": "ensure_fresh"}
    assert r.client.state == "connected"


def test_an_expired_but_present_token_is_refreshed_not_reused() -> None:
    r = connected(auth=[Answer(ttl_s=60)])
    _reconnect_at(r, s(120))
    assert len(r.auth.requests) == 2
    _t, _conn, request = r.worker.upgrades[-1]
    exp = protocol.decode_token(request["protocols"][1].removeprefix("lmz.access-token."))["exp"]
    assert exp > 120


def test_a_token_without_exp_is_trusted_forever() -> None:
    r = connected(auth=[Answer("no_exp")])
    assert r.stats()["token_exp"] is None
    _reconnect_at(r, s(100_000))
    assert len(r.auth.requests) == 1
    assert r.client.state == "connected"


def test_clear_access_token_keeps_the_socket_and_forces_a_refresh_next_time() -> None:
    r = connected()
    r.inject(ClearAccessToken())
    assert r.stats()["socket_open"] and r.client.access_token is None
    r.run(s(5))
    assert r.client.state == "connected" and len(r.auth.requests) == 1
    r.to_worker(FakeClose(r.client.conn, 1000))
    r.run(s(1.1))
    assert len(r.auth.requests) == 2 and r.client.state == "connected"


# ---------------------------------------------------------------------------- single flight
def _two_concurrent_ensure_fresh(config=None):  # type: ignore[no-untyped-def]
    """A stale token, the reconnect timer and a wake-up both running connectInternal."""
    r = connected(config, auth=[Answer(ttl_s=40), Answer(delay=s(5)), Answer(delay=s(5))])
    r.world.run_until(s(20))  # now_s 20 >= exp - 30 = 10: the token needs a refresh
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(s(1.05))  # the timer's connectInternal is awaiting ensureFreshToken
    r.inject(WakeUp("visible"))  # reconnectNow: a second connectInternal
    r.run(s(10))
    return r


def test_ensure_fresh_token_is_single_flight() -> None:
    r = _two_concurrent_ensure_fresh()
    assert [n["reason"] for n in r.notes("refresh.started")] == ["first_connect", "ensure_fresh"]
    assert len(r.auth.requests) == 2
    assert len(r.worker.upgrades) == 3  # both awaiting attempts create a socket
    assert r.notes("login_required") == []
    assert r.client.state == "connected"


def test_first_connect_refresh_is_not_deduplicated() -> None:
    # The first refresh fails (500), so the instanceName is still unknown; the timer and a
    # wake-up then both take the first-connect path, each with its own refresh. With a
    # rotating refresh token the second presents a revoked cookie: 401, onLoginRequired.
    r = rig(auth=[status(500), Answer(delay=s(5))])
    r.run(s(1.1))
    r.inject(WakeUp("visible"))
    r.run(s(10))
    assert [n["reason"] for n in r.notes("refresh.started")] == ["first_connect"] * 3
    assert [q.cookie for q in r.auth.requests] == ["rt-0", "rt-0", "rt-0"]
    assert r.notes("login_required") == [{"code": 401,
                                          "reason": "Refresh token expired or invalid"}]
    # The earlier attempt's refresh still lands, and its socket is created anyway.
    assert len(r.worker.upgrades) == 1 and r.client.state == "connected"


def test_4401_refresh_is_not_deduplicated_with_ensure_fresh_token() -> None:
    r = connected(worker=[accept(True), accept(None)], rotate=False,
                  auth=[Answer(), Answer(delay=s(5)), Answer(delay=s(5))])
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(s(1.1))  # reconnected, socket open but no connection_status: still reconnecting
    assert r.client.state == "reconnecting" and r.stats()["socket_open"]
    r.to_worker(FakeClose(r.client.conn, 4401))
    r.run(ms(50))
    r.inject(WakeUp("visible"))  # connectInternal, token missing -> ensureFreshToken
    r.run(ms(50))
    assert [n["reason"] for n in r.notes("refresh.started")] == [
        "first_connect", "token_expired", "ensure_fresh"]
    assert len(r.auth.requests) == 3  # two refreshes in flight at once


def test_refresh_not_single_flight_mutant_starts_a_second_refresh() -> None:
    r = _two_concurrent_ensure_fresh(preset("faithful", mutants={"refresh_not_single_flight"}))
    assert [n["reason"] for n in r.notes("refresh.started")] == [
        "first_connect", "ensure_fresh", "ensure_fresh"]
    # Both present the same rotating cookie: the second is refused -> onLoginRequired.
    assert r.auth.requests[1].cookie == r.auth.requests[2].cookie
    assert r.notes("login_required") == [{"code": 401,
                                          "reason": "Refresh token expired or invalid"}]


def test_refresh_failure_at_reconnect_is_transient_unless_401_or_403() -> None:
    r = connected(worker=[accept(True)], worker_default=reject(500),
                  auth=[Answer(), status(503), status(403)])
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(s(20))
    # The Worker now rejects; the forced re-auth gets 503 (transient, retried), then 403
    # (LoginRequiredError: terminal).
    assert [n.get("status") for n in r.notes("refresh.done")] == [200, 503, 403]
    assert r.notes("login_required") == [{"code": 403,
                                          "reason": "Refresh token expired or invalid"}]
    assert r.client.state == "disconnected"


# ---------------------------------------------------------------------------- what a drop keeps
def test_forced_reauth_drops_the_token_and_keeps_the_claims() -> None:
    """The real scheduleReconnect nulls only the access token (the claims stay)."""
    r = rig(worker=[reject(500), reject(500)])
    r.run(s(1.2))  # the second failure forces the re-auth
    assert r.client.reauth_forced
    assert r.client.access_token is None
    assert r.client.claims is not None and r.client.claims["sub"] == "alice"


def _token_cleared_during_the_probe(config):  # type: ignore[no-untyped-def]
    """A reloaded tab (tab id stored: 50 ms probe); the app calls clearAccessToken() after
    the refresh returned (20 ms) and before the probe ends (50 ms)."""
    r = rig(config, tab_id_stored=True)
    r.run(ms(30))
    assert r.client.access_token is not None and r.client.instance_name is None
    r.inject(ClearAccessToken())
    r.run(ms(40))
    return r


def test_a_token_cleared_during_the_first_connect_opens_a_tokenless_socket_to_undefined() -> None:
    """The real client names the instance ``${claims?.sub}.${tabId}`` and adds the token
    subprotocol only if it has one: the name is fixed as ``undefined.<tab>`` for good."""
    r = _token_cleared_during_the_probe(preset("faithful"))
    (t, _conn, request), = r.worker.upgrades
    assert t == ms(50) + ms(10)
    assert r.client.instance_name == f"undefined.{r.client.tab_id}"
    assert request["path"] == f"/gateway/{protocol.DEFAULT_BINDING}/undefined.{r.client.tab_id}"
    assert request["protocols"] == ["lmz"]
    assert r.notes("instance_name.undefined") and r.notes("connect.without_token")


def test_fix_connect_requires_token_fails_the_attempt_and_refreshes() -> None:
    r = _token_cleared_during_the_probe(preset("faithful", fixes={"connect_requires_token"}))
    assert r.worker.upgrades == [] and r.client.instance_name is None
    assert r.client.state == "reconnecting"
    r.run(s(2))
    (_t, _conn, request), = r.worker.upgrades
    assert r.client.instance_name == "alice.t1"
    assert request["protocols"] == ["lmz", "lmz.access-token." + r.client.access_token]
