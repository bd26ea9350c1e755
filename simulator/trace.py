"""The trace: every input, effect and fault as a frozen record, fingerprinted by sha256.

The canonical form is JSON Lines: a header line with the schema version, then one line a
record with keys in a fixed order and compact separators. The sha256 of those bytes is
the run's fingerprint, so "same seed, same trace" is checked by comparing 64 hex digits.

A trace streams: records go to the hash (always), to a file (if given) and to an
in-memory list (if ``keep``), so a 24-hour run does not need to hold everything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import IO, Any

import attrs
from attrs import frozen

from .clock import Time

SCHEMA_VERSION = 1

# Record kinds.
IN = "in"  # an input delivered to a node
OUT = "out"  # an effect a node returned
FAULT = "fault"  # a fault injected by a scenario or an explorer
SYS = "sys"  # something the kernel did on its own (message lost, alarm retried, ...)


@frozen
class TraceRecord:
    t: Time
    seq: int
    actor: str
    kind: str
    type: str
    data: dict

    def to_json(self) -> str:
        """The canonical line (no newline) this record hashes as."""
        return _line(self.t, self.seq, self.actor, self.kind, self.type, self.data)

    @classmethod
    def from_dict(cls, d: dict) -> TraceRecord:
        return cls(d["t"], d["seq"], d["actor"], d["kind"], d["type"], d.get("data", {}))


def _default(value: Any) -> Any:
    if attrs.has(type(value)):
        return {"type": type(value).__name__, **value_fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | frozenset):
        return list(value) if isinstance(value, tuple) else sorted(value)
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    raise TypeError(f"cannot put {type(value).__name__} into a trace: {value!r}")


_encoder = json.JSONEncoder(
    separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=_default
)

# ``JSONEncoder.encode`` builds a fresh C encoder on every call; a trace encodes millions of
# small dicts, so build it once. No circular-reference check: trace data is plain values.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
if _c_make_encoder is not None:
    _c_iterencode = _c_make_encoder(
        None, _default, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )

else:  # pragma: no cover - CPython always has the C encoder

    def _c_iterencode(obj: Any, _level: int) -> Iterator[str]:
        return _encoder.iterencode(obj)


def _dumps(obj: Any) -> str:
    """The reference encoding of one JSON value (the standard library's C encoder)."""
    return "".join(_c_iterencode(obj, 0))


# ``orjson``, when it is installed, encodes the containers inside records (a message's
# payload, a note's data) several times faster than the standard encoder, and is used only
# where it writes the very same bytes: a tree of exact ``dict`` (string keys), ``list`` and
# ``tuple`` holding only ``str``, ``int`` (64-bit), ``bool`` and ``None``. Anything else
# (a float, whose shortest form orjson spells differently below 1e-4; NaN, which it writes
# as null; a subclass, an enum, an attrs value, bytes, a non-string key, a huge int) goes
# to the standard encoder, as does everything when orjson is missing. The fingerprint is
# therefore the same with or without it (``tests/simulator/test_trace_speed_paths.py``
# checks both paths against each other). :func:`use_orjson` switches it off and on.
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

_PLAIN_LEAVES = frozenset({str, int, bool, type(None)})


def _plain_dict(value: dict) -> bool:
    """True if ``value`` holds only plain leaves and plain containers, at any depth."""
    for item in value.values():
        cls = type(item)
        if cls in _PLAIN_LEAVES:
            continue
        if cls is dict:
            if _plain_dict(item):
                continue
            return False
        if (cls is list or cls is tuple) and _plain_seq(item):
            continue
        return False
    return True


def _plain_seq(value: list | tuple) -> bool:
    """:func:`_plain_dict` for a list or tuple."""
    for item in value:
        cls = type(item)
        if cls in _PLAIN_LEAVES:
            continue
        if cls is dict:
            if _plain_dict(item):
                continue
            return False
        if (cls is list or cls is tuple) and _plain_seq(item):
            continue
        return False
    return True


def _dumps_orjson(value: Any) -> str:
    """:func:`_dumps` through orjson where that writes the same bytes (see above)."""
    cls = type(value)
    if cls is dict:
        for item in value.values():  # _plain_dict(value), its first level inline
            cls = type(item)
            if cls in _PLAIN_LEAVES:
                continue
            if cls is dict:
                if _plain_dict(item):
                    continue
                break
            if (cls is list or cls is tuple) and _plain_seq(item):
                continue
            break
        else:
            try:
                return _orjson_dumps(value, None, _ORJSON_OPTIONS).decode()
            except TypeError:  # orjson.JSONEncodeError: a non-string key, an int over 64 bits
                pass
    elif (cls is list or cls is tuple) and _plain_seq(value):
        try:
            return _orjson_dumps(value, None, _ORJSON_OPTIONS).decode()
        except TypeError:
            pass
    return "".join(_c_iterencode(value, 0))


if _orjson is not None:
    _orjson_dumps = _orjson.dumps
    _ORJSON_OPTIONS = _orjson.OPT_SORT_KEYS
    _cj = _dumps_orjson
else:  # pragma: no cover - depends on the environment
    _cj = _dumps


def use_orjson(enabled: bool) -> bool:
    """Encode record payloads with orjson (``True``, the default when it is installed) or
    with the standard encoder only. Returns whether orjson is now used.

    Both write the same bytes; this exists to measure the difference and to check it.
    """
    global _cj
    _cj = _dumps_orjson if enabled and _orjson is not None else _dumps
    _ENCODER_GLOBALS["_cj"] = _cj
    return _cj is _dumps_orjson

_STRINGS: dict[str, str] = {}
_STRINGS_MAX = 100_000


def _jstr(text: str) -> str:
    """A string as a JSON literal; actors, kinds and types repeat, so they are cached."""
    out = _STRINGS.get(text)
    if out is None:
        out = json.encoder.encode_basestring(text)
        if len(_STRINGS) < _STRINGS_MAX:
            _STRINGS[text] = out
    return out


def _line(t: Time, seq: int, actor: str, kind: str, type_: str, data: dict) -> str:
    """One canonical record line, without its newline.

    Keys in sorted order with compact separators, exactly what ``json.dumps(...,
    sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` gives for the record as a
    dict, but without building that dict or sorting its six keys each time.
    """
    return (f'{{"actor":{_jstr(actor)},"data":{_dumps(data)},"kind":{_jstr(kind)},'
            f'"seq":{seq},"t":{t},"type":{_jstr(type_)}}}')


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = tuple(a.name for a in attrs.fields(cls))
    _FIELDS[cls] = names
    return names


_FIELD_GETTERS: dict[type, Callable[[Any], dict[str, Any]]] = {}


def _fields_getter(cls: type) -> Callable[[Any], dict[str, Any]]:
    """Compile ``value -> {"field": value.field, ...}`` for one attrs class (declaration
    order): a dict display instead of a comprehension calling ``getattr`` per field."""
    names = _FIELDS.get(cls) or _field_names(cls)
    body = ", ".join(f"{n!r}: v.{n}" for n in names)
    namespace: dict[str, Any] = {}
    exec(compile(f"def fields(v):\n    return {{{body}}}\n",
                 f"<trace fields of {cls.__qualname__}>", "exec"), namespace)
    getter = namespace["fields"]
    _FIELD_GETTERS[cls] = getter
    return getter


def value_fields(value: Any) -> dict[str, Any]:
    """The fields of an attrs value as a dict, in declaration order (cached per class)."""
    cls = type(value)
    try:
        getter = _FIELD_GETTERS[cls]
    except KeyError:
        getter = _fields_getter(cls)
    return getter(value)


def _scalar(value: Any) -> str:
    """One JSON value, as the trace's encoder writes it, with the common types first."""
    cls = type(value)
    if cls is str:
        return _encode_str(value)
    if cls is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return _cj(value)


_encode_str = json.encoder.encode_basestring
_VALUE_ENCODERS: dict[type, Callable[[Any], str]] = {}
_LINE_ENCODERS: dict[type, Callable[[Any, str, str, int, Time], str]] = {}

# What a compiled encoder writes for one field: :func:`_scalar` spelled out inline, so a
# field costs no call unless its value is a container (then the C encoder, as _scalar does).
_FIELD = ("{{(_es(x) if (c := (x := v.{name}).__class__) is _str else _ir(x) if c is _int "
          "else \"null\" if x is None else (\"true\" if x else \"false\") if c is _bool "
          "else _cj(x))}}")
# Shared by every compiled encoder, so :func:`use_orjson` switches them all at once.
_ENCODER_GLOBALS = {"_es": _encode_str, "_str": str, "_ir": int.__repr__, "_int": int,
                    "_bool": bool, "_cj": _cj}


def _fields_source(cls: type) -> str:
    """The f-string body (without the outer braces) of ``cls``'s fields, in sorted order."""
    parts = []
    for i, name in enumerate(sorted(_FIELDS.get(cls) or _field_names(cls))):
        key = json.encoder.encode_basestring(name).replace("{", "{{").replace("}", "}}")
        parts.append(f"{',' if i else ''}{key}:{_FIELD.format(name=name)}")
    return "".join(parts)


def _compile(cls: type, source: str, what: str) -> Callable[..., str]:
    namespace = _ENCODER_GLOBALS
    exec(compile(source, f"<trace {what} for {cls.__qualname__}>", "exec"), namespace)
    return namespace.pop("encode")


def _value_encoder(cls: type) -> Callable[[Any], str]:
    """Compile ``value -> '{"field":...}'`` for one attrs class (fields in sorted order).

    It writes exactly what the trace's JSON encoder writes for ``value_fields(value)``:
    the same keys in the same order, each value as :func:`_scalar` writes it (a str, an
    int or None directly, anything else through that encoder). attrs builds its
    ``__init__`` the same way, from source, once per class.
    """
    source = f"def encode(v):\n    return f'{{{{{_fields_source(cls)}}}}}'\n"
    encode = _compile(cls, source, "encoder")
    _VALUE_ENCODERS[cls] = encode
    return encode


def _line_encoder(cls: type) -> Callable[[Any, str, str, int, Time], str]:
    """Compile the whole record line for a value of ``cls``: ``_line`` with the data inline.

    ``encode(value, actor_json, kind_json, seq, t)`` returns exactly
    ``_line(t, seq, actor, kind, cls.__name__, value_fields(value))``; the type name is a
    constant of the compiled function, and no intermediate data string is built.
    """
    type_json = json.encoder.encode_basestring(cls.__name__)
    type_json = type_json.replace("\\", "\\\\").replace("'", "\\'")
    type_json = type_json.replace("{", "{{").replace("}", "}}")
    source = (
        "def encode(v, a, k, seq, t):\n"
        f"    return f'{{{{\"actor\":{{a}},\"data\":{{{{{_fields_source(cls)}}}}},"
        f"\"kind\":{{k}},\"seq\":{{seq}},\"t\":{{t}},\"type\":{type_json}}}}}'\n"
    )
    encode = _compile(cls, source, "line encoder")
    _LINE_ENCODERS[cls] = encode
    return encode


for _kind in (IN, OUT, FAULT, SYS):
    _jstr(_kind)

Listener = Callable[[TraceRecord], None]

_FLUSH_EVERY = 1024  # lines hashed (and written) per batch


class Trace:
    """A streaming trace writer and (optionally) an in-memory record list.

    Lines are hashed and written in batches: sha256 over the concatenation of lines equals
    sha256 fed line by line, and one ``update`` per thousand lines is much cheaper than one
    per line. Reading :attr:`sha256`, :meth:`flush` and :meth:`close` drain the batch, so
    what is hashed and what is in the file never differ once either is looked at.

    When ``keep`` is false and nobody listens, no :class:`TraceRecord` object is built at
    all: a 24-hour run only pays for encoding and hashing its lines.

    ``hashed=False`` is for runs whose fingerprint nobody reads (an explorer's examples: a
    finding is replayed, and the replay's trace is the one hashed and recorded). No line is
    encoded at all; records still count, and still reach ``keep`` and the listeners.
    Reading :attr:`sha256` of such a trace is an error, never a wrong fingerprint.

    A listener added with :meth:`listen` and ``types`` (or ``kinds``) sees only records of
    those types or kinds (after the listeners of every record): a record no one keeps or
    listens to is never built, which is most of them when the only listeners watch for notes.
    """

    def __init__(
        self,
        header: dict[str, Any] | None = None,
        path: str | Path | None = None,
        keep: bool = True,
        hashed: bool = True,
    ) -> None:
        if not hashed and path is not None:
            raise ValueError("a trace written to a file is hashed: pass hashed=True")
        self.hashed = hashed
        self.header = {"schema": SCHEMA_VERSION, **(header or {})}
        self._hash = hashlib.sha256()
        self._file: IO[str] | None = None
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.keep = keep
        self.records: list[TraceRecord] = []
        self.listeners: list[Listener] = []
        """Called with every record, in order (append to it, or use :meth:`listen`)."""
        # Listeners that asked for some record types or kinds only: (listener, types, kinds).
        self._interests: list[tuple[Listener, frozenset[str], frozenset[str]]] = []
        # (kind, type) -> the interested listeners, in the order they asked (worked out on
        # first use, forgotten whenever a listener comes or goes).
        self._routes: dict[tuple[str, str], tuple[Listener, ...]] = {}
        self._seq = 0  # records so far: the last record's seq
        self._closed = False
        self._pending: list[str] = []
        self._write_line(_dumps({"header": self.header}))
        if not hashed:  # instance attributes shadow the encoding methods
            self._pending.clear()
            self.emit = self._emit_unhashed  # type: ignore[method-assign]
            self.emit_value = self._emit_value_unhashed  # type: ignore[method-assign]

    def _write_line(self, line: str) -> None:
        pending = self._pending
        pending.append(line)
        if len(pending) >= _FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Hash (and write) the lines batched so far."""
        pending = self._pending
        if not pending:
            return
        pending.append("")
        chunk = "\n".join(pending)
        pending.clear()
        self._hash.update(chunk.encode("utf-8"))
        if self._file is not None and not self._closed:
            self._file.write(chunk)

    def emit(self, t: Time, actor: str, kind: str, type_: str, data: dict) -> None:
        """Record without handing back a record object: the kernel's hot path."""
        self._seq = seq = self._seq + 1
        get = _STRINGS.get
        pending = self._pending
        # _line(), inlined: this runs once per record.
        pending.append(
            f'{{"actor":{get(actor) or _jstr(actor)},"data":{_cj(data)},'
            f'"kind":{get(kind) or _jstr(kind)},"seq":{seq},"t":{t},'
            f'"type":{get(type_) or _jstr(type_)}}}'
        )
        if len(pending) >= _FLUSH_EVERY:
            self.flush()
        if self.keep or self.listeners or self._interests:
            self._fan(t, seq, actor, kind, type_, data)

    def emit_value(self, t: Time, actor: str, kind: str, value: Any) -> None:
        """:meth:`emit` an attrs value (an input or effect) under its class name.

        The same line as ``emit(t, actor, kind, type(value).__name__, value_fields(value))``,
        written by a per-class encoder instead of through a dict.
        """
        cls = type(value)
        try:  # subscripts, not .get(): this runs once per input and per effect
            encode = _LINE_ENCODERS[cls]
            actor_json = _STRINGS[actor]
            kind_json = _STRINGS[kind]
        except KeyError:
            encode = _LINE_ENCODERS.get(cls) or _line_encoder(cls)
            actor_json = _jstr(actor)
            kind_json = _jstr(kind)
        self._seq = seq = self._seq + 1
        pending = self._pending
        pending.append(encode(value, actor_json, kind_json, seq, t))
        if len(pending) >= _FLUSH_EVERY:
            self.flush()
        if self.keep or self.listeners or self._interests:
            self._fan_value(t, seq, actor, kind, value)

    def _emit_unhashed(self, t: Time, actor: str, kind: str, type_: str, data: dict) -> None:
        """:meth:`emit` for a trace that is not hashed: count, keep, tell the listeners."""
        self._seq = seq = self._seq + 1
        if self.keep or self.listeners or self._interests:
            self._fan(t, seq, actor, kind, type_, data)

    def _emit_value_unhashed(self, t: Time, actor: str, kind: str, value: Any) -> None:
        """:meth:`emit_value` for a trace that is not hashed (:meth:`_fan_value` inline:
        in exploration this is the whole cost of a record)."""
        self._seq = seq = self._seq + 1
        listeners = self.listeners
        interests = self._interests
        if self.keep or listeners or interests:
            cls = type(value)
            name = cls.__name__
            if interests:
                wanted = self._routes.get((kind, name))
                if wanted is None:
                    wanted = self._route(kind, name)
            else:
                wanted = ()
            if self.keep or listeners or wanted:
                try:
                    getter = _FIELD_GETTERS[cls]
                except KeyError:
                    getter = _fields_getter(cls)
                rec = TraceRecord(t, seq, actor, kind, name, getter(value))
                if self.keep:
                    self.records.append(rec)
                for listener in listeners:
                    listener(rec)
                if wanted:
                    for listener in wanted:
                        listener(rec)

    def _fan(self, t: Time, seq: int, actor: str, kind: str, type_: str, data: dict) -> None:
        """Build the record if anyone keeps or wants it, and hand it out."""
        typed = self._wanted(kind, type_)
        if self.keep or self.listeners or typed:
            rec = TraceRecord(t, seq, actor, kind, type_, data)
            if self.keep:
                self.records.append(rec)
            for listener in self.listeners:
                listener(rec)
            if typed:
                for listener in typed:
                    listener(rec)

    def _fan_value(self, t: Time, seq: int, actor: str, kind: str, value: Any) -> None:
        """:meth:`_fan` for an attrs value: its fields are read only if the record is built."""
        cls = type(value)
        name = cls.__name__
        typed = self._wanted(kind, name)
        if self.keep or self.listeners or typed:
            try:
                getter = _FIELD_GETTERS[cls]
            except KeyError:
                getter = _fields_getter(cls)
            rec = TraceRecord(t, seq, actor, kind, name, getter(value))
            if self.keep:
                self.records.append(rec)
            for listener in self.listeners:
                listener(rec)
            if typed:
                for listener in typed:
                    listener(rec)

    def listen(self, listener: Listener, types: Iterable[str] | None = None,
               kinds: Iterable[str] | None = None) -> None:
        """Call ``listener`` with every record, or only with records of ``types`` or of
        ``kinds`` (``"fault"``: every fault, whatever its name), once each."""
        if types is None and kinds is None:
            self.listeners.append(listener)
            return
        self._interests.append((listener, frozenset(types or ()), frozenset(kinds or ())))
        self._routes.clear()

    def _wanted(self, kind: str, type_: str) -> tuple[Listener, ...]:
        """The listeners that asked for records of ``kind`` or ``type_`` (``()`` if none)."""
        if not self._interests:
            return ()
        wanted = self._routes.get((kind, type_))
        return wanted if wanted is not None else self._route(kind, type_)

    def _route(self, kind: str, type_: str) -> tuple[Listener, ...]:
        """The listeners interested in records of ``kind`` and ``type_`` (and remember it)."""
        wanted = tuple(listener for listener, types, kinds in self._interests
                       if type_ in types or kind in kinds)
        self._routes[(kind, type_)] = wanted
        return wanted

    def unlisten(self, listener: Listener) -> None:
        """Stop calling ``listener`` (however it was added); unknown listeners are ignored."""
        if listener in self.listeners:
            self.listeners.remove(listener)
        kept = [i for i in self._interests if i[0] != listener]
        if len(kept) != len(self._interests):
            self._interests = kept
            self._routes.clear()

    def record(self, t: Time, actor: str, kind: str, type_: str, data: dict) -> TraceRecord:
        self.emit(t, actor, kind, type_, data)
        if self.keep:
            return self.records[-1]
        return TraceRecord(t, self._seq, actor, kind, type_, data)

    def record_value(self, t: Time, actor: str, kind: str, value: Any) -> TraceRecord:
        """Record an attrs value (an input or effect) under its class name."""
        return self.record(t, actor, kind, type(value).__name__, value_fields(value))

    @property
    def count(self) -> int:
        """How many records were emitted (kept or not)."""
        return self._seq

    @property
    def sha256(self) -> str:
        if not self.hashed:
            raise ValueError("this trace was not hashed (Trace(hashed=False))")
        self.flush()
        return self._hash.copy().hexdigest()

    def close(self) -> None:
        self.flush()
        if not self._closed and self._file is not None:
            self._file.close()
        self._closed = True

    def __del__(self) -> None:
        # A trace dropped without close() still leaves a complete file, as a plain
        # buffered file object would.
        try:
            if self._file is not None and not self._closed:
                self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __iter__(self) -> Iterator[TraceRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        if not self.hashed:
            return f"<Trace records={self.count} unhashed>"
        return f"<Trace records={self.count} sha256={self.sha256[:12]}…>"


def read_trace(source: str | Path | IO[str]) -> tuple[dict[str, Any], list[TraceRecord]]:
    """Read a JSON Lines trace: its header and its records, each checked.

    Lines end with ``\\n`` only: the writer emits U+2028, U+2029 and U+0085 raw inside
    JSON strings (valid JSON), so splitting on every Unicode line break would cut a record
    in two. Anything malformed is a :class:`TraceFormatError` naming the line.
    """
    from .errors import TraceFormatError

    if isinstance(source, str | Path):
        with open(source, encoding="utf-8", newline="") as fh:
            text = fh.read()
    else:
        text = source.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise TraceFormatError("empty trace file")
    try:
        first = json.loads(lines[0])
    except (ValueError, RecursionError) as exc:
        raise TraceFormatError("not a gatewaysim trace: the first line is not JSON") from exc
    header = first.get("header") if isinstance(first, dict) else None
    if not isinstance(header, dict):
        raise TraceFormatError("not a gatewaysim trace: the first line has no header object")
    schema = header.get("schema")
    if type(schema) is not int or schema != SCHEMA_VERSION:
        raise TraceFormatError(
            f"unsupported trace schema {schema!r} (this version reads {SCHEMA_VERSION})"
        )
    records = []
    for n, line in enumerate(lines[1:], start=2):
        try:
            d = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise TraceFormatError(f"trace line {n} is not JSON") from exc
        problem = _record_problem(d)
        if problem is not None:
            raise TraceFormatError(f"trace line {n} is malformed: {problem}")
        records.append(TraceRecord.from_dict(d))
    return header, records


_RECORD_FIELDS = {"t": int, "seq": int, "actor": str, "kind": str, "type": str, "data": dict}


def _record_problem(d: Any) -> str | None:
    if not isinstance(d, dict):
        return "not an object"
    for key, kind in _RECORD_FIELDS.items():
        if key not in d:
            return f"no {key!r}"
        value = d[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"{key!r} must be {kind.__name__}, not {type(value).__name__}"
    if d["t"] < 0 or d["seq"] < 1:
        return "'t' and 'seq' must not be negative"
    extra = sorted(set(d) - set(_RECORD_FIELDS))
    return f"unknown fields {extra}" if extra else None


def hash_lines(header: dict[str, Any], records: list[TraceRecord]) -> str:
    """Recompute the fingerprint of a header and records (used to check a loaded trace)."""
    h = hashlib.sha256()
    h.update((_dumps({"header": header}) + "\n").encode("utf-8"))
    for rec in records:
        h.update((rec.to_json() + "\n").encode("utf-8"))
    return h.hexdigest()
