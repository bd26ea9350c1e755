"""The conformance kit: one suite every pack must pass, whoever wrote it.

A pack is a contract between its author and every tool (explorer, replay, emitted tests,
``branch()``, timelines): deterministic runs, a vocabulary that only takes what it
declares, variants that build, failure files that replay, a describer that reads any
record. :func:`check_pack` checks each clause on one short run built from the pack's own
vocabulary, so a new pack is held to it by registering, with no test written for it.

The run is the step that advances time, then each other step kind once with arguments
drawn deterministically from its own strategy (:mod:`gatewaysim.testing.draw`), time
passing after each. The checks, in order (:data:`CHECKS`):

``vocabulary``    every argument has a strategy, and drawn arguments survive JSON
``arguments``     an unknown step, an unknown argument and a missing one are ConfigErrors
``variants``      every variant (mutants too) has a config that survives JSON, builds a
                  driver, and its ``statistics()`` is a frozen attrs value
``steps``         every step kind applies on a fresh driver at boot, after time has passed
                  and at once again (when it does not apply, it must be a no-op), and the
                  driver then settles and is judged without raising
``run``           the run does not raise (a ``no-exception`` violation is the model's bug)
``determinism``   the run gives the same trace hash twice, and in two subprocesses under
                  two ``PYTHONHASHSEED`` values
``failure-file``  a failure file of the run reads back equal and replays to the same hash
``state-tables``  every (state, event) pair of every table has a row or a stated reason
``describe``      the describer takes every record of the run and of each scenario
``record-interests`` a monitor that declares the record types or kinds it reads is not
                  missing one: no record it is not handed changes its books
``scenarios``     every scenario gives the same hash twice
``readme``        the README the manifest declares exists (the wheel ships it)
"""

from __future__ import annotations

import json
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import attrs
from attrs import field, frozen
from hypothesis.strategies import SearchStrategy

from gatewaysim.properties.failure import Failure, load_failure, write_failure
from gatewaysim.properties.interests import declares_interest, undeclared_reads
from gatewaysim.properties.monitor import NO_EXCEPTION, Violation
from gatewaysim.properties.pack import Pack, get_pack
from gatewaysim.properties.replay import replay
from gatewaysim.properties.run import RunResult, RunSpec
from gatewaysim.properties.steps import Step
from gatewaysim.simulator.clock import Time, s
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.scenario import Describer, Scenario
from gatewaysim.simulator.timeline import render_timeline
from gatewaysim.simulator.trace import Trace, TraceRecord

from .draw import draw_args, one_of_each
from .hashes import hashes_in_subprocesses, pack_reference
from .tables import check_table, state_tables, table_name

CHECKS: tuple[str, ...] = ("vocabulary", "arguments", "variants", "steps", "run", "determinism",
                           "failure-file", "state-tables", "describe", "record-interests",
                           "scenarios", "readme")

QUICK_SCENARIO_LIMIT: Time = s(60)
"""In quick mode a scenario runs at most this much virtual time."""


@frozen
class Outcome:
    """One check of one pack: what it looked at, and what it found wrong."""

    check: str
    problems: tuple[str, ...]
    note: str = ""
    elapsed_s: float = field(default=0.0, eq=False, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems


@frozen
class ConformanceReport:
    """Every check of one pack, in :data:`CHECKS` order."""

    pack: str
    outcomes: tuple[Outcome, ...]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(f"{o.check}: {p}" for o in self.outcomes for p in o.problems)

    def render(self) -> str:
        lines = [f"conformance of pack {self.pack!r}:"]
        for o in self.outcomes:
            lines.append(f"  {'ok' if o.ok else 'FAIL':<4}  {o.check:<13} {o.note}".rstrip())
            lines += [f"          - {p}" for p in o.problems]
        return "\n".join(lines)

    def raise_for_problems(self) -> None:
        """An AssertionError naming the first problem (and how many others there are)."""
        problems = self.problems
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise AssertionError(f"pack {self.pack!r} does not conform: {problems[0]}{more}\n"
                                 f"{self.render()}")


def _raised(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}{where}"


class Subject:
    """One pack under test, and the run every check shares (built once, on first use)."""

    def __init__(self, pack: Pack, *, variants: Sequence[str] | None = None, quick: bool = True,
                 seed: int = 0, advance_ms: int = 1000, subprocesses: bool = True) -> None:
        self.pack = pack
        self.variants = tuple(variants) if variants is not None else pack.variant_names
        unknown = [v for v in self.variants if v not in pack.variant_names]
        if unknown:
            raise ConfigError(f"pack {pack.name!r} has no variants {unknown} "
                              f"(known: {', '.join(pack.variant_names)})")
        self.quick = quick
        self.seed = seed
        self.advance_ms = advance_ms
        self.subprocesses = subprocesses
        self.variant = (pack.default_variant if pack.default_variant in self.variants
                        else self.variants[0])

    @cached_property
    def draws(self) -> list[dict[str, dict[str, Any]]]:
        return draw_args(self.pack.steps, examples=3)

    @cached_property
    def step_lists(self) -> list[list[Step]]:
        """The run (first), and in full mode a few more: other draws, reversed order."""
        advance = self.pack.advance_step(self.advance_ms)
        lists = [one_of_each(self.pack.steps, advance, self.draws[-1])]
        if not self.quick:
            for draw in self.draws[:-1]:
                lists.append(one_of_each(self.pack.steps, advance, draw))
            lists.append([*reversed(lists[0][1:]), advance])
        return lists

    @cached_property
    def spec(self) -> RunSpec:
        return RunSpec.of(self.pack, self.step_lists[0], variant=self.variant, seed=self.seed)

    @cached_property
    def result(self) -> RunResult:
        return self.spec.execute(keep_records=True)

    def scenario_duration(self, scenario: Scenario) -> Time:
        if self.quick:
            return min(scenario.default_duration, QUICK_SCENARIO_LIMIT)
        return scenario.default_duration

    @cached_property
    def scenario_runs(self) -> list[tuple[str, Trace, Describer | None, str]]:
        """Each scenario run once, records kept: (name, trace, describer, what it raised)."""
        runs = []
        for sc in self.pack.scenarios:
            trace = Trace(header={"pack": self.pack.name, "scenario": sc.name,
                                  "seed": self.seed})
            try:
                result = sc.run(self.seed, self.scenario_duration(sc), trace)
                runs.append((sc.name, trace, result.describe, ""))
            except Exception as exc:
                runs.append((sc.name, trace, None, _raised(exc)))
            finally:
                trace.close()
        return runs

    def new_driver(self, variant: str | None = None, keep_records: bool = False) -> Any:
        v = variant or self.variant
        return self.pack.new_driver(self.pack.config_of(v), self.seed, variant=v,
                                    keep_records=keep_records)


# ---------------------------------------------------------------------------- the checks
Problems = list[str]


def _json_problem(args: dict[str, Any]) -> str | None:
    try:
        back = json.loads(json.dumps(args))
    except (TypeError, ValueError) as exc:
        return f"drawn arguments {args!r} are not JSON ({exc})"
    if back != args:
        return (f"drawn arguments {args!r} read back from JSON as {back!r}, so a failure file "
                "would replay another run")
    return None


def check_vocabulary(sub: Subject) -> tuple[Problems, str]:
    problems: Problems = []
    for kind in sub.pack.steps.values():
        for arg, strategy in kind.args.items():
            if not isinstance(strategy, SearchStrategy):
                problems.append(f"step {kind.name!r}: argument {arg!r} has no Hypothesis "
                                f"strategy ({type(strategy).__name__})")
    if problems:
        return problems, ""
    bad: dict[str, str] = {}  # the first bad draw of each kind
    for draw in sub.draws:
        for name, args in draw.items():
            problem = None if name in bad else _json_problem(args)
            if problem is not None:
                bad[name] = f"step {name!r}: {problem}"
    problems += bad.values()
    kinds = sub.pack.steps
    faults = sorted({k.fault for k in kinds.values() if k.fault})
    note = (f"{len(kinds)} step kinds, advance {sub.pack.advance.name!r}, "
            f"fault kinds: {', '.join(faults) or 'none'}")
    return problems, note


def check_arguments(sub: Subject) -> tuple[Problems, str]:
    problems: Problems = []
    pack = sub.pack

    def rejected(step: Step, what: str) -> None:
        try:
            pack.check_step(step)
        except ConfigError:
            return
        problems.append(f"{what} was accepted: {step!r}")

    rejected(Step("no_such_step_kind"), "an unknown step kind")
    draw = sub.draws[-1]
    for name, kind in pack.steps.items():
        args = dict(draw[name])
        try:
            pack.check_step(Step(name, args))
        except ConfigError as exc:
            problems.append(f"step {name!r} with its own drawn arguments was rejected: {exc}")
        rejected(Step(name, {**args, "no_such_argument": 1}), f"step {name!r} with an unknown "
                 "argument")
        for missing in sorted(kind.args):
            rest = {k: v for k, v in args.items() if k != missing}
            rejected(Step(name, rest), f"step {name!r} without its argument {missing!r}")
    return problems, f"{len(pack.steps)} step kinds, each with an unknown and a missing argument"


def _is_frozen_attrs(value: Any) -> bool:
    """An attrs instance that refuses assignment (writing back a field's own value)."""
    if not attrs.has(type(value)):
        return False
    fields = attrs.fields(type(value))
    if not fields:
        return True
    try:
        setattr(value, fields[0].name, getattr(value, fields[0].name))
    except attrs.exceptions.FrozenInstanceError:
        return True
    return False


def check_variants(sub: Subject) -> tuple[Problems, str]:
    problems: Problems = []
    pack = sub.pack
    for variant in sub.variants:
        try:
            cfg = pack.config_of(variant)
            data = json.loads(json.dumps(cfg.to_dict()))
            if pack.read_config(data) != cfg:
                problems.append(f"variant {variant!r}: its config does not read back equal "
                                "from JSON")
            driver = sub.new_driver(variant)
            try:
                stats = driver.statistics()
            finally:
                driver.trace.close()
            if not _is_frozen_attrs(stats):
                problems.append(f"variant {variant!r}: statistics() is a "
                                f"{type(stats).__name__}, not a frozen attrs value")
        except Exception as exc:
            problems.append(f"variant {variant!r}: {_raised(exc)}")
    return problems, f"{len(sub.variants)} variants: {', '.join(sub.variants)}"


def check_steps(sub: Subject) -> tuple[Problems, str]:
    problems: Problems = []
    advance = sub.pack.advance_step(sub.advance_ms)
    draw = sub.draws[-1]
    for name in sub.pack.steps:
        step = Step(name, dict(draw[name]))
        driver = sub.new_driver()
        try:
            # At boot, after time has passed, and at once again: whenever it does not
            # apply, a step must be a no-op.
            for st in (step, advance, step, step, advance):
                driver.apply(st)
            driver.check_safety()
            driver.settle()
            driver.check_liveness()
            driver.statistics()
        except Exception as exc:
            problems.append(f"step {step!r} (applied at boot, after {sub.advance_ms} ms, and "
                            f"at once again, on a fresh driver): {_raised(exc)}")
        finally:
            driver.trace.close()
    return problems, f"{len(sub.pack.steps)} step kinds on fresh drivers ({sub.variant})"


def check_run(sub: Subject) -> tuple[Problems, str]:
    problems: Problems = []
    for i, steps in enumerate(sub.step_lists):
        for variant in (sub.variants if not sub.quick else (sub.variant,)):
            if i == 0 and variant == sub.variant:
                result = sub.result
            else:
                result = RunSpec.of(sub.pack, steps, variant=variant, seed=sub.seed).execute()
            v = result.violation
            if v is not None and v.invariant_id == NO_EXCEPTION.id:
                problems.append(f"run {i} on {variant}: {v.describe()}")
    v = sub.result.violation
    verdict = v.describe() if v is not None else "no invariant violated"
    return problems, (f"{len(sub.spec.steps)} steps on {sub.variant}, "
                      f"{sub.result.trace.count} records; {verdict}")


def check_determinism(sub: Subject) -> tuple[Problems, str]:
    problems: Problems = []
    first = sub.result.trace_sha256
    again = sub.spec.execute().trace_sha256
    if again != first:
        problems.append(f"the same run gave two trace hashes in one process: {first[:12]} "
                        f"then {again[:12]}")
    if not sub.quick:
        for i, steps in enumerate(sub.step_lists[1:], start=1):
            for variant in sub.variants:
                spec = RunSpec.of(sub.pack, steps, variant=variant, seed=sub.seed)
                a, b = spec.execute().trace_sha256, spec.execute().trace_sha256
                if a != b:
                    problems.append(f"run {i} on {variant} gave two trace hashes: {a[:12]}, "
                                    f"{b[:12]}")
    note = f"sha256 {first[:12]}… twice in-process"
    if sub.subprocesses:
        ref = pack_reference(sub.pack)
        if ref is None:
            problems.append("the pack cannot be found from another process (make it a module "
                            "attribute, an entry point, or load it with load_pack)")
        else:
            try:
                others = hashes_in_subprocesses(ref, sub.spec)
            except Exception as exc:
                problems.append(_raised(exc))
            else:
                for seed, sha in others.items():
                    if sha != first:
                        problems.append(f"under PYTHONHASHSEED={seed} the run's trace hash is "
                                        f"{sha[:12]}…, not {first[:12]}… (iteration over a set "
                                        "or hash()/id() order in the model?)")
                note += f" and under PYTHONHASHSEED={', '.join(others)} in subprocesses"
    return problems, note


def _failure_of(sub: Subject) -> Failure:
    """A failure file of the run: its own violation if it has one, else a stand-in."""
    pack, result = sub.pack, sub.result
    v = result.violation
    if v is not None:
        monitor, message, t, index = pack.monitor(v.invariant_id), v.message, v.t, v.step_index
    else:
        monitor = next((m for m in pack.monitors if m.kind != "sometimes"), NO_EXCEPTION)
        message, t, index = "(a stand-in violation: the run violated nothing)", 0, 0
    spec = sub.spec.judged_by(None)
    sha = spec.judged_by(monitor.id).execute().trace_sha256
    return Failure(spec, monitor.id, monitor.statement, Violation(monitor.id, message, t, index),
                   sha, 0.0, 1, pack.source)


def check_failure_file(sub: Subject) -> tuple[Problems, str]:
    problems: Problems = []
    failure = _failure_of(sub)
    with tempfile.TemporaryDirectory(prefix="gatewaysim-conformance-") as tmp:
        path = write_failure(Path(tmp) / "failure.json", failure)
        loaded = load_failure(path)
    if loaded != failure:
        diff = [a.name for a in attrs.fields(Failure)
                if getattr(loaded, a.name) != getattr(failure, a.name)]
        problems.append(f"the failure file read back differently in {', '.join(diff)}")
    replayed = replay(loaded, timeline_limit=0)
    if not replayed.hash_matches:
        problems.append(f"the failure file replayed to sha256 {replayed.trace_sha256[:12]}…, "
                        f"not the recorded {failure.trace_sha256[:12]}…")
    if sub.result.violation is not None and replayed.violation != failure.violation:
        problems.append(f"the replay found {replayed.violation}, not {failure.violation}")
    return problems, f"judged by {failure.invariant_id}"


def check_state_tables(sub: Subject) -> tuple[Problems, str]:
    tables = state_tables(sub.pack)
    problems = [p for t in tables for p in check_table(t)]
    if not tables:
        return problems, "none declared"
    return problems, ", ".join(table_name(t) for t in tables)


def _describe_all(describe: Callable[[TraceRecord], str | None], records: Sequence[TraceRecord],
                  where: str) -> Problems:
    problems: Problems = []
    seen: set[tuple[str, str]] = set()
    for rec in records:
        key = (rec.kind, rec.type)
        try:
            text = describe(rec)
        except Exception as exc:
            if key not in seen:
                problems.append(f"{where}: describing a {rec.kind} {rec.type} record at "
                                f"t={rec.t} raised {_raised(exc)}")
            seen.add(key)
            continue
        if text is not None and not isinstance(text, str) and key not in seen:
            problems.append(f"{where}: the describer returned a {type(text).__name__} for a "
                            f"{rec.kind} {rec.type} record (a str or None, please)")
            seen.add(key)
    if not problems:
        try:
            render_timeline(records, describe=describe)
        except Exception as exc:
            problems.append(f"{where}: render_timeline raised {_raised(exc)}")
    return problems


def check_describe(sub: Subject) -> tuple[Problems, str]:
    records = sub.result.trace.records
    problems = _describe_all(sub.pack.describe, records, "the run")
    kinds = {(r.kind, r.type) for r in records}
    for name, trace, describe, _ in sub.scenario_runs:
        if describe is not None:
            problems += _describe_all(describe, trace.records, f"scenario {name!r}")
            kinds |= {(r.kind, r.type) for r in trace.records}
    return problems, f"{len(kinds)} record kinds"


def check_record_interests(sub: Subject) -> tuple[Problems, str]:
    declaring = [m for m in sub.pack.monitors if declares_interest(m)]
    if not declaring:
        return [], "no monitor declares what it reads"
    runs = [sub.result]
    if not sub.quick:  # the other step lists, nothing checked: whole runs
        runs += [RunSpec.of(sub.pack, steps, variant=variant, seed=sub.seed).execute(
                     keep_records=True, checked=lambda _id: False)
                 for steps in sub.step_lists[1:] for variant in sub.variants]
    problems = sorted({str(read) for run in runs
                       for read in undeclared_reads(declaring, run.trace.records)})
    return problems, f"{len(declaring)} monitors, {len(runs)} run(s)"


def check_scenarios(sub: Subject) -> tuple[Problems, str]:
    problems: Problems = []
    for name, trace, _, error in sub.scenario_runs:
        if error:
            problems.append(f"scenario {name!r} raised {error}")
            continue
        sc = sub.pack.scenario(name)
        again = Trace(header=dict(trace.header), keep=False)
        sc.run(sub.seed, sub.scenario_duration(sc), again)
        again.close()
        if again.sha256 != trace.sha256:
            problems.append(f"scenario {name!r} gave two trace hashes: {trace.sha256[:12]}…, "
                            f"{again.sha256[:12]}…")
    names = [n for n, *_ in sub.scenario_runs]
    return problems, ", ".join(names) if names else "none declared"


def check_readme(sub: Subject) -> tuple[Problems, str]:
    path = sub.pack.readme_path()
    if path is None:
        return [], "none declared"
    if not path.is_file() or not path.read_text(encoding="utf-8").strip():
        return [f"the manifest declares README {sub.pack.readme!r}, but {path} is missing or "
                "empty"], ""
    return [], path.name if path.parent.name == "" else f"{path.parent.name}/{path.name}"


_FUNCTIONS: dict[str, Callable[[Subject], tuple[Problems, str]]] = {
    "vocabulary": check_vocabulary, "arguments": check_arguments, "variants": check_variants,
    "steps": check_steps, "run": check_run, "determinism": check_determinism,
    "failure-file": check_failure_file, "state-tables": check_state_tables,
    "describe": check_describe, "record-interests": check_record_interests,
    "scenarios": check_scenarios, "readme": check_readme,
}


def run_check(sub: Subject, name: str) -> Outcome:
    """One named check; an exception from the pack is a problem of that check."""
    fn = _FUNCTIONS[name]
    start = time.monotonic()
    try:
        problems, note = fn(sub)
    except Exception as exc:
        problems, note = [f"raised {_raised(exc)}"], ""
    return Outcome(name, tuple(problems), note, time.monotonic() - start)


def check_pack(pack: Pack | str, *, variants: Sequence[str] | None = None, quick: bool = True,
               seed: int = 0, advance_ms: int = 1000, subprocesses: bool = True,
               checks: Sequence[str] = CHECKS, strict: bool = True) -> ConformanceReport:
    """Run the conformance suite on ``pack``; with ``strict``, raise on the first problem.

    ``variants`` limits the variants built (default: all, mutants included); ``quick``
    runs one step list on the default variant and caps scenarios at a minute of virtual
    time, while ``quick=False`` also runs every variant over a few more lists and each
    scenario for its default duration. ``subprocesses=False`` skips the hash check under
    other ``PYTHONHASHSEED`` values (a pack that exists only inside a test function).
    """
    p = get_pack(pack) if isinstance(pack, str) else pack
    unknown = [c for c in checks if c not in _FUNCTIONS]
    if unknown:
        raise ConfigError(f"unknown conformance checks {unknown} (known: {', '.join(CHECKS)})")
    sub = Subject(p, variants=variants, quick=quick, seed=seed, advance_ms=advance_ms,
                  subprocesses=subprocesses)
    report = ConformanceReport(p.name, tuple(run_check(sub, c) for c in checks))
    if strict:
        report.raise_for_problems()
    return report


def pack_conformance_tests(pack: Pack | str, **options: Any) -> dict[str, Callable[[], None]]:
    """The suite as test functions, one per check, sharing one run (for parametrizing).

    Each raises an AssertionError listing its problems. ``options`` as for
    :func:`check_pack`.
    """
    p = get_pack(pack) if isinstance(pack, str) else pack
    sub = Subject(p, **options)

    def test_for(name: str) -> Callable[[], None]:
        def test() -> None:
            outcome = run_check(sub, name)
            assert outcome.ok, (f"pack {p.name!r}, check {name}: "
                                + "; ".join(outcome.problems))
        test.__name__ = f"test_{name.replace('-', '_')}"
        return test

    return {name: test_for(name) for name in CHECKS}


__all__ = ["CHECKS", "ConformanceReport", "Outcome", "Subject", "check_pack",
           "pack_conformance_tests", "run_check"]
