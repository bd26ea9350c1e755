"""The conformance kit itself: it passes a good pack and names what is wrong with bad ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gatewaysim.properties.echo import PACK as ECHO
from gatewaysim.testing import CHECKS, check_pack, draw_args, pack_conformance_tests
from gatewaysim.testing.hashes import pack_reference

from . import bad_packs


def _problems(pack, check: str, **options) -> list[str]:
    report = check_pack(pack, checks=(check,), strict=False, **options)
    return list(report.outcomes[0].problems)


def test_echo_passes_every_check_and_the_report_says_what_was_looked_at() -> None:
    report = check_pack(ECHO)
    assert report.ok
    assert [o.check for o in report.outcomes] == list(CHECKS)
    notes = {o.check: o.note for o in report.outcomes}
    assert "PYTHONHASHSEED=0, 4242" in notes["determinism"]
    assert notes["variants"].startswith("5 variants")


def test_set_iteration_order_is_caught_only_across_processes() -> None:
    problems = _problems(bad_packs.SET_ORDER, "determinism")
    assert problems and all("PYTHONHASHSEED" in p for p in problems)
    # In one process the run is repeatable, which is why the subprocesses are needed.
    assert _problems(bad_packs.SET_ORDER, "determinism", subprocesses=False) == []


def test_tuple_arguments_that_json_turns_into_lists_are_caught() -> None:
    problems = _problems(bad_packs.TUPLE_ARGS, "vocabulary")
    assert len(problems) == 1 and "'drop_pair'" in problems[0] and "JSON" in problems[0]


def test_a_step_that_raises_when_it_does_not_apply_is_caught() -> None:
    problems = _problems(bad_packs.NOT_A_NO_OP, "steps", subprocesses=False)
    assert len(problems) == 1
    assert "Step('restart')" in problems[0] and "the server is not down" in problems[0]


def test_statistics_that_are_a_dict_are_caught_for_every_variant() -> None:
    problems = _problems(bad_packs.DICT_STATISTICS, "variants")
    assert len(problems) == len(ECHO.variant_names)
    assert all("statistics() is a dict" in p for p in problems)


def test_a_describer_that_raises_is_caught_once_per_record_kind() -> None:
    problems = _problems(bad_packs.BAD_DESCRIBER, "describe")
    assert problems and all("KeyError" in p for p in problems)
    assert len(problems) == len(set(problems))


def test_a_declared_readme_that_is_missing_is_caught() -> None:
    problems = _problems(bad_packs.NO_README, "readme")
    assert len(problems) == 1 and "'NO_SUCH_README.md'" in problems[0]
    assert _problems(ECHO, "readme") == []  # echo declares none


def test_a_monitor_declared_to_read_too_little_is_caught() -> None:
    problems = _problems(bad_packs.NARROW_INTEREST, "record-interests")
    assert len(problems) == 1
    assert problems[0].startswith("echo.order: the in WsMessage record of client")
    assert _problems(ECHO, "record-interests") == []  # echo declares exactly what it reads


def test_strict_mode_raises_naming_the_first_problem() -> None:
    with pytest.raises(AssertionError, match=r"broken-tuple-args.*vocabulary: step 'drop_pair'"):
        check_pack(bad_packs.TUPLE_ARGS, subprocesses=False)


def test_pack_conformance_tests_gives_one_test_per_check() -> None:
    tests = pack_conformance_tests(bad_packs.NOT_A_NO_OP, subprocesses=False)
    assert list(tests) == list(CHECKS)
    tests["vocabulary"]()
    with pytest.raises(AssertionError, match="restart"):
        tests["steps"]()


def test_unknown_variants_and_checks_are_config_errors() -> None:
    from gatewaysim.simulator.errors import ConfigError

    with pytest.raises(ConfigError, match="no variants"):
        check_pack(ECHO, variants=["nope"])
    with pytest.raises(ConfigError, match="unknown conformance checks"):
        check_pack(ECHO, checks=["nope"])


def test_another_process_finds_packs_by_entry_point_or_module_attribute() -> None:
    assert pack_reference(ECHO) == "echo"
    assert pack_reference(bad_packs.SET_ORDER) == "tests.testing.bad_packs:SET_ORDER"


def test_drawn_arguments_do_not_depend_on_the_active_profile_or_the_hash_seed() -> None:
    # This process runs the test suite's Hypothesis profile; the subprocess loads none.
    code = ("import json; from gatewaysim.properties.echo import PACK; "
            "from gatewaysim.testing import draw_args; print(json.dumps(draw_args(PACK.steps)))")
    env = {**os.environ, "PYTHONHASHSEED": "99"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    here = draw_args(ECHO.steps)
    assert json.loads(out) == here
    assert len({json.dumps(d, sort_keys=True) for d in here}) > 1  # the draws do vary
