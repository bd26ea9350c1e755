"""A chat SDK's resilience layer (network quality, tokens, reconnection, API client) as sans-IO
models over centrifuge-js semantics; see ``README.md``."""

from .config import ChatConfig
from .world import ChatWorld, build_world

__all__ = ["ChatConfig", "ChatWorld", "build_world"]
