"""The broadcast pack's configuration: topology constants, fix flags and planted mutants.

Faithful defaults follow SYNC-012 and its test plan (the seed document), the sync-patterns
``BroadcastClient`` it names (reconnect after ``1 s * 2**n``, at most 10 attempts, resubscribe
every channel on open, no refetch), and Redis pub/sub (at-most-once, no history). Each
weakness the model shows has a fix flag; ``fixed`` turns them all on.
"""

from __future__ import annotations

from typing import ClassVar

from attrs import field, frozen

from gatewaysim.simulator.clock import Time, ms, s
from gatewaysim.simulator.config import PackConfig
from gatewaysim.simulator.errors import ConfigError


def _at_least_one(_inst: object, attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        name = getattr(attribute, "name", "value")
        raise ConfigError(f"{name} must be a positive integer, not {value!r}")


def _non_negative(_inst: object, attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        name = getattr(attribute, "name", "value")
        raise ConfigError(f"{name} must be a non-negative integer, not {value!r}")


@frozen(kw_only=True)
class BroadcastConfig(PackConfig):
    """Constants of the modelled deployment, and which weaknesses are corrected."""

    FIXES: ClassVar[dict[str, str]] = {
        "refetch_on_resubscribe":
            "The backend acknowledges a subscribe ({'subscribed': [...]}) and the client "
            "invalidates (refetches) its cache on every acknowledgement, so whatever was "
            "published while it was away or still resubscribing is read back.",
        "resync_after_bus_reconnect":
            "When an instance's Redis subscription comes back, it tells its own WebSocket "
            "subscribers to invalidate (a 'resync' event), since Redis kept nothing for it.",
        "versioned_cache":
            "Refetch responses carry the commit sequence they were read at; a tab ignores a "
            "response older than the data it holds, and a rollback removes only its own "
            "optimistic entry instead of restoring a possibly older snapshot.",
        "rollback_broadcast":
            "A failed mutation posts a rollback on the BroadcastChannel so other tabs drop the "
            "optimistic entry they were sent; a tab holding another tab's optimistic entry "
            "also revalidates it after optimistic_ttl (the origin tab may have closed).",
    }
    MUTANTS: ClassVar[dict[str, str]] = {
        "no_resubscribe": "The client forgets to resubscribe its channels when it reconnects.",
        "no_rollback": "When the API call fails the origin tab runs neither onError nor onSettled: "
                       "its optimistic entry stays.",
        "fanout_skips_last": "An instance's fanout misses the newest subscriber of a channel.",
    }

    instances: int = field(default=2, validator=_at_least_one)
    """Backend instances behind the load balancer, joined by one Redis."""
    reconnect_delay: Time = field(default=s(1), validator=_at_least_one)
    """The client's first reconnect delay; attempt n waits ``reconnect_delay * 2**n``."""
    max_reconnect_attempts: int = field(default=10, validator=_at_least_one)
    """After this many failed attempts in a row the client gives up ('disconnected')."""
    bus_retry: Time = field(default=s(1), validator=_at_least_one)
    """How long an instance waits before reconnecting its Redis subscription."""
    ignore_own_echo: bool = False
    """Scenario 1 step 7: a tab ignores the server broadcast of its own mutation (the
    sync-patterns hook does not, so faithful is False)."""
    optimistic_ttl: Time = field(default=s(10), validator=_at_least_one)
    """With ``rollback_broadcast``: when a tab revalidates another tab's optimistic entry."""
    latency: Time = field(default=ms(10), validator=_non_negative)
    jitter: Time = field(default=ms(20), validator=_non_negative)
    """Every link's latency and jitter (HTTP exchanges are not FIFO among themselves)."""
    slow_paths: tuple[str, ...] = field(default=("bob<api-b", "alice<api-a"), converter=tuple)
    """Congested, jittery paths from an instance to a browser (``user<instance``): tablets on
    Wi-Fi, SYNC-012's example. Refetches race over them: one sent later through the other
    instance may be answered first."""
    slow_latency: Time = field(default=ms(50), validator=_non_negative)
    slow_jitter: Time = field(default=ms(800), validator=_non_negative)
    """Latency and jitter of each of ``slow_paths``."""

    def downlink(self, instance: str, user: str) -> tuple[Time, Time]:
        """Latency and jitter from ``instance`` to ``user``'s browser."""
        if f"{user}<{instance}" in self.slow_paths:
            return self.slow_latency, self.slow_jitter
        return self.latency, self.jitter


__all__ = ["BroadcastConfig"]
