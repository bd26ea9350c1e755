"""Bug zoo benchmark: how fast exploration finds each planted bug and each real weakness of
the Lumenize model, and how small it shrinks them.

    python benchmarks/bugzoo.py [--quick]

Each zoo bug is explored as variant ``mutant:<name>`` (planted on top of ``fixed``), each
real weakness in ``faithful``, over a few seeds, dev profile. Time to find: for a zoo bug,
the wall time of a search that stops at the first violation
(``gatewaysim.properties.lumenize.zoo.hunt``);
for a real weakness, the explorer's own "found after" (it finds several in one campaign).
Minimal steps: the explorer's shrunk run, as ``gatewaysim explore`` writes it. For each row:
how many seeds found it, the median time to find, and the median and worst minimal run.
``--quick`` uses one seed, for CI.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from gatewaysim.models.lumenize.config import MUTANTS
from gatewaysim.properties.explorer import explore
from gatewaysim.properties.lumenize.zoo import CAUGHT_BY, hunt

REAL_FINDINGS = (
    "lumenize.no_pingpong",
    "lumenize.subscribed_in_rows",
    "lumenize.client_calls_settle",
    "lumenize.rejected_upgrade_stops",
    "lumenize.herd_dispersed",
)


def _campaign(variant: str, seed: int, budget_s: float, max_examples: int
              ) -> dict[str, tuple[float, int]]:
    """invariant id -> (seconds to find, steps of the minimal run) for one campaign."""
    report = explore("lumenize", variant, budget_s=budget_s, max_examples=max_examples,
                     seed=seed, out_dir=None, profile="dev", progress=None)
    return {f.invariant_id: (f.found_after_s, len(f.steps)) for f in report.findings}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, smaller budgets")
    args = parser.parse_args()
    seeds = [0] if args.quick else [0, 1, 2]
    budget = 60.0
    max_examples = 1000
    hunt_examples = 5000

    rows: list[tuple[str, str, list[tuple[float, int]]]] = []
    start = time.perf_counter()
    faithful = [_campaign("faithful", seed, budget, max_examples) for seed in seeds]
    for invariant_id in REAL_FINDINGS:
        hits = [run[invariant_id] for run in faithful if invariant_id in run]
        rows.append(("real: " + invariant_id.removeprefix("lumenize."), invariant_id, hits))
    for mutant in sorted(MUTANTS):
        expected = CAUGHT_BY[mutant]
        hits = []
        for seed in seeds:
            search = hunt(f"mutant:{mutant}", hunt_examples, seed=seed, profile="dev")
            if search.invariant_id != expected:
                continue
            shrunk = _campaign(f"mutant:{mutant}", seed, budget, max_examples)
            steps = shrunk[expected][1] if expected in shrunk else len(search.steps)
            hits.append((search.seconds, steps))
        rows.append(("zoo: " + mutant, expected, hits))
        print(f"  explored mutant:{mutant}", file=sys.stderr, flush=True)

    header = ("bug", "caught by", "found", "median find", "median steps", "max steps")
    table = [header]
    for name, invariant_id, hits in rows:
        found = f"{len(hits)}/{len(seeds)}"
        if hits:
            table.append((name, invariant_id, found,
                          f"{statistics.median(t for t, _ in hits):.1f}s",
                          f"{statistics.median(n for _, n in hits):g}",
                          str(max(n for _, n in hits))))
        else:
            table.append((name, invariant_id, found, "-", "-", "-"))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))))
    found_rows = [hits for _, _, hits in rows if hits]
    medians = [statistics.median(t for t, _ in hits) for hits in found_rows]
    worst = max((n for hits in found_rows for _, n in hits), default=0)
    print(f"\n{len(seeds)} seed(s), {time.perf_counter() - start:.0f}s in all")
    print(f"bugzoo: {len(found_rows)}/{len(rows)} found, median time to find "
          f"{statistics.median(medians) if medians else float('nan'):.1f}s, "
          f"max minimal steps {worst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
