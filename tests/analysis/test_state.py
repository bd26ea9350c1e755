"""at(t): the snapshot index agrees with a naive fold, and the fold means what it says."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewaysim.analysis import StateRules, TraceView
from gatewaysim.analysis.state import state_at_naive
from gatewaysim.simulator.trace import TraceRecord

from .echo_runs import GRACE, echo_world

_WORLD = echo_world(seed=3, clients=4, duration_s=60, grace=True)
_VIEWS = [TraceView.from_world(_WORLD, snapshot_every=n) for n in (1, 37, 1000)]
_TIMES = sorted({r.t for r in _WORLD.trace.records})


@settings(max_examples=150, deadline=None)
@given(
    which=st.sampled_from(range(len(_VIEWS))),
    t_us=st.one_of(st.sampled_from(_TIMES),
                   st.integers(min_value=-1, max_value=_TIMES[-1] + 1_000_000)),
)
def test_at_equals_a_naive_fold_from_the_start(which: int, t_us: int) -> None:
    view = _VIEWS[which]
    assert view.at_us(t_us) == state_at_naive(view.records, t_us, view.rules)


@settings(max_examples=50, deadline=None)
@given(t=st.floats(min_value=0, max_value=61, allow_nan=False))
def test_at_takes_seconds(t: float) -> None:
    view = _VIEWS[1]
    assert view.at(t) == state_at_naive(view.records, round(t * 1_000_000), view.rules)


def test_connected_clients_hold_their_socket(view: TraceView) -> None:
    note = next(r for r in view.filter(event="connected"))
    state = view.at_us(note.t)[note.actor]
    assert state["state"] == "connected" and state["up"]
    opened = [r for r in view if r.actor == note.actor and r.type == "WsOpened"
              and r.t <= note.t][-1]
    assert state["connections"] == (opened.data["conn"],)


def test_a_crash_takes_the_host_down_and_its_sockets_with_it(view: TraceView) -> None:
    crash = next(r for r in view if r.type == "crash" and r.data["host"] != "echo")
    host = crash.data["host"]
    before = view.at_us(crash.t - 1)[host]
    after = view.at_us(crash.t)[host]
    assert before["up"] and before["state"] is not None
    assert not after["up"] and after["state"] is None and after["connections"] == ()
    assert view.at_us(crash.t)["world"]["notes"]["crash"] == {"host": host}


def test_a_grace_alarm_is_pending_until_it_fires_or_is_deleted(view: TraceView) -> None:
    armed = next(r for r in view if r.type == "SetAlarm")
    assert armed.data["at"] == armed.t + GRACE
    assert view.at_us(armed.t - 1)["echo"]["alarm"] is None
    assert view.at_us(armed.t)["echo"]["alarm"] == armed.data["at"]
    end = next(r for r in view if r.actor == "echo" and r.t >= armed.t and r.seq > armed.seq
               and r.type in ("AlarmFired", "DeleteAlarm", "SetAlarm"))
    assert view.at_us(end.t)["echo"]["alarm"] == (
        end.data["at"] if end.type == "SetAlarm" else None)


def test_state_notes_win_over_the_rules() -> None:
    recs = [
        TraceRecord(1, 1, "c", "out", "OpenConnection", {"conn": "c:1", "to": "g"}),
        TraceRecord(2, 2, "c", "out", "Note", {"event": "state",
                                               "data": {"from": "idle", "to": "handshaking"}}),
        TraceRecord(3, 3, "c", "out", "OpenConnection", {"conn": "c:2", "to": "g"}),
        TraceRecord(4, 4, "c", "out", "Note", {"event": "connected", "data": {}}),
    ]
    view = TraceView({"schema": 1, "pack": "echo"}, recs)
    assert view.at_us(1)["c"]["state"] == "connecting"
    assert view.at_us(4)["c"]["state"] == "handshaking"
    assert view.at_us(4)["c"]["notes"]["connected"] == {}
    custom = view.with_rules(StateRules(notes={"connected": "online"}, state_event="phase"))
    assert custom.at_us(1)["c"]["state"] is None
    assert custom.at_us(4)["c"]["state"] == "online"


def test_partitions_and_heals_are_tracked_on_the_world() -> None:
    recs = [
        TraceRecord(1, 1, "world", "fault", "partition", {"a": "x", "b": "y", "one_way": False}),
        TraceRecord(2, 2, "world", "fault", "partition", {"a": "x", "b": "z", "one_way": True}),
        TraceRecord(3, 3, "world", "fault", "heal", {"a": "x", "b": "y"}),
        TraceRecord(4, 4, "world", "fault", "heal", {"a": None, "b": None}),
    ]
    view = TraceView({"schema": 1, "pack": "echo"}, recs)
    assert view.at_us(2)["world"]["partitions"] == (("x", "y"), ("x", "z"), ("y", "x"))
    assert view.at_us(3)["world"]["partitions"] == (("x", "z"),)
    assert view.at_us(4)["world"]["partitions"] == ()


def test_state_at_is_read_only(view: TraceView) -> None:
    states = view.at(10.0)
    with pytest.raises(TypeError):
        states["client/0"]["state"] = "hacked"  # type: ignore[index]
    with pytest.raises(TypeError):
        states["client/0"]["notes"]["x"] = 1  # type: ignore[index]
    assert states.t == 10.0 and states.t_us == 10_000_000


def test_snapshot_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        TraceView({"schema": 1}, [], snapshot_every=0).at(0.0)
