"""The same run in other processes: trace hashes under other ``PYTHONHASHSEED`` values.

A model that iterates over a set of strings, or orders anything by ``hash()`` or ``id()``,
gives the same trace twice in one process and a different one in the next. Only another
interpreter with another hash seed shows it, so the kit runs the spec in two subprocesses
(in parallel: together they cost about one interpreter start) and compares their hashes.

Run as ``python -m gatewaysim.testing.hashes`` it reads one request from stdin
(``{"pack": "module:attr" or name, "spec": RunSpec JSON}``), executes the spec and prints
``{"sha256": ..., "violation": ...}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from gatewaysim.properties.pack import GROUP, Pack, get_pack
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step

HASH_SEEDS: tuple[str, ...] = ("0", "4242")
"""The two ``PYTHONHASHSEED`` values the subprocesses run under."""


def pack_reference(pack: Pack) -> str | None:
    """How another process finds ``pack``: ``module:attr``, or its entry-point name.

    ``None`` when there is no way (a pack built inside a function and only registered).
    """
    if pack.source:
        return pack.source
    for ep in entry_points(group=GROUP):
        if ep.name == pack.name:
            target, _, attr = ep.value.partition(":")
            if _attribute_is(target, attr, pack):
                return pack.name
    module_name = pack.driver.__module__
    candidates = [module_name]
    while "." in module_name:
        module_name = module_name.rpartition(".")[0]
        candidates.append(module_name)
    for name in candidates:
        module = sys.modules.get(name)
        for attr, value in sorted(vars(module).items()) if module is not None else ():
            if value is pack:
                return f"{name}:{attr}"
    return None


def _attribute_is(module_name: str, attr: str, pack: Pack) -> bool:
    module = sys.modules.get(module_name)
    value = getattr(module, attr, None) if module is not None else None
    return value is pack or (isinstance(value, Pack) and value == pack)


def _environment(hash_seed: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = hash_seed
    # The pack's module may be importable only through this process's sys.path (a test
    # that put an example folder on it): hand the same path down.
    paths = [p or os.getcwd() for p in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if Path(p).is_dir()))
    return env


def hashes_in_subprocesses(reference: str, spec: RunSpec, hash_seeds: Sequence[str] = HASH_SEEDS,
                           timeout_s: float = 120.0) -> dict[str, str]:
    """``PYTHONHASHSEED`` value -> the trace sha256 of ``spec`` run in a fresh interpreter.

    Raises :class:`RuntimeError` with the subprocess's stderr when one of them fails.
    """
    request = json.dumps({"pack": reference, "spec": spec.to_json(), "judge": spec.judge})
    procs = {
        seed: subprocess.Popen(
            [sys.executable, "-m", "gatewaysim.testing.hashes"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment(seed),
            cwd=os.getcwd())
        for seed in hash_seeds
    }
    out: dict[str, str] = {}
    for seed, proc in procs.items():
        stdout, stderr = proc.communicate(request, timeout=timeout_s)
        if proc.returncode != 0:
            tail = " | ".join(stderr.strip().splitlines()[-3:])
            raise RuntimeError(f"PYTHONHASHSEED={seed}: the run failed in a subprocess "
                               f"(exit {proc.returncode}): {tail}")
        out[seed] = json.loads(stdout)["sha256"]
    return out


def _execute(request: dict[str, Any]) -> dict[str, Any]:
    pack = get_pack(request["pack"])
    raw = request["spec"]
    steps = [Step(s["name"], s.get("args", {})) for s in raw["steps"]]
    spec = RunSpec.of(pack, steps, variant=raw["variant"], seed=raw["seed"],
                      config=raw["config"], judge=request.get("judge"))
    result = spec.execute()
    v = result.violation
    return {"sha256": result.trace_sha256, "violation": v.describe() if v else None}


def main() -> int:
    print(json.dumps(_execute(json.loads(sys.stdin.read()))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
