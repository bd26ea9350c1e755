"""The faithful model's weaknesses, each FOUND on ``faithful`` by a short scripted run and
ABSENT on ``fixed``; the planted mutants, each caught; and the exploration campaigns the
issue asks for (faithful finds its weaknesses, fixed finds none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatewaysim.properties.explorer import explore
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step

PACK = "chatsdk"


def adv(ms: int) -> Step:
    return Step("advance", {"ms": ms})


#: invariant -> a short run that shows it on faithful (hand-checked, seed 0).
FAITHFUL_FINDINGS: dict[str, list[Step]] = {
    # centrifuge-js never calls getReconnectDelay: a lost connection shows CONNECTING.
    "chatsdk.shows_reconnecting": [Step("drop_ws"), adv(50)],
    # the 401 retry drops Content-Type; the 415 it gets is returned as a success.
    "chatsdk.sent_is_stored": [Step("rotate_key"), Step("send_message"), adv(1000)],
    "chatsdk.all_stored": [Step("rotate_key"), Step("send_message")],
    # no idempotency key: the retry after a lost response stores the message again.
    "chatsdk.once_in_order": [Step("lossy", {"loss": 0.5}), Step("send_message"), adv(60_000)],
    # centrifuge-js reconnects with its cached token after the token expired.
    "chatsdk.no_expired_token": [Step("auth_down"), adv(420_000)],
    # a lost refresh response leaves a rotated refresh token; reusing it revokes the session.
    "chatsdk.no_logout": [Step("lossy", {"loss": 0.5}), adv(600_000)],
}


@pytest.mark.parametrize("invariant", sorted(FAITHFUL_FINDINGS))
def test_weakness_found_on_faithful_and_absent_on_fixed(invariant: str) -> None:
    spec = RunSpec.of(PACK, FAITHFUL_FINDINGS[invariant], variant="faithful", judge=invariant)
    found = spec.execute()
    assert found.violation is not None and found.violation.invariant_id == invariant
    fixed = spec.under("fixed").execute()
    assert fixed.violation is None, fixed.violation
    assert fixed.settled


def test_faithful_never_gives_up_nor_shows_failed_and_fixed_does() -> None:
    steps = [Step("crash", {"host": "realtime"}), adv(60_000)]
    faithful = RunSpec.of(PACK, steps, variant="faithful").execute(keep_records=True)
    states = [r.data["data"]["to"] for r in faithful.trace
              if r.type == "Note" and r.data["event"] == "conn.state"]
    assert "FAILED" not in states and "RECONNECTING" not in states
    attempts = [r.data["data"]["attempt"] for r in faithful.trace
                if r.type == "Note" and r.data["event"] == "rt.reconnect_scheduled"]
    assert max(attempts) > 10, "the library keeps retrying past the document's 10 attempts"
    assert faithful.violation is not None  # and the state shown is wrong meanwhile
    fixed = RunSpec.of(PACK, steps, variant="fixed").execute()
    assert fixed.violation is None
    assert {"chatsdk.failed_shown", "chatsdk.reconnecting_shown"} <= set(fixed.reached)


def test_http_retry_carries_the_token_read_before_the_retries() -> None:
    """Faithful reads the token once, before the breaker and retryAsync: a retry that waits
    out a long Retry-After sends a token the client knows has expired."""
    from gatewaysim.models.chatsdk import ChatConfig, build_world
    from gatewaysim.models.chatsdk.protocol import API, parse_access
    from gatewaysim.simulator.clock import s

    def expired_sends(variant: str) -> int:
        cw = build_world(ChatConfig.for_variant(variant), 0)
        cw.run_until(s(30))
        cw.set_auth(False)  # the scheduled refresh at 60 s fails (and is not retried)
        cw.run_until(s(70))
        cw.set_auth(True)
        cw.run_until(s(299) + 500_000)  # 60.5 s of the token left: still "valid"
        cw.world.rate_limit(API, 10, s(60))
        cw.send_message()
        cw.run_for(s(200))
        return sum(1 for r in cw.world.trace if r.actor == "browser" and r.type == "HttpRequest"
                   and (tok := parse_access(r.data["headers"].get("Authorization")))
                   and tok.exp <= r.t)

    assert expired_sends("faithful") > 0
    assert expired_sends("fixed") == 0


MUTANT_RUNS: dict[str, tuple[str, list[Step]]] = {
    "refresh_not_single_flight": ("chatsdk.single_refresh",
                                  [Step("slow", {"one_way_ms": 500}), adv(58_900),
                                   Step("rotate_key"), Step("send_message"), adv(3_000)]),
    "breaker_admits_when_open": ("chatsdk.breaker_gate",
                                 [Step("crash", {"host": "api"}), Step("send_message"),
                                  adv(20_000), Step("start_upload")]),
    "queue_not_fifo": ("chatsdk.once_in_order",
                       [Step("go_offline", {"typed": 2}), Step("go_online")]),
    "no_token_expiry_check": ("chatsdk.no_expired_token",
                              [Step("auth_down"), adv(420_000)]),
}


@pytest.mark.parametrize("mutant", sorted(MUTANT_RUNS))
def test_each_mutant_is_caught_by_its_monitor(mutant: str) -> None:
    invariant, steps = MUTANT_RUNS[mutant]
    spec = RunSpec.of(PACK, steps, variant=f"mutant:{mutant}", judge=invariant)
    caught = spec.execute()
    assert caught.violation is not None and caught.violation.invariant_id == invariant
    assert spec.under("fixed").execute().violation is None


def test_exploring_faithful_finds_its_weaknesses(tmp_path: Path) -> None:
    report = explore(PACK, "faithful", budget_s=600, max_examples=200, seed=0,
                     out_dir=tmp_path, profile="ci", progress=None)
    found = {f.invariant_id for f in report.findings}
    assert {"chatsdk.shows_reconnecting", "chatsdk.sent_is_stored",
            "chatsdk.once_in_order", "chatsdk.no_expired_token"} <= found, report.render()
    assert "no-exception" not in found
    # The document's RECONNECTING and FAILED never happen on centrifuge-js: reported.
    assert set(report.unreached) == {"chatsdk.reconnecting_shown", "chatsdk.failed_shown"}


def test_exploring_fixed_finds_nothing(tmp_path: Path) -> None:
    report = explore(PACK, "fixed", budget_s=600, max_examples=200, seed=0,
                     out_dir=tmp_path, profile="ci", progress=None)
    assert report.findings == () and report.unreached == (), report.render()
    assert not report.failed
    assert list(tmp_path.iterdir()) == []
