"""Named random sub-streams derived from one master seed.

Each component asks for its own stream by name. The stream's seed is a blake2b digest of
the master seed and the name, so adding a component (or drawing more from one) never
shifts another component's draws, and the result does not depend on ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import hashlib
import random

MAX_SEED = 2 ** 64 - 1
"""Seeds are 64-bit: wide enough for any campaign, narrow enough to write on a command line."""


def derive_seed(master_seed: int, name: str) -> int:
    """A 64-bit seed for ``name`` under ``master_seed``; stable across processes and versions."""
    digest = hashlib.blake2b(f"{master_seed}\x00{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class RngStreams:
    """Hands out one :class:`random.Random` per name, created on first use."""

    __slots__ = ("_streams", "master_seed")

    def __init__(self, master_seed: int) -> None:
        self.master_seed = int(master_seed)
        self._streams: dict[str, random.Random] = {}

    def stream(self, name: str) -> random.Random:
        rng = self._streams.get(name)
        if rng is None:
            rng = random.Random(derive_seed(self.master_seed, name))
            self._streams[name] = rng
        return rng

    def __repr__(self) -> str:
        return f"RngStreams({self.master_seed})"
