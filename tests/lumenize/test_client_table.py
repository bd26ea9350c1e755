"""The client's state table (``lumenize-mesh.md`` section 2.1): one test per row, then
every (state, event) pair, h2 style."""

from __future__ import annotations

from typing import Any

import pytest

from gatewaysim.models.lumenize import client_table as table
from gatewaysim.models.lumenize.client import REFRESH_EXPIRED
from gatewaysim.models.lumenize.client_table import ClientStateError
from gatewaysim.models.lumenize.protocol import ClientCall, ClientConnect, WakeUp
from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.messages import Note
from gatewaysim.testing import check_table

from .client_fakes import (
    HOLD,
    Answer,
    FakeAccept,
    FakeClose,
    FakeSend,
    accept,
    connected,
    reject,
    rig,
    status,
    status_frame,
)


# ---------------------------------------------------------------------------- one test per row
def test_row_connect_while_connected_is_a_noop() -> None:
    r = connected()
    r.inject(ClientConnect())
    r.run(s(5))
    assert len(r.worker.upgrades) == 1
    assert len(r.auth.requests) == 1
    assert r.states() == ["connecting", "connected"]


def test_row_connect_while_connecting_is_a_noop() -> None:
    r = rig(worker=[HOLD])
    r.run(ms(100))
    assert r.client.state == "connecting"
    r.inject(ClientConnect())
    r.run(s(5))
    assert len(r.worker.upgrades) == 1
    assert len(r.auth.requests) == 1
    assert r.client.state == "connecting"


def test_row_connect_while_disconnected_enters_connecting_and_connects() -> None:
    r = rig(auto_connect=False)
    r.run(s(1))
    assert r.client.state == "disconnected" and r.auth.requests == []
    r.inject(ClientConnect())
    assert r.client.state == "connecting"
    r.run(ms(200))
    assert r.states() == ["connecting", "connected"]


def test_row_connect_while_reconnecting_clears_timer_stays_reconnecting_keeps_attempts() -> None:
    r = rig(worker=[reject(500), reject(500)])
    r.run(s(1.5))  # two failed upgrades: attempts 2, the next try due at ~3.1 s
    assert r.client.state == "reconnecting" and r.client.attempts == 2
    r.inject(ClientConnect())
    assert not r.client.timer_armed("reconnect")
    assert r.client.state == "reconnecting"
    assert r.client.attempts == 2  # connect() does not reset the counter
    r.run(ms(200))
    assert len(r.worker.upgrades) == 3  # connected at once, not at the 3.1 s timer
    assert r.client.state == "connected"


def test_row_socket_open_keeps_state_resets_attempts_rearms_reauth_starts_heartbeat() -> None:
    r = rig(worker=[reject(500), reject(500), HOLD])
    r.run(s(3.5))  # reject, 1 s, reject (forced re-auth), 2 s, held upgrade
    assert r.client.attempts == 2 and r.client.reauth_forced
    held = r.client.conn
    assert held is not None
    r.to_worker(FakeAccept(held))  # open, but no connection_status
    r.run(ms(50))
    assert r.client.state == "reconnecting"
    assert r.client.attempts == 0
    assert not r.client.reauth_forced
    assert r.client.timer_armed("heartbeat")


@pytest.mark.parametrize("required", [True, False])
def test_row_connection_status_connects_then_flushes_then_subscribes(required: bool) -> None:
    r = rig(worker=[HOLD])
    r.run(ms(100))
    r.inject(ClientCall("first", tag="a"))
    r.inject(ClientCall("second", tag="b"))
    conn = r.client.conn
    assert conn is not None
    r.to_worker(FakeAccept(conn))
    r.run(ms(50))
    assert r.worker.calls() == []  # queued calls wait for connection_status
    r.to_worker(FakeSend(conn, status_frame(required)))
    r.run(ms(50))
    assert r.client.state == "connected"
    methods = [c["chain"]["method"] for c in r.worker.calls()]
    assert methods == (["first", "second", "subscribe"] if required else ["first", "second"])
    assert len(r.notes("subscription_required")) == (1 if required else 0)


@pytest.mark.parametrize(("code", "reason"), [(4400, "No token"),
                                              (4403, "Invalid token signature")])
def test_row_close_4400_4403_on_current_socket_is_terminal(code: int, reason: str) -> None:
    r = connected()
    r.to_worker(FakeClose(r.client.conn, code, reason))
    r.run(s(300))
    assert r.client.state == "disconnected"
    assert r.notes("login_required") == [{"code": code, "reason": reason}]
    assert len(r.worker.upgrades) == 1  # no reconnect
    assert r.notes("reconnect.scheduled") == []
    assert r.worker.pings() == []  # heartbeat stopped


def test_row_close_4401_refreshes_with_state_unchanged_then_reconnects() -> None:
    r = connected(auth=[Answer(), Answer(delay=s(1))])
    r.to_worker(FakeClose(r.client.conn, 4401, "Token expired"))
    r.run(ms(100))
    # The refresh is under way: still "connected", with no socket and no token; the
    # claims stay (the real handleClose nulls only the access token).
    stats = r.stats()
    assert stats["state"] == "connected" and not stats["socket_open"]
    assert r.client.access_token is None and r.client.claims is not None
    assert r.notes("refresh.started")[-1] == {"reason": "token_expired"}
    r.inject(ClientCall("meanwhile", tag="m"))
    assert r.stats()["queued"] == 1  # calls queue
    r.run(s(2))
    assert r.states() == ["connecting", "connected", "reconnecting", "connected"]
    assert len(r.auth.requests) == 2 and len(r.worker.upgrades) == 2
    assert r.settled("m")[0]["ok"]
    assert r.notes("login_required") == []


@pytest.mark.parametrize("failure", [status(500), status(401), Answer("malformed")],
                         ids=["500", "401", "malformed"])
def test_row_close_4401_any_refresh_failure_is_terminal(failure: Answer) -> None:
    # Spec case 82: the first refresh works, the second fails.
    r = connected(auth=[Answer(), failure])
    r.to_worker(FakeClose(r.client.conn, 4401, "Token expired"))
    r.run(s(300))
    assert r.notes("login_required") == [{"code": 401, "reason": REFRESH_EXPIRED}]
    assert r.client.state == "disconnected"
    assert len(r.auth.requests) == 2
    assert len(r.worker.upgrades) == 1


@pytest.mark.parametrize("code", [1000, 1011, 4000, 4409])
def test_row_other_close_on_current_socket_schedules_reconnect(code: int) -> None:
    r = connected()
    r.to_worker(FakeClose(r.client.conn, code, "bye"))
    r.run(ms(100))
    assert r.client.state == "reconnecting"
    assert r.notes("reconnect.scheduled") == [{"attempt": 1, "delay": ms(1000)}]
    r.run(s(1))
    assert len(r.worker.upgrades) == 2 and r.client.state == "connected"


def test_row_abnormal_close_1006_schedules_reconnect() -> None:
    r = connected()
    r.world.drop(r.client.conn)
    r.run(ms(100))
    assert r.client.state == "reconnecting"
    assert r.notes("reconnect.scheduled") == [{"attempt": 1, "delay": ms(1000)}]


def test_row_close_on_non_current_socket_is_ignored_but_its_open_and_message_stay_live() -> None:
    r = connected(worker=[accept(True), HOLD, accept(False)])
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(s(1.05))  # the reconnect timer opens ws2, which the Worker holds
    ws2 = r.client.conn
    assert ws2 == f"{r.client.address}:ws2"
    r.inject(WakeUp("visible"))  # reconnectNow during CONNECTING: a second socket, ws3
    r.run(ms(100))
    ws3 = r.client.conn
    assert ws3 == f"{r.client.address}:ws3" and r.client.state == "connected"
    scheduled = len(r.notes("reconnect.scheduled"))

    # ws2's onopen and onmessage are still live: it opens and delivers an incoming call.
    incoming = {"type": "incoming_call", "callId": "in-1",
                "chain": {"method": "ping", "args": [7]},
                "callContext": {"callChain": [{"type": "LumenizeDO", "instanceName": "x"}]}}
    r.to_worker(FakeAccept(ws2, (incoming,)))
    r.run(ms(100))
    assert r.notes("incoming.handled") == [{"callId": "in-1", "method": "ping"}]
    replies = [(c, d) for _, c, d in r.worker.received
               if isinstance(d, dict) and d["type"] == "incoming_call_response"]
    assert replies == [(ws3, {"type": "incoming_call_response", "callId": "in-1",
                              "success": True, "result": 7})]  # answered on this.ws

    # ws2's onclose is guarded: nothing happens.
    r.to_worker(FakeClose(ws2, 1011))
    r.run(s(5))
    assert r.client.state == "connected" and r.client.conn == ws3
    assert len(r.notes("reconnect.scheduled")) == scheduled
    assert len(r.worker.upgrades) == 3


@pytest.mark.parametrize("code", [401, 403])
def test_row_connect_internal_login_required_is_terminal(code: int) -> None:
    r = rig(auth=[status(code)])
    r.run(s(300))
    assert r.client.state == "disconnected"
    assert r.notes("login_required") == [{"code": code, "reason": REFRESH_EXPIRED}]
    assert r.worker.upgrades == [] and len(r.auth.requests) == 1


@pytest.mark.parametrize("failure", ["500", "malformed", "no_token", "auth_down"])
def test_row_connect_internal_other_failure_schedules_reconnect(failure: str) -> None:
    answers = {"500": [status(500)], "malformed": [Answer("malformed")],
               "no_token": [status(204)], "auth_down": []}
    r = rig(auth=answers[failure])
    if failure == "auth_down":
        r.world.crash("auth")
    r.run(ms(100))
    assert r.client.state == "reconnecting"
    assert r.notes("refresh.done")[0]["ok"] is False
    assert r.notes("reconnect.scheduled") == [{"attempt": 1, "delay": ms(1000)}]
    assert r.notes("login_required") == []
    if failure == "auth_down":
        r.world.restart("auth")
    r.run(s(2))
    assert r.client.state == "connected"


def test_row_error_event_only_reports_connection_error() -> None:
    r = rig(auto_connect=False)
    for state in table.STATES:
        r.client.state = state
        assert r.client.fire(r.now, table.ERROR) == [Note("connection_error", {})]
        assert r.client.state == state


def test_browser_sees_a_rejected_upgrade_as_an_error_and_1006() -> None:
    r = rig(worker=[reject(403, "Account not yet approved")])
    r.run(ms(200))
    assert r.notes("connection_error") == [{}]
    assert r.notes("login_required") == []  # the 403 is invisible: retried like a 1006
    assert r.notes("reconnect.scheduled") == [{"attempt": 1, "delay": ms(1000)}]


# ---------------------------------------------------------------------------- every pair
def _event_data(event: str) -> dict[str, Any]:
    if event == table.SOCKET_OPEN:
        return {"conn": "client/alice.t1:ws9"}
    if event == table.CONNECTION_STATUS:
        return {"subscription_required": False}
    if event in (table.CLOSE_LOGIN, table.CONNECT_FAILED_LOGIN, table.REJECTED_LOGIN):
        return {"code": 4403, "reason": "x"}
    if event.startswith("close_"):
        return {"code": 1000, "reason": ""}
    return {}


PAIRS = [(state, event) for state in table.STATES for event in table.EVENTS]


@pytest.mark.parametrize(("state", "event"), PAIRS, ids=[f"{s}-{e}" for s, e in PAIRS])
def test_every_state_event_pair_has_a_transition_or_raises(state: str, event: str) -> None:
    r = rig(auto_connect=False)
    r.client.state = state
    if (state, event) in table.TABLE:
        row = table.lookup(state, event)
        assert callable(getattr(r.client, row.handler))
        r.client.fire(r.now, event, **_event_data(event))
        assert r.client.state == (row.to or state)
    else:
        with pytest.raises(ClientStateError, match=f"{event!r} in state {state!r}"):
            table.lookup(state, event)
        with pytest.raises(ClientStateError):
            r.client.fire(r.now, event, **_event_data(event))
        assert r.client.state == state


def test_the_table_leaves_out_exactly_the_pairs_it_declares_unreachable() -> None:
    missing = [pair for pair in PAIRS if pair not in table.TABLE]
    assert missing == [("connecting", "reconnect_timer")]
    assert list(table.UNREACHABLE) == missing
    assert set(table.TABLE) <= set(PAIRS)
    assert check_table(table) == []


def test_connect_from_disconnected_clears_a_reconnect_timer_a_4403_left_armed() -> None:
    # The argument for (connecting, reconnect_timer) being unreachable, run: a 4403 while
    # reconnecting leaves the timer armed in disconnected, and connect() clears it on the
    # way into connecting, so the timer never fires there.
    r = connected(worker=[accept(True), HOLD])
    r.to_worker(FakeClose(r.client.conn, 1011))
    r.run(ms(100))
    assert r.client.state == "reconnecting" and r.client.timer_armed("reconnect")
    r.client.fire(r.now, table.CLOSE_LOGIN, code=4403, reason="x")
    assert r.client.state == "disconnected" and r.client.timer_armed("reconnect")
    r.inject(ClientConnect())
    assert r.client.state == "connecting"
    assert not r.client.timer_armed("reconnect")
    r.run(s(5))  # no ClientStateError: the timer the 4403 left behind is gone
    assert r.client.state == "connecting"


def test_unknown_event_kind_raises() -> None:
    with pytest.raises(ClientStateError):
        table.lookup("connected", "teleport")


def test_statistics_carry_the_contract_keys_and_repr_reads_as_python() -> None:
    r = connected()
    stats = r.stats()
    assert {k: stats[k] for k in ("state", "conn", "socket_open", "instance_name", "token_exp",
                                  "attempts", "pending", "queued", "subscribed", "doc_version",
                                  "login_required", "connects")} == {
        "state": "connected", "conn": f"{r.client.address}:ws1", "socket_open": True,
        "instance_name": "alice.t1", "token_exp": 900, "attempts": 0, "pending": [],
        "queued": 0, "subscribed": ["doc/main"], "doc_version": 1, "login_required": 0,
        "connects": 1}
    assert repr(r.client) == "LumenizeClient('client/alice.t1', state='connected')"
    assert repr(table.lookup("connected", "connect")) == "Transition('_ignore', to=None)"
