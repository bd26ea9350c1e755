"""Wiring: a world of Lumenize clients, the Worker, gateways, a token service and mesh DOs.

Hosts (spec sections 1-3; addresses in ``protocol``):

- ``worker``: the Worker (upgrade checks, routing, Worker binding);
- ``auth``: the token service, seeded with one refresh token per client;
- ``gateway/<instanceName>``: a gateway DO per client instanceName, created on first contact;
- ``doc/<name>``: document broadcasters (``doc/main`` exists from the start);
- ``node/<name>``: mesh nodes that call clients (``node/main`` is used by ``call_client``);
- ``client/<sub>.<tabId>``: one per client; a second tab with the same sub and tab id is
  ``client/<sub>.<tabId>#2`` (it shares the instanceName, so the two supersede each other).

:class:`LumenizeWorld` wraps the kernel ``World`` with helpers for scenarios, tests and the
explorer, and :meth:`LumenizeWorld.describe` turns trace records into timeline text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attrs import field, frozen

from gatewaysim.simulator.clock import Time, format_duration, format_time
from gatewaysim.simulator.network import NetworkConfig
from gatewaysim.simulator.trace import FAULT, IN, OUT, SYS, Trace, TraceRecord
from gatewaysim.simulator.world import World

from . import protocol as p
from .auth import TokenService
from .config import LumenizeConfig
from .gateway import LumenizeGateway
from .mesh import DocumentBroadcaster, MeshNode
from .worker import Worker

MESH_NODE = "node/main"


def _as_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


@frozen
class ClientSpec:
    """One browser tab: its user, tab id, extra token claims and documents it follows."""

    sub: str
    tab_id: str = "t1"
    claims: dict[str, Any] = field(factory=dict, converter=_as_dict)
    subscribe_to: tuple[str, ...] = field(default=(p.DEFAULT_DOCUMENT,), converter=tuple)
    auto_connect: bool = True
    tab_id_stored: bool = False
    """sessionStorage already holds the tab id (a reloaded or duplicated tab), so the first
    connect waits for the 50 ms duplicate-tab probe; a fresh tab does not wait."""

    @property
    def instance_name(self) -> str:
        return f"{self.sub}.{self.tab_id}"


def trace_header(config: LumenizeConfig, seed: int) -> dict[str, Any]:
    return {"pack": "lumenize", "seed": seed, "config": config.to_dict()}


def build_world(config: LumenizeConfig, seed: int, clients: Sequence[ClientSpec], *,
                trace: Trace | None = None,
                network: NetworkConfig | None = None) -> LumenizeWorld:
    """Build the world: infrastructure first, then each client in order (they auto-connect)."""
    trace = trace if trace is not None else Trace(header=trace_header(config, seed))
    world = World(seed, network=network, trace=trace)
    lw = LumenizeWorld(world, config)
    users: dict[str, dict] = {}
    for spec in clients:
        users[spec.sub] = {**users.get(spec.sub, {}), **spec.claims}
    world.add_host(p.WORKER, lambda ctx: Worker(ctx, config))
    world.add_namespace(p.GATEWAY_PREFIX, lambda ctx: LumenizeGateway(ctx, config))
    world.add_namespace(p.DOC_PREFIX, lambda ctx: DocumentBroadcaster(ctx, config))
    world.add_namespace(p.NODE_PREFIX, lambda ctx: MeshNode(ctx, config))
    world.add_host(p.DEFAULT_DOCUMENT, lambda ctx: DocumentBroadcaster(ctx, config))
    world.add_host(MESH_NODE, lambda ctx: MeshNode(ctx, config))
    addresses = [lw._reserve(spec) for spec in clients]
    tokens = {lw.refresh_tokens[a]: spec.sub for a, spec in zip(addresses, clients)}
    world.add_host(p.AUTH, lambda ctx: TokenService(ctx, config, users, tokens))
    for address, spec in zip(addresses, clients):
        lw._start_client(address, spec)
    return lw


class LumenizeWorld:
    """A kernel ``World`` plus Lumenize helpers. ``world`` is the kernel world itself."""

    def __init__(self, world: World, config: LumenizeConfig) -> None:
        self.world = world
        self.config = config
        self.clients: list[str] = []
        self.specs: dict[str, ClientSpec] = {}
        self.refresh_tokens: dict[str, str] = {}  # client address -> initial refresh token

    # ------------------------------------------------------------------ clients
    def _reserve(self, spec: ClientSpec) -> str:
        base = p.CLIENT_PREFIX + spec.instance_name
        address, n = base, 1
        while address in self.specs:
            n += 1
            address = f"{base}#{n}"
        self.clients.append(address)
        self.specs[address] = spec
        self.refresh_tokens[address] = f"rt0.{address.removeprefix(p.CLIENT_PREFIX)}"
        return address

    def _start_client(self, address: str, spec: ClientSpec) -> None:
        from .client import LumenizeClient  # written alongside; imported on first use

        config, token = self.config, self.refresh_tokens[address]
        self.world.add_host(address, lambda ctx: LumenizeClient(
            ctx, config, refresh_token=token, tab_id=spec.tab_id,
            subscribe_to=spec.subscribe_to, auto_connect=spec.auto_connect,
            tab_id_stored=spec.tab_id_stored))

    def add_client(self, spec: ClientSpec) -> str:
        """Add a tab during a run; returns its host address (suffixed if a duplicate tab)."""
        address = self._reserve(spec)
        self.world.inject(p.AUTH, p.GrantRefreshToken(self.refresh_tokens[address], spec.sub))
        if spec.claims:
            self.world.inject(p.AUTH, p.SetUserClaims(spec.sub, dict(spec.claims)))
        self._start_client(address, spec)
        return address

    def _client_address(self, which: int | str) -> str:
        if isinstance(which, int):
            return self.clients[which]
        return which if which.startswith(p.CLIENT_PREFIX) else p.CLIENT_PREFIX + which

    def client(self, which: int | str) -> Any:
        """The client node by index in :attr:`clients`, address, or ``"<sub>.<tab>"``."""
        return self.world.node(self._client_address(which))

    def gateway(self, instance_name: str) -> LumenizeGateway | None:
        """The gateway of ``instance_name``, or ``None`` if nothing contacted it yet."""
        host = self.world.hosts.get(p.gateway_address(instance_name))
        return None if host is None else host.node  # type: ignore[return-value]

    def broadcaster(self, name: str = p.DEFAULT_DOCUMENT) -> DocumentBroadcaster:
        return self.world.node(name)

    def mesh_node(self, name: str = MESH_NODE) -> MeshNode:
        return self.world.node(name)

    def auth(self) -> TokenService:
        return self.world.node(p.AUTH)

    def gateway_sockets(self, instance_name: str) -> list[str]:
        """Server-side sockets of that gateway (OPEN or CLOSING), oldest first."""
        return [ws.conn for ws in
                self.world.network.server_sockets(p.gateway_address(instance_name))]

    # ------------------------------------------------------------------ actions
    def inject(self, address: str, inp: Any) -> None:
        self.world.inject(address, inp)

    def publish(self, content: str, doc: str = p.DEFAULT_DOCUMENT) -> None:
        if self.config.mutant("publish_dropped"):
            return
        self.world.inject(doc, p.Publish(content))

    def call_client(self, instance_name: str, method: str = "ping", args: Sequence = (),
                    tag: str = "", node: str = MESH_NODE) -> None:
        """A mesh node calls a client's ``@mesh`` method; the result is a ``mesh_call.result``."""
        self.world.inject(node, p.CallClient(instance_name, method, list(args), tag))

    def client_call(self, which: int | str, method: str, args: Sequence = (), *,
                    instance: str | None = p.DEFAULT_DOCUMENT,
                    binding: str = p.DOCUMENT_BINDING, awaited: bool = True,
                    tag: str = "") -> None:
        """Application code in a client calls the mesh (``callRaw`` or ``call``)."""
        self.world.inject(self._client_address(which),
                          p.ClientCall(method, list(args), instance, binding, awaited, tag))

    def force_close(self, instance_name: str, code: int, reason: str = "") -> str | None:
        """``ctx.getWebSockets()[0].close(code, reason)`` as the real tests do (cases 81, 82)."""
        conns = self.gateway_sockets(instance_name)
        if not conns:
            return None
        address = p.gateway_address(instance_name)
        self.world.fault("force_close", host=address, conn=conns[0], code=code)
        self.world.network.close(address, conns[0], code, reason)
        return conns[0]

    def drop_client(self, which: int | str) -> str | None:
        """Drop the client's current connection (both ends see 1006), if it has one."""
        conn = self.client(which).statistics().get("conn")
        if conn is None or self.world.network.connection(conn) is None:
            return None
        self.world.drop(conn)
        return conn

    # ------------------------------------------------------------------ kernel pass-through
    @property
    def now(self) -> Time:
        return self.world.now

    @property
    def trace(self) -> Trace:
        return self.world.trace

    def run_for(self, duration: Time) -> int:
        return self.world.run_for(duration)

    def run_until(self, until: Time) -> int:
        return self.world.run_until(until)

    def run_to_quiescence(self, limit: Time | None = None) -> int:
        return self.world.run_to_quiescence(limit)

    def crash(self, address: str) -> None:
        self.world.crash(address)

    def restart(self, address: str) -> None:
        self.world.restart(address)

    def evict(self, address: str) -> None:
        self.world.evict(address)

    def drop(self, conn: str) -> None:
        self.world.drop(conn)

    def half_open(self, conn: str, believer: str = "server") -> None:
        self.world.half_open(conn, believer)

    def partition(self, a: str, b: str, one_way: bool = False) -> None:
        self.world.partition(a, b, one_way)

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        self.world.heal(a, b)

    def slow_link(self, a: str, b: str, latency: Time, jitter: Time = 0) -> None:
        self.world.slow_link(a, b, latency, jitter)

    # ------------------------------------------------------------------ timeline
    def describe(self, record: TraceRecord) -> str | None:
        """Timeline text for a record: a string, ``""`` to hide it, ``None`` for the default."""
        return describe(record)

    def timeline(self, verbose: bool = False, limit: int | None = None) -> str:
        from gatewaysim.simulator.timeline import render_timeline

        return render_timeline(self.world.trace.records, describe, verbose, limit)

    def __repr__(self) -> str:
        return (f"LumenizeWorld(seed={self.world.seed}, variant={self.config.variant!r}, "
                f"clients={self.clients!r})")


# ---------------------------------------------------------------------- describe
def _err(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('name')}: {error.get('message')}"
    return repr(error)


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _settled(d: dict) -> str:
    tag = f" [{d['tag']}]" if d.get("tag") else ""
    if d.get("ok"):
        return f"call {d.get('callId')}{tag} ok: {_short(d.get('value'))}"
    return f"call {d.get('callId')}{tag} failed: {_err(d.get('error'))}"


_NOTES: dict[str, Any] = {
    "state": lambda d: f"state {d.get('from')} -> {d.get('to')}",
    "call.issued": lambda d: "",  # call.sent or call.settled says what became of it
    "instance_name.undefined": lambda d: (
        f"instanceName fixed as {d.get('instanceName')} (claims gone: claims?.sub)"),
    "connect.without_token": lambda d: f"socket {d.get('conn')} opened with no token",
    "call.sent": lambda d: f"call {d.get('callId')} sent" + (
        f" [{d['tag']}]" if d.get("tag") else ""),
    "call.settled": _settled,
    "incoming.handled": lambda d: f"handled incoming {d.get('method')} ({d.get('callId')})",
    "subscription_required": lambda d: "onSubscriptionRequired",
    "login_required": lambda d: f"onLoginRequired {d.get('code')} {d.get('reason')}",
    "reconnect.scheduled": lambda d: (
        f"reconnect attempt {d.get('attempt')} in {format_duration(d.get('delay', 0))}"),
    "refresh.started": lambda d: f"token refresh started ({d.get('reason')})",
    "refresh.done": lambda d: "token refresh " + (
        "ok" if d.get("ok") else f"failed ({d.get('status', d.get('error'))})"),
    "document": lambda d: f"document now v{d.get('version')}",
    "connection_error": lambda d: "connection error",
    "upgrade": lambda d: (
        f"accept {d.get('conn')} subscriptionRequired={str(d.get('subscriptionRequired')).lower()}"
        + (f", superseding {', '.join(d['superseded'])}" if d.get("superseded") else "")),
    "grace.armed": lambda d: (
        f"grace armed until {format_time(d.get('at', 0))} (close {d.get('code')})"),
    "alarm": lambda d: f"grace expired: rejected {d.get('rejected')} parked call(s)",
    "call.parked": lambda d: f"mesh call {d.get('req')} parked (grace)",
    "call.forwarded": lambda d: (
        f"mesh call {d.get('req')} forwarded as incoming_call {d.get('callId')}"),
    "mesh_call.settled": lambda d: f"mesh call {d.get('req')} -> " + (
        "ok" if d.get("ok") else _err(d.get("error"))),
    "token.expired": lambda d: f"token expired (checked on {d.get('where')})",
    "frame.dropped": lambda d: f"frame dropped: {d.get('why')}",
    "reply.lost": lambda d: f"call_response {d.get('callId')} lost: socket {d.get('conn')} gone",
    "subscriber.added": lambda d: f"subscriber {d.get('instanceName')} added",
    "subscriber.dropped": lambda d: (
        f"subscriber {d.get('instanceName')} dropped ({d.get('reason')})"),
    "fanout": lambda d: (
        f"fan-out v{d.get('version')} to {', '.join(d.get('targets') or []) or '-'}"),
    "mesh_call.sent": lambda d: f"call {d.get('instanceName')}.{d.get('method')}()" + (
        f" [{d['tag']}]" if d.get("tag") else ""),
    "mesh_call.result": lambda d: f"{d.get('instanceName')} answered" + (
        f" [{d['tag']}]" if d.get("tag") else "") + (
        f": {_short(d.get('value'))}" if d.get("ok") else f" with {_err(d.get('error'))}"),
    "subscription.lost": lambda d: f"subscription to {d.get('resource')} lost; resubscribe",
    "forwarded": lambda d: f"upgrade {d.get('conn')} forwarded to {d.get('to')}",
    # The token service's own notes repeat the input that caused them.
    "auth.ttl": lambda d: "",
    "auth.claims": lambda d: "",
    "auth.mode": lambda d: "",
}


def _frame(data: Any) -> str:
    if not isinstance(data, dict):
        return "" if data in (p.PING, p.PONG) else f"send {_short(data)}"
    kind = data.get("type")
    if kind == "connection_status":
        return f"send connection_status subscriptionRequired=" \
               f"{str(data.get('subscriptionRequired')).lower()}"
    if kind == "call":
        chain = data.get("chain") or {}
        return f"send call {data.get('callId')} {chain.get('method')} -> " \
               f"{data.get('instance') or data.get('binding')}"
    if kind == "incoming_call":
        return f"send incoming_call {data.get('callId')} {(data.get('chain') or {}).get('method')}"
    if kind in ("call_response", "incoming_call_response"):
        ok = "ok" if data.get("success") else "error"
        return f"send {kind} {data.get('callId')} {ok}"
    return f"send {kind}"


_INPUTS: dict[str, Any] = {
    "ClientCall": lambda d: f"app: {'callRaw' if d.get('awaited') else 'call'} "
                            f"{d.get('method')}({_short(d.get('args'), 30)[1:-1]}) -> "
                            f"{d.get('instance') or d.get('binding')}",
    "ClientDisconnect": lambda d: "app: disconnect()",
    "ClientConnect": lambda d: "app: connect()",
    "WakeUp": lambda d: f"browser event: {d.get('kind')}",
    "ClearAccessToken": lambda d: "app: clearAccessToken()",
    "Publish": lambda d: f"publish {_short(d.get('content'))}",
    "CallClient": lambda d: "",  # the mesh node's own mesh_call.sent note says it
    "AuthMode": lambda d: f"auth mode {d.get('mode')}",
    "SetTokenTtl": lambda d: f"access token TTL {d.get('ttl_s')}s",
    "SetUserClaims": lambda d: f"claims of {d.get('sub')} set to {_short(d.get('claims'))}",
    "GrantRefreshToken": lambda d: f"refresh token granted to {d.get('sub')}",
    "WsRejected": lambda d: (
        f"upgrade {d.get('conn')} rejected: {d.get('status') or ''} {d.get('reason')}".replace(
            "  ", " ") + " (a browser sees only close 1006)"),
    "WsMessage": lambda d: "",  # the sender's "send" line already shows the frame
    "TimerFired": lambda d: "",
    "Start": lambda d: "",
}


def describe(record: TraceRecord) -> str | None:
    """The Lumenize timeline text of a record (see ``gatewaysim.simulator.timeline``)."""
    kind, type_, data = record.kind, record.type, record.data
    if kind == OUT:
        if type_ == "Note":
            fn = _NOTES.get(data.get("event", ""))
            return fn(data.get("data") or {}) if fn is not None else None
        if type_ == "OpenConnection":
            return f"open {data.get('conn')} -> {data.get('to')}"
        if type_ == "CloseConnection":
            reason = f" {data.get('reason')}" if data.get("reason") else ""
            return f"close {data.get('code')}{reason} ({data.get('conn')})"
        if type_ == "Send":
            return _frame(data.get("data"))
        if type_ == "HttpRequest":
            body = data.get("body")
            if data.get("method") != p.RPC_METHOD:
                return f"http {data.get('method')} {data.get('path')} -> {data.get('to')}"
            method = (body.get("chain") or {}).get("method") if isinstance(body, dict) else None
            return f"rpc {data.get('path')} {method or ''} -> {data.get('to')}".replace("  ", " ")
        if type_ in ("SetTimer", "CancelTimer", "StoragePut", "StorageDelete",
                     "SetAutoResponse", "SetAttachment"):
            return ""
        return None
    if kind == IN:
        if type_ == "HttpResponse" and ":rpc" in str(data.get("req")):
            return ""  # the reply's effect (call_response, settled note) says it
        fn = _INPUTS.get(type_)
        return fn(data) if fn is not None else None
    if kind == SYS and type_ == "auto_response":
        return ""
    if kind == FAULT:
        return None
    return None
