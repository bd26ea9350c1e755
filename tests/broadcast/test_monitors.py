"""The broadcast oracles on hand-made traces: each flags what it names and passes what is
allowed, so a model without the feature would fail them."""

from __future__ import annotations

from typing import Any

from gatewaysim.properties.broadcast.monitors import HISTORY, MONOTONIC_READS
from gatewaysim.properties.monitor import Monitor
from gatewaysim.simulator.trace import OUT, TraceRecord


def note(t: int, actor: str, event: str, **data: Any) -> TraceRecord:
    return TraceRecord(t, t, actor, OUT, "Note", {"event": event, "data": data})


def cache(t: int, tab: str, confirmed: dict[str, int], overlay: dict[str, list[Any]] | None = None,
          cause: str = "read", life: int = 1) -> TraceRecord:
    return note(t, tab.partition("/")[0], "cache", tab=tab, life=life, cause=cause,
                confirmed=confirmed, as_of=0, overlay=overlay or {})


def commit(t: int, seq: int, order: str, version: int, mid: str) -> TraceRecord:
    return note(t, "api-a", "db.commit", seq=seq, order=order, version=version, mid=mid)


def judge(monitor: Monitor, records: list[TraceRecord]) -> str | None:
    m = monitor.fresh()
    for r in records:
        m.observe(r)
    return m.judge(None)  # type: ignore[arg-type]  # these two read only their books


HISTORY_BASE = [
    commit(1, 1, "o1", 1, "bob:m1"),
    commit(2, 2, "o2", 1, "bob:m2"),
    commit(3, 3, "o1", 2, "bob:m3"),
]


def test_history_accepts_any_prefix_plus_own_writes() -> None:
    ok = [*HISTORY_BASE,
          note(4, "alice", "mutation.started", tab="alice/0", mid="alice:m1", order="a1",
               version=1),
          cache(5, "alice/1", {"o1": 1}),  # behind, but a prefix
          cache(6, "alice/1", {"o1": 2, "o2": 1}, {"alice:m1": ["a1", 1]}, "channel")]
    assert judge(HISTORY, ok) is None


def test_history_rejects_a_state_that_is_no_prefix() -> None:
    bad = [*HISTORY_BASE, cache(5, "alice/0", {"o1": 2})]  # o1 v2 without o2
    message = judge(HISTORY, bad)
    assert message is not None and "no prefix" in message


def test_history_rejects_another_browsers_write_and_an_aborted_one() -> None:
    foreign = [*HISTORY_BASE,
               note(4, "bob", "mutation.started", tab="bob/0", mid="bob:m9", order="b9",
                    version=1),
               cache(5, "alice/0", {}, {"bob:m9": ["b9", 1]}, "channel")]
    assert "never made" in (judge(HISTORY, foreign) or "")
    aborted = [note(1, "alice", "mutation.started", tab="alice/0", mid="alice:m1", order="a1",
                    version=1),
               note(2, "alice", "mutation.settled", tab="alice/0", mid="alice:m1", ok=False),
               cache(3, "alice/1", {}, {"alice:m1": ["a1", 1]}, "channel")]
    assert "aborted read" in (judge(HISTORY, aborted) or "")


def test_monotonic_reads_flags_an_older_read_only() -> None:
    newer_then_older = [cache(1, "bob/0", {"o1": 2}), cache(2, "bob/0", {"o1": 1})]
    assert "bob/0 read o1 v2" in (judge(MONOTONIC_READS, newer_then_older) or "")
    vanished = [cache(1, "bob/0", {"o1": 1}), cache(2, "bob/0", {})]
    assert "no longer shows it" in (judge(MONOTONIC_READS, vanished) or "")
    # A rollback is not a read; a reloaded page (new life) starts its own session.
    allowed = [cache(1, "bob/0", {"o1": 2}), cache(2, "bob/0", {"o1": 1}, cause="rollback"),
               cache(3, "bob/0", {"o1": 1}, life=2), cache(4, "bob/0", {"o1": 3})]
    assert judge(MONOTONIC_READS, allowed) is None
