"""Same seed, same trace hash, in any process; the trace file is what was hashed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewaysim.simulator import NetworkConfig, Trace, TraceFormatError, World, read_trace
from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.messages import ConnectRequested, Note, WsClosed, WsMessage
from gatewaysim.simulator.trace import (
    _dumps,
    _jstr,
    _line,
    _line_encoder,
    _value_encoder,
    hash_lines,
    value_fields,
)

ROOT = Path(__file__).resolve().parents[2]

ECHO_RUN = """
import sys
from gatewaysim.models.echo import EchoClient, EchoServer
from gatewaysim.simulator import NetworkConfig, Trace, World
from gatewaysim.simulator.clock import ms, s

def run(seed, path=None):
    trace = Trace(header={"seed": seed, "scenario": "echo"}, path=path, keep=path is not None)
    world = World(seed, trace=trace, network=NetworkConfig(latency=ms(20), jitter=ms(15)))
    world.add_host("echo", EchoServer)
    for n in range(4):
        world.add_host(f"u{n}", EchoClient)
    world.run_for(s(5))
    conns = sorted(c.id for c in world.network.open_connections())
    world.drop(conns[0])
    world.half_open(conns[1], believer="client")
    world.partition("u2", "echo", one_way=True)
    world.run_for(s(20))
    world.heal()
    world.crash("echo")
    world.run_for(s(3))
    world.restart("echo")
    world.run_for(s(60))
    trace.close()
    return trace

if __name__ == "__main__":
    print(run(int(sys.argv[1])).sha256)
"""


def hash_in_subprocess(seed: int, hashseed: str, tmp_path: Path) -> str:
    script = tmp_path / "echo_run.py"
    script.write_text(ECHO_RUN)
    env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(script), str(seed)], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=120)
    return out.stdout.strip()


def echo_module(tmp_path: Path):  # type: ignore[no-untyped-def]
    namespace: dict = {"__name__": "echo_run"}
    exec(compile(ECHO_RUN, "echo_run", "exec"), namespace)
    return namespace["run"]


def test_same_seed_same_hash_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    first = hash_in_subprocess(42, "0", tmp_path)
    second = hash_in_subprocess(42, "12345", tmp_path)
    assert len(first) == 64
    assert first == second
    assert first == echo_module(tmp_path)(42).sha256


def test_different_seeds_give_different_hashes(tmp_path: Path) -> None:
    run = echo_module(tmp_path)
    assert run(1).sha256 != run(2).sha256


def test_the_file_written_is_what_was_hashed_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    trace = echo_module(tmp_path)(5, path)
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == trace.sha256
    assert data.count(b"\n") == trace.count + 1
    header, records = read_trace(path)
    assert header == {"schema": 1, "seed": 5, "scenario": "echo"}
    assert records == trace.records
    assert hash_lines(header, records) == trace.sha256
    kinds = {r.kind for r in records}
    assert kinds == {"in", "out", "fault", "sys"}


def test_a_trace_without_records_in_memory_hashes_the_same(tmp_path: Path) -> None:
    kept = Trace(header={"x": 1})
    streamed = Trace(header={"x": 1}, keep=False)
    for trace in (kept, streamed):
        world = World(3, trace=trace, network=NetworkConfig(jitter=ms(5)))
        from gatewaysim.models.echo import EchoClient, EchoServer

        world.add_host("echo", EchoServer)
        world.add_host("u", EchoClient)
        world.run_for(s(30))
    assert streamed.records == [] and streamed.count == kept.count
    assert streamed.sha256 == kept.sha256 == hash_lines(kept.header, kept.records)


def test_listeners_see_every_record_in_order() -> None:
    seen = []
    trace = Trace(keep=False)
    trace.listeners.append(seen.append)
    trace.emit(0, "a", "sys", "x", {})
    trace.record(5, "b", "sys", "y", {"k": [1, 2]})
    assert [(r.seq, r.type) for r in seen] == [(1, "x"), (2, "y")]


def test_canonical_line_has_sorted_keys_and_compact_separators() -> None:
    trace = Trace(header={"seed": 1})
    trace.emit_value(7, "srv", "in", WsClosed("c:ws1", 1000, "bye", True))
    rec = trace.records[0]
    assert rec.to_json() == ('{"actor":"srv","data":{"clean":true,"code":1000,"conn":"c:ws1",'
                             '"reason":"bye"},"kind":"in","seq":1,"t":7,"type":"WsClosed"}')
    assert rec.to_json() == json.dumps(
        {"t": 7, "seq": 1, "actor": "srv", "kind": "in", "type": "WsClosed", "data": rec.data},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() |
    st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(conn=st.text(), data=json_values, peer=st.text(),
       request=st.dictionaries(st.text(), json_values, max_size=3))
def test_per_class_encoder_writes_what_the_json_encoder_writes(
        conn: str, data: object, peer: str, request: dict) -> None:
    for value in (WsMessage(conn, data), ConnectRequested(conn, peer, request),
                  Note(conn, {"d": data})):
        assert _value_encoder(type(value))(value) == _dumps(value_fields(value))


def test_read_trace_refuses_other_schemas_and_malformed_lines() -> None:
    with pytest.raises(TraceFormatError, match="unsupported trace schema 99"):
        read_trace(io.StringIO('{"header":{"schema":99}}\n'))
    with pytest.raises(TraceFormatError, match="line 2"):
        read_trace(io.StringIO('{"header":{"schema":1}}\nnot json\n'))
    with pytest.raises(TraceFormatError, match="empty"):
        read_trace(io.StringIO(""))


class _Tag(str):
    """A str subclass: not ``str`` itself, so the compiled encoders take their fallback."""


@frozen
class _Odd:
    """Fields of the types the compiled encoders do not special-case."""

    flag: Any
    ratio: Any
    tag: Any
    items: Any
    inner: Any


@settings(max_examples=200, deadline=None)
@given(t=st.integers(0, 2**60), seq=st.integers(1, 2**40), actor=st.text(), kind=st.text(),
       conn=st.text(), data=json_values,
       odd=st.tuples(st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
                     st.text(), st.lists(st.integers(), max_size=3), json_values))
def test_compiled_line_encoder_writes_the_canonical_line(
        t: int, seq: int, actor: str, kind: str, conn: str, data: object,
        odd: tuple) -> None:
    flag, ratio, tag, items, inner = odd
    values = (WsMessage(conn, data), Note(conn, {"d": data}), WsClosed(conn, 1000, conn, flag),
              _Odd(flag, ratio, _Tag(tag), tuple(items), WsMessage(conn, inner)))
    for value in values:
        expected = _line(t, seq, actor, kind, type(value).__name__, value_fields(value))
        assert _line_encoder(type(value))(value, _jstr(actor), _jstr(kind), seq, t) == expected
        trace = Trace(keep=True)
        trace.emit_value(t, actor, kind, value)  # the trace numbers its first record 1
        assert trace.records[0].to_json() == _line(t, 1, actor, kind, type(value).__name__,
                                                   value_fields(value))
        assert trace.sha256 == hash_lines(trace.header, trace.records)
