"""The seed's section 6.6 (planned, never written): 1000 of each operation, 100 cycles.

``memory-leaks.spec.ts`` would have needed ``--expose-gc`` and real minutes; here the maps
are read directly after every batch, in virtual time. "No growth" means every operation
map is empty after each batch. The faithful client also keeps one timeout timer (and the
abort signal it holds) per call for ``timeout`` after the call is over, so its timers track
the call rate, bounded but not zero: the seed's unchecked "no dangling timers" item.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gatewaysim.models.neemata import NeemataConfig, NeemataWorld
from gatewaysim.models.neemata import protocol as p
from gatewaysim.simulator.clock import ms

from .conftest import dirty

EACH = 1_000
CYCLES = 100
GAP = ms(8)

KINDS: dict[str, Callable[[NeemataWorld, int], None]] = {
    "calls": lambda nw, i: nw.call("echo", {"value": i}),
    "streams": lambda nw, i: nw.stream({"n": 2}),
    "uploads": lambda nw, i: nw.upload(p.BlobSource(size=100, seed=i)),
    "downloads": lambda nw, i: nw.download(100, seed=i),
    "aborts": lambda nw, i: nw.abort(nw.call("slow", {"ms": 5})),
}


@pytest.mark.parametrize("variant", ["faithful", "fixed"])
def test_repeated_operations_leave_no_growth(variant: str) -> None:
    nw = NeemataWorld(NeemataConfig.for_variant(variant))
    timeout_window = nw.config.client_timeout // GAP
    for kind, act in KINDS.items():
        for i in range(EACH):
            act(nw, i)
            nw.run(GAP)
            if i % 100 == 99:
                assert dirty(nw) == {}, (kind, i)
                timers = nw.client_stats().timers
                if variant == "fixed":
                    assert timers == 0 and nw.client_stats().signals == 0, (kind, i)
                elif kind == "calls":  # one dangling AbortSignal.timeout per call of the last 5 s
                    assert abs(timers - min(timeout_window, i + 1)) <= 1, (kind, i, timers)
                else:
                    assert 0 < timers <= timeout_window + 1, (kind, i, timers)
                assert nw.gateway_stats().timers == 0 and nw.gateway_stats().handlers == 0
    for _ in range(CYCLES):
        nw.disconnect()
        nw.connect()
        nw.run(ms(3))
        assert dirty(nw) == {}
        g = nw.gateway_stats()
        assert (g.connections, g.stream_ids) == (1, 1)
    nw.settle()
    assert nw.dirty() == {}  # timers included: every dangling timer has fired
    assert len(nw.ledger.calls) == 5 * EACH
    assert sum(1 for o in nw.ledger.calls.values() if o.ok) == 4 * EACH
