"""The client's connection-state transition table (``lumenize-mesh.md`` section 2.1).

Theory of operation
-------------------
``LumenizeClient`` has four states, ``disconnected`` (the start), ``connecting``,
``connected`` and ``reconnecting``. Everything that may change the state is first turned
into one *event kind* below: a user action (``connect``, ``disconnect``, a wake-up), a
socket event (``socket_open``, ``connection_status``, a close already classified by code
and by whether the socket is still the current one), the end of an asynchronous
``connectInternal`` (``connect_failed_login`` / ``connect_failed``), the reconnect timer,
or the end of the refresh started by a 4401 close (``reauth_ok`` / ``reauth_failed``).

``TABLE[(state, event)]`` names the client method that reacts and the state to enter
(``None``: the state is left as it is; section 2.1 says so for ``open``, ``4401``, the
reconnect timer and wake-ups). The state is entered *before* the method runs, so the
method sees the new state (``connection_status`` is "``connected``, then flush, then
``onSubscriptionRequired``").

The real client reacts to most events in every state: callbacks of old sockets stay live,
and an awaited refresh can finish after ``disconnect()``, so almost every pair below is
reachable and listed, with its no-op made explicit. A pair missing from the table is one
the client can never meet, and :data:`UNREACHABLE` says why: :func:`lookup` raises
:class:`ClientStateError` for it, so a model change that makes it reachable fails loudly
instead of doing something unplanned.
"""

from __future__ import annotations

from attrs import frozen

DISCONNECTED = "disconnected"
CONNECTING = "connecting"
CONNECTED = "connected"
RECONNECTING = "reconnecting"
STATES: tuple[str, ...] = (DISCONNECTED, CONNECTING, CONNECTED, RECONNECTING)

# Event kinds.
CONNECT = "connect"  # connect(), also run by the constructor (Start)
SOCKET_OPEN = "socket_open"  # onopen of any socket whose handlers are attached
CONNECTION_STATUS = "connection_status"  # the gateway's first frame
CLOSE_LOGIN = "close_login"  # 4400 / 4403 on the current socket
CLOSE_EXPIRED = "close_expired"  # 4401 on the current socket
CLOSE_SUPERSEDED = "close_superseded"  # 4409 on the current socket, fix flag only
CLOSE_OTHER = "close_other"  # any other close (1000, 1006, 1011, 4409 faithful)
CLOSE_STALE = "close_stale"  # a close on a socket that is no longer current
CONNECT_FAILED_LOGIN = "connect_failed_login"  # connectInternal threw LoginRequiredError
CONNECT_FAILED = "connect_failed"  # connectInternal threw anything else
ERROR = "error"  # the socket's error event
DISCONNECT = "disconnect"  # disconnect()
WAKE_ONLINE = "wake_online"  # window 'online'
WAKE_VISIBLE = "wake_visible"  # 'visibilitychange' to visible, or window 'focus'
RECONNECT_TIMER = "reconnect_timer"  # the scheduleReconnect timer fired
REAUTH_OK = "reauth_ok"  # the 4401 path's refresh succeeded
REAUTH_FAILED = "reauth_failed"  # the 4401 path's refresh failed (any way)
REJECTED_LOGIN = "rejected_login"  # fix rejected_upgrade_terminal: 403, or 401 after a retry
REJECTED_RETRY = "rejected_retry"  # fix rejected_upgrade_terminal: first 401 of a cycle

EVENTS: tuple[str, ...] = (
    CONNECT, SOCKET_OPEN, CONNECTION_STATUS, CLOSE_LOGIN, CLOSE_EXPIRED, CLOSE_SUPERSEDED,
    CLOSE_OTHER, CLOSE_STALE, CONNECT_FAILED_LOGIN, CONNECT_FAILED, ERROR, DISCONNECT,
    WAKE_ONLINE, WAKE_VISIBLE, RECONNECT_TIMER, REAUTH_OK, REAUTH_FAILED, REJECTED_LOGIN,
    REJECTED_RETRY,
)


class ClientStateError(RuntimeError):
    """An event arrived in a state the transition table has no row for."""


@frozen
class Transition:
    """React with client method ``handler``; enter ``to`` first (``None``: stay)."""

    handler: str
    to: str | None = None

    def __repr__(self) -> str:
        return f"Transition({self.handler!r}, to={self.to!r})"


def _every_state(handler: str, to: str | None = None) -> dict[str, Transition]:
    return {state: Transition(handler, to) for state in STATES}


# event -> state -> transition; flattened into TABLE below.
_ROWS: dict[str, dict[str, Transition]] = {
    # connect(): a no-op while connected or connecting; otherwise clear the timer and run
    # connectInternal, entering connecting (or staying reconnecting). Attempts not reset.
    CONNECT: {
        DISCONNECTED: Transition("_on_connect", CONNECTING),
        CONNECTING: Transition("_ignore"),
        CONNECTED: Transition("_ignore"),
        RECONNECTING: Transition("_on_connect", RECONNECTING),
    },
    # open: state unchanged; attempts=0, re-auth re-armed, heartbeat starts.
    SOCKET_OPEN: _every_state("_on_socket_open"),
    # connection_status: connected, then flush, then onSubscriptionRequired if required.
    CONNECTION_STATUS: _every_state("_on_connection_status", CONNECTED),
    # 4400 / 4403: terminal, onLoginRequired, no reconnect.
    CLOSE_LOGIN: _every_state("_on_login_required", DISCONNECTED),
    # 4401: drop the token and refresh; the state is unchanged meanwhile.
    CLOSE_EXPIRED: _every_state("_on_close_expired"),
    # 4409 with superseded_client_stays_down: a newer tab owns the name; stay down.
    CLOSE_SUPERSEDED: _every_state("_on_close_superseded", DISCONNECTED),
    # Any other close on the current socket: scheduleReconnect.
    CLOSE_OTHER: _every_state("_on_close_other", RECONNECTING),
    # The stale-close guard: the old socket's onclose returns at once.
    CLOSE_STALE: _every_state("_ignore"),
    CONNECT_FAILED_LOGIN: _every_state("_on_login_required", DISCONNECTED),
    CONNECT_FAILED: _every_state("_schedule_reconnect", RECONNECTING),
    # error: only onConnectionError(Error('WebSocket error')).
    ERROR: _every_state("_on_error"),
    DISCONNECT: _every_state("_on_disconnect", DISCONNECTED),
    # online while reconnecting *or disconnected* -> reconnectNow (section 6, inferred).
    WAKE_ONLINE: {
        DISCONNECTED: Transition("_reconnect_now"),
        CONNECTING: Transition("_ignore"),
        CONNECTED: Transition("_ignore"),
        RECONNECTING: Transition("_reconnect_now"),
    },
    # visible / focus only while reconnecting.
    WAKE_VISIBLE: {
        DISCONNECTED: Transition("_ignore"),
        CONNECTING: Transition("_ignore"),
        CONNECTED: Transition("_ignore"),
        RECONNECTING: Transition("_reconnect_now"),
    },
    # The timer runs connectInternal. It can outlive reconnecting: a stale socket's
    # connection_status (connected), or a 4403 close (disconnected), do not clear it.
    # (connecting, reconnect_timer) is unreachable; see UNREACHABLE.
    RECONNECT_TIMER: {
        DISCONNECTED: Transition("_connect_internal"),
        CONNECTED: Transition("_connect_internal"),
        RECONNECTING: Transition("_connect_internal"),
    },
    REAUTH_OK: _every_state("_connect_internal", RECONNECTING),
    REAUTH_FAILED: _every_state("_on_reauth_failed", DISCONNECTED),
    REJECTED_LOGIN: _every_state("_on_login_required", DISCONNECTED),
    REJECTED_RETRY: _every_state("_on_rejected_retry", RECONNECTING),
}

TABLE: dict[tuple[str, str], Transition] = {
    (state, event): transition
    for event, by_state in _ROWS.items()
    for state, transition in by_state.items()
}

UNREACHABLE: dict[tuple[str, str], str] = {
    (CONNECTING, RECONNECT_TIMER):
        "only scheduleReconnect arms the timer, and the one way into connecting, connect() "
        "from disconnected, clears it first",
}
"""The pairs with no row on purpose: (state, event) -> why the client never meets it."""


def lookup(state: str, event: str) -> Transition:
    """The row for ``(state, event)``, or :class:`ClientStateError` if there is none."""
    try:
        return TABLE[(state, event)]
    except KeyError:
        raise ClientStateError(
            f"client cannot handle event {event!r} in state {state!r}"
        ) from None
