"""Bad input to ``explore`` and ``replay``: one line on stderr, exit status 2, no traceback,
nothing written."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from gatewaysim.cli import main
from gatewaysim.properties import pack as packs
from gatewaysim.properties.errors import FailureFileError
from gatewaysim.properties.failure import load_failure

from .helpers import gatewaysim


def _valid(order_failure: Path) -> dict:
    return json.loads(order_failure.read_text())


def _broken(order_failure: Path) -> dict[str, object]:
    good = _valid(order_failure)

    def edit(**changes: object) -> dict:
        return {**good, **changes}

    bad_step = {**good, "steps": [*good["steps"], {"name": "teleport", "args": {}}]}
    bad_args = {**good, "steps": [{"name": "advance", "args": {"seconds": 1}}]}
    return {
        "not-json": "{this is not json",
        "wrong-version": edit(version=2),
        "wrong-format": edit(format="something-else"),
        "unknown-pack": edit(pack="nosuchpack"),
        "unknown-step": bad_step,
        "bad-step-args": bad_args,
        "bad-config": edit(config={"client": "psychic"}),
        "unknown-invariant": edit(invariant={"id": "echo.nope", "statement": "?"}),
        "bad-hash": edit(trace_sha256="abc"),
        "not-an-object": [1, 2, 3],
    }


EXPECTED = {
    "not-json": "not JSON", "wrong-version": "unsupported failure file version 2",
    "wrong-format": "not a gatewaysim failure file", "unknown-pack": "unknown pack 'nosuchpack'",
    "unknown-step": "'teleport'", "bad-step-args": "takes arguments", "bad-config": "config:",
    "unknown-invariant": "no invariant 'echo.nope'", "bad-hash": "trace_sha256",
    "not-an-object": "not a gatewaysim failure file",
}


def _write(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_malformed_failure_files_exit_2_in_one_line(
    order_failure: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, content in _broken(order_failure).items():
        path = _write(tmp_path, name, content)
        with pytest.raises(FailureFileError):
            load_failure(path)
        assert main(["replay", str(path)]) == 2, name
        out, err = capsys.readouterr()
        assert out == "", name
        assert err.count("\n") == 1 and err.startswith("gatewaysim: error: "), err
        assert EXPECTED[name] in err, (name, err)


def test_malformed_file_in_a_fresh_process_has_no_traceback(
    order_failure: Path, tmp_path: Path
) -> None:
    for name in ("not-json", "wrong-version", "unknown-pack", "unknown-step"):
        path = _write(tmp_path, name, _broken(order_failure)[name])
        emitted = tmp_path / f"test_{name.replace('-', '_')}.py"
        result = gatewaysim("replay", path, "--emit-test", emitted)
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert not emitted.exists()


def test_missing_file_and_unknown_variant(
    order_failure: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(tmp_path / "absent.json")]) == 2
    assert main(["replay", str(order_failure), "--variant", "nope"]) == 2
    assert main(["replay", str(order_failure), "--emit-test",
                 str(tmp_path / "no" / "such" / "dir.py")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3
    assert "absent.json" in err[0] and "no variant 'nope'" in err[1]
    assert "not a directory" in err[2]


@pytest.mark.parametrize("argv, expected", [
    (["explore", "nosuchpack"], "unknown pack 'nosuchpack'"),
    (["explore", "echo", "--variant", "nope"], "no variant 'nope'"),
    (["explore", "echo", "--budget", "5x"], "bad duration '5x'"),
])
def test_explore_bad_input(argv: list[str], expected: str, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
    assert not (tmp_path / "out").exists()


def test_explore_bad_numbers_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "echo", "--max-examples", "0"]) == 2
    assert main(["explore", "echo", "--seed", "x"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_pack_that_fails_to_import_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = EntryPoint("broken", "gatewaysim.properties.no_such_module:PACK", packs.GROUP)
    real = packs._entry_points
    monkeypatch.setattr(packs, "_entry_points", lambda: {**real(), "broken": broken})
    assert main(["explore", "broken"]) == 2
    err = capsys.readouterr().err
    assert "pack 'broken' could not be loaded from gatewaysim.properties.no_such_module:PACK " \
        "(ModuleNotFoundError" in err
    assert err.count("\n") == 1
    # The other packs are still there: a broken pack never hides them.
    assert main(["packs"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("broadcast") or "echo: " in out
    assert "(not loaded: pack 'broken'" in out


@pytest.mark.parametrize(("spec", "expected"), [
    ("nosuchmodule:PACK", "cannot load pack nosuchmodule:PACK (ModuleNotFoundError"),
    ("gatewaysim.properties.echo:NOPE", "has no attribute 'NOPE'"),
    ("gatewaysim.properties.echo:EchoDriver", "is a type, not a gatewaysim Pack"),
    ("no-colon", "--pack takes module:attr"),
])
def test_bad_pack_option(spec: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["packs", "--pack", spec]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
