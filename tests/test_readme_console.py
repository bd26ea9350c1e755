"""Every ``console`` block of the README is run, and its output compared with the block.

A block is a series of ``$ gatewaysim ...`` commands, each followed by the output it
shows (stdout and stderr, in that order). A line that is only ``...`` stands for any
number of lines, zero included; every other line must match exactly, hashes included,
so an example that no longer says what gatewaysim prints fails here, not in front of a
reader. Commands run in one temporary folder per block, as ``gatewaysim`` would from a
fresh checkout; a file a block's prose says the reader made (an edited failure file) is
written there first (see ``SETUP``).

Blocks that cannot pass as written are listed in ``KNOWN_WRONG`` with the reason, as
strict expected failures: when the README is corrected, the test says so and the entry
must go. ``SKIPPED`` commands are not run, with the reason.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GATEWAYSIM = Path(sys.executable).parent / "gatewaysim"
WILDCARD = "..."

SKIPPED = {
    "gatewaysim explore lumenize --profile ci": (
        "a full lumenize campaign (about 30-50 s on one core) whose first line reports wall-clock "
        "figures (seconds, examples/s) that differ on every run"),
}


def _edited_failure(folder: Path) -> None:
    """The failure file the README's "Bad input" prose describes: a step argument of 1.5
    (an echo run: its ``advance`` step takes 1 to 3600000 ms, the range the block shows)."""
    from gatewaysim.properties.echo import PACK

    (folder / "findings").mkdir(exist_ok=True)
    (folder / "findings" / "edited.json").write_text(json.dumps({
        "format": "gatewaysim-failure", "version": 1, "pack": "echo",
        "variant": "faithful", "config": PACK.config.for_variant("faithful").to_dict(),
        "seed": 0, "steps": [{"name": "advance", "args": {"ms": 1.5}}],
        "invariant": {"id": "echo.reconnects", "statement": "edited by hand"},
        "violation": {"message": "edited by hand", "t": 0, "step": 1},
        "trace_sha256": "0" * 64, "found_after_s": 0.0, "examples": 1, "shrunk": True,
    }))


SETUP: dict[str, Callable[[Path], None]] = {
    "gatewaysim replay findings/edited.json": _edited_failure,
}

KNOWN_WRONG: dict[str, str] = {}


def console_blocks(text: str) -> list[tuple[int, list[str]]]:
    """``(line number, lines)`` of every fenced ``console`` block."""
    blocks: list[tuple[int, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```console":
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append((start + 1, body))
        i += 1
    return blocks


def commands(body: list[str]) -> list[tuple[str, list[str]]]:
    """Each ``$ gatewaysim ...`` command with the output lines shown after it."""
    out: list[tuple[str, list[str]]] = []
    for line in body:
        if line.startswith("$ "):
            out.append((line[2:].strip(), []))
        elif out:
            out[-1][1].append(line)
    return out


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; a line that is only ``...`` matches any run of lines (or none)."""
    pattern = "".join(
        r"(?:[^\n]*\n)*?" if line.strip() == WILDCARD else re.escape(line.rstrip()) + r"\n"
        for line in expected)
    text = "".join(line.rstrip() + "\n" for line in actual)
    return re.fullmatch(pattern, text) is not None


def test_the_matcher_needs_every_line_and_lets_dots_stand_for_any() -> None:
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "d"], ["a", "d"])
    assert matches(["  ...", "b"], ["x", "y", "b"])
    assert not matches(["a", "d"], ["a", "b", "d"])
    assert not matches(["trace sha256: …"], ["trace sha256: " + "ab" * 32])
    assert not matches(["a", "..."], ["b", "c"])


def run_command(command: str, folder: Path) -> list[str]:
    argv = command.split()
    assert argv[0] == "gatewaysim", f"not a gatewaysim command: {command}"
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "CI": "1"}
    done = subprocess.run([str(GATEWAYSIM), *argv[1:]], cwd=folder, capture_output=True,
                          text=True, env=env, timeout=300, check=False)
    return (done.stdout + done.stderr).splitlines()


def _cases() -> list[object]:
    cases: list[object] = []
    for line_no, body in console_blocks(README.read_text()):
        for command, expected in commands(body):
            marks = []
            if command in SKIPPED:
                marks.append(pytest.mark.skip(reason=SKIPPED[command]))
            elif command in KNOWN_WRONG:
                marks.append(pytest.mark.xfail(reason=KNOWN_WRONG[command], strict=True))
            cases.append(pytest.param(command, expected, id=f"README.md:{line_no} {command}",
                                      marks=marks))
    return cases


def test_the_readme_has_console_blocks() -> None:
    assert len(console_blocks(README.read_text())) >= 5


@pytest.mark.parametrize(("command", "expected"), _cases())
def test_readme_console_block(command: str, expected: list[str], tmp_path: Path) -> None:
    if command in SETUP:
        SETUP[command](tmp_path)
    actual = run_command(command, tmp_path)
    assert matches(expected, actual), (
        f"README block for `{command}` does not match what it prints.\n"
        "--- README\n" + "\n".join(expected) + "\n--- printed\n" + "\n".join(actual))
