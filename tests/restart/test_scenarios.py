"""The document's 13 tests, its future work and two findings, replayed in virtual time."""

from __future__ import annotations

import pytest

from gatewaysim.models.restart.config import RestartConfig
from gatewaysim.models.restart.scenarios import (
    DOCUMENT,
    FAILED_WHILE_REACHABLE,
    FINDINGS,
    FUTURE,
    MESSAGES_AFTER_RECONNECT,
    MULTIPLE_RESTARTS,
    RECONNECTION_FAILED,
    SECOND_CRASH,
    STATE_TRANSITIONS,
    WORKFLOW,
    config_for,
)
from gatewaysim.models.restart.script import Expect, run_sim
from gatewaysim.properties.restart import PACK
from gatewaysim.simulator.trace import Trace

FAITHFUL = RestartConfig()
FIXED = RestartConfig.for_variant("fixed")


def observed(run, label):  # type: ignore[no-untyped-def]
    return next(o.value for o in run.observations if o.label == label)


def test_the_document_has_13_tests_and_37_expectations():
    assert len(DOCUMENT) == 13
    assert sum(len(script.expectations) for script in DOCUMENT) == 37
    assert len({script.source for script in DOCUMENT}) == 13


@pytest.mark.parametrize("script", DOCUMENT, ids=lambda s: s.name)
def test_document_test_passes_on_the_faithful_client(script):
    run = run_sim(script, config=config_for(script.name, FAITHFUL))
    failed = [str(v) for v in run.verdicts if not v.holds]
    assert failed == []
    assert len(run.verdicts) == len(script.expectations)


@pytest.mark.parametrize("script", DOCUMENT, ids=lambda s: s.name)
def test_document_test_passes_on_the_fixed_client(script):
    run = run_sim(script, config=config_for(script.name, FIXED))
    assert [str(v) for v in run.verdicts if not v.holds] == []


def test_state_sequence_is_the_documented_one():
    run = run_sim(STATE_TRANSITIONS)
    states = [to for _, to in run.log().states]  # changes after the initial "connecting"
    assert states == ["connected", "disconnected", "reconnecting", "connected"]
    assert [observed(run, f"states[{i}]") for i in (0, 1, 3, 4)] == [
        "connecting", "connected", "reconnecting", "connected"]
    # one second after the kill the client is already reconnecting (its loop runs)
    assert observed(run, "states[2]") == "reconnecting"


def test_onreconnectionfailed_has_not_run_after_eight_seconds():
    """The original waits 8 s and asserts nothing: four attempts (0, ~1, ~3, ~7 s) by then."""
    run = run_sim(RECONNECTION_FAILED)
    assert observed(run, "callback after 8 s") is False
    assert observed(run, "state after 8 s") == "reconnecting"
    attempts = [r for r in run.log().events if r[1] == "reconnection_failed"]
    assert attempts == []


def test_the_message_test_passes_on_the_close_event_alone():
    """The status count after the restart includes the null status dispatched on close:
    one from the close, one real status frame from the new process (on connect)."""
    run = run_sim(MESSAGES_AFTER_RECONNECT)
    assert observed(run, "status events since restart") - observed(
        run, "status events before restart") == 2
    assert observed(run, "status messages since restart") - observed(
        run, "status messages before restart") == 1
    assert run.log().count("status", via="close") == 1


def test_later_restart_cycles_reconnect_through_a_leftover_check():
    """Cycles 2 and 3 reconnect only because the first loop's next check is still pending."""
    run = run_sim(MULTIPLE_RESTARTS)
    loops = [e for e in run.log().events if e[1] == "reconnecting"]
    assert len(loops) == 1  # one loop for three outages
    assert run.log().count("reconnected") == 3


@pytest.mark.parametrize("script", FUTURE, ids=lambda s: s.name)
@pytest.mark.parametrize("config", [FAITHFUL, FIXED], ids=["faithful", "fixed"])
def test_future_work_scenario_passes(script, config):
    run = run_sim(script, config=config)
    assert [str(v) for v in run.verdicts if not v.holds] == []


def test_a_prompt_lost_in_a_crash_is_reported_as_went_missing():
    run = run_sim(WORKFLOW)
    assert run.log().prompts == {"before": "completed", "lost": "failed:WentMissingError",
                                 "after": "completed"}


def test_second_crash_is_never_recovered_from_on_faithful():
    run = run_sim(SECOND_CRASH, config=FAITHFUL)
    failed = {v.label for v in run.verdicts if not v.holds}
    assert failed == {"connected 30 s after the second restart",
                      "connectionState agrees with isConnected()"}
    assert run.world.client("api").state.value == "connected"  # stale: no socket at all
    assert run.world.client("api").socket is None


def test_onreconnectionfailed_runs_while_the_server_is_back_on_faithful():
    run = run_sim(FAILED_WHILE_REACHABLE, config=config_for(FAILED_WHILE_REACHABLE.name,
                                                              FAITHFUL))
    assert {v.label for v in run.verdicts if not v.holds} == {"callback fired"}
    names = [name for _, name, _ in run.log().events]
    assert names.index("reconnection_failed") < len(names) - 1 - names[::-1].index(
        "reconnected")


@pytest.mark.parametrize("script", FINDINGS, ids=lambda s: s.name)
def test_findings_are_absent_on_fixed(script):
    run = run_sim(script, config=config_for(script.name, FIXED))
    assert [str(v) for v in run.verdicts if not v.holds] == []


def test_same_seed_same_trace():
    hashes = set()
    for _ in range(2):
        trace = Trace()
        run_sim(MULTIPLE_RESTARTS, seed=7, trace=trace)
        hashes.add(trace.sha256)
    assert len(hashes) == 1


def test_every_script_is_a_registered_scenario():
    names = {s.name for s in PACK.scenarios}
    assert {f"restart-{s.name}" for s in (*DOCUMENT, *FUTURE, *FINDINGS)} == names
    result = PACK.scenario("restart-simple-basic")(0, 10_000_000, Trace())
    assert result.summary["expectations"] == "5 of 5 hold"


def test_expect_labels_are_unique_per_script():
    for script in (*DOCUMENT, *FUTURE, *FINDINGS):
        labels = [s.label for s in script.steps if isinstance(s, Expect)]
        assert len(labels) == len(set(labels)), script.name
