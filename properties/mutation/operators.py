"""The mutation operators: small, plausible slips, found in a module's source with ``ast``.

The well-kept mutation tools do not fit as a library here: ``mutmut`` 3 is a test-runner
driver (it rewrites a whole tree with trampolines and runs pytest), and ``cosmic-ray``'s
operators, on ``parso`` trees, come with its session database and worker protocol; neither
is a dependency of gatewaysim. So the classic operators are written over the standard
``ast`` module:

* ``compare``: flip a comparison (``<`` to ``<=``, ``==`` to ``!=``, ``in`` to ``not in``...);
* ``boolop``: swap ``and`` and ``or``;
* ``negate-if``: negate an ``if`` (or ``elif``) condition;
* ``drop-effect``: remove one element of a list literal that a ``return`` gives back (a
  sans-IO node's effects);
* ``int``: change an integer constant (plus one, minus one, zero; never below zero);
* ``bool``: swap ``True`` and ``False``;
* ``remove``: replace a simple statement in a function body with ``pass``; never the only
  binding of a local name the function reads (``x = f()`` ... ``g(x)``), which leaves a
  name read but never bound: a mutant that would not compile in a language that checks
  definite assignment, and that any run through the line rejects with ``NameError``.

A mutant is a text splice: the exact source span of one node is replaced and the rest of the
file, comments included, is left alone, so line numbers and diffs read as the user's code.
Docstrings, type annotations, decorators, ``match`` patterns, f-strings, ``__all__`` and
``if TYPE_CHECKING:`` blocks are never mutated: a change there is a declaration, not
behaviour.

Sites are chosen with ``random.Random(seed)``: the same package and seed give the same
mutants. Each *site* (one place in the code) is drawn at most once, and which of its
alternatives is used (``n + 1``, ``n - 1`` or ``0`` for an integer) is drawn from a stream
derived from the seed and the site alone, so ``N`` mutants are always the first ``N`` of
``N + 1`` (a resumed run may ask for more).
"""

from __future__ import annotations

import ast
import difflib
import random
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

from attrs import evolve, field, frozen

_FLIP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}
_REMOVABLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete, ast.Raise)
_SKIP_FIELDS = frozenset({"annotation", "returns", "type_comment", "decorator_list", "pattern",
                          "patterns", "type_params"})
OPERATORS = ("compare", "boolop", "negate-if", "drop-effect", "int", "bool", "remove")


def _short(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


@frozen
class Mutant:
    """One change to one file of a model package: ``original`` (the source text from
    ``line:col`` to ``end_line:end_col``, 1-based lines, 0-based columns) becomes
    ``replacement``."""

    file: str
    """Path of the module inside the package, with ``/`` separators."""
    line: int
    col: int
    end_line: int
    end_col: int
    operator: str
    original: str
    replacement: str
    ordinal: int = 1
    """Which of several identical changes on the same line (1 for the first)."""
    stmt_line: int = field(default=0, eq=False)
    """First line of the statement the change is in (a campaign that ran none of
    ``stmt_line..end_line`` never ran the change)."""

    @property
    def lines(self) -> range:
        """The lines a campaign must run for this change to matter."""
        return range(min(self.stmt_line or self.line, self.line), self.end_line + 1)

    @property
    def id(self) -> str:
        """Stable across runs and machines: file, line, operator, original, replacement."""
        tail = f" #{self.ordinal}" if self.ordinal > 1 else ""
        return (f"{self.file}:{self.line}:{self.operator}:{_short(self.original)} -> "
                f"{_short(self.replacement)}{tail}")

    @classmethod
    def of(cls, source: str, file: str, original: str, replacement: str,
           operator: str = "hand-written") -> Mutant:
        """A change written by hand: the one occurrence of ``original`` in ``source``."""
        start = source.find(original)
        if start < 0 or source.find(original, start + 1) >= 0:
            raise ValueError(f"{original!r} does not occur exactly once in {file}")
        end = start + len(original)
        line = source.count("\n", 0, start) + 1
        end_line = source.count("\n", 0, end) + 1
        col = len(source[source.rfind("\n", 0, start) + 1:start].encode())
        end_col = len(source[source.rfind("\n", 0, end) + 1:end].encode())
        return cls(file, line, col, end_line, end_col, operator, original, replacement,
                   stmt_line=line)

    def apply(self, source: str) -> str:
        """``source`` (the original module) with this change made."""
        lines = source.splitlines(keepends=True)
        start = _offset(lines, self.line, self.col)
        end = _offset(lines, self.end_line, self.end_col)
        if source[start:end] != self.original:
            raise ValueError(f"{self.id}: the source no longer matches (was it edited?)")
        return source[:start] + self.replacement + source[end:]

    def diff(self, source: str, package: str = "") -> str:
        """A unified diff of the change, two lines of context each side."""
        where = f"{package}/{self.file}" if package else self.file
        return "".join(difflib.unified_diff(
            source.splitlines(keepends=True), self.apply(source).splitlines(keepends=True),
            f"a/{where}", f"b/{where}", n=2)).rstrip("\n")

    def __repr__(self) -> str:
        return f"Mutant({self.id!r})"


def _offset(lines: list[str], line: int, col: int) -> int:
    """Character offset of ``line:col`` (ast columns count UTF-8 bytes)."""
    text = lines[line - 1] if line - 1 < len(lines) else ""
    return sum(len(x) for x in lines[:line - 1]) + len(text.encode()[:col].decode())


def _is_docstring(node: ast.AST) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _is_dunder_all(node: ast.AST) -> bool:
    targets = (node.targets if isinstance(node, ast.Assign)
               else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
    return any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)


class _Sites:
    """Walks one module and collects its sites: each a list of alternative changes."""

    def __init__(self, source: str, file: str) -> None:
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self.file = file
        self.sites: list[list[Mutant]] = []
        self.stmt = 0
        self.function: ast.FunctionDef | ast.AsyncFunctionDef | None = None
        self.starts = [0]
        for text in self.lines:
            self.starts.append(self.starts[-1] + len(text))

    def offset(self, line: int, col: int) -> int:
        text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
        return self.starts[line - 1] + len(text.encode()[:col].decode())

    def segment(self, node: ast.expr | ast.stmt) -> str:
        start = self.offset(node.lineno, node.col_offset)
        end = self.offset(node.end_lineno or node.lineno, node.end_col_offset or 0)
        return self.source[start:end]

    def change(self, node: ast.expr | ast.stmt, operator: str, replacement: str) -> Mutant:
        return Mutant(self.file, node.lineno, node.col_offset, node.end_lineno or node.lineno,
                      node.end_col_offset or 0, operator, self.segment(node), replacement,
                      stmt_line=self.stmt or node.lineno)

    def add(self, alternatives: list[Mutant]) -> None:
        if alternatives:
            self.sites.append(alternatives)

    def visit(self, node: ast.AST, in_function: bool) -> None:
        if _is_docstring(node) or _is_dunder_all(node) or _is_type_checking(node):
            return
        if isinstance(node, ast.JoinedStr):
            return
        saved, saved_function = self.stmt, self.function
        if isinstance(node, ast.stmt):
            self.stmt = node.lineno
        self.mutate(node, in_function)
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.function = node
        if isinstance(node, ast.ClassDef):
            inner = False
        for name, value in ast.iter_fields(node):
            if name in _SKIP_FIELDS:
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    self.visit(child, inner)
        self.stmt, self.function = saved, saved_function

    def mutate(self, node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                flipped = _FLIP.get(type(op))
                if flipped is not None:
                    ops = [*node.ops[:i], flipped(), *node.ops[i + 1:]]
                    new = ast.Compare(node.left, ops, node.comparators)
                    self.add([self.change(node, "compare", ast.unparse(new))])
        elif isinstance(node, ast.BoolOp):
            other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            swapped = ast.BoolOp(other, node.values)
            self.add([self.change(node, "boolop", f"({ast.unparse(swapped)})")])
        elif isinstance(node, ast.If):
            test = self.segment(node.test)
            self.add([self.change(node.test, "negate-if", f"not ({test})")])
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.List):
            elts = node.value.elts
            self.add([self.change(node.value, "drop-effect",
                                  ast.unparse(ast.List([*elts[:i], *elts[i + 1:]], ast.Load())))
                      for i in range(len(elts))])
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            self.add([self.change(node, "bool", str(not node.value))])
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            n = node.value
            values = [v for v in (n + 1, n - 1, 0) if v != n and v >= 0]
            self.add([self.change(node, "int", str(v)) for v in dict.fromkeys(values)])
        if (in_function and isinstance(node, _REMOVABLE)
                and not (isinstance(node, ast.AnnAssign) and node.value is None)
                and not _leaves_name_unbound(node, self.function)):
            self.add([self.change(node, "remove", "pass")])


def _bound_names(target: ast.AST) -> Iterator[str]:
    """The plain names an assignment target binds (``a``, ``a, b``, ``*rest``)."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _bound_names(element)
    elif isinstance(target, ast.Starred):
        yield from _bound_names(target.value)


def _leaves_name_unbound(stmt: ast.stmt, function: ast.AST | None) -> bool:
    """Whether removing ``stmt`` leaves a local name that ``function`` reads with no binding
    at all: ``stmt`` is its only assignment (arguments, loops, ``with``, imports, walrus and
    ``except ... as`` count as bindings; ``global``/``nonlocal`` names are never local)."""
    if function is None or not isinstance(stmt, ast.Assign | ast.AnnAssign):
        return False
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    names = {n for t in targets for n in _bound_names(t)}
    if not names:
        return False
    args = function.args  # type: ignore[attr-defined]
    bound = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                             *filter(None, [args.vararg, args.kwarg])]}
    read: set[str] = set()
    inside = {id(node) for node in ast.walk(stmt)}  # identity, not order
    for node in ast.walk(function):
        if id(node) in inside:
            continue
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            bound.update(node.names)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).partition(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    # ``stmt``'s own targets are Store names inside it, skipped with it; a name read in its
    # own value (``x = x + 1``) must be bound elsewhere anyway.
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            read.add(node.id)
    return any(name in read and name not in bound for name in names)


def module_sites(source: str, file: str, check: bool = True) -> list[list[Mutant]]:
    """Every site of one module, in source order; each site lists its alternatives.

    With ``check``, an alternative whose result does not parse, or parses to the same tree,
    is dropped (:func:`generate` checks only the mutants it draws).
    """
    tree = ast.parse(source)
    walker = _Sites(source, file)
    walker.visit(tree, False)
    before = ast.dump(tree)
    seen: dict[str, int] = {}
    sites: list[list[Mutant]] = []
    for site in walker.sites:
        kept = []
        for m in site:
            seen[m.id] = seen.get(m.id, 0) + 1
            m = evolve(m, ordinal=seen[m.id])
            if not check or _changes(m, source, before):
                kept.append(m)
        if kept:
            sites.append(kept)
    return sites


def _changes(mutant: Mutant, source: str, before: str) -> bool:
    """The mutated module parses, to a different tree than ``before`` (the original's)."""
    try:
        return ast.dump(ast.parse(mutant.apply(source))) != before
    except SyntaxError:
        return False


def package_files(package_dir: Path) -> Iterator[tuple[str, Path]]:
    """The package's modules, sorted, as (path inside the package, file)."""
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir)
        if "__pycache__" not in rel.parts:
            yield rel.as_posix(), path


def _sources(package_dir: Path) -> dict[str, str]:
    return {rel: path.read_text(encoding="utf-8") for rel, path in package_files(package_dir)}


def all_sites(package_dir: Path, check: bool = False) -> list[list[Mutant]]:
    """Every site of every module of the package (``check``: see :func:`module_sites`)."""
    return [site for rel, source in _sources(package_dir).items()
            for site in module_sites(source, rel, check)]


def is_run(mutant: Mutant, ran: Mapping[str, Collection[int]]) -> bool:
    """Whether a campaign that executed ``ran`` (module -> lines) ran the mutated code."""
    lines = ran.get(mutant.file, ())
    return any(n in lines for n in mutant.lines)


def generate(package_dir: Path, count: int, seed: int,
             ran: Mapping[str, Collection[int]] | None = None) -> list[Mutant]:
    """``count`` mutants of the package (fewer when it has fewer sites), drawn with ``seed``.

    With ``ran`` (module -> lines a campaign executed), only sites on those lines are drawn.
    Returned in the order drawn, so the first ``k`` are what ``count=k`` gives.
    """
    sources = _sources(package_dir)
    trees = {rel: ast.dump(ast.parse(text)) for rel, text in sources.items()}
    sites = [site for rel, text in sources.items() for site in module_sites(text, rel, False)]
    if ran is not None:
        sites = [site for site in sites if is_run(site[0], ran)]
    rng = random.Random(seed)
    order = list(range(len(sites)))
    mutants: list[Mutant] = []
    i = 0
    while len(mutants) < count and i < len(sites):
        # A partial Fisher-Yates shuffle: the draws do not depend on ``count``.
        j = i + rng.randrange(len(sites) - i)
        order[i], order[j] = order[j], order[i]
        site = sites[order[i]]
        i += 1
        alternatives = [m for m in site if _changes(m, sources[m.file], trees[m.file])]
        if not alternatives:
            continue
        first = site[0]
        pick = random.Random(f"{seed}:{first.file}:{first.line}:{first.col}:"
                             f"{first.operator}:{first.ordinal}")
        mutants.append(alternatives[pick.randrange(len(alternatives))])
    return mutants


__all__ = ["OPERATORS", "Mutant", "all_sites", "generate", "is_run", "module_sites",
           "package_files"]
