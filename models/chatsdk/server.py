"""The servers the SDK talks to: the REST API with its auth endpoints, and Centrifugo.

Neither is in the document; both are small stand-ins that answer the way such servers do.

``ApiServer`` (one base URL, as the document's ``${apiUrl}/api/auth/refresh`` says):

* ``HEAD /api/health/ping``: 200.
* ``POST /api/auth/login``: a new session (a refresh-token *family*) and an access token of
  ``access_ttl``.
* ``POST /api/auth/refresh``: rotating refresh tokens with reuse detection. Presenting the
  current token rotates it; presenting any other token of the family revokes the family
  (401), which is how rotation detects a stolen token. With fix ``refresh_parent_grace``
  the parent of the current token gets the current child again as long as the child has
  not been used (a lost response is not theft).
* ``POST /api/messages``: needs a valid bearer token (401: expired, or signed with an older
  key epoch) and ``Content-Type: application/json`` (415, as a JSON body parser does);
  stores the message, once per client id when it carries one.
* ``PUT /api/uploads/<id>`` with ``{offset, size}``: appends at the server's offset (409 with
  the offset otherwise); ``GET /api/uploads/<id>``: the offset.

Sessions, messages and upload offsets are kept in durable storage, so a crash and restart
(a 30 s outage) loses nothing that was acknowledged. Faults arrive as inputs:
``SetAuthMode``, ``RotateSigningKey``, ``FailUploadsAt``.

``RealtimeServer`` is Centrifugo's side of the connection: the connect command with its
token (error 109 if expired), pings every ``server_ping_interval``, in-band refresh, and a
3005 close ``token_grace`` after the token's expiry if it was not refreshed.
"""

from __future__ import annotations

from typing import Any

from gatewaysim.simulator.clock import SECOND, Time
from gatewaysim.simulator.messages import (
    AcceptConnection,
    CloseConnection,
    ConnectRequested,
    Effect,
    HttpRequestReceived,
    HttpRespond,
    Input,
    Note,
    Send,
    Start,
    StoragePut,
    TimerFired,
    WsClosed,
    WsMessage,
)
from gatewaysim.simulator.node import HostContext, Node

from .config import ChatConfig
from .protocol import (
    CLOSE_EXPIRED,
    JSON,
    LOGIN,
    MESSAGES,
    REFRESH,
    TOKEN_EXPIRED_ERROR,
    UPLOADS,
    FailUploadsAt,
    RotateSigningKey,
    SetAuthMode,
    access_token,
    parse_access,
    parse_refresh,
    refresh_token,
)


class ApiServer(Node):
    def __init__(self, ctx: HostContext, config: ChatConfig) -> None:
        super().__init__(ctx)
        self.config = config
        store = ctx.storage
        self.families: dict[int, dict[str, Any]] = {
            int(k.removeprefix("family:")): store[k] for k in store if k.startswith("family:")}
        self.epoch: int = store.get("epoch", 0)
        self.messages: list[dict[str, Any]] = list(store.get("messages", []))
        self.offsets: dict[str, int] = dict(store.get("offsets", {}))
        self.auth_up = True
        self.upload_fault: FailUploadsAt | None = None

    # ------------------------------------------------------------------ dispatch
    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case HttpRequestReceived():
                return self._request(now, inp)
            case SetAuthMode(up=up):
                self.auth_up = up
                return [Note("auth.mode", {"up": up})]
            case RotateSigningKey():
                self.epoch += 1
                return [StoragePut("epoch", self.epoch), Note("auth.key_rotated",
                                                              {"epoch": self.epoch})]
            case FailUploadsAt():
                self.upload_fault = inp
                return []
        return []

    def _request(self, now: Time, req: HttpRequestReceived) -> list[Effect]:
        path = req.path
        if path == self.config.ping_path:
            return [HttpRespond(req.req, 200)]
        if path in (LOGIN, REFRESH):
            if not self.auth_up:
                return [HttpRespond(req.req, 503, {"error": "auth unavailable"})]
            return self._login(now, req) if path == LOGIN else self._refresh(now, req)
        status = self._authorize(now, req)
        if status is not None:
            return [HttpRespond(req.req, status, {"error": "unauthorized"})]
        if path == MESSAGES and req.method == "POST":
            return self._store(now, req)
        if path.startswith(UPLOADS + "/"):
            return self._upload(now, req, path.removeprefix(UPLOADS + "/"))
        return [HttpRespond(req.req, 404)]

    # ------------------------------------------------------------------ auth
    def _issue(self, now: Time, family: int, generation: int) -> dict[str, Any]:
        exp = now + self.config.access_ttl
        return {"token": access_token(family, generation, exp, self.epoch),
                "refreshToken": refresh_token(family, generation),
                "expiresIn": self.config.access_ttl}

    def _login(self, now: Time, req: HttpRequestReceived) -> list[Effect]:
        family = len(self.families) + 1
        self.families[family] = {"current": 0, "revoked": False}
        return [StoragePut(f"family:{family}", self.families[family]),
                Note("auth.login", {"family": family}),
                HttpRespond(req.req, 200, self._issue(now, family, 0))]

    def _refresh(self, now: Time, req: HttpRequestReceived) -> list[Effect]:
        body = req.body if isinstance(req.body, dict) else {}
        parsed = parse_refresh(body.get("refreshToken"))
        fam = self.families.get(parsed[0]) if parsed else None
        if parsed is None or fam is None or fam["revoked"]:
            return [Note("auth.refresh", {"outcome": "unknown or revoked"}),
                    HttpRespond(req.req, 401, {"error": "invalid refresh token"})]
        family, generation = parsed
        current = fam["current"]
        if generation == current:
            fam = {"current": current + 1, "revoked": False}
            outcome = "rotated"
        elif generation == current - 1 and self.config.fixed("refresh_parent_grace"):
            outcome = "parent within grace"
        else:
            fam = {"current": current, "revoked": True}
            self.families[family] = fam
            return [StoragePut(f"family:{family}", fam),
                    Note("auth.refresh", {"family": family, "presented": generation,
                                          "current": current, "outcome": "reuse: revoked"}),
                    HttpRespond(req.req, 401, {"error": "refresh token reused"})]
        self.families[family] = fam
        return [StoragePut(f"family:{family}", fam),
                Note("auth.refresh", {"family": family, "presented": generation,
                                      "current": fam["current"], "outcome": outcome}),
                HttpRespond(req.req, 200, self._issue(now, family, fam["current"]))]

    def _authorize(self, now: Time, req: HttpRequestReceived) -> int | None:
        token = parse_access(req.headers.get("Authorization"))
        if token is None or token.exp <= now or token.epoch < self.epoch:
            return 401
        fam = self.families.get(token.family)
        if fam is None or fam["revoked"]:
            return 401
        return None

    # ------------------------------------------------------------------ messages, uploads
    def _store(self, now: Time, req: HttpRequestReceived) -> list[Effect]:
        if req.headers.get("Content-Type") != JSON:
            return [Note("message.rejected", {"why": "no JSON content type"}),
                    HttpRespond(req.req, 415, {"error": "Unsupported Media Type"})]
        body = req.body if isinstance(req.body, dict) else {}
        msg_id = body.get("id")
        if msg_id is not None and any(m.get("id") == msg_id for m in self.messages):
            return [Note("message.deduplicated", {"seq": body.get("seq"), "id": msg_id}),
                    HttpRespond(req.req, 200, {"seq": body.get("seq"), "duplicate": True})]
        record = {"seq": body.get("seq"), "id": msg_id, "at": now}
        self.messages.append(record)
        return [StoragePut("messages", self.messages),
                Note("message.stored", {"seq": body.get("seq"), "n": len(self.messages)}),
                HttpRespond(req.req, 201, {"seq": body.get("seq")})]

    def _upload(self, now: Time, req: HttpRequestReceived, upload: str) -> list[Effect]:
        offset = self.offsets.get(upload, 0)
        if req.method == "GET":
            return [HttpRespond(req.req, 200, {"offset": offset})]
        body = req.body if isinstance(req.body, dict) else {}
        at, size = body.get("offset", -1), body.get("size", 0)
        fault = self.upload_fault
        if fault is not None and fault.upload == upload and at >= fault.offset and (
                now < fault.until):
            return [Note("upload.failed", {"upload": upload, "offset": at}),
                    HttpRespond(req.req, 503, {"error": "upload interrupted"})]
        if at != offset:
            return [HttpRespond(req.req, 409, {"offset": offset})]
        self.offsets[upload] = offset + size
        return [StoragePut("offsets", self.offsets),
                Note("upload.chunk", {"upload": upload, "offset": at, "size": size}),
                HttpRespond(req.req, 200, {"offset": offset + size})]

    def __repr__(self) -> str:
        return f"ApiServer({self.address!r}, messages={len(self.messages)})"


class RealtimeServer(Node):
    """Centrifugo: connect with a token, pings, in-band refresh, 3005 after exp + grace."""

    def __init__(self, ctx: HostContext, config: ChatConfig) -> None:
        super().__init__(ctx)
        self.config = config
        self.conns: dict[str, Time] = {}  # conn -> token exp, once connected
        self._clients = 0

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case Start():
                return []
            case ConnectRequested(conn=conn):
                return [AcceptConnection(conn)]
            case WsMessage(conn=conn, data=data) if isinstance(data, dict):
                return self._command(now, conn, data)
            case WsClosed(conn=conn):
                self.conns.pop(conn, None)
                return [self.cancel_timer(f"ping:{conn}"), self.cancel_timer(f"exp:{conn}")]
            case TimerFired(key=key):
                kind, _, conn = key.partition(":")
                if conn not in self.conns:
                    return []
                if kind == "ping":
                    return [Send(conn, {"ping": True}),
                            self.set_timer(key, now + self.config.server_ping_interval)]
                if kind == "exp":
                    del self.conns[conn]
                    return [Note("rt.expired_close", {"conn": conn}),
                            self.cancel_timer(f"ping:{conn}"),
                            CloseConnection(conn, CLOSE_EXPIRED, "connection expired")]
        return []

    def _command(self, now: Time, conn: str, data: dict) -> list[Effect]:
        cmd_id = data.get("id")
        for kind in ("connect", "refresh"):
            if kind not in data:
                continue
            token = parse_access((data[kind] or {}).get("token"))
            if token is None or token.exp <= now:
                return [Note("rt.token_refused", {"conn": conn, "of": kind}),
                        Send(conn, {"id": cmd_id, "of": kind,
                                    "error": {"code": TOKEN_EXPIRED_ERROR,
                                              "message": "token expired"}})]
            ttl = max(1, (token.exp - now) // SECOND)
            self.conns[conn] = token.exp
            effects: list[Effect] = [
                self.set_timer(f"exp:{conn}", token.exp + self.config.token_grace)]
            if kind == "connect":
                self._clients += 1
                effects += [self.set_timer(f"ping:{conn}", now + self.config.server_ping_interval),
                            Note("rt.connected", {"conn": conn}),
                            Send(conn, {"id": cmd_id, "connect": {
                                "client": f"c{self._clients}", "expires": True, "ttl": ttl}})]
            else:
                effects.append(Send(conn, {"id": cmd_id, "refresh": {"expires": True,
                                                                      "ttl": ttl}}))
            return effects
        return []

    def __repr__(self) -> str:
        return f"RealtimeServer({self.address!r}, connections={len(self.conns)})"


__all__ = ["ApiServer", "RealtimeServer"]
