"""TraceView: loading, filtering, following one connection or call, the text timeline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from gatewaysim.analysis import TraceView
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import Trace, TraceRecord
from gatewaysim.simulator.world import World

from .echo_runs import echo_world


def test_file_and_live_run_give_the_same_records(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    world = echo_world(seed=11, clients=3, duration_s=20, path=path)
    live = TraceView.from_world(world)
    loaded = TraceView.from_file(path)
    assert len(live) == world.trace.count > 100
    assert loaded.records == live.records
    assert loaded.header == live.header
    assert loaded.sha256 == live.sha256 == world.trace.sha256
    assert TraceView.of(path).records == TraceView.of(world.trace).records == live.records
    assert loaded.source.kind == "file" and loaded.source.path == path
    assert live.source.kind == "world" and live.source.origin is world


def test_a_trace_that_kept_nothing_is_refused_with_a_way_out() -> None:
    world = World(0, trace=Trace(keep=False))
    world.fault("crash", host="nobody")
    with pytest.raises(ConfigError, match="keep=True"):
        TraceView.from_world(world)


def test_filters_return_new_views_and_leave_the_original_alone(view: TraceView) -> None:
    before = view.records
    clients = view.filter(actor="client/*")
    assert clients.actors() == [a for a in view.actors() if a.startswith("client/")]
    assert len(clients.actors()) == 4
    assert view.records == before
    assert clients.root is view
    assert clients.filter(actor="echo").records == ()
    assert [r.actor for r in view.filter(actor=["echo", "world"])] == [
        r.actor for r in view if r.actor in ("echo", "world")]
    assert {r.kind for r in view.filter(kind="fault")} == {"fault"}
    assert len(view.filter(kind="fault")) == sum(r.kind == "fault" for r in view)
    closed = view.filter(type=["WsClosed", "WsRejected"])
    assert closed.records and all(r.type in ("WsClosed", "WsRejected") for r in closed)
    notes = view.filter(event="connected")
    assert notes.records and all(
        r.type == "Note" and r.data["event"] == "connected" for r in notes)
    combined = view.filter(actor="client/1", kind="out", type="Note")
    assert combined.records == tuple(
        r for r in view if r.actor == "client/1" and r.kind == "out" and r.type == "Note")


def test_time_window_is_in_seconds_and_inclusive(view: TraceView) -> None:
    inner = view.records[len(view) // 3]
    outer = view.records[2 * len(view) // 3]
    start, end = inner.t / 1e6, outer.t / 1e6
    cut = view.window(start, end)
    assert cut.records[0].t == inner.t and cut.records[-1].t == outer.t
    assert cut.records == tuple(r for r in view if inner.t <= r.t <= outer.t)
    assert view.filter(window=(start, end)).records == cut.records
    assert view.window(end=start).records[-1].t == inner.t
    assert view.span() == (view.records[0].t / 1e6, view.records[-1].t / 1e6)


def test_follow_a_connection_end_to_end(view: TraceView) -> None:
    drop = next(r for r in view if r.type == "drop")
    conn = drop.data["conn"]
    life = view.follow(conn=conn)
    # every record that names the connection, and no other
    assert life.records == tuple(r for r in view if f'"{conn}"' in r.to_json())
    types = [r.type for r in life]
    assert types[0] == "OpenConnection" and life.records[0].actor == conn.split(":")[0]
    for expected in ("ConnectRequested", "AcceptConnection", "WsOpened", "Send", "WsMessage",
                     "drop"):
        assert expected in types
    closes = [r for r in life if r.type == "WsClosed"]
    assert {r.actor for r in closes} == {conn.split(":")[0], "echo"}
    assert all(r.data["code"] == 1006 for r in closes)
    assert life.records[-1].t >= drop.t


def _rec(seq: int, data: dict) -> TraceRecord:
    return TraceRecord(seq * 1000, seq, "client/0", "out", "Send", data)


def test_follow_a_call_id_inside_frames() -> None:
    records = [
        _rec(1, {"conn": "c1", "data": {"type": "call", "callId": "7"}}),
        _rec(2, {"conn": "c1", "data": {"type": "call", "callId": "8"}}),
        _rec(3, {"conn": "c1", "data": {"batch": [{"type": "result", "callId": "7"}]}}),
        _rec(4, {"conn": "c1", "data": {"type": "note", "text": "7"}}),
        _rec(5, {"call_id": "7"}),
    ]
    view = TraceView({"schema": 1}, records)
    assert [r.seq for r in view.follow(call_id="7")] == [1, 3, 5]
    assert [r.seq for r in view.follow(conn="c1")] == [1, 2, 3, 4]


def test_follow_takes_exactly_one_id(view: TraceView) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        view.follow()
    with pytest.raises(ValueError, match="exactly one"):
        view.follow(conn="a", req="b")


def test_timeline_of_a_followed_connection_shows_its_abnormal_close(view: TraceView) -> None:
    conn = next(r for r in view if r.type == "drop").data["conn"]
    text = view.follow(conn=conn).timeline()
    assert conn in text and "1006" in text
    assert len(view.timeline(limit=5).splitlines()) == 6  # five lines and the cut notice


_HAVE_FAILURES = all(importlib.util.find_spec(m) is not None
                     for m in ("gatewaysim.properties.failure", "gatewaysim.properties.replay"))


@pytest.mark.skipif(_HAVE_FAILURES, reason="failure files exist; the replay test covers them")
def test_from_failure_without_the_failure_modules_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ImportError, match=r"properties\.failure"):
        TraceView.from_failure(tmp_path / "failure.json")


@pytest.mark.skipif(not _HAVE_FAILURES,
                    reason="failure files and replay are not written yet")
def test_from_failure_replays_and_remembers_its_source(tmp_path: Path) -> None:
    from gatewaysim.properties.failure import load_failure
    from gatewaysim.properties.replay import replay

    failures = sorted(Path(__file__).resolve().parents[1].rglob("*.failure.json"))
    if not failures:
        pytest.skip("no failure file in the test tree to replay")
    path = failures[0]
    view = TraceView.from_failure(path)
    expected = replay(load_failure(path)).trace
    assert view.sha256 == expected.sha256
    assert view.source.kind == "failure" and view.source.path == path
