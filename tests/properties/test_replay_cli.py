"""``gatewaysim replay`` and emitted regression tests, run the way a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gatewaysim.properties.failure import load_failure
from gatewaysim.properties.replay import replay

from .helpers import ROOT, gatewaysim


def _hash_line(stdout: str) -> str:
    (line,) = [ln for ln in stdout.splitlines() if ln.startswith("trace sha256 ")]
    return line.split()[2]


def test_replay_reproduces_and_hash_matches(order_failure: Path) -> None:
    result = gatewaysim("replay", order_failure)
    assert result.returncode == 1, result.stderr
    assert "VIOLATED echo.order" in result.stdout
    assert "matches the failure file" in result.stdout
    assert "timeline:" in result.stdout and "client receives echo" in result.stdout
    assert result.stderr == ""


def test_two_processes_give_the_same_hash(reconnect_failure: Path) -> None:
    first = gatewaysim("replay", reconnect_failure, "--quiet")
    second = gatewaysim("replay", reconnect_failure, "--quiet")
    assert first.returncode == second.returncode == 1
    recorded = json.loads(reconnect_failure.read_text())["trace_sha256"]
    assert _hash_line(first.stdout) == _hash_line(second.stdout) == recorded


def test_replay_under_the_correct_variant_passes(order_failure: Path) -> None:
    result = gatewaysim("replay", order_failure, "--variant", "faithful", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HOLDS echo.order" in result.stdout
    assert "differs from the failure file" in result.stdout


def test_replay_in_process_matches_file(order_failure: Path) -> None:
    failure = load_failure(order_failure)
    result = replay(failure)
    assert result.hash_matches
    assert result.violation == failure.violation


def _run_pytest(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(path)], capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("which", ["order_failure", "reconnect_failure"])
def test_emitted_test_fails_with_bug_and_passes_when_fixed(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    failure_path: Path = request.getfixturevalue(which)
    buggy, fixed = tmp_path / "test_regression_buggy.py", tmp_path / "test_regression_fixed.py"
    assert gatewaysim("replay", failure_path, "--quiet", "--emit-test", buggy).returncode == 1
    assert gatewaysim("replay", failure_path, "--quiet", "--variant", "faithful",
                      "--emit-test", fixed).returncode == 0
    source = buggy.read_text()
    assert "Step(" in source and str(failure_path) not in source  # standalone
    failing = _run_pytest(buggy)
    assert failing.returncode == 1, failing.stdout
    assert "violated" in failing.stdout
    passing = _run_pytest(fixed)
    assert passing.returncode == 0, passing.stdout
