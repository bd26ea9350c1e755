"""The Neemata pack's monitors: the promises of the seed's checklist and the wire's hygiene.

The library monitors (:mod:`gatewaysim.properties.monitors`) judge settlement, clean maps
and stream order; the rest are specific to this protocol and read the wire frames and the
client's and gateway's notes. Each fix flag of ``NeemataConfig`` has a monitor that the
faithful model violates and the fixed one keeps:

=======================================  ==============================================
monitor                                  fix flag (spec section 4 item)
=======================================  ==============================================
``neemata.abort_frames``                 ``single_abort_frame`` (7)
``neemata.stream_lifetime``              ``call_signal_lifecycle`` (8)
``neemata.rpc_stream_window``            ``stream_pull_timeout_aborts`` (3.3, 9)
``neemata.maps_empty``                   ``stream_pull_timeout_aborts`` and
                                         ``call_signal_lifecycle`` (2: an abandoned
                                         stream; a never-read stream's signal)
``neemata.download_window``              ``download_credits`` (9), and
                                         ``download_break_cancels`` (2)
``neemata.ids_unique``                   ``id_in_use_guard`` (6, 10)
``neemata.call_outcome``                 ``distinct_abort_reasons`` (11)
``neemata.graceful_when_disconnected``   ``disconnected_guard`` (13)
``neemata.connections``                  ``gateway_heartbeat`` (heartbeat off by default)
=======================================  ==============================================
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from gatewaysim.models.neemata import protocol as p
from gatewaysim.simulator.clock import format_time, s
from gatewaysim.simulator.trace import IN, OUT, TraceRecord

from ..monitor import Facts, Monitor
from ..monitors import InOrder, MapsEmpty, SettlesOnce, SettlesWithin, Sometimes

CLIENT = "client"
GATEWAY = "gateway"


def note(rec: TraceRecord, actor: str | None = None) -> tuple[str, dict[str, Any]] | None:
    """``(event, data)`` of a Note record (of ``actor``, if given)."""
    if rec.kind != OUT or rec.type != "Note" or (actor is not None and rec.actor != actor):
        return None
    return rec.data["event"], rec.data.get("data") or {}


def sent(rec: TraceRecord, actor: str) -> Any:
    """The wire message ``actor`` sends in this record, if it is a send."""
    if rec.kind == OUT and rec.type == "Send" and rec.actor == actor:
        return rec.data["data"]
    return None


def received(rec: TraceRecord, actor: str) -> Any:
    """The wire message that reaches ``actor`` in this record, if it is one."""
    if rec.kind == IN and rec.type == "WsMessage" and rec.actor == actor:
        return rec.data["data"]
    return None


# --------------------------------------------------------------------------- settlement
def _issued(rec: TraceRecord) -> Hashable | None:
    n = note(rec, CLIENT)
    if n is None:
        return None
    event, d = n
    if event == "call.issued":
        return ("call", d["op"])
    if event == "stream.opened":
        return ("stream", d["op"])
    if event == "download.started":
        return ("download", d["op"])
    return None


def _settled(rec: TraceRecord) -> Hashable | None:
    n = note(rec, CLIENT)
    if n is None:
        return None
    event, d = n
    if event == "call.settled":
        return ("call", d["op"])
    if event == "stream.settled":
        return ("stream", d["op"])
    if event == "download.settled":
        return ("download", d["op"])
    return None


SETTLES_ONCE = SettlesOnce(
    "neemata.settles_once",
    "every call, stream and download settles at most once, and only after it began",
    issued=_issued, settled=_settled,
    doc="A call's future settles once (first resolve or reject wins); a stream or a "
        "download ends once for its reader. A second settlement means a late response, a "
        "timeout and a disconnect all believed they owned the call.",
)

SETTLES = SettlesWithin(
    "neemata.settles",
    "every call, stream and download settles within 25 s of virtual time",
    issued=_issued, settled=_settled, bound=s(25),
    doc="The driver's calls carry timeouts of at most 10 s or none; handlers work at most "
        "8 s; blob timers are 5-10 s; a consumer reads a stream of at most 8 chunks of at "
        "most 1.5 s each. Everything a caller waits for therefore ends well inside 25 s: a "
        "timeout, a response, a disconnect or a blob timer ends it.",
)


# --------------------------------------------------------------------------- clean maps
MAPS_EMPTY = MapsEmpty(
    "neemata.maps_empty",
    "after every operation settles and the world is quiet, every client and gateway map "
    "(and every live timer and handler) is empty",
    maps=lambda stats: stats.maps(),
    doc="The seed's central demand (section 6): calls, rpcStreams, clientStreams, "
        "serverStreams on the client; rpcs, streams, the blob maps and their indexes on the "
        "gateway; plus the abort signals and timers still alive and the handlers still "
        "running. Connections are judged by neemata.connections.",
)


class Connections(Monitor):
    """The gateway holds exactly the connection the client has open, and one id counter."""

    def judge(self, facts: Facts) -> str | None:
        st = facts.statistics
        want = 1 if st.client.state == "connected" else 0
        if st.gateway.connections != want or st.gateway.stream_ids != want:
            return (f"client {st.client.state} but the gateway holds {st.gateway.connections} "
                    f"connection(s) and {st.gateway.stream_ids} id counter(s)")
        return None


CONNECTIONS = Connections(
    "neemata.connections",
    "after settling, the gateway holds one connection (and one download id counter) iff the "
    "client is connected", "liveness",
    doc="closeConnection removes a closed connection from ConnectionManager.connections and "
        "streamIds; a connection the client no longer has must be gone.",
)


# --------------------------------------------------------------------------- streams
def _chunk_sent(rec: TraceRecord) -> tuple[Hashable, int] | None:
    msg = sent(rec, GATEWAY)
    if isinstance(msg, p.RpcStreamChunk) and isinstance(msg.chunk, dict):
        return msg.chunk.get("op", ""), msg.chunk["n"]
    return None


def _chunk_read(rec: TraceRecord) -> tuple[Hashable, int] | None:
    n = note(rec, CLIENT)
    if n is not None and n[0] == "stream.chunk":
        chunk = n[1]["chunk"]
        return chunk.get("op", ""), chunk["n"]
    return None


STREAM_ORDER = InOrder(
    "neemata.stream_order",
    "an RPC stream's reader gets its chunks in the order the handler yielded them, none "
    "duplicated or invented",
    sent=_chunk_sent, delivered=_chunk_read,
    doc="One FIFO link per direction and one chunk per pull imply it; a chunk sent twice "
        "or read from another call's stream (a reused id) breaks it.",
)


class StreamComplete(Monitor):
    """A stream read to its end delivered every chunk its handler yielded, in order."""

    def reset(self) -> None:
        self.sent: dict[str, int] = {}
        self.read: dict[str, list[int]] = {}
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        if self.problem is not None:
            return
        chunk = _chunk_sent(record)
        if chunk is not None:
            op = str(chunk[0])
            self.sent[op] = self.sent.get(op, 0) + 1
            return
        chunk = _chunk_read(record)
        if chunk is not None:
            self.read.setdefault(str(chunk[0]), []).append(chunk[1])
            return
        n = note(record, CLIENT)
        if n is not None and n[0] == "stream.settled" and n[1].get("outcome") == "end":
            op = n[1]["op"]
            got = self.read.get(op, [])
            if got != list(range(self.sent.get(op, 0))):
                self.problem = (f"stream {op} ended for its reader at {format_time(record.t)} "
                                f"with chunks {got[:8]}, the handler sent "
                                f"{self.sent.get(op, 0)}")

    def judge(self, facts: Facts) -> str | None:
        return self.problem


STREAM_COMPLETE = StreamComplete(
    "neemata.stream_complete",
    "a stream its reader reads to the end delivered every chunk the handler yielded, none lost",
    "safety",
    doc="With stream_order (nothing duplicated, reordered or invented) this is the seed's "
        "'chunks in order, none lost or duplicated' for streams that complete; a stream cut "
        "short by its reader, a timeout or a disconnect may lose the chunk in flight.",
)


class StreamLifetime(Monitor):
    """An established RPC stream is not killed by the call's timeout."""

    def reset(self) -> None:
        self.open: set[str] = set()
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        n = note(record, CLIENT)
        if n is None or self.problem is not None:
            return
        event, d = n
        if event == "stream.opened":
            self.open.add(d["op"])
        elif event == "stream.settled":
            self.open.discard(d["op"])
        elif event == "call.timeout" and d["op"] in self.open:
            self.problem = (f"stream {d['op']} was established and still being read when its "
                            f"call timeout fired at {format_time(record.t)}")

    def judge(self, facts: Facts) -> str | None:
        return self.problem


STREAM_LIFETIME = StreamLifetime(
    "neemata.stream_lifetime",
    "once an RPC stream is established, the call's timeout no longer applies to it",
    "safety",
    doc="The timeout bounds the wait for an answer. At f77b193b the timeout signal stays in "
        "the stream's combined signal, so a stream still being read `timeout` after the call "
        "started is aborted (spec 2.3, section 4 item 8).",
)


class RpcStreamWindow(Monitor):
    """Per call, the client receives no more RPC-stream chunks than it pulled."""

    def reset(self) -> None:
        self.pulls: dict[tuple[str, int], int] = {}
        self.chunks: dict[tuple[str, int], int] = {}
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        if self.problem is not None or record.actor != CLIENT:
            return
        msg = sent(record, CLIENT)
        if msg is not None:
            key = (record.data["conn"], getattr(msg, "call_id", -1))
            if isinstance(msg, p.Rpc):
                self.pulls[key] = 0
                self.chunks[key] = 0
            elif isinstance(msg, p.RpcPull):
                self.pulls[key] = self.pulls.get(key, 0) + 1
            return
        msg = received(record, CLIENT)
        if isinstance(msg, p.RpcStreamChunk):
            key = (record.data["conn"], msg.call_id)
            got = self.chunks[key] = self.chunks.get(key, 0) + 1
            if got > self.pulls.get(key, 0):
                self.problem = (f"call {msg.call_id} received chunk {got} at "
                                f"{format_time(record.t)} after only {self.pulls.get(key, 0)} "
                                "pull(s)")

    def judge(self, facts: Facts) -> str | None:
        return self.problem


RPC_STREAM_WINDOW = RpcStreamWindow(
    "neemata.rpc_stream_window",
    "a consumer that stops pulling an RPC stream receives no more than one chunk per pull",
    "safety",
    doc="The stream is pull-based: one RpcPull, one chunk. At f77b193b the first-pull "
        "timeout leaves a resolved future behind and the rest of the stream is sent without "
        "pulls (spec 3.3).",
)


class DownloadWindow(Monitor):
    """Per download, the client receives no more bytes than its pulls asked for."""

    def reset(self) -> None:
        self.granted: dict[tuple[str, int], int] = {}
        self.got: dict[tuple[str, int], int] = {}
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        if self.problem is not None or record.actor != CLIENT:
            return
        msg = sent(record, CLIENT)
        if isinstance(msg, p.ServerStreamPull):
            key = (record.data["conn"], msg.stream_id)
            self.granted[key] = self.granted.get(key, 0) + msg.size
            return
        msg = received(record, CLIENT)
        if isinstance(msg, p.RpcResponse):
            for header in msg.blobs:
                key = (record.data["conn"], header.stream_id)
                self.granted[key] = self.got[key] = 0
        elif isinstance(msg, p.ServerStreamPush):
            key = (record.data["conn"], msg.stream_id)
            got = self.got[key] = self.got.get(key, 0) + len(msg.data)
            if got > self.granted.get(key, 0):
                self.problem = (f"download {msg.stream_id} received {got} bytes by "
                                f"{format_time(record.t)}, its pulls asked for "
                                f"{self.granted.get(key, 0)}")

    def judge(self, facts: Facts) -> str | None:
        return self.problem


DOWNLOAD_WINDOW = DownloadWindow(
    "neemata.download_window",
    "a download's reader receives no more bytes than its pulls asked for, so one that "
    "stops reading (or breaks) gets at most one window more",
    "safety",
    doc="Each ServerStreamPull asks for 65535 bytes. At f77b193b the gateway resumes its "
        "Node stream at the first pull and pushes everything, ignoring the size (spec 2.5, "
        "section 4 item 9), which is also why a break does not stop a download (item 2).",
)


# --------------------------------------------------------------------------- ids
class IdsUnique(Monitor):
    """No id is handed out while an entry with that id is still live.

    A callId is live from its ``Rpc`` frame until the server's final frame for it comes
    back (``RpcResponse``, ``RpcStreamEnd``, ``RpcStreamAbort``) or the connection ends: until
    then the gateway may still hold it in ``rpcs``. Upload ids are live while the client
    holds the upload; download ids while the gateway holds the download.
    """

    def reset(self) -> None:
        self.live: set[tuple[str, Any]] = set()
        self.problem: str | None = None

    def _take(self, key: tuple[str, Any], t: int) -> None:
        if key in self.live and self.problem is None:
            self.problem = f"{key[0]} id {key[1]} handed out at {format_time(t)} while live"
        self.live.add(key)

    def observe(self, record: TraceRecord) -> None:
        if record.actor == CLIENT:
            msg = sent(record, CLIENT)
            if isinstance(msg, p.Rpc):
                self._take(("call", msg.call_id), record.t)
                return
            msg = received(record, CLIENT)
            if isinstance(msg, p.RpcResponse | p.RpcStreamEnd | p.RpcStreamAbort):
                self.live.discard(("call", msg.call_id))
                return
        n = note(record)
        if n is None:
            return
        event, d = n
        if record.actor == CLIENT:
            if event == "client.disconnected":
                self.live = {k for k in self.live if k[0] != "call"}
            elif event == "upload.registered":
                self._take(("upload", d["stream_id"]), record.t)
            elif event == "upload.released":
                self.live.discard(("upload", d["stream_id"]))
        elif record.actor == GATEWAY:
            if event == "download.created":
                self._take(("download", (d["conn"], d["stream_id"])), record.t)
            elif event == "download.released":
                self.live.discard(("download", (d["conn"], d["stream_id"])))

    def judge(self, facts: Facts) -> str | None:
        return self.problem


IDS_UNIQUE = IdsUnique(
    "neemata.ids_unique",
    "call ids (until the server finished the call), upload ids and per-connection download "
    "ids are never reused while live",
    "safety",
    doc="The allocators wrap at 2^32 with no in-use check, so a long-lived call's entry is "
        "overwritten by the 2^32nd next call; and a call the client gave up on may still run "
        "at the gateway, whose rpcs entry a new call with its id overwrites, while its answer "
        "resolves the new call (spec section 1 'Ids', section 4 items 6, 10).",
)


# --------------------------------------------------------------------------- outcomes
class AbortFrames(Monitor):
    """At most one RpcAbort per call, and none once the server has finished it."""

    def reset(self) -> None:
        self.frames: dict[tuple[str, int], int] = {}
        self.done: dict[tuple[str, int], str] = {}
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        if self.problem is not None or record.actor != CLIENT:
            return
        msg = sent(record, CLIENT)
        if isinstance(msg, p.Rpc):
            key = (record.data["conn"], msg.call_id)
            self.frames[key] = 0
            self.done.pop(key, None)
        elif isinstance(msg, p.RpcAbort):
            key = (record.data["conn"], msg.call_id)
            self.frames[key] = self.frames.get(key, 0) + 1
            if key in self.done:
                self.problem = (f"RpcAbort for call {msg.call_id} at {format_time(record.t)} "
                                f"after its {self.done[key]} arrived")
            elif self.frames[key] > 1:
                self.problem = (f"{self.frames[key]} RpcAbort frames for call {msg.call_id} by "
                                f"{format_time(record.t)}")
            return
        msg = received(record, CLIENT)
        if isinstance(msg, p.RpcResponse | p.RpcStreamEnd | p.RpcStreamAbort):
            self.done[(record.data["conn"], msg.call_id)] = type(msg).__name__

    def judge(self, facts: Facts) -> str | None:
        return self.problem


ABORT_FRAMES = AbortFrames(
    "neemata.abort_frames",
    "the client sends at most one RpcAbort per call, and none after the server finished it",
    "safety",
    doc="RpcAbort tells the server to stop work it is still doing. At f77b193b every settled "
        "unary call sends one (controller.abort() fires _call's listener) and every stream "
        "termination sends two (spec 2.1 step 5, 2.3, section 4 item 7).",
)


class CallOutcome(Monitor):
    """A caller can tell why its call failed, and gets what the handler computed."""

    def reset(self) -> None:
        self.cause: dict[str, str] = {}
        self.computed: dict[str, Any] = {}
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        if self.problem is not None:
            return
        n = note(record)
        if n is None:
            return
        event, d = n
        if record.actor == GATEWAY:
            if event == "handler.returned" and "value" in d:
                self.computed[d["op"]] = d["value"]
            return
        if record.actor != CLIENT:
            return
        if event == "call.timeout":
            self.cause.setdefault(d["op"], "timeout")
        elif event == "abort.requested":
            self.cause.setdefault(d["op"], "abort")
        elif event == "call.settled":
            op = d["op"]
            cause = self.cause.pop(op, None)
            if d.get("ok"):
                if op in self.computed and self.computed[op] != d.get("value"):
                    self.problem = (f"{op} resolved {d.get('value')!r}, its handler returned "
                                    f"{self.computed[op]!r}")
                return
            message = (d.get("error") or {}).get("message", "")
            want = {"timeout": "TimeoutError", "abort": "AbortError"}.get(cause or "")
            if want is not None and not message.startswith(want):
                self.problem = (f"{op} failed by {cause} at {format_time(record.t)} but its "
                                f"caller sees {message!r}")

    def judge(self, facts: Facts) -> str | None:
        return self.problem


CALL_OUTCOME = CallOutcome(
    "neemata.call_outcome",
    "a call resolves with what its handler returned; a timed-out call rejects as a timeout "
    "and an aborted one as an abort",
    "safety",
    doc="On Node the custom anyAbortSignal aborts with a generic reason, so a timeout and the "
        "caller's own abort both read 'AbortError: This operation was aborted' (spec 2.1 "
        "step 2, section 4 item 11).",
)


class GracefulWhenDisconnected(Monitor):
    """Calls made while not connected reject with ConnectionError; disconnect() is idempotent."""

    def reset(self) -> None:
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        n = note(record, CLIENT)
        if n is None or self.problem is not None:
            return
        event, d = n
        if event == "user.error":
            self.problem = (f"{d['action']}() threw {d['error']}: {d['message']} at "
                            f"{format_time(record.t)}")
        elif event == "call.settled" and not d.get("ok"):
            code = (d.get("error") or {}).get("code")
            if code in (p.TYPE_ERROR, p.TRANSPORT_ERROR):
                self.problem = (f"{d['op']} rejected with {code} "
                                f"({(d.get('error') or {}).get('message')}) at "
                                f"{format_time(record.t)}")

    def judge(self, facts: Facts) -> str | None:
        return self.problem


GRACEFUL = GracefulWhenDisconnected(
    "neemata.graceful_when_disconnected",
    "a call made while not connected rejects with ConnectionError, and a second "
    "disconnect() is a no-op",
    "safety",
    doc="At f77b193b such a call fails with a TypeError (null messageContext) or a transport "
        "error, and a second disconnect() throws a TypeError (section 4 item 13).",
)


class NoEscapedError(Monitor):
    """No error escapes to the host as an unhandled rejection."""

    def reset(self) -> None:
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        n = note(record, CLIENT)
        if n is not None and n[0] == "error.escaped" and self.problem is None:
            self.problem = (f"unhandled rejection at {format_time(record.t)} in "
                            f"{n[1]['where']}: {n[1]['error']}")

    def judge(self, facts: Facts) -> str | None:
        return self.problem


NO_ESCAPE = NoEscapedError(
    "neemata.no_escaped_error",
    "no message handling ends in an unhandled rejection (late responses, pulls and chunks "
    "for forgotten ids are dropped quietly)",
    "safety",
    doc="A late RpcResponse after a timeout or abort is dropped by the calls lookup (section "
        "4 item 1: mitigated). A ClientStreamPull for an unknown upload would throw inside "
        "onMessage (spec 2.4).",
)


class BlobIntegrity(Monitor):
    """What a receiver read of a blob is what the sender's source held."""

    def reset(self) -> None:
        self.uploads: dict[str, list[bytes]] = {}
        self.downloads: dict[str, tuple[int, str]] = {}
        self.problem: str | None = None

    def observe(self, record: TraceRecord) -> None:
        if self.problem is not None:
            return
        if record.kind == IN and record.type == "Call" and record.actor == CLIENT:
            uploads = record.data.get("uploads") or ()
            if uploads:
                self.uploads[record.data["op"]] = [src.content() for src in uploads]
            return
        n = note(record)
        if n is None:
            return
        event, d = n
        if record.actor == GATEWAY and event == "handler.returned":
            value = d.get("value")
            contents = self.uploads.get(d["op"])
            if contents is None or not isinstance(value, dict):
                return
            for index, read in enumerate(value.get("read") or ()):
                want = contents[index][:read["bytes"]] if index < len(contents) else b""
                if read["digest"] != p.digest(want):
                    self.problem = (f"{d['op']}: the handler read {read['bytes']} bytes of blob "
                                    f"{index} that differ from what the client sent")
        elif record.actor == GATEWAY and event == "download.created":
            self.downloads[d["op"]] = (d["bytes"], d["digest"])
        elif record.actor == CLIENT and event == "download.settled":
            want = self.downloads.get(d["op"])
            if want is None:
                return
            complete = d["outcome"] == "end"
            if d["bytes"] > want[0] or (complete and (d["bytes"], d["digest"]) != want):
                self.problem = (f"{d['op']}: the reader got {d['bytes']} bytes ({d['digest']}), "
                                f"the gateway's blob has {want[0]} ({want[1]})")

    def judge(self, facts: Facts) -> str | None:
        return self.problem


BLOB_INTEGRITY = BlobIntegrity(
    "neemata.blob_integrity",
    "a blob read to its end holds exactly the sender's bytes; a partial read is a prefix",
    "safety",
    doc="Pushes are FIFO and each carries the next bytes of the source; a lost, repeated or "
        "misrouted push changes what the reader holds.",
)


# --------------------------------------------------------------------------- sometimes
def _late_response(rec: TraceRecord) -> str | None:
    n = note(rec, CLIENT)
    if n is not None and n[0] == "response.dropped":
        return (f"{n[1].get('frame', 'a frame')} for forgotten call {n[1]['call_id']} arrived "
                f"at {format_time(rec.t)}")
    return None


def _transfer_cut(rec: TraceRecord) -> str | None:
    n = note(rec, CLIENT)
    if n is None:
        return None
    event, d = n
    if event == "upload.released" and d.get("why") == "Disconnected":
        return f"upload {d['stream_id']} cut by a disconnect at {format_time(rec.t)}"
    if event in ("stream.settled", "download.settled") and d.get("error") == "Disconnected":
        return f"{event.split('.')[0]} {d['op']} cut by a disconnect at {format_time(rec.t)}"
    return None


LATE_RESPONSE = Sometimes(
    "neemata.late_response_seen",
    "some run sees the server answer (a response or a stream frame) a call its caller already "
    "gave up on, and the client drop it",
    when=_late_response,
    doc="Proves timeouts and aborts really raced handlers that answer anyway.",
)

TRANSFER_CUT = Sometimes(
    "neemata.transfer_cut",
    "some run sees a disconnect cut a stream, an upload or a download that was under way",
    when=_transfer_cut,
    doc="Proves the drop and disconnect faults hit live transfers, so the clean-maps "
        "invariants were judged on the hard case.",
)

MONITORS = (SETTLES_ONCE, SETTLES, MAPS_EMPTY, CONNECTIONS, STREAM_ORDER, STREAM_COMPLETE,
            STREAM_LIFETIME, RPC_STREAM_WINDOW, DOWNLOAD_WINDOW, IDS_UNIQUE, ABORT_FRAMES,
            CALL_OUTCOME, GRACEFUL, NO_ESCAPE, BLOB_INTEGRITY, LATE_RESPONSE, TRANSFER_CUT)

__all__ = ["ABORT_FRAMES", "BLOB_INTEGRITY", "CALL_OUTCOME", "CONNECTIONS", "DOWNLOAD_WINDOW",
           "GRACEFUL", "IDS_UNIQUE", "LATE_RESPONSE", "MAPS_EMPTY", "MONITORS", "NO_ESCAPE",
           "RPC_STREAM_WINDOW", "SETTLES", "SETTLES_ONCE", "STREAM_COMPLETE", "STREAM_LIFETIME",
           "STREAM_ORDER",
           "TRANSFER_CUT", "note", "received", "sent"]
