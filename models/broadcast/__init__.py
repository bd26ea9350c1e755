"""SYNC-012 broadcast and optimistic sync: backend instances on a Redis pub/sub bus,
broadcast clients that resubscribe, tabs joined by a BroadcastChannel, optimistic caches.
"""

from .browser import Browser, Tab
from .config import BroadcastConfig
from .database import Commit, Database
from .instance import BackendInstance
from .redis import RedisPubSub
from .world import BroadcastWorld, build_world

__all__ = ["BackendInstance", "BroadcastConfig", "BroadcastWorld", "Browser", "Commit",
           "Database", "RedisPubSub", "Tab", "build_world"]
