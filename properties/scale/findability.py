"""How findable a finding is: the share of shards (and of examples) that hit it.

A rate ``hits / of`` with a Wilson score interval (95 %): unlike the normal approximation
it stays inside [0, 1] and is honest at 0 or ``of`` hits, which is where a rare bug or a
fix being trusted sits. Per shard the trials are independent (disjoint seeds). Per example
the count is each shard's examples up to its first hit (or all of them when it never hit):
the exposure of a rate estimate, approximate because Hypothesis's examples are not
independent draws.
"""

from __future__ import annotations

import math
from typing import Any

from attrs import frozen

Z95 = 1.959963984540054


def wilson(hits: int, of: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``hits`` successes in ``of`` trials."""
    if of <= 0:
        return (0.0, 1.0)
    p = hits / of
    z2 = z * z
    centre = (p + z2 / (2 * of)) / (1 + z2 / of)
    half = z * math.sqrt(p * (1 - p) / of + z2 / (4 * of * of)) / (1 + z2 / of)
    low = 0.0 if hits == 0 else max(0.0, centre - half)  # exact at the ends, not 1 - 1e-16
    high = 1.0 if hits == of else min(1.0, centre + half)
    return (low, high)


@frozen
class Rate:
    """``hits`` of ``of`` trials."""

    hits: int
    of: int

    @property
    def share(self) -> float:
        return self.hits / self.of if self.of else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.hits, self.of)

    def to_json(self) -> dict[str, Any]:
        low, high = self.interval
        return {"hits": self.hits, "of": self.of, "low": round(low, 6), "high": round(high, 6)}

    def __str__(self) -> str:
        low, high = self.interval
        return f"{self.hits}/{self.of} ({_pct(self.share)}, 95% CI {_pct(low)}-{_pct(high)})"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.01 or x == 0 else f"{100 * x:.2g}%"


@frozen
class Findability:
    """Shards that hit a finding, and examples per hit across the campaign."""

    shards: Rate
    examples: Rate

    def to_json(self) -> dict[str, Any]:
        return {"shards": self.shards.to_json(), "examples": self.examples.to_json(),
                "confidence": 0.95}
