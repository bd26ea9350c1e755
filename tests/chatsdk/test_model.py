"""The chat SDK model's parts against the document's code and centrifuge-js's source."""

from __future__ import annotations

import random

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewaysim.models.chatsdk import ChatConfig, build_world
from gatewaysim.models.chatsdk.centrifuge import (
    TRANSITIONS,
    UNREACHABLE,
    ConnectionManager,
    Lib,
    ManagerEvent,
    TransitionError,
    full_jitter_backoff,
)
from gatewaysim.models.chatsdk.metrics import (
    accuracy,
    quality_samples,
    reconnect_times,
    refresh_success,
)
from gatewaysim.models.chatsdk.protocol import (
    BROWSER,
    ConnectionState,
    NetworkQuality,
    parse_access,
)
from gatewaysim.models.chatsdk.quality import classify
from gatewaysim.properties.chatsdk import CONNECTION_MANAGER, PACK
from gatewaysim.simulator.clock import MINUTE, MS, SECOND, ms, s
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import IN, Trace, TraceRecord
from gatewaysim.testing import check_table

Q = NetworkQuality


# ------------------------------------------------------------------ quality (Day 1)
def test_the_quality_table_is_the_codes_not_the_comments() -> None:
    assert classify(True, 20, 0) == Q.EXCELLENT
    assert classify(True, 100, 1) == Q.GOOD  # the enum's comment says GOOD needs < 1 %
    assert classify(True, 100, 1.5) == Q.GOOD
    assert classify(True, 200, 4) == Q.FAIR
    assert classify(True, 200, 5) == Q.POOR
    assert classify(True, 2000, 10) == Q.POOR  # the comment says > 1000 ms is OFFLINE
    assert classify(True, 20, 10.5) == Q.OFFLINE
    assert classify(False, 20, 0) == Q.OFFLINE


def test_one_failed_ping_reads_poor_for_two_pings_then_recovers() -> None:
    cw = build_world(ChatConfig(), 0)
    cw.run_for(s(12))
    assert cw.client.quality.quality == Q.EXCELLENT
    cw.set_loss(1.0)
    cw.run_until(s(26))  # the ping at 20 s fails after 5 s: +10
    assert (cw.client.quality.packet_loss, cw.client.quality.quality) == (10, Q.POOR)
    cw.set_loss(0.0)
    cw.run_until(s(31))  # 30 s: -5, still POOR (the loss thresholds all mean 0)
    assert (cw.client.quality.packet_loss, cw.client.quality.quality) == (5, Q.POOR)
    cw.run_until(s(41))
    assert (cw.client.quality.packet_loss, cw.client.quality.quality) == (0, Q.EXCELLENT)


def test_browser_events_switch_the_indicator_at_once() -> None:
    cw = build_world(ChatConfig(), 0)
    cw.run_for(s(2))
    cw.go_offline()
    assert cw.client.quality.quality == Q.OFFLINE
    cw.go_online()
    cw.run_for(ms(100))  # the online handler pings at once
    assert cw.client.quality.quality == Q.EXCELLENT


def test_indicator_accuracy_is_a_finding_on_faithful_and_met_when_fixed() -> None:
    faithful = accuracy(quality_samples("faithful"))
    fixed = accuracy(quality_samples("fixed"))
    assert faithful < 0.95, "finding: the +10/-5 estimate is slow to decay"
    assert fixed >= 0.95


# ------------------------------------------------------------------ tokens (Day 2)
def test_refresh_runs_five_minutes_before_expiry_and_rotates() -> None:
    cw = build_world(ChatConfig(), 0)
    cw.run_for(s(1))
    first = cw.client.tokens.tokens
    assert first is not None
    cw.run_until(first.expires_at - ChatConfig().refresh_lead + ms(100))
    second = cw.client.tokens.tokens
    assert second is not None and second.refresh != first.refresh
    assert second.expires_at > first.expires_at


def test_token_refresh_failed_on_non_ok_and_nothing_retries_it_unless_fixed() -> None:
    for variant, retried in (("faithful", False), ("fixed", True)):
        cw = build_world(ChatConfig.for_variant(variant), 0)
        cw.run_for(s(1))
        cw.set_auth(False)
        cw.run_until(s(61))
        failed = [r for r in cw.world.trace if r.type == "Note"
                  and r.data["event"] == "token.refresh.failed"]
        assert failed and failed[0].data["data"]["status"] == 503
        cw.set_auth(True)
        cw.run_until(s(90))
        done = [r for r in cw.world.trace if r.type == "Note"
                and r.data["event"] == "token.refresh.done"]
        assert bool(done) is retried


def test_tokens_shorter_than_the_lead_cause_a_refresh_storm_unless_fixed() -> None:
    def refreshes(variant: str) -> int:
        config = attrs.evolve(ChatConfig.for_variant(variant), access_ttl=4 * MINUTE)
        cw = build_world(config, 0, Trace(keep=False))
        done: list[int] = []
        cw.world.trace.listeners.append(
            lambda r: done.append(r.t) if r.type == "Note"
            and r.data["event"] == "token.refresh.done" else None)
        cw.run_for(10 * MINUTE + s(1))
        return len(done)

    assert refreshes("faithful") > 10_000  # one per round trip, for ten minutes
    assert refreshes("fixed") == 5  # halfway through each 4-minute token: 2, 4, 6, 8, 10 min


def test_concurrent_callers_share_one_refresh() -> None:
    cw = build_world(ChatConfig(), 0)
    cw.run_for(s(1))
    tm = cw.client.tokens
    got: list[str | None] = []
    effects = [*tm.refresh_token(cw.now, lambda t, tok, err: got.append(tok) or []),
               *tm.refresh_token(cw.now, lambda t, tok, err: got.append(tok) or [])]
    requests = [e for e in effects if type(e).__name__ == "HttpRequest"]
    assert len(requests) == 1 and tm.in_flight == 1


def test_refresh_rate_is_a_finding_on_faithful_and_met_when_fixed() -> None:
    assert refresh_success("faithful", hours=1) < 1.0
    assert refresh_success("fixed", hours=1) == 1.0


# ------------------------------------------------------------------ reconnection (Day 3)
@given(attempt=st.integers(0, 40), seed=st.integers(0, 2**32))
def test_full_jitter_stays_in_centrifuge_js_band(attempt: int, seed: int) -> None:
    lo, hi = 100 * MS, 2000 * MS
    delay = full_jitter_backoff(random.Random(seed), attempt, lo, hi)
    assert lo <= delay <= min(hi, lo + min(hi, lo * 2 ** min(attempt, 31)))


def test_intended_policy_delays_double_to_two_seconds_then_fail() -> None:
    cw = build_world(ChatConfig.for_variant("fixed"), 0)
    cw.run_for(s(1))
    cw.crash("realtime")
    cw.run_for(s(30))
    delays = [r.data["data"]["delay"] for r in cw.world.trace if r.type == "Note"
              and r.data["event"] == "rt.reconnect_scheduled"]
    assert delays == [min(100 * 2**n, 2000) * MS for n in range(10)]
    assert cw.state() == ConnectionState.FAILED
    cw.restart("realtime")
    cw.run_for(s(12))  # the next health ping brings it back
    assert cw.state() == ConnectionState.CONNECTED and cw.connected()


def test_faithful_reconnects_with_the_cached_token_not_a_fresh_one() -> None:
    for variant, fresh in (("faithful", False), ("fixed", True)):
        cw = build_world(ChatConfig.for_variant(variant), 0)
        cw.run_for(s(61))  # one scheduled refresh has rotated the token
        held = cw.client.tokens.tokens
        assert held is not None
        cw.drop_ws()
        cw.run_for(s(1))
        sent = [r.data["data"]["connect"]["token"] for r in cw.world.trace
                if r.type == "Send" and r.actor == "browser" and "connect" in r.data["data"]]
        assert (sent[-1] == held.access) is fresh
        assert parse_access(sent[0]) is not None


def test_reconnect_time_after_a_drop_is_under_two_seconds_on_both() -> None:
    for variant in ("faithful", "fixed"):
        spans = reconnect_times(variant, drops=20)
        assert len(spans) == 20 and max(spans) < 2 * SECOND


def test_every_manager_pair_missing_from_the_table_is_an_error() -> None:
    manager = ConnectionManager.__new__(ConnectionManager)
    for state in ConnectionState:
        for event in ManagerEvent:
            manager.state = state
            if (state, event) in TRANSITIONS:
                continue
            with pytest.raises(TransitionError):
                manager._event(event)


def test_the_manager_pairs_without_a_row_are_exactly_those_declared_unreachable() -> None:
    pairs = {(s, e) for s in ConnectionState for e in ManagerEvent}
    assert set(UNREACHABLE) == pairs - set(TRANSITIONS)
    assert PACK.state_tables == (CONNECTION_MANAGER,)
    assert check_table(CONNECTION_MANAGER) == []


MIRROR = {Lib.DISCONNECTED: {ConnectionState.DISCONNECTED, ConnectionState.FAILED},
          Lib.CONNECTING: {ConnectionState.CONNECTING, ConnectionState.RECONNECTING},
          Lib.CONNECTED: {ConnectionState.CONNECTED}}


@pytest.mark.parametrize("variant", ["faithful", "fixed"])
def test_the_manager_state_follows_the_library_state_under_faults(variant: str) -> None:
    """The argument behind UNREACHABLE: before every input the browser handles, the
    manager's state matches the library's, so 'connected' and 'give up' find it CONNECTING
    or RECONNECTING, and so on."""
    config = attrs.evolve(ChatConfig.for_variant(variant), max_reconnect_attempts=2)
    trace = Trace()
    cw = build_world(config, 3, trace)
    seen: set[ConnectionState] = set()
    broken: list[tuple[Lib, ConnectionState]] = []

    def check(record: TraceRecord) -> None:
        if record.actor == BROWSER and record.kind == IN:
            lib, manager = cw.client.manager.lib.state, cw.state()
            seen.add(manager)
            if manager not in MIRROR[lib]:
                broken.append((lib, manager))

    trace.listeners.append(check)
    rng = random.Random(7)
    faults = [cw.drop_ws, cw.go_offline, cw.go_online, cw.partition, cw.heal_partition,
              lambda: cw.set_auth(False), lambda: cw.set_auth(True)]
    for _ in range(60):
        rng.choice(faults)()
        cw.run_for(ms(rng.randint(100, 5000)))
    assert broken == []
    expected = set(ConnectionState) if variant == "fixed" else {
        ConnectionState.DISCONNECTED, ConnectionState.CONNECTING, ConnectionState.CONNECTED}
    assert seen == expected


# ------------------------------------------------------------------ config, determinism
def test_unknown_flags_and_bad_values_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        ChatConfig(fixes=frozenset({"nope"}))
    with pytest.raises(ConfigError):
        ChatConfig(retry_max_retries=-1)
    assert ChatConfig.for_variant("fixed").fixes == frozenset(ChatConfig.FIXES)


def test_same_seed_same_trace() -> None:
    def run(seed: int) -> str:
        cw = build_world(ChatConfig(), seed, Trace(keep=False))
        cw.set_loss(0.5)
        for _ in range(10):
            cw.send_message()
            cw.run_for(s(3))
        cw.drop_ws()
        cw.run_for(s(60))
        return cw.world.trace.sha256

    assert run(3) == run(3)
    assert run(3) != run(4)
