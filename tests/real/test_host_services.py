"""What a Durable Object reads from its runtime, on a real loop: alarms, storage, sockets.

In-process and quick: one :class:`RealSite` on 127.0.0.1 (port 0) with two tiny nodes,
a router that forwards every upgrade and an object that accepts it, and a dialling host.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("aiohttp", reason="running for real needs aiohttp: "
                                      "pip install 'gatewaysim[real]'")

from gatewaysim.real.host import RealClock, RealHost
from gatewaysim.real.site import RealSite
from gatewaysim.simulator.clock import ms
from gatewaysim.simulator.messages import (
    AcceptConnection,
    AlarmFired,
    CloseConnection,
    ConnectRequested,
    DeleteAlarm,
    ForwardConnection,
    Note,
    OpenConnection,
    Send,
    SetAlarm,
    SetAutoResponse,
    Start,
    StoragePut,
    WsClosed,
    WsMessage,
)
from gatewaysim.simulator.node import Node
from gatewaysim.simulator.trace import Trace

pytestmark = pytest.mark.real


class Router(Node):
    def on_input(self, now, inp):  # type: ignore[no-untyped-def]
        if isinstance(inp, ConnectRequested):
            return [ForwardConnection(inp.conn, "obj/" + inp.request["path"].strip("/"),
                                      {**inp.request, "routed": True})]
        return []


class Obj(Node):
    """Accepts with an attachment, arms an alarm on every close, notes what it reads."""

    def on_input(self, now, inp):  # type: ignore[no-untyped-def]
        ctx = self.ctx
        match inp:
            case ConnectRequested(conn=conn, request=request):
                return [Note("seen", {"request": request,
                                      "sockets": [w.conn for w in ctx.get_websockets()]}),
                        AcceptConnection(conn, {"who": conn}, {"protocol": "p1"}),
                        SetAutoResponse("ping", "pong"), StoragePut("n", 1),
                        Send(conn, "hello")]
            case WsMessage(conn=conn, data="close-me"):
                return [CloseConnection(conn, 4000, "bye"),
                        Note("closing", {"states": [w.ready_state
                                                    for w in ctx.get_websockets()]})]
            case WsClosed():
                return [SetAlarm(now + ms(50)), SetAlarm(now + ms(80))]
            case AlarmFired():
                return [Note("alarm", {"alarm": ctx.get_alarm(),
                                       "storage": dict(ctx.storage)}), DeleteAlarm()]
        return []


class Dialer(Node):
    def on_input(self, now, inp):  # type: ignore[no-untyped-def]
        match inp:
            case Start():
                return [OpenConnection("d:ws1", "router", {
                    "path": "/a", "headers": {"Origin": "x"}, "protocols": ["p1", "p2"]})]
            case WsMessage(conn=conn, data="hello"):
                return [Send(conn, "ping")]
            case WsMessage(conn=conn, data="pong"):
                return [Send(conn, "close-me")]
        return []


def notes(trace: Trace, event: str) -> list[dict[str, Any]]:
    return [r.data["data"] for r in trace.records if r.type == "Note"
            and r.data["event"] == event]


def test_forward_attachments_auto_response_storage_and_alarm_overwrite():
    async def run() -> tuple[Trace, RealSite]:
        trace = Trace(keep=True)
        clock = RealClock()
        site = RealSite(trace, clock, entry="router")
        site.add_host("router", Router)
        site.add_namespace("obj/", Obj)
        await site.listen()
        site.start()
        dialer = RealHost("d", Dialer, trace, clock, site.url)
        dialer.start()
        try:
            for _ in range(200):
                if notes(trace, "alarm"):
                    break
                await asyncio.sleep(0.01)
        finally:
            await dialer.close()
            await site.close()
        return trace, site

    trace, site = asyncio.run(run())
    assert "obj/a" in site.hosts  # created on first contact by the forward
    seen = notes(trace, "seen")[0]
    assert seen["request"] == {"path": "/a", "headers": {"Origin": "x"},
                               "protocols": ["p1", "p2"], "routed": True}
    opened = [r for r in trace.records if r.actor == "d" and r.type == "WsOpened"]
    assert opened[0].data["response"] == {"protocol": "p1"}
    # "ping" was answered without waking the object; the frame never reached it.
    assert [r.data["request"] for r in trace.records if r.type == "auto_response"] == ["ping"]
    assert not [r for r in trace.records if r.actor == "obj/a" and r.type == "WsMessage"
                and r.data["data"] == "ping"]
    assert notes(trace, "closing") == [{"states": ["OPEN"]}]  # effects apply after handle
    closed = [r.data for r in trace.records if r.actor == "d" and r.type == "WsClosed"]
    assert [(c["code"], c["clean"]) for c in closed] == [(4000, True)]
    # One alarm per object, the second set overwrites the first; it reads None while
    # alarm() runs; storage written with StoragePut is read back.
    armed = [r.data["at"] for r in trace.records if r.type == "SetAlarm"]
    fired = [r for r in trace.records if r.type == "AlarmFired"]
    assert len(armed) == 2 and len(fired) == 1 and fired[0].t >= armed[1]
    assert notes(trace, "alarm") == [{"alarm": None, "storage": {"n": 1}}]


def test_a_socket_the_node_closes_is_listed_closing_until_it_is_closed():
    async def run() -> list[list[str]]:
        trace = Trace(keep=True)
        host = RealHost("obj/a", Obj, trace, RealClock(), {})
        host.start()
        answer = asyncio.get_running_loop().create_future()
        host.expect_upgrade("c1", "d", {"path": "/a"}, answer)
        seen = [[w.ready_state for w in host.node.ctx.get_websockets()]]
        host.deliver(WsMessage("c1", "close-me"))
        seen.append([w.ready_state for w in host.node.ctx.get_websockets()])
        host._closed("c1", 4000, "bye", True)  # what the transport reports
        seen.append([w.ready_state for w in host.node.ctx.get_websockets()])
        assert (await answer)[:2] == (True, 101)
        await host.close()
        return seen

    assert asyncio.run(run()) == [["OPEN"], ["CLOSING"], []]
