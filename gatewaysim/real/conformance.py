"""Sim-to-real conformance: did the user of each client see the same thing both ways?

A user of ``ComfyApi`` observes its ``connectionState`` changes, the events it fires, the
messages that arrive after each reconnection, the close codes its sockets end with, and
the values the test's ``expect()`` calls read. :func:`user_view` extracts exactly those from
a run's :class:`~gatewaysim.models.restart.script.Observer`; :func:`compare` lists every
difference between a simulated and a real run of the same script.

Timings are compared per state change, measured from the latest server fault before it
(a start, a signal, a kill) so that the time a real process takes to start does not
accumulate: a change that the simulation shows 100 ms after a restart must show within the
script's tolerance of 100 ms after the real restart.

``status`` events are compared as "at least one status message after each reconnection",
not counted: the periodic broadcast's phase relative to a reconnection is a race both ways.
Close codes are compared with each run of failed attempts counted once, as ``0``: how many
attempts a process start refuses depends on its start time to the millisecond, and no user
sees them (the library ignores those closes). A failed attempt is a socket that never
opened: refused (status 0), or still connecting when ``reconnectWs()`` replaced it, which
ends it with 1006 for real. Whether an attempt is in flight at the moment the script calls
``reconnectWs()`` after a restart is the same race: the loop's check interval at a tenth of
the delays is about the time a process takes to start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attrs import frozen

from gatewaysim.models.restart.script import ClientLog, Verdict
from gatewaysim.simulator.clock import Time, format_duration
from gatewaysim.simulator.trace import FAULT, Trace, TraceRecord

TIMING_FLOOR_MS = 150
"""The smallest tolerance used: event-loop and process scheduling noise on a loaded
two-core machine, where other processes compete for the CPU."""
LOAD_SHARE = 0.25
"""How much of the slowest process start of a run a real timing may be off by. A start is
a fixed amount of work (an interpreter, aiohttp, the model: about 0.3 s on an idle
machine, where the floor rules), so its wall time measures how much CPU a process gets
while the run lasts; a client's connect (a few HTTP exchanges and an upgrade, each on a
new connection) slows down by the same factor. Measured: starts of 1 s with two busy
processes beside the run, connects then 180 ms late."""


def tolerance_ms(stated_ms: float, startups_s: Sequence[float]) -> float:
    """The timing tolerance of one run: the scenario's own, the floor, or the machine's load
    as the run's process starts measured it, whichever is largest."""
    return max(stated_ms, TIMING_FLOOR_MS, LOAD_SHARE * 1000 * max(startups_s, default=0.0))


@frozen
class UserView:
    """What one client's user observed."""

    states: tuple[str, ...]
    events: tuple[str, ...]
    """Event names in order, ``status`` left out (see the module docstring)."""
    status_after_reconnection: tuple[bool, ...]
    """For each ``reconnected``: did a status message arrive on that socket?"""
    close_codes: tuple[int, ...]
    state_offsets: tuple[Time, ...]
    """Each state change's time after the latest server fault before it."""


def _anchors(records: Sequence[TraceRecord]) -> list[Time]:
    return [r.t for r in records if r.kind == FAULT and r.type in ("restart", "crash",
                                                                    "signal", "drop")]


def _offset(t: Time, anchors: Sequence[Time]) -> Time:
    before = [a for a in anchors if a <= t]
    return t - (before[-1] if before else 0)


FAILED_ATTEMPT = 0
"""How the close of a socket that never opened shows in :attr:`UserView.close_codes`."""


def _close_codes(log: ClientLog) -> tuple[int, ...]:
    """The close codes of the client's sockets, each run of failed attempts as one ``0``."""
    opened = set(log.opened)
    out: list[int] = []
    for _, conn, code in log.closes:
        if conn not in opened:
            code = FAILED_ATTEMPT
        if not (code == FAILED_ATTEMPT and out and out[-1] == FAILED_ATTEMPT):
            out.append(code)
    return tuple(out)


def user_view(log: ClientLog, faults: Sequence[Time]) -> UserView:
    return UserView(
        tuple(to for _, to in log.states),
        tuple(name for _, name, _ in log.events if name != "status"),
        tuple(n > 0 for n in log.after_each_reconnection()),
        _close_codes(log),
        tuple(_offset(t, faults) for t, _ in log.states))


def fault_times(trace: Trace | Sequence[TraceRecord]) -> list[Time]:
    records = trace.records if isinstance(trace, Trace) else trace
    return _anchors(records)


@frozen
class Difference:
    client: str
    what: str
    simulated: Any
    real: Any

    def __str__(self) -> str:
        return f"{self.client}: {self.what}: simulated {self.simulated!r}, real {self.real!r}"


def compare(sim_logs: dict[str, ClientLog], sim_faults: Sequence[Time],
            real_logs: dict[str, ClientLog], real_faults: Sequence[Time],
            sim_verdicts: Sequence[Verdict], real_verdicts: Sequence[Verdict],
            tolerance_ms: float) -> list[Difference]:
    """Every observable difference between the two runs (an empty list: they conform).

    Expectations are compared by verdict (a count of periodic messages may differ by one
    and still satisfy ``toBeGreaterThan(0)`` both ways); an equality expectation's verdict
    is its value's equality, so it compares values.
    """
    out: list[Difference] = []
    for client in sim_logs:
        sim = user_view(sim_logs[client], sim_faults)
        real = user_view(real_logs[client], real_faults)
        for what in ("states", "events", "status_after_reconnection", "close_codes"):
            if getattr(sim, what) != getattr(real, what):
                out.append(Difference(client, what, getattr(sim, what), getattr(real, what)))
        if sim.states == real.states:
            limit = max(tolerance_ms, TIMING_FLOOR_MS) * 1000
            for i, (a, b) in enumerate(zip(sim.state_offsets, real.state_offsets)):
                if abs(a - b) > limit:
                    out.append(Difference(
                        client, f"time of state {i} ({sim.states[i]}) after its fault",
                        format_duration(a), format_duration(b)))
    real_by_label = {v.label: v for v in real_verdicts}
    for v in sim_verdicts:
        other = real_by_label.get(v.label)
        if other is None or other.holds != v.holds:
            out.append(Difference("expect", v.label, v.observed,
                                  None if other is None else other.observed))
    return out


__all__ = ["LOAD_SHARE", "TIMING_FLOOR_MS", "Difference", "UserView", "compare", "fault_times",
           "tolerance_ms", "user_view"]
