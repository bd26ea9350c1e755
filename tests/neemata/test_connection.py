"""``connection.spec.ts`` (14 cases), spec 2.6 and 3.1, and the connection table."""

from __future__ import annotations

import itertools

import pytest

from gatewaysim.models.neemata import NeemataConfig, NeemataWorld
from gatewaysim.models.neemata import protocol as p
from gatewaysim.models.neemata.client import (
    CONNECTION_TABLE,
    CONNECTION_UNREACHABLE,
    ConnEvent,
    ConnState,
    NotInTable,
    transition,
)
from gatewaysim.properties.neemata import PACK
from gatewaysim.simulator.clock import ms
from gatewaysim.testing import check_table

from .conftest import dirty, is_clean


def gateway_maps_empty(nw: NeemataWorld) -> bool:
    g = nw.gateway_stats()
    return not any((g.connections, g.stream_ids, g.rpcs, g.streams, g.client_streams,
                    g.server_streams, g.client_call_streams, g.server_call_streams,
                    g.connection_client_streams, g.connection_server_streams))


def test_01_02_a_fresh_setup_has_one_connection_and_works(any_nw: NeemataWorld) -> None:
    assert any_nw.gateway_stats().connections == 1
    op = any_nw.call("echo", {"value": 1})
    any_nw.run(ms(5))
    assert any_nw.outcome(op).value == 1


def test_03_disconnected_is_emitted_with_reason_client(any_nw: NeemataWorld) -> None:
    any_nw.disconnect()
    reasons = [d["reason"] for _, e, d in any_nw.ledger.events if e == "client.disconnected"]
    assert reasons == ["client"]


def test_04_07_14_pending_call_rejects_on_disconnect(any_nw: NeemataWorld) -> None:
    op = any_nw.call("slow", {"ms": 10_000})
    any_nw.run(ms(50))
    assert any_nw.client_stats().calls == 1 and any_nw.gateway_stats().rpcs == 1
    any_nw.disconnect()
    any_nw.run(ms(5))
    # cab.abort() runs first: ClientRequestError, and RpcAbort goes out while it still can.
    assert any_nw.outcome(op).code == p.CLIENT_REQUEST_ERROR
    assert is_clean(any_nw) and gateway_maps_empty(any_nw)


def test_05_06_11_12_13_after_a_call_and_disconnect_every_map_is_empty(
        any_nw: NeemataWorld) -> None:
    any_nw.call("echo", {"value": 1})
    any_nw.run(ms(5))
    any_nw.disconnect()
    any_nw.run(ms(5))
    assert gateway_maps_empty(any_nw) and any_nw.client_stats().is_clean
    assert dirty(any_nw) == {}


def test_08_09_reconnect_works_on_fresh_gateway_state(any_nw: NeemataWorld) -> None:
    any_nw.download(10)
    any_nw.run(ms(10))
    any_nw.disconnect()
    any_nw.connect()
    any_nw.run(ms(5))
    assert any_nw.gateway_stats().connections == 1
    ids: list[int] = []
    any_nw.world.trace.listeners.append(
        lambda r: ids.append(r.data["data"]["stream_id"]) if r.type == "Note"
        and r.data["event"] == "download.created" else None)
    op = any_nw.download(10)
    any_nw.run(ms(10))
    assert any_nw.ledger.downloads[op]["outcome"] == "end"
    assert ids == [0]  # the new connection's download ids start from 0 again
    assert any_nw.client_stats().next_call_id == 2  # the client's are never reset


def test_10_five_cycles_leave_nothing_behind(any_nw: NeemataWorld) -> None:
    for _ in range(5):
        any_nw.connect()
        any_nw.run(ms(3))
        op = any_nw.call("echo", {"value": 1})
        any_nw.run(ms(3))
        assert any_nw.outcome(op).ok
        any_nw.disconnect()
        any_nw.run(ms(3))
        assert gateway_maps_empty(any_nw) and dirty(any_nw) == {}


def test_server_close_rejects_pending_calls_with_connection_error(any_nw: NeemataWorld) -> None:
    op = any_nw.call("slow", {"ms": 10_000})
    any_nw.run(ms(10))
    any_nw.world.drop(any_nw.client.conn)
    any_nw.run(ms(5))
    outcome = any_nw.outcome(op)
    assert (outcome.code, outcome.message) == (p.CONNECTION_ERROR, "Disconnected")
    reasons = [d["reason"] for _, e, d in any_nw.ledger.events if e == "client.disconnected"]
    assert reasons == ["server"]
    assert dirty(any_nw) in ({}, {"gateway.handlers": 1})
    assert any_nw.gateway_stats().connections == 0


def test_disconnect_racing_a_response(any_nw: NeemataWorld) -> None:
    """A response already on the wire when the client disconnects: the call rejects once,
    the response is lost with the connection, nothing escapes."""
    op = any_nw.call("echo", {"value": 1, "work_ms": 10})
    any_nw.run(ms(11))  # the handler answered at 6 + 10 ms; the answer lands at 17 ms
    any_nw.disconnect()
    any_nw.run(ms(20))
    assert not any_nw.outcome(op).ok and any_nw.ledger.settle_counts[op] == 1
    assert not [e for _, e, _ in any_nw.ledger.events if e == "error.escaped"]
    assert dirty(any_nw) == {}


def test_second_disconnect_throws_on_faithful_and_is_a_no_op_fixed() -> None:
    for variant, error in (("faithful", True), ("fixed", False)):
        nw = NeemataWorld(NeemataConfig.for_variant(variant))
        nw.disconnect()
        nw.disconnect()
        errors = [d for _, e, d in nw.ledger.events if e == "user.error"]
        assert bool(errors) is error, variant


def test_call_while_connecting_fails_with_a_transport_error_on_faithful() -> None:
    nw = NeemataWorld(NeemataConfig(), connect=False)
    nw.connect()
    op = nw.call("echo", {"value": 1})
    nw.run(ms(5))
    assert nw.outcome(op).code == p.TRANSPORT_ERROR


def test_the_gateway_heartbeat_reaps_a_half_open_connection_only_when_on() -> None:
    for variant, reaped in (("faithful", False), ("fixed", True)):
        nw = NeemataWorld(NeemataConfig.for_variant(variant))
        nw.world.half_open(nw.client.conn, "server")
        nw.run(ms(30_000))
        assert (nw.gateway_stats().connections == 0) is reaped, variant


# --------------------------------------------------------------------------- the table
def test_the_connection_table_answers_every_pair() -> None:
    for state, event in itertools.product(ConnState, ConnEvent):
        if (state, event) in CONNECTION_TABLE:
            assert transition(state, event) is CONNECTION_TABLE[(state, event)]
        else:
            with pytest.raises(NotInTable):
                transition(state, event)


def test_the_pairs_missing_from_the_table_are_the_impossible_ones() -> None:
    missing = {(s, e) for s, e in itertools.product(ConnState, ConnEvent)
               if (s, e) not in CONNECTION_TABLE}
    assert missing == {(ConnState.DISCONNECTED, ConnEvent.OPENED),
                       (ConnState.DISCONNECTED, ConnEvent.LOST),
                       (ConnState.CONNECTED, ConnEvent.OPENED)}
    assert set(CONNECTION_UNREACHABLE) == missing
    assert check_table(PACK.state_tables[0]) == []


def test_disconnect_while_connecting_drops_the_open_on_its_way_and_its_close() -> None:
    """Why (disconnected, opened) and (disconnected, lost) never reach the table: the open
    of a socket closed while connecting is never delivered, and its 1006 close arrives
    while disconnected, where the client passes it by."""
    nw = NeemataWorld(NeemataConfig(), connect=False)
    nw.connect()
    conn = nw.client.conn
    nw.disconnect()
    assert nw.client.state is ConnState.DISCONNECTED and nw.client.conn == conn
    nw.run(ms(50))  # no NotInTable: nothing about the old socket reached the table
    assert nw.client.state is ConnState.DISCONNECTED
    reasons = [d["reason"] for _, e, d in nw.ledger.events if e == "client.disconnected"]
    assert reasons == ["client"]
    assert not [e for _, e, _ in nw.ledger.events if e == "client.connected"]
