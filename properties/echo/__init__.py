"""The echo pack: the exploration machinery proven on the smallest model.

Variants: ``faithful`` (the correct echo model: nothing to find; ``fixed`` is the same),
``buggy`` (both planted bugs), and ``mutant:give_up`` and ``mutant:duplicate_after_restart``
(one each). The manifest below is everything the tools know about the pack.
"""

from __future__ import annotations

from gatewaysim.models.echo.config import EchoConfig
from gatewaysim.models.echo.describe import describe
from gatewaysim.models.echo.scenario import run_echo
from gatewaysim.simulator.state_rules import StateRules

from ..pack import Pack
from .driver import EchoDriver, EchoStatistics
from .monitors import MONITORS, ORDER, RECONNECTED, RECONNECTS

STATE_RULES = StateRules(
    notes={"connected": "connected", "disconnected": "disconnected",
           "reconnect.scheduled": "reconnecting"},
    effects={"OpenConnection": "connecting"},
)
"""The echo client says ``Note("connected")``, not ``Note("state", ...)``: what each means."""

PACK = Pack(
    name="echo",
    summary="an echo server and a client that reconnects with backoff (the first-model example)",
    config=EchoConfig,
    driver=EchoDriver,
    monitors=MONITORS,
    scenarios=(run_echo,),
    describe=describe,
    state_rules=STATE_RULES,
)

__all__ = ["MONITORS", "ORDER", "PACK", "RECONNECTED", "RECONNECTS", "STATE_RULES",
           "EchoDriver", "EchoStatistics"]
