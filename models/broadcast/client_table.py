"""The broadcast client's connection states and the table of allowed transitions.

Theory of operation (sync-patterns ``BroadcastClient``): ``connect()`` goes CONNECTING and
opens a socket. When it opens the client is CONNECTED, its attempt counter resets, and it
sends one ``subscribe`` with every channel it has handlers for. When the socket closes (or
fails to open) the client schedules a reconnect: RECONNECTING for ``delay * 2**attempts``,
then CONNECTING again, unless ``max_reconnect_attempts`` attempts have failed in a row, in
which case it GIVES_UP and sits DISCONNECTED. ``disconnect()`` (the tab closing) goes
DISCONNECTED from anywhere. Every (state, event) pair that is not in the table is a bug in
the model and raises :class:`ClientStateError`.
"""

from __future__ import annotations

import enum

from gatewaysim.simulator.errors import SimulationError


class ClientState(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"

    def __repr__(self) -> str:
        return f"ClientState.{self.name}"


class ClientEvent(enum.Enum):
    CONNECT = "connect"
    OPENED = "opened"
    CLOSED = "closed"
    GIVE_UP = "give_up"
    RETRY_DUE = "retry_due"
    DISCONNECT = "disconnect"

    def __repr__(self) -> str:
        return f"ClientEvent.{self.name}"


class ClientStateError(SimulationError):
    """An event arrived in a state the table has no transition for."""


S, E = ClientState, ClientEvent

TABLE: dict[tuple[ClientState, ClientEvent], ClientState] = {
    (S.DISCONNECTED, E.CONNECT): S.CONNECTING,
    (S.DISCONNECTED, E.DISCONNECT): S.DISCONNECTED,
    (S.CONNECTING, E.OPENED): S.CONNECTED,
    (S.CONNECTING, E.CLOSED): S.RECONNECTING,
    (S.CONNECTING, E.GIVE_UP): S.DISCONNECTED,
    (S.CONNECTING, E.DISCONNECT): S.DISCONNECTED,
    (S.CONNECTED, E.CLOSED): S.RECONNECTING,
    (S.CONNECTED, E.DISCONNECT): S.DISCONNECTED,
    (S.RECONNECTING, E.RETRY_DUE): S.CONNECTING,
    (S.RECONNECTING, E.DISCONNECT): S.DISCONNECTED,
}


def transition(state: ClientState, event: ClientEvent) -> ClientState:
    """The state after ``event`` in ``state``; :class:`ClientStateError` if not allowed."""
    try:
        return TABLE[(state, event)]
    except KeyError:
        raise ClientStateError(f"broadcast client: no transition for {event!r} in "
                               f"{state!r}") from None


__all__ = ["TABLE", "ClientEvent", "ClientState", "ClientStateError", "transition"]
