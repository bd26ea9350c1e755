"""The scheduler against a naive reference: a list sorted on every step."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gatewaysim.simulator import Scheduler, SimulationError


class SchedulerVersusReference(RuleBasedStateMachine):
    """Every operation is applied to the real scheduler and to a plain list of events.

    The reference runs the live event with the smallest (time, seq); cancelled events are
    removed. Both must run the same labels in the same order and agree on the clock.
    """

    def __init__(self) -> None:
        super().__init__()
        self.sched = Scheduler()
        self.ran: list[int] = []
        self.handles: list = []
        self.ref_now = 0
        self.ref_events: list[tuple[int, int, int]] = []  # (time, seq, label)
        self.ref_ran: list[int] = []
        self.seq = 0
        self.ref_seq = 0
        self.children: dict[int, int] = {}  # label -> delay of the child it schedules
        self.last_now = 0

    def _ref_run(self, until: int | None, limit: int | None = None) -> int:
        count = 0
        while self.ref_events:
            self.ref_events.sort()
            when, _seq, label = self.ref_events[0]
            if until is not None and when > until:
                break
            if limit is not None and count == limit:
                break
            self.ref_events.pop(0)
            self.ref_now = when
            self.ref_ran.append(label)
            count += 1
            if label in self.children:  # what the real callback scheduled when it ran
                self.ref_seq += 1
                self.ref_events.append((when + self.children[label], self.ref_seq, -label))
        return count

    @rule(delay=st.integers(0, 50))
    def schedule(self, delay: int) -> None:
        self.seq += 1
        self.ref_seq += 1
        label = self.seq
        handle = self.sched.schedule_after(delay, self.ran.append, label)
        self.handles.append((handle, label))
        self.ref_events.append((self.ref_now + delay, self.ref_seq, label))

    @rule(delay=st.integers(0, 50), child_delay=st.integers(0, 20))
    def schedule_with_child(self, delay: int, child_delay: int) -> None:
        """An event whose callback schedules another (label ``-label``) when it runs."""
        self.seq += 1
        self.ref_seq += 1
        label = self.seq
        sched = self.sched

        def parent(lbl: int) -> None:
            self.ran.append(lbl)
            sched.call_at(sched.now + child_delay, self.ran.append, -lbl)

        handle = sched.schedule_after(delay, parent, label)
        self.handles.append((handle, label))
        self.children[label] = child_delay
        self.ref_events.append((self.ref_now + delay, self.ref_seq, label))

    @precondition(lambda self: self.handles)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        handle, label = data.draw(st.sampled_from(self.handles))
        handle.cancel()
        assert handle.cancelled
        self.ref_events = [e for e in self.ref_events if e[2] != label]

    @rule()
    def step(self) -> None:
        ran = self.sched.step()
        assert ran == (self._ref_run(None, limit=1) == 1)

    @rule(delta=st.integers(-5, 60))
    def run_until(self, delta: int) -> None:
        until = self.sched.now + delta
        count = self.sched.run_until(until)
        assert count == self._ref_run(until)
        self.ref_now = max(self.ref_now, until)

    @rule(duration=st.integers(0, 60))
    def run_for(self, duration: int) -> None:
        until = self.sched.now + duration
        assert self.sched.run_for(duration) == self._ref_run(until)
        self.ref_now = until

    @rule()
    def run_to_quiescence(self) -> None:
        assert self.sched.run_to_quiescence() == self._ref_run(None)

    @invariant()
    def same_history_and_clock(self) -> None:
        assert self.ran == self.ref_ran
        assert self.sched.now == self.ref_now
        assert self.sched.pending() == len(self.ref_events)
        peek = self.sched.peek()
        assert peek == (min(self.ref_events)[0] if self.ref_events else None)

    @invariant()
    def clock_never_goes_backwards(self) -> None:
        assert self.sched.now >= self.last_now
        self.last_now = self.sched.now


TestSchedulerVersusReference = SchedulerVersusReference.TestCase
TestSchedulerVersusReference.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_equal_times_run_in_schedule_order() -> None:
    sched = Scheduler()
    ran: list[str] = []
    for label in "dcba":
        sched.schedule_at(5, ran.append, label)
    sched.schedule_at(3, ran.append, "first")
    sched.run_to_quiescence()
    assert ran == ["first", "d", "c", "b", "a"]


def test_events_scheduled_while_running_at_the_same_instant_run_after() -> None:
    sched = Scheduler()
    ran: list[str] = []

    def spawn(_: object) -> None:
        ran.append("spawn")
        sched.schedule_at(sched.now, ran.append, "child")

    sched.schedule_at(7, spawn)
    sched.schedule_at(7, ran.append, "sibling")
    sched.run_until(7)
    assert ran == ["spawn", "sibling", "child"]


def test_cancelled_event_never_runs_and_clock_does_not_stop_there() -> None:
    sched = Scheduler()
    ran: list[str] = []
    sched.schedule_at(10, ran.append, "cancelled").cancel()
    sched.schedule_at(20, ran.append, "kept")
    assert sched.peek() == 20
    assert sched.step()
    assert ran == ["kept"] and sched.now == 20
    assert not sched.step()


def test_run_until_ends_the_clock_at_until_and_leaves_later_events() -> None:
    sched = Scheduler()
    ran: list[int] = []
    for t in (5, 10, 15):
        sched.schedule_at(t, ran.append, t)
    assert sched.run_until(10) == 2
    assert ran == [5, 10] and sched.now == 10
    assert sched.run_until(12) == 0 and sched.now == 12
    assert sched.run_until(3) == 0 and sched.now == 12  # never backwards
    assert sched.run_for(3) == 1 and sched.now == 15


def test_run_to_quiescence_stops_at_limit_and_keeps_the_last_event_time() -> None:
    sched = Scheduler()
    for t in (5, 50):
        sched.schedule_at(t, lambda _: None)
    assert sched.run_to_quiescence(limit=20) == 1
    assert sched.now == 5
    assert sched.run_to_quiescence() == 1
    assert sched.now == 50


def test_max_steps_allows_exactly_that_many_and_keeps_the_next_one_queued() -> None:
    sched = Scheduler()
    ran: list[int] = []
    for i in range(3):
        sched.schedule_at(1, ran.append, i)
    assert sched.run_until(1, max_steps=3) == 3
    for i in range(3):
        sched.schedule_at(2, ran.append, 10 + i)
    with pytest.raises(SimulationError, match="more than 2 events"):
        sched.run_until(2, max_steps=2)
    assert ran == [0, 1, 2, 10, 11]
    assert sched.pending() == 1
    with pytest.raises(SimulationError, match="no quiescence after 0 events"):
        sched.run_to_quiescence(max_steps=0)
    sched.run_to_quiescence()
    assert ran[-1] == 12


def test_scheduling_in_the_past_is_refused() -> None:
    sched = Scheduler(start=100)
    with pytest.raises(SimulationError, match="past"):
        sched.schedule_at(99, lambda _: None)
    with pytest.raises(SimulationError, match="past"):
        sched.call_at(99, lambda _: None)
    with pytest.raises(SimulationError, match="negative"):
        sched.schedule_after(-1, lambda _: None)


def test_steps_count_every_event_run() -> None:
    sched = Scheduler()
    for t in range(5):
        sched.schedule_at(t, lambda _: None)
    sched.step()
    sched.run_until(2)
    sched.run_to_quiescence()
    assert sched.steps == 5
