"""The Lumenize user view and its comparison, on made-up records (no sockets)."""

from __future__ import annotations

import pytest

from gatewaysim.models.lumenize.config import LumenizeConfig
from gatewaysim.models.lumenize.scenarios import phase1, phase4
from gatewaysim.real.lumenize import PHASE1, PHASE1_FORCE_CLOSE, PHASE4, run_sim, scaled_config
from gatewaysim.real.lumenize_view import compare, user_view
from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.trace import FAULT, IN, OUT, Trace, TraceRecord

TAB = "client/alice.t1"


def note(t: int, event: str, **data) -> TraceRecord:  # type: ignore[no-untyped-def]
    return TraceRecord(t, 0, TAB, OUT, "Note", {"event": event, "data": data})


def state(t: int, to: str) -> TraceRecord:
    return note(t, "state", to=to)


def fault(t: int) -> TraceRecord:
    return TraceRecord(t, 0, "world", FAULT, "drop", {"conn": "c"})


BASE = [state(0, "connecting"), state(ms(40), "connected"), fault(s(2)),
        state(s(2) + ms(10), "reconnecting"), state(s(3) + ms(20), "connected")]


END = s(10)


def differences(sim, real, sim_end=END, real_end=END, tolerance_ms=300):  # type: ignore[no-untyped-def]
    return [(d.client, d.what) for d in compare(sim, sim_end, real, real_end, tolerance_ms)]


def test_the_same_observations_conform_whatever_the_jitter():
    real = [state(0, "connecting"), state(ms(5), "connected"), fault(s(2) + ms(3)),
            state(s(2) + ms(4), "reconnecting"), state(s(3) + ms(9), "connected")]
    assert differences(BASE, real) == []


def test_order_and_count_are_exact():
    swapped = [*BASE[:3], state(s(2) + ms(10), "connected"), state(s(3), "reconnecting")]
    assert differences(BASE, swapped) == [(TAB, "states")]
    missing = BASE[:4]  # the reconnect never came, a long time before the end
    assert differences(BASE, missing) == [(TAB, "states")]


def test_a_late_state_change_is_a_timing_difference():
    late = [*BASE[:4], state(s(3) + ms(400), "connected")]  # 1.39 s after the one before
    assert differences(BASE, late) == [(TAB, "time of state 3 (connected) after the event "
                                              "before it")]


def test_the_gap_is_measured_from_the_latest_fault_when_it_is_later():
    # 10 ms after the drop both ways, although the drop came 300 ms later for real.
    real = [*BASE[:2], fault(s(2) + ms(300)), state(s(2) + ms(310), "reconnecting"),
            state(s(3) + ms(320), "connected")]
    assert differences(BASE, real) == []


def test_an_event_only_one_run_saw_is_allowed_only_at_the_end():
    # The real run drifted 50 ms late; the simulated change at 9.9 s would fall at 9.95 s,
    # inside the tolerance of the real run's end (10 s): not seen yet, not a difference.
    sim = [*BASE, state(s(9) + ms(900), "reconnecting")]
    real = [*BASE[:4], state(s(3) + ms(70), "connected")]
    assert differences(sim, real) == []
    # The same change at 8 s is a change the real run should have seen.
    sim = [*BASE, state(s(8), "reconnecting")]
    assert differences(sim, real) == [(TAB, "states")]


def test_what_a_user_sees_is_read_from_notes_frames_and_closes():
    records = [
        TraceRecord(0, 0, TAB, IN, "WsOpened", {"conn": "w1", "response": {}}),
        TraceRecord(1, 0, TAB, IN, "WsMessage", {"conn": "w1", "data": {
            "type": "connection_status", "subscriptionRequired": True}}),
        note(2, "call.settled", callId="c1", tag="subscribe:doc/main", ok=False,
             error={"name": "ClientDisconnectedError", "message": "gone"}),
        note(3, "reconnect.scheduled", attempt=1, delay=1000),  # internal: not a user's
        TraceRecord(4, 0, TAB, IN, "WsClosed", {"conn": "w1", "code": 4409, "reason": "",
                                                "clean": True}),
        TraceRecord(5, 0, TAB, IN, "WsRejected", {"conn": "w2", "status": 403,
                                                  "reason": "no"}),
        TraceRecord(6, 0, "node/main", OUT, "Note", {"event": "mesh_call.result", "data": {
            "tag": "x", "instanceName": "alice.t1", "ok": True, "value": "pong"}}),
    ]
    view = user_view(records)
    tab = view.tabs[TAB]
    assert [e.what for e in tab.events] == [
        "call [subscribe:doc/main] ClientDisconnectedError: gone"]
    assert [m.what for m in tab.messages] == [
        "socket 1: connection_status subscriptionRequired=True"]
    assert [c.what for c in tab.closes] == ["closed 4409", "rejected 403"]
    assert [r.what for r in view.mesh_results] == ["[x] alice.t1: ok 'pong'"]


def test_scaling_changes_the_library_delays_only():
    base = LumenizeConfig.for_variant("faithful")
    half = scaled_config(base, 0.5)
    assert (half.grace, half.reconnect_initial, half.tab_probe) == (ms(2500), ms(500), ms(25))
    assert (half.access_ttl_s, half.max_queue) == (base.access_ttl_s, base.max_queue)


@pytest.mark.parametrize(("script", "phase"), [(PHASE1_FORCE_CLOSE, phase1), (PHASE4, phase4)])
def test_a_script_in_simulation_is_its_phase(script, phase):  # type: ignore[no-untyped-def]
    # What every user saw when the script runs in simulation is what they saw in the
    # scenario (`gatewaysim run lumenize-phaseN`), to the microsecond.
    trace = Trace(keep=True)
    phase.fn(0, script.duration, trace)
    ours, theirs = user_view(run_sim(script).records), user_view(trace.records)
    assert ours.tabs == theirs.tabs and ours.tabs
    assert ours.mesh_results == theirs.mesh_results and ours.mesh_results


def test_phase1_with_a_drop_differs_from_the_phase_only_by_the_error_event():
    # A drop is an abnormal close: the tab fires "error" before reconnecting (the phase's
    # force-closed 1006 arrives as a close frame, which is a clean close).
    drop, phase = user_view(run_sim(PHASE1).records), user_view(run_sim(PHASE1_FORCE_CLOSE).records)
    a, b = drop.tabs[TAB], phase.tabs[TAB]
    assert [e.what for e in a.events if e.what != "error"] == [e.what for e in b.events]
    assert [e.what for e in a.events].count("error") == 1
    assert [x.what for x in a.states] == [x.what for x in b.states]
    assert [x.what for x in a.messages] == [x.what for x in b.messages]
    assert [x.what for x in drop.mesh_results] == [x.what for x in phase.mesh_results]
