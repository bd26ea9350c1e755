"""The Worker in front of the gateways: ``routeDORequest`` with the auth hooks (spec section 3).

An upgrade runs a fixed sequence of checks, each with its own status, and is then
forwarded to ``gateway/<instanceName>`` with the bearer token and the two routing
headers. The order matters and is the point of conformance cases 83, 84, 88 and 94: a bad
Origin is refused before the token is even looked at, and the access gate (403) comes
after the token checks (401).

The Worker is also the ``env[binding]`` target of client calls that name no instance
(section 1.7 step 3); the model answers them ``worker-echo: <args>`` like the test Worker.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from gatewaysim.simulator.clock import MINUTE, Time
from gatewaysim.simulator.messages import (
    ConnectRequested,
    Effect,
    ForwardConnection,
    HttpRequestReceived,
    HttpRespond,
    Input,
    Note,
    RejectConnection,
)
from gatewaysim.simulator.node import HostContext, Node

from . import protocol as p
from .config import LumenizeConfig

ORIGIN_NOT_ALLOWED = "Forbidden: Origin not allowed"
NO_TOKEN = "Unauthorized: no token"
INVALID_TOKEN = "invalid_token"
BAD_CLAIMS = "Unauthorized: invalid claims"
NOT_APPROVED = "Account not yet approved"
RATE_LIMITED = "Too Many Requests"
NOT_FOUND = "Not Found"


def token_from_protocols(protocols: Any) -> str | None:
    """The JWT carried as ``lmz.access-token.<jwt>`` in ``Sec-WebSocket-Protocol``."""
    for proto in protocols or ():
        if isinstance(proto, str) and proto.startswith(p.TOKEN_PROTOCOL_PREFIX):
            return proto.removeprefix(p.TOKEN_PROTOCOL_PREFIX) or None
    return None


def passes_access_gate(claims: dict[str, Any]) -> bool:
    """``isAdmin || (emailVerified && adminApproved)`` (section 3, access gate)."""
    return bool(claims.get("isAdmin")) or (
        bool(claims.get("emailVerified")) and bool(claims.get("adminApproved")))


class Worker(Node):
    """The Worker host ``"worker"``: upgrade router and the plain Worker binding."""

    def __init__(self, ctx: HostContext, config: LumenizeConfig) -> None:
        super().__init__(ctx)
        self.config = config
        self._recent: dict[str, deque[Time]] = {}  # per-sub upgrade times (rate limit)
        self.forwarded = 0
        self.rejected = 0

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case ConnectRequested(conn=conn, request=request):
                return self._upgrade(now, conn, request)
            case HttpRequestReceived(req=req, path=p.EXECUTE_OPERATION, body=body):
                return [HttpRespond(req, 200, self._worker_binding(body))]
            case HttpRequestReceived(req=req):
                return [HttpRespond(req, 404, p.rpc_error(p.error_value("Error", NOT_FOUND)))]
        return []

    # ------------------------------------------------------------------ upgrade (section 3)
    def _reject(self, conn: str, status: int, reason: str) -> list[Effect]:
        self.rejected += 1
        return [RejectConnection(conn, status, reason)]

    def _upgrade(self, now: Time, conn: str, request: dict[str, Any]) -> list[Effect]:
        headers = dict(request.get("headers") or {})
        parts = str(request.get("path", "")).strip("/").split("/")
        if len(parts) != 3 or parts[0] != "gateway" or not parts[1] or not parts[2]:
            return self._reject(conn, 404, NOT_FOUND)
        _prefix, binding, instance_name = parts
        # 1. CORS allowlist.
        if p.header(headers, "Origin") not in self.config.allowed_origins:
            return self._reject(conn, 403, ORIGIN_NOT_ALLOWED)
        # 2. onBeforeConnect: token from the subprotocol, signature and exp, aud/iss/sub.
        token = token_from_protocols(request.get("protocols"))
        if token is None:
            return self._reject(conn, 401, NO_TOKEN)
        try:
            claims = p.verify_token(token)
        except p.TokenError:
            return self._reject(conn, 401, INVALID_TOKEN)
        if p.is_expired(claims.get("exp"), now):
            return self._reject(conn, 401, INVALID_TOKEN)
        if claims.get("aud") != p.AUDIENCE or claims.get("iss") != p.ISSUER \
                or not claims.get("sub"):
            return self._reject(conn, 401, BAD_CLAIMS)
        if not passes_access_gate(claims):
            return self._reject(conn, 403, NOT_APPROVED)
        if self._rate_limited(now, str(claims["sub"])):
            return self._reject(conn, 429, RATE_LIMITED)
        # 3. Forward with the bearer token and the routing headers.
        headers["Authorization"] = f"Bearer {token}"
        headers[p.INSTANCE_HEADER] = instance_name
        headers[p.BINDING_HEADER] = binding
        self.forwarded += 1
        to = p.gateway_address(instance_name)
        return [ForwardConnection(conn, to, {**request, "headers": headers}),
                Note("forwarded", {"conn": conn, "to": to})]

    def _rate_limited(self, now: Time, sub: str) -> bool:
        """A sliding one-minute window per ``sub``; 0 turns the limit off."""
        limit = self.config.rate_limit_per_minute
        if limit <= 0:
            return False
        times = self._recent.setdefault(sub, deque())
        while times and times[0] <= now - MINUTE:
            times.popleft()
        if len(times) >= limit:
            return True
        times.append(now)
        return False

    # ------------------------------------------------------------------ Worker binding
    @staticmethod
    def _worker_binding(body: Any) -> dict[str, Any]:
        """The test Worker's ``__executeOperation``: echo the arguments (case 19)."""
        env = body if isinstance(body, dict) else {}
        if env.get("version") != 1:
            return p.rpc_error(p.error_value(
                "Error", f"Unsupported RPC envelope version: {env.get('version')}"))
        args = (env.get("chain") or {}).get("args") or []
        return p.rpc_result("worker-echo: " + ",".join(str(a) for a in args))

    def statistics(self) -> dict[str, Any]:
        return {"forwarded": self.forwarded, "rejected": self.rejected}
