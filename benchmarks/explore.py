"""Exploration speed: examples/s and steps/s of the Lumenize state machine, next to a
trivial Hypothesis ``RuleBasedStateMachine`` measured in the same run.

    python benchmarks/explore.py [--quick]

Both machines run under the same settings (derandomized, no database, no shrinking, 15
steps per example), so the ratio says what the Lumenize model and its invariants cost per
example on top of Hypothesis's own stateful machinery. ``--quick`` runs fewer examples.
"""

from __future__ import annotations

import argparse
import sys
import time

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from gatewaysim.properties.machine import RunRecord, build_machine
from gatewaysim.properties.pack import get_pack


class Trivial(RuleBasedStateMachine):
    """A counter: two rules and an invariant, about the least a state machine can do."""

    examples = 0
    steps = 0

    def __init__(self) -> None:
        super().__init__()
        Trivial.examples += 1
        self.total = 0

    @rule(n=st.integers(min_value=0, max_value=10))
    def add(self, n: int) -> None:
        Trivial.steps += 1
        self.total += n

    @rule()
    def reset(self) -> None:
        Trivial.steps += 1
        self.total = 0

    @invariant()
    def non_negative(self) -> None:
        assert self.total >= 0


class _Count:
    def __init__(self) -> None:
        self.examples = 0
        self.steps = 0

    def example_started(self) -> None:
        self.examples += 1

    def example_finished(self, run: RunRecord) -> None:
        self.steps += len(run.steps)


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, stateful_step_count=15, derandomize=True,
                    database=None, deadline=None, phases=(Phase.explicit, Phase.generate),
                    suppress_health_check=list(HealthCheck))


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer examples")
    args = parser.parse_args()
    examples = 100 if args.quick else 500
    pack = get_pack("lumenize")

    rows = []
    trivial_s = _timed(lambda: run_state_machine_as_test(Trivial, settings=_settings(examples)))
    rows.append(("trivial", Trivial.examples, Trivial.steps, trivial_s))
    for variant in ("fixed", "faithful"):
        count = _Count()
        machine = build_machine(pack, pack.config_of(variant), 0, variant=variant, muted=[
            m.id for m in pack.monitors], observer=count)
        elapsed = _timed(lambda m=machine: run_state_machine_as_test(
            m, settings=_settings(examples)))
        rows.append((f"lumenize ({variant})", count.examples, count.steps, elapsed))

    print(f"{'machine':<22}{'examples':>9}{'steps':>8}{'seconds':>9}{'examples/s':>12}"
          f"{'steps/s':>10}")
    for name, n, steps, secs in rows:
        print(f"{name:<22}{n:>9}{steps:>8}{secs:>9.2f}{n / secs:>12.1f}{steps / secs:>10.0f}")
    trivial_rate = rows[0][1] / rows[0][3]
    lumenize_rate = rows[1][1] / rows[1][3]
    print("\nlumenize runs variant fixed for the ratio (faithful, with its endless ping-pong "
          "and retry loops, is shown for comparison); every invariant is still evaluated, "
          "none stops a run.")
    print(f"lumenize/trivial examples-per-second ratio: {lumenize_rate / trivial_rate:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
