"""The SYNC-012 test plan's four scenarios, in virtual time, under faithful and fixed.

The document expects every one of them to pass on the real system, and so they do on
both variants: the weaknesses the pack finds need faults these scenarios do not inject.
"""

from __future__ import annotations

import attrs
import pytest

from gatewaysim.models.broadcast import BroadcastConfig
from gatewaysim.models.broadcast.scenarios import multi_client, multi_tab, reconnect, single_client
from gatewaysim.properties.broadcast import PACK
from gatewaysim.simulator.trace import Trace

VARIANTS = ("faithful", "fixed")


def config(variant: str) -> BroadcastConfig:
    return BroadcastConfig.for_variant(variant)


@pytest.mark.parametrize("variant", VARIANTS)
def test_single_client_mutation_flow(variant: str) -> None:
    _, got = single_client(config(variant))
    assert got["state"] == "connected" and got["subscribed"] == ["orders"]
    assert got["subscriber count"] == 1
    # Optimistic: shown at the click, before the database has it.
    assert got["shown at click"] == {"alice-1": 1} and got["database at click"] == {}
    assert got["own broadcasts received"] == 1  # step 7: her own broadcast reaches her
    assert got["own echoes ignored"] == 0  # the sync-patterns hook does not skip it
    assert got["shown"] == got["database"] == {"alice-1": 1}


@pytest.mark.parametrize("variant", VARIANTS)
def test_single_client_may_ignore_its_own_echo(variant: str) -> None:
    cfg = attrs.evolve(config(variant), ignore_own_echo=True)
    _, got = single_client(cfg)
    assert got["own broadcasts received"] == 1 and got["own echoes ignored"] == 1
    assert got["shown"] == got["database"] == {"alice-1": 1}  # onSettled refetch suffices


@pytest.mark.parametrize("variant", VARIANTS)
def test_multi_client_sync(variant: str) -> None:
    _, got = multi_client(config(variant))
    assert got["subscriber count"] == 2
    assert got["bob received"] == 1 and got["bob refetches"] >= 2  # page load + broadcast
    assert got["alice shows"] == got["bob shows"] == got["database"] == {"alice-1": 1}


@pytest.mark.parametrize("variant", VARIANTS)
def test_multi_tab_sync_without_waiting_for_the_server(variant: str) -> None:
    _, got = multi_tab(config(variant))
    assert got["database at click"] == {}
    assert got["tab 1 shows at click"] == {"alice-1": 1}  # the BroadcastChannel, at once
    assert got["tab 0 shows"] == got["tab 1 shows"] == got["database"] == {"alice-1": 1}


@pytest.mark.parametrize("variant", VARIANTS)
def test_reconnection_recovery(variant: str) -> None:
    _, got = reconnect(config(variant))
    assert got["states after the drop"][:3] == ["reconnecting", "connecting", "connected"]
    assert got["subscribed before"] == got["subscribed after"] == ["orders", "contacts"]
    assert got["broadcasts received after reconnect"] == 1
    assert got["alice shows"] == got["database"] == {"bob-1": 1}


def test_scenarios_are_registered_and_run_from_the_manifest() -> None:
    names = {sc.name for sc in PACK.scenarios}
    assert names == {"broadcast-single-client", "broadcast-multi-client", "broadcast-multi-tab",
                     "broadcast-reconnect"}
    sc = PACK.scenario("broadcast-multi-tab")
    trace = Trace(keep=True)
    result = sc.run(3, sc.default_duration, trace)
    assert result.summary["tab 1 shows at click"] == {"alice-1": 1}
    assert result.describe is PACK.describe
    assert any(result.describe(r) for r in trace.records)


def test_same_seed_same_trace() -> None:
    hashes = set()
    for _ in range(2):
        trace = Trace(keep=False)
        reconnect(config("faithful"), seed=11, trace=trace)
        hashes.add(trace.sha256)
    assert len(hashes) == 1
