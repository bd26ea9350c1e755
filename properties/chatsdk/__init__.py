"""The chat SDK pack: the resilience layer of a chat SDK (network quality, tokens,
reconnection on centrifuge-js, API client) under random faults.

Variants: ``faithful`` (what the document's code does when it runs, weaknesses included),
``fixed`` (every fix flag of :class:`~gatewaysim.models.chatsdk.config.ChatConfig`), and
``mutant:<name>`` for each planted bug, on top of ``fixed``.
"""

from __future__ import annotations

from gatewaysim.models.chatsdk.centrifuge import TRANSITIONS, UNREACHABLE, ManagerEvent
from gatewaysim.models.chatsdk.config import ChatConfig
from gatewaysim.models.chatsdk.describe import describe
from gatewaysim.models.chatsdk.protocol import ConnectionState
from gatewaysim.models.chatsdk.scenarios import SCENARIOS
from gatewaysim.simulator.state_rules import StateRules
from gatewaysim.testing.tables import StateTable

from ..pack import Pack
from .driver import ChatDriver, ChatStatistics
from .monitors import MONITORS

STATE_RULES = StateRules(state_event="conn.state")
"""The connection manager names its state itself: ``Note("conn.state", {"to": ...})``."""

CONNECTION_MANAGER = StateTable("chatsdk.connection_manager", ConnectionState, ManagerEvent,
                                TRANSITIONS, UNREACHABLE)
"""The manager's table (``centrifuge.TRANSITIONS``), in the shape the kit reads."""

PACK = Pack(
    name="chatsdk",
    summary="a chat SDK's resilience layer: network quality, token refresh, reconnection on "
            "centrifuge-js, circuit breaker, offline queue, uploads",
    config=ChatConfig,
    driver=ChatDriver,
    monitors=MONITORS,
    scenarios=SCENARIOS,
    describe=describe,
    state_rules=STATE_RULES,
    readme="../../models/chatsdk/README.md",
    state_tables=(CONNECTION_MANAGER,),
)

__all__ = ["CONNECTION_MANAGER", "MONITORS", "PACK", "STATE_RULES", "ChatDriver", "ChatStatistics"]
