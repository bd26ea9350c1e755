"""The wire and the user: hosts, paths, tokens, Centrifugo frames and codes, user actions.

Tokens are readable strings rather than JWTs: ``at.<family>.<generation>.<exp>.<epoch>`` for
an access token and ``rt.<family>.<generation>`` for a refresh token. The model needs "who
issued it", "when it expires" and "which signing key", not cryptography; monitors read the
expiry straight off a token a trace shows being sent.
"""

from __future__ import annotations

from enum import Enum

from attrs import frozen

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import Input

BROWSER = "browser"
API = "api"  # the REST API, its health ping and the auth endpoints (one base URL)
REALTIME = "realtime"  # the Centrifugo server

PING = "/api/health/ping"
LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh"
MESSAGES = "/api/messages"
UPLOADS = "/api/uploads"
JSON = "application/json"

# Centrifugo disconnect codes the model uses (centrifuge-js ``codes.ts``).
TOKEN_EXPIRED_ERROR = 109  # connect/refresh error: the client refreshes and reconnects
CLOSE_EXPIRED = 3005  # connection expired: reconnect
CLOSE_NO_PING = 3012  # client side: no ping from the server in time
CODE_TRANSPORT_CLOSED = 1  # centrifuge-js connectingCodes.transportClosed


class NetworkQuality(Enum):
    EXCELLENT = "EXCELLENT"
    GOOD = "GOOD"
    FAIR = "FAIR"
    POOR = "POOR"
    OFFLINE = "OFFLINE"


class ConnectionState(Enum):
    """The connection manager's states, as the document declares them."""

    DISCONNECTED = "DISCONNECTED"
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    RECONNECTING = "RECONNECTING"
    FAILED = "FAILED"


def access_token(family: int, generation: int, exp: Time, epoch: int) -> str:
    return f"at.{family}.{generation}.{exp}.{epoch}"


def refresh_token(family: int, generation: int) -> str:
    return f"rt.{family}.{generation}"


@frozen
class AccessToken:
    family: int
    generation: int
    exp: Time
    epoch: int


def parse_access(token: str | None) -> AccessToken | None:
    """The fields of an access token, or ``None`` if it is not one."""
    if not isinstance(token, str):
        return None
    parts = token.removeprefix("Bearer ").split(".")
    if len(parts) != 5 or parts[0] != "at":
        return None
    try:
        return AccessToken(int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]))
    except ValueError:
        return None


def parse_refresh(token: object) -> tuple[int, int] | None:
    if not isinstance(token, str):
        return None
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "rt":
        return None
    try:
        return int(parts[1]), int(parts[2])
    except ValueError:
        return None


# --------------------------------------------------------------------------- user actions
@frozen
class SendMessage(Input):
    """The user sends chat message number ``seq`` (numbered by the test app, from 1)."""

    seq: int
    text: str = ""


@frozen
class StartUpload(Input):
    """The user attaches a file: a resumable upload of ``config.upload_size`` bytes."""

    upload: str


# --------------------------------------------------------------------------- server faults
@frozen
class SetAuthMode(Input):
    """The auth endpoints answer normally (``up``) or 503 (``down``)."""

    up: bool


@frozen
class RotateSigningKey(Input):
    """The API starts a new signing-key epoch: every access token issued before is refused
    with 401 (a key rotation, or sessions invalidated by an operator)."""


@frozen
class FailUploadsAt(Input):
    """Chunks of ``upload`` starting at or after ``offset`` get 503 until ``until``."""

    upload: str
    offset: int
    until: Time


__all__ = [
    "API", "BROWSER", "CLOSE_EXPIRED", "CLOSE_NO_PING", "JSON", "LOGIN", "MESSAGES", "PING",
    "REALTIME", "REFRESH", "TOKEN_EXPIRED_ERROR", "UPLOADS", "AccessToken", "ConnectionState",
    "FailUploadsAt", "NetworkQuality", "RotateSigningKey", "SendMessage", "SetAuthMode",
    "StartUpload", "access_token", "parse_access", "parse_refresh", "refresh_token",
]
