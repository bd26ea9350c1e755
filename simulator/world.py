"""The world: hosts running sans-IO nodes, the scheduler, network, alarms and trace.

The world is the only place where effects turn into happenings. It delivers an input to
a node, records it, runs ``handle`` under the determinism guard, records every effect the
node returned, and applies them in order. Faults are methods on the world, recorded as
``fault`` records, so a trace shows why something broke.

Hosts are addressed by strings. A *namespace* (``add_namespace("gateway/", factory)``)
creates hosts on first contact, the way a Durable Object exists once something addresses
it by name. For the same reason a namespace host that crashed comes back on the next
contact (an upgrade, a request, its alarm): a new incarnation, recorded as ``host.revived``.
Plain hosts (``add_host``) stay down until ``restart``, like a server nobody restarts.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from attrs import define, field

from . import guard
from .alarms import Alarms
from .clock import Time
from .errors import ConfigError, DeterminismError, FailedWithEffects, SimulationError
from .messages import (
    AcceptConnection,
    BrowserOffline,
    BrowserOnline,
    CancelTimer,
    CloseConnection,
    DeleteAlarm,
    Effect,
    ForwardConnection,
    HttpRequest,
    HttpRespond,
    HttpRespondWithHeaders,
    Input,
    Note,
    OpenConnection,
    RejectConnection,
    Send,
    SetAlarm,
    SetAttachment,
    SetAutoResponse,
    SetTimer,
    Start,
    StorageDelete,
    StoragePut,
    TimerFired,
    WsClosed,
    WsMessage,
    WsOpened,
    WsRejected,
)
from .network import LatencyDistribution, Network, NetworkConfig
from .node import HostContext, SansIONode
from .rng import RngStreams
from .scheduler import Scheduler
from .trace import FAULT, IN, OUT, SYS, Trace, value_fields

_IMMUTABLE = frozenset({int, str, float, bool, bytes, type(None)})


def _stored(value: Any) -> Any:
    """What durable storage keeps: a copy, as a structured clone would be.

    Without it a node could put a dict, mutate it in memory, crash, and find the mutation
    "persisted" although it never wrote it.
    """
    return value if type(value) in _IMMUTABLE else copy.deepcopy(value)


class StorageView(Mapping[str, Any]):
    """A host's durable storage as its node reads it: read-only, values copied out."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return _stored(self._data[key])

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"StorageView({self._data!r})"


_guard_state = guard._state  # the guard's depth counter, bumped inline on the hot path

# Notices about a socket: they survive eviction (hibernation keeps sockets), not a crash.
_SOCKET_INPUTS = frozenset({WsOpened, WsRejected, WsMessage, WsClosed})

NodeFactory = Callable[[HostContext], SansIONode]


def _record_only(address: str, eff: Effect) -> None:
    """The applier of an effect that is only recorded (a ``Note``)."""


@define(eq=False)
class Host:
    address: str
    factory: NodeFactory
    node: SansIONode | None = None
    up: bool = False
    incarnation: int = -1
    storage: dict = field(factory=dict)
    timers: dict = field(factory=dict)
    ctx: HostContext | None = None
    crashes: int = 0
    revives: bool = False  # a Durable Object: the next contact after a crash recreates it


class World:
    """A deterministic little universe. Same seed and same calls, same trace, byte for byte."""

    def __init__(
        self,
        seed: int = 0,
        *,
        network: NetworkConfig | None = None,
        trace: Trace | None = None,
        header: dict[str, Any] | None = None,
        max_events: int | None = None,
    ) -> None:
        self.seed = int(seed)
        self.rng = RngStreams(self.seed)
        self.scheduler = Scheduler()
        if trace is None:
            trace = Trace(header={"seed": self.seed, **(header or {})})
        self.trace = trace
        self.network = Network(self, network or NetworkConfig())
        self.alarms = Alarms(self)
        self.hosts: dict[str, Host] = {}
        self.namespaces: dict[str, NodeFactory] = {}
        self.max_events = max_events
        self._apply: dict[type, Callable[[str, Any], None]] = {
            SetTimer: self._set_timer,
            CancelTimer: self._cancel_timer,
            OpenConnection: lambda h, e: self.network.open(h, e.conn, e.to, e.request),
            AcceptConnection: lambda h, e: self.network.accept(h, e.conn, e.attachment, e.response),
            RejectConnection: lambda h, e: self.network.reject(h, e.conn, e.status, e.reason),
            ForwardConnection: lambda h, e: self.network.forward(h, e.conn, e.to, e.request),
            Send: self.network.apply_send,
            CloseConnection: lambda h, e: self.network.close(h, e.conn, e.code, e.reason),
            SetAttachment: lambda h, e: self.network.set_attachment(h, e.conn, e.attachment),
            SetAutoResponse: lambda h, e: self.network.set_auto_response(h, e.request, e.response),
            HttpRequest: lambda h, e: self.network.request(
                h, e.req, e.to, e.method, e.path, e.headers, e.body, e.timeout),
            HttpRespond: lambda h, e: self.network.respond(h, e.req, e.status, e.body),
            HttpRespondWithHeaders: lambda h, e: self.network.respond(
                h, e.req, e.status, e.body, e.headers),
            SetAlarm: lambda h, e: self.alarms.set(h, e.at),
            DeleteAlarm: lambda h, e: self.alarms.delete(h),
            StoragePut: lambda h, e: self.hosts[h].storage.__setitem__(e.key, _stored(e.value)),
            StorageDelete: lambda h, e: self.hosts[h].storage.pop(e.key, None),
            Note: _record_only,
        }
        guard.install()

    # ---------------------------------------------------------------- time
    @property
    def now(self) -> Time:
        return self.scheduler.now

    def schedule(self, when: Time, fn: Callable[[Any], object], arg: Any = None) -> list:
        """Schedule a callback; returns the raw entry (set ``entry[2] = None`` to cancel).

        The callback runs under the determinism guard like a node's ``handle``: a scenario's
        scripted fault is simulated code too.
        """

        def guarded(value: Any) -> object:
            _guard_state["active"] += 1
            try:
                return fn(value)
            finally:
                _guard_state["active"] -= 1

        return self.scheduler.call_at(when, guarded, arg)

    def run_until(self, until: Time) -> int:
        return self.scheduler.run_until(until, self.max_events)

    def run_for(self, duration: Time) -> int:
        if duration < 0:
            raise ConfigError(f"negative duration {duration}")
        return self.scheduler.run_until(self.now + duration, self.max_events)

    def run_to_quiescence(self, limit: Time | None = None) -> int:
        return self.scheduler.run_to_quiescence(limit, self.max_events)

    def step(self) -> bool:
        return self.scheduler.step()

    # ---------------------------------------------------------------- hosts
    def add_host(self, address: str, factory: NodeFactory, start: bool = True) -> SansIONode | None:
        if address in self.hosts:
            raise ConfigError(f"host {address!r} already exists")
        host = Host(address, factory, storage={}, timers={})
        self.hosts[address] = host
        if start:
            self._boot(host)
        return host.node

    def add_namespace(self, prefix: str, factory: NodeFactory) -> None:
        """Hosts whose address starts with ``prefix`` are created on first contact."""
        self.namespaces[prefix] = factory

    def _resolve(self, address: str) -> Host | None:
        host = self.hosts.get(address)
        if host is None:
            for prefix, factory in self.namespaces.items():
                if address.startswith(prefix):
                    host = Host(address, factory, storage={}, timers={}, revives=True)
                    self.hosts[address] = host
                    self._boot(host)
                    return host
        return host

    def host_reachable(self, address: str, why: str = "connect") -> bool:
        """Known (or creatable) and up, reviving a crashed namespace host (see :meth:`contact`)."""
        return self._resolve(address) is not None and self.contact(address, why)

    def contact(self, address: str, why: str) -> bool:
        """Something reaches ``address`` (an upgrade or request arriving, an alarm due).

        Up: true. Down: a namespace host is revived and answers; a plain host does not.
        """
        host = self.hosts.get(address)
        if host is None:
            return False
        if not host.up and host.revives:
            self._revive(host, why)
        return host.up

    def revives(self, address: str) -> bool:
        """Whether ``address`` is a namespace host, recreated on contact after a crash."""
        host = self.hosts.get(address)
        return host is not None and host.revives

    def _revive(self, host: Host, why: str) -> None:
        """Recreate a crashed Durable Object: storage and alarm kept, memory lost."""
        self.trace.emit(self.now, host.address, SYS, "host.revived",
                        {"incarnation": host.incarnation + 1, "by": why})
        self._boot(host)
        self.alarms.host_restarted(host.address)

    def host_up(self, address: str) -> bool:
        host = self.hosts.get(address)
        return host is not None and host.up

    def node(self, address: str) -> Any:
        host = self.hosts.get(address)
        if host is None:
            raise KeyError(f"no host {address!r}")
        return host.node

    def storage_view(self, address: str) -> Mapping[str, Any]:
        """Read-only, and each read is a copy: mutating what was read changes nothing."""
        return StorageView(self.hosts[address].storage)

    def _boot(self, host: Host) -> None:
        host.incarnation += 1
        host.ctx = HostContext(self, host.address, host.incarnation)
        with guard.active():
            host.node = host.factory(host.ctx)
        host.up = True
        self.deliver_now(host.address, Start(host.incarnation))

    # ---------------------------------------------------------------- delivery
    def deliver_at(self, when: Time, address: str, inp: Input) -> None:
        """Deliver ``inp`` at ``when`` to the incarnation of ``address`` that is up now.

        If that incarnation is gone by then (crash, restart), the input is lost and the
        trace says so. Eviction is the exception for socket events: hibernation keeps
        the sockets, so their notices reach the next incarnation unless the host crashed.
        """
        host = self.hosts.get(address)
        if host is None or not host.up:
            life = None
        else:
            life = (host.incarnation, host.crashes)
        self.scheduler.call_at(when, self._deliver_scheduled, (address, inp, life))

    def _deliver_scheduled(self, arg: tuple[str, Input, tuple[int, int] | None]) -> None:
        address, inp, life = arg
        host = self.hosts.get(address)
        if host is None or not host.up or life is None or (
            host.incarnation != life[0]
            and (host.crashes != life[1] or type(inp) not in _SOCKET_INPUTS)
        ):
            self.trace.emit(self.scheduler.now, address, SYS, "input.lost",
                            {"input": type(inp).__name__, "why": "host restarted or down"})
            return
        self.deliver_now(address, inp)

    def deliver_now(self, address: str, inp: Input) -> None:
        """Hand ``inp`` to the node at once, record it, and apply what it returns."""
        host = self.hosts.get(address)
        now = self.scheduler.now
        node = None if host is None or not host.up else host.node
        if node is None:
            self.trace.emit(now, address, SYS, "input.lost",
                            {"input": type(inp).__name__, "why": "host down"})
            return
        self.trace.emit_value(now, address, IN, inp)
        _guard_state["active"] += 1
        try:
            effects = node.handle(now, inp)
        except FailedWithEffects as exc:
            _guard_state["active"] -= 1
            self._apply_all(host, exc.effects)
            raise
        except BaseException:
            _guard_state["active"] -= 1
            raise
        _guard_state["active"] -= 1
        if effects:
            self._apply_all(host, effects)

    def inject(self, address: str, inp: Input) -> None:
        """Deliver an outside input (a user action, a wake-up event) now."""
        self.deliver_now(address, inp)

    def deliver_alarm(self, address: str, inp: Input) -> str | None:
        """Run ``alarm()``; returns the error text if the handler raised (to be retried).

        A :class:`DeterminismError` is not a handler failure: it propagates.
        """
        host = self.hosts[address]
        assert host.node is not None
        now = self.scheduler.now
        self.trace.emit_value(now, address, IN, inp)
        _guard_state["active"] += 1
        try:
            effects = host.node.handle(now, inp)
        except DeterminismError:
            _guard_state["active"] -= 1
            raise
        except Exception as exc:  # the DO runtime catches and retries; so do we
            _guard_state["active"] -= 1
            if isinstance(exc, FailedWithEffects):
                self._apply_all(host, exc.effects)
            text = f"{type(exc).__name__}: {exc}"
            self.trace.emit(now, address, SYS, "alarm.failed", {"error": text})
            return text
        except BaseException:
            _guard_state["active"] -= 1
            raise
        _guard_state["active"] -= 1
        self._apply_all(host, effects)
        return None

    def _apply_all(self, host: Host, effects: list[Effect] | None) -> None:
        if not effects:
            return
        address = host.address
        apply = self._apply
        record = self.trace.emit_value
        now = self.scheduler.now
        for eff in effects:
            record(now, address, OUT, eff)
            try:
                fn = apply[type(eff)]
            except KeyError:
                fn = self._applier_for(address, eff)
            if fn is not _record_only:  # a Note, one effect in five: nothing to apply
                fn(address, eff)

    def _applier_for(self, address: str, eff: Any) -> Callable[[str, Any], None]:
        """Find the applier of a subclassed effect through its bases (and remember it)."""
        for base in type(eff).__mro__[1:]:
            fn = self._apply.get(base)
            if fn is not None:
                self._apply[type(eff)] = fn
                return fn
        raise SimulationError(f"{address} returned an unknown effect {eff!r}")

    # ---------------------------------------------------------------- timers
    def _set_timer(self, address: str, eff: SetTimer) -> None:
        host = self.hosts[address]
        timers = host.timers
        key = eff.key
        old = timers.get(key)
        if old is not None:
            old[2] = None
        scheduler = self.scheduler
        at = eff.at
        if at < scheduler.now:  # a deadline already past fires now
            at = scheduler.now
        timers[key] = scheduler.call_at(at, self._timer_due, (address, key, host.incarnation))

    def _cancel_timer(self, address: str, eff: CancelTimer) -> None:
        entry = self.hosts[address].timers.pop(eff.key, None)
        if entry is not None:
            entry[2] = None

    def _timer_due(self, arg: tuple[str, str, int]) -> None:
        address, key, inc = arg
        host = self.hosts[address]
        if not host.up or host.incarnation != inc:
            return
        host.timers.pop(key, None)
        self.deliver_now(address, TimerFired(key))

    # ---------------------------------------------------------------- faults
    def fault(self, name: str, **data: Any) -> None:
        """Record a fault in the trace (the fault methods call this)."""
        self.trace.emit(self.now, "world", FAULT, name, data)

    def drop(self, conn: str, client_delay: Time | None = None,
             server_delay: Time | None = None) -> None:
        self.fault("drop", conn=conn)
        self.network.drop(conn, client_delay, server_delay)

    def half_open(self, conn: str, believer: str = "server", delay: Time | None = None) -> None:
        self.fault("half_open", conn=conn, believer=believer)
        self.network.half_open(conn, believer, delay)

    def partition(self, a: str, b: str, one_way: bool = False) -> None:
        self.fault("partition", a=a, b=b, one_way=one_way)
        self.network.partition(a, b, one_way)

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        self.fault("heal", a=a, b=b)
        self.network.heal(a, b)

    def slow_link(self, a: str, b: str, latency: Time, jitter: Time = 0, both: bool = True) -> None:
        self.fault("slow_link", a=a, b=b, latency=latency, jitter=jitter, both=both)
        self.network.set_link(a, b, latency, jitter, both)

    def lossy_link(self, a: str, b: str, loss: float, *, frames: bool = False,
                   both: bool = True) -> None:
        """Each message crossing the link is lost with probability ``loss`` (0 heals it).

        Draws come from the link's own rng stream; see :mod:`~gatewaysim.simulator.network`.
        """
        self.fault("lossy_link", a=a, b=b, loss=loss, frames=frames, both=both)
        self.network.set_link_quality(a, b, loss=loss, frames=frames, both=both)

    def latency_distribution(self, a: str, b: str, dist: LatencyDistribution | None,
                             both: bool = True) -> None:
        """Draw the link's one-way latency from ``dist`` (``None``: back to latency+jitter)."""
        self.fault("latency_distribution", a=a, b=b, dist=dist, both=both)
        self.network.set_link_quality(a, b, dist=dist, both=both)

    def go_offline(self, address: str) -> None:
        """The host loses its network and is told so (``BrowserOffline``)."""
        if address in self.network.offline:
            return
        self.fault("offline", host=address)
        self.network.go_offline(address)
        if self.host_up(address):
            self.deliver_now(address, BrowserOffline())

    def go_online(self, address: str) -> None:
        """The host's network comes back and it is told so (``BrowserOnline``)."""
        if address not in self.network.offline:
            return
        self.fault("online", host=address)
        self.network.go_online(address)
        if self.host_up(address):
            self.deliver_now(address, BrowserOnline())

    def rate_limit(self, address: str, requests: int, retry_after: Time) -> None:
        """The next ``requests`` HTTP requests to ``address`` get 429 + ``Retry-After``."""
        self.fault("rate_limit", host=address, requests=requests, retry_after=retry_after)
        self.network.rate_limit(address, requests, retry_after)

    def crash(self, address: str) -> None:
        """The host dies: memory and timers lost, connections broken, storage and alarm kept."""
        host = self.hosts.get(address)
        if host is None or not host.up:
            return
        self.fault("crash", host=address)
        host.up = False
        host.node = None
        host.crashes += 1
        for entry in host.timers.values():
            entry[2] = None
        host.timers.clear()
        self.network.crash_host(address)

    def restart(self, address: str) -> None:
        host = self.hosts.get(address)
        if host is None or host.up:
            return
        self.fault("restart", host=address)
        self._boot(host)
        self.alarms.host_restarted(address)

    def evict(self, address: str) -> None:
        """Hibernation eviction: memory and timers lost, sockets and storage kept."""
        host = self.hosts.get(address)
        if host is None or not host.up:
            return
        self.fault("evict", host=address)
        for entry in host.timers.values():
            entry[2] = None
        host.timers.clear()
        host.up = False
        self._boot(host)

    # ---------------------------------------------------------------- inspection
    def statistics(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "events": self.scheduler.steps,
            "records": self.trace.count,
            "hosts": {a: {"up": h.up, "incarnation": h.incarnation} for a, h in self.hosts.items()},
            "connections": len(self.network.conns),
        }

    def __repr__(self) -> str:
        return f"<World seed={self.seed} t={self.now} hosts={len(self.hosts)}>"


__all__ = ["Host", "NodeFactory", "World", "value_fields"]
