"""The mutation operators: seeded, local, and never inside docstrings or annotations."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gatewaysim.models import echo
from gatewaysim.properties.mutation import Mutant, generate
from gatewaysim.properties.mutation.operators import module_sites

ECHO = Path(echo.__file__).parent


def test_the_same_seed_gives_the_same_mutants() -> None:
    first = generate(ECHO, 12, seed=7)
    again = generate(ECHO, 12, seed=7)
    assert [m.id for m in first] == [m.id for m in again]
    assert [m.replacement for m in first] == [m.replacement for m in again]
    assert len({m.id for m in first}) == 12
    other = generate(ECHO, 12, seed=8)
    assert [m.id for m in other] != [m.id for m in first]


def test_fewer_mutants_are_a_prefix_of_more() -> None:
    """A resumed campaign may ask for more mutants and keep every verdict it has."""
    assert [m.id for m in generate(ECHO, 5, seed=3)] == [
        m.id for m in generate(ECHO, 20, seed=3)][:5]


SOURCE = '''\
"""A module docstring mentioning x < 1 and True."""
from typing import Literal


def f(x: Literal[3], flag: bool = True) -> Literal[4]:
    """Docstring: return [a, b] when x == 2."""
    y: Literal[5] = x
    if x < 1 and flag:
        return [x, flag]
    return []
'''


def test_docstrings_and_annotations_are_never_mutated() -> None:
    mutants = [m for site in module_sites(SOURCE, "m.py") for m in site]
    assert mutants
    for m in mutants:
        assert m.line not in (1, 6), m  # the docstrings
        assert m.operator == "remove" or "Literal" not in m.original, m
        assert m.original not in ("3", "4", "5"), m  # constants inside annotations
    operators = {m.operator for m in mutants}
    assert operators == {"compare", "boolop", "negate-if", "drop-effect", "int", "bool", "remove"}


UNBOUND = '''\
def f(a, items):
    x = g(a)
    w, v = h(a)
    y = 1
    y = 2
    z = 3
    self.q = 4
    for item in items:
        k = item
    k = 0
    return x + y + v + k
'''


def test_removing_the_only_binding_of_a_name_read_later_is_not_a_mutant() -> None:
    """``x = g(a)`` and ``w, v = h(a)`` are the only bindings of names the function reads:
    without them it would not compile where definite assignment is checked, and any run
    through it raises NameError. A name bound twice, never read, an attribute, or bound
    by a loop too stays removable."""
    removed = [m.original for site in module_sites(UNBOUND, "m.py") for m in site
               if m.operator == "remove"]
    assert removed == ["y = 1", "y = 2", "z = 3", "self.q = 4", "k = item", "k = 0"]


def test_each_mutant_changes_one_place_and_still_parses() -> None:
    sites = module_sites(SOURCE, "m.py")
    original = ast.dump(ast.parse(SOURCE))
    for site in sites:
        for m in site:
            mutated = m.apply(SOURCE)
            assert ast.dump(ast.parse(mutated)) != original
            changed = [n for n, (a, b) in enumerate(zip(SOURCE.splitlines(),
                                                        mutated.splitlines()), 1) if a != b]
            assert changed == [m.line], m
    flip = next(m for s in sites for m in s if m.operator == "compare")
    assert "x <= 1" in flip.apply(SOURCE).splitlines()[7]


def test_a_diff_shows_the_changed_line() -> None:
    m = Mutant.of(SOURCE, "m.py", "return [x, flag]", "return [x]")
    diff = m.diff(SOURCE, "pkg")
    assert "--- a/pkg/m.py" in diff
    assert "-        return [x, flag]" in diff and "+        return [x]" in diff
    with pytest.raises(ValueError):
        Mutant.of(SOURCE, "m.py", "x", "y")  # not unique
