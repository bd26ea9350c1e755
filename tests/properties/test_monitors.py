"""The monitor library: each promise fails on the history that breaks it and holds on the one
that keeps it (records built by hand, facts from a stand-in driver)."""

from __future__ import annotations

from typing import Any

import pytest
from attrs import frozen

from gatewaysim.properties.monitor import Check, Facts, Monitor
from gatewaysim.properties.monitors import (
    Converges,
    HerdDispersal,
    InOrder,
    MapsEmpty,
    SessionsPerKey,
    SettlesOnce,
    SettlesWithin,
    Sometimes,
)
from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import TraceRecord


def rec(t: int, type_: str, actor: str = "a", **data: Any) -> TraceRecord:
    return TraceRecord(t, 0, actor, "out", type_, dict(data))


@frozen
class Stats:
    maps: dict[str, int]
    source: int
    replicas: dict[str, int]
    sessions: dict[str, list[str]]


class FakeDriver:
    """Just what :class:`Facts` reads."""

    def __init__(self, now: int, stats: Stats | None = None, t_heal: int | None = 0) -> None:
        self.now = now
        self.t_heal = t_heal
        self.settle_bound = s(30)
        self.model_config = None
        self.stats = stats
        self.calls = 0

    def statistics(self) -> Stats | None:
        self.calls += 1
        return self.stats


def facts(now: int = s(100), stats: Stats | None = None, t_heal: int | None = 0) -> Facts:
    return Facts(FakeDriver(now, stats, t_heal))  # type: ignore[arg-type]


def feed(monitor: Monitor, *records: TraceRecord) -> Monitor:
    fresh = monitor.fresh()
    for r in records:
        fresh.observe(r)
    return fresh


def _issued(r: TraceRecord) -> Any:
    return r.data.get("id") if r.type == "Call" else None


def _settled(r: TraceRecord) -> Any:
    return r.data.get("id") if r.type == "Reply" else None


ONCE = SettlesOnce("t.once", "each call settles once", issued=_issued, settled=_settled)
WITHIN = SettlesWithin("t.within", "each call settles within 5s", issued=_issued,
                       settled=_settled, bound=s(5))


def test_settles_once() -> None:
    ok = feed(ONCE, rec(1, "Call", id=1), rec(2, "Reply", id=1))
    assert ok.judge(facts()) is None
    twice = feed(ONCE, rec(1, "Call", id=1), rec(2, "Reply", id=1), rec(3, "Reply", id=1))
    assert "settled twice" in (twice.judge(facts()) or "")
    phantom = feed(ONCE, rec(2, "Reply", id=9))
    assert "never issued" in (phantom.judge(facts()) or "")


def test_fresh_copies_keep_separate_books() -> None:
    a = feed(ONCE, rec(1, "Call", id=1), rec(2, "Reply", id=1), rec(3, "Reply", id=1))
    b = ONCE.fresh()
    assert a.judge(facts()) is not None and b.judge(facts()) is None


def test_settles_within() -> None:
    assert feed(WITHIN, rec(0, "Call", id=1), rec(s(4), "Reply", id=1)).judge(facts()) is None
    late = feed(WITHIN, rec(0, "Call", id=1), rec(s(6), "Reply", id=1)).judge(facts())
    assert late is not None and "took 6s" in late
    hung = feed(WITHIN, rec(0, "Call", id=1))
    assert hung.judge(facts(now=s(4))) is None  # not yet overdue
    assert "never settled" in (hung.judge(facts(now=s(5))) or "")
    excused = SettlesWithin("t.x", "x", issued=_issued, settled=_settled, bound=s(5),
                            excused=lambda f, key: key == 1)
    assert feed(excused, rec(0, "Call", id=1)).judge(facts()) is None


def test_maps_empty_reads_statistics() -> None:
    m = MapsEmpty("t.maps", "no leaks", maps=lambda st: st.maps)
    clean = Stats({"calls": 0, "streams": 0}, 0, {}, {})
    leaky = Stats({"calls": 0, "streams": 2}, 0, {}, {})
    assert m.judge(facts(stats=clean)) is None
    assert m.judge(facts(stats=leaky)) == "maps not empty after settling: streams=2"


def test_converges() -> None:
    m = Converges("t.conv", "caches converge", source=lambda st: st.source,
                  replicas=lambda st: st.replicas)
    assert m.judge(facts(stats=Stats({}, 3, {"tab1": 3, "tab2": 3}, {}))) is None
    assert m.judge(facts(stats=Stats({}, 3, {"tab1": 3, "tab2": 2}, {}))) == (
        "tab2 holds 2, the source holds 3")


def test_sessions_per_key_at_most_and_exactly_one() -> None:
    at_most = SessionsPerKey("t.one", "one", sessions=lambda st: st.sessions)
    exactly = SessionsPerKey("t.exactly", "exactly", sessions=lambda st: st.sessions,
                             required=lambda st: ["u1", "u2"])
    assert at_most.kind == "safety" and exactly.kind == "liveness"
    two = Stats({}, 0, {}, {"u1": ["s1", "s2"], "u2": ["s3"]})
    none = Stats({}, 0, {}, {"u1": ["s1"], "u2": []})
    good = Stats({}, 0, {}, {"u1": ["s1"], "u2": ["s3"]})
    assert "u1 has 2 connected sessions" in (at_most.judge(facts(stats=two)) or "")
    assert at_most.judge(facts(stats=none)) is None
    assert "u2 has no connected session" in (exactly.judge(facts(stats=none)) or "")
    assert exactly.judge(facts(stats=good)) is None


def _sent(r: TraceRecord) -> Any:
    return (r.data["s"], r.data["n"]) if r.type == "Send" else None


def _got(r: TraceRecord) -> Any:
    return (r.data["s"], r.data["n"]) if r.type == "Deliver" else None


@pytest.mark.parametrize(("delivered", "problem"), [
    ([1, 2, 3], None),
    ([1, 3], None),  # a loss is not an order violation
    ([1, 1], "delivered n=1 twice"),
    ([2, 1], "delivered n=1 after n=2"),
    ([7], "never sent"),
])
def test_in_order(delivered: list[int], problem: str | None) -> None:
    m = InOrder("t.order", "in order", sent=_sent, delivered=_got)
    records = [rec(i, "Send", s="c1", n=i) for i in (1, 2, 3)]
    records += [rec(10 + i, "Deliver", s="c1", n=n) for i, n in enumerate(delivered)]
    judged = feed(m, *records).judge(facts())
    assert judged is None if problem is None else problem in (judged or "")


def test_lossless_in_order_is_judged_after_settling() -> None:
    m = InOrder("t.lossless", "no loss", sent=_sent, delivered=_got, lossless=True)
    fed = feed(m, rec(1, "Send", s="c1", n=1), rec(2, "Send", s="c1", n=2),
               rec(3, "Deliver", s="c1", n=1))
    assert fed.judge(facts(t_heal=None)) is None
    assert "n=[2] sent but never delivered" in (fed.judge(facts()) or "")


def test_herd_dispersal() -> None:
    m = HerdDispersal("t.herd", "dispersed",
                      dropped=lambda r: r.data["clients"] if r.type == "Drop" else None,
                      arrival=lambda r: r.actor if r.type == "Arrive" else None,
                      woken=lambda r: r.actor if r.type == "Wake" else None, window=ms(1))
    herd = rec(0, "Drop", clients=["a", "b", "c", "d"])
    lockstep = [rec(s(1), "Arrive", actor=x) for x in "abcd"]
    spread = [rec(s(1 + i), "Arrive", actor=x) for i, x in enumerate("abcd")]
    assert "3 came back within 0us" in (feed(m, herd, *lockstep).judge(facts()) or "")
    assert feed(m, herd, *spread).judge(facts()) is None
    woke = [rec(ms(500), "Wake", actor="a"), rec(ms(500), "Wake", actor="b")]
    assert feed(m, herd, *woke, *lockstep).judge(facts()) is None


def test_sometimes_says_what_was_reached() -> None:
    m = Sometimes("t.some", "a drop happened", when=lambda r: r.type == "Drop")
    assert m.kind == "sometimes"
    assert feed(m, rec(1, "Send", s="x", n=1)).judge(facts()) is None
    assert feed(m, rec(ms(1500), "Drop")).judge(facts()) == "a Drop at 1.500s"


def test_sometimes_with_types_is_handed_only_those_records() -> None:
    from gatewaysim.simulator.messages import Note, Send
    from gatewaysim.simulator.trace import Trace

    asked: list[str] = []

    def when(r: TraceRecord) -> bool:
        asked.append(r.type)
        return r.data.get("event") == "drop"

    m = Sometimes("t.some", "a drop was noted", when=when, types={"Note"}).fresh()
    assert m.record_types == frozenset({"Note"})
    trace = Trace(keep=False, hashed=False)
    trace.listen(m.observe, m.record_types)
    trace.emit_value(1, "a", "out", Send("c", "drop"))
    trace.emit_value(2, "a", "out", Note("state"))
    trace.emit_value(3, "a", "out", Note("drop"))
    assert asked == ["Note", "Note"]
    assert m.judge(facts()) == "a Note at 0.000s"


class _Counting(Monitor):
    def reset(self) -> None:
        self.seen: list[int] = []

    def observe(self, record: TraceRecord) -> None:
        self.seen.append(record.t)


class _Slotted(_Counting):
    def __copy__(self) -> _Slotted:
        twin = _Slotted(self.id, self.statement, self.kind)
        twin.copied_by_hook = True
        return twin


def test_fresh_copies_are_what_copy_copy_makes() -> None:
    template = _Counting("t.count", "counts", "safety", doc="d")
    template.extra = {"k": 1}
    twin = template.fresh()
    assert type(twin) is _Counting and twin is not template
    assert (twin.id, twin.statement, twin.kind, twin.doc) == ("t.count", "counts", "safety", "d")
    assert twin.extra is template.extra  # shallow, as copy.copy is
    twin.observe(rec(1, "X"))
    assert twin.seen == [1] and template.seen == []
    hooked = _Slotted("t.hook", "counts", "safety").fresh()
    assert getattr(hooked, "copied_by_hook", False)  # a class's own __copy__ is honoured


def test_statistics_are_taken_once_per_judgement() -> None:
    driver = FakeDriver(0, Stats({}, 1, {"r": 1}, {}))
    shared = Facts(driver)  # type: ignore[arg-type]
    for _ in range(3):
        Converges("t.c", "c", source=lambda st: st.source,
                  replicas=lambda st: st.replicas).judge(shared)
    assert driver.calls == 1


def test_a_check_is_a_function_of_facts() -> None:
    late = Check("t.now", "before 10s", "safety",
                 lambda f: "too late" if f.now >= s(10) else None)
    assert late.judge(facts(now=s(9))) is None and late.judge(facts(now=s(10))) == "too late"


@pytest.mark.parametrize(("args", "match"), [
    (("bad id", "x", "safety"), "one word"),
    (("ok", "x", "eventually"), "kind must be one of"),
])
def test_bad_declarations_are_refused(args: tuple[str, str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Monitor(*args)  # type: ignore[arg-type]
