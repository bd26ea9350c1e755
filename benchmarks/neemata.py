"""The Neemata scenario suite in virtual time: how much time does it cover, how fast?

    python benchmarks/neemata.py [--seed S]

First the scenario tests of the real suite's cases (``tests/neemata/test_simple_procedures.py``,
``test_streaming.py``, ``test_blobs.py``, ``test_connection.py``: spec section 5 and the blob
suites, most on both variants), run in-process by pytest while every world they build is
recorded, so their virtual time can be added up. This part is the like-for-like comparison
with the real suite's own waits.

Then, under ``faithful`` and ``fixed``: the four registered scenarios, the seed's section
6.6 workload (1,000 calls, streams, uploads, downloads and aborts, then 100
connect/disconnect cycles, run to quiescence) and each lingerer of spec section 4 item 12.

Prints the virtual time covered, the real suite's own waits added up, the wall time here
and, last, the ratio of virtual time to wall time over everything.

The real suite's waits are counted in its six spec files at ``neematajs/neemata@f77b193b``
(``tests/test/integration/suites``): every ``setTimeout(resolve, N)`` in a test body counted
once (a sleep inside a consumer loop runs once per chunk, so this is a lower bound), plus
each ``waitForCleanup()`` (10 ms). Handlers' own delays and awaited timeouts are left out.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytest

from gatewaysim.models.neemata import NeemataConfig, NeemataWorld
from gatewaysim.models.neemata import protocol as p
from gatewaysim.models.neemata.scenarios import (
    measure_lingerers,
    run_blobs,
    run_calls,
    run_connection,
    run_streams,
)
from gatewaysim.simulator.clock import Time, format_duration, ms
from gatewaysim.simulator.trace import Trace

_clock = time.perf_counter  # bound before any World installs the determinism guard

REAL_SUITE_WAITS_MS: dict[str, int] = {
    "simple-procedures.spec.ts": 100 + 19 * 10,
    "streaming.spec.ts": 1_265,
    "blob-upload.spec.ts": 355,
    "blob-download.spec.ts": 501,
    "connection.spec.ts": 16 * 10,
    "edge-cases.spec.ts": 0,
}
"""Explicit sleeps in the real suite's test bodies, per file (see the module docstring)."""


SUITE = ("test_simple_procedures.py", "test_streaming.py", "test_blobs.py",
         "test_connection.py")


def run_suite() -> tuple[Time, int, float]:
    """Run the scenario tests; their total virtual time, world count and wall seconds."""
    worlds: list[NeemataWorld] = []
    original = NeemataWorld.__init__

    def recording(self: NeemataWorld, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        worlds.append(self)

    tests = Path(__file__).resolve().parent.parent / "tests" / "neemata"
    NeemataWorld.__init__ = recording  # type: ignore[method-assign]
    start = _clock()
    try:
        status = pytest.main(["-q", "-p", "no:cacheprovider", "--no-header", "-o",
                              "addopts=", *(str(tests / name) for name in SUITE)])
    finally:
        NeemataWorld.__init__ = original  # type: ignore[method-assign]
    wall = _clock() - start
    if status != 0:
        raise SystemExit(f"the scenario tests failed (pytest status {status})")
    return sum(w.now for w in worlds), len(worlds), wall


def workload(config: NeemataConfig, seed: int) -> NeemataWorld:
    """The seed's section 6.6: 1,000 of each operation, then 100 cycles."""
    nw = NeemataWorld(config, seed, trace=Trace(keep=False))
    gap = ms(8)
    for i in range(1_000):
        nw.call("echo", {"value": i})
        nw.run(gap)
    for _ in range(1_000):
        nw.stream({"n": 2})
        nw.run(gap)
    for i in range(1_000):
        nw.upload(p.BlobSource(size=100, seed=i))
        nw.run(gap)
    for i in range(1_000):
        nw.download(100, seed=i)
        nw.run(gap)
    for _ in range(1_000):
        nw.abort(nw.call("slow", {"ms": 5}))
        nw.run(gap)
    for _ in range(100):
        nw.disconnect()
        nw.connect()
        nw.run(ms(3))
    nw.settle()
    assert not nw.dirty(), nw.dirty()
    return nw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    suite_virtual, suite_worlds, suite_wall = run_suite()
    real = sum(REAL_SUITE_WAITS_MS.values()) * 1_000
    print(f"scenario tests:            {suite_worlds} worlds, "
          f"{format_duration(suite_virtual)} of virtual time in {suite_wall:.2f}s")
    print(f"real suite's own waits:    {format_duration(real)} (explicit sleeps, lower bound)")
    print(f"real waits/wall ratio:     {real / 1e6 / suite_wall:.1f}")

    virtual: Time = suite_virtual
    records = 0
    start = _clock()
    for variant in ("faithful", "fixed"):
        config = NeemataConfig.for_variant(variant)
        for run in (run_calls, run_streams, run_blobs, run_connection):
            nw, _ = run(config, args.seed, Trace(keep=False))
            virtual += nw.now
            records += nw.world.trace.count
        nw = workload(config, args.seed)
        virtual += nw.now
        records += nw.world.trace.count
        held = measure_lingerers(config, args.seed)
        virtual += sum(held.values())
        print(f"{variant}: lingerers held their maps for "
              + ", ".join(f"{name} {format_duration(t)}" for name, t in held.items()))
    wall = _clock() - start + suite_wall
    print(f"scenarios + workload:      {records:,} trace records")
    print(f"virtual time covered:      {format_duration(virtual)}")
    print(f"wall time here:            {wall:.2f}s")
    print(f"virtual/wall ratio: {virtual / 1e6 / wall:.0f}")


if __name__ == "__main__":
    main()
