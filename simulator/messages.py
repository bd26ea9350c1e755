"""The vocabulary between the world and a sans-IO node: inputs in, effects out.

Every value is a frozen attrs class, so it can be stored in a trace, compared, and
printed as Python. Models add their own input classes (user actions, wake-up events)
by subclassing :class:`Input`; the kernel delivers them untouched.

Identifiers for connections and HTTP exchanges are strings chosen by the node that
opens them, prefixed with its own address (``"alice.tab1:ws3"``). That keeps ids unique
without a global counter the node would have to ask for, and keeps them readable.
"""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from .clock import Time

# WebSocket close codes the kernel itself produces.
CLOSE_NORMAL = 1000
CLOSE_ABNORMAL = 1006  # never sent on the wire: no close frame arrived
CLOSE_INTERNAL = 1011


class Input:
    """Something that happens to a node."""

    __slots__ = ()


class Effect:
    """Something a node asks the world to do, applied after ``handle`` returns."""

    __slots__ = ()


# --------------------------------------------------------------------------- inputs
@frozen
class Start(Input):
    """The host (re)started; ``incarnation`` counts restarts from 0."""

    incarnation: int = 0


@frozen
class TimerFired(Input):
    key: str


@frozen
class ConnectRequested(Input):
    """Server side: a peer asks to open a WebSocket. Answer with Accept/Reject/Forward."""

    conn: str
    peer: str
    request: dict = field(factory=dict)


@frozen
class WsOpened(Input):
    """Client side: the server accepted; the socket is OPEN."""

    conn: str
    response: dict = field(factory=dict)


@frozen
class WsRejected(Input):
    """Client side: the upgrade failed with an HTTP-like status (0: unreachable)."""

    conn: str
    status: int
    reason: str = ""


@frozen
class WsMessage(Input):
    conn: str
    data: Any


@frozen
class WsClosed(Input):
    """The socket is CLOSED. ``clean`` is false for 1006 (no close frame arrived)."""

    conn: str
    code: int
    reason: str = ""
    clean: bool = True


@frozen
class HttpRequestReceived(Input):
    req: str
    peer: str
    method: str
    path: str
    headers: dict = field(factory=dict)
    body: Any = None


@frozen
class HttpResponse(Input):
    req: str
    status: int
    body: Any = None


@frozen
class HttpResponseWithHeaders(HttpResponse):
    """A response that carries headers (``Retry-After`` on a 429). Opt-in: a node that
    answers with :class:`HttpRespondWithHeaders`, or the network's rate limiter, sends one;
    ``case HttpResponse()`` matches it too."""

    headers: dict = field(factory=dict)


@frozen
class BrowserOffline(Input):
    """The host's network went away (the browser's ``offline`` event)."""


@frozen
class BrowserOnline(Input):
    """The host's network came back (the browser's ``online`` event)."""


@frozen
class HttpFailed(Input):
    """The exchange failed below HTTP: peer down, partitioned, connection lost, timed out."""

    req: str
    reason: str


@frozen
class AlarmFired(Input):
    """Durable Object ``alarm()``; ``retry_count`` is 0 on the first run."""

    retry_count: int = 0


# --------------------------------------------------------------------------- effects
@frozen
class SetTimer(Effect):
    """Arm (or re-arm: same key overwrites) a timer that delivers ``TimerFired(key)``."""

    key: str
    at: Time


@frozen
class CancelTimer(Effect):
    key: str


@frozen
class OpenConnection(Effect):
    conn: str
    to: str
    request: dict = field(factory=dict)


@frozen
class AcceptConnection(Effect):
    conn: str
    attachment: Any = None
    response: dict = field(factory=dict)


@frozen
class RejectConnection(Effect):
    conn: str
    status: int
    reason: str = ""


@frozen
class ForwardConnection(Effect):
    """Hand an upgrade on to another host (a router or Worker in front of an object)."""

    conn: str
    to: str
    request: dict = field(factory=dict)


@frozen
class Send(Effect):
    conn: str
    data: Any


@frozen
class CloseConnection(Effect):
    conn: str
    code: int = CLOSE_NORMAL
    reason: str = ""


@frozen
class SetAttachment(Effect):
    """Store a value with a server-side socket; it survives eviction (not a crash)."""

    conn: str
    attachment: Any


@frozen
class SetAutoResponse(Effect):
    """Answer frame ``request`` with ``response`` without waking the node (DO hibernation)."""

    request: str
    response: str


@frozen
class HttpRequest(Effect):
    req: str
    to: str
    method: str
    path: str
    headers: dict = field(factory=dict)
    body: Any = None
    timeout: Time | None = None


@frozen
class HttpRespond(Effect):
    req: str
    status: int
    body: Any = None


@frozen
class HttpRespondWithHeaders(HttpRespond):
    """:class:`HttpRespond` with response headers; the client gets
    :class:`HttpResponseWithHeaders`."""

    headers: dict = field(factory=dict)


@frozen
class SetAlarm(Effect):
    at: Time


@frozen
class DeleteAlarm(Effect):
    pass


@frozen
class StoragePut(Effect):
    key: str
    value: Any


@frozen
class StorageDelete(Effect):
    key: str


@frozen
class Note(Effect):
    """An observation for the trace and the timeline ("state connected", "call settled").

    Invariants and notebooks read notes; the world does nothing else with them.
    """

    event: str
    data: dict = field(factory=dict)
