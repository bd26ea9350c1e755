"""A trace as a text timeline a person can read in a terminal: one line per happening.

    12.345s  alice            ws closed alice:ws1 1006 "dropped" (abnormal)

The default rendering knows no model. It shows what explains a run: notes, faults, the
life of connections (requested, opened, closed, rejected), HTTP exchanges, alarms, and
inputs or frames the kernel lost. Timers, raw messages and starts are noise at this
level and are shown only with ``verbose=True``.

Times and spans are printed as a person reads them: a record field the kernel or the
usual note vocabulary defines as a span of microseconds (``latency``, ``jitter``,
``retry_after``, ``delay``, ``*_us``) prints as a duration (``80ms``), a field that is an
instant (``t_heal``) as a time (``60.000s``). Only the text changes: records and trace
hashes are what they were.

A model pack knows better what its records mean, so :func:`render_timeline` takes an
optional ``describe(record)``: a string is printed as it is, ``""`` hides the record, and
``None`` falls back to the default. Packs describe their own notes and inputs and leave
the kernel's records to the default.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from .clock import Time, format_duration, format_time
from .messages import CLOSE_ABNORMAL
from .trace import FAULT, IN, OUT, SYS, TraceRecord

Describe = Callable[[TraceRecord], "str | None"]
"""A pack's record describer: text to print, ``""`` to hide, ``None`` for the default."""

ACTOR_WIDTH = 16
TIME_WIDTH = 9
MAX_VALUE = 60  # characters of one data value before it is cut with "…"


def format_line(t: Time, actor: str, text: str) -> str:
    """One timeline line: time right-aligned, the actor in a column, then the text."""
    return f"{format_time(t):>{TIME_WIDTH}}  {actor:<{ACTOR_WIDTH}} {text}"


def _value(value: Any) -> str:
    if isinstance(value, str):
        text = value if value and " " not in value else repr(value)
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}={_value(v)}" for k, v in value.items()) + "}"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(_value(v) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


DURATION_KEYS = frozenset(("latency", "jitter", "retry_after", "delay", "timeout",
                           "grace", "backoff", "interval"))
"""Data fields holding a span of virtual time in microseconds (printed ``80ms``)."""
INSTANT_KEYS = frozenset(("t_heal",))
"""Data fields holding an instant of virtual time in microseconds (printed ``60.000s``)."""


def _timed(key: str, value: Any) -> str | None:
    """``value`` as a duration or an instant if ``key`` names one, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if key in INSTANT_KEYS:
        return format_time(value)
    if key in DURATION_KEYS or key.endswith("_us"):
        return format_duration(value) if value else "0s"
    return None


def compact(data: dict[str, Any]) -> str:
    """``k=v k=v`` for a record's data, short enough for one line; times in seconds."""
    return " ".join(f"{k}={_timed(k, v) or _value(v)}" for k, v in data.items())


def _with(text: str, extra: str) -> str:
    return f"{text} {extra}" if extra else text


def _reason(reason: Any) -> str:
    return f" {json.dumps(reason, ensure_ascii=False)}" if reason else ""


# --------------------------------------------------------------------------- per type
def _note(d: dict) -> str:
    return _with(str(d.get("event", "")), compact(d.get("data") or {}))


def _ws_closed(d: dict) -> str:
    code = d.get("code")
    abnormal = not d.get("clean", True) or code == CLOSE_ABNORMAL
    return f"ws closed {d.get('conn')} {code}{_reason(d.get('reason'))}" + (
        " (abnormal)" if abnormal else "")


def _ws_rejected(d: dict) -> str:
    return f"ws rejected {d.get('conn')} status {d.get('status')}{_reason(d.get('reason'))}"


def _http_request(d: dict) -> str:
    return f"http {d.get('method')} {d.get('to')}{d.get('path')} ({d.get('req')})"


def _alarm_sys(type_: str, d: dict) -> str:
    what = type_.removeprefix("alarm.").replace("_", " ")
    if type_ == "alarm.retry":
        return f"alarm retry {d.get('retry')} at {format_time(d.get('at', 0))}: {d.get('error')}"
    if type_ == "alarm.gave_up":
        return f"alarm gave up after {d.get('retries')} retries"
    if type_ == "alarm.failed":
        return f"alarm failed: {d.get('error')}"
    return _with(f"alarm {what}", compact(d))


_IN: dict[str, Callable[[dict], str]] = {
    "ConnectRequested": lambda d: f"connect requested {d.get('conn')} from {d.get('peer')}",
    "WsOpened": lambda d: f"ws opened {d.get('conn')}",
    "WsClosed": _ws_closed,
    "WsRejected": _ws_rejected,
    "HttpResponse": lambda d: f"http response {d.get('status')} ({d.get('req')})",
    "HttpFailed": lambda d: f"http failed ({d.get('req')}): {d.get('reason')}",
    "AlarmFired": lambda d: "alarm fired" + (
        f" (retry {d['retry_count']})" if d.get("retry_count") else ""),
}

_OUT: dict[str, Callable[[dict], str]] = {
    "Note": _note,
    "HttpRequest": _http_request,
    "SetAlarm": lambda d: f"set alarm for {format_time(d.get('at', 0))}",
    "DeleteAlarm": lambda d: "delete alarm",
    "CloseConnection": lambda d: f"close {d.get('conn')} {d.get('code')}{_reason(d.get('reason'))}",
    "RejectConnection": lambda d: (
        f"reject {d.get('conn')} status {d.get('status')}{_reason(d.get('reason'))}"),
}

_SYS: dict[str, Callable[[dict], str]] = {
    "input.lost": lambda d: f"lost {d.get('input')}: {d.get('why')}",
    "frame.lost": lambda d: f"frame lost on {d.get('conn')}: {d.get('why')}",
}


def describe_default(rec: TraceRecord) -> str | None:
    """The model-free description of a record, or ``None`` if it is noise."""
    kind, type_, data = rec.kind, rec.type, rec.data
    fn: Callable[[dict], str] | None
    if kind == OUT:
        fn = _OUT.get(type_)
    elif kind == IN:
        fn = _IN.get(type_)
    elif kind == FAULT:
        return _with(f"FAULT {type_}", compact(data))
    elif kind == SYS:
        if type_.startswith("alarm."):
            return _alarm_sys(type_, data)
        fn = _SYS.get(type_)
    else:
        fn = None
    return fn(data) if fn is not None else None


def describe_verbose(rec: TraceRecord) -> str:
    """Every record: the default description, or ``kind type k=v ...`` for the rest."""
    text = describe_default(rec)
    if text is not None:
        return text
    return _with(f"{rec.kind} {rec.type}", compact(rec.data))


def render_timeline(
    records: Iterable[TraceRecord],
    describe: Describe | None = None,
    verbose: bool = False,
    limit: int | None = None,
) -> str:
    """The timeline of ``records`` as text, one line per shown record (no final newline).

    ``limit`` caps the number of lines; if more would follow, a last line says the
    timeline was cut, so a reader never mistakes a cut timeline for a short run.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be zero or more, not {limit}")
    fallback = describe_verbose if verbose else describe_default
    lines: list[str] = []
    for rec in records:
        text = describe(rec) if describe is not None else None
        if text is None:
            text = fallback(rec)
        if not text:
            continue
        if limit is not None and len(lines) >= limit:
            lines.append(f"{'':>{TIME_WIDTH}}  … timeline cut after {limit} lines")
            break
        lines.append(format_line(rec.t, rec.actor, text))
    return "\n".join(lines)


__all__ = [
    "Describe",
    "compact",
    "describe_default",
    "describe_verbose",
    "format_line",
    "render_timeline",
]
