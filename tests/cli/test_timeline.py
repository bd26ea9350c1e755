"""The text timeline on hand-made records: what is shown, what is hidden, how it reads."""

from __future__ import annotations

import pytest

from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.timeline import describe_default, format_line, render_timeline
from gatewaysim.simulator.trace import FAULT, IN, OUT, SYS, TraceRecord


def rec(t: int, actor: str, kind: str, type_: str, **data: object) -> TraceRecord:
    return TraceRecord(t, 0, actor, kind, type_, dict(data))


def test_format_line_aligns_time_and_actor() -> None:
    line = format_line(s(12) + ms(345), "actor", "what happened")
    assert line == "  12.345s  actor            what happened"
    assert format_line(0, "a", "x").index("x") == line.index("what")


def test_long_actor_still_separates_from_the_text() -> None:
    line = format_line(0, "gateway/a-very-long-name", "opened")
    assert "gateway/a-very-long-name opened" in line


@pytest.mark.parametrize(("record", "expected"), [
    (rec(0, "alice", OUT, "Note", event="connected", data={}), "connected"),
    (rec(0, "alice", OUT, "Note", event="reconnect.scheduled", data={"delay": ms(250)}),
     "reconnect.scheduled delay=250ms"),
    (rec(0, "world", FAULT, "slow_link", a="bob", b="echo", latency=ms(80), jitter=ms(60),
         both=True), "FAULT slow_link a=bob b=echo latency=80ms jitter=60ms both=True"),
    (rec(0, "world", FAULT, "settle", t_heal=s(60)), "FAULT settle t_heal=60.000s"),
    (rec(0, "world", FAULT, "rate_limit", host="api", requests=2, retry_after=s(1)),
     "FAULT rate_limit host=api requests=2 retry_after=1s"),
    (rec(0, "world", FAULT, "drop", conn="alice:ws1"), "FAULT drop conn=alice:ws1"),
    (rec(0, "world", FAULT, "crash", host="gw"), "FAULT crash host=gw"),
    (rec(0, "gw", IN, "ConnectRequested", conn="a:ws1", peer="a", request={}),
     "connect requested a:ws1 from a"),
    (rec(0, "a", IN, "WsOpened", conn="a:ws1", response={}), "ws opened a:ws1"),
    (rec(0, "a", IN, "WsClosed", conn="a:ws1", code=1006, reason="dropped", clean=False),
     'ws closed a:ws1 1006 "dropped" (abnormal)'),
    (rec(0, "a", IN, "WsClosed", conn="a:ws1", code=1000, reason="", clean=True),
     "ws closed a:ws1 1000"),
    (rec(0, "a", IN, "WsRejected", conn="a:ws2", status=401, reason="token expired"),
     'ws rejected a:ws2 status 401 "token expired"'),
    (rec(0, "a", OUT, "HttpRequest", req="a:r1", to="auth", method="POST", path="/refresh",
         headers={}, body=None, timeout=None), "http POST auth/refresh (a:r1)"),
    (rec(0, "a", IN, "HttpResponse", req="a:r1", status=200, body=None),
     "http response 200 (a:r1)"),
    (rec(0, "a", IN, "HttpFailed", req="a:r1", reason="timeout"), "http failed (a:r1): timeout"),
    (rec(0, "gw", IN, "AlarmFired", retry_count=0), "alarm fired"),
    (rec(0, "gw", IN, "AlarmFired", retry_count=2), "alarm fired (retry 2)"),
    (rec(0, "gw", OUT, "SetAlarm", at=s(5)), "set alarm for 5.000s"),
    (rec(0, "gw", OUT, "DeleteAlarm"), "delete alarm"),
    (rec(0, "gw", SYS, "alarm.retry", retry=1, at=s(2), error="KeyError: 'x'"),
     "alarm retry 1 at 2.000s: KeyError: 'x'"),
    (rec(0, "gw", SYS, "alarm.gave_up", retries=6), "alarm gave up after 6 retries"),
    (rec(0, "gw", SYS, "alarm.deferred"), "alarm deferred"),
    (rec(0, "gw", SYS, "input.lost", input="WsMessage", why="host down"),
     "lost WsMessage: host down"),
    (rec(0, "a", SYS, "frame.lost", conn="a:ws1", why="partitioned"),
     "frame lost on a:ws1: partitioned"),
])
def test_default_descriptions(record: TraceRecord, expected: str) -> None:
    assert describe_default(record) == expected


@pytest.mark.parametrize("record", [
    rec(0, "a", IN, "TimerFired", key="send"),
    rec(0, "a", OUT, "SetTimer", key="send", at=5),
    rec(0, "a", OUT, "Send", conn="a:ws1", data={"n": 1}),
    rec(0, "a", IN, "WsMessage", conn="a:ws1", data={"n": 1}),
    rec(0, "a", IN, "Start", incarnation=0),
])
def test_noise_is_hidden_by_default_and_shown_when_verbose(record: TraceRecord) -> None:
    assert describe_default(record) is None
    assert render_timeline([record]) == ""
    verbose = render_timeline([record], verbose=True)
    assert record.type in verbose and record.actor in verbose


def test_render_orders_lines_as_records_and_formats_each() -> None:
    records = [
        rec(0, "world", FAULT, "partition", a="a", b="gw", one_way=False),
        rec(ms(10), "a", IN, "TimerFired", key="ping"),
        rec(s(1) + ms(5), "a", IN, "WsClosed", conn="a:ws1", code=1006, reason="partitioned",
            clean=False),
    ]
    assert render_timeline(records).splitlines() == [
        "   0.000s  world            FAULT partition a=a b=gw one_way=False",
        '   1.005s  a                ws closed a:ws1 1006 "partitioned" (abnormal)',
    ]


def test_pack_describer_overrides_hides_and_falls_back() -> None:
    records = [
        rec(0, "a", OUT, "Note", event="state", data={"to": "ready"}),
        rec(1, "a", IN, "TimerFired", key="heartbeat"),
        rec(2, "a", IN, "WsOpened", conn="a:ws1", response={}),
        rec(3, "a", OUT, "Note", event="debug", data={}),
    ]

    def describe(r: TraceRecord) -> str | None:
        if r.type == "Note" and r.data["event"] == "state":
            return f"now {r.data['data']['to']}"
        if r.type == "TimerFired":
            return f"heartbeat due ({r.data['key']})"
        if r.type == "Note" and r.data["event"] == "debug":
            return ""
        return None

    texts = [line.split(maxsplit=2)[2] for line in
             render_timeline(records, describe=describe).splitlines()]
    assert texts == ["now ready", "heartbeat due (heartbeat)", "ws opened a:ws1"]


def test_limit_cuts_and_says_so() -> None:
    records = [rec(s(i), "world", FAULT, "heal", a=None, b=None) for i in range(10)]
    lines = render_timeline(records, limit=3).splitlines()
    assert len(lines) == 4
    assert lines[2].startswith("   2.000s")
    assert "cut after 3 lines" in lines[3]
    assert "cut" not in render_timeline(records, limit=10)


def test_long_values_are_shortened_to_keep_one_line() -> None:
    record = rec(0, "a", OUT, "Note", event="payload", data={"body": "x" * 500})
    text = render_timeline([record])
    assert "\n" not in text
    assert len(text) < 120
    assert text.endswith("…")


def test_a_large_timeline_renders(  # size, not speed: speed is measured in benchmarks/
) -> None:
    records = [rec(i * 1000, f"c{i % 50}", IN, "WsOpened", conn=f"c{i}:ws1", response={})
               for i in range(20_000)]
    lines = render_timeline(records).splitlines()
    assert len(lines) == 20_000
    assert lines[-1].endswith("ws opened c19999:ws1")
