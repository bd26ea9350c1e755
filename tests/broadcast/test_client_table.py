"""The broadcast client's transition table: every listed pair moves where the table says,
every other pair is an error (h2's habit of testing each (state, event) pair)."""

from __future__ import annotations

import itertools

import pytest

from gatewaysim.models.broadcast.client_table import (
    TABLE,
    ClientEvent,
    ClientState,
    ClientStateError,
    transition,
)

PAIRS = list(itertools.product(ClientState, ClientEvent))


@pytest.mark.parametrize(("state", "event"), PAIRS, ids=lambda v: v.name)
def test_every_pair_is_in_the_table_or_an_error(state: ClientState, event: ClientEvent) -> None:
    if (state, event) in TABLE:
        assert transition(state, event) is TABLE[(state, event)]
    else:
        with pytest.raises(ClientStateError, match=event.name):
            transition(state, event)


def test_the_documented_lifecycle() -> None:
    """connect -> connected -> drop -> reconnecting -> retry -> connecting -> connected."""
    s = ClientState.DISCONNECTED
    walk = [ClientEvent.CONNECT, ClientEvent.OPENED, ClientEvent.CLOSED, ClientEvent.RETRY_DUE,
            ClientEvent.OPENED]
    seen = []
    for event in walk:
        s = transition(s, event)
        seen.append(s.value)
    assert seen == ["connecting", "connected", "reconnecting", "connecting", "connected"]


def test_disconnect_is_allowed_from_every_state() -> None:
    for state in ClientState:
        assert transition(state, ClientEvent.DISCONNECT) is ClientState.DISCONNECTED
