"""The Neemata pack: the client<->gateway RPC protocol of ``neematajs/neemata@f77b193b``.

Variants: ``faithful`` (the real code, weaknesses included), ``fixed`` (every fix flag of
``NeemataConfig.FIXES``) and ``mutant:<name>`` for each planted bug of
``NeemataConfig.MUTANTS``, on top of ``fixed``.
"""

from __future__ import annotations

from gatewaysim.models.neemata.client import (
    CONNECTION_TABLE,
    CONNECTION_UNREACHABLE,
    ConnEvent,
    ConnState,
)
from gatewaysim.models.neemata.config import NeemataConfig
from gatewaysim.models.neemata.describe import describe
from gatewaysim.models.neemata.scenarios import SCENARIOS
from gatewaysim.simulator.state_rules import StateRules
from gatewaysim.testing.tables import StateTable

from ..pack import Pack
from .driver import NeemataDriver, NeemataStatistics
from .monitors import MONITORS

STATE_RULES = StateRules(
    notes={"client.connecting": "connecting", "client.connected": "connected",
           "client.disconnected": "disconnected", "gateway.connected": "serving",
           "gateway.closed": "idle"},
)
"""The client and gateway say what they did in plain notes; this is what each means."""

CONNECTION = StateTable("neemata.client.connection", ConnState, ConnEvent, CONNECTION_TABLE,
                        CONNECTION_UNREACHABLE)
"""The client's connection table (``client.CONNECTION_TABLE``), in the shape the kit reads."""

PACK = Pack(
    name="neemata",
    summary="Neemata RPC client and gateway: calls, RPC streams, blob uploads and downloads, "
            "and the cleanup of every map",
    config=NeemataConfig,
    driver=NeemataDriver,
    monitors=MONITORS,
    scenarios=SCENARIOS,
    describe=describe,
    state_rules=STATE_RULES,
    readme="../../models/neemata/README.md",
    state_tables=(CONNECTION,),
)

__all__ = ["CONNECTION", "MONITORS", "PACK", "STATE_RULES", "NeemataDriver", "NeemataStatistics"]
