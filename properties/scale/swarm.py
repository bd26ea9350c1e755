"""Fault mixes for shards: swarm testing across shards on top of the swarm within each.

Inside a shard, Hypothesis draws which fault kinds each run enables (``properties/machine``).
Across shards a campaign varies the *pool* that draw picks from: shard 0 keeps every kind
(so a one-shard campaign is exactly ``explore()``), every other shard a different proper
subset, in an order drawn from the campaign's seed. A bug that needs crashes without
partitions is then searched by shards that never partition at all, which a single swarm
reaches only when its one draw happens to land there.
"""

from __future__ import annotations

import random
from collections.abc import Collection

import attrs

from gatewaysim.simulator.rng import derive_seed

from ..driver import Driver
from ..machine import fault_kinds
from ..pack import Pack


def swarm_mix(pack: Pack, seed: int, shard: int) -> tuple[str, ...] | None:
    """The fault kinds shard ``shard`` may enable (``None``: every kind of the pack)."""
    kinds = fault_kinds(pack)
    if shard == 0 or len(kinds) < 2:
        return None
    if len(kinds) > _LISTED:  # too many subsets to list: each shard draws its own
        rng = random.Random(derive_seed(seed, f"campaign shard {shard} swarm"))
        mix = tuple(k for k in kinds if rng.random() < 0.5)
        return mix if 0 < len(mix) < len(kinds) else kinds[:1]
    mixes = _mixes(kinds, seed)
    return mixes[(shard - 1) % len(mixes)]


_LISTED = 12


def _mixes(kinds: tuple[str, ...], seed: int) -> list[tuple[str, ...]]:
    """Every non-empty proper subset of ``kinds``, in an order drawn from ``seed``: the
    first ``2**len(kinds) - 2`` shards after shard 0 all get different mixes."""
    subsets = [tuple(k for i, k in enumerate(kinds) if mask >> i & 1)
               for mask in range(1, 2 ** len(kinds) - 1)]
    random.Random(derive_seed(seed, "campaign swarm mixes")).shuffle(subsets)
    return subsets


def narrowed(pack: Pack, kinds: Collection[str]) -> Pack:
    """A view of ``pack`` whose fault steps are only those of ``kinds``.

    Only the state machine sees it: the steps it draws are the pack's own, so shrinking,
    failure files and replay use the registered pack unchanged.
    """
    unknown = sorted(set(kinds) - set(fault_kinds(pack)))
    if unknown:
        raise ValueError(f"pack {pack.name!r} has no fault kinds {unknown}")
    keep = frozenset(kinds)
    base = pack.driver
    driver: type[Driver] = type(base.__name__, (base,), {"__module__": base.__module__,
                                                         "__doc__": base.__doc__})
    driver.step_kinds = {name: kind for name, kind in base.step_kinds.items()
                         if kind.fault is None or kind.fault in keep}
    return attrs.evolve(pack, driver=driver)
