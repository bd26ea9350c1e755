"""End to end, in fresh interpreters: what a user at a shell sees."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from .helpers import REPO, run_cli

ARGS = ("run", "echo", "--seed", "11", "--duration", "10m")


def hash_of(stdout: str) -> str:
    last = stdout.splitlines()[-1]
    assert last.startswith("trace sha256: ")
    return last.removeprefix("trace sha256: ")


def test_hash_does_not_depend_on_pythonhashseed(tmp_path: Path) -> None:
    a = run_cli(*ARGS, "--trace", str(tmp_path / "a.jsonl"), env={"PYTHONHASHSEED": "0"})
    b = run_cli(*ARGS, "--trace", str(tmp_path / "b.jsonl"), env={"PYTHONHASHSEED": "4242"})
    assert a.returncode == 0, a.stderr
    assert b.returncode == 0, b.stderr
    assert hash_of(a.stdout) == hash_of(b.stdout)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert hashlib.sha256((tmp_path / "a.jsonl").read_bytes()).hexdigest() == hash_of(a.stdout)


def test_unknown_scenario_from_a_shell_is_one_line_without_traceback() -> None:
    result = run_cli("run", "no-such-scenario")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert "'gatewaysim run --list' names all" in result.stderr


def test_unwritable_trace_path_from_a_shell(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "t.jsonl"
    result = run_cli("run", "echo", "--trace", str(target))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not target.parent.exists()


def test_bad_duration_from_a_shell() -> None:
    result = run_cli("run", "echo", "--duration", "5x")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "gatewaysim: error: bad duration '5x': expected a number and a unit "
        "(us, ms, s, m, h), e.g. 250ms, 5s, 1h"
    ]


def test_version_from_a_shell() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("gatewaysim ")


def test_running_one_pack_imports_no_other_pack() -> None:
    """Scenario names start with their pack's name, so ``run echo`` loads only the echo pack:
    a pack with heavy wiring (or one that is broken) costs nothing to a user of another."""
    code = (
        "import sys; from gatewaysim.cli import main; "
        "main(['run', 'echo', '--duration', '2s', '--quiet']); "
        "from gatewaysim.properties.pack import pack_names; "
        "print(sorted({m.split('.')[2] for m in sys.modules "
        "if m.startswith(('gatewaysim.models.', 'gatewaysim.properties.')) "
        "and m.count('.') >= 3} & set(pack_names())))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=REPO)
    assert result.stdout.splitlines()[-1] == "['echo']"
