"""The explorer finds planted bugs, shrinks them, writes failure files, and finds nothing
in the correct model."""

from __future__ import annotations

import io
import json
from pathlib import Path

from gatewaysim.properties.explorer import ExploreReport, explore
from gatewaysim.properties.failure import load_failure


def test_buggy_echo_violates_both_invariants(buggy_campaign: tuple[ExploreReport, Path]) -> None:
    report, out = buggy_campaign
    assert {f.invariant_id for f in report.findings} == {"echo.order", "echo.reconnects"}
    # One failure file per distinct invariant, nothing else left in the directory.
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f.path.name for f in report.findings if f.path is not None)


def test_findings_are_shrunk(buggy_campaign: tuple[ExploreReport, Path]) -> None:
    report, _ = buggy_campaign
    for finding in report.findings:
        # Each planted bug needs a crash (or a restart) and some time: a handful of steps,
        # far below the 15-step runs Hypothesis starts from.
        assert 1 <= len(finding.steps) <= 4, finding
        names = [s.name for s in finding.steps]
        assert "crash" in names


def test_failure_file_records_the_run(buggy_campaign: tuple[ExploreReport, Path]) -> None:
    report, _ = buggy_campaign
    for finding in report.findings:
        assert finding.path is not None
        data = json.loads(finding.path.read_text())
        assert data["format"] == "gatewaysim-failure" and data["version"] == 1
        assert (data["pack"], data["variant"], data["seed"]) == ("echo", "buggy", 0)
        failure = load_failure(finding.path)
        assert failure.steps == finding.steps
        assert failure.invariant_id == finding.invariant_id
        assert failure.trace_sha256 == finding.trace_sha256
        assert failure.violation == finding.violation


def test_campaign_counts_and_coverage(buggy_campaign: tuple[ExploreReport, Path]) -> None:
    report, _ = buggy_campaign
    assert report.examples > 0 and report.steps > report.examples
    labels = dict(report.coverage)
    assert any(label.startswith("crash while") for label in labels)
    text = report.render()
    assert "echo.order" in text and "echo.reconnects" in text and "coverage" in text
    # Each round ends at its first bug; the campaign ends when its examples are spent.
    assert report.stopped == "example bound reached" and report.examples == 400
    assert report.rounds >= 3


def test_faithful_echo_finds_nothing(tmp_path: Path) -> None:
    out = tmp_path / "findings"
    report = explore("echo", "faithful", budget_s=300, max_examples=40, out_dir=out,
                     profile="ci", progress=None)
    assert report.findings == ()
    assert not out.exists()
    assert "no invariant violated" in report.render()


def test_progress_lines_are_written(tmp_path: Path) -> None:
    stream = io.StringIO()
    explore("echo", "faithful", budget_s=300, max_examples=5, out_dir=tmp_path,
            profile="ci", progress=stream, progress_every_s=0.0)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("exploring echo (variant faithful")
    assert any("examples" in line and "findings: none" in line for line in lines[1:])


def test_budget_stops_the_campaign(tmp_path: Path) -> None:
    report = explore("echo", "faithful", budget_s=1e-6, out_dir=tmp_path, profile="ci",
                     progress=None)
    # Under ci the campaign is bounded by examples: the wall clock is only a safety stop,
    # and a campaign it stops says it is incomplete.
    assert report.stopped.startswith("incomplete: the wall-clock safety stop")
    assert report.findings == ()
    dev = explore("echo", "faithful", budget_s=1e-6, out_dir=tmp_path, profile="dev",
                  progress=None)
    assert dev.stopped == "budget spent"


def test_budget_running_out_mid_round_is_a_clean_stop(tmp_path: Path) -> None:
    # A round far too long for the budget: the campaign stops between examples and
    # reports what it saw, whatever state Hypothesis was in.
    report = explore("echo", "faithful", budget_s=1.5, max_examples=1_000_000,
                     out_dir=tmp_path, profile="ci", progress=None)
    assert report.stopped.startswith("incomplete")
    assert report.examples > 0 and report.rounds == 1
