"""The trace: every input, effect and fault as a frozen record, fingerprinted by sha256.

The canonical form is JSON Lines: a header line with the schema version, then one line a
record with keys in a fixed order and compact separators. The sha256 of those bytes is
the run's fingerprint, so "same seed, same trace" is checked by comparing 64 hex digits.

A trace streams: records go to the hash (always), to a file (if given) and to an
in-memory list (if ``keep``), so a 24-hour run does not need to hold everything.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterator
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
        return _dumps({"t": self.t, "seq": self.seq, "actor": self.actor, "kind": self.kind,
                       "type": self.type, "data": self.data})

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


def _dumps(obj: Any) -> str:
    return _encoder.encode(obj)


_FIELDS: dict[type, tuple[str, ...]] = {}


def value_fields(value: Any) -> dict[str, Any]:
    """The fields of an attrs value as a dict, in declaration order (cached per class)."""
    cls = type(value)
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(a.name for a in attrs.fields(cls))
        _FIELDS[cls] = names
    return {n: getattr(value, n) for n in names}


Listener = Callable[[TraceRecord], None]


class Trace:
    """A streaming trace writer and (optionally) an in-memory record list."""

    def __init__(
        self,
        header: dict[str, Any] | None = None,
        path: str | Path | None = None,
        keep: bool = True,
    ) -> None:
        self.header = {"schema": SCHEMA_VERSION, **(header or {})}
        self._hash = hashlib.sha256()
        self._file: IO[str] | None = None
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.keep = keep
        self.records: list[TraceRecord] = []
        self.listeners: list[Listener] = []
        self.count = 0
        self._seq = 0
        self._closed = False
        self._write_line(_dumps({"header": self.header}))

    def _write_line(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        self._hash.update(data)
        if self._file is not None:
            self._file.write(line + "\n")

    def record(self, t: Time, actor: str, kind: str, type_: str, data: dict) -> TraceRecord:
        self._seq += 1
        rec = TraceRecord(t, self._seq, actor, kind, type_, data)
        self._write_line(rec.to_json())
        self.count += 1
        if self.keep:
            self.records.append(rec)
        for listener in self.listeners:
            listener(rec)
        return rec

    def record_value(self, t: Time, actor: str, kind: str, value: Any) -> TraceRecord:
        """Record an attrs value (an input or effect) under its class name."""
        return self.record(t, actor, kind, type(value).__name__, value_fields(value))

    @property
    def sha256(self) -> str:
        return self._hash.copy().hexdigest()

    def close(self) -> None:
        if not self._closed and self._file is not None:
            self._file.close()
        self._closed = True

    def __iter__(self) -> Iterator[TraceRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"<Trace records={self.count} sha256={self.sha256[:12]}…>"


def read_trace(source: str | Path | IO[str]) -> tuple[dict[str, Any], list[TraceRecord]]:
    """Read a JSON Lines trace: its header and its records. Checks the schema version."""
    from .errors import TraceFormatError

    if isinstance(source, str | Path):
        with open(source, encoding="utf-8") as fh:
            text = fh.read()
    else:
        text = source.read()
    lines = io.StringIO(text).read().splitlines()
    if not lines:
        raise TraceFormatError("empty trace file")
    try:
        first = json.loads(lines[0])
        header = first["header"]
    except (ValueError, KeyError, TypeError) as exc:
        raise TraceFormatError("not a gatewaysim trace: the first line has no header") from exc
    if header.get("schema") != SCHEMA_VERSION:
        raise TraceFormatError(
            f"unsupported trace schema {header.get('schema')!r} (this version reads {SCHEMA_VERSION})"
        )
    records = []
    for n, line in enumerate(lines[1:], start=2):
        try:
            records.append(TraceRecord.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise TraceFormatError(f"trace line {n} is malformed") from exc
    return header, records


def hash_lines(header: dict[str, Any], records: list[TraceRecord]) -> str:
    """Recompute the fingerprint of a header and records (used to check a loaded trace)."""
    h = hashlib.sha256()
    h.update((_dumps({"header": header}) + "\n").encode("utf-8"))
    for rec in records:
        h.update((rec.to_json() + "\n").encode("utf-8"))
    return h.hexdigest()
