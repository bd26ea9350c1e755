"""Fixtures for the Neemata tests: a connected client and gateway on a 1 ms link."""

from __future__ import annotations

import pytest

from gatewaysim.models.neemata import NeemataConfig, NeemataWorld
from gatewaysim.models.neemata.scenarios import operation_maps


def is_clean(nw: NeemataWorld) -> bool:
    """The real suite's "clean": gateway ``rpcs.rpcs``/``rpcs.streams`` and the client's
    ``pendingCallsCount`` are 0."""
    return nw.gateway_stats().rpc_clean and nw.client_stats().calls == 0


def dirty(nw: NeemataWorld) -> dict[str, int]:
    """Every operation map of both sides that is not empty (``{}``: all clean)."""
    return operation_maps(nw)


@pytest.fixture
def nw() -> NeemataWorld:
    """The faithful model, connected."""
    return NeemataWorld(NeemataConfig())


@pytest.fixture(params=["faithful", "fixed"])
def any_nw(request: pytest.FixtureRequest) -> NeemataWorld:
    """The same test on both variants: behaviour the fixes do not change."""
    return NeemataWorld(NeemataConfig.for_variant(request.param))
