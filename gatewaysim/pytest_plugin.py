"""The gatewaysim pytest plugin: failure files as regression tests, and two fixtures.

Every failure file ``gatewaysim explore`` writes is a bug report that can run. Installed
with gatewaysim (entry point ``pytest11``), this plugin collects the failure files in the
findings folder as test items, the way nbmake collects notebooks: each item replays its
file's run, judged by its invariant, and passes once the invariant holds. A failing item
prints the violation, the steps and the timeline around it.

* The folder is ``findings/`` next to the pytest configuration file (without one: in the
  folder pytest was started from); the ini option ``gatewaysim_findings`` names another.
  pytest collects it when it walks it: ``pytest findings/``, a plain ``pytest`` without
  ``testpaths``, or ``testpaths`` that list it. ``--gatewaysim-findings DIR`` names the
  folder and collects it in any case.
* A file counts only if it is JSON that says ``"format": "gatewaysim-failure"``; other
  JSON files there are left alone. With no failure files, the plugin does nothing (and
  imports nothing heavier than pytest).
* Items carry the ``gatewaysim`` marker: ``pytest -m gatewaysim`` runs only them.

Fixtures: ``gatewaysim_world(pack, variant=None, seed=0)`` builds a fresh driver of a
pack (its world is ``.world``; steps go through ``.apply``), and
``gatewaysim_replay(path, variant=None)`` replays a failure file into a
:class:`~gatewaysim.testing.regression.Regression`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gatewaysim.testing.regression import Regression

INI = "gatewaysim_findings"
DEFAULT_FOLDER = "findings"
MARKER = "gatewaysim"

_FOLDER_KEY = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gatewaysim", "gatewaysim failure files")
    group.addoption(
        "--gatewaysim-findings", dest="gatewaysim_findings", metavar="DIR", default=None,
        help="collect the gatewaysim failure files in DIR as regression tests "
             f"(default folder: the {INI} ini option, else {DEFAULT_FOLDER}/)")
    parser.addini(INI, default=DEFAULT_FOLDER,
                  help="folder whose gatewaysim failure files are regression tests "
                       "(relative to the configuration file)")


def findings_folder(config: pytest.Config) -> Path:
    """The folder whose failure files are collected (absolute)."""
    folder = config.stash.get(_FOLDER_KEY, None)
    if folder is None:
        option = config.getoption("gatewaysim_findings", None)
        if option:
            folder = Path(config.invocation_params.dir, option).resolve()
        else:
            # Next to the configuration file; without one, where pytest was started (the
            # rootdir would then be the common folder of the arguments: findings/ itself).
            base = (config.inipath.parent if config.inipath is not None
                    else config.invocation_params.dir)
            folder = Path(base, config.getini(INI) or DEFAULT_FOLDER).resolve()
        config.stash[_FOLDER_KEY] = folder
    return folder


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: a gatewaysim failure file replayed as a "
                                       "regression test")
    if config.getoption("gatewaysim_findings", None):
        folder = findings_folder(config)
        if not folder.is_dir():
            raise pytest.UsageError(f"--gatewaysim-findings: {folder} is not a directory")
        walked = [Path(config.invocation_params.dir, a.split("::")[0]).resolve()
                  for a in config.args]
        if not any(folder == w or folder.is_relative_to(w) for w in walked if w.is_dir()):
            config.args.append(str(folder))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".json":
        return None
    if not file_path.resolve().is_relative_to(findings_folder(parent.config)):
        return None
    from gatewaysim.testing.regression import is_failure_file

    if not is_failure_file(file_path):
        return None
    return FailureFile.from_parent(parent, path=file_path)


class FailureFile(pytest.File):
    """One failure file: one item, named for the invariant it was violated by."""

    def collect(self) -> Iterator[pytest.Item]:
        data = json.loads(self.path.read_text(encoding="utf-8"))
        invariant = data.get("invariant")
        name = invariant.get("id") if isinstance(invariant, dict) else None
        yield FailureItem.from_parent(self, name=str(name or "replay"))


class StillViolated(AssertionError):
    """The failure file's run still violates an invariant (or raises)."""

    def __init__(self, regression: Regression) -> None:
        super().__init__(regression.explain())
        self.regression = regression


class FailureItem(pytest.Item):
    """Replays one failure file; passes when its invariant now holds."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker(MARKER)

    def runtest(self) -> None:
        import attrs

        from gatewaysim.testing.regression import replay_failure

        regression = replay_failure(self.path)
        try:  # name the file as the user would type it
            shown = self.path.relative_to(self.config.invocation_params.dir)
            regression = attrs.evolve(regression, path=shown)
        except ValueError:
            pass
        self.user_properties.append(("trace_sha256", regression.result.trace_sha256))
        if not regression.holds:
            raise StillViolated(regression)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:
        exc = excinfo.value
        if isinstance(exc, StillViolated):
            return str(exc)
        if isinstance(exc, ValueError) and type(exc) is not ValueError:
            # A file that cannot be replayed (unknown pack, step or invariant; bad config):
            # input to fix, said in one line as the command line says it.
            return f"cannot replay {self.path.name}: {exc}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"gatewaysim replay {self.path.name} ({self.name})"


@pytest.fixture
def gatewaysim_world() -> Iterator[Callable[..., Any]]:
    """A factory: ``gatewaysim_world(pack, variant=None, seed=0)`` -> a fresh driver.

    ``pack`` is a name, ``module:attr`` or a Pack; ``variant`` defaults to the pack's.
    Records are kept (``driver.trace.records``); traces are closed after the test.
    """
    from gatewaysim.properties.run import resolve

    drivers: list[Any] = []

    def make(pack: Any, variant: str | None = None, seed: int = 0, *,
             keep_records: bool = True) -> Any:
        p = resolve(pack)
        chosen = variant or p.default_variant
        driver = p.new_driver(p.config_of(chosen), seed, variant=chosen,
                              keep_records=keep_records)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.trace.close()


@pytest.fixture
def gatewaysim_replay() -> Callable[..., Regression]:
    """A factory: ``gatewaysim_replay(path, variant=None)`` -> a replayed failure file."""
    from gatewaysim.testing.regression import replay_failure

    def make(path: str | Path, variant: str | None = None) -> Regression:
        return replay_failure(path, variant=variant)

    return make
