"""The pytest plugin, run as a user runs it: pytest in a project folder, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gatewaysim.properties.explorer import explore
from gatewaysim.properties.failure import load_failure, write_failure
from gatewaysim.properties.replay import under_variant

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def order_failure(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real finding: echo's ``buggy`` variant violates ``echo.order``."""
    out = tmp_path_factory.mktemp("explored")
    report = explore("echo", variant="buggy", max_examples=50, profile="ci", out_dir=out,
                     progress=None)
    found = {f.invariant_id: f.path for f in report.findings}
    assert "echo.order" in found
    return found["echo.order"]


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=folder, capture_output=True, text=True, env=env, timeout=120)


def project(tmp_path: Path, failure: Path, folder: str = "findings", ini: str = "") -> Path:
    (tmp_path / folder).mkdir()
    (tmp_path / folder / failure.name).write_text(failure.read_text())
    (tmp_path / "pytest.ini").write_text(f"[pytest]\n{ini}\n")
    return tmp_path


def test_a_failure_file_fails_with_the_timeline_around_its_violation(
        tmp_path: Path, order_failure: Path) -> None:
    proj = project(tmp_path, order_failure)
    (proj / "findings" / "notes.json").write_text(json.dumps({"format": "something else"}))
    run = pytest_in(proj)
    assert run.returncode == 1, run.stdout
    out = run.stdout
    assert f"findings/{order_failure.name}::echo.order FAILED" in out or "1 failed" in out
    assert "echo.order still VIOLATED" in out
    assert "steps:" in out and "timeline around the violation" in out
    assert ">>> echo.order violated:" in out
    assert "the trace is the recorded one" in out
    assert "1 failed" in out and "notes.json" not in out


def test_the_same_file_passes_once_the_model_is_fixed(tmp_path: Path,
                                                      order_failure: Path) -> None:
    fixed = under_variant(load_failure(order_failure), "fixed")
    proj = tmp_path / "proj"
    (proj / "findings").mkdir(parents=True)
    write_failure(proj / "findings" / "fixed.json", fixed)
    (proj / "pytest.ini").write_text("[pytest]\n")
    run = pytest_in(proj, "-v")
    assert run.returncode == 0, run.stdout
    assert "findings/fixed.json::echo.order PASSED" in run.stdout


def test_testpaths_keep_findings_out_unless_the_option_names_them(
        tmp_path: Path, order_failure: Path) -> None:
    proj = project(tmp_path, order_failure, ini="testpaths = tests")
    (proj / "tests").mkdir()
    (proj / "tests" / "test_ok.py").write_text("def test_ok():\n    pass\n")
    assert "1 passed" in pytest_in(proj).stdout
    run = pytest_in(proj, "--gatewaysim-findings", "findings")
    assert run.returncode == 1 and "1 failed, 1 passed" in run.stdout
    only = pytest_in(proj, "--gatewaysim-findings", "findings", "-m", "gatewaysim")
    assert "1 failed, 1 deselected" in only.stdout


def test_the_ini_option_names_another_folder(tmp_path: Path, order_failure: Path) -> None:
    proj = project(tmp_path, order_failure, folder="regressions",
                   ini="gatewaysim_findings = regressions")
    run = pytest_in(proj)
    assert run.returncode == 1 and "regressions/" in run.stdout and "1 failed" in run.stdout


def test_no_failure_files_means_the_plugin_does_nothing(tmp_path: Path,
                                                        order_failure: Path) -> None:
    proj = project(tmp_path, order_failure, folder="elsewhere")
    (proj / "test_ok.py").write_text("def test_ok():\n    pass\n")
    run = pytest_in(proj)
    assert run.returncode == 0 and "1 passed" in run.stdout
    missing = pytest_in(proj, "--gatewaysim-findings", "nope")
    assert missing.returncode == 4 and "nope is not a directory" in missing.stderr


def test_a_file_that_cannot_be_replayed_fails_in_one_line(tmp_path: Path,
                                                          order_failure: Path) -> None:
    proj = project(tmp_path, order_failure)
    path = proj / "findings" / order_failure.name
    data = json.loads(path.read_text())
    data["steps"][0]["name"] = "no_such_step"
    path.write_text(json.dumps(data))
    run = pytest_in(proj)
    assert run.returncode == 1 and "1 failed" in run.stdout
    assert "cannot replay echo-buggy-echo.order.json: " in run.stdout
    assert "'no_such_step', which pack 'echo' does not have" in run.stdout
    assert "Traceback" not in run.stdout


def test_the_fixtures_build_a_driver_and_replay_a_file(tmp_path: Path,
                                                       order_failure: Path) -> None:
    (tmp_path / "test_fixtures.py").write_text(f'''
from gatewaysim.properties.steps import Step


def test_world(gatewaysim_world):
    driver = gatewaysim_world("echo", "buggy", seed=3)
    driver.apply(Step("advance", {{"ms": 2000}}))
    assert driver.variant == "buggy" and driver.seed == 3
    assert driver.statistics().client_connected
    assert driver.trace.records


def test_replay(gatewaysim_replay):
    regression = gatewaysim_replay({str(order_failure)!r})
    assert not regression.holds and regression.hash_matches
    assert regression.violation.invariant_id == "echo.order"
    assert gatewaysim_replay({str(order_failure)!r}, variant="fixed").holds
''')
    run = pytest_in(tmp_path, "test_fixtures.py")
    assert run.returncode == 0, run.stdout
    assert "2 passed" in run.stdout


def test_the_project_tests_never_collect_the_repositorys_findings() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]
    assert config["ini_options"]["testpaths"] == ["tests"]


