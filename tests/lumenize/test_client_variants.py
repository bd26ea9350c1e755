"""The client's fix flags and mutants (``lumenize-mesh.md`` section 6): each shows the
faithful behaviour, then the variant, and changes nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gatewaysim.models.lumenize.config import LumenizeConfig, preset
from gatewaysim.models.lumenize.protocol import ClientCall, ClientDisconnect, WakeUp
from gatewaysim.simulator.clock import ms, s

from .client_fakes import (
    HOLD,
    FakeAccept,
    FakeClose,
    Rig,
    accept,
    connected,
    reject,
    rig,
)

CLIENT_FIXES = ("superseded_client_stays_down", "jittered_backoff",
                "reject_calls_on_socket_close", "rejected_upgrade_terminal",
                "resubscribe_until_done")
CLIENT_MUTANTS = ("no_stale_close_guard", "refresh_not_single_flight", "queue_flushed_twice",
                  "backoff_never_reset")


def fixed(name: str) -> LumenizeConfig:
    return preset("faithful", fixes={name})


def mutant(name: str) -> LumenizeConfig:
    return preset("faithful", mutants={name})


# ---------------------------------------------------------------------------- fix flags
def test_faithful_client_reconnects_after_4409_and_the_fix_stays_down() -> None:
    faithful = connected()
    faithful.to_worker(FakeClose(faithful.client.conn, 4409, "Superseded by new connection"))
    faithful.run(s(1.2))
    assert faithful.client.state == "connected" and len(faithful.worker.upgrades) == 2

    stays = connected(fixed("superseded_client_stays_down"))
    stays.to_worker(FakeClose(stays.client.conn, 4409, "Superseded by new connection"))
    stays.run(s(300))
    assert stays.client.state == "disconnected"
    assert len(stays.worker.upgrades) == 1
    assert stays.notes("reconnect.scheduled") == [] and stays.notes("login_required") == []


def test_superseded_fix_leaves_other_closes_alone() -> None:
    r = connected(fixed("superseded_client_stays_down"))
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(s(1.2))
    assert r.client.state == "connected" and len(r.worker.upgrades) == 2


def test_faithful_client_retries_a_403_upgrade_forever() -> None:
    r = rig(worker_default=reject(403, "Account not yet approved"))
    r.run(s(120))
    assert r.notes("login_required") == []
    assert r.client.state == "reconnecting" and len(r.worker.upgrades) >= 6


def test_rejected_upgrade_terminal_fix_makes_403_terminal() -> None:
    r = rig(fixed("rejected_upgrade_terminal"),
            worker_default=reject(403, "Account not yet approved"))
    r.run(s(120))
    assert r.notes("login_required") == [{"code": 403, "reason": "Account not yet approved"}]
    assert r.client.state == "disconnected" and len(r.worker.upgrades) == 1


def test_rejected_upgrade_terminal_fix_refreshes_once_on_401_then_retries() -> None:
    r = rig(fixed("rejected_upgrade_terminal"), worker=[reject(401, "invalid_token")])
    r.run(s(1))
    assert [n["reason"] for n in r.notes("refresh.started")] == ["first_connect", "ensure_fresh"]
    assert r.client.state == "connected" and len(r.worker.upgrades) == 2
    assert r.notes("reconnect.scheduled") == []  # retried at once, not after a backoff


def test_rejected_upgrade_terminal_fix_gives_up_on_a_second_401() -> None:
    r = rig(fixed("rejected_upgrade_terminal"), worker_default=reject(401, "invalid_token"))
    r.run(s(120))
    assert len(r.worker.upgrades) == 2 and len(r.auth.requests) == 2
    assert r.notes("login_required") == [{"code": 401, "reason": "invalid_token"}]
    assert r.client.state == "disconnected"


def test_rejected_upgrade_terminal_fix_backs_off_on_429() -> None:
    r = rig(fixed("rejected_upgrade_terminal"), worker=[reject(429, "Too Many Requests")])
    r.run(s(1.5))
    assert r.notes("reconnect.scheduled") == [{"attempt": 1, "delay": ms(1000)}]
    assert r.notes("login_required") == [] and r.client.state == "connected"


# ---------------------------------------------------------------------------- mutants
def _stale_socket(config: LumenizeConfig) -> tuple[Rig, str]:
    """Connected on ws3, with ws2 (from the reconnectNow race) open but no longer current."""
    r = connected(config, worker=[accept(True), HOLD, accept(False)])
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(s(1.05))
    stale = r.client.conn
    r.inject(WakeUp("visible"))
    r.run(ms(100))
    r.to_worker(FakeAccept(stale))
    r.run(ms(50))
    assert r.client.state == "connected" and r.client.conn != stale
    return r, stale


@pytest.mark.parametrize("variant", ["faithful", "no_stale_close_guard"])
def test_stale_close_guard_and_its_mutant(variant: str) -> None:
    config = preset("faithful") if variant == "faithful" else mutant(variant)
    r, stale = _stale_socket(config)
    before = len(r.notes("reconnect.scheduled"))
    r.to_worker(FakeClose(stale, 1011))
    r.run(ms(50))
    if variant == "faithful":
        assert r.client.state == "connected"
        assert len(r.notes("reconnect.scheduled")) == before
    else:  # the old socket's close tears down a healthy connection's bookkeeping
        assert r.client.state == "reconnecting"
        assert len(r.notes("reconnect.scheduled")) == before + 1
        assert r.stats()["socket_open"]  # while this.ws is still OPEN


@pytest.mark.parametrize("variant", ["faithful", "queue_flushed_twice"])
def test_queue_is_flushed_once_and_its_mutant_twice(variant: str) -> None:
    config = preset("faithful") if variant == "faithful" else mutant(variant)
    r = rig(config, worker=[HOLD])
    r.run(ms(100))
    r.inject(ClientCall("once", tag="q"))
    r.to_worker(FakeAccept(r.client.conn, ({"type": "connection_status",
                                             "subscriptionRequired": False},)))
    r.run(ms(100))
    ids = [c["callId"] for c in r.worker.calls() if c["chain"]["method"] == "once"]
    assert len(ids) == (1 if variant == "faithful" else 2)
    assert len(set(ids)) == 1


@pytest.mark.parametrize("variant", ["faithful", "backoff_never_reset"])
def test_attempts_reset_on_open_and_its_mutant(variant: str) -> None:
    config = preset("faithful") if variant == "faithful" else mutant(variant)
    r = rig(config, worker=[reject(500), reject(500), reject(500), accept(True)])
    r.run(s(7.3))
    assert r.client.state == "connected"
    # Neither open nor connection_status reset the counter under the mutant.
    assert r.client.attempts == (0 if variant == "faithful" else 3)
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(ms(50))
    expected = ms(1000) if variant == "faithful" else ms(8000)
    assert r.notes("reconnect.scheduled")[-1]["delay"] == expected


def test_refresh_mutant_only_matters_when_refreshes_overlap() -> None:
    r = connected(mutant("refresh_not_single_flight"), worker=[accept(True)],
                  worker_default=reject(500))
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(s(10))
    # Sequential ensureFreshToken calls: one exchange each, as in the faithful client.
    assert [n["reason"] for n in r.notes("refresh.started")] == ["first_connect", "ensure_fresh"]
    assert r.notes("login_required") == []


# ---------------------------------------------------------------------------- nothing else
def _quiet_run(config: LumenizeConfig) -> str:
    """Connect, subscribe, call, heartbeat, disconnect: no trigger of any client variant."""
    r = connected(config, seed=7)
    r.inject(ClientCall("echo", [1], tag="c"))
    r.run(s(65))
    r.inject(ClientDisconnect())
    r.run(s(5))
    return r.world.trace.sha256


@pytest.mark.parametrize("variant", [*CLIENT_FIXES, *CLIENT_MUTANTS])
def test_each_client_variant_changes_nothing_when_its_trigger_is_absent(variant: str) -> None:
    config = fixed(variant) if variant in CLIENT_FIXES else mutant(variant)
    assert _quiet_run(config) == _quiet_run(preset("faithful"))


# ---------------------------------------------------------------------------- determinism
def _busy_run(seed: int) -> str:
    r = rig(preset("fixed"), worker=[reject(500), accept(True), accept(True)], seed=seed)
    r.run(s(3))
    r.inject(ClientCall("echo", [1], tag="c"))
    r.world.drop(r.client.conn)
    r.run(s(40))
    return r.world.trace.sha256


def test_same_seed_same_trace_in_this_process() -> None:
    assert _busy_run(3) == _busy_run(3)
    assert _busy_run(3) != _busy_run(4)  # jittered backoff draws from the seeded rng


def test_same_seed_same_trace_in_another_process() -> None:
    root = Path(__file__).resolve().parents[2]
    code = ("from tests.lumenize.test_client_variants import _busy_run; "
            "print(_busy_run(3))")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True, check=True, env={"PYTHONHASHSEED": "123"})
    assert out.stdout.strip() == _busy_run(3)



def test_two_wake_ups_open_one_socket() -> None:
    """Two ``online`` wake-ups while reconnecting, an awaited call queued: faithfully the
    second opens another socket, the first one's connection_status flushes the call onto
    it before it opens, and the call never settles; with one_connect_in_flight the second
    wake-up closes the first socket while it is still CONNECTING and the call is answered."""
    from gatewaysim.properties.lumenize import PACK
    from gatewaysim.properties.run import RunSpec
    from gatewaysim.properties.steps import Step

    steps = [Step("advance", {"ms": 1000}), Step("drop", {"client": 0}),
             Step("advance", {"ms": 100}), Step("client_call", {"client": 0, "awaited": True}),
             Step("wake", {"client": 0, "kind": "online"}),
             Step("wake", {"client": 0, "kind": "online"})]
    spec = RunSpec.of(PACK, steps, variant="faithful")
    found = spec.execute().violation
    assert found is not None and found.invariant_id == "lumenize.client_calls_settle", found
    assert spec.under("fixed").execute().violation is None


def test_a_refused_tab_stays_down_when_the_network_comes_back() -> None:
    """Revocations get the tab refused (403) and told to log in; two ``online`` wake-ups
    later it knocks on the access gate again faithfully, and also under every fix but
    disconnected_stays_down; with it, it waits for the app's connect()."""
    from gatewaysim.properties.lumenize import PACK
    from gatewaysim.properties.run import RunSpec
    from gatewaysim.properties.steps import Step

    raw: list[tuple[str, dict]] = [
        ("revoke", {"client": 0}), ("revoke", {"client": 0}), ("wait", {"minutes": 6}),
        ("wait", {"minutes": 11}), ("wake", {"client": 1, "kind": "online"}),
        ("wake", {"client": 0, "kind": "visible"}), ("advance", {"ms": 800}),
        ("wait", {"minutes": 8}), ("wait", {"minutes": 18}), ("revoke", {"client": 0}),
        ("wake", {"client": 0, "kind": "online"}), ("wake", {"client": 0, "kind": "online"}),
        ("revoke", {"client": 0}), ("wait", {"minutes": 8})]
    spec = RunSpec.of(PACK, [Step(name, args) for name, args in raw], variant="faithful")
    found = spec.execute().violation
    assert found is not None and found.invariant_id == "lumenize.rejected_upgrade_stops", found
    assert spec.under("fixed").execute().violation is None
