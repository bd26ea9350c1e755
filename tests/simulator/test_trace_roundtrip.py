"""What the trace writer writes, the reader reads back equal: every input and effect type,
arbitrary note payloads (odd Unicode line breaks included), and the same sha256."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewaysim.simulator import messages
from gatewaysim.simulator.errors import TraceFormatError
from gatewaysim.simulator.trace import IN, OUT, SYS, Trace, TraceRecord, hash_lines, read_trace

# Text that JSON keeps raw (ensure_ascii=False) and str.splitlines() would cut at.
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
                max_size=12) | st.sampled_from(["a\u2028b", "\u2029", "x\u0085y", "\r", "\x1e"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
MESSAGE_TYPES = sorted(
    (cls for _, cls in inspect.getmembers(messages, inspect.isclass)
     if attrs.has(cls) and cls.__module__ == messages.__name__
     and issubclass(cls, messages.Input | messages.Effect)),
    key=lambda c: c.__name__)


def _value_of(cls: type) -> st.SearchStrategy:
    overrides = {}
    for a in attrs.fields(cls):
        if a.type in ("dict", "dict[str, Any]", "Any", "object") or a.name == "data":
            overrides[a.name] = json_values
        elif a.type in ("str",):
            overrides[a.name] = texts
        elif a.type in ("int", "Time"):
            overrides[a.name] = st.integers(0, 2**40)
    return st.builds(cls, **overrides)


event = st.one_of(
    st.tuples(st.just("note"), texts, json_values),
    *(st.tuples(st.just("value"), st.just(cls.__name__), _value_of(cls))
      for cls in MESSAGE_TYPES),
)


def test_every_message_type_is_covered() -> None:
    names = {c.__name__ for c in MESSAGE_TYPES}
    assert {"Start", "WsMessage", "Send", "SetAlarm", "HttpRequest"} <= names


@settings(max_examples=150, deadline=None)
@given(events=st.lists(st.tuples(st.integers(0, 2**40), texts, event), max_size=12))
def test_written_traces_read_back_equal(tmp_path_factory: pytest.TempPathFactory,
                                        events: list) -> None:
    path = tmp_path_factory.mktemp("rt") / "t.jsonl"
    trace = Trace(header={"note": "a\u2028b"}, path=path, keep=True)
    for t, actor, (what, name, payload) in events:
        if what == "note":
            trace.emit(t, actor or "x", SYS, "note", {"event": name, "data": payload})
        else:
            trace.emit_value(t, actor or "x", IN if isinstance(payload, messages.Input)
                             else OUT, payload)
    trace.close()
    header, records = read_trace(path)
    assert header == trace.header
    assert records == trace.records
    assert hash_lines(header, records) == trace.sha256


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return path


GOOD_HEADER = json.dumps({"header": {"schema": 1}})
GOOD_RECORD = TraceRecord(0, 1, "a", "in", "Start", {}).to_json()


@pytest.mark.parametrize(("lines", "message"), [
    ([json.dumps([1, 2])], "no header object"),
    ([json.dumps({"header": [1]})], "no header object"),
    ([json.dumps({"header": {"schema": True}})], "unsupported trace schema True"),
    ([json.dumps({"header": {"schema": 1.0}})], "unsupported trace schema 1.0"),
    ([GOOD_HEADER, GOOD_RECORD.replace('"t":0', '"t":"0"')], "'t' must be int"),
    ([GOOD_HEADER, GOOD_RECORD.replace('"seq":1', '"seq":true')], "'seq' must be int"),
    ([GOOD_HEADER, "[" * 100_000], "line 2 is not JSON"),
    ([GOOD_HEADER, "{}"], "no 't'"),
    ([], "empty trace file"),
])
def test_malformed_traces_are_refused(tmp_path: Path, lines: list[str], message: str) -> None:
    with pytest.raises(TraceFormatError, match=message):
        read_trace(_write(tmp_path, lines))
