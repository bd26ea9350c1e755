"""``--check-determinism``: run the same work twice, in two processes, and find where they part.

Deterministic simulation is only as good as its weakest model: one iteration over a set
of strings, one ``id()`` used as an order, and the same seed gives two runs. Telling a user
*that* two runs differ is cheap; what they need is *where*. So the work is done twice, in
fresh interpreters with different ``PYTHONHASHSEED`` values (which is what reorders sets
and dicts keyed by hashes of strings), each writing its trace to a file; the traces are
compared record by record, and the first record that differs is printed from each run,
with its time and actor and the record before it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from itertools import zip_longest
from pathlib import Path

from attrs import frozen

from gatewaysim.simulator.clock import format_time
from gatewaysim.simulator.trace import TraceRecord, read_trace

HASH_SEEDS = ("1", "2")


@frozen
class Parting:
    """Where two runs part: the index of the first differing record, and the records around
    it in each run (``None`` where one run had already ended)."""

    index: int
    before: TraceRecord | None
    a: TraceRecord | None
    b: TraceRecord | None

    def describe(self) -> str:
        def show(rec: TraceRecord | None) -> str:
            if rec is None:
                return "(the run had ended)"
            return f"t={format_time(rec.t)} {rec.actor} {rec.kind} {rec.type} {rec.data}"

        lines = [f"the runs part at record {self.index}:"]
        if self.before is not None:
            lines.append(f"  both:  {show(self.before)}")
        lines += [f"  run 1: {show(self.a)}  (PYTHONHASHSEED={HASH_SEEDS[0]})",
                  f"  run 2: {show(self.b)}  (PYTHONHASHSEED={HASH_SEEDS[1]})"]
        return "\n".join(lines)


def first_parting(a: Path, b: Path) -> Parting | None:
    """The first record where traces ``a`` and ``b`` differ (headers compared first)."""
    header_a, records_a = read_trace(a)
    header_b, records_b = read_trace(b)
    if header_a != header_b:
        return Parting(0, None, None, None)
    before = None
    for i, (x, y) in enumerate(zip_longest(records_a, records_b), start=1):
        if x != y:
            return Parting(i, before, x, y)
        before = x
    return None


def _child(argv: Sequence[str], hash_seed: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run([sys.executable, "-m", "gatewaysim", *argv], capture_output=True,
                          text=True, env=env, cwd=cwd, check=False)


def run_twice(argv: Sequence[str], trace_option: str = "--trace") -> Iterator[str]:
    """Run ``gatewaysim argv`` twice with a trace file each; yield report lines.

    The last line says whether the two traces were identical; when they were not, the
    lines before it say where they part.
    """
    with tempfile.TemporaryDirectory(prefix="gatewaysim-determinism-") as tmp:
        paths = []
        for n, hash_seed in enumerate(HASH_SEEDS, start=1):
            path = Path(tmp) / f"run{n}.jsonl"
            done = _child([*argv, trace_option, str(path)], hash_seed, Path.cwd())
            if done.returncode == 2 or not path.exists():
                err = done.stderr.strip().splitlines()
                yield f"determinism check: run {n} failed ({err[-1] if err else done.returncode})"
                return
            paths.append(path)
        parting = first_parting(paths[0], paths[1])
        if parting is None:
            yield (f"determinism check: two runs under PYTHONHASHSEED={HASH_SEEDS[0]} and "
                   f"{HASH_SEEDS[1]} gave identical traces")
            return
        yield from parting.describe().splitlines()
        yield "determinism check: NOT DETERMINISTIC"


__all__ = ["HASH_SEEDS", "Parting", "first_parting", "run_twice"]
