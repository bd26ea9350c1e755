"""A pack of your own: the counter service, its faults, and the one promise it must keep.

Use it with ``gatewaysim explore mypack:PACK`` from this folder, or install this folder
(``pip install -e .``) and it registers as the ``counter`` pack.
"""

from __future__ import annotations

from gatewaysim.properties.monitor import Check, Facts
from gatewaysim.properties.pack import Pack
from gatewaysim.simulator.trace import OUT, TraceRecord

from .driver import CounterDriver
from .model import CounterConfig


def _at_most_once(facts: Facts) -> str | None:
    stats = facts.statistics
    if stats.value > stats.issued:
        return f"the counter is {stats.value} after {stats.issued} increments"
    return None


AT_MOST_ONCE = Check(
    "counter.at_most_once",
    "the counter never exceeds the number of increments the client issued",
    "safety", _at_most_once,
    doc="A retried increment must not count twice, whichever connection it arrives on.",
)


def describe(record: TraceRecord) -> str | None:
    """The counter's own records in words (``None``: the default line)."""
    if record.kind == OUT and record.type == "Send":
        data = record.data["data"]
        if data.get("op") == "incr":
            return f"increment {data['id']} on {record.data['conn']}"
        return f"ack {data.get('ids')} on {record.data['conn']}"
    if record.kind == OUT and record.type == "Note" and record.data.get("event") == "applied":
        d = record.data["data"]
        return f"applies increment {d['id']}: counter = {d['value']}"
    return None


PACK = Pack(
    name="counter",
    summary="a counter server and a client that retries unacknowledged increments",
    config=CounterConfig,
    driver=CounterDriver,
    monitors=(AT_MOST_ONCE,),
    describe=describe,
)
