"""A model of the Neemata RPC protocol (``neematajs/neemata@f77b193b``): client and gateway.

See ``README.md`` beside this file for what is modelled, the fix flags and the mutants.
"""

from .client import ClientStatistics, NeemataClient
from .config import NeemataConfig
from .gateway import GatewayStatistics, NeemataGateway
from .world import CLIENT, GATEWAY, NeemataWorld, Outcome

__all__ = ["CLIENT", "GATEWAY", "ClientStatistics", "GatewayStatistics", "NeemataClient",
           "NeemataConfig", "NeemataGateway", "NeemataWorld", "Outcome"]
