"""The bug zoo: every planted bug of ``LumenizeConfig.MUTANTS``, planted on top of ``fixed``, is
caught by the invariant that names its damage, and exploration finds it (``ci`` settings,
seeded; ``dev``'s longer runs for the two crash-window bugs).

Each mutant has a hand-checked minimal run: it violates the named invariant under the
mutant and holds under ``fixed``, which shows the planted bug is observable and what it
breaks. The search test then asks Hypothesis to find it on its own, bounded and seeded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import attrs
import pytest

from gatewaysim.models.lumenize.config import MUTANTS, LumenizeConfig
from gatewaysim.properties.lumenize import PACK
from gatewaysim.properties.lumenize.zoo import CAUGHT_BY
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step

#: Examples per search (seeded, no shrinking): the zoo is found in tens to a few hundred.
BUDGET = 3000
#: The two bugs that only show through a gateway crash need the crash within a round trip
#: or a grace period of a close (a supersession, a drop, a 4401), around whatever else a
#: run does. ci's 15-step runs rarely fit that; the dev profile's 30-step runs do (measured:
#: alarm_not_deleted_on_accept in 58, 1,459 and 1,780 examples on seeds 2, 1 and 0;
#: grace_alarm_on_4409 in 2,185 on seed 0, not within 3,000 on seeds 1 and 2). Every other
#: setting is the same.
PROFILE = {"alarm_not_deleted_on_accept": "dev", "grace_alarm_on_4409": "dev"}
#: Searches that need more examples than BUDGET. reauth_failure_retried_at_once needs a
#: token to expire, a frame to meet the 4401, and the token service to fail the refresh
#: that follows: measured, seeds 2, 1 and 0 find it in 3,890, 4,719 and 8,370 examples.
BUDGETS = {"reauth_failure_retried_at_once": 5000}


def _advance(ms: int) -> Step:
    return Step("advance", {"ms": ms})


def _on(name: str, client: int = 0, **args: object) -> Step:
    return Step(name, {"client": client, **args})


MINIMAL_RUNS: dict[str, list[Step]] = {
    "waiters_not_resolved_on_accept": [
        _advance(1000), _on("drop"), _on("call_client"), _advance(2000)],
    "alarm_not_deleted_on_accept": [
        _advance(1000), _on("drop"), _advance(1500), _on("crash_gateway"), _advance(2000)],
    # The tab's own stale socket, still OPEN at the gateway, is superseded by its return:
    # nothing was lost. (A second tab taking over is told true under fixed, mutant or not.)
    "subscription_required_after_close": [
        _advance(1000), _on("half_open", believer="server"), _advance(3000)],
    "no_stale_close_guard": [
        _advance(1000), _on("partition"), _on("drop"), _advance(5000),
        _on("wake", kind="visible")],
    "refresh_not_single_flight": [
        _advance(1000), _on("partition"), _on("drop"), _advance(13000),
        _on("wake", kind="visible")],
    "queue_flushed_twice": [_on("client_call", awaited=True), _advance(1000)],
    "grace_alarm_on_4409": [
        _on("open_tab"), _advance(1000), _on("crash_gateway"), _advance(2000)],
    "no_token_check_on_mesh_call": [Step("wait", {"minutes": 16}), _on("call_client")],
    "backoff_never_reset": [
        _advance(2000), _on("drop"), _advance(3000), _on("drop"), _advance(3000), _on("drop")],
    "alarm_handler_raises": [_advance(1000), _on("partition"), _on("drop"), _advance(30000)],
    "parked_call_delivered_twice": [
        _advance(1000), _on("drop"), _on("call_client"), _advance(2000),
        _on("client_call", awaited=False), _advance(1000)],
    "call_response_inverted": [_advance(1000), _on("client_call", awaited=True),
                               _advance(1000)],
    "client_answers_ignored": [_advance(1000), _on("call_client"), _advance(1000)],
    "subscribe_snapshot_empty": [
        _advance(1000), _on("partition"), _on("drop"), _advance(6000), Step("broadcast", {}),
        _on("heal"), _advance(3000)],
    "grace_alarm_never_armed": [_advance(1000), _on("drop"), _on("call_client"),
                                _advance(2000)],
    "backoff_cap_ignored": [
        _advance(1000), _on("partition"), _on("drop"), Step("wait", {"minutes": 4})],
    "instance_format_unchecked": [
        _advance(1000), Step("probe", {"kind": "instance_without_tab"}), _advance(500)],
    "revocation_in_memory": [
        _advance(1000), Step("probe", {"kind": "refresh"}), _advance(500),
        Step("auth_down", {}), Step("auth_up", {}), Step("probe", {"kind": "replay_refresh"}),
        _advance(500)],
    "backoff_never_grows": [
        _advance(1000), _on("partition"), _on("drop"), Step("wait", {"minutes": 4})],
    "takeover_not_checked": [_advance(1000), _on("open_tab"), _advance(1000)],
    "unknown_operation_unanswered": [
        _advance(1000), Step("probe", {"kind": "unknown_operation"}), _advance(20000)],
    "refresh_refusal_retried": [
        _advance(1000), Step("auth_mode", {"mode": "reject"}), Step("wait", {"minutes": 16}),
        _on("client_call", awaited=False), _advance(1000)],
    "refresh_outage_logs_out": [
        _advance(1000), Step("auth_mode", {"mode": "error"}), Step("wait", {"minutes": 16}),
        _on("client_call", awaited=False), _advance(1000)],
    "error_mode_answers_401": [
        _advance(1000), Step("auth_mode", {"mode": "error"}), Step("probe", {"kind": "refresh"}),
        _advance(500)],
    "subscription_required_on_false": [_advance(1000), _on("drop"), _advance(2000)],
    "row_drop_unreported": [_advance(1000), _on("unsubscribe"), _advance(500)],
    "forced_reauth_skipped": [
        _advance(1000), _on("partition"), _on("drop"), _advance(30000), _on("heal"),
        _advance(10000)],
    "reauth_failure_retried_at_once": [
        _advance(1000), Step("auth_mode", {"mode": "error"}), Step("wait", {"minutes": 16}),
        _on("client_call", awaited=False), _advance(1000)],
    "incoming_call_needs_connected": [
        _advance(1000), _on("drop"), _on("call_client"), _advance(2000)],
    "fanout_version_stale": [_advance(1000), Step("broadcast", {}), _advance(500)],
    "rotated_cookie_not_kept": [
        _advance(1000), Step("wait", {"minutes": 16}), _on("client_call", awaited=False),
        _advance(1000)],
    "delivery_treats_socket_uninitialised": [
        _advance(1000), _on("call_client"), _advance(1000)],
    "publish_dropped": [_advance(1000), Step("broadcast", {}), _advance(500)],
    "disconnected_error_unnamed": [
        _advance(1000), _on("partition"), _on("drop"), _advance(6000), _on("call_client"),
        _advance(1000)],
    "subscription_lost_push_false": [
        _advance(1000), _on("half_open", believer="server"), Step("broadcast", {}),
        _advance(3000)],
    "ping_wakes_gateway": [_advance(32000)],
    "issued_not_counted": [_advance(1000)],
    "unsubscribe_keeps_row": [_advance(1000), _on("unsubscribe"), _advance(500)],
    "expired_frame_socket_kept": [
        _advance(1000), Step("wait", {"minutes": 16}), _on("client_call", awaited=True),
        _advance(1000)],
    "revoked_refresh_answered_500": [
        _advance(1000), Step("probe", {"kind": "refresh"}), _advance(500),
        Step("probe", {"kind": "replay_refresh"}), _advance(500)],
    "refreshed_attempt_backs_off": [_advance(1000)],
    "refresh_lead_ignored": [
        _advance(1000), Step("token_ttl", {"ttl_s": 45}), Step("wait", {"minutes": 16}),
        _on("client_call", awaited=False), _advance(20000), _on("drop"), _advance(2000)],
    "grace_call_dropped": [_advance(1000), _on("drop"), _on("call_client"), _advance(2000)],
    "probe_end_forgotten": [_on("slow_auth"), _on("open_tab"), _advance(6000)],
    "answered_call_kept": [_advance(1000), _on("client_call", awaited=True), _advance(1000)],
    "timed_out_call_stays_queued": [
        _advance(1000), _on("partition"), _on("drop"), _advance(100),
        _on("client_call", awaited=False), Step("wait", {"minutes": 1})],
    "update_reported_failed": [_advance(1000), Step("broadcast", {}), _advance(500)],
}

#: Mutants planted for the outcome oracles: each is invisible to every other monitor, so the
#: oracle written for it is what catches it.
OUTCOME_MUTANTS = ("call_response_inverted", "client_answers_ignored",
                   "subscribe_snapshot_empty", "grace_alarm_never_armed", "backoff_cap_ignored",
                   "instance_format_unchecked", "revocation_in_memory",
                   "takeover_not_checked", "unknown_operation_unanswered",
                   "refresh_refusal_retried", "error_mode_answers_401",
                   "subscription_required_on_false", "row_drop_unreported",
                   "forced_reauth_skipped", "reauth_failure_retried_at_once",
                   "incoming_call_needs_connected", "rotated_cookie_not_kept",
                   "delivery_treats_socket_uninitialised", "publish_dropped",
                   "disconnected_error_unnamed", "ping_wakes_gateway", "issued_not_counted",
                   "unsubscribe_keeps_row",
                   "revoked_refresh_answered_500", "refreshed_attempt_backs_off",
                   "refresh_lead_ignored", "update_reported_failed")


def test_every_mutant_has_a_named_invariant_a_minimal_run_and_a_variant() -> None:
    assert set(CAUGHT_BY) == set(MUTANTS) == set(MINIMAL_RUNS)
    ids = {m.id for m in PACK.monitors}
    assert set(CAUGHT_BY.values()) <= ids
    fixed = PACK.config_of("fixed")
    for name in MUTANTS:
        config = PACK.config_of(f"mutant:{name}")
        assert config.mutants == {name}
        assert config.fixes == fixed.fixes
        assert config.variant == f"mutant:{name}"


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_named_invariant_catches_mutant_on_its_minimal_run(mutant: str) -> None:
    spec = RunSpec.of(PACK, MINIMAL_RUNS[mutant], variant=f"mutant:{mutant}")
    planted = spec.execute().violation
    assert planted is not None and planted.invariant_id == CAUGHT_BY[mutant], planted
    assert spec.under("fixed").execute().violation is None


@pytest.mark.parametrize("mutant", OUTCOME_MUTANTS)
def test_only_its_outcome_oracle_catches_the_mutant(mutant: str) -> None:
    """Judged by every monitor but the one written for it, the minimal run passes: the
    planted bug would go unnoticed without that oracle."""
    oracle = CAUGHT_BY[mutant]
    spec = RunSpec.of(PACK, MINIMAL_RUNS[mutant], variant=f"mutant:{mutant}")
    assert spec.execute(checked=lambda invariant_id: invariant_id != oracle).violation is None


def test_a_replayed_refresh_cookie_is_refused_by_the_mutant_until_a_restart() -> None:
    """revocation_in_memory only shows across a restart of the token service: without one
    the replay is refused as it should be."""
    steps = [s for s in MINIMAL_RUNS["revocation_in_memory"]
             if s.name not in ("auth_down", "auth_up")]
    spec = RunSpec.of(PACK, steps, variant="mutant:revocation_in_memory")
    assert spec.execute().violation is None


#: Independent searches tried before the test gives up; each is seeded and bounded.
SEEDS = (0, 1, 2)
#: The same three seeds in another order, for a bug whose seed-0 search misses and costs
#: minutes before the search that finds it starts (none at present: judged, seed 0 finds
#: grace_alarm_on_4409 within its 3000 dev examples).
SEED_ORDER: dict[str, tuple[int, ...]] = {}

_HUNT = """
import json, sys
from gatewaysim.properties.lumenize.zoo import hunt
for seed in json.loads(sys.argv[2]):
    result = hunt(sys.argv[1], int(sys.argv[3]), seed=seed, profile=sys.argv[4], shrink=False,
                  judge=sys.argv[5])
    if result.invariant_id is not None:
        break
print(json.dumps({"seed": seed, "found": result.invariant_id, "examples": result.examples,
                  "steps": [[s.name, s.args] for s in result.steps]}))
"""


#: The searches that take minutes (a crash inside one grace period, two wake-ups in a row,
#: a refresh lost across a token-service restart or failed on the 4401 path): `make
#: test-hunts` runs them, and CI does.
LONG_HUNTS = frozenset({"grace_alarm_on_4409", "no_stale_close_guard", "revocation_in_memory",
                        "alarm_not_deleted_on_accept", "reauth_failure_retried_at_once"})


#: Zoo bugs that exploration does not find within the test's three seeded searches: a
#: strict expected failure, so the day a search finds one the test says so.
NOT_FOUND: dict[str, str] = {}


def _hunt_param(mutant: str) -> Any:
    marks = [pytest.mark.hunt] if mutant in LONG_HUNTS else []
    if mutant in NOT_FOUND:
        marks.append(pytest.mark.xfail(strict=True, reason=NOT_FOUND[mutant]))
    return pytest.param(mutant, marks=marks)


@pytest.mark.parametrize("mutant", [_hunt_param(m) for m in sorted(MUTANTS)])
def test_exploration_finds_mutant(mutant: str) -> None:
    """Each search runs in a fresh process, as `gatewaysim explore` would: a search inside
    a long-lived test worker has been seen to draw different examples than the same seeded
    search in a new process, and this test is about the bug being findable, not about that.
    The search judges the invariant written for the bug, the others muted, as a campaign
    mutes each invariant once it has found it: a weakness of ``fixed`` that another invariant
    shows (as ``test_fixed_keeps_subscription_rows_through_half_open_both_ways`` was, before
    fix resubscribe_until_done) does not end it."""
    done = subprocess.run(
        [sys.executable, "-c", _HUNT, f"mutant:{mutant}",
         json.dumps(SEED_ORDER.get(mutant, SEEDS)), str(BUDGETS.get(mutant, BUDGET)),
         PROFILE.get(mutant, "ci"), CAUGHT_BY[mutant]],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["found"] == CAUGHT_BY[mutant], result


def test_fixed_keeps_subscription_rows_through_half_open_both_ways() -> None:
    """Found by the zoo hunts as a weakness of ``fixed``: half-open on the client's side (the
    token expires unseen: 4401, the row dropped, subscriptionRequired true on the next
    socket), then on the server's side just after that socket's resubscribe was sent."""
    steps = [Step("wait", {"minutes": 1}), *[Step("broadcast", {})] * 4,
             Step("advance", {"ms": 1}), Step("broadcast", {}),
             Step("half_open", {"believer": "client", "client": 0}),
             Step("wait", {"minutes": 16}), Step("broadcast", {}), Step("advance", {"ms": 78}),
             Step("half_open", {"believer": "server", "client": 0}),
             Step("advance", {"ms": 5495}), Step("advance", {"ms": 41117})]
    spec = RunSpec.of(PACK, steps, variant="faithful")
    found = spec.execute().violation
    assert found is not None and found.invariant_id == "lumenize.subscribed_in_rows", found
    assert spec.under("fixed").execute().violation is None
    # the fix that keeps it: the resubscribe lost with the half-open socket is made again
    # after the next connection_status, which says false (the gateway took the half-open
    # socket for still open, and the new one for a supersession)
    fixed = LumenizeConfig.for_variant("fixed")
    without = attrs.evolve(fixed, fixes=fixed.fixes - {"resubscribe_until_done"})
    found = RunSpec.of(PACK, steps, config=without).execute().violation
    assert found is not None and found.invariant_id == "lumenize.subscribed_in_rows", found
