"""``gatewaysim explore`` end to end: progress on stderr, table on stdout, exit status; the
status line, the "next:" hint and Ctrl-C."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gatewaysim.properties.explorer import explore
from gatewaysim.properties.progress import StatusLine, wants_live_line, wrap

from .helpers import ROOT, gatewaysim

COLUMNS = 60


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
    assert "next:" not in result.stdout  # nothing to replay
    assert not (tmp_path / "findings").exists()


def _command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "gatewaysim", *map(str, args)]


# Ctrl-C as a terminal delivers it: a test run started in the background of a
# non-interactive shell ignores SIGINT, its children inherit that, and the command rightly
# leaves an ignored SIGINT ignored. So the interrupted command takes Python's default back.
CTRL_C_ABLE = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
               "from gatewaysim import cli; sys.exit(cli.main(sys.argv[1:]))")


def _env(columns: int = COLUMNS) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return {**env, "COLUMNS": str(columns), "PYTHONHASHSEED": "random"}


def test_progress_fits_the_terminal_and_the_table_ends_with_what_to_do_next(
    tmp_path: Path,
) -> None:
    out = tmp_path / "findings"
    result = subprocess.run(_command("explore", "echo", "--variant", "buggy", "--profile", "ci",
                                     "--max-examples", "300", "--out", out),
                            capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=300)
    assert result.returncode == 1, result.stderr
    progress = result.stderr.splitlines()
    assert any("found echo.order" in line for line in progress)
    assert max(len(line) for line in progress) <= COLUMNS, progress
    assert "\r" not in result.stderr and "\x1b" not in result.stderr  # a pipe: plain lines
    lines = result.stdout.splitlines()
    hint = lines.index(next(line for line in lines if line.startswith("next: ")))
    assert hint > next(i for i, line in enumerate(lines) if line.startswith("echo.order"))
    first = out / "echo-buggy-echo.order.json"  # the table's first finding
    assert lines[hint + 2:] == [f"  gatewaysim replay {first}",
                                f"  gatewaysim replay {first} --emit-test test_echo_order.py",
                                f"  gatewaysim replay {first} --report report"]


def _interrupt(args: list[str], after: str, cwd: Path) -> tuple[int, str, list[str]]:
    """Run ``gatewaysim explore ARGS``, send SIGINT once a progress line contains ``after``;
    return the exit status, stdout and the progress lines read."""
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_ABLE, "explore", *map(str, args)],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=_env())
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        while True:
            line = proc.stderr.readline()
            assert line, f"explore ended before printing {after!r}: {seen}"
            seen.append(line.rstrip("\n"))
            if after in line:
                break
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, stdout, seen + stderr.splitlines()


def test_ctrl_c_prints_the_table_so_far_and_exits_130(tmp_path: Path) -> None:
    status, stdout, progress = _interrupt(["echo", "--out", tmp_path / "findings"],
                                          "exploring echo", tmp_path)
    assert status == 130, (stdout, progress)
    assert "stopped: interrupted" in stdout.splitlines()[0]
    assert "no invariant violated before the interrupt" in stdout
    assert "coverage (fault combinations" in stdout  # the rest of the summary so far
    assert "Traceback" not in "\n".join(progress)


def test_ctrl_c_keeps_the_findings_already_shrunk(tmp_path: Path) -> None:
    out = tmp_path / "findings"
    status, stdout, progress = _interrupt(
        ["echo", "--variant", "buggy", "--budget", "5m", "--out", out],
        "echo.order: minimal run has", tmp_path)
    assert status == 130, (stdout, progress)
    rows = [line for line in stdout.splitlines() if line.startswith("echo.order ")]
    assert len(rows) == 1 and rows[0].endswith(str(out / "echo-buggy-echo.order.json"))
    assert (out / "echo-buggy-echo.order.json").is_file()
    assert f"  gatewaysim replay {out / 'echo-buggy-echo.order.json'}" in stdout
    assert max(len(line) for line in progress) <= COLUMNS


def test_explore_interrupted_raises_with_the_report_so_far() -> None:
    class Stop:
        """A progress stream that presses Ctrl-C at the first finding."""

        def write(self, text: str) -> int:
            if "found echo.order" in text:
                raise KeyboardInterrupt
            return len(text)

        def flush(self) -> None:
            pass

    from gatewaysim.properties.explorer import Interrupted

    with pytest.raises(Interrupted) as caught:
        explore("echo", "buggy", budget_s=60, max_examples=300, profile="ci", out_dir=None,
                progress=Stop())  # type: ignore[arg-type]
    report = caught.value.report
    assert report.interrupted and report.stopped.startswith("interrupted")
    assert report.findings == () and report.unshrunk == ("echo.order",)
    assert report.unreached == ()  # an interrupted campaign did not get the chance
    assert not report.failed and type(caught.value.__cause__) is KeyboardInterrupt
    assert "also seen, not shrunk before the interrupt (no failure file): echo.order" in (
        report.render())


# ---------------------------------------------------------------- the status line
class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_live_line_only_in_a_terminal_with_rich_and_not_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert wants_live_line(Terminal())
    assert not wants_live_line(io.StringIO())  # a pipe or a file
    assert not wants_live_line(None)
    monkeypatch.setitem(sys.modules, "rich.live", None)  # rich not installed
    assert not wants_live_line(Terminal())
    line = StatusLine(Terminal(), status=lambda: "the live line")
    assert not line.live and line.width is None  # plain lines (not a file: unwrapped)
    monkeypatch.undo()
    monkeypatch.setenv("CI", "true")
    assert not wants_live_line(Terminal())


def test_without_a_terminal_the_status_line_prints_plain_lines() -> None:
    out = io.StringIO()
    with StatusLine(out, status=lambda: "the live line") as line:
        assert not line.live
        line.say("  found echo.order")
    assert out.getvalue() == "  found echo.order\n"  # the live text is never printed


def test_in_a_terminal_the_live_line_is_drawn_and_taken_away(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    out = Terminal()
    with StatusLine(out, status=lambda: "budget left 12s") as line:
        assert line.live
        line.refresh()
        line.say("  found echo.order")
    text = out.getvalue()
    assert "budget left 12s" in text and "  found echo.order\n" in text
    assert text.endswith("\x1b[2K")  # transient: the last thing done is erasing the line


def test_plain_lines_wrap_to_the_width_and_keep_every_word() -> None:
    text = ("    12.3s  round 2  400 examples  3000 steps  33.1/s  findings: lumenize.no_pingpong, "
            "lumenize.subscribed_in_rows  budget left 47s")
    lines = wrap(text, 40)
    assert all(len(line) <= 40 for line in lines) and len(lines) > 1
    assert lines[0].startswith("    12.3s  round 2") and lines[1].startswith("        ")
    assert " ".join(" ".join(lines).split()) == " ".join(text.split())
    assert wrap(text, None) == [text]  # a stream that is not a file: lines for a program
    assert all(len(line) <= 20 for line in wrap("x" * 50, 20))


def test_in_a_terminal_no_line_of_the_summary_is_wider_than_it(tmp_path: Path) -> None:
    """stdout a terminal of 50 columns: the table, the coverage and the hint are wrapped to
    it (a pipe gets them whole, as the tests above read them)."""
    import pty

    out = tmp_path / "findings"
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            _command("explore", "echo", "--variant", "buggy", "--profile", "ci",
                     "--max-examples", "200", "--out", out),
            stdout=follower, stderr=subprocess.DEVNULL, env=_env(50), cwd=tmp_path)
        os.close(follower)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end closed: the command is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        status = proc.wait(timeout=120)
    finally:
        os.close(leader)
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    assert status == 1, text
    assert "echo.order" in text and "gatewaysim replay" in text
    assert max(len(line) for line in text.splitlines()) <= 50, text
