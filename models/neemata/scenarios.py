"""The Neemata scenarios: one per area of the seed's checklist, with a readable timeline.

Each scenario runs the faithful model through the situations its area of the real suite
covers, in virtual time, and reports what a person checks: what callers got, which frames
went over the wire, and how long each map stayed non-empty after its operation was over
for its caller (the "eventually cleaned" lingerers of spec section 4 item 12).

``run_*`` functions take a config so that tests and the benchmark run the same script
under ``fixed`` too; the registered scenarios are their faithful form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gatewaysim.simulator.clock import Time, format_duration, ms, s
from gatewaysim.simulator.scenario import Scenario, ScenarioResult, scenario
from gatewaysim.simulator.trace import OUT, Trace, TraceRecord

from . import protocol as p
from .config import NeemataConfig
from .describe import describe
from .world import CLIENT, NeemataWorld


class FrameCount:
    """Counts wire frames by type and sender (a trace listener)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, rec: TraceRecord) -> None:
        if rec.kind == OUT and rec.type == "Send":
            name = f"{rec.actor}:{type(rec.data['data']).__name__}"
            self.counts[name] = self.counts.get(name, 0) + 1

    def get(self, actor: str, name: str) -> int:
        return self.counts.get(f"{actor}:{name}", 0)


TIMER_MAPS = ("client.timers", "client.signals", "gateway.timers", "gateway.handlers")
"""What outlives an operation by design at f77b193b: a call's timeout timer (and the abort
signal it holds) and a handler that ignores its abort signal."""


def operation_maps(nw: NeemataWorld) -> dict[str, int]:
    """The non-empty maps that hold operations (timers, signals and handlers left out)."""
    return {k: v for k, v in nw.dirty().items() if k not in TIMER_MAPS}


LINGER_LIMIT: Time = s(30)


def linger(nw: NeemataWorld, limit: Time = LINGER_LIMIT, include_timers: bool = False) -> Time:
    """Step the world until every operation map is empty; how long that took.

    Timers and abort signals are left out unless ``include_timers``: a faithful call's
    timeout timer outlives its call by design (``AbortSignal.timeout``), which is measured
    separately.
    """
    start = nw.now
    skip = () if include_timers else TIMER_MAPS

    def dirty() -> bool:
        return any(v for k, v in nw.maps().items() if k not in skip)

    while dirty() and nw.now - start <= limit:
        if not nw.world.step():
            break
    return nw.now - start


def _finish(nw: NeemataWorld, summary: dict[str, Any]) -> ScenarioResult:
    return ScenarioResult(world=nw.world, summary=summary, describe=describe)


# --------------------------------------------------------------------------- calls
def run_calls(config: NeemataConfig, seed: int, trace: Trace | None) -> tuple[NeemataWorld,
                                                                             dict[str, Any]]:
    nw = NeemataWorld(config, seed, trace=trace)
    frames = FrameCount()
    nw.world.trace.listeners.append(frames)
    ops = [nw.call("echo", {"value": i}) for i in range(3)]  # concurrent
    nw.run(ms(20))
    ops.append(nw.call("slow", {"ms": 300}, timeout=ms(50)))  # a late response follows
    nw.run(ms(400))
    ops.append(nw.call("slow_abortable", {"ms": 10_000}))
    nw.run(ms(20))
    nw.abort(ops[-1])
    nw.abort(ops[-1])  # a second abort is a no-op
    nw.run(ms(20))
    ops.append(nw.call("echo", {"value": "x"}, pre_aborted=True))
    ops.append(nw.call("fail", {"code": "CustomError", "message": "nope", "plain": False}))
    nw.run(ms(20))
    nw.disconnect()
    ops.append(nw.call("echo", {"value": "after"}))
    nw.run(ms(20))
    outcomes = {op: nw.outcome(op) for op in ops}
    summary = {
        "calls": len(ops),
        "resolved": sum(1 for o in outcomes.values() if o is not None and o.ok),
        "rejected": ", ".join(f"{op} {o.code}" for op, o in outcomes.items()
                              if o is not None and not o.ok),
        "RpcAbort frames sent": frames.get(CLIENT, "RpcAbort"),
        "late responses dropped": sum(1 for _, e, _ in nw.ledger.events
                                      if e == "response.dropped"),
        "maps left": nw.dirty() or "none",
    }
    nw.world.trace.listeners.remove(frames)
    return nw, summary


@scenario("neemata-calls", "unary calls: concurrent, timed out, aborted, pre-aborted, failing, "
          "after disconnect", s(1), timeline=True)
def neemata_calls(seed: int, duration: Time, trace: Trace) -> ScenarioResult:
    nw, summary = run_calls(NeemataConfig(), seed, trace)
    nw.world.run_until(max(nw.now, duration))
    return _finish(nw, summary)


# --------------------------------------------------------------------------- streams
def run_streams(config: NeemataConfig, seed: int, trace: Trace | None) -> tuple[NeemataWorld,
                                                                               dict[str, Any]]:
    nw = NeemataWorld(config, seed, trace=trace)
    frames = FrameCount()
    nw.world.trace.listeners.append(frames)
    full = nw.stream({"n": 5})
    nw.run(ms(50))
    broken = nw.stream({"n": 100, "delay_ms": 5}, consumer=p.Consumer(stop_after=3))
    nw.run(ms(100))
    aborted = nw.stream({"n": 100, "delay_ms": 5}, consumer=p.Consumer(stop_after=2,
                                                                       stop="abort"))
    nw.run(ms(100))
    capped = nw.stream({"n": 10, "delay_ms": 20}, timeout=ms(100))  # the call timeout caps it
    nw.run(ms(400))
    ignored = nw.stream({"n": 5}, consumer=p.Consumer(read=False), timeout=0)
    held = linger(nw)
    summary: dict[str, Any] = {
        f"{op} ({what})": f"{len(nw.ledger.chunks.get(op, []))} chunks, "
                          f"{nw.ledger.streams.get(op, {}).get('outcome')}"
        for op, what in ((full, "5 chunks"), (broken, "break after 3"),
                         (aborted, "abort after 2"), (capped, "timeout 100ms, 10x20ms"))
    }
    summary["never-iterated stream held maps for"] = format_duration(held)
    summary["chunks sent that no reader read"] = (
        frames.get("gateway", "RpcStreamChunk") - sum(len(v) for v in nw.ledger.chunks.values()))
    summary["RpcAbort frames sent"] = frames.get(CLIENT, "RpcAbort")
    summary["maps left"] = nw.dirty() or "none"
    summary["never-iterated stream"] = ignored
    nw.world.trace.listeners.remove(frames)
    return nw, summary


@scenario("neemata-streams", "RPC streams: read fully, broken off, aborted, capped by the call "
          "timeout, never iterated", s(10), timeline=True)
def neemata_streams(seed: int, duration: Time, trace: Trace) -> ScenarioResult:
    nw, summary = run_streams(NeemataConfig(), seed, trace)
    nw.world.run_until(max(nw.now, duration))
    return _finish(nw, summary)


# --------------------------------------------------------------------------- blobs
LINGERERS: dict[str, tuple[str, Callable[[NeemataWorld], str]]] = {}
"""Each of spec section 4 item 12's lingerers as a script returning the op to wait for, with
what ends it for its caller: the ``call`` settling, or its ``stream``/``download`` reader."""


def _lingerer(name: str, ends: str = "call") -> Callable[[Callable[[NeemataWorld], str]],
                                                         Callable[[NeemataWorld], str]]:
    def register(fn: Callable[[NeemataWorld], str]) -> Callable[[NeemataWorld], str]:
        LINGERERS[name] = (ends, fn)
        return fn
    return register


@_lingerer("blob in a late response")
def _late_blob(nw: NeemataWorld) -> str:
    return nw.call("download", {"size": 1_000, "work_ms": 20}, timeout=ms(5))


@_lingerer("download of a failed call")
def _failed_download(nw: NeemataWorld) -> str:
    return nw.download(1_000, fail=True)


@_lingerer("upload after its call was aborted")
def _aborted_upload(nw: NeemataWorld) -> str:
    op = nw.upload(p.BlobSource(size=300_000, seed=3, delay=ms(2)))
    nw.run(ms(15))
    nw.abort(op)
    return op


@_lingerer("download broken off after one chunk", ends="download")
def _broken_download(nw: NeemataWorld) -> str:
    return nw.download(200_000, consumer=p.Consumer(stop_after=1), delay_ms=100)


@_lingerer("never-iterated RPC stream", ends="stream")
def _ignored_stream(nw: NeemataWorld) -> str:
    return nw.stream({"n": 5}, consumer=p.Consumer(read=False), timeout=0)


@_lingerer("ignored downloaded blob", ends="download")
def _ignored_blob(nw: NeemataWorld) -> str:
    return nw.download(1_000, consumer=p.Consumer(read=False))


def measure_lingerers(config: NeemataConfig, seed: int = 0) -> dict[str, Time]:
    """For each lingerer: how long the maps stay non-empty after its caller is done."""
    out: dict[str, Time] = {}
    for name, (ends, script) in LINGERERS.items():
        nw = NeemataWorld(config, seed)
        op = script(nw)
        readers = {"stream": nw.ledger.streams, "download": nw.ledger.downloads}
        while (nw.outcome(op) is None or (ends in readers and op not in readers[ends])) and \
                nw.world.step():
            pass
        out[name] = linger(nw)
    return out


def run_blobs(config: NeemataConfig, seed: int, trace: Trace | None) -> tuple[NeemataWorld,
                                                                             dict[str, Any]]:
    nw = NeemataWorld(config, seed, trace=trace)
    big = nw.upload(p.BlobSource(size=1_000_000, seed=1), p.BlobSource(text="hello, neemata"))
    nw.run(ms(300))
    echoed = nw.call("echo_blob", {}, uploads=[p.BlobSource(size=50_000, seed=2)])
    nw.run(ms(100))
    ignored = nw.upload(p.BlobSource(size=10_000, seed=3), mode="ignore")
    nw.run(ms(20))
    down = nw.download(1_000_000, seed=4)
    nw.run(ms(300))
    summary: dict[str, Any] = {
        "1 MB + text upload read": nw.outcome(big).value if nw.outcome(big) else None,
        "echoed blob read": nw.ledger.downloads.get(echoed, {}).get("bytes"),
        "ignored upload": nw.outcome(ignored),
        "1 MB download read": nw.ledger.downloads.get(down, {}).get("bytes"),
    }
    for name, held in measure_lingerers(config, seed).items():
        summary[f"maps held after: {name}"] = format_duration(held)
    summary["maps left"] = nw.dirty() or "none"
    return nw, summary


@scenario("neemata-blobs", "blob uploads and downloads, and how long each lingerer of spec "
          "section 4 item 12 holds its maps", s(1), timeline=True)
def neemata_blobs(seed: int, duration: Time, trace: Trace) -> ScenarioResult:
    nw, summary = run_blobs(NeemataConfig(), seed, trace)
    nw.world.run_until(max(nw.now, duration))
    return _finish(nw, summary)


# --------------------------------------------------------------------------- connection
def run_connection(config: NeemataConfig, seed: int, trace: Trace | None, cycles: int = 5
                   ) -> tuple[NeemataWorld, dict[str, Any]]:
    nw = NeemataWorld(config, seed, trace=trace)
    pending = nw.call("slow", {"ms": 10_000})
    transfers = [nw.upload(p.BlobSource(size=200_000, seed=5, delay=ms(5))),
                 nw.download(200_000, delay_ms=5), nw.stream({"n": 50, "delay_ms": 5})]
    nw.run(ms(50))
    nw.disconnect()
    nw.run(ms(10))
    after_first = operation_maps(nw)
    leftover: list[str] = []
    for _ in range(cycles):
        nw.connect()
        nw.run(ms(5))
        op = nw.call("echo", {"value": "ping"})
        nw.run(ms(5))
        ok = nw.outcome(op)
        nw.disconnect()
        nw.run(ms(5))
        if ok is None or not ok.ok or operation_maps(nw) or nw.gateway_stats().connections:
            leftover.append(op)
    nw.settle()
    summary = {
        "pending call": nw.outcome(pending),
        "transfers cut": ", ".join(f"{op}: {nw.ledger.streams.get(op, nw.ledger.downloads.get(op, {})).get('outcome') or nw.outcome(op)}"  # noqa: E501
                                   for op in transfers),
        "operation maps right after the first disconnect": after_first or "none",
        "cycles": cycles,
        "cycles leaving something behind": len(leftover),
        "client call ids used": nw.client_stats().next_call_id,
    }
    return nw, summary


@scenario("neemata-connection", "connect/disconnect cycles with a pending call and transfers "
          "under way", s(1), timeline=True)
def neemata_connection(seed: int, duration: Time, trace: Trace) -> ScenarioResult:
    nw, summary = run_connection(NeemataConfig(), seed, trace)
    nw.world.run_until(max(nw.now, duration))
    return _finish(nw, summary)


SCENARIOS: tuple[Scenario, ...] = (neemata_calls, neemata_streams, neemata_blobs,
                                   neemata_connection)

__all__ = ["LINGERERS", "SCENARIOS", "TIMER_MAPS", "FrameCount", "linger", "measure_lingerers",
           "operation_maps", "run_blobs", "run_calls", "run_connection", "run_streams"]
