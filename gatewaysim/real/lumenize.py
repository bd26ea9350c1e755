"""Lumenize phases 1 and 4 for real: the server side in its own process, tabs in this one.

The server side is a :class:`~gatewaysim.real.site.RealSite` in a process of its own
(``python -m gatewaysim.real.serve --node lumenize``): the Worker, the token service,
``doc/main``, ``node/main``, and a gateway per instanceName created when the Worker first
forwards an upgrade to it. The tabs (``LumenizeClient`` nodes) run here on
:class:`~gatewaysim.real.host.RealHost`. Both sides get their nodes from
:func:`~gatewaysim.models.lumenize.world.build_world`: a world built and never run is the
wiring (its factories, addresses and refresh tokens), so the real run has the nodes the
simulated one has, built the same way.

A phase is restated here as data (:class:`LumenizeScript`, its steps at the phase's own
times) because the scenario's steps are functions of a simulated world. Each step is one
thing that happens to the system: a document changes, a mesh node calls a tab, a
connection drops, a duplicate tab opens. In simulation a step is the world's helper of
the same name; for real it is a command to the server process, a TCP connection closed,
or a new client with the same identity:

* phase 1 (``lumenize-phase1``): the phase force-closes the gateway's socket with code
  1006, a code RFC 6455 (7.4.1) reserves for "closed without a close frame" and forbids in
  one. Here the fault is what 1006 stands for, a drop: the gateway's process closes the TCP
  connection, and the simulated run drops the connection (``world.drop``). The tab then
  also fires ``error`` (an abnormal close), which the phase's clean 1006 does not.
  ``lumenize-phase1-force-close`` is the phase exactly: the gateway's process sends that
  close frame (aiohttp, like the simulated network, carries the reserved code; a browser
  would fail the connection instead).
* phase 4 (``lumenize-phase4``): the same steps as the phase; the duplicate tab is a
  second real client with the same user and tab id.

Delays of the model (grace, backoff, probe, timeouts) and the steps' times are multiplied
by the run's scale, in simulation and for real alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import attrs
from attrs import frozen

from gatewaysim.models.lumenize import protocol as p
from gatewaysim.models.lumenize.config import LumenizeConfig
from gatewaysim.models.lumenize.scenarios import (
    ALICE,
    PHASE1_CALL,
    PHASE1_DROP,
    PHASE4_CALL,
    PHASE4_SECOND_TAB,
)
from gatewaysim.models.lumenize.world import MESH_NODE, ClientSpec, LumenizeWorld, build_world
from gatewaysim.simulator.clock import SECOND, Time, s
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.messages import Input
from gatewaysim.simulator.trace import FAULT, Trace, TraceRecord

from . import transport
from .host import RealClock, RealHost
from .site import RealSite
from .site_process import SiteProcess

DELAYS = ("grace", "client_call_timeout", "heartbeat_interval", "reconnect_initial",
          "reconnect_max", "queued_call_timeout", "tab_probe")
"""The config's delays (the library's); token lifetimes are whole seconds and stay."""
TAB_OPENED = "tab_opened"
"""The fault record of a duplicate tab opening (both runs write it: a timing anchor)."""
INPUTS: dict[str, type[Input]] = {cls.__name__: cls for cls in (
    p.CallClient, p.Publish, p.GrantRefreshToken, p.SetUserClaims, p.AuthMode,
    p.SetTokenTtl)}
"""The outside inputs the server process accepts on its control channel."""


def scaled_config(config: LumenizeConfig, factor: float) -> LumenizeConfig:
    """``config`` with every delay in :data:`DELAYS` times ``factor`` (at least 1 µs)."""
    if not factor > 0:
        raise ConfigError(f"scale factor must be positive, not {factor!r}")
    if factor == 1:
        return config
    return attrs.evolve(config, **{name: max(1, round(getattr(config, name) * factor))
                                   for name in DELAYS})


# ---------------------------------------------------------------------- steps
@frozen
class Publish:
    """``doc/main`` changes its document and fans it out."""

    content: str


@frozen
class CallClient:
    """``node/main`` calls a tab's ``@mesh`` method through its gateway."""

    instance_name: str
    method: str = "ping"
    args: tuple = ()
    tag: str = ""


@frozen
class Drop:
    """The tab's current connection is dropped: its TCP connection closes, no close frame."""

    instance_name: str


@frozen
class ForceClose:
    """The tab's gateway closes its first socket with ``code``, from outside the object
    (``ctx.getWebSockets()[0].close(code)``, as the phase does)."""

    instance_name: str
    code: int
    reason: str = ""


@frozen
class OpenTab:
    """A tab opens (a duplicate, if its user and tab id are already open)."""

    spec: ClientSpec


Action = Publish | CallClient | Drop | ForceClose | OpenTab


@frozen
class At:
    at: Time
    """Virtual time in the unscaled phase."""
    action: Action


@frozen
class LumenizeScript:
    """A Lumenize phase as steps at fixed times, runnable both ways."""

    name: str
    """``lumenize-phaseN``: the scenario it replays."""
    summary: str
    clients: tuple[ClientSpec, ...]
    steps: tuple[At, ...]
    duration: Time
    tolerance_ms: float
    """How far a state change may be from the simulated one, measured from the event before
    it (not scaled: it is the machine's noise, not the library's delays)."""
    settled: Time = 0
    """When everything the phase checks has happened (a shorter run for tests; 0: the
    whole duration)."""
    scale: float = 1.0
    """The default scale of a real run."""
    differs: str = ""
    """Where the script departs from the phase, if anywhere."""


PHASE1 = LumenizeScript(
    "lumenize-phase1",
    "a drop within grace: the call parked meanwhile is delivered on reconnect",
    (ClientSpec("alice"),),
    (At(s(1), Publish("v1")),
     At(PHASE1_DROP, Drop(ALICE)),
     At(PHASE1_CALL, CallClient(ALICE, "ping", ("parked",), "during-grace")),
     At(s(5), Publish("v2"))),
    10 * SECOND, tolerance_ms=300, settled=s(6),
    differs="the drop closes the TCP connection (the phase force-closes with code 1006)")
PHASE1_FORCE_CLOSE = LumenizeScript(
    "lumenize-phase1-force-close",
    "phase 1 exactly: the gateway's socket is force-closed with a close frame 1006",
    PHASE1.clients,
    tuple(At(step.at, ForceClose(ALICE, p.CLOSE_ABNORMAL))
          if isinstance(step.action, Drop) else step for step in PHASE1.steps),
    PHASE1.duration, tolerance_ms=PHASE1.tolerance_ms, settled=PHASE1.settled)
PHASE4 = LumenizeScript(
    "lumenize-phase4",
    "a duplicate tab takes over with 4409; the mesh call goes to it (then ping-pong)",
    (ClientSpec("alice"),),
    (At(PHASE4_SECOND_TAB, OpenTab(ClientSpec("alice", tab_id_stored=True))),
     At(PHASE4_CALL, CallClient(ALICE, "ping", ("who?",), "after-supersession"))),
    10 * SECOND, tolerance_ms=300, settled=s(4))
SCRIPTS: dict[str, LumenizeScript] = {
    script.name: script for script in (PHASE1, PHASE1_FORCE_CLOSE, PHASE4)}


# ---------------------------------------------------------------------- runs
@frozen(eq=False)
class LumenizeRun:
    """One run of a script: every record (both processes' for a real run), by time."""

    script: LumenizeScript
    variant: str
    scale: float
    real: bool
    records: tuple[TraceRecord, ...]
    end: Time
    """When the run stopped looking, on its own clock (0 is the phase's zero)."""
    wall_s: float
    startup_s: float = 0.0
    """Seconds the server process took from spawn to ready (real runs)."""
    pids: tuple[int, ...] = ()
    """The processes the run started (real runs; all ended when it returns)."""
    world: LumenizeWorld | None = None
    """The simulated world (simulated runs)."""


def _spec_dict(spec: ClientSpec) -> dict[str, Any]:
    return {"sub": spec.sub, "tab_id": spec.tab_id, "claims": dict(spec.claims),
            "subscribe_to": list(spec.subscribe_to), "auto_connect": spec.auto_connect,
            "tab_id_stored": spec.tab_id_stored}


def _wiring(config: LumenizeConfig, seed: int, clients: tuple[ClientSpec, ...]) -> LumenizeWorld:
    """A world built and never run: its factories, addresses and tokens."""
    return build_world(config, seed, clients, trace=Trace(keep=False, hashed=False))


def run_sim(script: LumenizeScript, variant: str = "faithful", scale: float = 1.0,
            seed: int = 0, duration: Time | None = None) -> LumenizeRun:
    """Run ``script`` in virtual time (the model's delays and the steps times ``scale``)
    for ``duration`` of the unscaled phase (default: all of it)."""
    config = scaled_config(LumenizeConfig.for_variant(variant), scale)
    trace = Trace(keep=True, header={"script": script.name, "variant": variant,
                                     "scale": scale})
    started = time.perf_counter()
    lw = build_world(config, seed, script.clients, trace=trace)

    def act(action: Action) -> None:
        match action:
            case Publish(content=content):
                lw.publish(content)
            case CallClient(instance_name=name, method=method, args=args, tag=tag):
                lw.call_client(name, method, list(args), tag=tag)
            case Drop(instance_name=name):
                lw.drop_client(name)
            case ForceClose(instance_name=name, code=code, reason=reason):
                lw.force_close(name, code, reason)
            case OpenTab(spec=spec):
                address = lw.add_client(spec)
                lw.world.fault(TAB_OPENED, client=address)

    for step in script.steps:
        lw.world.schedule(round(step.at * scale), act, step.action)
    end = round((script.duration if duration is None else duration) * scale)
    lw.run_until(end)
    return LumenizeRun(script, variant, scale, False, tuple(trace.records), end,
                       time.perf_counter() - started, world=lw)


async def run_real(script: LumenizeScript, variant: str = "faithful",
                   scale: float | None = None, seed: int = 0,
                   duration: Time | None = None) -> LumenizeRun:
    """Run ``script`` with the server side in its own process and the tabs here, for
    ``duration`` of the unscaled phase (default: all of it)."""
    transport.require()
    factor = script.scale if scale is None else scale
    config = scaled_config(LumenizeConfig.for_variant(variant), factor)
    wiring = _wiring(config, seed, script.clients)
    trace = Trace(keep=True, header={"script": script.name, "variant": variant,
                                     "scale": factor, "real": True})
    server = SiteProcess("lumenize", config.to_dict(),
                         {"clients": [_spec_dict(c) for c in script.clients]}, seed)
    hosts: dict[str, RealHost] = {}
    started = time.perf_counter()
    end = 0
    try:
        await server.start()
        clock = RealClock()  # the phase's zero, for both processes
        await server.command(op="start", origin=clock.t0)

        def tab(address: str) -> None:
            host = RealHost(address, wiring.world.hosts[address].factory, trace, clock,
                            server.url, seed=seed)
            hosts[address] = host
            host.start()

        for address in wiring.clients:
            tab(address)
        span = script.duration if duration is None else duration
        for step in sorted(script.steps, key=lambda st: st.at):
            if step.at > span:  # as in simulation: a step after the end does not happen
                break
            await asyncio.sleep(clock.delay_until(round(step.at * factor)))
            await _act_real(step.action, server, wiring, hosts, trace, clock, tab)
        await asyncio.sleep(clock.delay_until(round(span * factor)))
        end = clock.now()
    finally:
        for host in hosts.values():
            await host.close(settle_s=0.2)
        await server.stop()
        await server.cleanup()
    errors = [e for host in hosts.values() for e in host.errors]
    if errors:
        raise RuntimeError(f"a real host failed: {errors[0]!r}") from errors[0]
    if server.errors:
        raise RuntimeError(f"a node of the server process failed: {server.errors[0]}")
    # What happened after the end (the tabs and the process stopping) is not the phase's.
    records = sorted((r for r in [*trace.records, *server.records] if r.t <= end),
                     key=lambda r: r.t)
    return LumenizeRun(script, variant, factor, True, tuple(records), end,
                       time.perf_counter() - started, server.startup_s, tuple(server.pids))


async def _act_real(action: Action, server: SiteProcess, wiring: LumenizeWorld,
                    hosts: dict[str, RealHost], trace: Trace, clock: RealClock,
                    tab: Callable[[str], None]) -> None:
    match action:
        case Publish(content=content):
            await server.inject(p.DEFAULT_DOCUMENT, p.Publish(content))
        case CallClient(instance_name=name, method=method, args=args, tag=tag):
            await server.inject(MESH_NODE, p.CallClient(name, method, list(args), tag))
        case Drop(instance_name=name):
            host = hosts.get(p.CLIENT_PREFIX + name)
            conn = None if host is None or host.node is None else host.node.conn
            if conn is not None:  # the server's end closes it and records the fault
                await server.command(op="drop", conn=conn)
        case ForceClose(instance_name=name, code=code, reason=reason):
            await server.command(op="force_close", host=p.gateway_address(name), code=code,
                                 reason=reason)
        case OpenTab(spec=spec):
            address = wiring.add_client(spec)
            trace.emit(clock.now(), "world", FAULT, TAB_OPENED, {"client": address})
            # The token service knows the tab's refresh token before the tab asks.
            await server.inject(p.AUTH, p.GrantRefreshToken(wiring.refresh_tokens[address],
                                                            spec.sub))
            if spec.claims:
                await server.inject(p.AUTH, p.SetUserClaims(spec.sub, dict(spec.claims)))
            tab(address)


def run_real_sync(script: LumenizeScript, variant: str = "faithful",
                  scale: float | None = None, seed: int = 0,
                  duration: Time | None = None) -> LumenizeRun:
    """:func:`run_real` in a fresh event loop."""
    return asyncio.run(run_real(script, variant, scale, seed, duration))


# ---------------------------------------------------------------------- the server side
def decode_input(data: dict[str, Any]) -> Input:
    """An input sent on the control channel (:data:`INPUTS` only)."""
    fields = dict(data)
    cls = INPUTS.get(str(fields.pop("type", "")))
    if cls is None:
        raise ValueError(f"not an input the server accepts: {data.get('type')!r}")
    return cls(**fields)


def server_site(config: dict[str, Any], setup: dict[str, Any], seed: int, trace: Trace,
                clock: RealClock) -> tuple[RealSite, Callable[[dict[str, Any]], Input]]:
    """The server side of a Lumenize world as a site: every node but the tabs."""
    cfg = LumenizeConfig.from_dict(config)
    specs = tuple(ClientSpec(**spec) for spec in setup.get("clients", ()))
    wiring = _wiring(cfg, seed, specs)
    site = RealSite(trace, clock, entry=p.WORKER, seed=seed)
    for address, host in wiring.world.hosts.items():
        if not address.startswith(p.CLIENT_PREFIX):
            site.add_host(address, host.factory)
    for prefix, factory in wiring.world.namespaces.items():
        site.add_namespace(prefix, factory)
    return site, decode_input


__all__ = ["PHASE1", "PHASE1_FORCE_CLOSE", "PHASE4", "SCRIPTS", "At", "CallClient", "Drop",
           "ForceClose", "LumenizeRun",
           "LumenizeScript", "OpenTab", "Publish", "decode_input", "run_real",
           "run_real_sync", "run_sim", "scaled_config", "server_site"]
