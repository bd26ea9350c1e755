"""The determinism guard: model code that reaches for real nondeterminism fails loudly.

While the world runs a node's ``handle``, the wall clock (``time.time`` and friends),
the *global* ``random`` functions, ``os.urandom``, ``uuid.uuid1/uuid4`` and
``threading.Thread.start`` raise :class:`DeterminismError` naming the call site. Seeded
``random.Random`` instances (what ``ctx.rng`` is) are untouched.

The patches are installed once per process and cost one flag test per call when the
guard is not active, so library code (Hypothesis times its own runs) is unaffected
outside model code. A name bound with ``from time import time`` before installation is
out of reach; models should use the ``now`` they are handed.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from .errors import DeterminismError

_state = {"active": 0}
_installed = False

_TIME_FUNCS = ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter",
               "perf_counter_ns", "sleep")
_RANDOM_FUNCS = ("random", "randint", "randrange", "choice", "choices", "shuffle", "sample",
                 "uniform", "gauss", "getrandbits", "randbytes", "seed")


def _call_site() -> str:
    frame = sys._getframe(2)
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def _wrap(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if _state["active"]:
            raise DeterminismError(
                f"{name}() called inside a simulated model at {_call_site()}; "
                "use the virtual time and ctx.rng the simulator provides"
            )
        return original(*args, **kwargs)

    guarded.__wrapped__ = original  # type: ignore[attr-defined]
    guarded.__name__ = getattr(original, "__name__", name)
    return guarded


def install() -> None:
    """Patch the nondeterministic entry points (idempotent)."""
    global _installed
    if _installed:
        return
    for fn in _TIME_FUNCS:
        setattr(time, fn, _wrap(f"time.{fn}", getattr(time, fn)))
    for fn in _RANDOM_FUNCS:
        setattr(random, fn, _wrap(f"random.{fn}", getattr(random, fn)))
    os.urandom = _wrap("os.urandom", os.urandom)
    uuid.uuid1 = _wrap("uuid.uuid1", uuid.uuid1)
    uuid.uuid4 = _wrap("uuid.uuid4", uuid.uuid4)
    threading.Thread.start = _wrap("threading.Thread.start", threading.Thread.start)
    _installed = True


class active:
    """Context manager: the guard raises while inside. Nests."""

    __slots__ = ()

    def __enter__(self) -> None:
        _state["active"] += 1

    def __exit__(self, *exc: object) -> None:
        _state["active"] -= 1


def enter() -> None:
    _state["active"] += 1


def leave() -> None:
    _state["active"] -= 1


def is_active() -> bool:
    return bool(_state["active"])
