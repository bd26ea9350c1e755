"""The Chrome trace-event export: the structure Perfetto and chrome://tracing read."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from gatewaysim.analysis.calls import call_spans
from gatewaysim.properties.run import RunResult
from gatewaysim.report.perfetto import to_trace_events
from gatewaysim.simulator.trace import FAULT

from .conftest import gatewaysim


def _events(run: RunResult) -> list[dict]:
    out = to_trace_events(run.trace.records, describe=run.describe, steps=run.marks,
                          violation=run.violation)
    json.loads(json.dumps(out))  # plain JSON, nothing the format cannot hold
    assert out["displayTimeUnit"] == "ms"
    return out["traceEvents"]


def test_every_event_has_the_fields_of_its_phase(hung_call_run: RunResult) -> None:
    events = _events(hung_call_run)
    assert {e["ph"] for e in events} == {"M", "i", "b", "e"}
    for e in events:
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int) and e["name"]
        if e["ph"] == "M":
            assert e["name"] in ("process_name", "thread_name", "thread_sort_index")
            continue
        assert isinstance(e["ts"], int) and e["ts"] >= 0
        if e["ph"] == "i":
            assert e["s"] in ("t", "g")
        else:
            assert e["cat"] == "call" and e["id"]


def test_actors_are_named_tracks(hung_call_run: RunResult) -> None:
    events = _events(hung_call_run)
    names = {e["args"]["name"]: e["tid"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}
    actors = {r.actor for r in hung_call_run.trace.records if r.kind != FAULT}
    assert set(names) == actors | {"faults"}
    assert len(set(names.values())) == len(names)  # one track each
    by_tid = {tid: name for name, tid in names.items()}
    records = {r.seq: r for r in hung_call_run.trace.records}
    for e in events:
        if e["ph"] == "i" and e["cat"] in ("in", "out", "sys"):
            rec = records[e["args"]["seq"]]
            assert by_tid[e["tid"]] == rec.actor
            assert e["ts"] == rec.t  # microseconds, as the kernel keeps them


def test_faults_are_instants_and_steps_and_violation_are_marked(hung_call_run: RunResult
                                                                 ) -> None:
    events = _events(hung_call_run)
    faults = [r for r in hung_call_run.trace.records if r.kind == FAULT]
    fault_events = [e for e in events if e.get("cat") == "fault"]
    assert [(e["ts"], e["args"]["seq"]) for e in fault_events] == [(r.t, r.seq) for r in faults]
    assert all(e["ph"] == "i" for e in fault_events)
    steps = [e for e in events if e.get("cat") == "step"]
    assert [e["name"].split(":")[0] for e in steps] == ["step 0", "step 1"]
    (violation,) = [e for e in events if e.get("cat") == "violation"]
    assert hung_call_run.violation is not None
    assert violation["ts"] == hung_call_run.violation.t


def test_calls_are_balanced_spans_and_a_hung_call_runs_to_the_end(hung_call_run: RunResult
                                                                  ) -> None:
    events = _events(hung_call_run)
    spans = [e for e in events if e.get("cat") == "call"]
    begins = {e["id"]: e for e in spans if e["ph"] == "b"}
    ends = {e["id"]: e for e in spans if e["ph"] == "e"}
    assert begins.keys() == ends.keys() and begins
    assert Counter(e["ph"] for e in spans) == {"b": len(begins), "e": len(ends)}
    for cid, b in begins.items():
        assert ends[cid]["ts"] >= b["ts"] and ends[cid]["tid"] == b["tid"]
    calls = {f"{c.actor} {c.call_id}": c for c in call_spans(hung_call_run.trace.records)}
    assert calls.keys() == begins.keys()  # every call, HTTP requests included, is a span
    hung = [cid for cid, b in begins.items() if not b["args"]["settled"]]
    assert "client/u0.t1 client/u0.t1:call1" in hung  # the awaited call the invariant reports
    last_t = hung_call_run.trace.records[-1].t
    for cid in hung:
        assert calls[cid].hung and ends[cid]["ts"] == last_t
    settled = [cid for cid, b in begins.items() if b["args"]["settled"]]
    assert settled, "the other tabs' calls settle"
    assert {begins[cid]["args"]["kind"] for cid in settled} == {"call", "request"}
    for cid in settled:
        assert ends[cid]["ts"] == calls[cid].end_us < last_t


def test_replay_writes_a_perfetto_file(order_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    result = gatewaysim("replay", order_file, "--quiet", "--perfetto", out)
    assert result.returncode == 1, result.stderr
    assert f"wrote Perfetto trace {out}" in result.stdout
    data = json.loads(out.read_text())
    threads = {e["args"]["name"] for e in data["traceEvents"] if e["name"] == "thread_name"}
    assert threads == {"client", "echo", "faults"}
    assert any(e.get("cat") == "violation" for e in data["traceEvents"])
