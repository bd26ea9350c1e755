"""The determinism guard names the model's own line, and only acts inside a run."""

from __future__ import annotations

import _thread
import asyncio
import os
import random
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gatewaysim.simulator import DeterminismError, World, guard
from gatewaysim.simulator.clock import Time, s
from gatewaysim.simulator.messages import AlarmFired, Effect, Input, Note, SetAlarm

from .nodes import Do, Recorder, two_hosts

HERE = Path(__file__)


def line_of(marker: str) -> int:
    """The line in this file that carries ``marker`` in a comment."""
    for n, text in enumerate(HERE.read_text().splitlines(), start=1):
        if text.rstrip().endswith(f"# {marker}"):
            return n
    raise AssertionError(marker)


def read_clock() -> object:
    return time.time()  # guard:time


def global_random() -> object:
    return random.random()  # guard:random


def new_uuid() -> object:
    return uuid.uuid4()  # guard:uuid4


def urandom() -> object:
    return os.urandom(8)  # guard:urandom


def start_thread() -> object:
    threading.Thread(target=lambda: None).start()  # guard:thread
    return None


def unseeded_random() -> object:
    return random.Random().random()  # guard:Random


def local_time() -> object:
    return time.localtime()  # guard:localtime


def clock_gettime() -> object:
    return time.clock_gettime(time.CLOCK_MONOTONIC)  # guard:clock_gettime


def clock_gettime_ns() -> object:
    return time.clock_gettime_ns(time.CLOCK_REALTIME)  # guard:clock_gettime_ns


def getrandom() -> object:
    return os.getrandom(8)  # guard:getrandom


def raw_thread() -> object:
    return _thread.start_new_thread(lambda: None, ())  # guard:start_new_thread


def secret_token() -> object:
    return secrets.token_hex(4)  # guard:secrets


def thread_pool() -> object:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(int).result()  # guard:pool


def event_loop() -> object:
    loop = asyncio.new_event_loop()
    try:
        return loop.time()  # guard:asyncio
    finally:
        loop.close()


CASES: list[tuple[str, Callable[[], object], str]] = [
    ("time.time", read_clock, "guard:time"),
    ("random.random", global_random, "guard:random"),
    ("uuid.uuid4", new_uuid, "guard:uuid4"),
    ("os.urandom", urandom, "guard:urandom"),
    ("threading.Thread.start", start_thread, "guard:thread"),
    ("random.Random", unseeded_random, "guard:Random"),
    ("time.localtime", local_time, "guard:localtime"),
    ("time.clock_gettime", clock_gettime, "guard:clock_gettime"),
    ("time.clock_gettime_ns", clock_gettime_ns, "guard:clock_gettime_ns"),
    ("os.getrandom", getrandom, "guard:getrandom"),
    ("_thread.start_new_thread", raw_thread, "guard:start_new_thread"),
]

# Reached through the standard library: the error still names the model's own line.
INDIRECT: list[tuple[Callable[[], object], str]] = [
    (secret_token, "guard:secrets"),
    (thread_pool, "guard:pool"),
    (event_loop, "guard:asyncio"),
]


def calling(fn: Callable[[], object]) -> Callable[[Time, Input], list[Effect]]:
    def react(now: Time, inp: Input) -> list[Effect]:
        fn()
        return []

    return react


@pytest.mark.parametrize(("name", "fn", "marker"), CASES, ids=[c[0] for c in CASES])
def test_nondeterminism_inside_handle_raises_naming_the_call_site(
        name: str, fn: Callable[[], object], marker: str) -> None:
    world, _, _ = two_hosts(server_on={Note: calling(fn)})
    with pytest.raises(DeterminismError) as info:
        world.inject("srv", Note("go"))
    message = str(info.value)
    assert message.startswith(f"{name}()")
    assert re.search(rf"{re.escape(str(HERE))}:{line_of(marker)} in ", message), message
    assert not guard.is_active()


@pytest.mark.parametrize(("fn", "marker"), INDIRECT, ids=[m for _, m in INDIRECT])
def test_a_source_reached_through_the_standard_library_names_the_model_line(
        fn: Callable[[], object], marker: str) -> None:
    world, _, _ = two_hosts(server_on={Note: calling(fn)})
    with pytest.raises(DeterminismError) as info:
        world.inject("srv", Note("go"))
    assert re.search(rf"{re.escape(str(HERE))}:{line_of(marker)} in ", str(info.value)), \
        str(info.value)
    assert not guard.is_active()


def test_a_scheduled_callback_is_guarded_too() -> None:
    world, _, _ = two_hosts()
    world.schedule(world.now + s(1), lambda _: read_clock())
    with pytest.raises(DeterminismError, match=rf"time.time\(\) .*:{line_of('guard:time')} "):
        world.run_for(s(2))
    assert not guard.is_active()


@pytest.mark.parametrize(("name", "fn", "marker"), CASES, ids=[c[0] for c in CASES])
def test_outside_a_run_the_same_calls_work(name: str, fn: Callable[[], object],
                                           marker: str) -> None:
    World(0)  # installs the guard
    fn()


def test_a_node_constructor_is_guarded_too() -> None:
    def factory(ctx):  # type: ignore[no-untyped-def]
        read_clock()
        return Recorder(ctx)

    world = World(0)
    with pytest.raises(DeterminismError, match=f"{line_of('guard:time')} in read_clock"):
        world.add_host("x", factory)


def test_seeded_ctx_rng_is_allowed_and_reproducible() -> None:
    class Drawer(Recorder):
        def on_input(self, now: Time, inp: Input) -> list[Effect]:
            return [Note("drew", {"x": self.ctx.rng.random()})] if type(inp) is Note else []

    draws: list[list[float]] = []
    for _ in range(2):
        world = World(7)
        world.add_host("srv", Drawer)
        world.inject("srv", Note("go"))
        draws.append([r.data["data"]["x"] for r in world.trace.records if r.type == "Note"
                      and r.kind == "out"])
    assert draws[0] == draws[1] and len(draws[0]) == 1
    assert 0.0 <= draws[0][0] < 1.0


def test_outside_a_run_time_time_still_works_after_a_failure() -> None:
    world, _, _ = two_hosts(server_on={Note: calling(read_clock)})
    with pytest.raises(DeterminismError):
        world.inject("srv", Note("go"))
    assert time.time() > 0
    assert isinstance(random.random(), float)


def test_a_determinism_error_in_alarm_is_not_a_retryable_failure() -> None:
    def alarm(now: Time, inp: AlarmFired) -> list[Effect]:
        read_clock()
        return []

    world, _, _ = two_hosts(server_on={AlarmFired: alarm})
    world.inject("srv", Do((SetAlarm(s(1)),)))
    with pytest.raises(DeterminismError):
        world.run_for(s(2))
    assert not guard.is_active()
    assert not any(r.type == "alarm.retry" for r in world.trace.records)


def test_other_threads_keep_their_clock_while_a_model_runs() -> None:
    """A library's own thread (a Jupyter kernel's I/O loop) reads the clock while a model runs:
    only the thread running the world is guarded."""
    import threading
    import time as real_time

    from gatewaysim.simulator import World
    from gatewaysim.simulator.node import Node

    seen: list[object] = []
    go, done = threading.Event(), threading.Event()

    def background() -> None:
        go.wait(5)
        try:
            seen.append(real_time.monotonic())
        except Exception as exc:  # pragma: no cover - the failure this test looks for
            seen.append(exc)
        done.set()

    class Waits(Node):
        def on_input(self, now, inp):  # type: ignore[no-untyped-def]
            go.set()
            done.wait(5)
            return []

    worker = threading.Thread(target=background)
    worker.start()
    world = World(seed=1)
    world.add_host("a", Waits)
    worker.join(5)
    assert len(seen) == 1 and isinstance(seen[0], float), seen
