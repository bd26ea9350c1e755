"""Where two runs part: the first differing record, and how the runs differ after it.

Two runs of the same scenario are identical up to some record and then go their own
ways (another seed, another variant, one more fault). The first differing record is the
cause worth looking at; everything after it is consequence, so it is summarised as
counts (per record type and per actor) rather than listed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from attrs import frozen

from gatewaysim.simulator.clock import Time, format_time
from gatewaysim.simulator.trace import TraceRecord

from .view import TraceView

Counts = Mapping[str, tuple[int, int]]


def _freeze_counts(a: Counter[str], b: Counter[str]) -> Counts:
    keys = sorted(set(a) | set(b))
    return MappingProxyType({k: (a[k], b[k]) for k in keys if a[k] != b[k]})


@frozen(repr=False)
class TraceDiff:
    """The result of :func:`diff`.

    ``identical`` is true when both runs have the same records (headers may still differ,
    see ``header_changes``). Otherwise ``index`` is the position of the first differing
    record, ``t_us`` its time (the earlier of the two), and ``a``/``b`` the two records
    there (``None`` when that run had already ended). ``by_type`` and ``by_actor`` map each
    record type and actor whose counts differ from ``index`` on to ``(count_a, count_b)``.
    """

    identical: bool
    index: int | None
    t_us: Time | None
    a: TraceRecord | None
    b: TraceRecord | None
    len_a: int
    len_b: int
    by_type: Counts
    by_actor: Counts
    header_changes: Mapping[str, tuple[Any, Any]]

    @property
    def t(self) -> float | None:
        """:attr:`t_us` in seconds."""
        return None if self.t_us is None else self.t_us / 1_000_000

    def __repr__(self) -> str:
        return f"<TraceDiff\n{self}\n>"

    def __str__(self) -> str:
        head = [f"header {k}: {va!r} -> {vb!r}" for k, (va, vb) in self.header_changes.items()]
        if self.identical:
            return "\n".join([f"identical: {self.len_a} records", *head])
        assert self.t_us is not None
        lines = [f"runs part at record {self.index} ({format_time(self.t_us)}); "
                 f"{self.len_a} vs {self.len_b} records", *head,
                 f"  a: {_describe(self.a)}", f"  b: {_describe(self.b)}"]
        if self.by_type:
            lines.append("after that, counts per type (a, b):")
            lines += [f"  {k}: {ca} vs {cb}" for k, (ca, cb) in self.by_type.items()]
        if self.by_actor:
            lines.append("after that, counts per actor (a, b):")
            lines += [f"  {k}: {ca} vs {cb}" for k, (ca, cb) in self.by_actor.items()]
        return "\n".join(lines)


def _describe(rec: TraceRecord | None) -> str:
    if rec is None:
        return "(run ended)"
    return f"{format_time(rec.t)} {rec.actor} {rec.kind} {rec.type} {rec.data}"


def _same(x: TraceRecord, y: TraceRecord) -> bool:
    return (x.t == y.t and x.actor == y.actor and x.kind == y.kind and x.type == y.type
            and x.data == y.data)


def diff(a: Any, b: Any) -> TraceDiff:
    """Compare two runs (views, traces, worlds or trace file paths) record by record.

    Records compare by time, actor, kind, type and data; ``seq`` follows from position.
    """
    va, vb = TraceView.of(a), TraceView.of(b)
    ra, rb = va.records, vb.records
    keys = sorted(set(va.header) | set(vb.header))
    header_changes = MappingProxyType({
        k: (va.header.get(k), vb.header.get(k)) for k in keys
        if va.header.get(k) != vb.header.get(k)})
    n = min(len(ra), len(rb))
    index = next((i for i in range(n) if not _same(ra[i], rb[i])), n)
    if index == len(ra) == len(rb):
        empty: Counts = MappingProxyType({})
        return TraceDiff(True, None, None, None, None, len(ra), len(rb), empty, empty,
                         header_changes)
    rec_a = ra[index] if index < len(ra) else None
    rec_b = rb[index] if index < len(rb) else None
    t_us = min(r.t for r in (rec_a, rec_b) if r is not None)
    tail_a, tail_b = ra[index:], rb[index:]
    return TraceDiff(
        False, index, t_us, rec_a, rec_b, len(ra), len(rb),
        _freeze_counts(_count(tail_a, "type"), _count(tail_b, "type")),
        _freeze_counts(_count(tail_a, "actor"), _count(tail_b, "actor")),
        header_changes,
    )


def _count(records: Iterable[TraceRecord], attr: str) -> Counter[str]:
    return Counter(getattr(r, attr) for r in records)
