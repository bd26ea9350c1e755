"""A trace in the Chrome trace-event format, so any run opens zoomable in Perfetto
(https://ui.perfetto.dev) or ``chrome://tracing``.

The mapping: the run is one process (``pid`` 1); each actor is a thread of it (``tid`` in
the natural order of actor names), so each actor is a track. Every record a timeline
would show is an instant event on its actor's track (its text as the name, its data as
args); faults are instants on a ``faults`` track of their own; calls are async spans
(``b``/``e`` with the call id) on the issuing actor's track, from the first record
naming the call to its settlement (a hung call ends at the last record,
``settled: false``); they are :func:`gatewaysim.analysis.calls.call_spans`, HTTP requests
included. Steps and the violation are global instants. Times are the kernel's
integer microseconds, as the format wants.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gatewaysim.analysis.calls import call_spans
from gatewaysim.analysis.names import natural_key
from gatewaysim.simulator.files import write_atomic
from gatewaysim.simulator.timeline import Describe, describe_default
from gatewaysim.simulator.trace import FAULT, TraceRecord

PID = 1
FAULTS_TRACK = "faults"
MAX_NAME = 80


def _name(text: str) -> str:
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 1] + "…"


def to_trace_events(records: Iterable[TraceRecord], *, describe: Describe | None = None,
                    steps: Sequence[Any] = (), violation: Any = None,
                    title: str = "gatewaysim run") -> dict[str, Any]:
    """The records as a trace-event JSON object: ``{"traceEvents": [...], ...}``.

    ``steps`` are :class:`~gatewaysim.properties.run.StepMark` values (``index``, ``step``,
    ``t_us``, ``fault``) and ``violation`` a
    :class:`~gatewaysim.properties.monitor.Violation`; both are optional.
    """
    recs = list(records)
    actors = sorted({r.actor for r in recs if r.kind != FAULT}, key=natural_key)
    tracks = [FAULTS_TRACK, *actors]
    tid = {name: i + 1 for i, name in enumerate(tracks)}
    events: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": PID, "tid": 0, "args": {"name": title}},
    ]
    for name in tracks:
        events.append({"ph": "M", "name": "thread_name", "pid": PID, "tid": tid[name],
                       "args": {"name": name}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": PID, "tid": tid[name],
                       "args": {"sort_index": tid[name]}})
    for rec in recs:
        if rec.kind == FAULT:
            text = describe_default(rec) or rec.type
            events.append({"ph": "i", "s": "t", "name": _name(text), "cat": "fault",
                           "ts": rec.t, "pid": PID, "tid": tid[FAULTS_TRACK],
                           "args": {"seq": rec.seq, "actor": rec.actor, "data": rec.data}})
            continue
        shown = describe(rec) if describe is not None else None
        if shown is None:
            shown = describe_default(rec)
        if not shown:
            continue
        events.append({"ph": "i", "s": "t", "name": _name(shown), "cat": rec.kind, "ts": rec.t,
                       "pid": PID, "tid": tid[rec.actor],
                       "args": {"seq": rec.seq, "type": rec.type, "data": rec.data}})
    last = recs[-1].t if recs else 0
    for call in call_spans(recs):
        what = "request" if call.kind == "request" else "call"
        common = {"cat": "call", "id": f"{call.actor} {call.call_id}", "pid": PID,
                  "tid": tid[call.actor],
                  "name": f"{what} {call.call_id}" + ("" if call.settled else " (hung)")}
        events.append({**common, "ph": "b", "ts": call.start_us,
                       "args": {"settled": call.settled, "records": call.records,
                                "kind": call.kind, "aliases": list(call.aliases)}})
        events.append({**common, "ph": "e", "ts": call.end_or(last)})
    for mark in steps:
        events.append({"ph": "i", "s": "g", "name": f"step {mark.index}: {mark.step!r}",
                       "cat": "step", "ts": mark.t_us, "pid": PID, "tid": tid[FAULTS_TRACK],
                       "args": {"fault": mark.fault}})
    if violation is not None:
        events.append({"ph": "i", "s": "g", "name": f"VIOLATED {violation.invariant_id}",
                       "cat": "violation", "ts": violation.t, "pid": PID,
                       "tid": tid[FAULTS_TRACK], "args": {"message": violation.message}})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"source": "gatewaysim", "time_unit": "us"}}


def write_trace_events(path: str | Path, trace_events: dict[str, Any]) -> Path:
    """Write a trace-event object as JSON, atomically."""
    import json

    return write_atomic(path, json.dumps(trace_events, separators=(",", ":"),
                                         ensure_ascii=False, default=str) + "\n")


__all__ = ["to_trace_events", "write_trace_events"]
