"""Scripts: the document's tests as data, run the same way in simulation and on real sockets.

A :class:`Script` is what one of the document's test functions does, step by step: start
or kill the server, act on a client (``init``, ``reconnectWs``, ``validateConnection``...),
sleep, poll until a condition holds, and ``expect`` something of a client. Each
:class:`Expect` is one ``expect()`` call of the original and records an observation;
:func:`check` compares the observations with what the original asserts.

Because a script is data, two hosts run it: :func:`run_sim` on the virtual clock (here)
and :mod:`gatewaysim.real` on an asyncio loop with real processes and sockets. Both read the
client through the same :data:`PROBES` and the same :class:`Observer` of the trace, so
their observations can be compared one to one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from attrs import define, field, frozen

from gatewaysim.simulator.clock import Time, format_time, ms
from gatewaysim.simulator.messages import Input
from gatewaysim.simulator.network import NetworkConfig
from gatewaysim.simulator.trace import IN, OUT, Trace, TraceRecord

from .client import ComfyClient
from .config import RestartConfig
from .world import SIGTERM, ClientSpec, RestartWorld

API = "api"


# ---------------------------------------------------------------------------- actions
@frozen
class Wait:
    """``await sleep(ms)``."""

    ms: int


@frozen
class StartServer:
    """``await serverManager.startServer(port)``: a new process, ready to serve."""


@frozen
class KillServer:
    """``await serverManager.killServer(port)``: signal the process and wait for its exit."""

    signal: str = SIGTERM


@frozen
class Act:
    """Call a client method. ``until``: wait (at most ``timeout_ms``) for this note, as an
    ``await`` on the method would."""

    action: Input
    client: str = API
    until: str | None = None
    timeout_ms: int = 30_000


@frozen
class PollUntil:
    """``await pollUntil(() => probe === value, timeout, every)`` (a timeout is not an error:
    the next ``Expect`` says what was true)."""

    probe: str
    value: Any
    timeout_ms: int = 5000
    every_ms: int = 100
    client: str = API


@frozen
class Drop:
    """Break the client's current socket below WebSocket (a lost TCP connection)."""

    client: str = API


@frozen
class Expectation:
    """What an ``expect()`` asserts: ``toBe(value)``, ``toBeGreaterThan(value)``,
    ``toContain`` (the observation is one of ``value``)."""

    op: str
    value: Any

    def holds(self, observed: Any) -> bool:
        if self.op == "eq":
            return bool(observed == self.value)
        if self.op == "gt":
            return observed is not None and observed > self.value
        if self.op == "in":
            return observed in self.value
        raise ValueError(f"unknown expectation {self.op!r}")

    def __str__(self) -> str:
        word = {"eq": "toBe", "gt": "toBeGreaterThan", "in": "oneOf"}[self.op]
        return f"{word}({self.value!r})"


def be(value: Any) -> Expectation:
    return Expectation("eq", value)


def greater_than(value: Any) -> Expectation:
    return Expectation("gt", value)


def one_of(*values: Any) -> Expectation:
    return Expectation("in", tuple(values))


@frozen
class Expect:
    """One ``expect(probe).<expectation>`` of the original test; ``saves`` names the value
    for a later expectation that compares with it (``messagesBeforeRestart``)."""

    label: str
    probe: str
    expected: Expectation | None = None
    client: str = API
    relative_to: str | None = None
    """Compare with ``observed - observations[relative_to]`` (a count since then)."""


Action = Wait | StartServer | KillServer | Act | PollUntil | Drop | Expect


@frozen
class Script:
    """One test of the document (or of its future work) as data."""

    name: str
    summary: str
    source: str
    """The original test this replays (``describe > test``)."""
    clients: tuple[ClientSpec, ...]
    steps: tuple[Action, ...] = field(converter=tuple)
    tail_ms: int = 0
    """Virtual time to run on after the last step (the end of the timeline)."""
    tolerance_ms: int = 400
    """How far a real run's timings may stray from the simulated ones (at scale 1)."""
    network: NetworkConfig | None = None
    real: bool = True
    """Whether a real run can reproduce it (the real host has no link emulation: a script
    that needs latency or jitter on the link runs in simulation only)."""

    @property
    def expectations(self) -> tuple[Expect, ...]:
        return tuple(s for s in self.steps if isinstance(s, Expect) and s.expected is not None)


# ---------------------------------------------------------------------------- observing
@define
class ClientLog:
    """What a user of one client saw, from its notes."""

    states: list[tuple[Time, str]] = field(factory=list)
    events: list[tuple[Time, str, dict]] = field(factory=list)
    callbacks: list[Time] = field(factory=list)
    validations: list[bool] = field(factory=list)
    prompts: dict[str, str] = field(factory=dict)
    closes: list[tuple[Time, str, int]] = field(factory=list)
    opened: list[str] = field(factory=list)
    """The sockets that opened, in order (a close of any other ended an attempt)."""

    def count(self, name: str, via: str | None = None) -> int:
        return sum(1 for _, n, d in self.events if n == name and (via is None or
                                                                   d.get("via") == via))

    def fired(self, name: str) -> bool:
        return any(n == name for _, n, _ in self.events)

    def after_each_reconnection(self, name: str = "status") -> list[int]:
        """How many ``name`` events came over the socket of each reconnection."""
        counts: list[int] = []
        conns: list[str] = []
        for _, n, d in self.events:
            if n == "reconnected":
                conns.append(d.get("conn", ""))
                counts.append(0)
            elif n == name and d.get("via") == "ws" and conns and d.get("conn") == conns[-1]:
                counts[-1] += 1
        return counts


class Observer:
    """A trace listener keeping a :class:`ClientLog` per client."""

    def __init__(self, clients: Sequence[str]) -> None:
        self.logs = {name: ClientLog() for name in clients}

    def observe(self, record: TraceRecord) -> None:
        log = self.logs.get(record.actor)
        if log is None:
            return
        if record.kind == IN and record.type == "WsOpened":
            log.opened.append(record.data["conn"])
            return
        if record.kind == IN and record.type in ("WsClosed", "WsRejected"):
            code = record.data.get("code", record.data.get("status", 0))
            log.closes.append((record.t, record.data["conn"], code))
            return
        if record.kind != OUT or record.type != "Note":
            return
        event, data = record.data.get("event"), record.data.get("data", {})
        if event == "state":
            log.states.append((record.t, data["to"]))
        elif event == "event":
            log.events.append((record.t, data["name"], data))
        elif event == "callback":
            log.callbacks.append(record.t)
        elif event == "validate":
            log.validations.append(bool(data["result"]))
        elif event in ("prompt.completed", "prompt.failed"):
            outcome = event.removeprefix("prompt.")
            if data.get("error"):
                outcome += f":{data['error']}"
            log.prompts[data["label"]] = outcome


Probe = Callable[[ComfyClient, ClientLog], Any]

PROBES: dict[str, Probe] = {
    "connected": lambda c, log: c.is_connected(),
    "state": lambda c, log: c.state.value,
    "state.honest": lambda c, log: (c.state.value == "connected") == c.is_connected(),
    "validate": lambda c, log: log.validations[-1] if log.validations else None,
    "callback": lambda c, log: bool(log.callbacks),
    "status.events": lambda c, log: log.count("status"),
    "status.messages": lambda c, log: log.count("status", via="ws"),
}
"""Client probes by name; ``fired:<event>`` and ``prompt:<label>`` are built on demand."""


def probe(name: str, client: ComfyClient, log: ClientLog) -> Any:
    if name.startswith("fired:"):
        return log.fired(name.removeprefix("fired:"))
    if name.startswith("prompt:"):
        return log.prompts.get(name.removeprefix("prompt:"), "pending")
    return PROBES[name](client, log)


@frozen
class Observation:
    label: str
    value: Any
    t: Time


@frozen
class Verdict:
    """An expectation checked against what was observed."""

    label: str
    expected: Expectation
    observed: Any
    holds: bool

    def __str__(self) -> str:
        mark = "ok  " if self.holds else "FAIL"
        return f"{mark} {self.label}: observed {self.observed!r}, expected {self.expected}"


def check(script: Script, observations: Sequence[Observation]) -> list[Verdict]:
    """Each expectation of ``script`` against the observations (by label)."""
    seen = {o.label: o.value for o in observations}
    verdicts = []
    for e in script.expectations:
        observed = seen.get(e.label)
        if e.relative_to is not None and observed is not None:
            observed = observed - seen.get(e.relative_to, 0)
        assert e.expected is not None
        verdicts.append(Verdict(e.label, e.expected, observed, e.expected.holds(observed)))
    return verdicts


# ---------------------------------------------------------------------------- simulation
@frozen(eq=False)
class SimRun:
    """A script run on the virtual clock."""

    script: Script
    world: RestartWorld
    observer: Observer
    observations: tuple[Observation, ...]
    verdicts: tuple[Verdict, ...]

    @property
    def passed(self) -> bool:
        return all(v.holds for v in self.verdicts)

    def log(self, client: str = API) -> ClientLog:
        return self.observer.logs[client]


def run_sim(script: Script, seed: int = 0, trace: Trace | None = None,
            config: RestartConfig | None = None, scale: float = 1.0,
            startup_ms: float | Sequence[float] = 0) -> SimRun:
    """Run ``script`` in virtual time (delays of the script and the config times ``scale``).

    ``startup_ms`` is how long a server process takes from spawn to ready (not scaled: it
    is the machine's, not the library's), one value for every start or one per start in
    order. The document's tests wait for it; the clients' timers do not. 0 by default; the
    sim-to-real comparison sets what it measured.
    """
    startups = [float(startup_ms)] if isinstance(startup_ms, int | float) else list(startup_ms)
    starts = 0
    cfg = (config or RestartConfig()).scaled(scale) if scale != 1.0 else (config or
                                                                          RestartConfig())
    rw = RestartWorld(seed, trace, cfg, script.clients, network=script.network,
                      start_server=False)
    observer = Observer(rw.clients)
    rw.trace.listeners.append(observer.observe)
    world = rw.world
    observations: list[Observation] = []

    def span(n: int) -> Time:
        return ms(n * scale)

    def note_seen(client: str, event: str, since: int) -> bool:
        return any(r.actor == client and r.kind == OUT and r.type == "Note"
                   and r.data.get("event") == event for r in seen_notes[since:])

    seen_notes: list[TraceRecord] = []

    def keep(record: TraceRecord) -> None:
        if record.kind == OUT and record.type == "Note":
            seen_notes.append(record)

    rw.trace.listeners.append(keep)
    try:
        for step in script.steps:
            if isinstance(step, Wait):
                world.run_for(span(step.ms))
            elif isinstance(step, StartServer):
                if not rw.running():
                    world.run_for(ms(startups[min(starts, len(startups) - 1)]
                                     if startups else 0))
                    starts += 1
                rw.start()
                world.run_for(0)
            elif isinstance(step, KillServer):
                rw.kill(step.signal)
                limit = world.now + cfg.delay("force_exit") + ms(100)
                while rw.running() and world.now < limit:
                    world.run_for(ms(1))
            elif isinstance(step, Act):
                since = len(seen_notes)
                world.inject(step.client, step.action)
                if step.until is not None:
                    limit = world.now + span(step.timeout_ms)
                    while not note_seen(step.client, step.until, since) and world.now < limit:
                        world.run_for(ms(1))
            elif isinstance(step, PollUntil):
                limit = world.now + span(step.timeout_ms)
                client, log = rw.client(step.client), observer.logs[step.client]
                while probe(step.probe, client, log) != step.value and world.now < limit:
                    world.run_for(span(step.every_ms))
            elif isinstance(step, Drop):
                conn = rw.client(step.client).socket
                if conn is not None:
                    world.drop(conn)
            elif isinstance(step, Expect):
                value = (rw.running() if step.probe == "server.running" else
                         probe(step.probe, rw.client(step.client), observer.logs[step.client]))
                observations.append(Observation(step.label, value, world.now))
        world.run_for(span(script.tail_ms))
    finally:
        rw.trace.listeners.remove(keep)
    return SimRun(script, rw, observer, tuple(observations),
                  tuple(check(script, observations)))


def describe_run(run: SimRun) -> str:
    """The verdicts, one a line, with the time of each observation."""
    times = {o.label: o.t for o in run.observations}
    return "\n".join(f"{format_time(times.get(v.label, 0)):>9}  {v}" for v in run.verdicts)


__all__ = [
    "API",
    "PROBES",
    "Act",
    "Action",
    "ClientLog",
    "Drop",
    "Expect",
    "Expectation",
    "KillServer",
    "Observation",
    "Observer",
    "PollUntil",
    "Script",
    "SimRun",
    "StartServer",
    "Verdict",
    "Wait",
    "be",
    "check",
    "describe_run",
    "greater_than",
    "one_of",
    "probe",
    "run_sim",
]
