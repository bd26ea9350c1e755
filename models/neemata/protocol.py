"""The Neemata wire (spec section 1), the errors callers see, and the user's actions.

Wire messages are frozen values with the real type code as ``CODE``. A real frame is
``u8 type | u32LE id | rest``; here the id and the rest are fields, and the JSON payload
format's blob header becomes a tuple of :class:`BlobHeader`. Two message names exist in
both directions with different codes (``ClientStreamAbort`` 22 client->server and 33
server->client, ``ServerStreamAbort`` 33 client->server and 22 server->client); the
server->client ones are called :class:`GatewayClientStreamAbort` and
:class:`GatewayServerStreamAbort` here so that a trace line names its direction.

Blob content is carried as real bytes so that receivers can be judged on what they got;
a :class:`BlobSource` names its content by a seed and a size (or a text) so that a user
action stays small in the trace however large the blob.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any, ClassVar

from attrs import field, frozen

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import Input

MAX_UINT32 = 2**32 - 1
"""``packages/common/src/constants.ts``: ids run 0..MAX_UINT32-1, then wrap to 0."""
UPLOAD_PULL_SIZE = 16_384
"""What the gateway's Node readable asks per ``ClientStreamPull`` (Node 20)."""
DOWNLOAD_PULL_SIZE = 65_535
"""What the client asks per ``ServerStreamPull`` (the server ignores it at f77b193b)."""


# --------------------------------------------------------------------------- blobs
@frozen
class BlobHeader:
    """One entry of the payload's blob header: ``{id: {type, size, filename}}``."""

    stream_id: int
    size: int
    type: str = "application/octet-stream"
    filename: str = ""


@frozen
class BlobSource:
    """What a blob is made of, and how its source behaves when read.

    ``text`` gives the content as UTF-8; otherwise ``size`` bytes drawn from ``seed``.
    The source yields ``chunk`` bytes every ``delay`` (0: at once) and fails with an
    error once ``error_at`` bytes have been read, if set.
    """

    size: int = 0
    seed: int = 0
    text: str | None = None
    chunk: int = 16_384
    delay: Time = 0
    error_at: int | None = None
    type: str = "application/octet-stream"
    filename: str = ""

    def content(self) -> bytes:
        if self.text is not None:
            return self.text.encode()
        return random.Random(self.seed).randbytes(self.size)

    @property
    def length(self) -> int:
        return len(self.text.encode()) if self.text is not None else self.size


def digest(data: bytes) -> str:
    """A short fingerprint of received bytes, for notes and oracles."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


# --------------------------------------------------------------------------- errors
@frozen
class ErrorInfo:
    """An error as a caller sees it: ``ProtocolError(code, message, data)`` or a plain one."""

    code: str
    message: str = ""
    data: Any = None


CLIENT_REQUEST_ERROR = "ClientRequestError"
CONNECTION_ERROR = "ConnectionError"
INTERNAL_SERVER_ERROR = "InternalServerError"
TYPE_ERROR = "TypeError"
TRANSPORT_ERROR = "TransportError"

GENERIC_ABORT = "AbortError: This operation was aborted"
"""What Node's custom ``anyAbortSignal`` leaves of any abort reason (spec 2.1 step 2)."""


# --------------------------------------------------------------------------- client -> server
class ClientMessage:
    """A frame the client sends."""

    CODE: ClassVar[int] = 0
    __slots__ = ()


class ServerMessage:
    """A frame the gateway sends."""

    CODE: ClassVar[int] = 0
    __slots__ = ()


@frozen
class Rpc(ClientMessage):
    CODE: ClassVar[int] = 10
    call_id: int
    procedure: str
    payload: Any = None
    blobs: tuple[BlobHeader, ...] = field(default=(), converter=tuple)


@frozen
class RpcAbort(ClientMessage):
    CODE: ClassVar[int] = 11
    call_id: int
    reason: str = ""


@frozen
class RpcPull(ClientMessage):
    CODE: ClassVar[int] = 12
    call_id: int


@frozen
class Pong(ClientMessage):
    """The client's answer to the gateway's heartbeat ``Ping`` (16)."""

    CODE: ClassVar[int] = 14
    nonce: int


@frozen
class ClientStreamPush(ClientMessage):
    CODE: ClassVar[int] = 20
    stream_id: int
    data: bytes


@frozen
class ClientStreamEnd(ClientMessage):
    CODE: ClassVar[int] = 21
    stream_id: int


@frozen
class ClientStreamAbort(ClientMessage):
    CODE: ClassVar[int] = 22
    stream_id: int
    reason: str = ""


@frozen
class ServerStreamAbort(ClientMessage):
    CODE: ClassVar[int] = 33
    stream_id: int
    reason: str = ""


@frozen
class ServerStreamPull(ClientMessage):
    CODE: ClassVar[int] = 34
    stream_id: int
    size: int = DOWNLOAD_PULL_SIZE


# --------------------------------------------------------------------------- server -> client
@frozen
class RpcResponse(ServerMessage):
    CODE: ClassVar[int] = 10
    call_id: int
    error: ErrorInfo | None = None
    result: Any = None
    blobs: tuple[BlobHeader, ...] = field(default=(), converter=tuple)


@frozen
class RpcStreamResponse(ServerMessage):
    CODE: ClassVar[int] = 11
    call_id: int


@frozen
class RpcStreamChunk(ServerMessage):
    CODE: ClassVar[int] = 12
    call_id: int
    chunk: Any


@frozen
class RpcStreamEnd(ServerMessage):
    CODE: ClassVar[int] = 13
    call_id: int


@frozen
class RpcStreamAbort(ServerMessage):
    CODE: ClassVar[int] = 14
    call_id: int
    reason: str = ""


@frozen
class Ping(ServerMessage):
    """The gateway's heartbeat probe (only with the heartbeat on)."""

    CODE: ClassVar[int] = 16
    nonce: int


@frozen
class ServerStreamPush(ServerMessage):
    CODE: ClassVar[int] = 20
    stream_id: int
    data: bytes


@frozen
class ServerStreamEnd(ServerMessage):
    CODE: ClassVar[int] = 21
    stream_id: int


@frozen
class GatewayServerStreamAbort(ServerMessage):
    """``ServerStreamAbort`` (22) sent by the gateway: a download ended in error."""

    CODE: ClassVar[int] = 22
    stream_id: int
    reason: str = ""


@frozen
class GatewayClientStreamAbort(ServerMessage):
    """``ClientStreamAbort`` (33) sent by the gateway: it destroyed an upload (no reason)."""

    CODE: ClassVar[int] = 33
    stream_id: int


@frozen
class ClientStreamPull(ServerMessage):
    CODE: ClassVar[int] = 34
    stream_id: int
    size: int = UPLOAD_PULL_SIZE


# --------------------------------------------------------------------------- user actions
@frozen
class Consumer:
    """How the application reads a stream (an RPC stream, or the first downloaded blob).

    ``read=False``: the application never iterates. Otherwise it reads chunk after chunk,
    spending ``read_delay`` on each, and after ``stop_after`` chunks (``None``: never)
    stops by ``stop``: ``break`` (leaves its for-await loop), ``abort`` (aborts the
    signal it passed) or ``abandon`` (drops a manual iterator without ``return()``).
    """

    read: bool = True
    stop_after: int | None = None
    stop: str = "break"
    read_delay: Time = 0
    start_after: Time = 0
    """How long after the call resolves the application starts reading."""


@frozen
class Connect(Input):
    """``client.connect()``."""


@frozen
class Disconnect(Input):
    """``client.disconnect()``."""


@frozen
class Call(Input):
    """``client.call.<procedure>(payload, {timeout, signal})`` (or ``client.stream``).

    ``op`` names the operation for notes and oracles. ``timeout``: ``None`` uses the
    client's default, 0 means no timer. ``uploads`` become ``ProtocolBlob.from`` values in
    the payload. ``consumer`` says how the application reads the RPC stream (``stream``)
    or the first blob of the response. ``pre_aborted``: the signal is aborted already.
    """

    op: str
    procedure: str
    payload: dict = field(factory=dict)
    timeout: Time | None = None
    stream: bool = False
    consumer: Consumer = field(factory=Consumer)
    uploads: tuple[BlobSource, ...] = field(default=(), converter=tuple)
    pre_aborted: bool = False


@frozen
class AbortOp(Input):
    """The application aborts the signal it passed for ``op`` (``download``: the blob's)."""

    op: str
    download: bool = False


@frozen
class SkipIds(Input):
    """Stand-in for ``calls`` calls and ``streams`` uploads made earlier in the client's life.

    Moves the id counters on without doing the work, so that wrap-around at 2^32 can be
    reached in a test (``to`` is the counter's new value, at most ``MAX_UINT32``).
    """

    to: int = MAX_UINT32


__all__ = [
    "CLIENT_REQUEST_ERROR", "CONNECTION_ERROR", "DOWNLOAD_PULL_SIZE", "GENERIC_ABORT",
    "INTERNAL_SERVER_ERROR", "MAX_UINT32", "TRANSPORT_ERROR", "TYPE_ERROR", "UPLOAD_PULL_SIZE",
    "AbortOp", "BlobHeader", "BlobSource", "Call", "ClientMessage", "ClientStreamAbort",
    "ClientStreamEnd", "ClientStreamPull", "ClientStreamPush", "Connect", "Consumer",
    "Disconnect", "ErrorInfo", "GatewayClientStreamAbort", "GatewayServerStreamAbort", "Ping",
    "Pong", "Rpc", "RpcAbort", "RpcPull", "RpcResponse", "RpcStreamAbort", "RpcStreamChunk",
    "RpcStreamEnd", "RpcStreamResponse", "ServerMessage", "ServerStreamAbort",
    "ServerStreamEnd", "ServerStreamPull", "ServerStreamPush", "SkipIds", "digest",
]
