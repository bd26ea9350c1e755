"""The echo pack's invariants: what a correct echo server and client promise.

The order check is incremental: a trace listener (installed by the driver) looks at each
send and each received echo as it is recorded, so checking after every step costs O(1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gatewaysim.simulator.clock import format_duration

from ..invariants import Invariant

if TYPE_CHECKING:
    from .driver import EchoDriver


def _order(driver: EchoDriver) -> str | None:
    return driver.order_problem


def _reconnects(driver: EchoDriver) -> str | None:
    if driver.client_connected():
        return None
    client = driver.client
    state = "given up" if driver.gave_up else ("connecting" if client.conn else "backing off")
    return (f"client not connected {format_duration(driver.settle_bound)} after t_heal "
            f"({state}, {client.attempts} attempts)")


ORDER = Invariant(
    id="echo.order",
    statement="on each connection, echoes reach the client in the order sent, never duplicated",
    kind="safety",
    check=_order,
    doc="Per-connection FIFO in both directions plus an echo server that sends each message "
        "back once imply it; a duplicate means the server (or a retry) sent a copy.",
)

RECONNECTS = Invariant(
    id="echo.reconnects",
    statement="once faults stop at t_heal, the client is connected by t_heal + 20s",
    kind="liveness",
    check=_reconnects,
    doc="The bound is connect_timeout (10s, an attempt caught in a partition) + the backoff "
        "cap (8s) + rto, latency and one send interval, rounded up.",
)

INVARIANTS = (ORDER, RECONNECTS)
