"""The procedures the modelled application serves, as generator handlers.

A handler is a generator: it yields commands to the gateway (sleep, read an uploaded blob,
create a download, yield a stream chunk) and returns its result or raises. The gateway
drives it (``gateway.Invocation``), so a handler's time passes on the virtual clock and an
abort reaches it the way the real ``rpcAbortSignal`` does: an abort-aware handler
(``abortable``) gets :class:`Aborted` thrown into its current sleep; any other handler
runs on and answers a call nobody waits for (spec 2.2).

The set mirrors the real suite's test procedures: echo, slow work, errors, a cumulative
counter, streams, blob upload consumers, blob downloads and an echo of a blob.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from attrs import frozen

from gatewaysim.simulator.clock import Time, ms

from . import protocol as p


@frozen
class Sleep:
    duration: Time


@frozen
class Read:
    """Read up to ``size`` bytes of uploaded blob ``index`` (the first read consumes it)."""

    index: int
    size: int


@frozen
class CreateBlob:
    """``createBlob``: a download over ``source`` (or exactly ``data``)."""

    source: p.BlobSource
    data: bytes | None = None


@frozen
class Chunk:
    value: Any


class HandlerError(Exception):
    """What a handler throws: an ``ApiError``/``ProtocolError`` keeps its code and message;
    any other error becomes ``InternalServerError`` on the wire."""

    def __init__(self, code: str, message: str = "", *, plain: bool = False) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.plain = plain

    def info(self) -> p.ErrorInfo:
        if self.plain:
            return p.ErrorInfo(p.INTERNAL_SERVER_ERROR, "Internal Server Error")
        return p.ErrorInfo(self.code, self.message)


class Aborted(Exception):
    """The call's ``rpcAbortSignal`` fired inside an abort-aware handler."""


Handler = Generator[Any, Any, Any]


@frozen
class Procedure:
    """How a procedure runs: its handler factory, whether it streams, whether it listens to
    its abort signal."""

    name: str
    make: Callable[[dict, Any], Handler]
    stream: bool = False
    abortable: bool = False


def _echo(args: dict, gw: Any) -> Handler:
    if args.get("work_ms"):
        yield Sleep(ms(args["work_ms"]))
    return args.get("value")


def _default(args: dict, gw: Any) -> Handler:
    """The root router's default handler for unknown procedures (the suite's test router)."""
    return {"defaulted": True}
    yield  # pragma: no cover - makes this a generator


def _slow(args: dict, gw: Any) -> Handler:
    yield Sleep(ms(args.get("ms", 10_000)))
    return args.get("value", "done")


def _fail(args: dict, gw: Any) -> Handler:
    if args.get("work_ms"):
        yield Sleep(ms(args["work_ms"]))
    raise HandlerError(args.get("code", "Error"), args.get("message", "handler failed"),
                       plain=args.get("plain", True))


def _counter(args: dict, gw: Any) -> Handler:
    gw.counter += 1
    return gw.counter
    yield  # pragma: no cover


def _stream(args: dict, gw: Any) -> Handler:
    n = args.get("n", 5)
    delay = ms(args.get("delay_ms", 0))
    fail_at = args.get("fail_at")
    for i in range(n):
        if delay:
            yield Sleep(delay)
        if fail_at is not None and i == fail_at:
            raise HandlerError("StreamError", f"failed at chunk {i}", plain=True)
        yield Chunk({"op": args.get("op", ""), "n": i})


def _upload(args: dict, gw: Any) -> Handler:
    """Consume the uploaded blobs: ``mode`` ``all`` (to EOF), ``partial`` (``limit`` bytes of
    each), ``ignore`` (never call the consumer), ``first`` (only blob 0)."""
    mode = args.get("mode", "all")
    limit = args.get("limit", 0)
    read_delay = ms(args.get("read_delay_ms", 0))
    count = args.get("count", 1)
    out = []
    if mode == "ignore":
        if args.get("work_ms"):
            yield Sleep(ms(args["work_ms"]))
        return {"read": []}
    for index in range(1 if mode == "first" else count):
        got = bytearray()
        while True:
            want = p.UPLOAD_PULL_SIZE if mode != "partial" else min(
                p.UPLOAD_PULL_SIZE, limit - len(got))
            if want <= 0:
                break
            data = yield Read(index, want)
            if not data:
                break
            got += data
            if read_delay:
                yield Sleep(read_delay)
        out.append({"bytes": len(got), "digest": p.digest(bytes(got))})
    if args.get("fail_after"):
        raise HandlerError("UploadError", "failed after reading", plain=True)
    return {"read": out}


def _download(args: dict, gw: Any) -> Handler:
    source = p.BlobSource(
        size=args.get("size", 100_000), seed=args.get("seed", 0), text=args.get("text"),
        chunk=args.get("chunk", 16_384), delay=ms(args.get("delay_ms", 0)),
        error_at=args.get("error_at"), type=args.get("type", "application/octet-stream"),
        filename=args.get("filename", ""))
    ref = yield CreateBlob(source)
    if args.get("work_ms"):
        yield Sleep(ms(args["work_ms"]))
    if args.get("fail"):
        raise HandlerError("DownloadError", "failed after createBlob", plain=True)
    return {"file": ref}


def _echo_blob(args: dict, gw: Any) -> Handler:
    got = bytearray()
    while True:
        data = yield Read(0, p.UPLOAD_PULL_SIZE)
        if not data:
            break
        got += data
    ref = yield CreateBlob(p.BlobSource(size=len(got), type=args.get("type", "application/"
                                                                       "octet-stream"),
                                        filename=args.get("filename", "")), bytes(got))
    return {"file": ref}


PROCEDURES: dict[str, Procedure] = {
    proc.name: proc for proc in (
        Procedure("echo", _echo),
        Procedure("slow", _slow),
        Procedure("slow_abortable", _slow, abortable=True),
        Procedure("fail", _fail),
        Procedure("counter", _counter),
        Procedure("stream", _stream, stream=True),
        Procedure("upload", _upload),
        Procedure("download", _download),
        Procedure("echo_blob", _echo_blob),
    )
}
DEFAULT = Procedure("default", _default)


def procedure(name: str) -> Procedure:
    """The procedure called ``name``; unknown names reach the root default handler."""
    return PROCEDURES.get(name, DEFAULT)


__all__ = ["DEFAULT", "PROCEDURES", "Aborted", "Chunk", "CreateBlob", "HandlerError", "Procedure",
           "Read", "Sleep", "procedure"]
