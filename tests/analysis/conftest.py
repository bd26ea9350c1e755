"""Shared runs: built once per session, since every test only reads them."""

from __future__ import annotations

import pytest

from gatewaysim.analysis import TraceView
from gatewaysim.simulator.world import World

from .echo_runs import echo_world


@pytest.fixture(scope="session")
def faulty_world() -> World:
    """Four echo clients, a grace-alarm server, a minute of drops, crashes and restarts."""
    return echo_world(seed=3, clients=4, duration_s=60, grace=True)


@pytest.fixture(scope="session")
def view(faulty_world: World) -> TraceView:
    return TraceView.from_world(faulty_world)
