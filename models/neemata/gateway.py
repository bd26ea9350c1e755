"""The Neemata gateway core (``packages/gateway/src``, spec section 3) as a sans-IO node.

Theory of operation
-------------------
Each connection has an id counter for downloads. Each ``Rpc`` becomes an
:class:`Invocation`: an entry in ``rpcs`` (its AbortController), a generator handler
(:mod:`.procedures`) driven by timers and messages, and a ``dispose`` when it is over that
aborts the call's unconsumed uploads, deletes the ``rpcs`` entry *by key* and releases the
pending pull. Nothing checks that a key is free: a reused callId overwrites (spec 3.2).

An RPC stream sends ``RpcStreamResponse``, waits for the first pull with a timeout, then
for each chunk: fetches it from the handler, checks the abort signal, sends it and waits
for the next pull (no timeout). The pending pull is a :class:`PullFuture` in ``streams``;
a pull that finds none is dropped. When the first wait times out the future is resolved
but left in place, so every later wait returns at once: the stream then flows without
pulls (spec 3.3). Fix ``stream_pull_timeout_aborts`` times out every wait and aborts.

Blobs follow ``BlobStreamsManager`` (spec 3.4): uploads are registered when the ``Rpc``
is decoded and pulled while the handler reads them (a Node readable with a 16 KiB
buffer); downloads are created paused and, after the first ``ServerStreamPull``, pushed
as fast as the source produces (fix ``download_credits``: only as far as pulled). Their
Consume, Pull and Finish timers destroy them with "<Type> timeout". Destroying a blob
tells the client (``ClientStreamAbort``/``ServerStreamAbort``), even when the client
asked for it: the real gateway echoes.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from attrs import define, field, frozen

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.messages import (
    AcceptConnection,
    CloseConnection,
    ConnectRequested,
    Effect,
    Input,
    Note,
    Send,
    TimerFired,
    WsClosed,
    WsMessage,
)
from gatewaysim.simulator.node import HostContext, Node

from . import protocol as p
from .config import NeemataConfig
from .ids import IdCounter
from .procedures import Aborted, Chunk, CreateBlob, HandlerError, Read, Sleep, procedure

Key = tuple[str, int]
"""``conn:id``: a connection and a call or stream id."""


@define(repr=False)
class PullFuture:
    resolved: bool = False


@define(repr=False)
class UploadSink:
    """An upload as the gateway holds it: a Node readable fed by pulls."""

    conn: str
    stream_id: int
    call_id: int
    n: int
    size: int
    consumed: bool = False
    buffer: bytearray = field(factory=bytearray)
    ended: bool = False
    destroyed: str | None = None
    pulling: bool = False
    received: int = 0

    def __repr__(self) -> str:
        return f"UploadSink({self.conn!r}, {self.stream_id}, {self.received}/{self.size})"


@define(repr=False)
class DownloadSource:
    """A download: a paused PassThrough over a source, resumed by the first pull."""

    conn: str
    stream_id: int
    call_id: int
    n: int
    data: bytes
    source: p.BlobSource
    offset: int = 0
    flowing: bool = False
    credit: int = 0
    producing: bool = False  # a slow source's next chunk is on its way
    ready: bool = False  # a slow source's chunk has arrived and may be pushed
    done: bool = False

    def __repr__(self) -> str:
        return f"DownloadSource({self.conn!r}, {self.stream_id}, {self.offset}/{len(self.data)})"


@define(repr=False)
class Invocation:
    """One running call: its controller, handler and what it holds."""

    n: int
    conn: str
    call_id: int
    op: str
    procedure: str
    stream: bool
    abortable: bool
    gen: Generator[Any, Any, Any]
    aborted: bool = False
    state: str = "running"  # running, sleep, read, first_pull, pull, done
    timer: str | None = None
    read: tuple[int, int] | None = None
    sinks: list[UploadSink] = field(factory=list)
    created: list[p.BlobHeader] = field(factory=list)
    local_ids: int = 0  # mutant download_ids_restart
    chunks: int = 0

    @property
    def key(self) -> Key:
        return (self.conn, self.call_id)

    def __repr__(self) -> str:
        return f"Invocation({self.op!r}, {self.procedure}, id={self.call_id}, {self.state})"


@frozen
class GatewayStatistics:
    """The gateway's internal maps (spec section 3), as sizes."""

    connections: int
    """``ConnectionManager.connections``."""
    stream_ids: int
    """``ConnectionManager.streamIds``: one download id counter per connection."""
    rpcs: int
    """``RpcManager.rpcs``: conn:callId -> AbortController."""
    streams: int
    """``RpcManager.streams``: conn:callId -> pending (or stale resolved) pull."""
    client_streams: int
    """``BlobStreamsManager.clientStreams``: uploads."""
    server_streams: int
    """``BlobStreamsManager.serverStreams``: downloads."""
    client_call_streams: int
    """Index conn:callId -> its not yet consumed uploads."""
    server_call_streams: int
    """Index conn:callId -> its downloads."""
    connection_client_streams: int
    connection_server_streams: int
    heartbeats: int
    """``heartbeat``: connections with a heartbeat (only with ``gateway_heartbeat``)."""
    handlers: int
    """Handlers still running (a handler that ignores its abort signal outlives its call)."""
    timers: int
    """Live timers of operations (handler sleeps, pull waits, blob Consume/Pull/Finish, slow
    sources); a connection's heartbeat timer is counted in ``heartbeats``."""

    @property
    def rpc_clean(self) -> bool:
        """What the real suite checks: ``rpcs.rpcs`` and ``rpcs.streams`` are empty."""
        return not (self.rpcs or self.streams)


class NeemataGateway(Node):
    """The gateway: one node serving every client connection."""

    def __init__(self, ctx: HostContext, config: NeemataConfig) -> None:
        super().__init__(ctx)
        self.config = config
        self.connections: dict[str, str] = {}
        self.stream_ids: dict[str, IdCounter] = {}
        self.rpcs: dict[Key, Invocation] = {}
        self.streams: dict[Key, PullFuture] = {}
        self.client_streams: dict[Key, UploadSink] = {}
        self.server_streams: dict[Key, DownloadSource] = {}
        self.client_call_streams: dict[Key, dict[int, None]] = {}
        self.server_call_streams: dict[Key, dict[int, None]] = {}
        self.connection_client_streams: dict[str, dict[int, None]] = {}
        self.connection_server_streams: dict[str, dict[int, None]] = {}
        self.handlers: dict[int, Invocation] = {}
        self.heartbeats: dict[str, int | None] = {}  # conn -> the nonce awaiting its pong
        self.counter = 0
        self._n = 0

    def fixed(self, name: str) -> bool:
        return self.config.fixed(name)

    def statistics(self) -> GatewayStatistics:  # type: ignore[override]
        return GatewayStatistics(
            len(self.connections), len(self.stream_ids), len(self.rpcs), len(self.streams),
            len(self.client_streams), len(self.server_streams), len(self.client_call_streams),
            len(self.server_call_streams), len(self.connection_client_streams),
            len(self.connection_server_streams), len(self.heartbeats), len(self.handlers),
            sum(1 for key in self._timers if not key.startswith("hb:")))

    def _next_n(self) -> int:
        self._n += 1
        return self._n

    # ------------------------------------------------------------------ inputs
    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case WsMessage(conn=conn, data=msg):
                if conn not in self.connections:
                    return [Note("message.unknown_connection", {"conn": conn})]
                return self._on_message(now, conn, msg)
            case TimerFired(key=key):
                return self._on_timer(now, key)
            case ConnectRequested(conn=conn):
                self.connections[conn] = conn
                self.stream_ids[conn] = IdCounter(self.config.first_download_id)
                out: list[Effect] = [AcceptConnection(conn), Note("gateway.connected",
                                                                  {"conn": conn})]
                if self.fixed("gateway_heartbeat"):
                    self.heartbeats[conn] = None
                    out.append(self.set_timer(f"hb:{conn}", now + self.config.heartbeat_interval))
                return out
            case WsClosed(conn=conn) if conn in self.connections:
                return self._close_connection(now, conn)
        return []

    def _on_message(self, now: Time, conn: str, msg: Any) -> list[Effect]:
        match msg:
            case p.Pong(nonce=nonce):
                if conn in self.heartbeats and self.heartbeats[conn] == nonce:
                    self.heartbeats[conn] = None
                    return [self.set_timer(f"hb:{conn}", now + self.config.heartbeat_interval)]
                return []
            case p.Rpc():
                return self._on_rpc(now, conn, msg)
            case p.RpcAbort(call_id=call_id):
                return self._on_abort(now, (conn, call_id))
            case p.RpcPull(call_id=call_id):
                return self._on_pull(now, (conn, call_id))
            case p.ClientStreamPush(stream_id=sid, data=data):
                return self._on_upload_push(now, (conn, sid), data)
            case p.ClientStreamEnd(stream_id=sid):
                return self._on_upload_end(now, (conn, sid))
            case p.ClientStreamAbort(stream_id=sid, reason=reason):
                sink = self.client_streams.get((conn, sid))
                if sink is None:
                    return []
                return self._destroy_upload(now, sink, reason or "aborted by client")
            case p.ServerStreamPull(stream_id=sid, size=size):
                return self._on_download_pull(now, (conn, sid), size)
            case p.ServerStreamAbort(stream_id=sid):
                src = self.server_streams.get((conn, sid))
                if src is None:
                    return []
                return self._destroy_download(src, "aborted by client")
        return []

    # ------------------------------------------------------------------ rpc
    def _on_rpc(self, now: Time, conn: str, msg: p.Rpc) -> list[Effect]:
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        op = str(payload.get("op", ""))
        proc = procedure(msg.procedure)
        n = self._next_n()
        inv = Invocation(n, conn, msg.call_id, op, proc.name, proc.stream, proc.abortable,
                         proc.make(payload, self))
        out: list[Effect] = []
        for header in msg.blobs:
            sink = UploadSink(conn, header.stream_id, msg.call_id, self._next_n(), header.size)
            self.client_streams[(conn, header.stream_id)] = sink
            self.client_call_streams.setdefault(inv.key, {})[header.stream_id] = None
            self.connection_client_streams.setdefault(conn, {})[header.stream_id] = None
            inv.sinks.append(sink)
            out.append(self.set_timer(f"u{sink.n}:consume", now + self.config.blob_consume_timeout))
        self.rpcs[inv.key] = inv  # no duplicate check: a reused callId overwrites
        self.handlers[n] = inv
        out.append(Note("handler.started", {"op": op, "conn": conn, "call_id": msg.call_id,
                                            "procedure": proc.name}))
        if inv.stream:
            out.append(Send(conn, p.RpcStreamResponse(msg.call_id)))
            self.streams[inv.key] = PullFuture()
            inv.state = "first_pull"
            inv.timer = f"h{n}:pull"
            out.append(self.set_timer(inv.timer, now + self.config.rpc_stream_consume_timeout))
            return out
        return out + self._drive(now, inv)

    def _drive(self, now: Time, inv: Invocation, value: Any = None,
               exc: BaseException | None = None) -> list[Effect]:
        """Run the handler until it waits for something, returns or throws."""
        out: list[Effect] = []
        inv.state = "running"
        while True:
            try:
                cmd = inv.gen.throw(exc) if exc is not None else inv.gen.send(value)
            except StopIteration as stop:
                return out + self._complete(now, inv, stop.value)
            except (HandlerError, Aborted) as error:
                return out + self._failed(now, inv, error)
            value, exc = None, None
            match cmd:
                case Sleep(duration=duration):
                    inv.state = "sleep"
                    inv.timer = f"h{inv.n}:sleep"
                    out.append(self.set_timer(inv.timer, now + duration))
                    return out
                case Read(index=index, size=size):
                    status, got, effects = self._read_upload(now, inv, index, size)
                    out += effects
                    if status == "wait":
                        inv.state = "read"
                        inv.read = (index, size)
                        return out
                    if status == "error":
                        exc = HandlerError("StreamError", got, plain=True)
                    else:
                        value = got
                case CreateBlob(source=source, data=data):
                    value, effects = self._create_download(now, inv, source, data)
                    out += effects
                case Chunk(value=chunk):
                    if inv.aborted:
                        return out + self._stream_aborted(now, inv)
                    out.append(Send(inv.conn, p.RpcStreamChunk(inv.call_id, chunk)))
                    inv.chunks += 1
                    if self.config.mutant("chunk_sent_twice") and inv.chunks % 3 == 0:
                        out.append(Send(inv.conn, p.RpcStreamChunk(inv.call_id, chunk)))
                    fut = self.streams.get(inv.key)
                    if fut is not None and fut.resolved:
                        continue  # the stale future of a first-pull timeout: no backpressure
                    self.streams[inv.key] = PullFuture()
                    inv.state = "pull"
                    if self.fixed("stream_pull_timeout_aborts"):
                        inv.timer = f"h{inv.n}:pull"
                        out.append(self.set_timer(inv.timer,
                                                  now + self.config.rpc_stream_consume_timeout))
                    return out
                case _:
                    raise TypeError(f"handler {inv.procedure} yielded {cmd!r}")

    def _stream_aborted(self, now: Time, inv: Invocation, reason: str = "") -> list[Effect]:
        inv.gen.close()  # for-await calls return(): the handler's finally runs
        return [Note("handler.finally", {"op": inv.op}),
                Send(inv.conn, p.RpcStreamAbort(inv.call_id, reason)),
                *self._dispose(now, inv, "aborted")]

    def _complete(self, now: Time, inv: Invocation, result: Any) -> list[Effect]:
        out: list[Effect] = []
        if inv.stream:
            out += [Note("handler.finally", {"op": inv.op}),
                    Send(inv.conn, p.RpcStreamEnd(inv.call_id))]
        else:
            out += [Note("handler.returned", {"op": inv.op, "value": result}),
                    Send(inv.conn, p.RpcResponse(inv.call_id, None, result, tuple(inv.created)))]
        return out + self._dispose(now, inv, "returned")

    def _failed(self, now: Time, inv: Invocation, error: BaseException) -> list[Effect]:
        if isinstance(error, HandlerError):
            info = error.info()
        else:
            info = p.ErrorInfo(p.INTERNAL_SERVER_ERROR, "Internal Server Error")
        if inv.stream:
            return [Note("handler.finally", {"op": inv.op}),
                    Send(inv.conn, p.RpcStreamAbort(inv.call_id)),
                    *self._dispose(now, inv, "failed")]
        return [Note("handler.returned", {"op": inv.op, "error": info.code}),
                Send(inv.conn, p.RpcResponse(inv.call_id, info)),
                *self._dispose(now, inv, "failed")]

    def _dispose(self, now: Time, inv: Invocation, outcome: str) -> list[Effect]:
        inv.state = "done"
        out: list[Effect] = []
        if inv.timer is not None and self.timer_armed(inv.timer):
            out.append(self.cancel_timer(inv.timer))
        for sink in inv.sinks:
            if not sink.consumed and self.client_streams.get((sink.conn, sink.stream_id)) is sink:
                out += self._destroy_upload(now, sink, "Stream is not consumed by a user")
        keep = self.config.mutant("gateway_keeps_aborted_rpc") and inv.aborted
        if not keep:
            self.rpcs.pop(inv.key, None)  # by key: a newer call with this id loses its entry
        self.streams.pop(inv.key, None)  # releasePull
        self.handlers.pop(inv.n, None)
        out.append(Note("handler.done", {"op": inv.op, "outcome": outcome}))
        return out

    def _on_abort(self, now: Time, key: Key) -> list[Effect]:
        inv = self.rpcs.get(key)
        if inv is None:
            return [Note("abort.unknown", {"conn": key[0], "call_id": key[1]})]
        out: list[Effect] = [Note("rpc.aborted", {"op": inv.op})]
        return out + self._abort_invocation(now, inv, delete=True)

    def _abort_invocation(self, now: Time, inv: Invocation, delete: bool) -> list[Effect]:
        inv.aborted = True
        if delete and not self.config.mutant("gateway_keeps_aborted_rpc"):
            self.rpcs.pop(inv.key, None)
        out: list[Effect] = []
        if inv.state in ("first_pull", "pull"):
            # releasePull: the wait returns; the first wait also sees the signal.
            self.streams.pop(inv.key, None)
            if inv.timer is not None and self.timer_armed(inv.timer):
                out.append(self.cancel_timer(inv.timer))
            if inv.state == "first_pull":
                return out + self._stream_aborted(now, inv)
            return out + self._drive(now, inv)
        if inv.state == "sleep" and inv.abortable:
            if inv.timer is not None and self.timer_armed(inv.timer):
                out.append(self.cancel_timer(inv.timer))
            return out + self._drive(now, inv, exc=Aborted())
        return out

    def _on_pull(self, now: Time, key: Key) -> list[Effect]:
        fut = self.streams.get(key)
        if fut is None:
            return [Note("pull.dropped", {"conn": key[0], "call_id": key[1]})]
        del self.streams[key]
        inv = self.rpcs.get(key)
        if fut.resolved or inv is None or inv.state not in ("first_pull", "pull"):
            return []
        out: list[Effect] = []
        if inv.timer is not None and self.timer_armed(inv.timer):
            out.append(self.cancel_timer(inv.timer))
        return out + self._drive(now, inv)

    # ------------------------------------------------------------------ connection
    def _close_connection(self, now: Time, conn: str) -> list[Effect]:
        out: list[Effect] = [Note("gateway.closing", {"conn": conn})]
        if conn in self.heartbeats:
            del self.heartbeats[conn]
            if self.timer_armed(f"hb:{conn}"):
                out.append(self.cancel_timer(f"hb:{conn}"))
        for key, inv in list(self.rpcs.items()):
            if key[0] == conn:
                out += self._abort_invocation(now, inv, delete=True)
        for key in [k for k in self.streams if k[0] == conn]:
            self.streams.pop(key, None)
        for key, sink in list(self.client_streams.items()):
            if key[0] == conn:
                out += self._destroy_upload(now, sink, "Connection closed")
        for key, src in list(self.server_streams.items()):
            if key[0] == conn:
                out += self._destroy_download(src, "Connection closed")
        self.connections.pop(conn, None)
        self.stream_ids.pop(conn, None)
        return [*out, Note("gateway.closed", {"conn": conn})]

    # ------------------------------------------------------------------ uploads
    def _forget_upload(self, sink: UploadSink) -> list[Effect]:
        key = (sink.conn, sink.stream_id)
        if self.client_streams.get(key) is not sink:
            return []
        del self.client_streams[key]
        for index, k in ((self.client_call_streams, (sink.conn, sink.call_id)),
                         (self.connection_client_streams, sink.conn)):
            ids = index.get(k)  # type: ignore[call-overload]
            if ids is not None:
                ids.pop(sink.stream_id, None)
                if not ids:
                    del index[k]  # type: ignore[arg-type]
        out: list[Effect] = []
        for name in ("consume", "pull"):
            if self.timer_armed(f"u{sink.n}:{name}"):
                out.append(self.cancel_timer(f"u{sink.n}:{name}"))
        return out

    def _destroy_upload(self, now: Time, sink: UploadSink, reason: str) -> list[Effect]:
        sink.destroyed = reason
        out = self._forget_upload(sink)
        out.append(Send(sink.conn, p.GatewayClientStreamAbort(sink.stream_id)))
        out.append(Note("upload.destroyed", {"conn": sink.conn, "stream_id": sink.stream_id,
                                             "reason": reason}))
        return out + self._wake_reader(now, sink)

    def _wake_reader(self, now: Time, sink: UploadSink) -> list[Effect]:
        for inv in list(self.handlers.values()):
            if inv.state == "read" and inv.read is not None and \
                    inv.sinks[inv.read[0]] is sink:
                index, size = inv.read
                inv.read = None
                status, got, effects = self._read_upload(now, inv, index, size)
                if status == "wait":
                    inv.read = (index, size)
                    return effects
                if status == "error":
                    return effects + self._drive(now, inv, exc=HandlerError("StreamError", got,
                                                                             plain=True))
                return effects + self._drive(now, inv, value=got)
        return []

    def _read_upload(self, now: Time, inv: Invocation, index: int, size: int
                     ) -> tuple[str, Any, list[Effect]]:
        if index >= len(inv.sinks):
            return "data", b"", []
        sink = inv.sinks[index]
        out: list[Effect] = []
        if not sink.consumed:
            sink.consumed = True
            ids = self.client_call_streams.get((sink.conn, sink.call_id))
            if ids is not None:
                ids.pop(sink.stream_id, None)
                if not ids:
                    del self.client_call_streams[(sink.conn, sink.call_id)]
            out.append(Note("upload.consumed", {"op": inv.op, "stream_id": sink.stream_id}))
        if sink.buffer:
            data = bytes(sink.buffer[:size])
            del sink.buffer[:size]
            return "data", data, out + self._maybe_pull(sink)
        if sink.destroyed is not None:
            return "error", sink.destroyed, out
        if sink.ended:
            return "data", b"", out
        return "wait", None, out + self._maybe_pull(sink)

    def _maybe_pull(self, sink: UploadSink) -> list[Effect]:
        if (sink.pulling or sink.ended or sink.destroyed is not None or not sink.consumed
                or len(sink.buffer) >= self.config.upload_high_water):
            return []
        sink.pulling = True
        return [Send(sink.conn, p.ClientStreamPull(sink.stream_id, self.config.upload_pull_size))]

    def _on_upload_push(self, now: Time, key: Key, data: bytes) -> list[Effect]:
        sink = self.client_streams.get(key)
        if sink is None:
            return []
        out: list[Effect] = []
        sink.pulling = False
        sink.buffer += data
        sink.received += len(data)
        if self.timer_armed(f"u{sink.n}:consume"):
            out.append(self.cancel_timer(f"u{sink.n}:consume"))
        out.append(self.set_timer(f"u{sink.n}:pull", now + self.config.blob_pull_timeout))
        return out + self._wake_reader(now, sink) + self._maybe_pull(sink)

    def _on_upload_end(self, now: Time, key: Key) -> list[Effect]:
        sink = self.client_streams.get(key)
        if sink is None:
            return []
        sink.ended = True
        sink.pulling = False
        return self._forget_upload(sink) + self._wake_reader(now, sink)

    # ------------------------------------------------------------------ downloads
    def _create_download(self, now: Time, inv: Invocation, source: p.BlobSource,
                         data: bytes | None) -> tuple[str, list[Effect]]:
        content = data if data is not None else source.content()
        if self.config.mutant("download_ids_restart"):
            sid = inv.local_ids
            inv.local_ids += 1
        else:
            counter = self.stream_ids.get(inv.conn)
            if counter is None:  # the connection is gone: the real code would throw
                counter = IdCounter(self.config.first_download_id)
            guard = (lambda i: (inv.conn, i) in self.server_streams) if self.fixed(
                "id_in_use_guard") else None
            sid = counter.next(guard)
        src = DownloadSource(inv.conn, sid, inv.call_id, self._next_n(), content, source)
        self.server_streams[(inv.conn, sid)] = src
        self.server_call_streams.setdefault(inv.key, {})[sid] = None
        self.connection_server_streams.setdefault(inv.conn, {})[sid] = None
        inv.created.append(p.BlobHeader(sid, len(content), source.type, source.filename))
        out: list[Effect] = [
            Note("download.created", {"op": inv.op, "conn": inv.conn, "stream_id": sid,
                                      "bytes": len(content), "digest": p.digest(content)}),
            self.set_timer(f"d{src.n}:finish", now + self.config.blob_finish_timeout),
            self.set_timer(f"d{src.n}:consume", now + self.config.blob_consume_timeout),
        ]
        return f"%neemata:stream:%\f{sid}", out

    def _forget_download(self, src: DownloadSource) -> list[Effect]:
        key = (src.conn, src.stream_id)
        src.done = True
        out: list[Effect] = []
        for name in ("finish", "consume", "pull", "source"):
            if self.timer_armed(f"d{src.n}:{name}"):
                out.append(self.cancel_timer(f"d{src.n}:{name}"))
        if self.server_streams.get(key) is not src:
            return out
        del self.server_streams[key]
        for index, k in ((self.server_call_streams, (src.conn, src.call_id)),
                         (self.connection_server_streams, src.conn)):
            ids = index.get(k)  # type: ignore[call-overload]
            if ids is not None:
                ids.pop(src.stream_id, None)
                if not ids:
                    del index[k]  # type: ignore[arg-type]
        out.append(Note("download.released", {"conn": src.conn, "stream_id": src.stream_id}))
        return out

    def _destroy_download(self, src: DownloadSource, reason: str) -> list[Effect]:
        out = self._forget_download(src)
        return [*out, Send(src.conn, p.GatewayServerStreamAbort(src.stream_id, reason))]

    def _on_download_pull(self, now: Time, key: Key, size: int) -> list[Effect]:
        src = self.server_streams.get(key)
        if src is None:
            return []
        out: list[Effect] = []
        if self.timer_armed(f"d{src.n}:consume"):
            out.append(self.cancel_timer(f"d{src.n}:consume"))
        out.append(self.set_timer(f"d{src.n}:pull", now + self.config.blob_pull_timeout))
        if self.fixed("download_credits"):
            src.credit += size
        elif src.flowing:
            return out  # later pulls only restart the timer
        src.flowing = True
        return out + self._produce(now, src)

    def _produce(self, now: Time, src: DownloadSource) -> list[Effect]:
        """Push what the source has, as far as the credit allows (``download_credits``)."""
        out: list[Effect] = []
        credits = self.fixed("download_credits")
        while not src.done and not src.producing:
            if src.offset >= len(src.data):
                out.append(Send(src.conn, p.ServerStreamEnd(src.stream_id)))
                return out + self._forget_download(src)
            if credits and src.credit <= 0:
                return out
            if src.source.delay and not src.ready:
                src.producing = True
                out.append(self.set_timer(f"d{src.n}:source", now + src.source.delay))
                return out
            src.ready = False
            size = min(src.source.chunk, len(src.data) - src.offset)
            if credits:
                size = min(size, src.credit)
            err = src.source.error_at
            if err is not None and src.offset + size > err:
                out += self._forget_download(src)
                out.append(Send(src.conn, p.GatewayServerStreamAbort(src.stream_id,
                                                                     "source error")))
                return out
            out.append(Send(src.conn, p.ServerStreamPush(
                src.stream_id, src.data[src.offset:src.offset + size])))
            src.offset += size
            if credits:
                src.credit -= size
        return out

    # ------------------------------------------------------------------ timers
    def _on_timer(self, now: Time, key: str) -> list[Effect]:
        if key.startswith("hb:"):
            return self._heartbeat(now, key[3:])
        name, _, what = key.partition(":")
        n = int(name[1:])
        if name[0] == "h":
            inv = self.handlers.get(n)
            if inv is None:
                return []
            inv.timer = None
            if what == "sleep":
                return self._drive(now, inv)
            if inv.state == "first_pull" and not self.fixed("stream_pull_timeout_aborts"):
                # The first-pull timeout resolves the future and leaves it in place.
                fut = self.streams.get(inv.key)
                if fut is not None:
                    fut.resolved = True
                return [Note("stream.consume_timeout", {"op": inv.op}), *self._drive(now, inv)]
            self.streams.pop(inv.key, None)
            inv.aborted = True
            return [Note("stream.consume_timeout", {"op": inv.op}),
                    *self._stream_aborted(now, inv, "Consume timeout")]
        if name[0] == "u":
            sink = next((s for s in self.client_streams.values() if s.n == n), None)
            if sink is None:
                return []
            return self._destroy_upload(now, sink, f"{what.capitalize()} timeout")
        src = next((s for s in self.server_streams.values() if s.n == n), None)
        if src is None:
            return []
        if what == "source":
            src.producing = False
            src.ready = True
            return self._produce(now, src)
        return self._destroy_download(src, f"{what.capitalize()} timeout")

    def _heartbeat(self, now: Time, conn: str) -> list[Effect]:
        if conn not in self.heartbeats:
            return []
        if self.heartbeats[conn] is not None:
            return [CloseConnection(conn, 1001, "heartbeat_timeout"),
                    *self._close_connection(now, conn)]
        self._n += 1
        self.heartbeats[conn] = self._n
        return [Send(conn, p.Ping(self._n)),
                self.set_timer(f"hb:{conn}", now + self.config.heartbeat_timeout)]

    def __repr__(self) -> str:
        return f"NeemataGateway({self.address!r}, connections={len(self.connections)})"


__all__ = ["DownloadSource", "GatewayStatistics", "Invocation", "NeemataGateway", "PullFuture",
           "UploadSink"]
