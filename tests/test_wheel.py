"""The wheel is what a user installs: build it, look inside, install it, use it elsewhere.

Built from a copy of the sources (a build writes ``build/`` and ``*.egg-info`` next to
them), installed into a throwaway virtual environment that sees this environment's
dependencies but not this checkout, then used from a folder that has its own ``models``,
``properties`` and ``simulator`` packages, as a user's project may: ``gatewaysim run``,
``explore``, ``replay --emit-test``, the emitted test and the failure files under pytest.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.testing.venvs import make_venv, venv_environment

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "gatewaysim", "simulator",
           "models", "properties")


def build_wheel(out: Path) -> Path:
    src = out / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.egg-info", "*.pyc"))
        elif path.is_file():
            shutil.copy2(path, src / name)
    dist = out / "dist"
    errors = []
    # Without build isolation when this environment has the build backend; else isolated
    # (pip then fetches setuptools from the configured index, which may be a local one).
    for isolation in (["--no-build-isolation"], []):
        run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation,
                              "-w", str(dist), str(src)], capture_output=True, text=True,
                             timeout=300)
        wheels = sorted(dist.glob("gatewaysim-*.whl"))
        if run.returncode == 0 and wheels:
            return wheels[0]
        errors.append(" | ".join((run.stdout + run.stderr).strip().splitlines()[-3:]))
    pytest.skip(f"cannot build a wheel in this environment: {errors}")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_ships_one_package_typed_with_each_packs_readme(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"gatewaysim"}  # no top-level models, properties or simulator
    assert "gatewaysim/py.typed" in names
    readmes = sorted(p.relative_to(REPO).as_posix() for p in REPO.glob("models/*/README.md"))
    assert readmes, "no pack README to check"
    missing = [r for r in readmes if f"gatewaysim/{r}" not in names]
    assert not missing, f"pack READMEs not in the wheel: {missing}"
    for sub in ("simulator", "models", "properties", "testing"):
        assert f"gatewaysim/{sub}/__init__.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[gatewaysim.packs]" in text and "echo = gatewaysim.properties.echo:PACK" in text
    assert "[pytest11]" in text and "gatewaysim = gatewaysim.pytest_plugin" in text


def run(cmd: list[str], cwd: Path, env: dict[str, str], expected: int) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == expected, (
        f"{' '.join(cmd)} exited {done.returncode}, not {expected}\n--- stdout\n"
        f"{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")
    return done.stdout


def test_the_installed_wheel_works_next_to_a_users_own_packages(wheel: Path,
                                                                 tmp_path: Path) -> None:
    bin_dir = make_venv(tmp_path / "venv", editable_checkout=False)
    python = str(bin_dir / "python")
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index",
                    "--ignore-installed", "--no-warn-script-location", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    env = venv_environment(bin_dir)
    user = tmp_path / "project"
    for name in ("models", "properties", "simulator"):
        (user / name).mkdir(parents=True)
        (user / name / "__init__.py").write_text(f'"""The user\'s own {name}."""\nOWN = True\n')
    gs = str(bin_dir / "gatewaysim")

    where = run([python, "-c", "import gatewaysim, models; print(gatewaysim.__file__); "
                 "print(models.__file__)"], user, env, 0).splitlines()
    assert where[0].startswith(str(tmp_path / "venv")) and where[1].startswith(str(user))

    # Each pack that loads finds its README inside the installed package, if the source
    # tree has it (a README a pack declares but nobody wrote is the conformance kit's catch).
    readmes = run([python, "-c", "import gatewaysim\n"
                   "from pathlib import Path\n"
                   "from gatewaysim.properties.pack import loadable_packs\n"
                   "root = Path(gatewaysim.__file__).parent\n"
                   "for p in loadable_packs()[0]:\n"
                   "    r = p.readme_path()\n"
                   "    if r is not None:\n"
                   "        print(r.relative_to(root).as_posix(), r.is_file())"], user, env, 0)
    shipped = dict(line.split() for line in readmes.splitlines())
    assert shipped, "no loadable pack declares a README"
    for relative, found in shipped.items():
        assert found == str((REPO / relative).is_file()), (relative, found)

    expected = subprocess.run([sys.executable, "-m", "gatewaysim", "run", "echo", "--quiet"],
                              capture_output=True, text=True, check=True).stdout
    assert run([gs, "run", "echo", "--quiet"], user, env, 0) == expected

    out = run([gs, "explore", "echo", "--variant", "buggy", "--profile", "ci",
               "--max-examples", "50"], user, env, 1)
    failure = user / "findings" / "echo-buggy-echo.order.json"
    assert failure.is_file() and "echo.order" in out

    out = run([gs, "replay", str(failure.relative_to(user)), "--emit-test", "test_order.py"],
              user, env, 1)
    assert "VIOLATED echo.order" in out and "matches the failure file" in out
    out = run([gs, "replay", str(failure.relative_to(user)), "--variant", "fixed",
               "--emit-test", "test_order_fixed.py"], user, env, 0)
    assert "HOLDS echo.order" in out

    pytest_cmd = [python, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    out = run([*pytest_cmd, "test_order.py"], user, env, 1)
    assert "1 failed" in out
    out = run([*pytest_cmd, "test_order_fixed.py"], user, env, 0)
    assert "1 passed" in out
    out = run([*pytest_cmd, "findings"], user, env, 1)
    assert "findings/echo-buggy-echo.order.json::echo.order" in out
    assert ">>> echo.order violated" in out
