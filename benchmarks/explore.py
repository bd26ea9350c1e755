"""Exploration speed: examples/s and steps/s of the Lumenize state machine, next to a
trivial Hypothesis ``RuleBasedStateMachine`` measured in the same run.

    python benchmarks/explore.py [--quick]

Both machines run under the same settings (derandomized, no database, no shrinking, 15
steps per example), so the ratio says what the Lumenize model costs per example on top of
Hypothesis's own stateful machinery. Times are CPU seconds (other processes on a shared
machine slow neither side), and the trivial machine runs before and after the Lumenize
ones, the faster of its two runs counting. Every invariant is muted, as an explorer mutes those
it has found: a muted invariant neither observes records nor is judged, so this measures
the simulation, the ``sometimes`` monitors (never muted; each stops observing once the run
has reached it) and Hypothesis. ``--quick`` runs fewer examples.

Where the time went (cProfile, 100 examples of ``fixed``, before the changes this
benchmark came with): 27.8 s profiled, of which trace encoding of records nobody hashes
(``Trace.emit_value``) 13.4 s cumulative with the monitors it feeds, the muted monitors'
``observe`` about 10 s of that, the simulation (delivery, effects, network) about 7 s, and
Hypothesis's drawing about 4 s. After them (exploration traces are not encoded or hashed:
a finding is replayed, and the replay's trace is the one hashed; muted invariants cost
nothing): 5.2 s profiled, Hypothesis's drawing 1.4 s, the simulation about 2 s, records
built for the ``sometimes`` monitors 0.8 s.

This round (cProfile, 100 examples, the pack's 26 step kinds and 40 monitors): on ``fixed``,
7.3 s profiled, Hypothesis 43 % of own time (and most of the 11 % in builtins), kernel and
trace 19 %, the model 9 %, the pack's monitors and driver 5 %, machine, execution and
generic monitors 4 %, building frozen values 4 %; settling 13 % cumulative. On ``faithful``,
13 s profiled, settling is 44 % (with every invariant muted, the ping-pong and retry loops
run the whole three-minute settle bound), kernel and trace 28 %, Hypothesis 25 %, the model
15 %. On both, handing every record to the pack's two ``sometimes`` monitors (they watch
for notes, but are handed everything) is 13 % and 17 % cumulative.

The floor: with the simulation stubbed out (steps and settling do nothing, the world is
still built), the Lumenize machine runs at 0.44 of the trivial machine's examples/s (0.55
without building the world). That is Hypothesis's own work for 26 rules with preconditions
and swarm flags against 2, so ``fixed`` cannot reach 0.5 with any simulation cost at all
unless the machine draws less per step.

What changed: muted invariants keep no books while the world is built either (they used to
observe every boot record until the run muted them: 57 % of building a driver with 40
monitors), each run's monitor copies skip ``copy.copy``'s generic path, host rng streams are
made on first use, and a monitor may declare the ``record_types`` it reads so that, where no
trace is encoded, records of other types are never built. Measured (CPU seconds, 150
examples, best of 4 runs taking turns, load average 2.5-4 on 2 cores): ``fixed`` 1.78 ->
1.59 s; ``faithful`` 4.60 -> 4.53 s (its cost is the loops it simulates). Declaring
``record_types={"Note"}`` on the pack's two ``sometimes`` monitors (in ``properties/lumenize``,
done since) measured a further 11 % and 13 %: 1.42 s and 3.96 s.

The row ``lumenize (fixed, judged)`` runs ``fixed`` with every invariant judged, as a
campaign does until it has found them (``fixed`` violates none, so no run ends early); the
line above the targets says what judging costs. cProfile of that machine (200 examples, this
round): 27.5 s profiled, 59 % of it handing records to monitors (``_emit_value_unhashed`` 16.2
s cumulative: each of 148,000 records went to 38 ``observe`` methods, 5.6 million calls, most
of them returning at once, ``_is_client`` alone called 4.2 million times), Hypothesis about a
fifth, the simulation the rest. Most records are a tab's timers, heartbeats and frames, which
few monitors read. Each Lumenize monitor now declares the record types it reads, and the
kinds it reads whatever their type (every fault for the link books; every input of an actor
whose next input ends a step the monitor waits on), and the trace routes each record only to
those (``Trace.listen(types=, kinds=)``, routes cached per kind and type). After: 16.4 s
profiled, 7.3 s in handing records. Measured (whole processes, 8 pairs taking turns, 300
examples of the judged ``fixed`` machine): 0.72 of the time before, median (0.62-0.97); the
``fixed`` ci campaign through ``gatewaysim explore``, 3 pairs: 0.74, the same findings,
counts and coverage. The declarations are checked, not trusted: ``undeclared_reads`` (in
``gatewaysim.properties.interests``) runs each monitor twice over a run, once handed every
record, and reports a record it was not handed that changes its books; the Lumenize pack runs
it over every bug-zoo run under three variants and 60 random runs, and the conformance kit
runs it for every pack (check ``record-interests``). Seeded omissions (``CancelTimer`` for
``counters_agree``, ``CloseConnection`` for ``subscription_required``, inputs for the
forwarding monitors) were each reported.

Measured, not adopted, this round: compiling the kernel (``scheduler``, ``world``,
``network``, ``trace``) with mypyc, the attrs classes moved to modules left interpreted
(mypyc type-checks class bodies, so ``field(factory=...)`` fails in a compiled module): the
same trace hash, and the one-hour ``day_in_the_life.py --quick`` run 0.91 of the interpreted
time (6 pairs). The model, the attrs constructors and the generated trace encoders stay
interpreted, so a compiled kernel does not move exploration either. Memoising token
decoding (each reconnect decodes the same token up to three times; a ping-pong reconnects
thousands of times): 0.98 of the ``faithful`` machine's time (8 pairs), not worth a cache in
the model.

The last two lines are the target figures, ``fixed`` then ``faithful``.
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


# CPU time, bound before any World installs the determinism guard: other processes on a
# shared machine then slow neither side of the ratio.
_clock = time.process_time


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = _clock()
    fn()
    return _clock() - start


def _trivial(examples: int) -> tuple[int, int, float]:
    """Examples, steps and CPU seconds of one run of the trivial machine."""
    Trivial.examples = Trivial.steps = 0
    took = _timed(lambda: run_state_machine_as_test(Trivial, settings=_settings(examples)))
    return Trivial.examples, Trivial.steps, took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer examples")
    args = parser.parse_args()
    examples = 100 if args.quick else 500
    pack = get_pack("lumenize")
    all_ids = [m.id for m in pack.monitors]

    rows = []
    first = _trivial(examples)  # also warms Hypothesis up, for both sides
    # Every invariant muted (the targets), then fixed with every invariant judged, as a
    # campaign judges them until it finds them (fixed violates none, so no run ends early).
    for name, variant, muted in (("lumenize (fixed)", "fixed", all_ids),
                                 ("lumenize (faithful)", "faithful", all_ids),
                                 ("lumenize (fixed, judged)", "fixed", [])):
        count = _Count()
        machine = build_machine(pack, pack.config_of(variant), 0, variant=variant,
                                muted=muted, observer=count)
        elapsed = _timed(lambda m=machine: run_state_machine_as_test(
            m, settings=_settings(examples)))
        rows.append((name, count.examples, count.steps, elapsed))
    second = _trivial(examples)  # the trivial machine on either side of the Lumenize runs:
    rows.insert(0, ("trivial", *min(first, second, key=lambda r: r[2])))  # the faster one

    print(f"{'machine':<26}{'examples':>9}{'steps':>8}{'CPU s':>9}{'examples/s':>12}"
          f"{'steps/s':>10}")
    for name, n, steps, secs in rows:
        print(f"{name:<26}{n:>9}{steps:>8}{secs:>9.2f}{n / secs:>12.1f}{steps / secs:>10.0f}")
    trivial_rate = rows[0][1] / rows[0][3]
    fixed_rate = rows[1][1] / rows[1][3]
    faithful_rate = rows[2][1] / rows[2][3]
    judged_rate = rows[3][1] / rows[3][3]
    invariants = sum(m.kind != "sometimes" for m in pack.monitors)
    print(f"\njudging all {invariants} invariants on fixed: {judged_rate / fixed_rate:.2f} of "
          "the muted machine's examples/s")
    print("for the targets every invariant is muted (none is judged, none stops a run); "
          "faithful keeps its endless ping-pong and retry loops. Targets: fixed >= 0.5, "
          "faithful >= 0.25.")
    print(f"lumenize/trivial examples-per-second ratio (fixed): {fixed_rate / trivial_rate:.3f}")
    print(f"lumenize/trivial examples-per-second ratio (faithful): "
          f"{faithful_rate / trivial_rate:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
