"""Blob uploads and downloads (spec 2.4, 2.5, 3.4): the seed's sections 3, 4 and 6.3-6.4."""

from __future__ import annotations

import attrs
import pytest

from gatewaysim.models.neemata import NeemataConfig, NeemataWorld
from gatewaysim.models.neemata import protocol as p
from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.trace import IN, OUT

from .conftest import dirty


def frames(nw: NeemataWorld, cls: type, actor: str | None = None) -> list:
    """Record the frames of type ``cls`` sent from now on (by ``actor``)."""
    got: list = []
    nw.world.trace.listeners.append(
        lambda r: got.append((r.t, r.data["data"])) if (
            r.kind == OUT and r.type == "Send" and isinstance(r.data["data"], cls)
            and (actor is None or r.actor == actor)) else None)
    return got


# --------------------------------------------------------------------------- uploads
@pytest.mark.parametrize("source", [
    p.BlobSource(text="hello, neemata"),
    p.BlobSource(size=4_096, seed=1),
    p.BlobSource(size=1_000_000, seed=2),
    p.BlobSource(size=1, seed=3),
], ids=["text", "binary", "1MB", "one-byte"])
def test_upload_round_trip(any_nw: NeemataWorld, source: p.BlobSource) -> None:
    op = any_nw.call("echo_blob", {}, uploads=[source])
    any_nw.run(s(1))
    got = any_nw.ledger.downloads[op]
    assert got["outcome"] == "end"
    assert (got["bytes"], got["digest"]) == (source.length, p.digest(source.content()))
    assert dirty(any_nw) == {}


def test_upload_metadata_reaches_the_gateway(any_nw: NeemataWorld) -> None:
    name = "a" * 300 + " spécial — ✓.bin"
    rpcs = frames(any_nw, p.Rpc)
    any_nw.upload(p.BlobSource(size=10, type="image/png", filename=name))
    any_nw.run(ms(20))
    header = rpcs[0][1].blobs[0]
    assert (header.size, header.type, header.filename) == (10, "image/png", name)


def test_empty_blob_is_rejected_before_sending(any_nw: NeemataWorld) -> None:
    rpcs = frames(any_nw, p.Rpc)
    op = any_nw.upload(p.BlobSource(size=0))
    any_nw.run(ms(10))
    assert any_nw.outcome(op).message == "Blob size is invalid" and rpcs == []


def test_multiple_blobs_in_one_payload_are_read_in_full(any_nw: NeemataWorld) -> None:
    a, b = p.BlobSource(size=30_000, seed=1), p.BlobSource(size=5, seed=2)
    op = any_nw.upload(a, b)
    any_nw.run(ms(100))
    read = any_nw.outcome(op).value["read"]
    assert [r["digest"] for r in read] == [p.digest(a.content()), p.digest(b.content())]


def test_upload_is_pulled_16k_at_a_time(any_nw: NeemataWorld) -> None:
    pulls = frames(any_nw, p.ClientStreamPull)
    pushes = frames(any_nw, p.ClientStreamPush)
    any_nw.upload(p.BlobSource(size=50_000, seed=1))
    any_nw.run(ms(100))
    assert {m.size for _, m in pulls} == {16_384}
    assert [len(m.data) for _, m in pushes] == [16_384, 16_384, 16_384, 848]
    assert len(pulls) == len(pushes) + 1  # the last pull is answered by ClientStreamEnd


def test_ignored_upload_is_aborted_by_the_gateway_one_round_trip_later(
        any_nw: NeemataWorld) -> None:
    """Section 4 item 3 is stale: the gateway does send ClientStreamAbort."""
    aborts = frames(any_nw, p.GatewayClientStreamAbort, "gateway")
    op = any_nw.upload(p.BlobSource(size=10_000, seed=1), mode="ignore")
    while any_nw.outcome(op) is None:
        any_nw.world.step()
    assert any_nw.client_stats().client_streams == 1  # at settle time
    any_nw.run(ms(2))
    assert any_nw.client_stats().client_streams == 0 and len(aborts) == 1
    assert dirty(any_nw) == {}


def test_partly_consumed_upload_lingers_until_the_pull_timeout(any_nw: NeemataWorld) -> None:
    op = any_nw.upload(p.BlobSource(size=100_000, seed=1), mode="partial",
                       extra={"limit": 10_000})
    any_nw.run(ms(20))
    assert any_nw.outcome(op).value["read"][0]["bytes"] == 10_000
    assert any_nw.gateway_stats().client_streams == 1
    any_nw.run(ms(4_900))
    assert any_nw.gateway_stats().client_streams == 1
    any_nw.run(ms(200))  # 5 s after the last push: "Pull timeout", ClientStreamAbort
    assert dirty(any_nw) == {}


def test_consume_timeout_destroys_an_upload_nobody_reads(any_nw: NeemataWorld) -> None:
    op = any_nw.upload(p.BlobSource(size=1_000), mode="ignore", extra={"work_ms": 7_000},
                       timeout=ms(10_000))
    any_nw.run(ms(5_010))
    assert any_nw.gateway_stats().client_streams == 0  # "Consume timeout" at 5 s
    assert any_nw.client_stats().client_streams == 0
    any_nw.run(ms(3_000))
    assert any_nw.outcome(op).ok


def test_source_error_aborts_the_upload_and_fails_the_handler(any_nw: NeemataWorld) -> None:
    aborts = frames(any_nw, p.ClientStreamAbort, "client")
    op = any_nw.upload(p.BlobSource(size=100_000, seed=1, error_at=40_000))
    any_nw.run(ms(50))
    assert len(aborts) == 1
    assert any_nw.outcome(op).code == p.INTERNAL_SERVER_ERROR
    assert dirty(any_nw) == {}


@pytest.mark.parametrize("abort_at_ms", [0, 3, 15, 60])
def test_aborting_the_call_does_not_abort_the_upload(any_nw: NeemataWorld,
                                                     abort_at_ms: int) -> None:
    """[probe] 300 KB, abort at 15 ms: pushes go on to the end, then End, then an ignored
    RpcResponse."""
    pushes = frames(any_nw, p.ClientStreamPush)
    ends = frames(any_nw, p.ClientStreamEnd)
    op = any_nw.upload(p.BlobSource(size=300_000, seed=1, delay=ms(2)))
    any_nw.run(ms(abort_at_ms))
    any_nw.abort(op)
    any_nw.run(ms(200))
    assert not any_nw.outcome(op).ok
    assert sum(len(m.data) for _, m in pushes) == 300_000 and len(ends) == 1
    assert ends[0][0] > any_nw.outcome(op).t
    assert dirty(any_nw) == {}


def test_concurrent_and_sequential_uploads_are_isolated(any_nw: NeemataWorld) -> None:
    sources = [p.BlobSource(size=20_000 + i, seed=i) for i in range(5)]
    ops = [any_nw.upload(src) for src in sources]
    any_nw.run(ms(100))
    for src in sources:
        op = any_nw.upload(src)
        any_nw.run(ms(20))
        ops.append(op)
    for op, src in zip(ops, sources + sources, strict=True):
        assert any_nw.outcome(op).value["read"][0]["digest"] == p.digest(src.content())
    assert dirty(any_nw) == {}


def test_upload_immediately_after_connect() -> None:
    nw = NeemataWorld(NeemataConfig(), connect=False)
    nw.connect()
    nw.run(ms(2))
    op = nw.upload(p.BlobSource(size=1_000, seed=1))
    nw.run(ms(20))
    assert nw.outcome(op).ok


def test_racing_uploads_then_disconnect_leave_both_sides_clean(any_nw: NeemataWorld) -> None:
    for i in range(4):
        any_nw.upload(p.BlobSource(size=200_000, seed=i, delay=ms(3)))
    any_nw.run(ms(30))
    assert any_nw.client_stats().client_streams == 4
    any_nw.disconnect()
    any_nw.run(ms(10))
    assert dirty(any_nw) in ({}, {"gateway.handlers": 4})  # handlers see the destroyed stream
    any_nw.settle()
    assert dirty(any_nw) == {} and any_nw.gateway_stats().connections == 0


# --------------------------------------------------------------------------- downloads
@pytest.mark.parametrize("size", [10, 100_000, 1_000_000])
def test_download_read_in_full(any_nw: NeemataWorld, size: int) -> None:
    op = any_nw.download(size, seed=7)
    any_nw.run(s(1))
    got = any_nw.ledger.downloads[op]
    want = p.BlobSource(size=size, seed=7).content()
    assert (got["outcome"], got["bytes"], got["digest"]) == ("end", size, p.digest(want))
    assert dirty(any_nw) == {}


def test_download_metadata_is_preserved(any_nw: NeemataWorld) -> None:
    responses: list = []
    any_nw.world.trace.listeners.append(
        lambda r: responses.append(r.data["data"]) if r.kind == IN and r.type == "WsMessage"
        and isinstance(r.data["data"], p.RpcResponse) else None)
    any_nw.download(10, type="text/csv", filename="ü" * 200 + ".csv")
    any_nw.run(ms(20))
    header = responses[0].blobs[0]
    assert (header.size, header.type, header.filename) == (10, "text/csv", "ü" * 200 + ".csv")


def test_faithful_download_pushes_everything_after_one_pull() -> None:
    """[probe] 1 pull => 4 pushes + End, then useless pulls."""
    nw = NeemataWorld(NeemataConfig())
    pulls, pushes = frames(nw, p.ServerStreamPull), frames(nw, p.ServerStreamPush)
    ends = frames(nw, p.ServerStreamEnd)
    nw.download(60_000, consumer=p.Consumer(start_after=ms(10)))
    nw.run(ms(50))
    first_push = pushes[0][0]
    assert [t for t, _ in pulls if t < first_push] == [first_push - ms(1)]  # one pull...
    assert len(pushes) == 4 and ends[0][0] == first_push  # ...and all of it at once
    assert len(pulls) == 5  # then each read on an empty queue pulls anyway: 4 useless pulls


def test_fixed_download_honours_the_pull_size() -> None:
    nw = NeemataWorld(NeemataConfig.for_variant("fixed"))
    pulls, pushes = frames(nw, p.ServerStreamPull), frames(nw, p.ServerStreamPush)
    op = nw.download(200_000, consumer=p.Consumer(read_delay=ms(5)))
    nw.run(ms(500))
    assert nw.ledger.downloads[op]["bytes"] == 200_000
    granted = sum(m.size for _, m in pulls)
    assert sum(len(m.data) for _, m in pushes) <= granted


def test_break_on_a_slow_download(any_nw: NeemataWorld) -> None:
    pushes = frames(any_nw, p.ServerStreamPush)
    op = any_nw.download(300_000, consumer=p.Consumer(stop_after=1), delay_ms=20)
    any_nw.run(s(1))
    assert any_nw.ledger.downloads[op]["outcome"] == "break"
    sent = sum(len(m.data) for _, m in pushes)
    if any_nw.config.fixed("download_break_cancels"):
        assert sent <= 65_535  # the break cancelled it: at most one window went out
    else:
        assert sent == 300_000  # section 4 item 2: break only releases the lock
    any_nw.settle()
    assert dirty(any_nw) == {}


def test_ignored_blob_is_cleaned_by_the_consume_timeout(any_nw: NeemataWorld) -> None:
    aborts = frames(any_nw, p.GatewayServerStreamAbort)
    op = any_nw.download(1_000, consumer=p.Consumer(read=False))
    any_nw.run(ms(100))
    assert any_nw.outcome(op).ok and is_held(any_nw)
    any_nw.run(ms(5_000))
    assert [m.reason for _, m in aborts] == ["Consume timeout"]
    assert dirty(any_nw) == {}


def is_held(nw: NeemataWorld) -> bool:
    return nw.client_stats().server_streams == 1 and nw.gateway_stats().server_streams == 1


def test_client_abort_stops_the_download(any_nw: NeemataWorld) -> None:
    aborts = frames(any_nw, p.ServerStreamAbort, "client")
    op = any_nw.download(300_000, consumer=p.Consumer(stop_after=2, stop="abort"), delay_ms=5)
    any_nw.run(ms(200))
    assert any_nw.ledger.downloads[op]["outcome"] == "abort" and len(aborts) == 1
    assert dirty(any_nw) == {}


def test_source_error_reaches_the_reader_as_an_abort(any_nw: NeemataWorld) -> None:
    op = any_nw.download(100_000, error_at=40_000)
    any_nw.run(ms(50))
    got = any_nw.ledger.downloads[op]
    assert got["outcome"] == "error" and got["error"] == "source error"
    assert dirty(any_nw) == {}


def test_connection_close_aborts_a_download(any_nw: NeemataWorld) -> None:
    op = any_nw.download(300_000, delay_ms=10)
    any_nw.run(ms(40))
    any_nw.disconnect()
    any_nw.run(ms(10))
    assert any_nw.ledger.downloads[op]["error"] == "Disconnected"
    assert dirty(any_nw) == {}


def test_concurrent_and_sequential_downloads_get_fresh_ids(any_nw: NeemataWorld) -> None:
    created: list = []
    any_nw.world.trace.listeners.append(
        lambda r: created.append(r.data["data"]["stream_id"]) if r.kind == OUT
        and r.type == "Note" and r.data["event"] == "download.created" else None)
    ops = [any_nw.download(20_000, seed=i) for i in range(3)]
    any_nw.run(ms(50))
    ops += [any_nw.download(20_000, seed=9)]
    any_nw.run(ms(50))
    assert created == [0, 1, 2, 3]
    assert all(any_nw.ledger.downloads[op]["bytes"] == 20_000 for op in ops)
    assert dirty(any_nw) == {}


def test_failed_call_leaves_its_download_until_the_consume_timeout(any_nw: NeemataWorld) -> None:
    op = any_nw.download(1_000, fail=True)
    any_nw.run(ms(10))
    assert not any_nw.outcome(op).ok
    assert any_nw.gateway_stats().server_streams == 1  # not cleaned at dispose (spec 3.2)
    any_nw.run(ms(5_000))
    assert dirty(any_nw) == {}


def test_finish_timeout_kills_a_download_after_ten_seconds(any_nw: NeemataWorld) -> None:
    op = any_nw.download(40_000, chunk=8_000, delay_ms=3_000)
    any_nw.run(s(12))
    got = any_nw.ledger.downloads[op]
    assert got["outcome"] == "error" and got["error"] == "Finish timeout"


def test_mixed_uploads_and_downloads_clean(any_nw: NeemataWorld) -> None:
    for i in range(3):
        any_nw.upload(p.BlobSource(size=50_000, seed=i))
        any_nw.download(50_000, seed=i)
        any_nw.call("echo_blob", {}, uploads=[p.BlobSource(size=20_000, seed=i)])
    any_nw.run(ms(200))
    assert len(any_nw.ledger.downloads) == 6
    assert all(d["outcome"] == "end" for d in any_nw.ledger.downloads.values())
    assert dirty(any_nw) == {}


def test_late_response_with_a_blob_registers_it_anyway() -> None:
    """Spec 2.5: decoding registers the blob before the call lookup; it lingers 5 s."""
    nw = NeemataWorld(attrs.evolve(NeemataConfig(), link_latency=ms(1)))
    nw.call("download", {"size": 1_000, "work_ms": 20}, timeout=ms(5))
    nw.run(ms(40))
    assert nw.client_stats().server_streams == 1 and nw.client_stats().calls == 0
    nw.run(ms(5_000))
    assert dirty(nw) == {}
