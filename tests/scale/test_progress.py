"""Live progress: one rewritten status line in a terminal, plain lines in a pipe or CI."""

from __future__ import annotations

import io

import pytest

from gatewaysim.properties.scale.campaign import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _feed(progress: Progress) -> None:
    progress.line(0, "     1.0s  round 1  40 examples  300 steps  40.0/s  findings: none")
    progress.line(1, "     1.0s  found echo.order after 3 examples (1 steps); shrinking")
    progress.line(1, "     1.0s  round 1  10 examples  90 steps  10.0/s  findings: echo.order")


def test_a_terminal_gets_one_status_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for the whole line
    out = Terminal()
    progress = Progress(out, shards=4, budget_s=60, every_s=5)
    _feed(progress)
    for _ in range(3):
        progress.tick()
    text = out.getvalue()
    assert "\n" not in text and text.count("\r") == 3
    status = text.split("\r")[-1]
    assert "shards 0/4 done" in status and "50 examples" in status
    assert "findings: echo.order" in status and "budget left" in status and "steps/s" in status
    progress.say("  shard 0 done")
    progress.close()
    assert out.getvalue().endswith("  shard 0 done\n")


def test_the_status_line_fits_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("COLUMNS", "40")
    out = Terminal()
    progress = Progress(out, shards=4, budget_s=60, every_s=5)
    _feed(progress)
    progress.tick()
    status = out.getvalue().split("\r")[-1]
    assert len(status) == 39 and status.startswith(" ") and status.endswith("…")


@pytest.mark.parametrize("tty", [False, True])
def test_a_pipe_or_ci_gets_plain_lines(tty: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    out = Terminal() if tty else io.StringIO()
    progress = Progress(out, shards=4, budget_s=60, every_s=3600)
    _feed(progress)
    progress.tick()  # not yet time for a line
    progress.tick(force=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and "\r" not in out.getvalue()
    assert "50 examples" in lines[0] and "shards 0/4 done" in lines[0]
