"""A bench for the gateway side: scripted raw sockets, fake mesh DOs, a raw RPC caller.

The real gateway unit tests (``lumenize-client-gateway.test.ts``) talk to the gateway with
a bare WebSocket and fake JWTs, call ``__executeOperation`` directly, and route calls to an
echo DO, a throwing DO and a Worker. :class:`Bench` builds the same thing in a world:

- ``alice``, ``bob``, ... are :class:`RawClient` hosts that open sockets with the request
  they are given, send the frames they are told to and record everything they receive;
- ``echo`` (:class:`EchoDO`) records each envelope and answers ``echo(x)`` with ``x``;
  ``thrower`` (:class:`ThrowingDO`) answers every call with an error;
- ``worker`` is the real :class:`~gatewaysim.models.lumenize.worker.Worker` (the Worker binding);
- ``caller`` (:class:`RpcCaller`) sends raw ``__executeOperation`` envelopes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from attrs import field, frozen

from gatewaysim.models.lumenize import protocol as p
from gatewaysim.models.lumenize.config import LumenizeConfig, preset
from gatewaysim.models.lumenize.gateway import LumenizeGateway
from gatewaysim.models.lumenize.worker import Worker
from gatewaysim.simulator.clock import SECOND, Time
from gatewaysim.simulator.messages import (
    CloseConnection,
    Effect,
    HttpFailed,
    HttpRequest,
    HttpRequestReceived,
    HttpRespond,
    HttpResponse,
    Input,
    OpenConnection,
    Send,
    WsClosed,
    WsMessage,
    WsOpened,
    WsRejected,
)
from gatewaysim.simulator.node import HostContext, Node
from gatewaysim.simulator.world import World


# ---------------------------------------------------------------------- scripted client
@frozen
class Open(Input):
    to: str
    request: dict = field(factory=dict)


@frozen
class SendFrame(Input):
    data: Any
    conn: str | None = None


@frozen
class CloseSocket(Input):
    code: int = p.CLOSE_NORMAL
    reason: str = ""
    conn: str | None = None


class RawClient(Node):
    """A bare WebSocket: opens what it is told, sends what it is told, records the rest."""

    def __init__(self, ctx: HostContext) -> None:
        super().__init__(ctx)
        self.conns: list[str] = []
        self.opened: list[str] = []
        self.frames: dict[str, list[Any]] = {}
        self.received: list[tuple[Time, str, Any]] = []  # every frame, in arrival order
        self.closed: dict[str, tuple[int, str, bool]] = {}
        self.rejected: dict[str, tuple[int, str]] = {}

    @property
    def conn(self) -> str:
        return self.conns[-1]

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case Open(to=to, request=request):
                conn = f"{self.address}:ws{len(self.conns) + 1}"
                self.conns.append(conn)
                self.frames[conn] = []
                return [OpenConnection(conn, to, request)]
            case SendFrame(data=data, conn=conn):
                return [Send(conn or self.conn, data)]
            case CloseSocket(code=code, reason=reason, conn=conn):
                return [CloseConnection(conn or self.conn, code, reason)]
            case WsOpened(conn=conn):
                self.opened.append(conn)
            case WsMessage(conn=conn, data=data):
                self.frames[conn].append(data)
                self.received.append((now, conn, data))
            case WsClosed(conn=conn, code=code, reason=reason, clean=clean):
                self.closed[conn] = (code, reason, clean)
            case WsRejected(conn=conn, status=status, reason=reason):
                self.rejected[conn] = (status, reason)
        return []


# ---------------------------------------------------------------------- fake mesh objects
class EchoDO(Node):
    """ECHO_DO of the real tests: records envelopes, ``echo(x)`` answers ``x``."""

    def __init__(self, ctx: HostContext) -> None:
        super().__init__(ctx)
        self.envelopes: list[dict] = []

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        if isinstance(inp, HttpRequestReceived):
            self.envelopes.append(inp.body)
            chain = inp.body.get("chain") or {}
            if chain.get("method") == "echo":
                return [HttpRespond(inp.req, 200, p.rpc_result((chain.get("args") or [None])[0]))]
            return [HttpRespond(inp.req, 200, p.rpc_error(p.error_value(
                "Error", f"Unknown method: {chain.get('method')}")))]
        return []


class ThrowingDO(Node):
    """A DO whose every method throws (case 20)."""

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        if isinstance(inp, HttpRequestReceived):
            return [HttpRespond(inp.req, 200, p.rpc_error(p.error_value("Error", "boom")))]
        return []


@frozen
class Rpc(Input):
    to: str
    body: Any
    path: str = p.EXECUTE_OPERATION


class RpcCaller(Node):
    """Calls ``__executeOperation`` on a gateway as a mesh DO would; records the replies."""

    def __init__(self, ctx: HostContext) -> None:
        super().__init__(ctx)
        self.sent: list[str] = []
        self.replies: dict[str, tuple[Time, int, Any]] = {}

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case Rpc(to=to, body=body, path=path):
                req = f"{self.address}:rpc{len(self.sent) + 1}"
                self.sent.append(req)
                return [HttpRequest(req, to, p.RPC_METHOD, path, body=body)]
            case HttpResponse(req=req, status=status, body=body):
                self.replies[req] = (now, status, body)
            case HttpFailed(req=req, reason=reason):
                self.replies[req] = (now, 0, reason)
        return []


# ---------------------------------------------------------------------- the bench
def claims_for(sub: str | None, now: Time = 0, ttl_s: int = 3600, **extra: Any) -> dict:
    claims: dict[str, Any] = {"iss": p.ISSUER, "aud": p.AUDIENCE, "iat": p.now_seconds(now),
                              "exp": p.now_seconds(now) + ttl_s, "emailVerified": True,
                              "adminApproved": True, "isAdmin": False}
    if sub is not None:
        claims["sub"] = sub
    return {**claims, **extra}


def gateway_request(instance: str | None, token: str | None, *,
                    binding: str | None = p.DEFAULT_BINDING, upgrade: bool = True) -> dict:
    """An upgrade as the Worker forwards it (headers set), or partial for the 4xx cases."""
    headers: dict[str, str] = {}
    if upgrade:
        headers["Upgrade"] = "websocket"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if instance is not None:
        headers[p.INSTANCE_HEADER] = instance
    if binding is not None:
        headers[p.BINDING_HEADER] = binding
    return {"path": "/", "headers": headers, "protocols": ["lmz"]}


SETTLE: Time = 100_000  # 100 ms: every hop on the default 10 ms links has landed


class Bench:
    """A world with one gateway namespace, raw clients, fake DOs and an RPC caller."""

    def __init__(self, config: LumenizeConfig, gateway_cls: type[LumenizeGateway],
                 seed: int = 0) -> None:
        self.config = config
        self.world = World(seed)
        self.world.add_namespace(p.GATEWAY_PREFIX, lambda ctx: gateway_cls(ctx, config))
        self.world.add_host("echo", EchoDO)
        self.world.add_host("thrower", ThrowingDO)
        self.world.add_host(p.WORKER, lambda ctx: Worker(ctx, config))
        self.world.add_host("caller", RpcCaller)
        for name in ("alice", "bob"):
            self.world.add_host(name, RawClient)

    # -- hosts
    def client(self, name: str = "alice") -> RawClient:
        if name not in self.world.hosts:
            self.world.add_host(name, RawClient)
        return self.world.node(name)

    def gateway(self, instance: str = "alice.tab1") -> LumenizeGateway:
        return self.world.node(p.gateway_address(instance))

    @property
    def caller(self) -> RpcCaller:
        return self.world.node("caller")

    @property
    def echo(self) -> EchoDO:
        return self.world.node("echo")

    def run(self, duration: Time = SETTLE) -> None:
        self.world.run_for(duration)

    # -- sockets
    def open(self, client: str, request: dict, *, to: str | None = None,
             settle: bool = True) -> str:
        instance = p.header(request.get("headers", {}), p.INSTANCE_HEADER) or "alice.tab1"
        self.world.inject(client, Open(to or p.gateway_address(instance), request))
        if settle:
            self.run()
        return self.client(client).conn

    def connect(self, client: str = "alice", instance: str = "alice.tab1",
                sub: str | None = "alice", *, settle: bool = True, **claims: Any) -> str:
        token = p.encode_token(claims_for(sub, self.world.now, **claims))
        return self.open(client, gateway_request(instance, token), settle=settle)

    def send(self, client: str, frame: Any, *, conn: str | None = None,
             settle: bool = True) -> None:
        self.world.inject(client, SendFrame(frame, conn))
        if settle:
            self.run()

    def close(self, client: str, code: int = p.CLOSE_NORMAL, reason: str = "", *,
              settle: bool = True) -> None:
        self.world.inject(client, CloseSocket(code, reason))
        if settle:
            self.run()

    def call(self, client: str, call_id: str, method: str, *args: Any,
             instance: str | None = "echo", state: dict | None = None, settle: bool = True,
             binding: str = "ECHO_DO") -> None:
        frame: dict[str, Any] = {"type": "call", "callId": call_id, "binding": binding,
                                 "chain": {"method": method, "args": list(args)}}
        if instance is not None:
            frame["instance"] = instance
        if state is not None:
            frame["callContext"] = {"callChain": [], "state": state}
        self.send(client, frame, settle=settle)

    def frames(self, client: str = "alice", conn: str | None = None,
               kind: str | None = None) -> list[Any]:
        raw = self.client(client)
        frames = raw.frames[conn or raw.conn]
        if kind is None:
            return list(frames)
        return [f for f in frames if isinstance(f, dict) and f.get("type") == kind]

    # -- mesh -> client
    def rpc(self, instance: str = "alice.tab1", method: str = "ping", *args: Any,
            version: int = 1, settle: bool = True, callee_instance: str | None = "",
            origin_auth: Any = None) -> str:
        callee_name = instance if callee_instance == "" else callee_instance
        env = p.envelope(
            {"method": method, "args": list(args)},
            {"callChain": [{"type": "LumenizeDO", "bindingName": "ECHO_DO",
                            "instanceName": "echo"}], "originAuth": origin_auth, "state": {}},
            {"type": "LumenizeDO", "bindingName": "ECHO_DO", "instanceName": "echo"},
            {"type": "LumenizeClient", "bindingName": p.DEFAULT_BINDING,
             "instanceName": callee_name},
            version=version)
        self.world.inject("caller", Rpc(p.gateway_address(instance), env))
        if settle:
            self.run()
        return self.caller.sent[-1]

    def reply(self, req: str) -> Any:
        """The ``{$result}`` / ``{$error}`` body of an answered RPC, or ``None`` if pending."""
        got = self.caller.replies.get(req)
        return None if got is None else got[2]

    def answer(self, client: str, call_id: str, result: Any = None, *, success: bool = True,
               conn: str | None = None, settle: bool = True) -> None:
        frame = {"type": "incoming_call_response", "callId": call_id, "success": success,
                 "result" if success else "error": result}
        self.send(client, frame, conn=conn, settle=settle)

    def notes(self, event: str, actor: str | None = None) -> list[dict]:
        return [r.data["data"] for r in self.world.trace.records
                if r.kind == "out" and r.type == "Note" and r.data.get("event") == event
                and (actor is None or r.actor == actor)]

    def alarm(self, instance: str = "alice.tab1") -> Time | None:
        return self.world.alarms.get(p.gateway_address(instance))


BenchFactory = Callable[..., Bench]


@pytest.fixture
def make_bench() -> BenchFactory:
    """``make_bench(config=None, gateway_cls=LumenizeGateway, seed=0, **config_overrides)``."""

    def make(config: LumenizeConfig | None = None, gateway_cls: type[LumenizeGateway] =
             LumenizeGateway, seed: int = 0, **overrides: Any) -> Bench:
        return Bench(config or preset("faithful", **overrides), gateway_cls, seed)

    return make


@pytest.fixture
def bench(make_bench: BenchFactory) -> Bench:
    """The faithful gateway with the real 5 s grace period."""
    return make_bench()


__all__ = ["SECOND", "Bench", "RawClient", "claims_for", "gateway_request"]
