"""Lumenize Mesh: browser clients, the Worker, per-client gateway DOs, tokens and mesh DOs.

Modelled from ``specs/lumenize-mesh.md`` (the real code at ``lumenize/lumenize@100dc455``).
``build_world`` wires a world; ``LumenizeConfig`` / ``preset`` choose the faithful model,
the fixed one, or a planted mutant. The client (``gatewaysim.models.lumenize.client``) is imported
on first use by the wiring.
"""

from .auth import TokenService
from .config import FIXES, MUTANTS, LumenizeConfig, preset
from .gateway import LumenizeGateway, Rejection
from .mesh import DocumentBroadcaster, MeshNode
from .worker import Worker
from .world import ClientSpec, LumenizeWorld, build_world, describe

__all__ = [
    "FIXES",
    "MUTANTS",
    "ClientSpec",
    "DocumentBroadcaster",
    "LumenizeConfig",
    "LumenizeGateway",
    "LumenizeWorld",
    "MeshNode",
    "Rejection",
    "TokenService",
    "Worker",
    "build_world",
    "describe",
    "preset",
]
