"""The echo pack's monitors: what a correct echo server and client promise.

Order is the library's :class:`~gatewaysim.properties.monitors.InOrder` over the client's
own sends and received echoes, per connection. Reconnection is judged from the typed
statistics after settling, with the give-up note the client leaves in the trace to say why.
"""

from __future__ import annotations

from collections.abc import Hashable

from gatewaysim.simulator.clock import format_duration
from gatewaysim.simulator.trace import IN, OUT, TraceRecord

from ..monitor import Facts, Monitor
from ..monitors import InOrder, Sometimes

CLIENT = "client"


def _sent(rec: TraceRecord) -> tuple[Hashable, int] | None:
    if rec.actor == CLIENT and rec.kind == OUT and rec.type == "Send":
        return rec.data["conn"], rec.data["data"]["n"]
    return None


def _delivered(rec: TraceRecord) -> tuple[Hashable, int] | None:
    if rec.actor == CLIENT and rec.kind == IN and rec.type == "WsMessage":
        return rec.data["conn"], rec.data["data"]["n"]
    return None


ORDER = InOrder(
    "echo.order",
    "on each connection, echoes reach the client in the order sent, never duplicated",
    sent=_sent, delivered=_delivered, types={"Send", "WsMessage"},
    doc="Per-connection FIFO in both directions plus an echo server that sends each message "
        "back once imply it; a duplicate means the server (or a retry) sent a copy.",
)


class Reconnects(Monitor):
    """Once faults stop, the client is connected by the end of the settle window."""

    record_types = frozenset({"Note"})

    def reset(self) -> None:
        self.gave_up = False

    def observe(self, record: TraceRecord) -> None:
        if (record.kind == OUT and record.type == "Note"
                and record.data.get("event") == "reconnect.given_up"):
            self.gave_up = True

    def judge(self, facts: Facts) -> str | None:
        stats = facts.statistics
        if stats.client_connected:
            return None
        state = "given up" if self.gave_up else stats.client_state
        return (f"client not connected {format_duration(facts.settle_bound)} after t_heal "
                f"({state}, {stats.attempts} attempts)")


RECONNECTS = Reconnects(
    "echo.reconnects",
    "once faults stop at t_heal, the client is connected by t_heal + 20s",
    "liveness",
    doc="The bound is connect_timeout (10s, an attempt caught in a partition) + the backoff "
        "cap (8s) + rto, latency and one send interval, rounded up.",
)


RECONNECTED = Sometimes(
    "echo.reconnected_after_fault",
    "some run sees the client lose its connection and open a new one",
    when=lambda rec: (rec.actor == CLIENT and rec.kind == IN and rec.type == "WsOpened"
                      and rec.data["conn"] != f"{CLIENT}:ws1"),
    doc="Without it a campaign whose drops, crashes and partitions never bit would pass "
        "the reconnect invariant without ever exercising a reconnect.",
)

MONITORS = (ORDER, RECONNECTS, RECONNECTED)
