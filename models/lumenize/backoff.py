"""The client's reconnect delay (``lumenize-mesh.md`` section 2.2).

The real ``scheduleReconnect`` waits ``min(1000 * 2^attempts, 30000)`` ms with no jitter
and no limit on attempts, so clients dropped together come back in lockstep. The fix
flag ``jittered_backoff`` draws the delay uniformly from ``[0, that ceiling]`` (full
jitter) from the node's seeded ``ctx.rng``, so a run stays reproducible.
"""

from __future__ import annotations

import random

from gatewaysim.simulator.clock import Time

from .config import LumenizeConfig

#: Past this many doublings the ceiling is the maximum anyway; capping the exponent keeps
#: ``2**attempts`` small when a client has retried for days.
_MAX_DOUBLINGS = 32


def backoff_ceiling(attempts: int, config: LumenizeConfig) -> Time:
    """``min(initial * 2^attempts, max)``: the faithful delay, and the jitter's upper bound."""
    doublings = min(max(attempts, 0), _MAX_DOUBLINGS)
    if config.mutant("backoff_cap_ignored"):
        return int(config.reconnect_initial * 2**doublings)
    return min(config.reconnect_initial * 2**doublings, config.reconnect_max)


def reconnect_delay(attempts: int, config: LumenizeConfig, rng: random.Random) -> Time:
    """The delay before reconnect attempt ``attempts + 1`` (section 2.2 step 2)."""
    ceiling = backoff_ceiling(attempts, config)
    if config.fixed("jittered_backoff"):  # fix: full jitter, section 6 "lockstep"
        return rng.randint(0, ceiling)
    return ceiling
