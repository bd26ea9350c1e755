"""Failure files: a minimal failing run as versioned JSON, written atomically, read strictly.

A failure file is a :class:`~gatewaysim.properties.run.RunSpec` (pack, variant, config,
world seed and steps: everything needed to rerun a finding without Hypothesis) plus what
was found (the invariant, the violation, the trace hash), so a replay can say whether it
saw the same thing. A pack loaded with ``--pack module:attr`` is recorded with that
source too, so the file replays without naming it again.

Reading is strict because a failure file is user input: anything wrong (not JSON, another
format or version, an unknown pack, step or invariant, a config the pack rejects) is a
:class:`~gatewaysim.properties.errors.FailureFileError` with one line that says what and where.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from attrs import field, frozen

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.errors import ConfigError

from .errors import FailureFileError
from .monitor import Violation
from .pack import Pack, get_pack
from .run import RunSpec
from .steps import Step

FORMAT = "gatewaysim-failure"
VERSION = 1

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@frozen
class Failure:
    """A finding: the run that violates an invariant, and what that run looked like."""

    spec: RunSpec = field(repr=False)
    invariant_id: str
    statement: str = field(repr=False)
    violation: Violation = field(repr=False)
    trace_sha256: str = field(repr=False)
    found_after_s: float = field(default=0.0, repr=False)
    examples: int = field(default=0, repr=False)
    source: str | None = field(default=None, repr=False)
    """``module:attr`` of a pack loaded with ``--pack`` (``None``: an installed pack)."""

    # The run's parts, read through (a failure *is* a run plus what was found).
    @property
    def pack(self) -> str:
        return self.spec.pack

    @property
    def variant(self) -> str:
        return self.spec.variant

    @property
    def config(self) -> dict[str, Any]:
        return self.spec.config

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.spec.steps

    @property
    def run(self) -> RunSpec:
        """The spec judged by this failure's invariant (what replay executes)."""
        return self.spec.judged_by(self.invariant_id)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": FORMAT, "version": VERSION, **self.spec.to_json()}
        if self.source is not None:
            out["source"] = self.source
        out.update({
            "invariant": {"id": self.invariant_id, "statement": self.statement},
            "violation": {"message": self.violation.message, "t": self.violation.t,
                          "step": self.violation.step_index},
            "trace_sha256": self.trace_sha256,
            "found_after_s": round(self.found_after_s, 3),
            "examples": self.examples,
        })
        return out


def write_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename.

    A reader sees either the old file or the whole new one, never half of it.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_failure(path: str | Path, failure: Failure) -> Path:
    return write_atomic(path, json.dumps(failure.to_json(), indent=2, sort_keys=False) + "\n")


# ---------------------------------------------------------------------------- reading
def _bad(path: str | Path, problem: str) -> FailureFileError:
    return FailureFileError(f"{path}: {problem}")


def _need(path: str | Path, obj: dict[str, Any], key: str, kind: type | tuple[type, ...],
          where: str = "") -> Any:
    if key not in obj:
        raise _bad(path, f"missing {where}{key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        names = " or ".join(k.__name__ for k in _as_tuple(kind))
        raise _bad(path, f"{where}{key!r} must be {names}, not {type(value).__name__}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def parse_failure(data: Any, path: str | Path = "<failure>") -> Failure:
    """Validate a decoded failure file and build the :class:`Failure` it describes."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _bad(path, f"not a gatewaysim failure file (expected \"format\": \"{FORMAT}\")")
    version = data.get("version")
    if version != VERSION:
        raise _bad(path, f"unsupported failure file version {version!r} "
                         f"(this gatewaysim reads version {VERSION})")
    pack_name = _need(path, data, "pack", str)
    source = data.get("source")
    if source is not None and not isinstance(source, str):
        raise _bad(path, "'source' must be a string (module:attr)")
    try:
        pack = _find_pack(pack_name, source)
    except ConfigError as exc:
        raise _bad(path, str(exc)) from None
    variant = _need(path, data, "variant", str)
    try:
        config = pack.read_config(_need(path, data, "config", dict)).to_dict()
    except ConfigError as exc:
        raise _bad(path, f"bad config: {exc}") from None
    seed = _need(path, data, "seed", int)
    steps = _parse_steps(path, pack, _need(path, data, "steps", list))
    inv = _need(path, data, "invariant", dict)
    invariant_id = _need(path, inv, "id", str, "invariant ")
    try:
        invariant = pack.monitor(invariant_id)
    except ConfigError as exc:
        raise _bad(path, str(exc)) from None
    vio = _need(path, data, "violation", dict)
    t: Time = _need(path, vio, "t", int, "violation ")
    violation = Violation(invariant_id, _need(path, vio, "message", str, "violation "), t,
                          _need(path, vio, "step", int, "violation "))
    sha = _need(path, data, "trace_sha256", str)
    if not _SHA256.match(sha):
        raise _bad(path, "'trace_sha256' must be 64 lowercase hex digits")
    found = data.get("found_after_s", 0.0)
    examples = data.get("examples", 0)
    if isinstance(found, bool) or not isinstance(found, int | float):
        raise _bad(path, "'found_after_s' must be a number")
    if isinstance(examples, bool) or not isinstance(examples, int):
        raise _bad(path, "'examples' must be an integer")
    spec = RunSpec(pack_name, variant, config, seed, steps)
    return Failure(spec, invariant_id, invariant.statement, violation, sha, float(found),
                   examples, source)


def _find_pack(name: str, source: str | None) -> Pack:
    """The pack a file names: installed, or loaded from the source it records."""
    try:
        return get_pack(name)
    except ConfigError:
        if source is None:
            raise
    pack = get_pack(source)
    if pack.name != name:
        raise ConfigError(f"{source} is pack {pack.name!r}, not {name!r}")
    return pack


def _parse_steps(path: str | Path, pack: Pack, raw: list[Any]) -> tuple[Step, ...]:
    steps = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _bad(path, f"step {i} must be an object with a string \"name\"")
        args = item.get("args", {})
        if not isinstance(args, dict):
            raise _bad(path, f"step {i} ({item['name']}): \"args\" must be an object")
        try:
            steps.append(pack.check_step(Step(item["name"], dict(args)), f"step {i}"))
        except ConfigError as exc:
            raise _bad(path, str(exc)) from None
    return tuple(steps)


def load_failure(path: str | Path) -> Failure:
    """Read and validate a failure file (missing file: the usual ``FileNotFoundError``)."""
    raw = Path(path).read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _bad(path, "not JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise _bad(path, f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
                   ) from None
    return parse_failure(data, path)
