"""The event queue: a binary heap ordered by (time, seq), with lazy cancellation.

Why a heap and not a sorted container: every answered call cancels a timeout, so
cancellation must be O(1). An entry is a small list ``[time, seq, fn, arg]``; cancelling
sets ``fn`` to ``None`` and the loop skips it when popped. ``benchmarks/kernel.py``
measured this against ``sortedcontainers.SortedList`` and SimPy; the heap wins on both
the timer and the message workload.

``seq`` comes from a counter, so two events at the same instant run in the order they
were scheduled, never in an order that depends on ``id()`` or hashing.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from .clock import Time
from .errors import SimulationError

Entry = list  # [time, seq, fn | None, arg]


class TimerHandle:
    """What :meth:`Scheduler.schedule_at` returns: something to cancel, and when it is due."""

    __slots__ = ("_entry",)

    def __init__(self, entry: Entry) -> None:
        self._entry = entry

    @property
    def when(self) -> Time:
        return self._entry[0]

    @property
    def cancelled(self) -> bool:
        return self._entry[2] is None

    def cancel(self) -> None:
        self._entry[2] = None
        self._entry[3] = None

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else "pending"
        return f"<TimerHandle t={self._entry[0]} seq={self._entry[1]} {state}>"


class Scheduler:
    """A discrete-event loop on a virtual clock in integer microseconds."""

    __slots__ = ("_heap", "_seq", "now", "steps")

    def __init__(self, start: Time = 0) -> None:
        self._heap: list[Entry] = []
        self._seq = 0
        self.now: Time = start
        self.steps = 0

    # -- scheduling -------------------------------------------------------------------
    def schedule_at(self, when: Time, fn: Callable[[Any], object], arg: Any = None) -> TimerHandle:
        if when < self.now:
            raise SimulationError(f"cannot schedule in the past: {when} < now {self.now}")
        self._seq += 1
        entry = [when, self._seq, fn, arg]
        heapq.heappush(self._heap, entry)
        return TimerHandle(entry)

    def schedule_after(
        self, delay: Time, fn: Callable[[Any], object], arg: Any = None
    ) -> TimerHandle:
        if delay < 0:
            raise SimulationError(f"negative delay {delay}")
        return self.schedule_at(self.now + delay, fn, arg)

    def call_at(self, when: Time, fn: Callable[[Any], object], arg: Any = None) -> Entry:
        """Like :meth:`schedule_at` without a handle: the raw entry, for hot paths."""
        self._seq += 1
        entry = [when, self._seq, fn, arg]
        heapq.heappush(self._heap, entry)
        return entry

    # -- running ----------------------------------------------------------------------
    def peek(self) -> Time | None:
        """Time of the next live event, or ``None`` when the queue is empty."""
        heap = self._heap
        while heap and heap[0][2] is None:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def step(self) -> bool:
        """Run the next live event. Returns ``False`` when there is none."""
        heap = self._heap
        while heap:
            when, _seq, fn, arg = heapq.heappop(heap)
            if fn is None:
                continue
            self.now = when
            self.steps += 1
            fn(arg)
            return True
        return False

    def run_until(self, until: Time, max_steps: int | None = None) -> int:
        """Run every event due at or before ``until``; the clock ends at ``until``.

        Returns the number of events run. ``max_steps`` guards against a model that
        schedules work at the same instant forever.
        """
        heap = self._heap
        pop = heapq.heappop
        count = 0
        limit = max_steps if max_steps is not None else -1
        while heap:
            entry = heap[0]
            if entry[0] > until:
                break
            pop(heap)
            fn = entry[2]
            if fn is None:
                continue
            self.now = entry[0]
            fn(entry[3])
            count += 1
            if count == limit:
                self.steps += count
                raise SimulationError(f"more than {max_steps} events before t={until}")
        self.steps += count
        if until > self.now:
            self.now = until
        return count

    def run_for(self, duration: Time, max_steps: int | None = None) -> int:
        return self.run_until(self.now + duration, max_steps)

    def run_to_quiescence(self, limit: Time | None = None, max_steps: int | None = None) -> int:
        """Run until no event is left (or until virtual time ``limit``)."""
        count = 0
        while True:
            nxt = self.peek()
            if nxt is None or (limit is not None and nxt > limit):
                break
            if max_steps is not None and count >= max_steps:
                raise SimulationError(f"no quiescence after {max_steps} events")
            self.step()
            count += 1
        return count

    def __len__(self) -> int:
        """Entries in the heap, including cancelled ones not yet popped."""
        return len(self._heap)

    def pending(self) -> int:
        return sum(1 for e in self._heap if e[2] is not None)

    def __repr__(self) -> str:
        return f"<Scheduler now={self.now} queued={len(self._heap)}>"
