"""The top-level command: help, version, usage errors, and how input errors are reported."""

from __future__ import annotations

import argparse

import pytest

from gatewaysim import __version__, cli
from gatewaysim.simulator.errors import ConfigError, TraceFormatError


def test_help_lists_the_run_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: gatewaysim")
    assert "run" in out


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"gatewaysim {__version__}"


def test_version_is_a_dotted_release() -> None:
    parts = __version__.split(".")
    assert len(parts) >= 2 and all(p.isdigit() for p in parts[:2])


def test_no_command_is_a_usage_error_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "required: COMMAND" in err and "--help" in err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_every_listed_command_is_registered() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(cli.COMMANDS) <= set(sub.choices)


@pytest.mark.parametrize("exc", [
    ConfigError("bad thing"),
    TraceFormatError("bad file"),
    FileNotFoundError(2, "No such file or directory", "x.json"),
    PermissionError(13, "Permission denied", "x.json"),
    IsADirectoryError(21, "Is a directory", "x"),
    NotADirectoryError(20, "Not a directory", "x/y"),
])
def test_user_errors_become_one_line_and_status_2(
    exc: Exception, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(args: argparse.Namespace) -> int:
        raise exc

    monkeypatch.setattr("gatewaysim.cmd_run.run", failing)
    assert cli.main(["run", "echo"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("gatewaysim: error: ")
    assert "Traceback" not in captured.err


def test_a_multiline_message_is_folded_to_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(args: argparse.Namespace) -> int:
        raise ConfigError("first\nsecond")

    monkeypatch.setattr("gatewaysim.cmd_run.run", failing)
    assert cli.main(["run", "echo"]) == 2
    assert capsys.readouterr().err == "gatewaysim: error: first second\n"


@pytest.mark.parametrize("exc", [ValueError("a bug"), KeyError("k"), RuntimeError("r")])
def test_bugs_are_not_disguised_as_input_errors(
    exc: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(args: argparse.Namespace) -> int:
        raise exc

    monkeypatch.setattr("gatewaysim.cmd_run.run", failing)
    with pytest.raises(type(exc)):
        cli.main(["run", "echo"])
