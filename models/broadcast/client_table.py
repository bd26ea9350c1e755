"""The broadcast client's connection states and the table of allowed transitions.

Theory of operation (sync-patterns ``BroadcastClient``): ``connect()`` goes CONNECTING and
opens a socket. When it opens the client is CONNECTED, its attempt counter resets, and it
sends one ``subscribe`` with every channel it has handlers for. When the socket closes (or
fails to open) the client schedules a reconnect: RECONNECTING for ``delay * 2**attempts``,
then CONNECTING again, unless ``max_reconnect_attempts`` attempts have failed in a row, in
which case it GIVES_UP and sits DISCONNECTED. ``disconnect()`` (the tab closing) goes
DISCONNECTED from anywhere. The browser fires ``connect`` only from DISCONNECTED and
``retry_due`` only from RECONNECTING, and socket events reach the client only while it owns
a socket (CONNECTING or CONNECTED), so every other pair is in :data:`UNREACHABLE` with why
it cannot occur. Such a pair arriving is a bug in the model and raises
:class:`ClientStateError`.
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

STATES: tuple[ClientState, ...] = tuple(ClientState)
EVENTS: tuple[ClientEvent, ...] = tuple(ClientEvent)

_NO_SOCKET = ("socket events reach a tab only for its current socket, and a tab has none "
              "while {state} ({why})")
_IN_DISCONNECTED = _NO_SOCKET.format(
    state="disconnected", why="before connect(), after giving up, and once its tab closed")
_IN_RECONNECTING = _NO_SOCKET.format(
    state="reconnecting", why="the close that led there cleared it")
_CONNECT_ONLY_FROM_DISCONNECTED = (
    "Browser._connect fires connect only in disconnected (retry_due otherwise), and it runs "
    "only for a new tab or from the retry timer")
_RETRY_ONLY_WHILE_RECONNECTING = (
    "Browser._timer acts on the retry timer only while reconnecting, and only it fires "
    "retry_due")

UNREACHABLE: dict[tuple[ClientState, ClientEvent], str] = {
    (S.DISCONNECTED, E.OPENED): _IN_DISCONNECTED,
    (S.DISCONNECTED, E.CLOSED): _IN_DISCONNECTED,
    (S.DISCONNECTED, E.GIVE_UP): _IN_DISCONNECTED,
    (S.DISCONNECTED, E.RETRY_DUE): _RETRY_ONLY_WHILE_RECONNECTING,
    (S.CONNECTING, E.CONNECT): _CONNECT_ONLY_FROM_DISCONNECTED,
    (S.CONNECTING, E.RETRY_DUE): _RETRY_ONLY_WHILE_RECONNECTING,
    (S.CONNECTED, E.CONNECT): _CONNECT_ONLY_FROM_DISCONNECTED,
    (S.CONNECTED, E.OPENED): "the network delivers a socket's open once, and it made the "
                             "tab connected",
    (S.CONNECTED, E.GIVE_UP): "opening reset the attempt counter to 0 and "
                              "max_reconnect_attempts is at least 1, so a close while "
                              "connected is always below the limit",
    (S.CONNECTED, E.RETRY_DUE): _RETRY_ONLY_WHILE_RECONNECTING,
    (S.RECONNECTING, E.CONNECT): _CONNECT_ONLY_FROM_DISCONNECTED,
    (S.RECONNECTING, E.OPENED): _IN_RECONNECTING,
    (S.RECONNECTING, E.CLOSED): _IN_RECONNECTING,
    (S.RECONNECTING, E.GIVE_UP): _IN_RECONNECTING,
}
"""The pairs with no row on purpose: (state, event) -> why a tab never meets it."""


def transition(state: ClientState, event: ClientEvent) -> ClientState:
    """The state after ``event`` in ``state``; :class:`ClientStateError` if not allowed."""
    try:
        return TABLE[(state, event)]
    except KeyError:
        raise ClientStateError(f"broadcast client: no transition for {event!r} in "
                               f"{state!r}") from None


__all__ = ["EVENTS", "STATES", "TABLE", "UNREACHABLE", "ClientEvent", "ClientState",
           "ClientStateError", "transition"]
