"""Every bad input a user can give, as a user gives it: one line on stderr, exit status 2, no
traceback, and nothing left behind.

Each row is (name, how to build the command in a fresh folder, what the one line says). The
commands run in a fresh process, the way a shell runs them; the folder must hold exactly
what it held before (no temporary file, no half-written output).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ..properties.helpers import gatewaysim

LONG = "x" * 300
DEEP = "[" * 200_000 + "]" * 200_000
Build = Callable[[Path, Path], list[str]]


def failure_with(**edits: object) -> Callable[[Path, Path], list[str]]:
    """A command replaying the echo finding with ``edits`` applied to its JSON."""

    def build(tmp: Path, good: Path) -> list[str]:
        data = json.loads(good.read_text())
        for key, value in edits.items():
            target, _, field = key.rpartition(".")
            node = data
            for part in filter(None, target.split(".")):
                node = node[int(part)] if part.isdigit() else node[part]
            node[int(field) if field.isdigit() else field] = value
        path = tmp / "edited.json"
        path.write_text(json.dumps(data))
        return ["replay", str(path)]

    return build


def raw_failure(text: str) -> Build:
    def build(tmp: Path, good: Path) -> list[str]:
        (tmp / "raw.json").write_text(text)
        return ["replay", str(tmp / "raw.json")]

    return build


def raw_bytes(tmp: Path, data: bytes) -> list[str]:
    (tmp / "raw.json").write_bytes(data)
    return ["replay", str(tmp / "raw.json")]


def argv(*words: str) -> Build:
    return lambda tmp, good: [w.replace("{tmp}", str(tmp)) for w in words]


CASES: list[tuple[str, Build, str]] = [
    # numbers too large for their purpose
    ("400-digit duration", argv("run", "echo", "--duration", "9" * 400 + "h"), "bad duration"),
    ("400-digit budget", argv("explore", "echo", "--budget", "9" * 400 + "s"), "bad duration"),
    ("duration beyond a week", argv("run", "echo", "--duration", "99999999999h"),
     "longer than a week"),
    ("budget beyond a week", argv("explore", "echo", "--budget", "169h"), "longer than a week"),
    ("5000-digit seed", argv("run", "echo", "--seed", "7" * 5000), "bad seed"),
    ("5000-digit explore seed", argv("explore", "echo", "--seed", "7" * 5000), "--seed"),
    ("5000-digit seed in a file", raw_failure(
        '{"format": "gatewaysim-failure", "version": 1, "seed": ' + "7" * 5000 + "}"),
     "not a failure file"),
    ("seed above 2**64 in a file", failure_with(seed=2 ** 64), "seed must be an integer"),
    ("negative seed in a file", failure_with(seed=-1), "seed must be an integer from 0"),
    # names the file system refuses
    ("300-char trace name", argv("run", "echo", "--duration", "1s", "--trace", LONG),
     "File name too long"),
    ("300-char out name", argv("explore", "echo", "--out", LONG), "File name too long"),
    ("300-char emit-test name", lambda tmp, good: ["replay", str(good), "--emit-test", LONG],
     "File name too long"),
    # malformed files
    ("nested 200,000 deep", raw_failure(DEEP), "nested too deeply"),
    ("NaN in a file", raw_failure('{"format": "gatewaysim-failure", "x": NaN}'),
     "NaN is not a number"),
    ("not UTF-8", lambda tmp, good: [*raw_bytes(tmp, b"\xff\xfe{}")], "not UTF-8"),
    ("empty file", argv("replay", "/dev/null"), "not JSON"),
    ("float advance", failure_with(**{"steps.0": {"name": "advance", "args": {"ms": 1.5}}}),
     "'ms' must be an integer from 1 to"),
    ("string advance", failure_with(**{"steps.0": {"name": "advance", "args": {"ms": "abc"}}}),
     "'ms' must be an integer"),
    ("negative advance", failure_with(**{"steps.0": {"name": "advance", "args": {"ms": -5}}}),
     "'ms' must be an integer from 1"),
    ("advance of 10**12 ms", failure_with(**{"steps.0": {"name": "advance",
                                                         "args": {"ms": 10 ** 12}}}),
     "'ms' must be an integer from 1 to"),
    ("unknown choice", failure_with(**{"steps.0": {"name": "half_open",
                                                   "args": {"believer": "nobody"}}}),
     "'believer' must be one of 'server', 'client'"),
    ("bool for a string", failure_with(**{"steps.0": {"name": "half_open",
                                                      "args": {"believer": True}}}),
     "'believer' must be one of"),
    ("extra step field", failure_with(**{"steps.0": {"name": "drop", "args": {}, "x": 1}}),
     "steps[0] has unknown fields x"),
    ("version 1.0", failure_with(version=1.0), "unsupported failure file version 1.0"),
    ("version true", failure_with(version=True), "unsupported failure file version True"),
    ("unknown variant label", failure_with(variant="fixxed"), "variant 'fixxed' is not one"),
    ("config of the wrong type", failure_with(**{"config.give_up_after": "3"}),
     "give_up_after must be int"),
    ("config out of range", failure_with(**{"config.give_up_after": -5}),
     "give_up_after must not be negative"),
    ("config null", failure_with(**{"config.give_up_after": None}), "give_up_after"),
    ("unknown config key", failure_with(**{"config.colour": "red"}), "unknown config keys"),
    ("unknown top-level field", failure_with(colour="red"), "unknown fields colour"),
    ("violation time a string", failure_with(**{"violation.t": "1s"}),
     "violation.t must be an integer"),
    ("sometimes monitor as invariant",
     failure_with(**{"invariant.id": "echo.reconnected_after_fault"}), "a sometimes monitor"),
    # argparse's own complaints are one line too
    ("unknown option", argv("run", "echo", "--bogus"), "unrecognized arguments: --bogus"),
    ("unknown command", argv("nosuchcommand"), "invalid choice"),
    ("missing pack", argv("explore"), "the following arguments are required"),
    ("bad --pack", argv("packs", "--pack", "nocolon"), "--pack takes module:attr"),
    ("bad profile", argv("explore", "echo", "--profile", "nope"), "unknown profile 'nope'"),
    # output paths that cannot be written, found before any work is done
    ("trace into a missing folder", argv("run", "echo", "--trace", "{tmp}/no/t.jsonl"),
     "No such file or directory"),
    ("out is a file", lambda tmp, good: ["explore", "echo", "--out", str(good)],
     "exists and is not a directory"),
    ("emit-test into a folder", lambda tmp, good: ["replay", str(good), "--emit-test",
                                                   str(tmp)], "it is a directory"),
    ("full disk under --trace", argv("run", "echo", "--duration", "1h", "--trace", "/dev/full"),
     "No space left on device"),
]


@pytest.fixture(scope="module")
def good_failure(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("good")
    done = gatewaysim("explore", "echo", "--variant", "buggy", "--profile", "ci", "--out", out,
                      "--max-examples", "200")
    assert done.returncode == 1, done.stderr
    return out / "echo-buggy-echo.order.json"


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(folder)): (p.stat().st_mode, p.read_bytes() if p.is_file() else b"")
            for p in sorted(folder.rglob("*"))}


def assert_one_line(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout[-500:], done.stderr[-500:])
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("gatewaysim: error: ") and expected in lines[0], lines[0]
    assert len(lines[0]) < 400


@pytest.mark.parametrize(("name", "build", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(
        name: str, build: Build, expected: str, good_failure: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    local = work / "finding.json"
    shutil.copy(good_failure, local)
    command = build(work, local)
    before = snapshot(work)
    done = gatewaysim(*command, cwd=work)
    assert_one_line(done, expected)
    after = snapshot(work)
    assert after.keys() - before.keys() <= {"edited.json", "raw.json"}, after.keys()


# ---------------------------------------------------------------------------- read-only disks
def _read_only_mount_works() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            "mount -t tmpfs -o ro tmpfs /mnt && ! touch /mnt/x"],
                           capture_output=True, check=False)
    return probe.returncode == 0


needs_ro = pytest.mark.skipif(not _read_only_mount_works(),
                              reason="needs root and mount namespaces for a read-only disk")


@needs_ro
@pytest.mark.parametrize("what", ["out", "emit-test", "trace"])
def test_a_read_only_disk_is_one_line(what: str, good_failure: Path, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    command = {"out": f"explore echo --out {ro}/findings",
               "emit-test": f"replay {good_failure} --emit-test {ro}/test_x.py",
               "trace": f"run echo --duration 1s --trace {ro}/t.jsonl"}[what]
    import sys
    script = (f"mount -t tmpfs -o ro tmpfs {ro} && "
              f"exec {sys.executable} -m gatewaysim {command}")
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                          text=True, check=False)
    assert_one_line(done, "Read-only file system")


# ---------------------------------------------------------------------------- special files
def test_trace_to_dev_null_streams_and_leaves_the_device_alone() -> None:
    before = os.stat("/dev/null")
    done = gatewaysim("run", "echo", "--duration", "5s", "--trace", "/dev/null")
    assert done.returncode == 0, done.stderr
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_trace_to_a_fifo_streams_into_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    done = gatewaysim("run", "echo", "--duration", "5s", "--trace", fifo)
    streamed, _ = reader.communicate(timeout=60)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert streamed.startswith(b'{"header":')
    assert list(tmp_path.iterdir()) == [fifo]


def test_trace_through_a_symlink_writes_its_target(tmp_path: Path) -> None:
    target = tmp_path / "real.jsonl"
    target.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    done = gatewaysim("run", "echo", "--duration", "5s", "--trace", link)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and target.read_text().startswith('{"header":')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.jsonl", "real.jsonl"]


def test_sigterm_during_a_run_leaves_no_temporary_file(tmp_path: Path) -> None:
    import signal
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "gatewaysim", "run", "echo", "--duration",
                             "168h", "--trace", str(tmp_path / "t.jsonl")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):  # the temporary file appears once the run has started
        if any(tmp_path.iterdir()):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip() == "gatewaysim: terminated"
    assert list(tmp_path.iterdir()) == []


def test_failure_files_honour_the_umask(tmp_path: Path) -> None:
    import sys

    code = (f"import os; os.umask(0o022); from gatewaysim.cli import main; "
            f"main(['explore', 'echo', '--variant', 'buggy', '--profile', 'ci', "
            f"'--max-examples', '200', '--out', {str(tmp_path)!r}])")
    subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    files = list(tmp_path.iterdir())
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in files)


# ---------------------------------------------------------------------------- generated code
def test_emitted_tests_treat_the_failure_file_as_data(good_failure: Path, tmp_path: Path
                                                      ) -> None:
    data = json.loads(good_failure.read_text())
    marker = tmp_path / "pwned"
    data["violation"]["message"] = (f'"""\nimport pathlib; pathlib.Path({str(marker)!r})'
                                    '.touch()\n"""')
    data["invariant"]["statement"] = '\'\'\' + __import__("os").getcwd() + \'\'\''
    crafted = tmp_path / "crafted.json"
    crafted.write_text(json.dumps(data))
    emitted = tmp_path / "test_crafted.py"
    done = gatewaysim("replay", crafted, "--quiet", "--emit-test", emitted)
    assert done.returncode == 1, done.stderr
    source = emitted.read_text()
    compile(source, str(emitted), "exec")
    namespace: dict[str, object] = {}
    exec(compile(source, str(emitted), "exec"), namespace)  # importing it runs nothing
    assert not marker.exists()
    assert data["violation"]["message"] in str(namespace["STORY"])


# ---------------------------------------------------------------------------- replay verdicts
def test_replay_verdicts_are_exact(good_failure: Path, tmp_path: Path) -> None:
    assert gatewaysim("replay", good_failure, "--quiet").returncode == 1
    assert gatewaysim("replay", good_failure, "--quiet", "--variant", "faithful"
                      ).returncode == 0
    data = json.loads(good_failure.read_text())
    data["steps"] = [{"name": "advance", "args": {"ms": 1}}, *data["steps"]]
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    done = gatewaysim("replay", edited, "--quiet")
    assert done.returncode == 3, done.stdout
    assert "differs from the failure file's" in done.stdout
