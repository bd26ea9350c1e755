"""``gatewaysim run``: the summary, the hash as the last line, trace files, and bad input."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from gatewaysim.cli import main
from gatewaysim.simulator.trace import read_trace

HASH_LINE = re.compile(r"^trace sha256: ([0-9a-f]{64})$")
SHORT = ["--duration", "5m"]


def run_out(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["run", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def last_hash(out: str) -> str:
    match = HASH_LINE.match(out.splitlines()[-1])
    assert match is not None, f"last line is not the hash: {out.splitlines()[-1]!r}"
    return match.group(1)


def test_run_echo_ends_with_the_trace_hash(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_out(capsys, "echo", "--seed", "7", *SHORT)
    assert status == 0, err
    last_hash(out)
    assert "scenario:" in out and "seed:" in out and "reconnects:" in out
    assert re.search(r"^events: +[1-9]\d*$", out, re.M)
    assert re.search(r"^virtual time: +5m$", out, re.M)


def test_run_echo_twice_gives_the_same_hash(capsys: pytest.CaptureFixture[str]) -> None:
    first = last_hash(run_out(capsys, "echo", "--seed", "7", *SHORT)[1])
    second = last_hash(run_out(capsys, "echo", "--seed", "7", *SHORT)[1])
    assert first == second


def test_seed_and_duration_change_the_hash(capsys: pytest.CaptureFixture[str]) -> None:
    base = last_hash(run_out(capsys, "echo", "--seed", "7", *SHORT)[1])
    other_seed = last_hash(run_out(capsys, "echo", "--seed", "8", *SHORT)[1])
    other_span = last_hash(run_out(capsys, "echo", "--seed", "7", "--duration", "6m")[1])
    assert len({base, other_seed, other_span}) == 3


def test_the_echo_run_exercises_reconnects(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_out(capsys, "echo", "--seed", "1", *SHORT)
    reconnects = int(re.search(r"^reconnects: +(\d+)$", out, re.M).group(1))  # type: ignore[union-attr]
    restarts = int(re.search(r"^server restarts: +(\d+)$", out, re.M).group(1))  # type: ignore[union-attr]
    # alice is dropped once, and both clients lose the server when it crashes
    assert reconnects >= 3
    assert restarts == 1


def test_quiet_prints_only_the_hash(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_out(capsys, "echo", "--quiet", *SHORT)
    assert status == 0
    assert len(out.splitlines()) == 1
    last_hash(out)


def test_timeline_is_printed_on_request_before_the_hash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, plain, _ = run_out(capsys, "echo", *SHORT)
    _, with_timeline, _ = run_out(capsys, "echo", "--timeline", *SHORT)
    assert "FAULT crash host=echo" not in plain
    assert "FAULT crash host=echo" in with_timeline
    assert "ws opened alice:ws1" in with_timeline
    assert re.search(r"alice +reconnect in \d+\.\d{3}s$", with_timeline, re.M)
    assert last_hash(plain) == last_hash(with_timeline)


def test_trace_file_hashes_to_the_printed_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "echo.trace.jsonl"
    status, out, err = run_out(capsys, "echo", "--seed", "4", *SHORT, "--trace", str(path))
    assert status == 0, err
    assert hashlib.sha256(path.read_bytes()).hexdigest() == last_hash(out)
    header, records = read_trace(path)
    assert header["scenario"] == "echo" and header["seed"] == 4
    assert len(records) > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["echo.trace.jsonl"]


def test_trace_file_replaces_an_existing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("stale\n")
    _, out, _ = run_out(capsys, "echo", *SHORT, "--trace", str(path))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == last_hash(out)


def test_list_names_every_scenario_with_a_description(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gatewaysim.properties.pack import loadable_packs

    status, out, _ = run_out(capsys, "--list")
    assert status == 0
    lines = [line for line in out.splitlines() if not line.startswith("(not loaded")]
    packs, _ = loadable_packs()
    assert [line.split()[0] for line in lines] == [s.name for p in packs for s in p.scenarios]
    assert "echo" in [line.split()[0] for line in lines]
    assert all(len(line.split()) > 2 for line in lines)


def assert_one_line_error(status: int, out: str, err: str) -> str:
    assert status == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gatewaysim: error: ")
    return lines[0]


def test_unknown_scenario_names_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    line = assert_one_line_error(*run_out(capsys, "no-such-scenario"))
    assert "no-such-scenario" in line and "--list" in line


def test_missing_scenario_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    line = assert_one_line_error(*run_out(capsys))
    assert "--list" in line


@pytest.mark.parametrize("duration", ["5x", "-1s", "0s", "1 hour", "-5m"])
def test_bad_duration_is_one_line_and_status_2(
    duration: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = assert_one_line_error(*run_out(capsys, "echo", f"--duration={duration}"))
    assert "duration" in line


def test_duration_that_looks_like_an_option_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run_out(capsys, "echo", "--duration", "-1s")
    assert status == 2
    assert out == ""
    assert "--duration" in err.splitlines()[-1]


@pytest.mark.parametrize("seed", ["-1", "1.5", "seven", ""])
def test_bad_seed_is_one_line_and_status_2(
    seed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = assert_one_line_error(*run_out(capsys, "echo", "--seed", seed))
    assert "seed" in line


def test_trace_in_a_missing_directory_is_refused_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "t.jsonl"
    line = assert_one_line_error(*run_out(capsys, "echo", "--trace", str(target)))
    assert str(target) in line
    assert list(tmp_path.iterdir()) == []


def test_trace_onto_a_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_one_line_error(*run_out(capsys, "echo", "--trace", str(tmp_path)))
    assert list(tmp_path.iterdir()) == []


def test_a_failing_run_leaves_no_trace_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gatewaysim.simulator.scenario import Scenario

    def boom(self: Scenario, seed: int, duration: int, trace: object,
             variant: str | None = None) -> None:
        trace.record(0, "x", "sys", "started", {})  # type: ignore[attr-defined]
        raise RuntimeError("the model broke")

    monkeypatch.setattr(Scenario, "run", boom)
    with pytest.raises(RuntimeError, match="the model broke"):
        main(["run", "echo", "--trace", str(tmp_path / "t.jsonl")])
    assert list(tmp_path.iterdir()) == []


def test_run_variant_runs_the_scenario_under_that_variant(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "fixed.jsonl"
    status, out, _ = run_out(capsys, "lumenize-phase2", "--variant", "fixed", "--trace", str(path))
    assert status == 0
    assert re.search(r"^variant: +fixed$", out, re.M), out
    header, _ = read_trace(path)
    assert header["variant"] == "fixed"
    status, out_faithful, _ = run_out(capsys, "lumenize-phase2", "--variant", "faithful")
    assert re.search(r"^variant: +faithful$", out_faithful, re.M)
    assert last_hash(out_faithful) != last_hash(out)


def test_run_variant_takes_a_mutant(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_out(capsys, "lumenize-phase2", "--variant",
                             "mutant:grace_alarm_never_armed", "--quiet")
    assert status == 0 and HASH_LINE.match(out.strip())


def test_run_without_variant_keeps_the_header_and_hash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "t.jsonl"
    status, _, _ = run_out(capsys, "lumenize-phase2", "--trace", str(path))
    assert status == 0
    header, _ = read_trace(path)
    assert "variant" not in header


@pytest.mark.parametrize(("args", "message"), [
    (["echo", "--variant", "fixed"],
     "gatewaysim: error: scenario 'echo' runs one fixed configuration and takes no --variant"),
    (["lumenize-phase2", "--variant", "nope"], "gatewaysim: error: unknown variant 'nope'"),
])
def test_run_variant_refusals_are_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["run", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err


def test_run_list_says_which_scenarios_take_a_variant(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_out(capsys, "--list")
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "takes --variant" in lines["lumenize-phase2"]
    assert "takes --variant" not in lines["echo"]


def test_run_prints_microseconds_as_durations(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_out(capsys, "echo", "--duration", "20s", "--timeline")
    assert status == 0
    assert "FAULT slow_link a=bob b=echo latency=80ms jitter=60ms" in out
    status, out, _ = run_out(capsys, "chatsdk-outage")
    assert re.search(r"^opened at: +21\.060s$", out, re.M), out
    status, out, _ = run_out(capsys, "chatsdk-429")
    assert "retry_delays_us" not in out and "1000000" not in out
