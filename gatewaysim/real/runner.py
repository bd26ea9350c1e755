"""A restart script for real: server processes, signals, clients on this process's loop.

The same :class:`~gatewaysim.models.restart.script.Script` that ``run_sim`` runs on the
virtual clock runs here with wall-clock sleeps: ``StartServer`` spawns
``python -m gatewaysim.real.serve`` (the first on a free port, every later one on the same
port) and waits for its ``READY``; ``KillServer`` sends SIGTERM or SIGKILL and waits for the
exit; ``Drop`` aborts the client's TCP connection. The clients are the model's
``ComfyClient`` nodes on :class:`~gatewaysim.real.host.RealHost`; the trace they write has
the records the simulated run has, stamped with wall-clock microseconds, and the same
:class:`~gatewaysim.models.restart.script.Observer` reads it.

Every process started is killed in a ``finally``, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

from attrs import frozen

from gatewaysim.models.restart.client import ComfyClient
from gatewaysim.models.restart.config import RestartConfig
from gatewaysim.models.restart.protocol import SERVER
from gatewaysim.models.restart.script import (
    Act,
    Drop,
    Expect,
    KillServer,
    Observation,
    Observer,
    PollUntil,
    Script,
    StartServer,
    Verdict,
    Wait,
    check,
    probe,
)
from gatewaysim.models.restart.world import SIGKILL
from gatewaysim.simulator.clock import SECOND
from gatewaysim.simulator.trace import FAULT, OUT, Trace, TraceRecord

from .host import RealClock, RealHost

READY_TIMEOUT_S = 20.0
EXIT_TIMEOUT_S = 20.0
"""How long a signalled process may take to end before it gets SIGKILL."""
SETTLE_TICKS = 8
"""Loop turns a script step lets pass after its condition holds (see :func:`settle`)."""


async def settle() -> None:
    """Let what has already reached this process be handled before the next step.

    The simulated world delivers everything due at an instant before the script looks; a
    frame sent with the upgrade's answer arrives with it. Here the answer and the frame are
    separate reads, a few loop turns apart, so a step that follows a satisfied condition
    first lets the loop turn a few times (no time passes for the script).
    """
    for _ in range(SETTLE_TICKS):
        await asyncio.sleep(0)


class ServerProcess:
    """The document's ``ServerManager`` for one port: start, kill, running."""

    def __init__(self, config: RestartConfig, node: str = "restart-server",
                 seed: int = 0) -> None:
        self.config = config
        self.node = node
        self.seed = seed
        self.port = 0
        self.incarnation = -1
        self.proc: asyncio.subprocess.Process | None = None
        self.pids: list[int] = []
        self.startups: list[float] = []
        """Seconds from spawn to ``READY`` (read here), per start."""

    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> bool:
        if self.running():
            return False
        self.incarnation += 1
        spawned = time.monotonic()
        with tempfile.TemporaryFile() as errors:  # the child's stderr, read if it fails
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gatewaysim.real.serve", "--node", self.node,
                "--port", str(self.port), "--incarnation", str(self.incarnation),
                "--seed", str(self.seed), "--config", json.dumps(self.config.to_dict()),
                "--exit-with-parent", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=errors, start_new_session=True)
            self.pids.append(self.proc.pid)
            assert self.proc.stdout is not None
            try:
                line = await asyncio.wait_for(self.proc.stdout.readline(), READY_TIMEOUT_S)
            except TimeoutError:
                line = b"(no READY within %d s)" % READY_TIMEOUT_S
            if not line.startswith(b"READY "):
                await self.cleanup()
                errors.seek(0)
                last = (errors.read().decode(errors="replace").strip().splitlines()
                        or [line.decode(errors="replace")])[-1]
                raise RuntimeError(f"server process {self.node} did not start: {last}")
        self.port = int(line.split()[1])
        self.startups.append(time.monotonic() - spawned)
        return True

    async def kill(self, sig: str) -> float | None:
        """Send ``sig`` and wait for the exit: when the process ended (``time.monotonic()``:
        as it said, after SIGTERM; the signal's moment for SIGKILL), ``None`` if none ran."""
        if not self.running():
            return None
        assert self.proc is not None and self.proc.stdout is not None
        sent = time.monotonic()
        self.proc.send_signal(signal.SIGKILL if sig == SIGKILL else signal.SIGTERM)
        try:  # to the end of its output: the process is gone
            rest = await asyncio.wait_for(self.proc.stdout.read(), EXIT_TIMEOUT_S)
        except TimeoutError:  # it did not end: it will now
            rest = b""
            self.proc.kill()
        await self.proc.wait()
        self._release()
        said = [line.split()[1] for line in rest.splitlines() if line.startswith(b"EXIT ")]
        return float(said[-1]) if said and sig != SIGKILL else sent

    def _release(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()

    async def cleanup(self) -> None:
        """Kill the process if it still runs (called in ``finally``)."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        self._release()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@frozen(eq=False)
class RealRun:
    """A script run for real: what the clients' users saw, and how long it took."""

    script: Script
    observer: Observer
    observations: tuple[Observation, ...]
    verdicts: tuple[Verdict, ...]
    trace: Trace
    wall_s: float
    processes: int
    startups: tuple[float, ...]
    """Seconds each server process took from spawn to ready."""
    start_delays: tuple[float, ...] = ()
    """Seconds each start held the script up: from when the script asked for it (the end of
    the ``Wait`` before it, as written) to when the script went on. That is the process's
    start, plus whatever the steps before it overran: reaping a killed process can outlast
    a scaled ``Wait`` on a loaded machine, and the clients' timers do not wait for it."""

    @property
    def startup_ms(self) -> list[float]:
        """Each start's delay in ms (:attr:`start_delays`; what ``run_sim``'s
        ``startup_ms`` takes, so that the simulated server starts when the real one did)."""
        return [1000 * t for t in (self.start_delays or self.startups)]

    @property
    def passed(self) -> bool:
        return all(v.holds for v in self.verdicts)

    def log(self, client: str = "api"):  # type: ignore[no-untyped-def]
        return self.observer.logs[client]


async def run_real(script: Script, config: RestartConfig | None = None, scale: float = 1.0,
                   seed: int = 0, trace: Trace | None = None) -> RealRun:
    """Run ``script`` with real processes and sockets (delays times ``scale``)."""
    base = config or RestartConfig()
    cfg = base.scaled(scale) if scale != 1.0 else base
    trace = trace or Trace(keep=True, header={"script": script.name, "real": True})
    clock = RealClock()
    server = ServerProcess(cfg, seed=seed)
    observer = Observer([spec.name for spec in script.clients])
    trace.listeners.append(observer.observe)
    notes: list[TraceRecord] = []
    trace.listeners.append(lambda r: notes.append(r) if r.kind == OUT and r.type == "Note"
                           else None)
    hosts: dict[str, RealHost] = {}
    for spec in script.clients:
        def factory(ctx: Any, options=spec.options) -> ComfyClient:  # type: ignore[no-untyped-def]
            return ComfyClient(ctx, cfg, options)
        hosts[spec.name] = RealHost(spec.name, factory, trace, clock,
                                    lambda address: server.url(), seed=seed)
    observations: list[Observation] = []
    started = time.perf_counter()

    def fault(kind: str, **data: Any) -> None:
        trace.emit(clock.now(), "world", FAULT, kind, data)

    async def until(condition, timeout_s: float, every_s: float) -> None:  # type: ignore[no-untyped-def]
        deadline = clock.loop.time() + timeout_s
        while not condition() and clock.loop.time() < deadline:
            await asyncio.sleep(every_s)
        await settle()

    # When a step ended, for the next Wait. A killed process ended when it said so (SIGTERM)
    # or when the signal was sent (SIGKILL: the simulated crash is instantaneous); learning
    # it here (reading the pipe, reaping) takes longer, and a simulated Wait starts at once.
    ended = clock.loop.time()
    due = ended  # when the script meant the current step to start (a Wait's end, as written)
    delays: list[float] = []
    try:
        for host in hosts.values():
            host.start()
        for step in script.steps:
            if isinstance(step, Wait):
                due = ended + step.ms * scale / 1000
                await asyncio.sleep(max(0.0, due - clock.loop.time()))
                ended = clock.loop.time()
                continue
            elif isinstance(step, StartServer):
                if await server.start():
                    delays.append(clock.loop.time() - due)
                    # dated when the script goes on, as in simulation (the process listened
                    # a little earlier: a client timer firing in between is served here
                    # and refused there, a difference that grows with the machine's load)
                    fault("restart", host=SERVER)
            elif isinstance(step, KillServer):
                if server.running():
                    fault("crash" if step.signal == SIGKILL else "signal", host=SERVER,
                          signal=step.signal)
                    exited = await server.kill(step.signal)
                    assert exited is not None
                    if step.signal != SIGKILL:  # dated when the process said it ended
                        trace.emit(round((exited - clock.t0) * SECOND), "world", FAULT,
                                   "crash", {"host": SERVER})
                    ended = due = exited  # the next Wait counts from the end, not reaping
                    continue
            elif isinstance(step, Act):
                since = len(notes)
                hosts[step.client].deliver(step.action)
                if step.until is not None:
                    await until(lambda s=step, n=since: any(
                        r.actor == s.client and r.data.get("event") == s.until
                        for r in notes[n:]), step.timeout_ms * scale / 1000, 0.002)
            elif isinstance(step, PollUntil):
                node, log = hosts[step.client].node, observer.logs[step.client]
                await until(lambda s=step, c=node, lg=log: probe(s.probe, c, lg) == s.value,
                            step.timeout_ms * scale / 1000, step.every_ms * scale / 1000)
            elif isinstance(step, Drop):
                conn = hosts[step.client].node.socket
                if conn is not None and hosts[step.client].abort(conn):
                    fault("drop", conn=conn)
            elif isinstance(step, Expect):
                value = (server.running() if step.probe == "server.running" else
                         probe(step.probe, hosts[step.client].node,
                               observer.logs[step.client]))
                observations.append(Observation(step.label, value, clock.now()))
            ended = due = clock.loop.time()
        await asyncio.sleep(script.tail_ms * scale / 1000)
    finally:
        for host in hosts.values():
            await host.close()
        await server.cleanup()
    errors = [e for host in hosts.values() for e in host.errors]
    if errors:
        raise RuntimeError(f"a real host failed: {errors[0]!r}") from errors[0]
    return RealRun(script, observer, tuple(observations), tuple(check(script, observations)),
                   trace, time.perf_counter() - started, len(server.pids),
                   tuple(server.startups), tuple(delays))


def run_real_sync(script: Script, config: RestartConfig | None = None, scale: float = 1.0,
                  seed: int = 0) -> RealRun:
    """:func:`run_real` in a fresh event loop."""
    return asyncio.run(run_real(script, config, scale, seed))


def wall_time(us: int) -> str:
    return f"{us / SECOND:.3f}s"


__all__ = ["RealRun", "ServerProcess", "run_real", "run_real_sync"]
