"""The outcome oracles on runs where they must hold, and that they judge something there:
every probe gets its documented answer, reconnect delays are the policy's own and grow, a
call made on a clean socket returns its result, a refused refresh prompts a login and an
outage does not, a takeover is told to resubscribe, onSubscriptionRequired follows the flag,
and subscriber rows survive an eviction. (That each catches its planted bug, and only it
does, is in ``test_bugzoo``.)"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from attrs import evolve

from gatewaysim.models.lumenize.prober import PROBER, PROBES
from gatewaysim.properties.lumenize import PACK
from gatewaysim.properties.lumenize.monitors import (
    DOCUMENTED_ANSWERS,
    GROWTH_ALPHA,
    ClientCallReturnsResult,
    CountersAgree,
    MalformedInputAnswered,
    MeshCallsSettle,
    RevokedRefreshStaysRevoked,
    TokenServiceAnswersByMode,
    growth_p_value,
)
from gatewaysim.properties.monitor import Facts, Monitor
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step
from gatewaysim.simulator.clock import SECOND

ADVANCE = Step("advance", {"ms": 500})
ANSWERS = ("WsRejected", "WsOpened", "HttpResponse")


def _notes(records: list, event: str, actor: str | None = None) -> list[dict]:
    return [r.data["data"] for r in records if r.type == "Note" and r.data["event"] == event
            and (actor is None or r.actor == actor)]


def test_every_malformed_request_has_a_documented_answer() -> None:
    assert set(DOCUMENTED_ANSWERS) | {"refresh", "replay_refresh"} == set(PROBES)


@pytest.mark.parametrize("variant", ["faithful", "fixed"])
def test_every_probe_is_answered_as_documented(variant: str) -> None:
    steps = [ADVANCE, *(Step("probe", {"kind": k}) for k in sorted(DOCUMENTED_ANSWERS)),
             ADVANCE, Step("probe", {"kind": "refresh"}), ADVANCE,
             Step("probe", {"kind": "replay_refresh"}), ADVANCE]
    result = RunSpec.of(PACK, steps, variant=variant).execute(keep_records=True)
    assert result.violation is None, result.violation
    records = result.trace.records
    sent = {d["id"]: d["kind"] for d in _notes(records, "probe.sent", PROBER)}
    answered = {r.data.get("conn", r.data.get("req")): r for r in records
                if r.actor == PROBER and r.type in ANSWERS}
    assert set(sent.values()) == set(PROBES)  # every kind went out...
    assert set(answered) == set(sent)  # ...and every one was answered, so was judged
    statuses = {sent[key]: rec.data["status"] for key, rec in answered.items()}
    assert statuses["replay_refresh"] == 401 and statuses["refresh"] == 200
    assert not any(rec.type == "WsOpened" for rec in answered.values())


def test_faithful_reconnect_delays_are_the_policy_for_every_attempt() -> None:
    """A tab offline for four minutes runs through the whole schedule, cap included, and
    the oracle, judging each delay exactly, finds faithful's delays are the policy's."""
    steps = [Step("advance", {"ms": 1000}), Step("partition", {"client": 0}),
             Step("drop", {"client": 0}), Step("wait", {"minutes": 4})]
    result = RunSpec.of(PACK, steps, variant="faithful",
                        judge="lumenize.reconnect_delays_bounded").execute(keep_records=True)
    assert result.violation is None
    delays = [d["delay"] for d in _notes(result.trace.records, "reconnect.scheduled",
                                         "client/u0.t1")]
    assert delays[:7] == [s * SECOND for s in (1, 2, 4, 8, 16, 30, 30)]


@pytest.mark.parametrize("variant", ["faithful", "fixed"])
def test_calls_on_a_clean_socket_return_the_callees_result(variant: str) -> None:
    steps = [Step("advance", {"ms": 1000}), Step("client_call", {"client": 1, "awaited": True}),
             Step("call_client", {"client": 2}), Step("advance", {"ms": 1000})]
    result = RunSpec.of(PACK, steps, variant=variant).execute(keep_records=True)
    assert result.violation is None
    records = result.trace.records
    settled = [d for d in _notes(records, "call.settled", "client/u1.t1")
               if d["tag"].startswith("await:")]
    assert settled and settled[0]["value"] == f"worker-echo: {settled[0]['tag']}"
    (ping,) = _notes(records, "mesh_call.result", "node/main")
    assert ping["ok"] and ping["value"] == ping["tag"]


def _on(name: str, client: int = 0, **args: object) -> Step:
    return Step(name, {"client": client, **args})


def test_every_probe_is_answered_by_one_sweep_on_fixed() -> None:
    """One probe_sweep step sends every malformed request; each gets an answer, and the
    answers are the documented ones (the run passes every monitor)."""
    steps = [ADVANCE, Step("probe_sweep", {}), Step("advance", {"ms": 20_000})]
    result = RunSpec.of(PACK, steps, variant="fixed").execute(keep_records=True)
    assert result.violation is None, result.violation
    records = result.trace.records
    sent = {d["id"]: d["kind"] for d in _notes(records, "probe.sent", PROBER)}
    answered = {r.data.get("conn", r.data.get("req")) for r in records
                if r.actor == PROBER and r.type in ANSWERS}
    assert set(sent.values()) == set(PROBES) - {"replay_refresh"}  # nothing rotated yet
    assert set(sent) == answered


def test_growth_statistic_separates_the_policy_from_a_counter_that_never_counts() -> None:
    config = PACK.config_of("fixed")
    flat = [(n, 900 * 1000) for n in range(9)]  # nine delays, none past the first band
    assert growth_p_value(flat, config) < GROWTH_ALPHA
    assert growth_p_value(flat[:5], config) > GROWTH_ALPHA  # five could be chance
    grown = [(n, min(2 ** n, 30) * SECOND // 2) for n in range(9)]
    assert growth_p_value(grown, config) > 0.01


def test_fixed_reconnect_delays_grow_through_a_long_outage() -> None:
    """Four minutes offline under fixed: every delay in its band, the streak judged as a
    whole passes, and some delay really is past the first attempt's band."""
    steps = [Step("advance", {"ms": 1000}), _on("partition"), _on("drop"),
             Step("wait", {"minutes": 4})]
    result = RunSpec.of(PACK, steps, variant="fixed",
                        judge="lumenize.reconnect_delays_bounded").execute(keep_records=True)
    assert result.violation is None
    timers = [r.data["at"] - r.t for r in result.trace.records
              if r.actor == "client/u0.t1" and r.type == "SetTimer"
              and r.data["key"] == "reconnect"]
    assert len(timers) >= 9 and max(timers) > SECOND


@pytest.mark.parametrize("variant", ["faithful", "fixed"])
def test_a_second_tab_taking_over_is_judged_by_the_variants_promise(variant: str) -> None:
    """faithful vouches for the new tab (its known weakness, not judged there); fixed tells
    it to resubscribe, which the oracle, working out the takeover itself, requires."""
    steps = [Step("advance", {"ms": 1000}), _on("open_tab"), Step("advance", {"ms": 1000})]
    result = RunSpec.of(PACK, steps, variant=variant,
                        judge="lumenize.subscription_required").execute(keep_records=True)
    assert result.violation is None
    takeover = [d for d in _notes(result.trace.records, "upgrade") if d["superseded"]]
    assert takeover and takeover[0]["subscriptionRequired"] is (variant == "fixed")


def test_a_refused_refresh_prompts_a_login_and_an_outage_does_not() -> None:
    """On fixed, a 4401 whose refresh is refused (reject mode) ends in onLoginRequired(401);
    the same with the service failing (error mode, 503) backs off and connects once the
    service is back."""
    expire = [Step("advance", {"ms": 1000}), Step("wait", {"minutes": 16}),
              _on("client_call", awaited=False), Step("advance", {"ms": 1000})]
    for mode, prompted in (("reject", True), ("error", False)):
        steps = [expire[0], Step("auth_mode", {"mode": mode}), *expire[1:]]
        result = RunSpec.of(PACK, steps, variant="fixed").execute(keep_records=True)
        assert result.violation is None, (mode, result.violation)
        records = result.trace.records
        refused = [r.data["status"] for r in records if r.type == "HttpRespond"
                   and r.actor == "auth" and r.data["status"] != 200]
        assert refused and set(refused) == {401 if mode == "reject" else 503}
        logins = _notes(records, "login_required", "client/u0.t1")
        assert bool(logins) is prompted
        assert not prompted or logins[0]["code"] == 401


def test_on_subscription_required_follows_the_flag_on_fixed() -> None:
    """A return within grace is told false and calls nothing; a return after grace is told
    true and calls onSubscriptionRequired once."""
    steps = [Step("advance", {"ms": 1000}), _on("drop"), Step("advance", {"ms": 2000}),
             _on("partition"), _on("drop"), Step("advance", {"ms": 9000}), _on("heal"),
             Step("advance", {"ms": 5000})]
    result = RunSpec.of(PACK, steps, variant="fixed").execute(keep_records=True)
    assert result.violation is None
    records = [r for r in result.trace.records if r.actor == "client/u0.t1"]
    told = [r.data["data"]["subscriptionRequired"] for r in records
            if r.type == "WsMessage" and isinstance(r.data["data"], dict)
            and r.data["data"].get("type") == "connection_status"]
    assert told == [True, False, True]
    assert len(_notes(records, "subscription_required")) == 2


def test_subscriber_rows_survive_an_eviction_and_are_reported() -> None:
    steps = [Step("advance", {"ms": 1000}), _on("unsubscribe", client=2),
             Step("evict_document", {}), Step("advance", {"ms": 1000})]
    result = RunSpec.of(PACK, steps, variant="fixed").execute(keep_records=True)
    assert result.violation is None
    records = result.trace.records
    assert any(r.type == "evict" and r.data.get("host") == "doc/main" for r in records)
    dropped = _notes(records, "subscriber.dropped", "doc/main")
    assert [d["instanceName"] for d in dropped] == ["u2.t1"]


def test_a_tab_returning_after_a_takeover_is_told_to_resubscribe_despite_its_stale_socket(
        ) -> None:
    """Found by exploration: the first tab's half-open socket was still listed when it came
    back after a second tab had held the instance (and got an update). It must be told
    true: the gateway vouches only to the page of its last accepted upgrade."""
    steps = [Step("wait", {"minutes": 17}), Step("broadcast", {}), _on("open_tab"),
             _on("half_open", believer="server")]
    result = RunSpec.of(PACK, steps, variant="fixed").execute(keep_records=True)
    assert result.violation is None, result.violation
    upgrades = [d for d in _notes(result.trace.records, "upgrade", "gateway/u0.t1")]
    back = [d for d in upgrades if d["conn"].startswith("client/u0.t1:")
            and any(c.startswith("client/u0.t1#2:") for c in d["superseded"])]
    assert back and back[0]["subscriptionRequired"] is True


# ---------------------------------------------------------------------------- probes as named
def _probe_run() -> list:
    steps = [ADVANCE, *(Step("probe", {"kind": k}) for k in sorted(DOCUMENTED_ANSWERS)),
             ADVANCE, Step("probe", {"kind": "refresh"}), ADVANCE,
             Step("probe", {"kind": "replay_refresh"}), ADVANCE]
    result = RunSpec.of(PACK, steps, variant="fixed").execute(keep_records=True)
    assert result.violation is None, result.violation
    return list(result.trace.records)


def _judged(records: list) -> str | None:
    monitor = MalformedInputAnswered("probes", "probes", "safety")
    monitor.reset()
    for record in records:
        monitor.observe(record)
    monitor._unsent()
    return monitor.problem


def _doctor(records: list, kind: str, change: Callable[[dict], dict]) -> list:
    """The run with the request sent as probe ``kind`` changed by ``change``."""
    (probe_id,) = [d["id"] for d in _notes(records, "probe.sent", PROBER) if d["kind"] == kind]
    return [evolve(r, data=change(r.data)) if r.actor == PROBER and r.kind == "out"
            and r.data.get("conn", r.data.get("req")) == probe_id else r for r in records]


def test_every_probe_of_a_run_is_sent_as_named() -> None:
    assert _judged(_probe_run()) is None


@pytest.mark.parametrize("kind, change", [
    ("no_token", lambda d: {**d, "request": {**d["request"], "protocols": [
        *d["request"]["protocols"], "lmz.access-token.x"]}}),
    ("bad_origin", lambda d: {**d, "request": {**d["request"], "headers": {
        **d["request"]["headers"], "Origin": "https://app.lumenize.local"}}}),
    ("envelope_version", lambda d: {**d, "body": {**d["body"], "version": 1}}),
    ("replay_refresh", lambda d: {**d, "headers": {"Cookie": "rt-never-rotated"}}),
    ("no_upgrade_header", lambda d: {**d, "request": {**d["request"], "headers": {
        **d["request"]["headers"], "Upgrade": "websocket"}}}),
])
def test_a_probe_sent_well_formed_is_found(kind: str, change: Callable[[dict], dict]) -> None:
    """A prober that sends a request not malformed the way its probe says would leave the
    refusal untested while the answer oracle held; the oracle says which probe."""
    problem = _judged(_doctor(_probe_run(), kind, change))
    assert problem is not None and f"probe {kind}" in problem


def test_a_probe_asked_for_and_not_sent_is_found() -> None:
    records = _probe_run()
    (probe_id,) = [d["id"] for d in _notes(records, "probe.sent", PROBER)
                   if d["kind"] == "forged_token"]
    silent = [r for r in records if not (r.actor == PROBER and r.kind == "out" and (
        r.data.get("conn", r.data.get("req")) == probe_id
        or r.data.get("data", {}).get("id") == probe_id))]
    problem = _judged(silent)
    assert problem is not None and "probe forged_token was asked for" in problem


# ---------------------------------------------------------------------------- books kept from
# what the nodes did, not only from their notes
def _fed(monitor: Monitor, records: list) -> Monitor:
    monitor.reset()
    for record in records:
        monitor.observe(record)
    return monitor


def test_mesh_calls_are_booked_from_the_requests_the_node_sent() -> None:
    steps = [Step("advance", {"ms": 1000}), Step("call_client", {"client": 2}),
             Step("call_client", {"client": 1}), Step("advance", {"ms": 1000})]
    result = RunSpec.of(PACK, steps, variant="fixed").execute(keep_records=True)
    assert result.violation is None
    records = list(result.trace.records)
    later = Facts(SimpleNamespace(now=records[-1].t + 3600 * SECOND,  # type: ignore[arg-type]
                                  model_config=PACK.config_of("fixed")))
    monitor = _fed(MeshCallsSettle("m", "m", "liveness"), records)
    assert len(monitor.issued) == 2 and monitor.judge(later) is None
    # a node that stopped noting its calls still has them judged...
    unnoted = [r for r in records if not (r.type == "Note"
                                          and r.data["event"] == "mesh_call.sent")]
    monitor = _fed(MeshCallsSettle("m", "m", "liveness"), unnoted)
    assert len(monitor.issued) == 2 and monitor.judge(later) is None
    # ...and one that never reports a result is found
    unanswered = [r for r in records if not (r.type == "Note"
                                             and r.data["event"] == "mesh_call.result")]
    problem = _fed(MeshCallsSettle("m", "m", "liveness"), unanswered).judge(later)
    assert problem is not None and "never settled" in problem


def test_a_call_rejected_without_an_error_is_found() -> None:
    """fixed rejects an awaited call whose socket drops; the rejection must say why."""
    steps = [Step("advance", {"ms": 1000}),
             Step("client_call", {"client": 0, "awaited": True}),
             Step("drop", {"client": 0}), Step("advance", {"ms": 1000})]
    result = RunSpec.of(PACK, steps, variant="fixed").execute(keep_records=True)
    assert result.violation is None
    records = list(result.trace.records)
    failed = [r for r in records if r.type == "Note" and r.data["event"] == "call.settled"
              and not r.data["data"]["ok"]]
    assert failed and failed[0].data["data"]["error"]["message"]
    assert _fed(ClientCallReturnsResult("c", "c", "safety"), records).problem is None
    blank = [evolve(r, data={**r.data, "data": {k: v for k, v in r.data["data"].items()
                                                 if k != "error"}}) if r is failed[0] else r
             for r in records]
    problem = _fed(ClientCallReturnsResult("c", "c", "safety"), blank).problem
    assert problem is not None and "not an Error with a message" in problem


def test_a_forbidding_token_service_refuses_revoked_cookies_403_and_that_holds() -> None:
    """Found by `make explore` when the `forbidden` mode came in: the prober's rotated
    cookie replayed while the service forbids every refresh is refused 403, not 401; a
    refusal all the same. A service that answered 401 in that mode would be found."""
    steps = [Step("probe_sweep", {}), Step("wait", {"minutes": 8}),
             Step("auth_mode", {"mode": "forbidden"}), Step("probe_sweep", {}),
             Step("advance", {"ms": 10})]
    for variant in ("faithful", "fixed"):
        result = RunSpec.of(PACK, steps, variant=variant).execute(keep_records=True)
        assert result.violation is None, result.violation
    records = list(result.trace.records)
    refusals = [r for r in records if r.actor == "auth" and r.type == "HttpRespond"
                and r.data["status"] == 403]
    assert refusals
    answered_401 = [evolve(r, data={**r.data, "status": 401}) if r is refusals[0] else r
                    for r in records]
    problem = _fed(TokenServiceAnswersByMode("t", "t", "safety"), answered_401).problem
    assert problem is not None and "in mode 'forbidden'" in problem
    assert _fed(RevokedRefreshStaysRevoked("r", "r", "safety"), records).problem is None


def test_call_and_subscription_counters_are_judged_while_a_call_waits_in_the_queue(
        ) -> None:
    """A call made while the tab's socket is down waits in the queue: the tab reports it
    pending and queued, none leaked, and its document subscribed, and the trace agrees. A
    tab whose statistics lose any of the three, or hold a settled call, is found."""
    driver = PACK.new_driver(PACK.config_of("fixed"), 0, variant="fixed", keep_records=True)
    for st in [Step("advance", {"ms": 1000}), Step("partition", {"client": 0}),
               Step("drop", {"client": 0}), Step("advance", {"ms": 100}),
               Step("client_call", {"client": 0, "awaited": False}),
               Step("advance", {"ms": 1000})]:
        driver.apply(st)
    stats = driver.statistics()
    counters = dict(stats.counters)
    tab = "client/u0.t1"
    assert (counters[f"{tab}.pending"], counters[f"{tab}.queued"],
            counters[f"{tab}.subscribed"]) == (1, 1, 1)
    monitor = _fed(CountersAgree("c", "c", "safety"), list(driver.trace.records))
    assert monitor.judge(Facts(driver)) is None
    for statistic in ("pending", "queued", "subscribed"):
        name = f"{tab}.{statistic}"
        lost = evolve(stats, counters=tuple((n, 0 if n == name else v)
                                            for n, v in stats.counters))
        facts = Facts(SimpleNamespace(statistics=lambda lost=lost: lost))  # type: ignore[arg-type]
        assert monitor.judge(facts) == f"{name} reports 0, but the trace shows 1"
    # a tab that keeps a settled call (only a call refused by a full queue stays) is found
    assert counters[f"{tab}.leaked"] == 0
    kept = evolve(stats, counters=tuple((n, 1 if n == f"{tab}.leaked" else v)
                                        for n, v in stats.counters))
    facts = Facts(SimpleNamespace(statistics=lambda: kept))  # type: ignore[arg-type]
    assert monitor.judge(facts) == f"{tab}.leaked reports 1, but the trace shows 0"
