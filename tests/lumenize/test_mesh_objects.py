"""The document broadcaster and the mesh node, driven through a real gateway by raw
sockets: subscribe, fan-out, drop-on-failed-fanout (case 86), silent subscription loss
(section 6) and its fix, and mesh calls to clients."""

from __future__ import annotations

from gatewaysim.models.lumenize import protocol as p
from gatewaysim.models.lumenize.config import preset
from gatewaysim.models.lumenize.mesh import DocumentBroadcaster, MeshNode
from gatewaysim.simulator.clock import ms, s

from .conftest import Bench, BenchFactory


def _mesh_bench(make_bench: BenchFactory, **kw: object) -> Bench:
    bench = make_bench(**kw)
    config = bench.config
    bench.world.add_host("doc/main", lambda ctx: DocumentBroadcaster(ctx, config))
    bench.world.add_host("node/main", lambda ctx: MeshNode(ctx, config))
    return bench


def _doc(bench: Bench) -> DocumentBroadcaster:
    return bench.world.node("doc/main")


def _subscribe(bench: Bench, client: str = "alice", call_id: str = "sub1") -> dict:
    bench.call(client, call_id, "subscribe", instance="doc/main", binding=p.DOCUMENT_BINDING)
    return next(f for f in bench.frames(client, kind="call_response")
            if f["callId"] == call_id)


def _answer_updates(bench: Bench, client: str = "alice") -> list[list]:
    """Answer every handleUpdate the client got (as a real client's @mesh method would)."""
    args = []
    for frame in bench.frames(client, kind="incoming_call"):
        if frame["chain"]["method"] == "handleUpdate":
            args.append(frame["chain"]["args"])
            bench.answer(client, frame["callId"], None)
    return args


def test_subscribe_returns_the_document_and_adds_a_durable_row(
        make_bench: BenchFactory) -> None:
    bench = _mesh_bench(make_bench)
    bench.world.inject("doc/main", p.Publish("v1 text"))
    bench.connect()
    response = _subscribe(bench)
    assert response["result"] == {"content": "v1 text", "version": 1}
    assert _doc(bench).statistics() == {"subscribers": ["alice.tab1"], "version": 1,
                                        "content": "v1 text"}
    assert bench.notes("subscriber.added") == [{"instanceName": "alice.tab1",
                                                "reason": "subscribe"}]
    bench.world.crash("doc/main")
    bench.world.restart("doc/main")
    assert _doc(bench).statistics()["subscribers"] == ["alice.tab1"]
    assert _doc(bench).statistics()["version"] == 1


def test_update_fans_out_handle_update_to_every_subscriber_sorted(
        make_bench: BenchFactory) -> None:
    bench = _mesh_bench(make_bench)
    bench.connect("bob", "bob.t1", "bob")
    bench.connect("alice")
    _subscribe(bench, "bob")
    _subscribe(bench, "alice")
    bench.call("alice", "u1", "update", "hello", instance="doc/main")
    assert bench.notes("fanout") == [{"version": 1, "content": "hello",
                                      "targets": ["alice.tab1", "bob.t1"]}]
    assert _answer_updates(bench, "alice") == [["hello", 1]]
    assert _answer_updates(bench, "bob") == [["hello", 1]]
    assert [f["result"] for f in bench.frames("alice", kind="call_response")
            if f["callId"] == "u1"] == [1]


def test_unsubscribe_removes_the_row(make_bench: BenchFactory) -> None:
    bench = _mesh_bench(make_bench)
    bench.connect()
    _subscribe(bench)
    bench.call("alice", "x", "unsubscribe", instance="doc/main")
    assert _doc(bench).subscribers == []
    bench.world.inject("doc/main", p.Publish("after"))
    bench.run()
    assert bench.notes("fanout")[-1]["targets"] == []


def test_case86_fanout_after_grace_drops_the_row(make_bench: BenchFactory) -> None:
    """Case 86 (grace 100 ms): after disconnect and grace, a fan-out gets
    ClientDisconnectedError and the row is dropped. A successful fan-out drops nothing."""
    bench = _mesh_bench(make_bench, grace=ms(100))
    bench.connect()
    _subscribe(bench)
    bench.world.inject("doc/main", p.Publish("one"))
    bench.run()
    _answer_updates(bench)
    assert _doc(bench).subscribers == ["alice.tab1"]
    bench.close("alice")
    bench.run(ms(200))
    bench.world.inject("doc/main", p.Publish("two"))
    bench.run()
    assert _doc(bench).subscribers == []
    assert bench.notes("subscriber.dropped") == [
        {"instanceName": "alice.tab1", "reason": "Client is not connected"}]


def test_transport_failure_keeps_the_row(make_bench: BenchFactory) -> None:
    """Only ClientDisconnectedError drops a row; a gateway that cannot be reached does not."""
    bench = _mesh_bench(make_bench)
    bench.connect()
    _subscribe(bench)
    # A partition, not a crash: a crashed Durable Object is revived by the next request.
    bench.world.partition("doc/main", "gateway/alice.tab1")
    bench.world.inject("doc/main", p.Publish("x"))
    bench.run(s(10))
    assert _doc(bench).subscribers == ["alice.tab1"]


def test_fanout_to_a_crashed_gateway_revives_it_and_drops_the_row(
        make_bench: BenchFactory) -> None:
    """A crash loses the gateway's sockets; the fan-out revives the object, which has no
    socket and no grace alarm, so it answers ClientDisconnectedError and the row goes."""
    bench = _mesh_bench(make_bench)
    bench.connect()
    _subscribe(bench)
    bench.world.crash("gateway/alice.tab1")
    bench.world.inject("doc/main", p.Publish("x"))
    bench.run(s(1))
    assert _doc(bench).subscribers == []


def test_fanout_during_grace_parks_and_is_delivered_on_reconnect(
        make_bench: BenchFactory) -> None:
    """Case 89 at the gateway level: a fan-out during grace reaches the reconnected socket."""
    bench = _mesh_bench(make_bench)
    bench.connect()
    _subscribe(bench)
    bench.close("alice")
    bench.world.inject("doc/main", p.Publish("during grace"))
    bench.run(s(1))
    conn = bench.connect()
    assert bench.frames(conn=conn, kind="connection_status")[0]["subscriptionRequired"] is False
    assert _answer_updates(bench) == [["during grace", 1]]
    assert _doc(bench).subscribers == ["alice.tab1"]


def _silent_loss(make_bench: BenchFactory, config_name: str) -> Bench:
    """Section 6: a fan-out that fails with "Client token expired" drops the row; the
    client reconnects within grace and is told subscriptionRequired: false."""
    config = preset(config_name)
    bench = _mesh_bench(make_bench, config=config)
    bench.connect(ttl_s=5)
    _subscribe(bench)
    bench.run(s(6))
    bench.world.inject("doc/main", p.Publish("after expiry"))
    bench.run()
    bench.run(s(1))
    bench.connect()  # a refreshed token, within grace
    return bench


def test_silent_subscription_loss_is_found_in_the_faithful_model(
        make_bench: BenchFactory) -> None:
    bench = _silent_loss(make_bench, "faithful")
    assert bench.notes("subscriber.dropped") == [
        {"instanceName": "alice.tab1", "reason": "Client token expired"}]
    assert bench.frames(kind="connection_status") == [
        {"type": "connection_status", "subscriptionRequired": False}]
    assert _doc(bench).subscribers == []  # and nobody will ever resubscribe it


def test_fix_resubscribe_after_fanout_drop_asks_the_client_to_resubscribe(
        make_bench: BenchFactory) -> None:
    bench = _silent_loss(make_bench, "fixed")
    assert bench.notes("subscription.lost") == [{"resource": "doc/main"}]
    assert bench.frames(kind="connection_status") == [
        {"type": "connection_status", "subscriptionRequired": True}]
    _subscribe(bench, call_id="resub")
    assert _doc(bench).subscribers == ["alice.tab1"]


def test_fix_resubscribe_reaches_a_still_connected_client_at_once(
        make_bench: BenchFactory) -> None:
    """A fan-out that times out (30 s) drops the row while the socket stays open; the
    fixed gateway pushes connection_status {subscriptionRequired: true} on that socket."""
    counts = []
    for name in ("faithful", "fixed"):
        bench = _mesh_bench(make_bench, config=preset(name))
        conn = bench.connect()
        _subscribe(bench)
        bench.world.inject("doc/main", p.Publish("unanswered"))
        bench.run(s(31))
        assert bench.notes("subscriber.dropped")[0]["reason"] == p.CALL_TIMED_OUT
        counts.append(bench.frames(conn=conn, kind="connection_status"))
    assert len(counts[0]) == 1
    assert counts[1][-1] == {"type": "connection_status", "subscriptionRequired": True}
    assert len(counts[1]) == 2


def test_mesh_node_calls_a_client_and_notes_the_result(make_bench: BenchFactory) -> None:
    bench = _mesh_bench(make_bench)
    bench.connect()
    bench.world.inject("node/main", p.CallClient("alice.tab1", "ping", [7], tag="t1"))
    bench.run()
    frame = bench.frames(kind="incoming_call")[0]
    assert frame["chain"] == {"method": "ping", "args": [7]}
    assert frame["callContext"]["callChain"][0]["instanceName"] == "node/main"
    bench.answer("alice", frame["callId"], 7)
    assert bench.notes("mesh_call.result") == [
        {"tag": "t1", "instanceName": "alice.tab1", "ok": True, "value": 7}]
    bench.world.inject("node/main", p.CallClient("bob.t9", "ping", [1], tag="t2"))
    bench.run()
    result = bench.notes("mesh_call.result")[-1]
    assert result["ok"] is False
    assert result["error"]["name"] == "ClientDisconnectedError"
    assert repr(_doc(bench)) == "DocumentBroadcaster('doc/main', version=0)"
