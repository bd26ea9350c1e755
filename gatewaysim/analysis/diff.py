"""Where two runs part: the first difference in behaviour, and how the runs differ after it.

Two runs of the same scenario are identical up to some record and then go their own
ways (another seed, another variant, one more fault). The first differing record is the
cause worth looking at; everything after it is consequence, so it is summarised as
counts (per record type and per actor) rather than listed.

*Behaviour* is what actors do to each other and what the world does to them: inputs,
effects, faults, kernel notices. Notes are a model's narration of itself, and a fix flag
often renames a code path in a note (``refresh.started reason=first_connect`` becomes
``reason=ensure_fresh``) at t=0 while every message stays the same. So by default the
runs part at the first differing record that is not a note; if only notes differ, at the
first differing note. Configuration lives in the trace header: it is reported after the
records, in one line, and never as the place the runs part.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from attrs import frozen

from gatewaysim.simulator.clock import Time, format_time
from gatewaysim.simulator.trace import TraceRecord

from .focus import outcome_of, verdict_line
from .view import TraceView

Counts = Mapping[str, tuple[int, int]]
NARRATION = frozenset(("Note",))
"""Record types that narrate rather than behave (see the module docstring)."""


def _freeze_counts(a: Counter[str], b: Counter[str]) -> Counts:
    keys = sorted(set(a) | set(b))
    return MappingProxyType({k: (a[k], b[k]) for k in keys if a[k] != b[k]})


@frozen(repr=False)
class TraceDiff:
    """The result of :func:`diff`.

    ``identical`` is true when both runs have the same records (headers may still differ,
    see ``header_changes``). Otherwise ``index`` is the position in run a of the first
    record where the runs part (``index_b`` its position in run b), ``t_us`` its time (the
    earlier of the two), and ``a``/``b`` the two records there (``None`` when that run had
    already ended). ``notes_only`` says that only notes differ. ``first_note`` is the
    first differing note, when one comes before that point. ``by_type`` and ``by_actor``
    map each record type and actor whose counts differ from there on to
    ``(count_a, count_b)``. ``verdict_a``/``verdict_b`` are each run's verdict when the
    runs were executed from steps (``None`` otherwise).
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
    index_b: int | None = None
    notes_only: bool = False
    first_note: tuple[TraceRecord | None, TraceRecord | None] | None = None
    verdict_a: str | None = None
    verdict_b: str | None = None

    @property
    def t(self) -> float | None:
        """:attr:`t_us` in seconds."""
        return None if self.t_us is None else self.t_us / 1_000_000

    def __repr__(self) -> str:
        return f"<TraceDiff\n{self}\n>"

    def headline(self) -> str:
        if self.identical:
            return f"identical: {self.len_a} records"
        assert self.t_us is not None
        what = "notes differ" if self.notes_only else "runs part"
        where = f"record {self.index}" + (
            f" (record {self.index_b} in b)" if self.index_b not in (None, self.index) else "")
        return f"{what} at {where}, {format_time(self.t_us)}; {self.len_a} vs {self.len_b} records"

    def config_line(self) -> str | None:
        return config_summary(self.header_changes)

    def __str__(self) -> str:
        lines = [self.headline()]
        if self.verdict_a is not None:
            lines += [f"  verdict a: {self.verdict_a}", f"  verdict b: {self.verdict_b}"]
        if not self.identical:
            lines += [f"  a: {_describe(self.a)}", f"  b: {_describe(self.b)}"]
            fields = differing_fields(self.a, self.b)
            if fields:
                lines.append(f"  the same record, differing in: {', '.join(fields)}")
            if self.first_note is not None:
                na, nb = self.first_note
                at = (na or nb).t if (na or nb) is not None else 0  # type: ignore[union-attr]
                lines.append(f"  (notes already differ at {format_time(at)}: "
                             f"{_short(na)} vs {_short(nb)})")
            if self.by_type:
                lines.append("after that, counts per type (a, b):")
                lines += [f"  {k}: {ca} vs {cb}" for k, (ca, cb) in self.by_type.items()]
            if self.by_actor:
                lines.append("after that, counts per actor (a, b):")
                lines += [f"  {k}: {ca} vs {cb}" for k, (ca, cb) in self.by_actor.items()]
        config = self.config_line()
        if config:
            lines.append(config)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Jupyter: the verdicts on top, then where the runs part, then the counts."""
        e = html.escape
        parts = ['<div style="font-family:sans-serif;font-size:13px">']
        if self.verdict_a is not None:
            parts.append(_verdict_html("a", self.verdict_a))
            parts.append(_verdict_html("b", self.verdict_b or ""))
        parts.append(f"<p><b>{e(self.headline())}</b></p>")
        if not self.identical:
            parts.append('<table style="border-collapse:collapse;font-family:monospace;'
                         'table-layout:fixed;width:100%;word-break:break-all">'
                         '<col style="width:2em"><col>')
            for name, rec in (("a", self.a), ("b", self.b)):
                parts.append(f"<tr><td style='padding:2px 8px'><b>{name}</b></td>"
                             f"<td style='padding:2px 8px'>{e(_describe(rec))}</td></tr>")
            parts.append("</table>")
            fields = differing_fields(self.a, self.b)
            if fields:
                parts.append(f"<p>the same record, differing in: "
                             f"<code>{e(', '.join(fields))}</code></p>")
            if self.first_note is not None:
                na, nb = self.first_note
                parts.append(f"<p style='color:#555'>notes already differ earlier: "
                             f"{e(_short(na))} vs {e(_short(nb))}</p>")
            for title, counts in (("per type", self.by_type), ("per actor", self.by_actor)):
                if counts:
                    rows = "".join(f"<tr><td style='padding:1px 8px'>{e(k)}</td>"
                                   f"<td style='padding:1px 8px;text-align:right'>{ca}</td>"
                                   f"<td style='padding:1px 8px;text-align:right'>{cb}</td>"
                                   "</tr>" for k, (ca, cb) in counts.items())
                    parts.append(f"<details><summary>after that, counts {title}</summary>"
                                 "<table><tr><th></th><th>a</th><th>b</th></tr>"
                                 f"{rows}</table></details>")
        config = self.config_line()
        if config:
            parts.append(f"<p style='color:#555'>{e(config)}</p>")
        parts.append("</div>")
        return "".join(parts)


def _verdict_html(name: str, verdict: str) -> str:
    bad = verdict.startswith("violated")
    color = "#c62828" if bad else "#2e7d32"
    return (f"<div style='border-left:4px solid {color};padding:2px 8px;margin:2px 0'>"
            f"<b>{name}:</b> {html.escape(verdict)}</div>")


def config_summary(changes: Mapping[str, tuple[Any, Any]]) -> str | None:
    """One line for header differences: the variant, and config fields that changed."""
    if not changes:
        return None
    parts: list[str] = []
    for key, (va, vb) in changes.items():
        if isinstance(va, dict) and isinstance(vb, dict):
            for k in sorted(set(va) | set(vb)):
                x, y = va.get(k), vb.get(k)
                if x == y:
                    continue
                if isinstance(x, list) and isinstance(y, list):
                    added = [f"+{v}" for v in y if v not in x]
                    removed = [f"-{v}" for v in x if v not in y]
                    parts.append(f"{k} {' '.join(added + removed)}")
                else:
                    parts.append(f"{k} {x!r} -> {y!r}")
        else:
            parts.append(f"{key} {va!r} -> {vb!r}")
    return "configuration (trace header, not behaviour): " + "; ".join(parts)


MAX_RECORD = 240  # characters of a record shown; the rest is cut with "…"


def _describe(rec: TraceRecord | None) -> str:
    if rec is None:
        return "(run ended)"
    text = f"{format_time(rec.t)} {rec.actor} {rec.kind} {rec.type} {rec.data}"
    return text if len(text) <= MAX_RECORD else text[: MAX_RECORD - 1] + "…"


def differing_fields(a: TraceRecord | None, b: TraceRecord | None) -> list[str]:
    """Where two records of the same kind differ: dotted paths into their data."""
    if a is None or b is None or (a.actor, a.kind, a.type) != (b.actor, b.kind, b.type):
        return []
    out: list[str] = []

    def walk(x: Any, y: Any, path: str) -> None:
        if x == y:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y), key=str):
                walk(x.get(k), y.get(k), f"{path}.{k}" if path else str(k))
        else:
            out.append(path or "data")

    if a.t != b.t:
        out.append("t")
    walk(a.data, b.data, "")
    return out


def _short(rec: TraceRecord | None) -> str:
    if rec is None:
        return "(none)"
    text = f"{rec.actor} {rec.data.get('event', rec.type)} {rec.data.get('data', '')}"
    return text if len(text) <= 80 else text[:79] + "…"


def _same(x: TraceRecord, y: TraceRecord) -> bool:
    return (x.t == y.t and x.actor == y.actor and x.kind == y.kind and x.type == y.type
            and x.data == y.data)


def _first_difference(ra: Sequence[TraceRecord], rb: Sequence[TraceRecord]) -> int:
    n = min(len(ra), len(rb))
    return next((i for i in range(n) if not _same(ra[i], rb[i])), n)


def _verdict(view: TraceView) -> str | None:
    outcome = outcome_of(view)
    return None if outcome is None else verdict_line(outcome.violation)


def diff(a: Any, b: Any, *, behaviour: bool = True) -> TraceDiff:
    """Compare two runs (views, traces, worlds or trace file paths) record by record.

    Records compare by time, actor, kind, type and data; ``seq`` follows from position.
    With ``behaviour=True`` (the default) the runs part at the first differing record
    that is not a note (see the module docstring); ``behaviour=False`` compares every
    record, notes included.
    """
    va, vb = TraceView.of(a), TraceView.of(b)
    ra, rb = va.records, vb.records
    keys = sorted(set(va.header) | set(vb.header))
    header_changes = MappingProxyType({
        k: (va.header.get(k), vb.header.get(k)) for k in keys
        if va.header.get(k) != vb.header.get(k)})
    verdicts = (_verdict(va), _verdict(vb))
    if verdicts[0] is None or verdicts[1] is None:
        verdicts = (None, None)
    first = _first_difference(ra, rb)
    if first == len(ra) == len(rb):
        empty: Counts = MappingProxyType({})
        return TraceDiff(True, None, None, None, None, len(ra), len(rb), empty, empty,
                         header_changes, verdict_a=verdicts[0], verdict_b=verdicts[1])
    ia = ib = first
    notes_only = False
    first_note: tuple[TraceRecord | None, TraceRecord | None] | None = None
    if behaviour:
        pa = [i for i, r in enumerate(ra) if r.type not in NARRATION]
        pb = [i for i, r in enumerate(rb) if r.type not in NARRATION]
        k = _first_difference([ra[i] for i in pa], [rb[i] for i in pb])
        if k == len(pa) == len(pb):
            notes_only = True
        else:
            ia = pa[k] if k < len(pa) else len(ra)
            ib = pb[k] if k < len(pb) else len(rb)
            if min(ia, ib) > first:
                first_note = (ra[first] if first < len(ra) else None,
                              rb[first] if first < len(rb) else None)
    rec_a = ra[ia] if ia < len(ra) else None
    rec_b = rb[ib] if ib < len(rb) else None
    t_us = min(r.t for r in (rec_a, rec_b) if r is not None)
    tail_a, tail_b = ra[ia:], rb[ib:]
    return TraceDiff(
        False, ia, t_us, rec_a, rec_b, len(ra), len(rb),
        _freeze_counts(_count(tail_a, "type"), _count(tail_b, "type")),
        _freeze_counts(_count(tail_a, "actor"), _count(tail_b, "actor")),
        header_changes, ib, notes_only, first_note, verdicts[0], verdicts[1],
    )


def _count(records: Iterable[TraceRecord], attr: str) -> Counter[str]:
    return Counter(getattr(r, attr) for r in records)
