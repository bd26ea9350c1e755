"""The trace's fast paths write what the reference paths write, and hand out what they should.

orjson (when installed) encodes record payloads only where it writes the standard
encoder's very bytes; typed listeners see only their record types; a muted kernel path
(the ``Send`` fast path, lazy host streams, the unbounded drain) changes no trace.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewaysim.models.echo import EchoClient, EchoServer
from gatewaysim.simulator import NetworkConfig, Trace, World
from gatewaysim.simulator import trace as trace_module
from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.messages import Note, Send, WsMessage
from gatewaysim.simulator.trace import _dumps, _dumps_orjson, use_orjson

needs_orjson = pytest.mark.skipif(trace_module._orjson is None, reason="orjson is not installed")


class _Colour(enum.Enum):
    RED = "red"
    RATIO = 0.5


class _Level(enum.IntEnum):
    HIGH = 3


class _Tag(str):
    pass


leaves = (st.none() | st.booleans() | st.integers() | st.integers(-2**70, 2**70)
          | st.text() | st.floats() | st.sampled_from([1e-5, 2.5e-7, 1e16, -0.0, 1e22])
          | st.sampled_from([_Colour.RED, _Colour.RATIO, _Level.HIGH])
          | st.text().map(_Tag) | st.binary(max_size=4))
json_like = st.recursive(
    leaves,
    lambda inner: (st.lists(inner, max_size=4) | st.lists(inner, max_size=3).map(tuple)
                   | st.dictionaries(st.text(), inner, max_size=4)
                   | st.dictionaries(st.integers(-3, 3), inner, max_size=2)
                   | st.dictionaries(st.text(max_size=2), inner, max_size=2).map(OrderedDict)),
    max_leaves=12,
)


def _outcome(encode: Any, value: Any) -> tuple[str, str]:
    try:
        return "ok", encode(value)
    except Exception as exc:  # the same failure, whichever path ran
        return "error", type(exc).__name__


@needs_orjson
@settings(max_examples=400, deadline=None)
@given(value=json_like)
def test_orjson_path_writes_the_standard_encoders_bytes(value: Any) -> None:
    assert _outcome(_dumps_orjson, value) == _outcome(_dumps, value)


@needs_orjson
@pytest.mark.parametrize("value", [
    {"b": 1, "a": [True, None, "x\u2028\x00\"\\é\U0001f600"], "": {}},
    {"ratio": 0.00001}, {"x": float("nan")}, {"x": float("inf")}, [1e-7], {"n": 2**64},
    {1: "int key"}, {"t": (1, (2, 3))}, {"enum": _Colour.RATIO}, {"tag": _Tag("t")}, [], (),
    {"deep": [[[[{"k": [1, 2, {"z": None}]}]]]]},
])
def test_orjson_path_on_the_cases_it_must_hand_back(value: Any) -> None:
    assert _outcome(_dumps_orjson, value) == _outcome(_dumps, value)


def _echo_hash(seed: int) -> tuple[str, int]:
    trace = Trace(header={"seed": seed}, keep=False)
    world = World(seed, trace=trace, network=NetworkConfig(latency=ms(20), jitter=ms(15)))
    world.add_host("echo", EchoServer)
    for n in range(3):
        world.add_host(f"u{n}", EchoClient)
    world.run_for(s(5))
    world.drop(sorted(c.id for c in world.network.open_connections())[0])
    world.partition("u1", "echo")
    world.run_for(s(20))
    world.heal()
    world.run_for(s(20))
    trace.emit(world.now, "world", "sys", "payload", {"ratio": 0.25, "tiny": 1e-6, "k": [1, 2]})
    return trace.sha256, trace.count


def test_the_fingerprint_does_not_depend_on_the_encoder() -> None:
    was = use_orjson(False)
    try:
        reference = _echo_hash(7)
        use_orjson(True)
        assert _echo_hash(7) == reference
    finally:
        use_orjson(was)


def test_typed_listeners_see_only_their_types_in_order() -> None:
    for hashed in (True, False):
        trace = Trace(keep=False, hashed=hashed)
        every: list[str] = []
        notes: list[tuple[int, str]] = []
        trace.listeners.append(lambda r, every=every: every.append(r.type))
        trace.listen(lambda r, notes=notes: notes.append((r.seq, r.data["event"])),
                     types=["Note"])
        trace.emit_value(1, "a", "out", Note("first"))
        trace.emit_value(2, "a", "out", Send("c", 1))
        trace.emit(3, "a", "sys", "Note", {"event": "raw", "data": {}})
        trace.emit_value(4, "a", "in", WsMessage("c", 2))
        trace.emit_value(5, "a", "out", Note("last", {"k": 1}))
        assert every == ["Note", "Send", "Note", "WsMessage", "Note"]
        assert notes == [(1, "first"), (3, "raw"), (5, "last")]


def test_unlisten_stops_either_kind_of_listener() -> None:
    trace = Trace(keep=False, hashed=False)
    seen: list[str] = []
    typed = seen.append
    plain = seen.append
    trace.listen(typed, types={"Send"})
    trace.listen(plain)
    trace.emit_value(0, "a", "out", Send("c", 1))
    trace.unlisten(typed)
    trace.unlisten(plain)
    trace.unlisten(lambda r: None)  # never added: ignored
    trace.emit_value(1, "a", "out", Send("c", 2))
    assert [r.data["data"] for r in seen] == [1, 1]
    assert trace.count == 2


def test_a_listener_of_kinds_sees_every_record_of_them_once_whatever_its_type() -> None:
    for hashed in (True, False):
        trace = Trace(keep=False, hashed=hashed)
        seen: list[tuple[int, str]] = []
        late: list[int] = []
        # Faults of any name, and the one input type it also names: each record once.
        trace.listen(lambda r, seen=seen: seen.append((r.seq, r.type)), types={"WsMessage"},
                     kinds={"fault"})
        trace.emit(1, "world", "fault", "drop", {"conn": "c"})
        trace.emit_value(2, "a", "in", WsMessage("c", 1))
        trace.emit_value(3, "a", "out", Send("c", 1))
        trace.emit(4, "world", "fault", "a_fault_named_later", {})
        trace.listen(lambda r, late=late: late.append(r.seq), kinds={"in"})  # routes renewed
        trace.emit_value(5, "a", "in", WsMessage("c", 2))
        trace.emit(6, "world", "fault", "drop", {"conn": "c"})
        assert seen == [(1, "drop"), (2, "WsMessage"), (4, "a_fault_named_later"),
                        (5, "WsMessage"), (6, "drop")]
        assert late == [5]


def test_a_record_nobody_wants_is_not_built(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real = trace_module.TraceRecord

    def counting(*args: Any) -> Any:
        built.append(args[4])
        return real(*args)

    monkeypatch.setattr(trace_module, "TraceRecord", counting)
    trace = Trace(keep=False, hashed=False)
    trace.listen(lambda r: None, types=["Note"])
    trace.emit_value(0, "a", "out", Send("c", 1))
    trace.emit_value(0, "a", "out", Note("n"))
    trace.emit(0, "a", "sys", "frame.lost", {})
    assert built == ["Note"]


def test_a_hosts_stream_is_made_on_first_use_and_is_its_named_stream() -> None:
    world = World(11)
    world.add_host("echo", EchoServer)
    ctx = world.hosts["echo"].ctx
    assert ctx is not None and ctx._rng is None
    assert ctx.rng is world.rng.stream("host:echo#0")
    assert ctx.rng is ctx.rng


def test_draining_without_bounds_runs_what_a_bounded_run_runs() -> None:
    def world(seed: int) -> World:
        w = World(seed, trace=Trace(keep=False), network=NetworkConfig(jitter=ms(3)))
        w.add_host("echo", EchoServer)
        w.add_host("u", EchoClient)
        return w

    drained, bounded = world(2), world(2)
    drained.run_for(s(3))
    bounded.run_for(s(3))
    drained.crash("u")
    bounded.crash("u")
    n_drained = drained.scheduler.run_to_quiescence()
    n_bounded = bounded.scheduler.run_to_quiescence(limit=1 << 61, max_steps=10**9)
    assert n_drained == n_bounded
    assert drained.now == bounded.now
    assert drained.trace.sha256 == bounded.trace.sha256
