"""The broadcast client's transition table: every listed pair moves where the table says,
every other pair is an error (h2's habit of testing each (state, event) pair)."""

from __future__ import annotations

import itertools

import pytest

from gatewaysim.models.broadcast import BroadcastConfig, build_world, client_table
from gatewaysim.models.broadcast.client_table import (
    TABLE,
    UNREACHABLE,
    ClientEvent,
    ClientState,
    ClientStateError,
    transition,
)
from gatewaysim.models.broadcast.protocol import CloseTab
from gatewaysim.simulator.clock import s
from gatewaysim.simulator.trace import Trace
from gatewaysim.testing import check_table

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


def test_the_pairs_without_a_row_are_exactly_those_declared_unreachable() -> None:
    assert check_table(client_table) == []
    assert set(UNREACHABLE) == {pair for pair in PAIRS if pair not in TABLE}


def test_a_tab_that_has_given_up_stays_down_and_closes_without_error() -> None:
    """Giving up (from connecting) leaves a tab with no socket and no retry timer: nothing
    reaches its table again until the tab closes, and closing is allowed."""
    config = BroadcastConfig(max_reconnect_attempts=1)
    bw = build_world(config, 0, Trace(keep=True), users=(("alice", 1),))
    for name in bw.instances:
        bw.world.partition("alice", name)
    bw.world.run_for(s(600))
    tab = bw.tab("alice/0")
    assert tab is not None and tab.state is ClientState.DISCONNECTED and tab.conn is None
    assert not bw.browser("alice").timer_armed("t0.retry")
    bw.world.inject("alice", CloseTab(0))
    bw.world.run_for(s(1))
    assert bw.tab("alice/0") is None


def test_a_connected_tab_at_the_attempt_limit_still_reconnects_after_a_drop() -> None:
    """(connected, give_up) cannot occur: opening resets the attempts, and the limit is >= 1."""
    config = BroadcastConfig(max_reconnect_attempts=1)
    bw = build_world(config, 0, Trace(keep=True), users=(("alice", 1),))
    bw.world.run_for(s(1))
    tab = bw.tab("alice/0")
    assert tab is not None and tab.state is ClientState.CONNECTED and tab.attempts == 0
    assert tab.conn is not None
    bw.world.drop(tab.conn)
    bw.world.run_for(s(0.5))
    assert tab.state is ClientState.RECONNECTING
    bw.world.run_for(s(5))
    assert tab.state is ClientState.CONNECTED and tab.connects == 2
