"""The reviewed lists of equivalent mutants: current, reasoned, and anchored to their line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatewaysim.models import echo, lumenize
from gatewaysim.properties.mutation import load_equivalents
from gatewaysim.properties.mutation.operators import all_sites
from gatewaysim.properties.mutation.report import anchor_of
from gatewaysim.simulator.errors import ConfigError

PACKAGES = {"echo": Path(echo.__file__).parent, "lumenize": Path(lumenize.__file__).parent}


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_each_entry_is_a_mutant_of_todays_code_with_a_reason(name: str) -> None:
    package = PACKAGES[name]
    equivalents = load_equivalents(package)
    assert equivalents
    ids = {m.id for site in all_sites(package, check=True) for m in site}
    assert sorted(set(equivalents) - ids) == []
    assert all(len(reason.split()) >= 10 for reason in equivalents.values())


def _package(tmp_path: Path, code: str, entry: dict[str, str]) -> Path:
    (tmp_path / "model.py").write_text(code)
    (tmp_path / "equivalent_mutants.json").write_text(json.dumps({"equivalent": [entry]}))
    return tmp_path


ENTRY = {"id": "model.py:2:int:0 -> 1", "source": "count = 0", "in": "f",
         "reason": "the count only numbers ids, which nothing compares with a constant"}


def test_an_entry_follows_its_line_when_lines_above_it_change(tmp_path: Path) -> None:
    package = _package(tmp_path, "def f():\n    count = 0\n", ENTRY)
    assert list(load_equivalents(package)) == ["model.py:2:int:0 -> 1"]
    (tmp_path / "model.py").write_text("import os\n\n\ndef g():\n    count = 0\n\n\n"
                                       "def f():\n    count = 0\n")
    assert list(load_equivalents(package)) == ["model.py:9:int:0 -> 1"]
    ids = {m.id for site in all_sites(package, check=True) for m in site}
    assert "model.py:9:int:0 -> 1" in ids


def test_anchor_of_names_the_function_and_which_of_its_equal_lines() -> None:
    code = "def f():\n    count = 0\n    if x:\n        count = 0\n"
    assert anchor_of(code, 2) == {"source": "count = 0", "in": "f"}
    assert anchor_of(code, 4) == {"source": "count = 0", "in": "f", "nth": 2}
    assert anchor_of("x = 1\n", 1) == {"source": "x = 1", "in": ""}


@pytest.mark.parametrize("code, says", [
    ("def f():\n    count = 1\n", "f in model.py has 0 line"),
    ("def g():\n    count = 0\n", "has no 'f' to look in"),
])
def test_an_entry_whose_line_is_gone_is_an_error(tmp_path: Path, code: str,
                                                 says: str) -> None:
    package = _package(tmp_path, code, ENTRY)
    with pytest.raises(ConfigError, match=says):
        load_equivalents(package)
