"""The client gateway Durable Object, one per client instanceName (spec section 1).

Theory of operation
-------------------
The gateway keeps no storage of its own. Everything it knows is derived from three
things the runtime holds for it, read here through ``HostContext``:

- ``ctx.get_websockets()``: the hibernatable sockets and their attachments
  ``{sub, bindingName, instanceName, claims}``;
- ``ctx.get_alarm()``: the grace period (one alarm, it only ever means "grace");
- the socket attachment's ``claims.exp``, checked on every frame and every mesh call.

From those the state follows (section 1, table): an OPEN socket means *connected*; no OPEN
socket but an alarm means *grace*; neither means *disconnected*. :data:`ON_MESH_CALL`
says what a mesh->client call does in each state.

Two maps live in memory only and are lost on eviction or crash, exactly as in the real
object: ``pending_calls`` (mesh->client calls forwarded to the client and waiting for its
answer, each with a 30 s timer) and ``waiters`` (mesh->client calls parked during grace,
with no timer of their own). The client->mesh calls in flight (``outgoing``) are memory
too: the reply goes back on the socket the call came in on, or is lost (section 6).

The world applies effects after ``handle`` returns, so within one step the sockets and the
alarm read as they were when the step began. The upgrade uses that on purpose: the
socket it accepts is passed explicitly to the waiters it releases (section 1.1 step 9).

Subclasses override the hooks (:meth:`LumenizeGateway.on_before_accept`,
:meth:`~LumenizeGateway.on_before_call_to_mesh`,
:meth:`~LumenizeGateway.on_before_call_to_client`), as the real gateway is subclassed.
"""

from __future__ import annotations

import json
from typing import Any

from attrs import frozen

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import (
    AcceptConnection,
    AlarmFired,
    CloseConnection,
    ConnectRequested,
    DeleteAlarm,
    Effect,
    HttpFailed,
    HttpRequest,
    HttpRequestReceived,
    HttpRespond,
    HttpResponse,
    Input,
    Note,
    RejectConnection,
    Send,
    SetAlarm,
    SetAutoResponse,
    Start,
    StorageDelete,
    StoragePut,
    TimerFired,
    WsClosed,
    WsMessage,
)
from gatewaysim.simulator.node import HostContext, Node, SocketView

from . import protocol as p
from .config import LumenizeConfig

CONNECTED, GRACE, DISCONNECTED = "connected", "grace", "disconnected"

#: What ``__executeOperation`` does with a mesh->client call in each state (section 1 table).
ON_MESH_CALL: dict[str, str] = {
    CONNECTED: "forward",  # an incoming_call frame and a 30 s timer (section 1.5 step 7)
    GRACE: "park",  # waitForReconnect: released by a reconnect or by alarm()
    DISCONNECTED: "reject",  # ClientDisconnectedError "Client is not connected"
}

#: Durable key of fix ``resubscribe_after_fanout_drop``: resources that dropped this client.
SUBSCRIPTION_LOST_KEY = "subscriptionLost"
#: Durable key of fix ``resubscribe_after_gateway_crash``: a grace period is under way.
GRACE_KEY = "graceSince"
# Fix takeover_requires_resubscribe: the page of the tab that last held the instance.
HOLDER_KEY = "holderPage"

MISSING_IDENTITY = "Unauthorized: missing identity"
INVALID_TOKEN = "Unauthorized: invalid token"
MISSING_INSTANCE = "Forbidden: missing instance name"
MISSING_BINDING = "Forbidden: missing binding name"
BAD_INSTANCE_FORMAT = "Forbidden: invalid instance name format (expected sub.tabId)"
IDENTITY_MISMATCH = "Forbidden: identity mismatch"


@frozen
class Rejection:
    """What :meth:`LumenizeGateway.on_before_accept` returns to refuse an upgrade.

    It stands for the ``Response`` the real hook may return (section 1.1 step 5).
    """

    status: int
    reason: str


@frozen
class Waiter:
    """A mesh->client call parked in ``waitForReconnect`` (section 1.5 step 3)."""

    req: str
    envelope: dict
    instance_name: str | None


@frozen
class PendingCall:
    """A mesh->client call forwarded as ``incoming_call``, waiting for the client."""

    call_id: str
    req: str
    conn: str
    instance_name: str | None


@frozen
class OutgoingCall:
    """A client->mesh ``call`` in flight; its reply goes back on ``conn`` (section 1.7)."""

    req: str
    conn: str
    call_id: Any


def _js(value: Any) -> str:
    """How a template literal prints a scalar (for the version error message)."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _page(protocols: Any) -> str | None:
    """The page id a client sends as ``lmz.page.<id>`` (fix takeover_requires_resubscribe)."""
    for proto in protocols or ():
        if isinstance(proto, str) and proto.startswith(p.PAGE_PROTOCOL_PREFIX):
            return proto.removeprefix(p.PAGE_PROTOCOL_PREFIX) or None
    return None


class LumenizeGateway(Node):
    """``LumenizeClientGateway``: a sans-IO model of the real Durable Object."""

    def __init__(self, ctx: HostContext, config: LumenizeConfig) -> None:
        super().__init__(ctx)
        self.config = config
        self.pending_calls: dict[str, PendingCall] = {}
        self.waiters: list[Waiter] = []
        self.outgoing: dict[str, OutgoingCall] = {}
        # Mutant parked_call_delivered_twice: parked calls to send again on the next frame.
        self._redeliver: list[dict] = []
        self._requests = 0

    # ------------------------------------------------------------------ hooks
    def on_before_accept(
        self, instance_name: str, sub: str, claims: dict[str, Any]
    ) -> Rejection | dict[str, Any] | None:
        """Default hook (section 1.1 step 5): the instance name must be ``sub.<tabId>``.

        Return a :class:`Rejection` to refuse, or a dict merged over the claims.
        """
        if "." not in instance_name and not self.config.mutant("instance_format_unchecked"):
            return Rejection(403, BAD_INSTANCE_FORMAT)
        if instance_name.partition(".")[0] != sub:
            return Rejection(403, IDENTITY_MISMATCH)
        return None

    def on_before_call_to_mesh(
        self, call_context: dict[str, Any], info: dict[str, Any]
    ) -> dict[str, Any]:
        """Default hook (section 1.7 step 2): pass the trusted context through unchanged."""
        return call_context

    def on_before_call_to_client(self, envelope: dict[str, Any], info: dict[str, Any]) -> None:
        """Default hook (section 1.5 step 6): allow. Raise ``protocol.RemoteError`` to block."""

    # ------------------------------------------------------------------ views
    @property
    def instance_name(self) -> str:
        return self.address.removeprefix(p.GATEWAY_PREFIX)

    def _open_sockets(self) -> list[SocketView]:
        return [ws for ws in self.ctx.get_websockets() if ws.ready_state == "OPEN"]

    def _socket(self, conn: str) -> SocketView | None:
        for ws in self.ctx.get_websockets():
            if ws.conn == conn:
                return ws
        return None

    def state(self, open_sockets: list[SocketView] | None = None) -> str:
        """Connected / grace / disconnected, derived as the section 1 table says.

        ``open_sockets``: the OPEN sockets, when the caller has already read them.
        """
        if open_sockets is None:
            open_sockets = self._open_sockets()
        if open_sockets:
            return CONNECTED
        if self.ctx.get_alarm() is not None:
            return GRACE
        return DISCONNECTED

    def statistics(self) -> dict[str, Any]:
        return {
            "state": self.state(),
            "open_sockets": [ws.conn for ws in self._open_sockets()],
            "pending_calls": len(self.pending_calls),
            "waiters": len(self.waiters),
            "alarm": self.ctx.get_alarm(),
            "outgoing": len(self.outgoing),
        }

    # ------------------------------------------------------------------ ids
    def _new_call_id(self) -> str:
        """The real gateway uses a random UUID; a seeded draw keeps runs reproducible."""
        return f"ic-{self.ctx.rng.getrandbits(48):012x}"

    def _new_request(self) -> str:
        # The incarnation keeps ids unique across evictions: exchanges outlive memory.
        self._requests += 1
        return f"{self.address}#{self.ctx.incarnation}:rpc{self._requests}"

    # ------------------------------------------------------------------ dispatch
    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case Start(incarnation=incarnation) if incarnation > 0:
                return self._booted(now)
            case ConnectRequested(conn=conn, request=request):
                return self._upgrade(now, conn, request)
            case WsMessage(conn=conn, data=data):
                return self._message(now, conn, data)
            case WsClosed(conn=conn, code=code):
                return self._closed(now, conn, code)
            case AlarmFired():
                return self._alarm(now)
            case HttpRequestReceived(req=req, path=p.EXECUTE_OPERATION, body=body):
                return self._execute_operation(now, req, body)
            case HttpRequestReceived(req=req, path=p.SUBSCRIPTION_LOST, body=body):
                return self._subscription_lost(req, body)
            case HttpRequestReceived(req=req, path=path):
                if self.config.mutant("unknown_operation_unanswered"):
                    return []
                return [HttpRespond(req, 404, p.rpc_error(
                    p.error_value("Error", f"Unknown operation {path}")))]
            case HttpResponse(req=req, status=status, body=body):
                return self._mesh_reply(req, *p.unwrap_rpc(status, body))
            case HttpFailed(req=req, reason=reason):
                return self._mesh_reply(req, False, p.error_value("Error", reason))
            case TimerFired(key=key) if key.startswith("call:"):
                return self._call_timed_out(key.removeprefix("call:"))
        return []

    # ------------------------------------------------------------------ upgrade (1.1)
    def _upgrade(self, now: Time, conn: str, request: dict[str, Any]) -> list[Effect]:
        headers = request.get("headers") or {}
        if str(p.header(headers, "Upgrade") or "").lower() != "websocket":
            return [RejectConnection(conn, 426, "Expected Upgrade: websocket")]
        auth = p.header(headers, "Authorization")
        if not isinstance(auth, str) or not auth.startswith("Bearer "):
            return [RejectConnection(conn, 401, MISSING_IDENTITY)]
        try:
            claims = p.decode_token(auth.removeprefix("Bearer "))  # not verified: step 3
        except p.TokenError:
            return [RejectConnection(conn, 401, INVALID_TOKEN)]
        sub = claims.get("sub")
        if not sub:
            return [RejectConnection(conn, 401, MISSING_IDENTITY)]
        instance_name = p.header(headers, p.INSTANCE_HEADER)
        if not instance_name:
            return [RejectConnection(conn, 403, MISSING_INSTANCE)]
        binding = p.header(headers, p.BINDING_HEADER)
        if not binding:
            return [RejectConnection(conn, 403, MISSING_BINDING)]
        hooked = self.on_before_accept(instance_name, sub, claims)
        if isinstance(hooked, Rejection):
            return [RejectConnection(conn, hooked.status, hooked.reason)]
        if isinstance(hooked, dict):
            claims = {**claims, **hooked}

        existing = self.ctx.get_websockets()
        # Step 6 runs before step 7 closes the old sockets: a superseding tab therefore
        # sees subscriptionRequired false (section 1.4). The mutant computes it as if the
        # old sockets were already gone.
        sockets_counted = [] if self.config.mutant("subscription_required_after_close") \
            else existing
        subscription_required = self._subscription_required(now, bool(sockets_counted))
        effects: list[Effect] = []
        page = _page(request.get("protocols"))
        if self.config.fixed("takeover_requires_resubscribe"):
            if not subscription_required and not self._same_page(page) \
                    and not self.config.mutant("takeover_not_checked"):
                # Another tab takes over: what this instance holds was never its state.
                subscription_required = True
                effects.append(Note("subscription.lost", {"resource": "takeover"}))
            effects.append(StoragePut(HOLDER_KEY, page))
        effects += [Note("upgrade", {
            "conn": conn, "subscriptionRequired": subscription_required,
            "superseded": [ws.conn for ws in existing]})]
        effects += [CloseConnection(ws.conn, p.CLOSE_SUPERSEDED, p.REASON_SUPERSEDED)
                    for ws in existing]
        attachment = {"sub": sub, "bindingName": binding, "instanceName": instance_name,
                      "claims": claims}
        effects.append(AcceptConnection(conn, attachment, {"protocol": p.SUBPROTOCOL}))
        if not self.config.mutant("ping_wakes_gateway"):
            effects.append(SetAutoResponse(p.PING, p.PONG))  # pings never wake the object
        # Step 9 before step 10 (inferred): a released parked call can reach the client
        # before connection_status does.
        if not self.config.mutant("waiters_not_resolved_on_accept"):
            effects += self._release_waiters(now, conn, attachment)
        if self.ctx.get_alarm() is not None and not self.config.mutant(
                "alarm_not_deleted_on_accept"):
            effects.append(DeleteAlarm())
        if self.ctx.storage.get(SUBSCRIPTION_LOST_KEY) is not None:
            effects.append(StorageDelete(SUBSCRIPTION_LOST_KEY))
        if self.ctx.storage.get(GRACE_KEY) is not None:
            effects.append(StorageDelete(GRACE_KEY))
        effects.append(Send(conn, {"type": "connection_status",
                                   "subscriptionRequired": subscription_required}))
        return effects

    def _same_page(self, page: str | None) -> bool:
        """Fix takeover_requires_resubscribe (section 6, found by lumenize.document_converges).

        A supersession, or a return within grace, vouches that the client kept its state
        only when the connecting page is the one that held the instance (the page of the
        last accepted upgrade): a tab taking over from another tab (two tabs sharing an
        instanceName) never had that state, and a tab returning after another one held the
        instance missed what went to that one, even while a stale socket of its own is still
        listed (found by the hunt for reauth_failure_retried_at_once: a half-open socket of
        the first tab outlived the second tab's takeover).
        """
        return page is not None and self.ctx.storage.get(HOLDER_KEY) == page

    def _subscription_required(self, now: Time, any_socket: bool) -> bool:
        """Section 1.4: false on supersession or a reconnect within grace, else true."""
        # Fix resubscribe_after_fanout_drop (section 6, silent subscription loss): a
        # broadcaster that dropped this client's row left a durable flag. Fix
        # resubscribe_after_gateway_crash leaves the same flag after a crash in grace.
        if (self.config.fixed("resubscribe_after_fanout_drop")
                or self.config.fixed("resubscribe_after_gateway_crash")) and \
                self.ctx.storage.get(SUBSCRIPTION_LOST_KEY) is not None:
            return True
        if any_socket:
            return False
        alarm = self.ctx.get_alarm()
        return not (alarm is not None and alarm <= now + self.config.grace)

    def _release_waiters(self, now: Time, conn: str, attachment: dict) -> list[Effect]:
        """Resolve every parked call; each continues with steps 4-7 on the new socket.

        "Resolved but still no OPEN socket" (section 1.5 step 3) cannot happen here: the
        socket is accepted in the same step that resolves the waiters.
        """
        waiters, self.waiters = self.waiters, []
        effects: list[Effect] = []
        for waiter in waiters:
            effects += self._deliver(now, waiter.req, waiter.envelope, waiter.instance_name,
                                     conn, attachment)
            if self.config.mutant("parked_call_delivered_twice"):
                frame = next((e.data for e in reversed(effects) if isinstance(e, Send)), None)
                if frame is not None:
                    self._redeliver.append(frame)
        return effects

    # ------------------------------------------------------------------ close and alarm (1.4)
    def _closed(self, now: Time, conn: str, code: int) -> list[Effect]:
        effects: list[Effect] = []
        # Fix reject_calls_on_socket_close, gateway half (section 6: pending calls are not
        # rejected on close; only the 30 s timer ends them).
        if self.config.fixed("reject_calls_on_socket_close"):
            for call in [c for c in self.pending_calls.values() if c.conn == conn]:
                del self.pending_calls[call.call_id]
                effects.append(self.cancel_timer(f"call:{call.call_id}"))
                effects += self._respond(call.req, False, p.client_disconnected(
                    p.SOCKET_CLOSED, call.instance_name))
        if code == p.CLOSE_SUPERSEDED and not self.config.mutant("grace_alarm_on_4409"):
            return effects
        if self.config.mutant("grace_alarm_never_armed"):
            return effects
        at = now + self.config.grace  # overwrites: every close pushes the deadline out
        if code != p.CLOSE_SUPERSEDED and self.config.fixed("resubscribe_after_gateway_crash"):
            effects.append(StoragePut(GRACE_KEY, now))
        effects += [SetAlarm(at), Note("grace.armed", {"at": at, "code": code})]
        return effects

    def _alarm(self, now: Time) -> list[Effect]:
        """``alarm()``: delete the alarm, reject every waiter; never raises (section 1.4)."""
        waiters, self.waiters = self.waiters, []
        effects: list[Effect] = [DeleteAlarm()]
        for waiter in waiters:
            effects += self._respond(waiter.req, False, p.client_disconnected(
                p.GRACE_EXPIRED_ALARM, waiter.instance_name))
        effects.append(Note("alarm", {"rejected": len(waiters)}))
        if self.config.mutant("alarm_handler_raises"):
            # The runtime retries a raising alarm(). The kernel discards the effects of a
            # handler that raises, so the rejections above never reach their callers.
            raise RuntimeError("alarm handler failed after rejecting waiters")
        return effects

    # ------------------------------------------------------------------ mesh -> client (1.5)
    def _execute_operation(self, now: Time, req: str, body: Any) -> list[Effect]:
        env = body if isinstance(body, dict) else {}
        version = env.get("version")
        if version != 1:
            return self._respond(req, False, p.error_value(
                "Error", f"Unsupported RPC envelope version: {_js(version)}"))
        callee = (env.get("metadata") or {}).get("callee") or {}
        instance_name = None if self.config.mutant("disconnected_error_unnamed") else \
            callee.get("instanceName")
        # One read of the sockets serves the whole call: nothing changes inside a step.
        sockets = self.ctx.get_websockets()
        open_sockets = [ws for ws in sockets if ws.ready_state == "OPEN"]
        if instance_name is None and sockets and isinstance(sockets[0].attachment, dict):
            instance_name = sockets[0].attachment.get("instanceName")
        action = ON_MESH_CALL[self.state(open_sockets)]
        if action == "forward":
            ws = open_sockets[0]
            return self._deliver(now, req, env, instance_name, ws.conn, ws.attachment)
        alarm = self.ctx.get_alarm()
        if action == "park" and alarm is not None and alarm <= now + self.config.grace:
            return self._wait_for_reconnect(now, req, env, instance_name, alarm)
        return self._respond(req, False, p.client_disconnected(p.NOT_CONNECTED, instance_name))

    def _wait_for_reconnect(self, now: Time, req: str, env: dict, instance_name: str | None,
                            alarm: Time) -> list[Effect]:
        """Park with no timer of its own: only a reconnect or ``alarm()`` releases it.

        ("Alarm gone" cannot be observed here: the model reads the alarm once per step.)
        """
        if alarm - now <= 0:
            return self._respond(req, False, p.client_disconnected(p.GRACE_PERIOD_EXPIRED,
                                                                   instance_name))
        if self.config.mutant("grace_call_dropped"):
            return []
        self.waiters.append(Waiter(req, env, instance_name))
        return [Note("call.parked", {"req": req})]

    def _deliver(self, now: Time, req: str, env: dict, instance_name: str | None, conn: str,
                 attachment: Any) -> list[Effect]:
        """Section 1.5 steps 4-7 on socket ``conn``."""
        if self.config.mutant("delivery_treats_socket_uninitialised"):
            attachment = None
        if attachment is None:
            return [CloseConnection(conn, p.CLOSE_NOT_INITIALIZED, p.REASON_NOT_INITIALIZED),
                    *self._respond(req, False, p.client_disconnected(p.NOT_INITIALIZED,
                                                                     instance_name))]
        claims = attachment.get("claims") or {}
        if not self.config.mutant("no_token_check_on_mesh_call") and p.is_expired(
                claims.get("exp"), now):
            # Step 5: the call is not delivered, not even after the client refreshes.
            return [CloseConnection(conn, p.CLOSE_TOKEN_EXPIRED, p.REASON_TOKEN_EXPIRED),
                    Note("token.expired", {"where": "mesh_call"}),
                    *self._respond(req, False, p.client_disconnected(p.TOKEN_EXPIRED,
                                                                     instance_name))]
        try:
            self.on_before_call_to_client(env, {"conn": conn, "attachment": attachment})
        except p.RemoteError as exc:
            return self._respond(req, False, exc.value)
        call_id = self._new_call_id()
        context = env.get("callContext") or {}
        frame = {"type": "incoming_call", "callId": call_id, "chain": env.get("chain"),
                 "callContext": {"callChain": context.get("callChain", []),
                                 "originAuth": context.get("originAuth"),
                                 "state": context.get("state", {})}}
        self.pending_calls[call_id] = PendingCall(call_id, req, conn, instance_name)
        return [Send(conn, frame),
                self.set_timer(f"call:{call_id}", now + self.config.client_call_timeout),
                Note("call.forwarded", {"req": req, "callId": call_id, "conn": conn})]

    def _call_timed_out(self, call_id: str) -> list[Effect]:
        """The 30 s timer: the call fails; the socket is NOT closed (section 1.5 step 7)."""
        call = self.pending_calls.pop(call_id, None)
        if call is None:
            return []
        open_sockets = self._open_sockets()
        live = open_sockets[0].attachment if open_sockets else None
        instance_name = live.get("instanceName") if isinstance(live, dict) else None
        return self._respond(call.req, False, p.client_disconnected(p.CALL_TIMED_OUT,
                                                                    instance_name))

    def _respond(self, req: str, ok: bool, value: Any) -> list[Effect]:
        body = p.rpc_result(value) if ok else p.rpc_error(value)
        data: dict[str, Any] = {"req": req, "ok": ok}
        if not ok:
            data["error"] = value
        return [HttpRespond(req, 200, body), Note("mesh_call.settled", data)]

    # ------------------------------------------------------------------ frames (1.2)
    def _message(self, now: Time, conn: str, data: Any) -> list[Effect]:
        if isinstance(data, bytes | bytearray):
            return [Note("frame.dropped", {"why": "binary"})]
        ws = self._socket(conn)
        attachment = ws.attachment if ws is not None else None
        claims = attachment.get("claims") if isinstance(attachment, dict) else None
        if isinstance(claims, dict) and p.is_expired(claims.get("exp"), now):
            # Section 1.6: checked before parsing; the frame (an expired call too) is dropped.
            if self.config.mutant("expired_frame_socket_kept"):
                return [Note("token.expired", {"where": "frame"})]
            return [CloseConnection(conn, p.CLOSE_TOKEN_EXPIRED, p.REASON_TOKEN_EXPIRED),
                    Note("token.expired", {"where": "frame"})]
        effects: list[Effect] = []
        if self._redeliver and self.config.mutant("parked_call_delivered_twice"):
            effects += [Send(conn, frame) for frame in self._redeliver]
            self._redeliver = []
        frame = data
        if isinstance(data, str):
            try:
                frame = json.loads(data)
            except ValueError:
                return [*effects, Note("frame.dropped", {"why": "bad JSON"})]
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "call":
            return [*effects, *self._client_call(conn, attachment, frame)]
        if kind == "incoming_call_response":
            return [*effects, *self._incoming_response(frame)]
        return [*effects, Note("frame.dropped", {"why": f"unknown type {kind!r}"})]

    def _incoming_response(self, frame: dict) -> list[Effect]:
        if self.config.mutant("client_answers_ignored"):
            return [Note("frame.dropped", {"why": "answer ignored"})]
        call = self.pending_calls.pop(frame.get("callId"), None)  # type: ignore[arg-type]
        if call is None:
            return [Note("frame.dropped", {"why": "unknown callId"})]
        effects: list[Effect] = [self.cancel_timer(f"call:{call.call_id}")]
        if frame.get("success"):
            return effects + self._respond(call.req, True, frame.get("result"))
        return effects + self._respond(call.req, False, frame.get("error"))

    # ------------------------------------------------------------------ client -> mesh (1.7)
    def _client_call(self, conn: str, attachment: Any, frame: dict) -> list[Effect]:
        if not isinstance(attachment, dict):
            return [CloseConnection(conn, p.CLOSE_NOT_INITIALIZED, p.REASON_NOT_INITIALIZED)]
        call_id = frame.get("callId")
        caller = {"type": "LumenizeClient", "bindingName": attachment["bindingName"],
                  "instanceName": attachment["instanceName"]}
        client_context = frame.get("callContext") or {}
        call_context = {
            "callChain": [caller, *(client_context.get("callChain") or [])[1:]],
            "originAuth": {"sub": attachment["sub"], "claims": attachment["claims"]},
            "state": client_context.get("state") or {},
        }
        try:
            call_context = self.on_before_call_to_mesh(
                call_context, {"conn": conn, "attachment": attachment, "callId": call_id})
        except p.RemoteError as exc:
            return [Send(conn, {"type": "call_response", "callId": call_id, "success": False,
                                "error": exc.value})]
        instance = frame.get("instance")
        callee = {"type": "LumenizeDO" if instance else "LumenizeWorker",
                  "bindingName": frame.get("binding"), "instanceName": instance}
        req = self._new_request()
        self.outgoing[req] = OutgoingCall(req, conn, call_id)
        # No timeout: the gateway waits as long as the target takes (section 1.7).
        return [HttpRequest(req, instance or p.WORKER, p.RPC_METHOD, p.EXECUTE_OPERATION,
                            body=p.envelope(frame.get("chain"), call_context, caller, callee))]

    def _mesh_reply(self, req: str, ok: bool, value: Any) -> list[Effect]:
        call = self.outgoing.pop(req, None)
        if call is None:
            return []
        success = ok != self.config.mutant("call_response_inverted")
        response = {"type": "call_response", "callId": call.call_id, "success": success,
                    "result" if success else "error": value}
        if call.conn not in {ws.conn for ws in self._open_sockets()}:
            # Section 6: the reply goes to the originating socket only; it is stranded.
            return [Note("reply.lost", {"callId": call.call_id, "conn": call.conn})]
        return [Send(call.conn, response)]

    # ------------------------------------------------------------------ fix: crash in grace
    def _booted(self, now: Time) -> list[Effect]:
        """Fix ``resubscribe_after_gateway_crash`` (spec 1.4; realtime-systems 3 #3).

        A gateway that boots again with no socket to resume, in the middle of a grace
        period, crashed (hibernation keeps the sockets, and an object with calls in flight
        is not evicted). The parked calls it held were lost and fan-outs sent while it was
        down failed, so the client's stream has a gap the alarm knows nothing about: the
        next ``connection_status`` must say ``subscriptionRequired: true``.
        """
        if not self.config.fixed("resubscribe_after_gateway_crash") or \
                self.ctx.get_websockets() or self.ctx.storage.get(GRACE_KEY) is None:
            return []
        lost = sorted({*(self.ctx.storage.get(SUBSCRIPTION_LOST_KEY) or []), "gateway"})
        return [StoragePut(SUBSCRIPTION_LOST_KEY, lost),
                Note("subscription.lost", {"resource": "gateway"})]

    # ------------------------------------------------------------------ fix: resubscribe
    def _subscription_lost(self, req: str, body: Any) -> list[Effect]:
        """Fix ``resubscribe_after_fanout_drop`` (section 6, silent subscription loss).

        A broadcaster that dropped this client's row says so. The gateway keeps a durable
        flag so the next ``connection_status`` says ``subscriptionRequired: true``, and if
        a socket is open it tells the client now. The flag is cleared at the next upgrade.
        """
        if not self.config.fixed("resubscribe_after_fanout_drop"):
            return [HttpRespond(req, 404, p.rpc_error(p.error_value(
                "Error", f"Unknown operation {p.SUBSCRIPTION_LOST}")))]
        resource = body.get("resource") if isinstance(body, dict) else None
        lost = sorted({*(self.ctx.storage.get(SUBSCRIPTION_LOST_KEY) or []), str(resource)})
        effects: list[Effect] = [StoragePut(SUBSCRIPTION_LOST_KEY, lost),
                                 Note("subscription.lost", {"resource": resource})]
        effects += [Send(ws.conn, {"type": "connection_status", "subscriptionRequired": not
                                   self.config.mutant("subscription_lost_push_false")})
                    for ws in self._open_sockets()]
        return [*effects, HttpRespond(req, 200, p.rpc_result(None))]

    def __repr__(self) -> str:
        return f"LumenizeGateway({self.instance_name!r})"
