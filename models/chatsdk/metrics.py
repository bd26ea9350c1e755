"""The document's four success metrics, measured in virtual time on one variant.

Shared by ``benchmarks/chatsdk.py``, the notebook and the tests. Every figure here is a
count or a span of *virtual* time, so the same seed gives the same figure on any machine.

* :func:`reconnect_times`: after each of ``drops`` WebSocket drops, the span from the drop
  to the manager showing CONNECTED again (target < 2 s).
* :func:`refresh_success`: of the scheduled token renewals over a run that alternates
  5 minutes of 50 % loss with 5 clean ones, the share that ended with a fresh token and no
  logout (target 100 %). A renewal the faithful client abandons after one failure counts as
  failed; one that ends in a logout counts as failed.
* :func:`quality_samples` / :func:`accuracy`: the indicator against the true link state,
  sampled every second over a schedule of link conditions held ``segment`` each
  (target >= 95 %).
* :func:`eventual_success`: the ``chatsdk-lossy`` scenario's share of messages stored
  (target >= 99 %).
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import frozen

from gatewaysim.simulator.clock import MINUTE, SECOND, Time, ms, s
from gatewaysim.simulator.trace import Trace

from .config import ChatConfig
from .protocol import NetworkQuality
from .world import ChatWorld

Step = Callable[[ChatWorld], None]


def _latency(one_way: Time) -> Step:
    return lambda cw: cw.set_latency(one_way)


def _loss(p: float) -> Step:
    return lambda cw: cw.set_loss(p)


#: The accuracy schedule: each change is held for a segment. Expected quality in comments.
SCHEDULE: tuple[tuple[str, Step], ...] = (
    ("10 ms", _latency(ms(10))),  # EXCELLENT (20 ms round trip)
    ("100 ms", _latency(ms(100))),  # FAIR (200 ms)
    ("250 ms", _latency(ms(250))),  # POOR (500 ms)
    ("10 ms", _latency(ms(10))),  # EXCELLENT
    ("offline", lambda cw: cw.go_offline()),  # OFFLINE, and the browser says so
    ("online", lambda cw: cw.go_online()),  # EXCELLENT
    ("50 % loss", _loss(0.5)),  # OFFLINE (loss > 10 %)
    ("no loss", _loss(0.0)),  # EXCELLENT
    ("partition", lambda cw: cw.partition()),  # OFFLINE, and nothing says so
    ("healed", lambda cw: cw.heal_partition()),  # EXCELLENT
    ("60 ms", _latency(ms(60))),  # GOOD (120 ms)
)


@frozen
class QualitySample:
    t: Time
    shown: NetworkQuality
    true: NetworkQuality
    segment: str


def quality_samples(variant: str, seed: int = 0, segment: Time = 10 * MINUTE,
                    every: Time = SECOND) -> list[QualitySample]:
    cw = ChatWorld(ChatConfig.for_variant(variant), seed, Trace(keep=False))
    cw.run_for(every)
    out: list[QualitySample] = []
    for label, change in SCHEDULE:
        change(cw)
        end = cw.now + segment
        while cw.now < end:
            cw.run_for(every)
            out.append(QualitySample(cw.now, cw.client.quality.quality, cw.true_quality(),
                                     label))
    return out


def accuracy(samples: list[QualitySample]) -> float:
    return sum(1 for x in samples if x.shown == x.true) / len(samples) if samples else 0.0


def reconnect_times(variant: str, seed: int = 0, drops: int = 200,
                    every: Time = 30 * SECOND) -> list[Time]:
    """Drop the WebSocket ``drops`` times, ``every`` apart; the span of each recovery."""
    trace = Trace(keep=False)
    changes: list[tuple[Time, str]] = []

    def listen(rec: object) -> None:
        if rec.type == "Note" and rec.data["event"] == "conn.state":  # type: ignore[attr-defined]
            changes.append((rec.t, rec.data["data"]["to"]))  # type: ignore[attr-defined]

    trace.listeners.append(listen)
    cw = ChatWorld(ChatConfig.for_variant(variant), seed, trace)
    cw.run_for(s(5))
    spans: list[Time] = []
    for _ in range(drops):
        at = cw.now
        if cw.drop_ws():
            cw.run_for(every)
            back = [t for t, st in changes if t > at and st == "CONNECTED"]
            if back:
                spans.append(back[0] - at)
        else:
            cw.run_for(every)
    return spans


def percentile(values: list[Time], q: float) -> Time:
    ordered = sorted(values)
    if not ordered:
        return 0
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def refresh_success(variant: str, seed: int = 0, hours: int = 2) -> float:
    cw = ChatWorld(ChatConfig.for_variant(variant), seed, Trace(keep=False))
    for _ in range(hours * 6):
        cw.set_loss(0.5)
        cw.run_for(5 * MINUTE)
        cw.set_loss(0.0)
        cw.run_for(5 * MINUTE)
    chains = cw.client.tokens.chains
    total = chains["ok"] + chains["failed"] + chains["logout"]
    return chains["ok"] / total if total else 0.0


def eventual_success(variant: str, seed: int = 0) -> float:
    from .scenarios import lossy

    result = lossy.fn(seed, lossy.default_duration, Trace(keep=False), variant)
    return float(result.summary["success_rate"])


__all__ = ["SCHEDULE", "QualitySample", "accuracy", "eventual_success", "percentile",
           "quality_samples", "reconnect_times", "refresh_success"]
