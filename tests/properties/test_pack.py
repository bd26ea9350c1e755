"""The pack manifest and how packs are found: entry points, ``--pack module:attr``, checks."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import attrs
import pytest

from gatewaysim.cli import main
from gatewaysim.properties.echo import PACK as ECHO
from gatewaysim.properties.echo.driver import EchoDriver
from gatewaysim.properties.explorer import explore
from gatewaysim.properties.monitors import Sometimes
from gatewaysim.properties.pack import Pack, find_scenario, get_pack, pack_names
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step
from gatewaysim.simulator.errors import ConfigError

from .helpers import gatewaysim


def test_builtin_packs_register_through_entry_points() -> None:
    assert {"echo", "lumenize"} <= set(pack_names())
    assert get_pack("echo") is ECHO


def test_the_manifest_names_everything_the_tools_need() -> None:
    assert ECHO.advance.name == "advance" and ECHO.advance.time_arg == "ms"
    assert ECHO.advance_step(250) == Step("advance", {"ms": 250})
    assert [m.id for m in ECHO.all_monitors][-1] == "no-exception"
    assert ECHO.variant_names == ("faithful", "fixed", "buggy", "mutant:duplicate_after_restart",
                                  "mutant:give_up")
    assert find_scenario("echo") == (ECHO, ECHO.scenarios[0])
    assert ECHO.state_rules.notes["connected"] == "connected"


def test_steps_are_checked_by_name_and_arguments() -> None:
    assert ECHO.check_step(Step("drop")) == Step("drop")
    with pytest.raises(ConfigError, match="'teleport', which pack 'echo' does not have"):
        ECHO.check_step(Step("teleport"))
    with pytest.raises(ConfigError, match=r"takes arguments \['ms'\], got \['seconds'\]"):
        ECHO.check_step(Step("advance", {"seconds": 1}))
    with pytest.raises(ConfigError, match=r"takes arguments \['ms'\], got \[\]"):
        RunSpec.of("echo", [Step("advance")])


@pytest.mark.parametrize(("change", "match"), [
    ({"monitors": (*ECHO.monitors, ECHO.monitors[0])}, "duplicate monitor ids"),
    ({"default_variant": "nope"}, "default variant 'nope'"),
    ({"name": "two words"}, "one word"),
    ({"scenarios": (*ECHO.scenarios, *ECHO.scenarios)}, "duplicate scenario names"),
])
def test_a_bad_manifest_is_refused(change: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        attrs.evolve(ECHO, **change)


def test_a_driver_must_declare_the_step_that_advances_time() -> None:
    class NoClock(EchoDriver):
        pass

    NoClock.step_kinds = {k: v for k, v in EchoDriver.step_kinds.items() if v.time_arg is None}
    with pytest.raises(TypeError, match="declares no step that advances time"):
        attrs.evolve(ECHO, driver=NoClock)


def test_trace_header_carries_pack_variant_and_config() -> None:
    result = RunSpec.of("echo", [Step("advance", {"ms": 10})], variant="buggy",
                        seed=3).execute(keep_records=True)
    header = result.trace.header
    assert header["pack"] == "echo" and header["variant"] == "buggy" and header["seed"] == 3
    assert header["config"] == ECHO.config_of("buggy").to_dict()


MY_PACK = '''
    from hypothesis import settings

    from gatewaysim.properties.echo import PACK as ECHO
    import attrs

    settings.register_profile("tiny", max_examples=150, stateful_step_count=10, deadline=None,
                              derandomize=True, database=None)
    PACK = attrs.evolve(ECHO, name="myecho", summary="my own echo", scenarios=())
'''


def test_pack_option_loads_a_pack_from_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "mypack.py").write_text(textwrap.dedent(MY_PACK))
    listed = gatewaysim("packs", "--pack", "mypack:PACK", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "myecho: my own echo" in listed.stdout and "loaded     from mypack:PACK" in listed.stdout
    out = tmp_path / "found"
    found = gatewaysim("explore", "mypack:PACK", "--variant", "mutant:give_up", "--profile",
                       "tiny", "--out", out, cwd=tmp_path)
    assert found.returncode == 1, found.stderr
    assert "profile tiny" in found.stderr
    (path,) = out.iterdir()
    assert json.loads(path.read_text())["source"] == "mypack:PACK"
    # The failure file says where its pack came from, so it replays without --pack.
    replayed = gatewaysim("replay", path, "--quiet", cwd=tmp_path)
    assert replayed.returncode == 1 and "VIOLATED echo.reconnects" in replayed.stdout


def test_explore_honours_hypothesis_profile(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "ci")
    assert main(["explore", "echo", "--max-examples", "5", "--out", str(tmp_path)]) == 0
    assert "profile ci" in capsys.readouterr().err
    assert main(["explore", "echo", "--profile", "nosuch", "--out", str(tmp_path)]) == 2
    assert "unknown profile 'nosuch'" in capsys.readouterr().err


def test_a_sometimes_monitor_nobody_reached_is_a_finding(tmp_path: Path) -> None:
    never = Sometimes("echo.never", "the server says hello",
                      when=lambda rec: rec.type == "Hello")
    pack = attrs.evolve(ECHO, name="echo-sometimes", monitors=(*ECHO.monitors, never))
    report = explore(pack, "faithful", max_examples=30, profile="ci", out_dir=tmp_path,
                     progress=None)
    assert not report.findings and report.unreached == ("echo.never",)
    assert report.failed
    reached = dict((i, n) for i, _, n in report.sometimes)
    assert reached["echo.reconnected_after_fault"] > 0
    assert "NEVER REACHED" in report.render()


def test_packs_command_lists_variants_flags_mutants_and_scenarios(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["packs"]) == 0
    out = capsys.readouterr().out
    assert "echo: " in out and "lumenize: " in out
    assert main(["packs", "echo"]) == 0
    detail = capsys.readouterr().out
    for word in ("variants", "mutant:give_up", "scenarios", "advance (advances time by ms)",
                 "echo.order", "sometimes"):
        assert word in detail
    assert main(["packs", "nosuch"]) == 2


def test_a_pack_value_passed_directly_is_usable_by_name() -> None:
    pack: Pack = attrs.evolve(ECHO, name="echo-direct")
    spec = RunSpec.of(pack, [Step("drop")])
    assert spec.pack == "echo-direct" and get_pack("echo-direct") is pack
