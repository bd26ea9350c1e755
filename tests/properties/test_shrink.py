"""The fault-plan pass: deletes, merges and weakens while the same invariant still fails,
within its own replay budget, the same way every time; and a zoo hunt shrinks the run it
found with budgets of its own, saying when they ran out."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gatewaysim.properties.failure import SCHEMA
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.shrink import shrink
from gatewaysim.properties.steps import Step

A = "advance"
NOISY = [Step(A, {"ms": 4000}), Step("half_open", {"believer": "server"}), Step(A, {"ms": 700}),
         Step(A, {"ms": 800}), Step("crash"), Step(A, {"ms": 1200}), Step(A, {"ms": 1300}),
         Step("partition"), Step("heal"), Step(A, {"ms": 900})]


def _failing() -> tuple[RunSpec, object]:
    spec = RunSpec.of("echo", NOISY, variant="mutant:give_up", judge="echo.reconnects")
    violation = spec.execute().violation
    assert violation is not None and violation.invariant_id == "echo.reconnects"
    return spec, violation


def test_noise_is_removed_and_the_invariant_still_fails() -> None:
    spec, violation = _failing()
    shrunk = shrink(spec, violation)  # type: ignore[arg-type]
    assert shrunk.complete and len(shrunk.steps) < len(NOISY)
    assert shrunk.violation.invariant_id == "echo.reconnects"
    again = RunSpec.of("echo", shrunk.steps, variant="mutant:give_up",
                       judge="echo.reconnects").execute().violation
    assert again == shrunk.violation
    # A fixpoint: deleting any one remaining step makes the run pass.
    for i in range(len(shrunk.steps)):
        fewer = shrunk.steps[:i] + shrunk.steps[i + 1:]
        assert RunSpec.of("echo", fewer, variant="mutant:give_up",
                          judge="echo.reconnects").execute().violation is None


def test_adjacent_waits_are_merged() -> None:
    spec = RunSpec.of("echo", [Step("crash"), Step(A, {"ms": 1000}), Step(A, {"ms": 1571})],
                      variant="mutant:give_up", judge="echo.reconnects")
    violation = spec.execute().violation
    assert violation is not None
    shrunk = shrink(spec, violation)
    assert sum(s.name == A for s in shrunk.steps) <= 1


def test_the_budget_is_a_count_of_replays_and_an_unfinished_pass_says_so() -> None:
    spec, violation = _failing()
    cut = shrink(spec, violation, replays=3)  # type: ignore[arg-type]
    assert not cut.complete and cut.replays == 3
    assert shrink(spec, violation, replays=3) == cut  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["echo.order", "echo.reconnects"])
def test_written_failure_files_match_the_published_schema(name: str, tmp_path: Path) -> None:
    from gatewaysim.properties.explorer import explore

    report = explore("echo", "buggy", max_examples=200, profile="ci", out_dir=tmp_path,
                     progress=None)
    finding = {f.invariant_id: f for f in report.findings}[name]
    assert finding.path is not None and finding.shrunk
    data = json.loads(finding.path.read_text())
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    assert data["shrunk"] is True


def _on(name: str, client: int = 0, **args: object) -> Step:
    return Step(name, {"client": client, **args})


#: The bug's run (a drop under a partition, a wait, a wake-up while the reconnect's socket is
#: still CONNECTING) buried in ten steps of noise: probes, other tabs' calls, drops, wake-ups.
NO_STALE_CLOSE_GUARD_AS_FOUND = [
    Step("probe", {"kind": "envelope_version"}), _on("open_tab", 2),
    _on("client_call", 1, awaited=True), _on("drop", 3), _on("wake", 2, kind="focus"),
    Step(A, {"ms": 1000}), _on("partition"), _on("drop"), Step(A, {"ms": 700}),
    _on("client_call", 2, awaited=True), Step(A, {"ms": 5000}), _on("wake", kind="visible"),
    Step("probe", {"kind": "unknown_path"}), _on("wake", 3, kind="online")]


def test_a_long_run_of_a_zoo_mutant_shrinks_to_a_few_steps_with_the_same_invariant() -> None:
    variant = "mutant:no_stale_close_guard"
    spec = RunSpec.of("lumenize", NO_STALE_CLOSE_GUARD_AS_FOUND, variant=variant)
    found = spec.execute().violation
    assert found is not None and found.invariant_id == "lumenize.stale_socket_fenced"
    shrunk = shrink(spec, found)
    assert shrunk.complete and len(shrunk.steps) <= 6, shrunk.steps
    assert shrunk.violation.invariant_id == found.invariant_id
    again = spec.with_steps(shrunk.steps)
    assert again.execute().violation == shrunk.violation
    assert again.under("fixed").execute().violation is None  # it is the planted bug
    for i in range(len(shrunk.steps)):  # and every step left is needed
        fewer = again.with_steps(shrunk.steps[:i] + shrunk.steps[i + 1:])
        assert fewer.execute().violation is None, i


def test_a_hunt_shrinks_the_run_it_found_within_budgets_of_its_own() -> None:
    from gatewaysim.properties.lumenize.zoo import hunt

    variant = "mutant:call_response_inverted"
    full = hunt(variant, 50, seed=0, profile="ci", hypothesis_replays=200)  # it needs ~100
    assert full.invariant_id == "lumenize.client_call_returns_result"
    assert full.shrunk and full.hypothesis_complete
    assert len(full.steps) < full.found_steps and len(full.steps) <= 6
    again = RunSpec.of("lumenize", full.steps, variant=variant).execute().violation
    assert again == full.violation
    # Budgets too small to finish: the same search, a longer run, and the hunt says so.
    cut = hunt(variant, 50, seed=0, profile="ci", hypothesis_replays=0, shrink_replays=1)
    assert (cut.invariant_id, cut.examples, cut.found_steps) == (
        full.invariant_id, full.examples, full.found_steps)
    assert not cut.shrunk and not cut.hypothesis_complete
    assert (cut.hypothesis_replays, cut.plan_replays) == (0, 1)
    assert len(full.steps) < len(cut.steps) < cut.found_steps


def test_a_judged_hunt_is_not_ended_by_another_invariant() -> None:
    from gatewaysim.properties.lumenize.zoo import hunt

    variant = "mutant:call_response_inverted"  # caught at once by client_call_returns_result
    anything = hunt(variant, 20, seed=0, profile="ci", shrink=False)
    assert anything.invariant_id == "lumenize.client_call_returns_result"
    judged = hunt(variant, 20, seed=0, profile="ci", shrink=False, judge="lumenize.call_id_once")
    assert judged.invariant_id is None and judged.stopped == "example bound reached"
    assert judged.examples >= 20
