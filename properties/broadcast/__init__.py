"""The broadcast pack: SYNC-012's broadcast and optimistic sync, explored.

Variants: ``faithful`` (the documented system: an at-most-once Redis bus, a client that
resubscribes but does not refetch, refetches applied in arrival order, optimistic entries
shared between tabs but not their rollback), ``fixed`` (every fix flag of
:class:`~gatewaysim.models.broadcast.config.BroadcastConfig`), and ``mutant:<name>`` for
each planted bug, on top of ``fixed``.
"""

from __future__ import annotations

from gatewaysim.models.broadcast import client_table
from gatewaysim.models.broadcast.config import BroadcastConfig
from gatewaysim.models.broadcast.describe import describe
from gatewaysim.models.broadcast.scenarios import SCENARIOS
from gatewaysim.simulator.state_rules import StateRules

from ..pack import Pack
from .driver import TABS, BroadcastDriver, BroadcastStatistics, TabView
from .monitors import MONITORS

PACK = Pack(
    name="broadcast",
    summary="SYNC-012: WebSocket broadcast on Redis pub/sub, resubscribing clients, tabs on a "
            "BroadcastChannel, optimistic caches",
    config=BroadcastConfig,
    driver=BroadcastDriver,
    monitors=MONITORS,
    scenarios=SCENARIOS,
    describe=describe,
    state_rules=StateRules(notes={"bus.down": "bus down", "bus.subscribed": "bus ready"}),
    readme="../../models/broadcast/README.md",
    state_tables=(client_table,),
)

__all__ = ["MONITORS", "PACK", "TABS", "BroadcastDriver", "BroadcastStatistics", "TabView"]
