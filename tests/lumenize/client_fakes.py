"""Small scripted fakes for driving ``LumenizeClient`` in a real ``simulator.World``.

``FakeWorker`` stands at ``"worker"`` and answers each upgrade from a script (accept,
reject, or hold it unanswered), sends scripted frames, and records every frame it gets.
``FakeAuth`` stands at ``"auth"`` and answers refresh requests from a script (a minted
token, a status, a malformed token, or no answer at all), optionally enforcing rotation.
Tests steer both at any time by injecting the ``Fake*`` inputs below.

They know nothing of the gateway-side model on purpose: the client is tested against the
wire contract alone.
"""

from __future__ import annotations

from typing import Any

from attrs import define, field, frozen

from gatewaysim.models.lumenize import protocol
from gatewaysim.models.lumenize.client import LumenizeClient
from gatewaysim.models.lumenize.config import LumenizeConfig, preset
from gatewaysim.simulator.clock import Time, ms
from gatewaysim.simulator.messages import (
    AcceptConnection,
    CloseConnection,
    ConnectRequested,
    Effect,
    HttpRequestReceived,
    HttpRespond,
    Input,
    RejectConnection,
    Send,
    TimerFired,
    WsClosed,
    WsMessage,
)
from gatewaysim.simulator.node import HostContext, Node
from gatewaysim.simulator.world import World

CLIENT = "client/alice.t1"
SUB = "alice"
TAB = "t1"
FIRST_REFRESH_TOKEN = "rt-0"


# ---------------------------------------------------------------------------- the Worker
@frozen
class Upgrade:
    """How the fake Worker answers one upgrade: ``accept``, ``reject`` or ``hold``."""

    action: str = "accept"
    status: int = 0
    reason: str = ""
    frames: tuple[Any, ...] = ()  # sent right after accepting


def accept(subscription_required: bool | None = True, *frames: Any) -> Upgrade:
    """Accept, send ``connection_status`` (unless ``None``) and then ``frames``."""
    head = () if subscription_required is None else (status_frame(subscription_required),)
    return Upgrade("accept", frames=(*head, *frames))


def reject(status: int, reason: str = "") -> Upgrade:
    return Upgrade("reject", status, reason)


HOLD = Upgrade("hold")


def status_frame(subscription_required: bool) -> dict[str, Any]:
    return {"type": "connection_status", "subscriptionRequired": subscription_required}


@frozen
class FakeSend(Input):
    conn: str
    data: Any


@frozen
class FakeClose(Input):
    conn: str
    code: int
    reason: str = ""


@frozen
class FakeAccept(Input):
    """Accept an upgrade that was held, and send ``frames``."""

    conn: str
    frames: tuple[Any, ...] = ()


@frozen
class FakeReject(Input):
    conn: str
    status: int
    reason: str = ""


class FakeWorker(Node):
    """Answers upgrades from ``script`` (then ``default``); answers calls if ``answer_calls``."""

    def __init__(self, ctx: HostContext, script: list[Upgrade] | None = None,
                 default: Upgrade | None = None, answer_calls: bool = True) -> None:
        super().__init__(ctx)
        self.script = list(script or [])
        self.default = default if default is not None else accept()
        self.answer_calls = answer_calls
        self.upgrades: list[tuple[Time, str, dict]] = []  # (time, conn, request)
        self.received: list[tuple[Time, str, Any]] = []  # (time, conn, frame)
        self.closed: list[tuple[str, int]] = []

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case ConnectRequested(conn=conn, request=request):
                self.upgrades.append((now, conn, request))
                plan = self.script.pop(0) if self.script else self.default
                if plan.action == "accept":
                    return self._accept(conn, plan.frames)
                if plan.action == "reject":
                    return [RejectConnection(conn, plan.status, plan.reason)]
                return []
            case WsMessage(conn=conn, data=data):
                self.received.append((now, conn, data))
                if self.answer_calls and isinstance(data, dict) and data.get("type") == "call":
                    return [Send(conn, self._answer(data))]
                return []
            case WsClosed(conn=conn, code=code):
                self.closed.append((conn, code))
                return []
            case FakeAccept(conn=conn, frames=frames):
                return self._accept(conn, frames)
            case FakeReject(conn=conn, status=status, reason=reason):
                return [RejectConnection(conn, status, reason)]
            case FakeSend(conn=conn, data=data):
                return [Send(conn, data)]
            case FakeClose(conn=conn, code=code, reason=reason):
                return [CloseConnection(conn, code, reason)]
        return []

    def _accept(self, conn: str, frames: tuple[Any, ...]) -> list[Effect]:
        return [AcceptConnection(conn, response={"protocol": protocol.SUBPROTOCOL}),
                *(Send(conn, frame) for frame in frames)]

    def _answer(self, call: dict[str, Any]) -> dict[str, Any]:
        chain = call["chain"]
        if chain["method"] == "subscribe":
            result: Any = {"content": "hello", "version": 1}
        else:
            result = {"echo": chain["method"], "args": chain["args"]}
        return {"type": "call_response", "callId": call["callId"], "success": True,
                "result": result}

    def calls(self) -> list[dict[str, Any]]:
        """Every ``call`` frame received, in arrival order."""
        return [d for _, _, d in self.received if isinstance(d, dict) and d.get("type") == "call"]

    def pings(self) -> list[Time]:
        return [t for t, _, d in self.received if d == protocol.PING]


# ---------------------------------------------------------------------------- the token service
@frozen
class Answer:
    """How the fake token service answers one refresh request.

    ``kind``: ``ok`` (mint a token living ``ttl_s``), ``status`` (answer ``status`` with no
    token), ``malformed`` (200 with a token that does not decode), ``no_exp`` (a token with
    no ``exp`` claim) or ``hang`` (never answer, until a ``FakeAuthRelease``).
    """

    kind: str = "ok"
    status: int = 200
    ttl_s: int = 900
    delay: Time = 0


OK = Answer()
HANG = Answer("hang")


def status(code: int) -> Answer:
    return Answer("status", code)


@frozen
class FakeAuthRelease(Input):
    """Answer every request that is hanging, with ``answer``."""

    answer: Answer = OK


@define
class AuthRequest:
    t: Time
    req: str
    peer: str
    cookie: str | None


class FakeAuth(Node):
    """The token service. With ``rotate``, a refresh token works once (then 401)."""

    def __init__(self, ctx: HostContext, script: list[Answer] | None = None,
                 default: Answer = OK, rotate: bool = True, sub: str = SUB) -> None:
        super().__init__(ctx)
        self.script = list(script or [])
        self.default = default
        self.rotate = rotate
        self.sub = sub
        self.requests: list[AuthRequest] = []
        self.valid: set[str] = {FIRST_REFRESH_TOKEN}
        self.hanging: list[str] = []
        self.delayed: dict[str, Answer] = {}
        self._n = 0

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case HttpRequestReceived(req=req, peer=peer, headers=headers):
                cookie = headers.get("Cookie")
                self.requests.append(AuthRequest(now, req, peer, cookie))
                answer = self.script.pop(0) if self.script else self.default
                if self.rotate and cookie not in self.valid:
                    answer = Answer("status", 401, delay=answer.delay)
                elif self.rotate and answer.kind in ("ok", "no_exp", "malformed"):
                    self.valid.discard(cookie)  # type: ignore[arg-type]
                if answer.kind == "hang":
                    self.hanging.append(req)
                    return []
                if answer.delay:
                    self.delayed[req] = answer
                    return [self.set_timer(req, now + answer.delay)]
                return [self._respond(now, req, answer)]
            case TimerFired(key=req) if req in self.delayed:
                return [self._respond(now, req, self.delayed.pop(req))]
            case FakeAuthRelease(answer=answer):
                hanging, self.hanging = self.hanging, []
                return [self._respond(now, req, answer) for req in hanging]
        return []

    def _respond(self, now: Time, req: str, answer: Answer) -> HttpRespond:
        if answer.kind == "status":
            return HttpRespond(req, answer.status, {"error": "refused"})
        self._n += 1
        rotated = f"rt-{self._n}"
        self.valid.add(rotated)
        if answer.kind == "malformed":
            return HttpRespond(req, 200, {"access_token": "not-a-jwt", "refresh_token": rotated})
        now_s = protocol.now_seconds(now)
        claims: dict[str, Any] = {
            "sub": self.sub, "iss": protocol.ISSUER, "aud": protocol.AUDIENCE,
            "iat": now_s, "emailVerified": True, "adminApproved": True,
        }
        if answer.kind != "no_exp":
            claims["exp"] = now_s + answer.ttl_s
        return HttpRespond(req, 200, {"access_token": protocol.encode_token(claims),
                                      "refresh_token": rotated})


# ---------------------------------------------------------------------------- a world
@define
class Rig:
    """A world with one client, a fake Worker and a fake token service."""

    world: World
    client: LumenizeClient
    worker: FakeWorker
    auth: FakeAuth
    config: LumenizeConfig = field(factory=lambda: preset("faithful"))

    @property
    def now(self) -> Time:
        return self.world.now

    def inject(self, inp: Input) -> None:
        self.world.inject(self.client.address, inp)

    def to_worker(self, inp: Input) -> None:
        self.world.inject("worker", inp)

    def run(self, duration: Time) -> None:
        self.world.run_for(duration)

    def notes(self, event: str) -> list[dict[str, Any]]:
        """The data of every ``Note(event)`` the client emitted, in order."""
        return [r.data["data"] for r in self.world.trace.records
                if r.actor == self.client.address and r.kind == "out" and r.type == "Note"
                and r.data["event"] == event]

    def note_times(self, event: str) -> list[Time]:
        return [r.t for r in self.world.trace.records
                if r.actor == self.client.address and r.kind == "out" and r.type == "Note"
                and r.data["event"] == event]

    def states(self) -> list[str]:
        return [n["to"] for n in self.notes("state")]

    def stats(self) -> dict[str, Any]:
        return self.client.statistics()

    def settled(self, tag: str) -> list[dict[str, Any]]:
        return [n for n in self.notes("call.settled") if n["tag"] == tag]


def rig(config: LumenizeConfig | None = None, *, worker: list[Upgrade] | None = None,
        worker_default: Upgrade | None = None, answer_calls: bool = True,
        auth: list[Answer] | None = None, auth_default: Answer = OK, rotate: bool = True,
        seed: int = 1, auto_connect: bool = True, tab_id: str = TAB,
        address: str = CLIENT, subscribe_to: tuple[str, ...] = ("doc/main",),
        tab_id_stored: bool = False) -> Rig:
    """Build the world. The client starts (and, with ``auto_connect``, connects) at once."""
    config = config if config is not None else preset("faithful")
    world = World(seed)
    fake_worker = world.add_host("worker", lambda ctx: FakeWorker(
        ctx, worker, worker_default, answer_calls))
    fake_auth = world.add_host("auth", lambda ctx: FakeAuth(ctx, auth, auth_default, rotate))
    client = world.add_host(address, lambda ctx: LumenizeClient(
        ctx, config, refresh_token=FIRST_REFRESH_TOKEN, tab_id=tab_id,
        auto_connect=auto_connect, subscribe_to=subscribe_to, tab_id_stored=tab_id_stored))
    assert isinstance(client, LumenizeClient)
    assert isinstance(fake_worker, FakeWorker) and isinstance(fake_auth, FakeAuth)
    return Rig(world, client, fake_worker, fake_auth, config)


def connected(config: LumenizeConfig | None = None, **kwargs: Any) -> Rig:
    """A rig whose client has connected (a fresh tab's first connect takes about 50 ms)."""
    r = rig(config, **kwargs)
    r.run(ms(200))
    assert r.client.state == "connected", r.client.statistics()
    return r
