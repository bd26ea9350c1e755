"""The document's ``NetworkQualityMonitor`` (Day 1), as it runs.

Every ``ping_interval`` (10 s, ``setInterval``) and once at start it sends ``HEAD
/api/health/ping`` unless the browser says it is offline. ``fetch`` resolves for *any* HTTP
status, so only a network error counts as a failure; it has no timeout. A success sets
``latency`` (the round trip) and lowers the loss estimate by 5; a failure raises it by 10
(clamped to 0..100) and keeps the old latency. The quality is then the code's table:

=========  ===========================================
OFFLINE    browser offline, or loss estimate > 10
EXCELLENT  latency < 50 ms and loss < 1
GOOD       latency < 150 ms and loss < 2   (the enum's comment says "< 1 %")
FAIR       latency < 300 ms and loss < 5
POOR       otherwise
=========  ===========================================

The estimate moves in steps of 5, so the loss thresholds 1, 2 and 5 all mean "exactly 0":
after one failed ping the indicator reads POOR until the second healthy ping (20 s); after
three it reads OFFLINE for four healthy pings and POOR for two more, a minute in all. Fix
``windowed_quality`` instead takes the loss as the percentage of failures among the last
``quality_window`` probes, gives each probe ``probe_timeout``, and probes every
``fast_probe_interval`` while the window still holds a failure.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from gatewaysim.simulator.clock import MS, Time

from .config import ChatConfig
from .protocol import API, NetworkQuality
from .runtime import Effects, Runtime

PING_TIMER = "quality.ping"
FAST_TIMER = "quality.fast"


def classify(online: bool, latency_ms: float, loss: float) -> NetworkQuality:
    """The document's ``calculateQuality`` for an online flag, a latency and a loss figure."""
    if not online or loss > 10:
        return NetworkQuality.OFFLINE
    if latency_ms < 50 and loss < 1:
        return NetworkQuality.EXCELLENT
    if latency_ms < 150 and loss < 2:
        return NetworkQuality.GOOD
    if latency_ms < 300 and loss < 5:
        return NetworkQuality.FAIR
    return NetworkQuality.POOR


class QualityMonitor:
    def __init__(self, rt: Runtime, config: ChatConfig,
                 on_probe_ok: Callable[[Time], Effects]) -> None:
        self.rt = rt
        self.config = config
        self.on_probe_ok = on_probe_ok
        self.windowed = config.fixed("windowed_quality")
        self.quality = NetworkQuality.GOOD  # the document's initial metrics
        self.latency: Time = 0
        self.packet_loss = 0
        self.is_online = True  # navigator.onLine at construction
        self.window: deque[bool] = deque(maxlen=max(1, config.quality_window))
        self.probes = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self, now: Time) -> Effects:
        return [*self.rt.after(PING_TIMER, now + self.config.ping_interval, self._tick),
                *self.measure(now)]

    def _tick(self, now: Time) -> Effects:
        return [*self.rt.after(PING_TIMER, now + self.config.ping_interval, self._tick),
                *self.measure(now)]

    def offline(self, now: Time) -> Effects:
        self.is_online = False
        return self._set(NetworkQuality.OFFLINE)

    def online(self, now: Time) -> Effects:
        self.is_online = True
        return self.measure(now)

    # ------------------------------------------------------------------ probing
    def measure(self, now: Time) -> Effects:
        if not self.is_online:
            return []
        self.probes += 1
        start = now
        timeout = self.config.probe_timeout if self.windowed else None
        return self.rt.fetch(API, "HEAD", self.config.ping_path, {"Cache-Control": "no-cache"},
                             None, lambda t, resp, fail: self._measured(t, start, resp is not None),
                             timeout=timeout)

    def _measured(self, now: Time, start: Time, success: bool) -> Effects:
        effects: Effects = []
        if success:
            self.latency = now - start
            self.packet_loss = max(0, self.packet_loss - self.config.loss_down)
        else:
            self.packet_loss = min(100, self.packet_loss + self.config.loss_up)
        if self.windowed:
            self.window.append(success)
            if not all(self.window):
                effects += self.rt.after(FAST_TIMER, now + self.config.fast_probe_interval,
                                         self.measure)
        effects += self._set(self.calculate())
        if success:
            effects += self.on_probe_ok(now)
        return effects

    def loss_estimate(self) -> float:
        """The loss figure the table is applied to (the estimate, or the window's %)."""
        if self.windowed:
            if not self.window:
                return 0.0
            return 100.0 * sum(1 for ok in self.window if not ok) / len(self.window)
        return float(self.packet_loss)

    def calculate(self) -> NetworkQuality:
        return classify(self.is_online, self.latency / MS, self.loss_estimate())

    def _set(self, quality: NetworkQuality) -> Effects:
        if quality == self.quality:
            return []
        self.quality = quality
        return [self.rt.note("quality", quality=quality.value, latency_ms=self.latency // MS,
                             loss=self.loss_estimate())]

    def __repr__(self) -> str:
        return f"QualityMonitor({self.quality.value}, latency={self.latency}, " \
               f"loss={self.loss_estimate()})"


__all__ = ["QualityMonitor", "classify"]
