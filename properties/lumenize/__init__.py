"""The Lumenize pack: the Lumenize Mesh model, its driver and its monitors, in one manifest.

Variants come from :class:`~gatewaysim.models.lumenize.config.LumenizeConfig`:
``faithful`` (the real code, weaknesses included), ``fixed`` (every fix flag), and
``mutant:<name>`` for each planted bug of the bug zoo, planted on top of ``fixed`` so that
no real weakness masks it.
"""

from __future__ import annotations

from gatewaysim.models.lumenize import client_table
from gatewaysim.models.lumenize.config import LumenizeConfig
from gatewaysim.models.lumenize.scenarios import PHASES
from gatewaysim.models.lumenize.world import describe

from ..pack import Pack
from .driver import LumenizeDriver
from .monitors import MONITORS
from .statistics import LumenizeStatistics, TabFacts

PACK = Pack(
    name="lumenize",
    summary="Lumenize Mesh: browser tabs, the Worker, per-tab gateway Durable Objects, a "
            "rotating token service and mesh objects that call the tabs back",
    config=LumenizeConfig,
    driver=LumenizeDriver,
    monitors=MONITORS,
    scenarios=PHASES,
    describe=describe,
    readme="../../models/lumenize/README.md",
    state_tables=(client_table,),
)

__all__ = ["MONITORS", "PACK", "LumenizeDriver", "LumenizeStatistics", "TabFacts"]
