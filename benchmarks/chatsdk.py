"""The chat SDK's four success metrics, ``faithful`` and ``fixed`` side by side.

    python benchmarks/chatsdk.py [--seed S] [--drops N]

The document's week-4 targets, measured in virtual time (see
``gatewaysim.models.chatsdk.metrics`` for how each is defined):

* reconnect time after a WebSocket drop: p50, p99 and max over ``--drops`` drops
  (target < 2 s);
* token refresh success rate over two hours alternating 5 minutes of 50 % loss with 5
  clean ones (target 100 %, "no logout loops");
* network indicator accuracy against the true link state, sampled every second over eleven
  10-minute link conditions (target >= 95 %);
* eventual success of 100 messages sent under 50 % loss (target >= 99 %).

A target ``faithful`` misses is a finding of the model, not a benchmark failure: the
figures are printed as they are. The last line is the indicator accuracy, the figure the
document's Day 1 is about.
"""

from __future__ import annotations

import argparse
import sys
import time

from gatewaysim.models.chatsdk.metrics import (
    accuracy,
    eventual_success,
    percentile,
    quality_samples,
    reconnect_times,
    refresh_success,
)
from gatewaysim.simulator.clock import format_duration

VARIANTS = ("faithful", "fixed")


def measure(variant: str, seed: int, drops: int) -> dict[str, object]:
    spans = reconnect_times(variant, seed, drops)
    return {
        "reconnect p50": format_duration(percentile(spans, 0.50)),
        "reconnect p99": format_duration(percentile(spans, 0.99)),
        "reconnect max": format_duration(max(spans)) if spans else "never",
        "reconnect < 2 s": all(x < 2_000_000 for x in spans) and len(spans) == drops,
        "refresh success": refresh_success(variant, seed),
        "indicator accuracy": accuracy(quality_samples(variant, seed)),
        "eventual success (50 % loss)": eventual_success(variant, seed),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    parser.add_argument("--drops", type=int, default=200, help="WebSocket drops (default 200)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = {v: measure(v, args.seed, args.drops) for v in VARIANTS}
    wall = time.perf_counter() - start
    targets = {"reconnect < 2 s": "all", "refresh success": "100 %",
               "indicator accuracy": ">= 95 %", "eventual success (50 % loss)": ">= 99 %"}
    rows = list(results["faithful"])
    width = max(len(r) for r in rows)
    print(f"{'metric':<{width}}  {'faithful':>10}  {'fixed':>10}  target")
    for row in rows:
        cells = []
        for v in VARIANTS:
            value = results[v][row]
            cells.append(f"{100 * value:.1f} %" if isinstance(value, float) else str(value))
        print(f"{row:<{width}}  {cells[0]:>10}  {cells[1]:>10}  {targets.get(row, '< 2 s')}")
    print(f"\nwall time for both variants: {wall:.2f} s")
    acc = {v: float(results[v]["indicator accuracy"]) for v in VARIANTS}  # type: ignore[arg-type]
    print(f"indicator accuracy: faithful {100 * acc['faithful']:.1f} %, "
          f"fixed {100 * acc['fixed']:.1f} % (target >= 95 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
