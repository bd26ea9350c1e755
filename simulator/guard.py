"""The determinism guard: model code that reaches for real nondeterminism fails loudly.

While the world runs a node's ``handle``, builds a node, or runs a callback scheduled with
``world.schedule``, the wall clock (``time.time`` and friends, ``time.clock_gettime``,
``time.localtime()`` with no argument), the *global* ``random`` functions, an unseeded
``random.Random()``, ``os.urandom`` and ``os.getrandom`` (and ``SystemRandom``/``secrets``,
which draw from them), ``uuid.uuid1/uuid4``, ``threading.Thread.start`` and
``_thread.start_new_thread`` raise :class:`DeterminismError` naming the model's file and
line (the first frame outside the standard library, so a clock read through ``secrets``,
a ``ThreadPoolExecutor`` or asyncio names the model's call, not the library's). Seeded
``random.Random`` instances (what ``ctx.rng`` is) are untouched.

The patches are installed once per process and cost one flag test per call when the
guard is not active, so library code (Hypothesis times its own runs) is unaffected
outside model code. A name bound with ``from time import time`` before installation is
out of reach, and so is ``datetime.now()`` (a C type cannot be patched); models should
use the ``now`` they are handed.
"""

from __future__ import annotations

import _thread
import os
import random
import sys
import sysconfig
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from .errors import DeterminismError

_state: dict[str, Any] = {"active": 0, "thread": None}
"""``active``: the depth counter the world bumps inline; ``thread``: the ident of the thread
that builds and runs worlds (the last one to call :func:`install`). Only that thread is
guarded: a library's own threads (a Jupyter kernel's I/O loop, its heartbeat) keep their
clocks while a model runs."""
_installed = False

_TIME_FUNCS = ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter",
               "perf_counter_ns", "process_time", "process_time_ns", "thread_time",
               "thread_time_ns", "sleep", "clock_gettime", "clock_gettime_ns")
# These read the clock only when their time argument (at this position) is left out.
_CLOCK_DEFAULT_FUNCS = {"localtime": 0, "gmtime": 0, "ctime": 0, "asctime": 0, "strftime": 1}
_RANDOM_FUNCS = ("random", "randint", "randrange", "choice", "choices", "shuffle", "sample",
                 "uniform", "gauss", "getrandbits", "randbytes", "seed")


_THIS_FILE = os.path.normcase(os.path.abspath(__file__))
_STDLIB = tuple(
    os.path.normcase(os.path.abspath(p)) + os.sep
    for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
)


def _outside(filename: str) -> bool:
    """A frame of the caller's own code: not this module, not the standard library."""
    if filename.startswith("<"):  # <frozen ...>, <string>: the interpreter's own
        return filename == "<string>" or filename.startswith("<ipython")
    path = os.path.normcase(os.path.abspath(filename))
    return path != _THIS_FILE and not path.startswith(_STDLIB)


def _call_site() -> str:
    """The first frame outside this module and the standard library: the model's line (a
    model that reaches the clock through ``secrets``, a ``ThreadPoolExecutor`` or asyncio is
    named, not the library line that finally read it)."""
    frame = sys._getframe(2)
    while frame.f_back is not None and not _outside(frame.f_code.co_filename):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def _raise(name: str) -> None:
    raise DeterminismError(
        f"{name}() called inside a simulated model at {_call_site()}; "
        "use the virtual time and ctx.rng the simulator provides"
    )


def _wrap(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if _state["active"] and _thread.get_ident() == _state["thread"]:
            _raise(name)
        return original(*args, **kwargs)

    guarded.__wrapped__ = original  # type: ignore[attr-defined]
    guarded.__name__ = getattr(original, "__name__", name)
    return guarded


def _wrap_clock_default(name: str, original: Callable[..., Any], at: int) -> Callable[..., Any]:
    """``time.localtime()`` and friends read the clock only when given no time."""

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if (_state["active"] and _thread.get_ident() == _state["thread"]
                and (len(args) <= at or args[at] is None)):
            _raise(name)
        return original(*args, **kwargs)

    guarded.__wrapped__ = original  # type: ignore[attr-defined]
    guarded.__name__ = getattr(original, "__name__", name)
    return guarded


def _wrap_seed(original: Callable[..., Any]) -> Callable[..., Any]:
    """``random.Random()`` with no seed draws one from the OS: refuse it inside a model."""

    def seed(self: random.Random, a: Any = None, version: int = 2) -> None:
        if (_state["active"] and _thread.get_ident() == _state["thread"] and a is None
                and type(self) is not random.SystemRandom):
            _raise("random.Random")
        original(self, a, version)

    seed.__wrapped__ = original  # type: ignore[attr-defined]
    return seed


def install() -> None:
    """Patch the nondeterministic entry points (idempotent)."""
    global _installed
    _state["thread"] = _thread.get_ident()
    if _installed:
        return
    for fn in _TIME_FUNCS:
        if hasattr(time, fn):
            setattr(time, fn, _wrap(f"time.{fn}", getattr(time, fn)))
    for fn, at in _CLOCK_DEFAULT_FUNCS.items():
        setattr(time, fn, _wrap_clock_default(f"time.{fn}", getattr(time, fn), at))
    for fn in _RANDOM_FUNCS:
        setattr(random, fn, _wrap(f"random.{fn}", getattr(random, fn)))
    random.Random.seed = _wrap_seed(random.Random.seed)  # type: ignore[method-assign]
    os.urandom = _wrap("os.urandom", os.urandom)  # wall-clock-ok: the guard itself
    if hasattr(os, "getrandom"):
        os.getrandom = _wrap("os.getrandom", os.getrandom)  # wall-clock-ok: the guard itself
    if hasattr(random, "_urandom"):  # what SystemRandom and secrets draw from
        random._urandom = _wrap(  # type: ignore[attr-defined]
            "os.urandom", random._urandom)  # wall-clock-ok: the guard itself
    uuid.uuid1 = _wrap("uuid.uuid1", uuid.uuid1)
    uuid.uuid4 = _wrap("uuid.uuid4", uuid.uuid4)
    threading.Thread.start = _wrap(  # type: ignore[method-assign]
        "threading.Thread.start",
        threading.Thread.start)  # wall-clock-ok: the guard itself
    _thread.start_new_thread = _wrap(  # type: ignore[assignment]
        "_thread.start_new_thread", _thread.start_new_thread)  # wall-clock-ok: the guard itself
    if hasattr(_thread, "start_new"):
        _thread.start_new = _thread.start_new_thread  # type: ignore[attr-defined]
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
