"""The import rules of the repository, checked on every file: one import name, layers downwards.

The top-level folders install as ``gatewaysim.simulator``, ``gatewaysim.models`` and
``gatewaysim.properties``; a bare ``import models`` would load the *user's* ``models``
package (or none), so no code, test, benchmark or notebook may use the bare names. And the
layers of DESIGN.md point downwards only: the kernel knows no model, a model knows no
explorer, and nothing below the command line imports it.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BARE = ("simulator", "models", "properties")
FOLDERS = ("simulator", "models", "properties", "gatewaysim", "tests", "benchmarks")

# folder -> installed packages it must never import (a layer may import only those below it)
FORBIDDEN = {
    "simulator": ("gatewaysim.models", "gatewaysim.properties", "gatewaysim.analysis",
                  "gatewaysim.cli", "gatewaysim.testing", "gatewaysim.real"),
    "models": ("gatewaysim.properties", "gatewaysim.analysis", "gatewaysim.cli",
               "gatewaysim.testing"),
    "properties": ("gatewaysim.analysis", "gatewaysim.cli"),
}


def _sources() -> list[tuple[str, str]]:
    out = []
    for folder in FOLDERS:
        for path in sorted((REPO / folder).rglob("*.py")):
            out.append((str(path.relative_to(REPO)), path.read_text(encoding="utf-8")))
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        out.append((str(nb.relative_to(REPO)), "\n".join(lines)))
    return out


def _absolute_imports(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


SOURCES = _sources()


@pytest.mark.parametrize(("path", "source"), SOURCES, ids=[p for p, _ in SOURCES])
def test_no_bare_top_level_names(path: str, source: str) -> None:
    bad = [f"line {n}: {name}" for n, name in _absolute_imports(source)
           if name.split(".")[0] in BARE]
    assert not bad, f"{path} imports bare names (use gatewaysim.<name>): {bad}"


@pytest.mark.parametrize(("path", "source"),
                         [s for s in SOURCES if s[0].split("/")[0] in FORBIDDEN],
                         ids=[p for p, _ in SOURCES if p.split("/")[0] in FORBIDDEN])
def test_layers_point_downwards(path: str, source: str) -> None:
    forbidden = FORBIDDEN[path.split("/")[0]]
    bad = [f"line {n}: {name}" for n, name in _absolute_imports(source)
           if name.startswith(forbidden)]
    assert not bad, f"{path} imports a layer above it: {bad}"


def test_a_bare_import_is_caught() -> None:
    assert _absolute_imports("from models.echo import EchoClient\nimport simulator.clock\n") == [
        (1, "models.echo"), (2, "simulator.clock")]
