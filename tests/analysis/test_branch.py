"""Branching: rerun a run of steps with one decision changed, and compare the two traces.

The failure file comes from a real exploration of the echo pack's ``mutant:give_up`` variant (a
client that stops reconnecting after a few refused attempts), produced in-process once per
module. The cheaper tests build a step list by hand with ``TraceView.from_steps``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gatewaysim.analysis import (
    ChangeArg,
    Delay,
    RemoveStep,
    ReplaceStep,
    TraceView,
    diff,
)
from gatewaysim.analysis.branch import RunOutcome
from gatewaysim.properties.explorer import explore
from gatewaysim.properties.failure import load_failure
from gatewaysim.properties.replay import replay
from gatewaysim.properties.steps import Step
from gatewaysim.simulator.errors import ConfigError

from .echo_runs import echo_world

VARIANT = "mutant:give_up"
INVARIANT = "echo.reconnects"


@pytest.fixture(scope="module")
def failure_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("findings")
    report = explore("echo", VARIANT, budget_s=120, seed=0, out_dir=out, profile="ci",
                     progress=None)
    found = {f.invariant_id: f for f in report.findings}
    assert INVARIANT in found, f"exploration found {sorted(found)}"
    path = found[INVARIANT].path
    assert path is not None
    return path


@pytest.fixture(scope="module")
def failing(failure_path: Path) -> TraceView:
    return TraceView.from_failure(failure_path)


def _outcome(view: TraceView) -> RunOutcome:
    origin = view.source.origin
    assert isinstance(origin, RunOutcome)
    return origin


def _first_fault(view: TraceView) -> int:
    return next(m.index for m in view.steps() if m.fault is not None)


# ---------------------------------------------------------------------------- failure files
def test_a_failure_view_is_the_replayed_run(failing: TraceView, failure_path: Path) -> None:
    failure = load_failure(failure_path)
    assert failing.sha256 == failure.trace_sha256 == replay(failure).trace_sha256
    outcome = _outcome(failing)
    assert outcome.violation is not None and outcome.violation.invariant_id == INVARIANT
    assert outcome.failure == failure and outcome.run.steps == failure.steps
    assert [m.step for m in failing.steps()] == list(failure.steps)


def test_removing_the_fault_makes_the_violation_disappear(failing: TraceView) -> None:
    index = _first_fault(failing)
    branched = failing.branch(change=RemoveStep(index))
    outcome = _outcome(branched)
    assert outcome.violation is None and outcome.settled
    assert outcome.change == RemoveStep(index) and outcome.parent is _outcome(failing)
    assert failing.steps()[index].step not in [m.step for m in branched.steps()]
    assert branched.source.kind == "branch"


def test_the_prefix_is_identical_up_to_the_changed_step(failing: TraceView) -> None:
    mark = failing.steps()[_first_fault(failing)]
    branched = failing.branch(change=RemoveStep(mark.index))
    d = diff(failing, branched)
    assert not d.identical
    assert d.index == mark.record
    assert failing.records[:mark.record] == branched.records[:mark.record]
    assert d.a is not None and d.a.kind == "fault"


def test_a_time_picks_the_first_fault_step_at_or_after_it(failing: TraceView) -> None:
    mark = failing.steps()[_first_fault(failing)]
    by_time = failing.branch(mark.t)
    by_index = failing.branch(change=RemoveStep(mark.index))
    assert by_time.sha256 == by_index.sha256
    assert _outcome(by_time).change == RemoveStep(mark.index)
    with pytest.raises(ConfigError, match="no fault step was applied at or after"):
        failing.branch(failing.span()[1] + 1.0)


def test_a_variant_branch_reruns_the_same_steps_under_its_config(failing: TraceView) -> None:
    fixed = failing.branch(variant="faithful")
    outcome = _outcome(fixed)
    assert outcome.run.variant == "faithful" and fixed.source.variant == "faithful"
    assert outcome.run.steps == _outcome(failing).run.steps
    assert outcome.violation is None
    assert not diff(failing, fixed).identical


def test_a_branch_can_be_branched_again(failing: TraceView) -> None:
    mark = failing.steps()[_first_fault(failing)]
    once = failing.branch(variant="faithful")
    twice = once.branch(change=RemoveStep(mark.index))
    assert _outcome(twice).run.variant == "faithful"
    assert _outcome(twice).lineage() == (None, RemoveStep(mark.index))
    # Branching a filtered view reruns the whole run it was cut from.
    assert once.filter(actor="client").branch(change=RemoveStep(mark.index)).sha256 == \
        twice.sha256


def test_a_branch_with_nothing_changed_in_the_steps_is_the_same_run(failing: TraceView) -> None:
    same = failing.branch(variant=VARIANT)
    assert diff(failing, same).identical and same.sha256 == failing.sha256


# ---------------------------------------------------------------------------- step lists
GIVE_UP_STEPS = [Step("advance", {"ms": 500}), Step("crash"), Step("advance", {"ms": 3000})]


@pytest.fixture(scope="module")
def give_up() -> TraceView:
    return TraceView.from_steps("echo", GIVE_UP_STEPS, variant=VARIANT)


def test_a_step_run_is_judged_by_every_invariant(give_up: TraceView) -> None:
    outcome = _outcome(give_up)
    assert give_up.source.kind == "steps" and outcome.run.judge is None
    assert outcome.violation is not None and outcome.violation.invariant_id == INVARIANT
    assert [m.index for m in give_up.steps()] == [0, 1, 2]
    assert [m.fault for m in give_up.steps()] == [None, "crash", None]
    assert give_up.steps()[1].t == pytest.approx(0.5)


def test_a_delay_inserts_virtual_time_before_the_step(give_up: TraceView) -> None:
    delayed = give_up.branch(change=Delay(1, 700))
    marks = delayed.steps()
    assert marks[1].step == Step("advance", {"ms": 700})
    assert marks[2].step == Step("crash") and marks[2].t == pytest.approx(1.2)
    assert diff(give_up, delayed).index == give_up.steps()[1].record


def test_changing_an_argument_and_replacing_a_step(give_up: TraceView) -> None:
    longer = give_up.branch(change=ChangeArg(0, "ms", 900))
    assert longer.steps()[1].t == pytest.approx(0.9)
    partitioned = give_up.branch(change=ReplaceStep(1, Step("partition")))
    assert [m.step.name for m in partitioned.steps()] == ["advance", "partition", "advance"]
    assert diff(give_up, partitioned).index == give_up.steps()[1].record


def test_an_explicit_index_before_t_is_refused(give_up: TraceView) -> None:
    with pytest.raises(ConfigError, match=r"step 1 was applied at 0.5s, before t=2s"):
        give_up.branch(2.0, RemoveStep(1))


@pytest.mark.parametrize(("change", "message"), [
    (RemoveStep(3), r"step index 3 is out of range \(this run has 3 steps, indexes 0..2\)"),
    (RemoveStep(-1), r"step index -1 is out of range"),
    (ChangeArg(0, "seconds", 1), r"step 0 \(advance\) has no argument 'seconds' \(it takes ms\)"),
    (ChangeArg(1, "ms", 1), r"step 1 \(crash\) has no argument 'ms' \(it takes no arguments\)"),
    (ReplaceStep(1, Step("explode")), r"which pack .echo. does not have"),
    (ReplaceStep(1, Step("half_open")), r"takes arguments \['believer'\], got \[\]"),
    (Delay(1, 0), r"by_ms must be a positive integer"),
    (RemoveStep(), r"give a step index, or a time t"),
])
def test_bad_changes_say_what_is_wrong(give_up: TraceView, change: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        give_up.branch(change=change)  # type: ignore[arg-type]


def test_branch_needs_something_to_change(give_up: TraceView) -> None:
    with pytest.raises(ConfigError, match="branch needs a change"):
        give_up.branch()
    with pytest.raises(ConfigError, match="not a change"):
        give_up.branch(change=Step("crash"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="has no variant 'nope'"):
        give_up.branch(variant="nope")


def test_a_bad_step_list_is_refused_before_running() -> None:
    with pytest.raises(ConfigError, match=r"step 0 \(advance\) takes arguments \['ms'\]"):
        TraceView.from_steps("echo", [Step("advance")])
    with pytest.raises(ConfigError, match=r"has no invariant 'echo\.nope'"):
        TraceView.from_steps("echo", GIVE_UP_STEPS, invariant="echo.nope")


def test_views_that_were_not_made_of_steps_cannot_be_rerun(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    echo_world(seed=1, clients=1, duration_s=5, path=path)
    loaded = TraceView.from_file(path)
    with pytest.raises(ConfigError, match=r"come from a file .*run\.jsonl, which has no steps"):
        loaded.branch(change=RemoveStep(0))
    with pytest.raises(ConfigError, match="which has no steps"):
        loaded.steps()


def test_a_step_view_reads_records_with_its_packs_words(give_up: TraceView) -> None:
    assert "reconnect in" in give_up.timeline()
