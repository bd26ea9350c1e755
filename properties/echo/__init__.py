"""The echo pack: the exploration machinery proven on the smallest model.

Variants: ``faithful`` (the correct echo model: nothing to find), ``buggy`` (both planted
bugs of :mod:`gatewaysim.models.echo.buggy`), and one variant per planted bug.
"""

from __future__ import annotations

from ..packs import Pack
from .driver import EchoDriver
from .invariants import INVARIANTS, ORDER, RECONNECTS


def _config(client: str = "faithful", server: str = "faithful") -> dict:
    return {"client": client, "server": server, "give_up_after": 3}


PACK = Pack(
    name="echo",
    driver=EchoDriver,
    variants={
        "faithful": _config,
        "buggy": lambda: _config("give-up", "duplicate-after-restart"),
        "give-up": lambda: _config(client="give-up"),
        "duplicate": lambda: _config(server="duplicate-after-restart"),
    },
)

__all__ = ["INVARIANTS", "ORDER", "PACK", "RECONNECTS", "EchoDriver"]
