"""What the ComfyUI client and server say to each other, and the client's connection states.

Wire shapes follow the mock server of ``comfyui-node``'s reconnection tests (itself a small
ComfyUI): JSON text frames ``{"type": ..., "data": ...}`` on ``/ws`` and JSON HTTP bodies.

Theory of operation of the connection state
-------------------------------------------
``ComfyApi`` keeps one ``connectionState`` string and sets it imperatively in five places:
``createSocket`` (not for a reconnect) sets ``connecting``; a socket's ``open`` sets
``connected``; the first socket's ``close`` sets ``disconnected``; ``reconnectWs`` sets
``reconnecting``; the ``reconnection_failed`` listener sets ``failed``. The table below is
that code read as a state machine: for each event, the states it may happen in and the
state it leads to. Everything the library allows is in it (including ``failed`` followed by
``connected``, which the library really does); a pair that is not in it is a model error
and raises :class:`StateError`, so a refactoring that invents a transition fails loudly.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from gatewaysim.simulator.errors import SimulationError

SERVER = "comfy"
"""The server's host address (one ComfyUI process on one port)."""
WS_PATH = "/ws"


class ConnectionState(Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"

    def __repr__(self) -> str:
        return f"ConnectionState.{self.name}"


class StateEvent(Enum):
    CREATE = "create"  # createSocket(false)
    OPEN = "open"  # a socket's onopen
    CLOSE = "close"  # a handled onclose
    RECONNECT = "reconnect"  # reconnectWs()
    GIVE_UP = "give_up"  # the reconnection_failed listener

    def __repr__(self) -> str:
        return f"StateEvent.{self.name}"


class StateError(SimulationError):
    """A connection-state transition the library cannot make."""


S = ConnectionState
ANY = frozenset(S)
TRANSITIONS: dict[StateEvent, tuple[frozenset[ConnectionState], ConnectionState]] = {
    StateEvent.CREATE: (ANY, S.CONNECTING),
    StateEvent.OPEN: (ANY, S.CONNECTED),
    # a handled close: the socket that closes was connecting or open (or the state is stale:
    # a reconnect socket that closed unhandled left "connected"/"reconnecting" behind)
    StateEvent.CLOSE: (frozenset({S.CONNECTING, S.CONNECTED, S.RECONNECTING, S.FAILED,
                                  S.DISCONNECTED}), S.DISCONNECTED),
    StateEvent.RECONNECT: (ANY, S.RECONNECTING),
    StateEvent.GIVE_UP: (frozenset({S.RECONNECTING, S.CONNECTED, S.DISCONNECTED, S.FAILED,
                                    S.CONNECTING}), S.FAILED),
}


def next_state(state: ConnectionState, event: StateEvent) -> ConnectionState:
    """The state ``event`` leads to from ``state``; :class:`StateError` if it cannot happen."""
    allowed, target = TRANSITIONS[event]
    if state not in allowed:
        raise StateError(f"{event!r} cannot happen in {state!r}")
    return target


# ---------------------------------------------------------------------------- messages
def status_message(queue_remaining: int, sid: str | None = None) -> dict[str, Any]:
    """The server's ``status`` frame (the one sent on connect carries the session id)."""
    data: dict[str, Any] = {"status": {"exec_info": {"queue_remaining": queue_remaining}}}
    if sid is not None:
        data["sid"] = sid
    return {"type": "status", "data": data}


def feature_flags_message() -> dict[str, Any]:
    """What the client announces on every open (``announcedFeatureFlags``)."""
    return {"type": "feature_flags",
            "data": {"supports_preview_metadata": True, "max_upload_size": 50 * 1024 * 1024}}


OUTPUT_NODE = "9"
"""The node whose output the client's workflow waits for."""


def workflow() -> dict[str, Any]:
    """A two-node workflow (what a prompt body carries; the mock ignores its content)."""
    return {"3": {"class_type": "KSampler", "inputs": {}},
            OUTPUT_NODE: {"class_type": "SaveImage", "inputs": {"images": ["3", 0]}}}


__all__ = ["OUTPUT_NODE", "SERVER", "TRANSITIONS", "WS_PATH", "ConnectionState", "StateError",
           "StateEvent", "feature_flags_message", "next_state", "status_message", "workflow"]
