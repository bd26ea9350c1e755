"""Checking what a monitor says it reads: a record it is not handed must not matter to it.

A monitor that declares :attr:`~gatewaysim.properties.monitor.Monitor.record_types` or
:attr:`~gatewaysim.properties.monitor.Monitor.record_kinds` is handed only those records,
which is most of what judging every invariant costs. A declaration that leaves out a
record the monitor does read weakens the invariant silently: the books miss what the
record would have told them, and a bug goes by. :func:`undeclared_reads` finds such a
record in a run: it feeds one copy of the monitor every record and another only the
declared ones, and after each record the second copy was not handed, compares their books.
Packs run it over their runs in a test (the Lumenize pack over its bug zoo's minimal runs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from attrs import frozen

from gatewaysim.simulator.trace import TraceRecord

from .monitor import Monitor


@frozen
class UndeclaredRead:
    """A record outside a monitor's declared interest that changed its books."""

    monitor: str
    record: TraceRecord

    def __str__(self) -> str:
        r = self.record
        return (f"{self.monitor}: the {r.kind} {r.type} record of {r.actor} (seq {r.seq}) "
                "changed its books, but the monitor does not declare that it reads it")


def declares_interest(monitor: Monitor) -> bool:
    """True if ``monitor`` is handed only some records."""
    return monitor.observes_records and (
        monitor.record_types is not None or monitor.record_kinds is not None)


def handed(monitor: Monitor, record: TraceRecord) -> bool:
    """Whether a trace hands ``record`` to ``monitor`` (what ``Trace.listen`` routes)."""
    if not declares_interest(monitor):
        return monitor.observes_records
    return (record.type in (monitor.record_types or ())
            or record.kind in (monitor.record_kinds or ()))


def undeclared_reads(monitors: Iterable[Monitor],
                     records: Sequence[TraceRecord]) -> list[UndeclaredRead]:
    """The first undeclared read of each monitor that declares its interest, over ``records``
    (a whole run, in order). Monitors that read every record are not checked."""
    found = []
    for template in monitors:
        if not declares_interest(template):
            continue
        every, declared = template.fresh(), template.fresh()
        for record in records:
            every.observe(record)
            if handed(template, record):
                declared.observe(record)
            elif not _same_books(every, declared):
                found.append(UndeclaredRead(template.id, record))
                break
    return found


def _same_books(a: object, b: object) -> bool:
    """Whether two copies of a monitor (or of a helper it keeps its books in: link books,
    refresh books) hold the same books. Containers compare by value; a helper object,
    which has no ``==`` of its own, by its attributes."""
    mine, theirs = vars(a), vars(b)
    if mine.keys() != theirs.keys():
        return False
    for name, value in mine.items():
        other = theirs[name]
        if value == other:
            continue
        if type(value) is not type(other) or not hasattr(value, "__dict__") or callable(value):
            return False
        if not _same_books(value, other):
            return False
    return True
