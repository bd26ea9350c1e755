"""The campaign's report: a table of verdicts, the survivors' diffs, and the score.

Survivors that change nothing observable can be listed as *equivalent* in the model
package's ``equivalent_mutants.json``, each with the reason a reviewer accepted::

    {"equivalent": [{"id": "client.py:120:int:3 -> 4", "reason": "why nothing can see it",
                     "source": "self.retries = 3", "in": "Client.__init__"}]}

A mutant's id names its line, which moves whenever the lines above it change. The entry's
anchor follows it: ``source``, the mutated line's text (stripped), ``in``, the function or
class holding it (``""``: anywhere in the module), and ``nth`` when several of its lines
read the same (1 by default); :func:`anchor_of` writes them. An entry whose anchor no
longer matches is an error that says so, rather than a reason silently attached to another
change or to nothing.

The score is ``killed / (total - equivalent)``: a crash or a time-out is not an invariant
noticing the change, so it does not count as killed (both are shown on their own). A mutant
that could not be judged at all (``error``: its file changed under the campaign, or the
copy was not the code that ran) is left out of both counts and listed.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from gatewaysim.simulator.errors import ConfigError

from .operators import Mutant
from .runner import Campaign

EQUIVALENTS = "equivalent_mutants.json"


def _scopes(tree: ast.Module) -> dict[str, tuple[int, int]]:
    """Every function and class of a module by qualified name: its first and last line."""
    out: dict[str, tuple[int, int]] = {}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                out[name] = (child.lineno, child.end_lineno or child.lineno)
                walk(child, f"{name}.")
    walk(tree, "")
    return out


def _innermost(scopes: dict[str, tuple[int, int]], line: int) -> str:
    """The innermost function or class holding ``line`` ("" for the module)."""
    holding = [(last - first, name) for name, (first, last) in scopes.items()
               if first <= line <= last]
    return min(holding)[1] if holding else ""


def anchor_of(source: str, line: int) -> dict[str, Any]:
    """The anchor fields of an entry for the mutant on ``line`` of ``source``."""
    lines, scopes = source.splitlines(), _scopes(ast.parse(source))
    text, scope = lines[line - 1].strip(), _innermost(scopes, line)
    first = scopes[scope][0] if scope else 1
    nth = sum(1 for n in range(first, line + 1) if lines[n - 1].strip() == text)
    anchor: dict[str, Any] = {"source": text, "in": scope}
    if nth > 1:
        anchor["nth"] = nth
    return anchor


def _anchored(package_dir: Path, path: Path, entry: dict[str, Any],
              files: dict[str, tuple[list[str], dict[str, tuple[int, int]]]]) -> str:
    """The entry's id with its line number moved to the line its anchor names today: the
    ``nth`` line (1 by default) reading ``source`` in function or class ``in``."""
    mutant_id, text = entry["id"], entry["source"]
    file, _, rest = mutant_id.partition(":")
    tail = rest.partition(":")[2]
    if file not in files:
        try:
            source = (package_dir / file).read_text(encoding="utf-8")
            files[file] = (source.splitlines(), _scopes(ast.parse(source)))
        except (OSError, SyntaxError):
            raise ConfigError(f"{path}: {mutant_id!r} names {file}, which the package "
                              "does not have as a readable module") from None
    lines, scopes = files[file]
    scope, nth = entry.get("in", ""), entry.get("nth", 1)
    if scope and scope not in scopes:
        raise ConfigError(f"{path}: {mutant_id!r}: {file} has no {scope!r} to look in; "
                          "review the entry against the code and update it")
    first, last = scopes[scope] if scope else (1, len(lines))
    found = [n for n in range(first, last + 1) if lines[n - 1].strip() == text]
    if not isinstance(nth, int) or not 0 < nth <= len(found):
        where = f"{scope} in {file}" if scope else file
        raise ConfigError(f"{path}: {mutant_id!r}: {where} has {len(found)} line(s) reading "
                          f"{text!r}, not the {nth}th; review the entry against the code "
                          "and update it")
    return f"{file}:{found[nth - 1]}:{tail}"


def load_equivalents(package_dir: Path) -> dict[str, str]:
    """The reviewed list of equivalent mutants (id -> reason); none when there is no file.

    Ids come back anchored to today's code (see the module docstring)."""
    path = package_dir / EQUIVALENTS
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {' '.join(str(exc).split())}") from None
    entries = data.get("equivalent") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected {{\"equivalent\": [{{\"id\": ..., \"reason\": "
                          "...}}, ...]}")
    out: dict[str, str] = {}
    files: dict[str, tuple[list[str], dict[str, tuple[int, int]]]] = {}
    for entry in entries:
        if not (isinstance(entry, dict) and isinstance(entry.get("id"), str)
                and isinstance(entry.get("reason"), str) and entry["reason"].strip()
                and isinstance(entry.get("source", ""), str)
                and isinstance(entry.get("in", ""), str)):
            raise ConfigError(f"{path}: every entry needs an id and a written reason, "
                              f"not {entry!r}")
        mutant_id = entry["id"]
        if entry.get("source"):
            mutant_id = _anchored(package_dir, path, entry, files)
        out[mutant_id] = entry["reason"].strip()
    return out


def score(campaign: Campaign, equivalents: dict[str, str]) -> tuple[int, int, float | None]:
    """(killed, total less equivalent survivors, score in percent or None when nothing ran)."""
    verdicts = campaign.results.values()
    killed = sum(1 for v in verdicts if v["status"] == "killed")
    equivalent = sum(1 for i, v in campaign.results.items()
                     if v["status"] == "survived" and i in equivalents)
    # Neither an error (the campaign failed to judge it) nor a stillborn mutant (the model
    # cannot run at all, like a mutant that does not compile) says anything of the invariants.
    unjudged = sum(1 for v in verdicts if v["status"] in ("error", "stillborn"))
    denominator = len(campaign.results) - equivalent - unjudged
    return killed, denominator, (100.0 * killed / denominator if denominator else None)


def _label(verdict: dict[str, Any], mutant_id: str, equivalents: dict[str, str]) -> str:
    status = verdict["status"]
    if status == "survived" and mutant_id in equivalents:
        return "equivalent"
    return status


def _by(verdict: dict[str, Any]) -> str:
    if verdict["status"] == "killed":
        return ", ".join(verdict.get("by", []))
    return " ".join(str(verdict.get("detail", "")).split())[:70]


def render(campaign: Campaign, equivalents: dict[str, str]) -> str:
    """Everything the command prints on stdout, the score line last."""
    s = campaign.settings
    lines = [f"mutation campaign: pack {s.pack}, variant {s.variant}, seed {s.seed}, "
             f"{s.max_examples} examples per mutant; model package {campaign.package}",
             f"baseline (unmutated, traced for line coverage): passes in "
             f"{campaign.baseline.get('seconds', 0):.1f}s"
             + (f"; {campaign.uncovered_sites} mutation sites lie on lines it never runs "
                "and were not drawn" if campaign.uncovered_sites else ""), ""]
    rows = [("#", "verdict", "by / detail", "time", "mutant")]
    for n, m in enumerate(campaign.mutants, 1):
        v = campaign.results.get(m.id)
        if v is None:
            rows.append((str(n), "not run", "", "", m.id))
            continue
        rows.append((str(n), _label(v, m.id, equivalents), _by(v),
                     f"{float(v.get('seconds', 0)):.1f}s", m.id))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        cells = [row[0].rjust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]),
                 row[3].rjust(widths[3]), row[4]]
        lines.append("  ".join(cells).rstrip())
    survivors = [(n, m) for n, m in enumerate(campaign.mutants, 1)
                 if campaign.results.get(m.id, {}).get("status") == "survived"
                 and m.id not in equivalents]
    if survivors:
        lines += ["", f"survivors ({len(survivors)}): changes no invariant noticed"]
        for n, m in survivors:
            lines += ["", f"#{n} {m.id}", _diff(campaign, m)]
    listed = [(n, m) for n, m in enumerate(campaign.mutants, 1)
              if campaign.results.get(m.id, {}).get("status") == "survived"
              and m.id in equivalents]
    if listed:
        lines += ["", "equivalent (reviewed, not counted):"]
        lines += [f"  #{n} {m.id}: {equivalents[m.id]}" for n, m in listed]
    wrong = [m.id for m in campaign.mutants if m.id in equivalents
             and campaign.results.get(m.id, {}).get("status") == "killed"]
    if wrong:
        lines += ["", f"listed as equivalent but killed (fix {EQUIVALENTS}):"]
        lines += [f"  {i}" for i in wrong]
    counts = {status: 0 for status in ("killed", "crashed", "timed out", "survived",
                                       "equivalent", "stillborn", "error")}
    for m in campaign.mutants:
        if m.id in campaign.results:
            counts[_label(campaign.results[m.id], m.id, equivalents)] += 1
    done = len(campaign.results)
    lines += ["", f"{done} of {len(campaign.mutants)} mutants judged"
                  + (" (interrupted: run again with --resume and the same --work to finish)"
                     if campaign.interrupted or done < len(campaign.mutants) else "") + ": "
                  + ", ".join(f"{n} {k}" for k, n in counts.items() if n)]
    killed, denominator, percent = score(campaign, equivalents)
    ran = denominator - counts["crashed"]
    if counts["crashed"] and ran > 0:
        # Shown beside the score, not instead of it: a crash is the model raising, which
        # exploration reports too, but no invariant judged that change.
        lines.append(f"of the {ran} that did not crash, the invariants killed {killed} "
                     f"({100.0 * killed / ran:.1f}%); the score counts crashes as not killed")
    if counts["stillborn"]:
        strict = denominator + counts["stillborn"]
        lines.append(f"{counts['stillborn']} stillborn (the mutated model fails its empty run, "
                     "as a mutant that does not compile would): not counted; counted as not "
                     f"killed, the score would be {100.0 * killed / strict:.1f}%")
    lines.append(f"mutation score: {percent:.1f}% ({killed} killed of {denominator})"
                 if percent is not None else "mutation score: n/a (no mutant judged)")
    return "\n".join(lines)


def _diff(campaign: Campaign, mutant: Mutant) -> str:
    source = (campaign.source_dir / mutant.file).read_text(encoding="utf-8")
    try:
        return mutant.diff(source, campaign.source_dir.name)
    except ValueError as exc:
        return f"  (no diff: {exc})"


__all__ = ["EQUIVALENTS", "load_equivalents", "render", "score"]
