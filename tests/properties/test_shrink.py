"""The fault-plan pass: deletes, merges and weakens while the same invariant still fails,
within its own replay budget, the same way every time."""

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
