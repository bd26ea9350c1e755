"""``gatewaysim explore`` end to end: progress on stderr, table on stdout, exit status."""

from __future__ import annotations

from pathlib import Path

from .helpers import gatewaysim


def test_explore_finds_a_bug_and_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "findings"
    result = gatewaysim("explore", "echo", "--variant", "mutant:give_up", "--profile", "ci",
                        "--max-examples", "1000", "--budget", "5m", "--out", out)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("exploring echo (variant mutant:give_up")
    assert "found echo.reconnects" in result.stderr
    table = result.stdout.splitlines()
    header = next(i for i, line in enumerate(table) if line.startswith("invariant"))
    assert table[header].split() == ["invariant", "steps", "time", "to", "find", "examples",
                                     "failure", "file"]
    assert table[header + 1].startswith("echo.reconnects")
    assert [p.name for p in out.iterdir()] == ["echo-mutant_give_up-echo.reconnects.json"]
    assert str(out / "echo-mutant_give_up-echo.reconnects.json") in result.stdout


def test_explore_faithful_exits_0(tmp_path: Path) -> None:
    result = gatewaysim("explore", "echo", "--profile", "ci", "--max-examples", "10",
                        "--out", tmp_path / "findings")
    assert result.returncode == 0, result.stderr
    assert "no invariant violated" in result.stdout
    assert not (tmp_path / "findings").exists()
