"""The restart pack: a ComfyUI server killed and restarted under ``comfyui-node``'s client.

Variants: ``faithful`` (the library as it is), ``fixed`` (every fix flag of
:class:`~gatewaysim.models.restart.config.RestartConfig`), ``mutant:silent_after_restart``.
"""

from __future__ import annotations

from gatewaysim.models.restart.config import RestartConfig
from gatewaysim.models.restart.describe import describe
from gatewaysim.models.restart.protocol import TRANSITIONS, ConnectionState, StateEvent
from gatewaysim.models.restart.scenarios import SCENARIOS
from gatewaysim.simulator.state_rules import StateRules
from gatewaysim.testing.tables import StateTable

from ..pack import Pack
from .driver import RestartDriver, RestartStatistics
from .monitors import MONITORS

CONNECTION_STATE = StateTable(
    "restart.connection_state", ConnectionState, StateEvent,
    {(state, event): target
     for event, (allowed, target) in TRANSITIONS.items()
     for state in ConnectionState if state in allowed})
"""``protocol.TRANSITIONS`` (event -> the states it may happen in, and where it leads) as
(state, event) rows, the shape the kit reads."""

PACK = Pack(
    name="restart",
    summary="a ComfyUI server killed and restarted; comfyui-node's reconnecting client",
    config=RestartConfig,
    driver=RestartDriver,
    monitors=MONITORS,
    scenarios=SCENARIOS,
    describe=describe,
    state_rules=StateRules(),
    readme="../../models/restart/README.md",
    state_tables=(CONNECTION_STATE,),
)

__all__ = ["CONNECTION_STATE", "MONITORS", "PACK", "RestartDriver", "RestartStatistics"]
