"""The Lumenize pack: invariants and Hypothesis exploration for the Lumenize Mesh model.

Variants: ``faithful`` (the real code, weaknesses included), ``fixed`` (every fix flag of
``gatewaysim.models.lumenize.config.FIXES``), and ``mutant:<name>`` for each planted bug of
``config.MUTANTS`` (the bug zoo), planted on top of ``fixed`` so that no real weakness
masks it.
"""

from __future__ import annotations

from typing import Any

from gatewaysim.models.lumenize.config import MUTANTS, preset

from ..packs import Pack
from .driver import LumenizeDriver
from .invariants import INVARIANTS


def variant_config(name: str) -> dict[str, Any]:
    """The config of variant ``name`` (``faithful``, ``fixed`` or ``mutant:<name>``)."""
    if name.startswith("mutant:"):
        return preset("fixed", mutants={name.removeprefix("mutant:")}).to_dict()
    return preset(name).to_dict()


def _factory(name: str):  # type: ignore[no-untyped-def]
    return lambda: variant_config(name)


VARIANTS = {name: _factory(name) for name in
            ("faithful", "fixed", *(f"mutant:{m}" for m in sorted(MUTANTS)))}

PACK = Pack(name="lumenize", driver=LumenizeDriver, variants=VARIANTS)

__all__ = ["INVARIANTS", "PACK", "VARIANTS", "LumenizeDriver", "variant_config"]
