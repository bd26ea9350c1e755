"""Virtual time: integer microseconds, helpers to build them and to read and print them.

Floats never enter the clock: two runs that add the same integers reach the same instant,
on any machine, which is what makes a trace hash reproducible.
"""

from __future__ import annotations

import re

from .errors import ConfigError

Time = int
"""A point or span of virtual time, in microseconds."""

US: Time = 1
MS: Time = 1_000
SECOND: Time = 1_000_000
MINUTE: Time = 60 * SECOND
HOUR: Time = 60 * MINUTE


def us(n: int) -> Time:
    return int(n)


def ms(n: float) -> Time:
    return round(n * MS)


def s(n: float) -> Time:
    return round(n * SECOND)


def minutes(n: float) -> Time:
    return round(n * MINUTE)


def hours(n: float) -> Time:
    return round(n * HOUR)


_UNITS = {"us": US, "ms": MS, "s": SECOND, "m": MINUTE, "h": HOUR}
_DURATION = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,6})?)\s*(us|ms|s|m|h)\s*$")

MAX_DURATION: Time = 7 * 24 * HOUR
"""The longest span a user may ask for, of virtual time (``run --duration``) or of wall time
(``explore --budget``): one rule for both, so neither can be asked to run for ever."""


def parse_duration(text: str) -> Time:
    """Parse ``250ms``, ``5s``, ``1.5s``, ``10m``, ``1h`` (or ``42us``) into microseconds.

    Raises :class:`ConfigError` with a message fit to show a user as it is.
    """
    shown = str(text) if len(str(text)) <= 40 else str(text)[:37] + "..."
    match = _DURATION.match(str(text))
    if match is None:
        raise ConfigError(
            f"bad duration {shown!r}: expected a number and a unit (us, ms, s, m, h), "
            "e.g. 250ms, 5s, 1h"
        )
    value, unit = match.groups()
    whole, _, frac = value.partition(".")
    # Exact integer arithmetic: no float rounding, no overflow on a long number.
    result = (int(whole) * _UNITS[unit]) + (int(frac or "0") * _UNITS[unit]) // 10 ** len(frac)
    if result <= 0:
        raise ConfigError(f"bad duration {shown!r}: must be greater than zero")
    if result > MAX_DURATION:
        raise ConfigError(f"bad duration {shown!r}: longer than a week "
                          f"({format_duration(MAX_DURATION)})")
    return result


def format_time(t: Time) -> str:
    """Seconds with millisecond precision, the way timelines print time: ``12.345s``."""
    sign = "-" if t < 0 else ""
    t = abs(t)
    return f"{sign}{t // SECOND}.{(t % SECOND) // MS:03d}s"


def format_duration(t: Time) -> str:
    """A compact human span: ``250ms``, ``5s``, ``1m30s``, ``2h``."""
    if t < MS:
        return f"{t}us"
    if t < SECOND:
        return f"{t / MS:g}ms"
    if t < MINUTE:
        return f"{t / SECOND:g}s"
    h, rest = divmod(t, HOUR)
    m, rest = divmod(rest, MINUTE)
    sec = rest / SECOND
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{sec:g}s" if sec else ""]
    return "".join(parts)
