"""``gatewaysim replay`` prints the window before the violation: ``--window``, ``--actor``,
``--limit``; steps numbered from 0 as in the failure file; durations as durations."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gatewaysim.properties.failure import load_failure
from gatewaysim.properties.replay import replay
from gatewaysim.simulator.clock import SECOND

from .conftest import gatewaysim

LINE = re.compile(r"^\s*(\d+)\.(\d{3})s  (\S+)\s")


def _timeline(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("timeline: "))
    end = next(i for i, ln in enumerate(lines) if ln.startswith(("VIOLATED", "HOLDS",
                                                                 "DIFFERENT")))
    return [ln for ln in lines[start + 1:end] if not ln.startswith("    (")]


def _times(lines: list[str]) -> list[int]:
    return [int(m[1]) * SECOND + int(m[2]) * 1000 for ln in lines if (m := LINE.match(ln))]


def test_default_window_is_the_minute_before_the_violation(hung_call_file: Path) -> None:
    result = gatewaysim("replay", hung_call_file)
    assert result.returncode == 1, result.stderr
    v = json.loads(hung_call_file.read_text())["violation"]
    assert "timeline: the 1m before the violation at 179.310s (from 119.310s)" in result.stdout
    assert "earlier records not shown: --window all shows them" in result.stdout
    times = _times(_timeline(result.stdout))
    assert times and min(times) >= v["t"] - 60 * SECOND and max(times) <= v["t"]
    assert max(times) >= v["t"] - SECOND  # it reaches the violation, not the run's start


def test_window_and_limit_bound_the_lines(hung_call_file: Path) -> None:
    result = gatewaysim("replay", hung_call_file, "--window", "5s", "--limit", "7")
    lines = _timeline(result.stdout)
    assert len(lines) == 7
    assert "earlier lines of the window not shown: --limit 0 shows them" in result.stdout
    times = _times(lines)
    assert min(times) >= 179_310_000 - 5 * SECOND
    assert "the 5s before the violation" in result.stdout
    longer = _timeline(gatewaysim("replay", hung_call_file, "--window", "5", "--limit",
                                  "0").stdout)
    assert len(longer) > 7 and longer[-7:] == lines  # the limit keeps the nearest lines


def test_actor_globs_pick_lines_faults_and_steps_stay(order_file: Path) -> None:
    result = gatewaysim("replay", order_file, "--actor", "cli*", "--window", "all")
    assert result.returncode == 1, result.stderr
    lines = _timeline(result.stdout)
    actors = {m[3] for ln in lines if (m := LINE.match(ln))}
    assert "client" in actors and "echo" not in actors
    assert "world" in actors  # faults are always shown
    assert any("-- step 0: Step('crash') [crash] --" in ln for ln in lines)
    assert "timeline: the whole run up to the violation" in result.stdout


def test_steps_are_numbered_from_zero_with_their_times(order_file: Path) -> None:
    result = gatewaysim("replay", order_file)
    failure = load_failure(order_file)
    assert "    0     0.000s  Step('crash')  [crash]" in result.stdout
    n = failure.violation.step_index
    assert f"after step {n - 1}:" in result.stdout  # steps[n-1] was the last one applied


def test_bad_window_is_a_usage_error(order_file: Path) -> None:
    result = gatewaysim("replay", order_file, "--window", "soon")
    assert result.returncode == 2 and "--window" in result.stderr
    result = gatewaysim("replay", order_file, "--limit", "-1")
    assert result.returncode == 2 and "--limit" in result.stderr


def test_in_process_window_matches_the_records(hung_call_file: Path) -> None:
    failure = load_failure(hung_call_file)
    result = replay(failure, window=2 * SECOND, timeline_limit=None)
    assert result.window == (failure.violation.t - 2 * SECOND, failure.violation.t)
    assert result.records_before_timeline > 0
    times = _times(result.timeline_text.splitlines())
    assert times and min(times) >= failure.violation.t - 2 * SECOND
