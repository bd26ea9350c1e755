"""Wire vocabulary of Lumenize Mesh: frames, tokens, close codes, errors and user actions.

Frames are Python dicts standing for JSON text frames (``{"type": "call", ...}``); the
heartbeat is the raw strings ``lmz:ping`` / ``lmz:pong``. A string frame that is not the
heartbeat is parsed as JSON by the gateway, so "bad JSON" is a plain string.

Tokens are real-shaped JWTs (``header.payload.signature``, base64url JSON) signed with a
deterministic keyed blake2b instead of Ed25519: the model needs "valid", "forged" and
"undecodable", not cryptography.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from attrs import field, frozen

from gatewaysim.simulator.clock import SECOND, Time
from gatewaysim.simulator.messages import Input

# ---------------------------------------------------------------- constants
PING = "lmz:ping"
PONG = "lmz:pong"
SUBPROTOCOL = "lmz"
TOKEN_PROTOCOL_PREFIX = "lmz.access-token."
# Fix takeover_requires_resubscribe: the page (one load of one browser tab) a socket comes
# from, so the gateway can tell a tab coming back from another tab taking over.
PAGE_PROTOCOL_PREFIX = "lmz.page."
DEFAULT_BINDING = "LUMENIZE_CLIENT_GATEWAY"
ISSUER = AUDIENCE = "https://lumenize.local"
SIGNING_KEYS = {"BLUE": b"blue-key", "GREEN": b"green-key"}

WORKER = "worker"  # host address of the Worker in front of the gateways
AUTH = "auth"  # host address of the token service
GATEWAY_PREFIX = "gateway/"  # gateway DOs live at gateway/<instanceName>

# Close codes.
CLOSE_NORMAL = 1000
CLOSE_ABNORMAL = 1006
CLOSE_NOT_INITIALIZED = 1011
CLOSE_NO_TOKEN = 4400
CLOSE_TOKEN_EXPIRED = 4401
CLOSE_UNAUTHORIZED = 4403
CLOSE_SUPERSEDED = 4409

# ClientDisconnectedError messages (spec section 1.8).
NOT_CONNECTED = "Client is not connected"
GRACE_EXPIRED_ALARM = "Client did not reconnect within grace period"
NO_GRACE_ACTIVE = "Client is not connected and no grace period active"
GRACE_PERIOD_EXPIRED = "Client grace period has expired"
DID_NOT_RECONNECT = "Client did not reconnect in time"
NOT_INITIALIZED = "Connection not properly initialized"
TOKEN_EXPIRED = "Client token expired"
CALL_TIMED_OUT = "Client call timed out"
CLIENT_DISCONNECTED_ERROR = "ClientDisconnectedError"


def gateway_address(instance_name: str) -> str:
    return GATEWAY_PREFIX + instance_name


def error_value(name: str, message: str, **extra: Any) -> dict[str, Any]:
    """A structured-clone-preprocessed Error, as it crosses Workers RPC."""
    return {"name": name, "message": message, **extra}


def client_disconnected(message: str, instance_name: str | None) -> dict[str, Any]:
    return error_value(CLIENT_DISCONNECTED_ERROR, message, clientInstanceName=instance_name)


# ---------------------------------------------------------------- tokens
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key_id: str, signing_input: str) -> str:
    key = SIGNING_KEYS.get(key_id, b"forged")
    return _b64(hashlib.blake2b(signing_input.encode(), key=key, digest_size=16).digest())


def encode_token(claims: dict[str, Any], key_id: str = "BLUE") -> str:
    header = _b64(json.dumps({"alg": "EdDSA", "kid": key_id}, sort_keys=True).encode())
    payload = _b64(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode())
    return f"{header}.{payload}.{_sign(key_id, header + '.' + payload)}"


class TokenError(ValueError):
    pass


def decode_token(token: str) -> dict[str, Any]:
    """Decode the payload without verifying (what the gateway and client do)."""
    try:
        _header, payload, _sig = token.split(".")
        claims = json.loads(_unb64(payload))
    except (ValueError, TypeError) as exc:
        raise TokenError("invalid token") from exc
    if not isinstance(claims, dict):
        raise TokenError("invalid token")
    return claims


def verify_token(token: str) -> dict[str, Any]:
    """Decode and check the signature against the BLUE/GREEN keys (what the Worker does)."""
    try:
        header_b64, payload, sig = token.split(".")
        header = json.loads(_unb64(header_b64))
    except (ValueError, TypeError) as exc:
        raise TokenError("invalid token") from exc
    kid = header.get("kid") if isinstance(header, dict) else None
    if kid not in SIGNING_KEYS or _sign(kid, header_b64 + "." + payload) != sig:
        raise TokenError("invalid signature")
    return decode_token(token)


def forge_token(claims: dict[str, Any]) -> str:
    """A token with a well-formed payload and a bad signature."""
    return encode_token(claims, key_id="FORGED")


def now_seconds(now: Time) -> int:
    return now // SECOND


def is_expired(exp: Any, now: Time) -> bool:
    """The gateway's and Worker's check: ``exp < Date.now()/1000``, strict, no leeway."""
    return isinstance(exp, int | float) and exp * SECOND < now


# ---------------------------------------------------------------- user actions (inputs)
# The scenario, a test or the explorer injects these into model nodes.
@frozen
class ClientCall(Input):
    """Application code calls the mesh: ``callRaw`` (awaited) or ``call`` (fire-and-forget)."""

    method: str
    args: list = field(factory=list)
    instance: str | None = "doc/main"  # a DO instance; None addresses the Worker binding
    binding: str = "DOCUMENT"
    awaited: bool = True
    tag: str = ""  # caller's label, echoed in the settlement note


@frozen
class ClientDisconnect(Input):
    """Application code calls ``disconnect()``."""


@frozen
class ClientConnect(Input):
    """Application code calls ``connect()``."""


@frozen
class WakeUp(Input):
    """A browser event: ``online``, ``visible`` or ``focus``."""

    kind: str


@frozen
class ClearAccessToken(Input):
    """``clearAccessToken()``: drop the token and claims without closing the socket."""


@frozen
class Publish(Input):
    """Ask the document broadcaster to change the document and fan it out."""

    content: str


@frozen
class CallClient(Input):
    """Ask a mesh node to call a client's ``@mesh`` method and wait for the answer."""

    instance_name: str
    method: str = "ping"
    args: list = field(factory=list)
    tag: str = ""


@frozen
class AuthMode(Input):
    """Token service fault: ``ok``, ``reject`` (answers 401), ``forbidden`` (answers 403),
    ``expired_tokens`` (mints exp in the past) or ``error`` (answers 503)."""

    mode: str


@frozen
class SetTokenTtl(Input):
    """Token service: the TTL (seconds) of access tokens it mints from now on."""

    ttl_s: int


@frozen
class SetUserClaims(Input):
    """Token service: override claims for a user (e.g. ``adminApproved: False``)."""

    sub: str
    claims: dict = field(factory=dict)


# ---------------------------------------------------------------- addresses and paths
DOC_PREFIX = "doc/"  # document broadcasters live at doc/<name>
DEFAULT_DOCUMENT = "doc/main"
NODE_PREFIX = "node/"  # mesh nodes that call clients live at node/<name>
CLIENT_PREFIX = "client/"  # client hosts: client/<sub>.<tabId>, a duplicate tab gets "#2"
DEFAULT_ORIGIN = "https://app.lumenize.local"
REFRESH_PATH = "/auth/refresh-token"
RPC_METHOD = "RPC"  # the HttpRequest method that stands for a Workers RPC call
EXECUTE_OPERATION = "__executeOperation"
SUBSCRIPTION_LOST = "__subscriptionLost"  # fix resubscribe_after_fanout_drop (section 6)
DOCUMENT_BINDING = "DOCUMENT"
WORKER_BINDING = "WORKER"

# Close reasons the gateway sends (section 1.3).
REASON_SUPERSEDED = "Superseded by new connection"
REASON_TOKEN_EXPIRED = "Token expired"
REASON_NOT_INITIALIZED = "Connection not properly initialized"

# The gateway half of fix ``reject_calls_on_socket_close``: the message a pending
# mesh->client call is rejected with when the socket it was sent on closes.
SOCKET_CLOSED = "Client socket closed before answering"


def upgrade_path(binding: str, instance_name: str) -> str:
    """``routeDORequest``'s URL shape: ``/gateway/{binding}/{instanceName}`` (section 3)."""
    return f"/gateway/{binding}/{instance_name}"


def envelope(chain: dict[str, Any], call_context: dict[str, Any], caller: dict[str, Any],
             callee: dict[str, Any], version: int = 1) -> dict[str, Any]:
    """The ``__executeOperation`` envelope (section 1.7 step 3)."""
    return {"version": version, "chain": chain, "callContext": call_context,
            "metadata": {"caller": caller, "callee": callee}}


def rpc_result(value: Any) -> dict[str, Any]:
    return {"$result": value}


def rpc_error(error: dict[str, Any]) -> dict[str, Any]:
    return {"$error": error}


def unwrap_rpc(status: int, body: Any) -> tuple[bool, Any]:
    """``(ok, value_or_error)`` from an ``__executeOperation`` reply.

    A non-200 status or a body that is neither ``$result`` nor ``$error`` counts as a
    transport error, which callers surface as ``success: false`` (section 1.7 step 4).
    """
    if status == 200 and isinstance(body, dict):
        if "$error" in body:
            return False, body["$error"]
        if "$result" in body:
            return True, body["$result"]
    return False, error_value("Error", f"RPC failed with status {status}")


class RemoteError(Exception):
    """An error a mesh object or hook raises; it crosses RPC as ``{"$error": value}``."""

    def __init__(self, name: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.value = error_value(name, message, **extra)

# Routing headers the Worker adds before forwarding an upgrade (section 3 step 3).
INSTANCE_HEADER = "X-Lumenize-DO-Instance-Name-Or-Id"
BINDING_HEADER = "X-Lumenize-DO-Binding-Name"


def header(headers: dict[str, Any], name: str) -> Any:
    """Look a header up case-insensitively, as the Fetch API's ``Headers.get`` does."""
    lowered = name.lower()
    for key in sorted(headers):
        if key.lower() == lowered:
            return headers[key]
    return None


@frozen
class GrantRefreshToken(Input):
    """Token service: register a refresh token for ``sub`` (a tab added during a run)."""

    token: str
    sub: str
