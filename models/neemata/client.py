"""The Neemata client core (``BaseClient`` + ``StaticClient``, spec section 2) as a sans-IO node.

Theory of operation
-------------------
The connection follows :data:`CONNECTION_TABLE`. ``disconnect()`` while disconnected stays
disconnected, and the real client throws a TypeError there (a null ``cab``); fix
``disconnected_guard`` ignores it. The pairs with no row are in
:data:`CONNECTION_UNREACHABLE`, each with why it cannot occur; one arriving raises
:class:`NotInTable`.

Every call owns one *combined abort signal*: the call's internal controller, its timeout
(``AbortSignal.timeout``), the user's signal and the connection's ``cab``. The signal is a
:class:`PendingCall` here, alive in ``signals`` until it has fired and its timeout timer is
gone (the JavaScript closure's lifetime). Two listeners hang on it: ``_call``'s, which
rejects a still-pending call and sends ``RpcAbort``, and, once an RPC stream exists, the
stream's, which errors the readable, forgets it and sends ``RpcAbort`` again. The real
client aborts the internal controller after every settled unary call and when a stream's
consumer leaves its loop, which is where the spurious and doubled ``RpcAbort`` frames of
spec 2.1/2.3 come from; fix ``single_abort_frame`` sends at most one, and only while the
server may still be working.

Calls settle through a future: the first resolve or reject wins. The application's side of
a stream (an RPC stream or a downloaded blob) is a :class:`Reader` that reads as the
:class:`~.protocol.Consumer` says: each read on an empty queue sends one pull.

Everything the real client does in later microtasks (``.finally(calls.delete)``, map
clean-ups after aborts) happens in the same ``handle`` here: at the same virtual instant.
"""

from __future__ import annotations

from collections import deque
from enum import Enum
from typing import Any

from attrs import define, field, frozen

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.errors import SimulationError
from gatewaysim.simulator.messages import (
    CloseConnection,
    Effect,
    Input,
    Note,
    OpenConnection,
    Send,
    Start,
    TimerFired,
    WsClosed,
    WsMessage,
    WsOpened,
    WsRejected,
)
from gatewaysim.simulator.node import HostContext, Node

from . import protocol as p
from .config import NeemataConfig
from .ids import IdCounter


class ConnState(Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"


class ConnEvent(Enum):
    CONNECT = "connect"
    OPENED = "opened"
    LOST = "lost"
    DISCONNECT = "disconnect"


D, CING, C = ConnState.DISCONNECTED, ConnState.CONNECTING, ConnState.CONNECTED
CONNECTION_TABLE: dict[tuple[ConnState, ConnEvent], ConnState] = {
    (D, ConnEvent.CONNECT): CING,
    (CING, ConnEvent.CONNECT): CING,  # returns the in-flight promise
    (C, ConnEvent.CONNECT): C,  # resolves at once
    (CING, ConnEvent.OPENED): C,
    (CING, ConnEvent.LOST): D,  # onDisconnect('connect_error')
    (C, ConnEvent.LOST): D,  # onDisconnect('server')
    (CING, ConnEvent.DISCONNECT): D,
    (C, ConnEvent.DISCONNECT): D,
    (D, ConnEvent.DISCONNECT): D,  # a TypeError (null cab); disconnected_guard: ignored
}

CONNECTION_UNREACHABLE: dict[tuple[ConnState, ConnEvent], str] = {
    (D, ConnEvent.OPENED):
        "while disconnected the client's socket is none, closed by disconnect() (an open "
        "still on its way is dropped by the network) or already reported closed",
    (C, ConnEvent.OPENED):
        "the network reports a socket's open once, and that open made the client connected",
    (D, ConnEvent.LOST):
        "on_input passes a close or rejection to the table only while not disconnected: "
        "the socket's close after disconnect() is expected and already handled",
}
"""The pairs with no row on purpose: (state, event) -> why the client never meets it."""


class NotInTable(SimulationError):
    """A (state, event) pair the connection table does not have."""


def transition(state: ConnState, event: ConnEvent) -> ConnState:
    try:
        return CONNECTION_TABLE[(state, event)]
    except KeyError:
        raise NotInTable(f"{event.value} while {state.value}") from None


@define(repr=False)
class Reader:
    """The application reading one stream: an RPC stream (``kind="stream"``) or a blob."""

    op: str
    kind: str
    ident: int
    consumer: p.Consumer
    queue: deque = field(factory=deque)
    attached: bool = False
    waiting: bool = False  # a read is pending on an empty queue (its pull was sent)
    busy: bool = False  # processing the last chunk (read_delay)
    ended: bool = False
    failed: str | None = None
    done: bool = False
    got: int = 0
    data: bytearray = field(factory=bytearray)
    pulls: int = 0
    call: PendingCall | None = None  # whose signal its onDone aborts (RPC streams)

    def __repr__(self) -> str:
        return f"Reader({self.op!r}, {self.kind}, id={self.ident}, got={self.got})"


@define(repr=False)
class PendingCall:
    """A call's future and its combined abort signal (see the module docstring)."""

    op: str
    call_id: int
    procedure: str
    stream: bool
    consumer: p.Consumer
    epoch: int
    timer: str | None = None
    settled: bool = False
    aborted: bool = False
    cause: str = ""
    listener: bool = True  # _call's once-listener is attached
    reader: Reader | None = None  # the RPC stream, once established
    download: Reader | None = None  # the first blob of the response, when read
    abort_frames: int = 0
    server_done: bool = False
    detached: bool = False  # call_signal_lifecycle: its listeners left the cab

    def __repr__(self) -> str:
        return f"PendingCall({self.op!r}, id={self.call_id})"


@define(repr=False)
class UploadSource:
    """``ProtocolClientBlobStream``: answers the gateway's pulls from a blob's source."""

    stream_id: int
    op: str
    data: bytes
    source: p.BlobSource
    offset: int = 0
    pending: int | None = None  # the size of a pull being read from a slow source

    def __repr__(self) -> str:
        return f"UploadSource({self.stream_id}, {self.offset}/{len(self.data)})"


@frozen
class ClientStatistics:
    """The client's internal maps and counters (spec section 2), as sizes."""

    state: str
    """``connected``, ``connecting`` or ``disconnected``."""
    calls: int
    """``calls``: callId -> pending future (``TestClient.pendingCallsCount``)."""
    rpc_streams: int
    """``rpcStreams``: established RPC streams (``activeRpcStreamsCount``)."""
    client_streams: int
    """``clientStreams``: uploads answering pulls (``activeClientStreamsCount``)."""
    server_streams: int
    """``serverStreams``: downloads being received (``activeServerStreamsCount``)."""
    pending_pings: int
    """``pendingPings`` (always 0: the heartbeat plugin is not modelled)."""
    signals: int
    """Combined abort signals still reachable: held by a pending call, a live stream, an
    armed timeout timer (``AbortSignal.timeout`` outlives its call at f77b193b) or, until it
    aborts, the connection's ``cab``."""
    reserved_ids: int
    """CallIds sent whose final frame has not come back (only with ``id_in_use_guard``)."""
    timers: int
    """Live timers (call timeouts, consumer delays, slow sources)."""
    next_call_id: int
    next_stream_id: int

    @property
    def is_clean(self) -> bool:
        """``TestClient.isClean``: the four counts are 0."""
        return not (self.calls or self.rpc_streams or self.client_streams or self.server_streams)


class NeemataClient(Node):
    """One ``StaticClient`` talking to ``gateway`` over the simulated transport."""

    def __init__(self, ctx: HostContext, config: NeemataConfig, gateway: str = "gateway",
                 connect_on_start: bool = True) -> None:
        super().__init__(ctx)
        self.config = config
        self.gateway = gateway
        self.connect_on_start = connect_on_start
        self.state = ConnState.DISCONNECTED
        self.conn: str | None = None
        self.ctx_alive = False  # messageContext is not null
        self.epoch = 0  # which cab a call belongs to
        self.last_disconnect_reason = ""
        self.calls: dict[int, PendingCall] = {}
        self.rpc_streams: dict[int, Reader] = {}
        self.client_streams: dict[int, UploadSource] = {}
        self.server_streams: dict[int, Reader] = {}
        self.signals: dict[str, PendingCall] = {}
        self.reserved: dict[int, None] = {}  # id_in_use_guard: sent, not finished by the server
        self._prune_at = 16
        self.call_ids = IdCounter(config.first_call_id)
        self.stream_ids = IdCounter(config.first_stream_id)
        self._busy: dict[str, Reader] = {}  # read-delay timer key -> the reader it resumes
        self._n_conn = 0
        self._n_timer = 0

    # ------------------------------------------------------------------ helpers
    def fixed(self, name: str) -> bool:
        return self.config.fixed(name)

    def _send(self, msg: p.ClientMessage) -> list[Effect]:
        if not self.ctx_alive or self.conn is None:
            return []
        return [Send(self.conn, msg)]

    def _timer_key(self, what: str) -> str:
        self._n_timer += 1
        return f"{what}#{self._n_timer}"

    def statistics(self) -> ClientStatistics:  # type: ignore[override]
        self._prune_signals()
        return ClientStatistics(
            self.state.value, len(self.calls), len(self.rpc_streams), len(self.client_streams),
            len(self.server_streams), 0, len(self.signals), len(self.reserved),
            len(self._timers), self.call_ids.value, self.stream_ids.value)

    # ------------------------------------------------------------------ inputs
    def handle(self, now: Time, inp: Input) -> list[Effect]:
        effects = super().handle(now, inp)
        if len(self.signals) >= self._prune_at:
            self._prune_signals()
        return effects

    def _reachable(self, pc: PendingCall) -> bool:
        """Whether anything still holds ``pc``'s signal: an armed timer, a map entry, or the
        connection's cab (``anyAbortSignal`` leaves its listener on every source until the
        combined signal aborts)."""
        if pc.timer is not None and self.timer_armed(pc.timer):
            return True
        if not pc.aborted and not pc.detached and pc.epoch == self.epoch and self.ctx_alive:
            return True
        if self.calls.get(pc.call_id) is pc:
            return True
        r = pc.reader
        if r is not None and (r.busy or self.rpc_streams.get(pc.call_id) is r):
            return True
        d = pc.download
        return d is not None and (d.busy or self.server_streams.get(d.ident) is d)

    def _prune_signals(self) -> None:
        """Forget signals nothing can reach any more (the garbage collector's work).

        Run when the statistics are read, and otherwise only when the dict has doubled
        since the last run, so that keeping it costs O(1) per input however many timeout
        timers are alive.
        """
        if self.signals:
            for op in [op for op, pc in self.signals.items() if not self._reachable(pc)]:
                del self.signals[op]
        self._prune_at = 2 * len(self.signals) + 16

    def on_input(self, now: Time, inp: Input) -> list[Effect]:
        match inp:
            case WsMessage(conn=conn, data=msg):
                if conn != self.conn or not self.ctx_alive:
                    return []
                return self._on_message(now, msg)
            case TimerFired(key=key):
                return self._on_timer(now, key)
            case p.Call():
                return self._call(now, inp)
            case p.AbortOp(op=op, download=download):
                return self._user_abort(op, download)
            case WsOpened(conn=conn) if conn == self.conn:
                self.state = transition(self.state, ConnEvent.OPENED)
                self.last_disconnect_reason = "server"
                return [Note("client.connected", {"conn": conn})]
            case WsClosed(conn=conn) | WsRejected(conn=conn) if (
                    conn == self.conn and self.state is not ConnState.DISCONNECTED):
                reason = "connect_error" if self.state is ConnState.CONNECTING else "server"
                self.state = transition(self.state, ConnEvent.LOST)
                return self._on_disconnect(reason)
            case p.Connect():
                return self._connect()
            case WsMessage():
                return []
            case p.Disconnect():
                return self._disconnect()
            case p.SkipIds(to=to):
                self.call_ids.value = to
                self.stream_ids.value = to
                return [Note("client.ids_skipped", {"to": to})]
            case Start():
                return self._connect() if self.connect_on_start else []
        return []

    # ------------------------------------------------------------------ connection
    def _connect(self) -> list[Effect]:
        before = self.state
        self.state = transition(self.state, ConnEvent.CONNECT)
        if before is not ConnState.DISCONNECTED:
            return []
        self._n_conn += 1
        self.epoch += 1
        self.conn = f"{self.address}:ws{self._n_conn}"
        self.ctx_alive = True
        return [Note("client.connecting", {"conn": self.conn}),
                OpenConnection(self.conn, self.gateway)]

    def _disconnect(self) -> list[Effect]:
        before = self.state
        self.state = transition(self.state, ConnEvent.DISCONNECT)
        if before is ConnState.DISCONNECTED:
            if self.fixed("disconnected_guard"):
                return [Note("client.disconnect_ignored")]
            return [Note("user.error", {"action": "disconnect", "error": p.TYPE_ERROR,
                                        "message": "Cannot read properties of null "
                                                   "(reading 'abort')"})]
        self.last_disconnect_reason = "client"
        out: list[Effect] = []
        # cab.abort() first: pending calls reject and send RpcAbort while the context lives.
        out += self._abort_cab("disconnect")
        if self.conn is not None:
            out.append(CloseConnection(self.conn, 1000, "client"))
        out += self._on_disconnect("client")
        return out

    def _abort_cab(self, cause: str) -> list[Effect]:
        out: list[Effect] = []
        for pc in list(self.signals.values()):
            if pc.epoch == self.epoch and not pc.aborted and not pc.detached:
                out += self._abort_signal(pc, cause, "Disconnected")
        return out

    def _on_disconnect(self, reason: str) -> list[Effect]:
        self.ctx_alive = False
        self.reserved.clear()  # the server forgets this connection's calls
        out: list[Effect] = []
        for pc in list(self.calls.values()):
            out += self._settle(pc, error=p.ErrorInfo(p.CONNECTION_ERROR, "Disconnected",
                                                      {"reason": reason}))
        self.calls.clear()
        out += self._abort_cab("disconnect")
        out.append(Note("client.disconnected", {"reason": reason, "conn": self.conn}))
        for r in list(self.rpc_streams.values()):
            out += self._fail_reader(r, "Disconnected")
        self.rpc_streams.clear()
        for sid, src in list(self.client_streams.items()):
            out += self._drop_upload(sid, src, "Disconnected")
        for sid, r in list(self.server_streams.items()):
            out += self._fail_reader(r, "Disconnected")
            out.append(Note("download.released", {"stream_id": sid}))
        self.server_streams.clear()
        return out

    # ------------------------------------------------------------------ calls
    def _in_use(self, call_id: int) -> bool:
        return call_id in self.calls or call_id in self.rpc_streams or call_id in self.reserved

    def _call(self, now: Time, inp: p.Call) -> list[Effect]:
        timeout = self.config.client_timeout if inp.timeout is None else inp.timeout
        guard = self._in_use if self.fixed("id_in_use_guard") else None
        call_id = self.call_ids.next(guard)
        pc = PendingCall(inp.op, call_id, inp.procedure, inp.stream, inp.consumer, self.epoch)
        out: list[Effect] = [Note("call.issued", {
            "op": inp.op, "call_id": call_id, "procedure": inp.procedure,
            "stream": inp.stream, "conn": self.conn if self.ctx_alive else None})]
        self.calls[call_id] = pc
        if inp.pre_aborted:
            del self.calls[call_id]
            pc.aborted = pc.settled = True
            out += self._note_settled(pc, error=p.ErrorInfo(
                p.CLIENT_REQUEST_ERROR, self._abort_message("user", "pre-aborted")))
            return out
        self.signals[inp.op] = pc
        if timeout:
            pc.timer = self._timer_key(f"timeout:{inp.op}")
            out.append(self.set_timer(pc.timer, now + timeout))
        if self.state is not ConnState.CONNECTED:
            if self.fixed("disconnected_guard"):
                error = p.ErrorInfo(p.CONNECTION_ERROR, "Not connected")
            elif not self.ctx_alive:
                error = p.ErrorInfo(p.TYPE_ERROR, "Cannot read properties of null "
                                                  "(reading 'encodeMessage')")
            else:
                error = p.ErrorInfo(p.TRANSPORT_ERROR, "Transport is not connected")
            out += self._settle(pc, error=error)
            return out
        headers = []
        for src in inp.uploads:
            if src.length <= 0:
                out += self._settle(pc, error=p.ErrorInfo("Error", "Blob size is invalid"))
                return out
            sguard = (lambda i: i in self.client_streams) if self.fixed("id_in_use_guard") \
                else None
            sid = self.stream_ids.next(sguard)
            self.client_streams[sid] = UploadSource(sid, inp.op, src.content(), src)
            headers.append(p.BlobHeader(sid, src.length, src.type, src.filename))
            out.append(Note("upload.registered", {"op": inp.op, "stream_id": sid}))
        out += self._send(p.Rpc(call_id, inp.procedure, {"op": inp.op, **inp.payload},
                                tuple(headers)))
        if self.fixed("id_in_use_guard"):
            self.reserved[call_id] = None
        return out

    def _abort_message(self, cause: str, reason: str) -> str:
        if not self.fixed("distinct_abort_reasons"):
            return p.GENERIC_ABORT
        if cause == "timeout":
            return "TimeoutError: The operation timed out"
        return f"AbortError: {reason or 'This operation was aborted'}"

    def _note_settled(self, pc: PendingCall, value: Any = None,
                      error: p.ErrorInfo | None = None) -> list[Effect]:
        data: dict[str, Any] = {"op": pc.op, "call_id": pc.call_id, "ok": error is None}
        if error is None:
            data["value"] = value
        else:
            data["error"] = {"code": error.code, "message": error.message}
        return [Note("call.settled", data)]

    def _settle(self, pc: PendingCall, value: Any = None,
                error: p.ErrorInfo | None = None, *, late_timeout: bool = False) -> list[Effect]:
        """Resolve or reject ``pc``'s future: the first settlement wins, later ones are no-ops."""
        if pc.settled and not late_timeout:
            return []
        first = not pc.settled
        pc.settled = True
        out = self._note_settled(pc, value, error)
        if not first:
            return out
        if self.fixed("single_abort_frame"):
            pc.listener = False
        if self.fixed("call_signal_lifecycle") and not self.config.mutant("late_timeout_settles"):
            out += self._clear_timeout(pc)
        if not pc.stream or error is not None:
            # Unary value or any rejection: controller.abort(), then .finally(calls.delete).
            out += self._abort_signal(pc, "settled", "")
            if self.calls.get(pc.call_id) is not None and not (
                    self.config.mutant("calls_kept_after_response") and error is None):
                del self.calls[pc.call_id]
        return out

    def _clear_timeout(self, pc: PendingCall) -> list[Effect]:
        out: list[Effect] = []
        if pc.timer is not None and self.timer_armed(pc.timer):
            out.append(self.cancel_timer(pc.timer))
        pc.timer = None
        return out

    def _abort_signal(self, pc: PendingCall, cause: str, reason: str) -> list[Effect]:
        """The combined signal aborts: run its listeners (once)."""
        if pc.aborted:
            return []
        pc.aborted = True
        pc.cause = cause
        out: list[Effect] = []
        if pc.listener:
            pc.listener = False
            if not pc.settled:
                out += self._settle(pc, error=p.ErrorInfo(
                    p.CLIENT_REQUEST_ERROR, self._abort_message(cause, reason)))
            out += self._rpc_abort(pc, "")
        r = pc.reader
        if r is not None:
            if not r.done:
                out += self._fail_reader(r, self._abort_message(cause, reason))
            if self.rpc_streams.get(pc.call_id) is r:
                del self.rpc_streams[pc.call_id]
                self.calls.pop(pc.call_id, None)
            out += self._rpc_abort(pc, reason or cause)
        return out

    def _rpc_abort(self, pc: PendingCall, reason: str) -> list[Effect]:
        if self.fixed("single_abort_frame") and (pc.abort_frames or pc.server_done):
            return []
        if not self.ctx_alive:
            return []
        pc.abort_frames += 1
        return self._send(p.RpcAbort(pc.call_id, reason))

    def _user_abort(self, op: str, download: bool) -> list[Effect]:
        pc = self.signals.get(op)
        if pc is None or not self._reachable(pc):
            return [Note("abort.ignored", {"op": op})]
        if download:
            r = pc.download
            if r is None or r.done:
                return [Note("abort.ignored", {"op": op})]
            return self._stop_download(r, "abort")
        if pc.aborted:
            return [Note("abort.ignored", {"op": op})]
        return [Note("abort.requested", {"op": op}), *self._abort_signal(pc, "user", "user abort")]

    # ------------------------------------------------------------------ messages
    def _on_message(self, now: Time, msg: Any) -> list[Effect]:
        match msg:
            case p.Ping(nonce=nonce):
                return self._send(p.Pong(nonce))
            case p.RpcResponse():
                return self._on_response(now, msg)
            case p.RpcStreamResponse(call_id=call_id):
                return self._on_stream_response(now, call_id)
            case p.RpcStreamChunk(call_id=call_id, chunk=chunk):
                r = self.rpc_streams.get(call_id)
                if r is None:
                    return [Note("chunk.ignored", {"call_id": call_id})]
                r.queue.append(chunk)
                return self._pump(now, r)
            case p.RpcStreamEnd(call_id=call_id) | p.RpcStreamAbort(call_id=call_id):
                return self._on_stream_finished(now, call_id, msg)
            case p.ClientStreamPull(stream_id=sid, size=size):
                return self._on_upload_pull(now, sid, size)
            case p.GatewayClientStreamAbort(stream_id=sid):
                src = self.client_streams.get(sid)
                if src is None:
                    return []
                return self._drop_upload(sid, src, "aborted by server")
            case p.ServerStreamPush(stream_id=sid, data=data):
                r = self.server_streams.get(sid)
                if r is None:
                    return []
                r.queue.append(data)
                return self._pump(now, r)
            case p.ServerStreamEnd(stream_id=sid):
                r = self.server_streams.pop(sid, None)
                if r is None:
                    return []
                r.ended = True
                return [Note("download.released", {"stream_id": sid}), *self._pump(now, r)]
            case p.GatewayServerStreamAbort(stream_id=sid, reason=reason):
                r = self.server_streams.pop(sid, None)
                if r is None:
                    return []
                return [Note("download.released", {"stream_id": sid}),
                        *self._fail_reader(r, reason or "aborted")]
        return []

    def _on_response(self, now: Time, msg: p.RpcResponse) -> list[Effect]:
        self.reserved.pop(msg.call_id, None)
        out: list[Effect] = []
        blobs: list[Reader] = []
        for header in msg.blobs:  # decoding registers the blob before the call lookup
            r = Reader("", "download", header.stream_id, p.Consumer(read=False))
            self.server_streams[header.stream_id] = r
            blobs.append(r)
        pc = self.calls.get(msg.call_id)
        if pc is None:
            return [*out, Note("response.dropped", {"call_id": msg.call_id, "frame": "RpcResponse",
                                                    "blobs": len(msg.blobs)})]
        pc.server_done = True
        if msg.error is not None:
            return out + self._settle(pc, error=msg.error)
        value = msg.result
        out += self._settle(pc, value)
        if blobs:
            r = blobs[0]
            r.op = pc.op
            r.consumer = pc.consumer
            pc.download = r
            out.append(Note("download.started", {"op": pc.op, "stream_id": r.ident,
                                                 "size": msg.blobs[0].size}))
            out += self._attach(now, r)
        return out

    def _on_stream_response(self, now: Time, call_id: int) -> list[Effect]:
        pc = self.calls.get(call_id)
        if pc is None:
            out: list[Effect] = [Note("response.dropped", {"call_id": call_id,
                                                           "frame": "RpcStreamResponse"})]
            if self.fixed("single_abort_frame"):
                return out  # the abort that removed the call already told the server
            return out + self._send(p.RpcAbort(call_id))
        r = Reader(pc.op, "stream", call_id, pc.consumer, call=pc)
        pc.reader = r
        self.rpc_streams[call_id] = r
        out = [Note("stream.opened", {"op": pc.op, "call_id": call_id})]
        out += self._settle(pc, "stream")
        self.calls.pop(call_id, None)
        if self.fixed("call_signal_lifecycle"):
            out += self._clear_timeout(pc)
        out += self._attach(now, r)
        return out

    def _on_stream_finished(self, now: Time, call_id: int, msg: Any) -> list[Effect]:
        self.reserved.pop(call_id, None)
        r = self.rpc_streams.pop(call_id, None)
        self.calls.pop(call_id, None)
        if r is None:
            return [Note("response.dropped", {"call_id": call_id, "frame": type(msg).__name__})]
        out: list[Effect] = []
        if r.call is not None:
            r.call.server_done = True
            if self.fixed("call_signal_lifecycle"):
                r.call.detached = True
        if isinstance(msg, p.RpcStreamEnd):
            r.ended = True
            return out + self._pump(now, r)
        return out + self._fail_reader(r, msg.reason or "stream aborted by server")

    # ------------------------------------------------------------------ readers
    def _attach(self, now: Time, r: Reader) -> list[Effect]:
        if not r.consumer.read:
            r.done = True
            return [self._reader_note(r, "ignored")]
        r.attached = True
        if r.consumer.start_after:
            r.busy = True
            key = self._timer_key(f"read:{r.op}")
            self._busy[key] = r
            return [self.set_timer(key, now + r.consumer.start_after)]
        return self._pump(now, r)

    def _reader_note(self, r: Reader, outcome: str, error: str = "") -> Note:
        data: dict[str, Any] = {"op": r.op, "outcome": outcome, "chunks": r.got}
        if r.kind == "download":
            data["bytes"] = len(r.data)
            data["digest"] = p.digest(bytes(r.data))
        if error:
            data["error"] = error
        return Note(f"{r.kind}.settled", data)

    def _pump(self, now: Time, r: Reader) -> list[Effect]:
        """Run the application's read loop as far as it goes without waiting."""
        out: list[Effect] = []
        while r.attached and not r.done and not r.busy:
            if r.failed is not None:
                out += self._finish_reader(r, "error", r.failed)
                break
            if r.queue:
                item = r.queue.popleft()
                r.waiting = False
                r.got += 1
                if r.kind == "download":
                    r.data += item
                    out.append(Note("download.chunk", {"op": r.op, "n": r.got,
                                                       "bytes": len(item)}))
                else:
                    out.append(Note("stream.chunk", {"op": r.op, "chunk": item}))
                c = r.consumer
                if c.stop_after is not None and r.got >= c.stop_after:
                    out += self._stop(r, c.stop)
                    break
                if c.read_delay:
                    r.busy = True
                    key = self._timer_key(f"read:{r.op}")
                    self._busy[key] = r
                    out.append(self.set_timer(key, now + c.read_delay))
                    break
                continue
            if r.ended:
                out += self._finish_reader(r, "end")
                break
            if not r.waiting:
                r.waiting = True
                r.pulls += 1
                if r.kind == "stream":
                    out += self._send(p.RpcPull(r.ident))
                else:
                    out += self._send(p.ServerStreamPull(r.ident,
                                                         self.config.download_pull_size))
            break
        return out

    def _finish_reader(self, r: Reader, outcome: str, error: str = "") -> list[Effect]:
        r.done = True
        out: list[Effect] = [self._reader_note(r, outcome, error)]
        if r.kind == "stream":
            out += self._on_done(r)
        return out

    def _on_done(self, r: Reader) -> list[Effect]:
        """``createAsyncIterable``'s onDone: the call's controller is aborted."""
        if r.call is None:
            return []
        return self._abort_signal(r.call, "done", "")

    def _fail_reader(self, r: Reader, error: str) -> list[Effect]:
        """The readable errors (writer.abort): a reading consumer's loop throws at its next
        read (now if it is waiting, after the chunk it is busy with otherwise)."""
        r.failed = error
        r.queue.clear()
        if r.attached and not r.done and not r.busy:
            return self._finish_reader(r, "error", error)
        return []

    def _stop(self, r: Reader, how: str) -> list[Effect]:
        if r.kind == "download":
            return self._stop_download(r, how)
        pc = r.call
        if how == "abandon":
            r.done = True
            return [self._reader_note(r, "abandoned")]
        if how == "abort" and pc is not None:
            r.done = True
            out: list[Effect] = [self._reader_note(r, "abort")]
            return out + self._abort_signal(pc, "user", "user abort")
        r.done = True
        return [self._reader_note(r, "break"), *self._on_done(r)]

    def _stop_download(self, r: Reader, how: str) -> list[Effect]:
        r.done = True
        out: list[Effect] = [self._reader_note(r, {"abort": "abort", "abandon": "abandoned"}
                                               .get(how, "break"))]
        cancels = how == "abort" or (how == "break" and self.fixed("download_break_cancels"))
        if cancels and self.server_streams.get(r.ident) is r:
            del self.server_streams[r.ident]
            out += self._send(p.ServerStreamAbort(r.ident, ""))
            out.append(Note("download.released", {"stream_id": r.ident}))
        return out

    # ------------------------------------------------------------------ uploads
    def _on_upload_pull(self, now: Time, sid: int, size: int) -> list[Effect]:
        src = self.client_streams.get(sid)
        if src is None:
            # core.ts: the lookup throws inside onMessage, an unhandled rejection.
            return [Note("error.escaped", {"where": "ClientStreamPull",
                                           "error": f"stream {sid} not found"})]
        if src.source.delay:
            src.pending = size
            chunks = -(-min(size, max(1, len(src.data) - src.offset)) // max(1, src.source.chunk))
            return [self.set_timer(f"src:{sid}:{src.op}", now + src.source.delay * chunks)]
        return self._answer_pull(sid, src, size)

    def _answer_pull(self, sid: int, src: UploadSource, size: int) -> list[Effect]:
        end = min(len(src.data), src.offset + size)
        err = src.source.error_at
        if err is not None and (end > err or src.offset >= err):
            del self.client_streams[sid]
            return [*self._send(p.ClientStreamAbort(sid, "source error")),
                    Note("upload.released", {"stream_id": sid, "why": "source error"})]
        if src.offset >= len(src.data):
            del self.client_streams[sid]
            return [*self._send(p.ClientStreamEnd(sid)),
                    Note("upload.released", {"stream_id": sid, "why": "end"})]
        data = src.data[src.offset:end]
        src.offset = end
        return self._send(p.ClientStreamPush(sid, data))

    def _drop_upload(self, sid: int, src: UploadSource, why: str) -> list[Effect]:
        self.client_streams.pop(sid, None)
        out: list[Effect] = [Note("upload.released", {"stream_id": sid, "why": why})]
        key = f"src:{sid}:{src.op}"
        if self.timer_armed(key):
            out.append(self.cancel_timer(key))
        return out

    # ------------------------------------------------------------------ timers
    def _on_timer(self, now: Time, key: str) -> list[Effect]:
        if key.startswith("timeout:"):
            op = key.split(":", 1)[1].rsplit("#", 1)[0]
            pc = self.signals.get(op)
            if pc is None or pc.timer != key:
                return []
            if pc.settled and self.config.mutant("late_timeout_settles"):
                return self._settle(pc, error=p.ErrorInfo(
                    p.CLIENT_REQUEST_ERROR, self._abort_message("timeout", "")), late_timeout=True)
            if pc.aborted:
                return []
            return [Note("call.timeout", {"op": op}), *self._abort_signal(pc, "timeout", "")]
        if key.startswith("read:"):
            r = self._busy.pop(key, None)
            if r is None:
                return []
            r.busy = False
            return self._pump(now, r)
        if key.startswith("src:"):
            _, sid_text, _op = key.split(":", 2)
            sid = int(sid_text)
            src = self.client_streams.get(sid)
            if src is None or src.pending is None:
                return []
            size, src.pending = src.pending, None
            return self._answer_pull(sid, src, size)
        return []

    def __repr__(self) -> str:
        return f"NeemataClient({self.address!r}, {self.state.value})"


__all__ = ["CONNECTION_TABLE", "CONNECTION_UNREACHABLE", "ClientStatistics", "ConnEvent",
           "ConnState", "NeemataClient", "NotInTable", "PendingCall", "Reader", "UploadSource",
           "transition"]
