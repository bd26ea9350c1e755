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
import re
from pathlib import Path
from typing import Any

from attrs import field, frozen

from gatewaysim.simulator.clock import Time
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.files import write_atomic
from gatewaysim.simulator.rng import MAX_SEED

from .errors import FailureFileError
from .monitor import Violation
from .pack import Pack, get_pack
from .run import RunSpec
from .scale.findability import Findability, Rate
from .steps import Step

FORMAT = "gatewaysim-failure"
VERSION = 1

SCHEMA = Path(__file__).with_name("failure.schema.json")
"""The published JSON Schema of a failure file (the pack-independent shape; what steps and
config a pack accepts is checked against the pack)."""

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
    shrunk: bool = field(default=True, repr=False)
    """The fault-plan pass finished (``False``: its budget ran out; the run may not be
    minimal)."""
    findability: Findability | None = field(default=None, repr=False)
    """How many shards (and examples) of a sharded campaign hit this invariant (``None``:
    not measured, e.g. a single-process campaign)."""

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
            "shrunk": self.shrunk,
        })
        if self.findability is not None:
            out["findability"] = self.findability.to_json()
        return out


def write_failure(path: str | Path, failure: Failure) -> Path:
    return write_atomic(path, json.dumps(failure.to_json(), indent=2, sort_keys=False) + "\n")


# ---------------------------------------------------------------------------- reading
def _bad(path: str | Path, problem: str) -> FailureFileError:
    return FailureFileError(f"{path}: {problem}")


def _need(path: str | Path, obj: dict[str, Any], key: str, kind: type | tuple[type, ...],
          where: str = "") -> Any:
    """``obj[key]`` if present and of ``kind`` (a bool is never an int, a float never an int)."""
    if key not in obj:
        raise _bad(path, f"missing {where}{key}")
    value = obj[key]
    kinds = _as_tuple(kind)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise _bad(path, f"{where}{key} must be {names}, not {_json_type(value)}")
    return value


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", dict: "an object",
               list: "an array", bool: "true or false"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"the number {value!r}"
    return _TYPE_NAMES.get(type(value), type(value).__name__).removeprefix("a ").removeprefix(
        "an ")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _count(path: str | Path, obj: dict[str, Any], key: str, where: str = "",
           high: int | None = None, default: int | None = None) -> int:
    """A non-negative integer field (at most ``high``)."""
    if default is not None and key not in obj:
        return default
    value: int = _need(path, obj, key, int, where)
    if value < 0 or (high is not None and value > high):
        top = f" to {high}" if high is not None else " or more"
        raise _bad(path, f"{where}{key} must be an integer from 0{top}, not {value}")
    return value


def parse_failure(data: Any, path: str | Path = "<failure>") -> Failure:
    """Validate a decoded failure file and build the :class:`Failure` it describes.

    Every problem is one line naming the field's path (``steps[3].args``, ``config``,
    ``violation.t``), as :data:`SCHEMA` publishes the shape.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _bad(path, f"not a gatewaysim failure file (expected \"format\": \"{FORMAT}\")")
    version = data.get("version")
    if type(version) is not int or version != VERSION:
        raise _bad(path, f"unsupported failure file version {version!r} "
                         f"(this gatewaysim reads version {VERSION})")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise _bad(path, f"unknown fields {', '.join(unknown)}")
    pack_name = _need(path, data, "pack", str)
    source = data.get("source")
    if source is not None and not isinstance(source, str):
        raise _bad(path, "source must be a string (module:attr)")
    try:
        pack = _find_pack(pack_name, source)
    except ConfigError as exc:
        raise _bad(path, str(exc)) from None
    variant = _need(path, data, "variant", str)
    if variant not in pack.variant_names and variant != "custom":
        raise _bad(path, f"variant {variant!r} is not one of pack {pack.name!r}'s "
                         f"({', '.join(pack.variant_names)}, or custom)")
    try:
        config = pack.read_config(_need(path, data, "config", dict)).to_dict()
    except ConfigError as exc:
        raise _bad(path, f"config: {exc}") from None
    seed = _count(path, data, "seed", high=MAX_SEED)
    steps = _parse_steps(path, pack, _need(path, data, "steps", list))
    inv = _need(path, data, "invariant", dict)
    invariant_id = _need(path, inv, "id", str, "invariant.")
    try:
        invariant = pack.monitor(invariant_id)
    except ConfigError as exc:
        raise _bad(path, f"invariant.id: {exc}") from None
    if invariant.kind == "sometimes":
        raise _bad(path, f"invariant.id: {invariant_id!r} is a sometimes monitor, which a "
                         "single run cannot violate")
    vio = _need(path, data, "violation", dict)
    t: Time = _count(path, vio, "t", "violation.")
    violation = Violation(invariant_id, _need(path, vio, "message", str, "violation."), t,
                          _count(path, vio, "step", "violation.", high=len(steps) + 1))
    sha = _need(path, data, "trace_sha256", str)
    if not _SHA256.match(sha):
        raise _bad(path, "trace_sha256 must be 64 lowercase hex digits")
    found = data.get("found_after_s", 0.0)
    if isinstance(found, bool) or not isinstance(found, int | float) or not found >= 0:
        raise _bad(path, "found_after_s must be a number of seconds, 0 or more")
    examples = _count(path, data, "examples", default=0)
    shrunk = data.get("shrunk", True)
    if not isinstance(shrunk, bool):
        raise _bad(path, "shrunk must be true or false")
    findability = _parse_findability(path, data["findability"]) if "findability" in data else None
    spec = RunSpec(pack_name, variant, config, seed, steps)
    return Failure(spec, invariant_id, invariant.statement, violation, sha, float(found),
                   examples, source, shrunk, findability)


def _parse_findability(path: str | Path, raw: Any) -> Findability:
    """The optional ``findability`` object. Only the hit counts are read: the intervals are
    recomputed from them (the file's ``low``/``high`` are there for people reading it)."""
    if not isinstance(raw, dict):
        raise _bad(path, "findability must be an object")
    unknown = sorted(set(raw) - {"shards", "examples", "confidence"})
    if unknown:
        raise _bad(path, f"findability has unknown fields {', '.join(unknown)}")
    rates = []
    for key in ("shards", "examples"):
        where = f"findability.{key}."
        rate = _need(path, raw, key, dict, "findability.")
        if set(rate) - {"hits", "of", "low", "high"}:
            raise _bad(path, f"{where[:-1]} has unknown fields "
                             f"{', '.join(sorted(set(rate) - {'hits', 'of', 'low', 'high'}))}")
        hits, of = _count(path, rate, "hits", where), _count(path, rate, "of", where)
        if hits > of:
            raise _bad(path, f"{where}hits ({hits}) cannot be more than {where}of ({of})")
        rates.append(Rate(hits, of))
    return Findability(*rates)


_KEYS = frozenset({"format", "version", "pack", "source", "variant", "config", "seed", "steps",
                   "invariant", "violation", "trace_sha256", "found_after_s", "examples",
                   "shrunk", "findability"})


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
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _bad(path, f"steps[{i}] must be an object with a string \"name\"")
        if set(item) - {"name", "args"}:
            raise _bad(path, f"steps[{i}] has unknown fields "
                             f"{', '.join(sorted(set(item) - {'name', 'args'}))}")
        args = item.get("args", {})
        if not isinstance(args, dict):
            raise _bad(path, f"steps[{i}].args must be an object")
        try:
            steps.append(pack.check_step(Step(item["name"], dict(args)), f"steps[{i}]"))
        except ConfigError as exc:
            raise _bad(path, str(exc)) from None
    return tuple(steps)


def load_failure(path: str | Path) -> Failure:
    """Read and validate a failure file (missing file: the usual ``FileNotFoundError``)."""
    raw = Path(path).read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        raise _bad(path, f"larger than {MAX_FILE_BYTES // 2**20} MiB: not a failure file")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise _bad(path, "not JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise _bad(path, f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
                   ) from None
    except RecursionError:
        raise _bad(path, "nested too deeply to be a failure file") from None
    except _NotANumber as exc:
        raise _bad(path, f"not JSON ({exc} is not a number JSON allows)") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise _bad(path, f"not a failure file ({' '.join(str(exc).split()[:8])}...)") from None
    return parse_failure(data, path)


MAX_FILE_BYTES = 64 * 2**20
"""A failure file holds a minimal run; anything this large is something else."""


class _NotANumber(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotANumber(name)
