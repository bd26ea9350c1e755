"""Client -> mesh calls through the gateway (spec sections 1.2, 1.6, 1.7): cases 6, 7, 10,
17-23, the 1011 path, and the reply stranded when the originating socket drops (section 6)."""

from __future__ import annotations

from gatewaysim.models.lumenize import protocol as p
from gatewaysim.simulator.clock import s

from .conftest import Bench


def test_case06_call_to_echo_do_returns_call_response_with_same_call_id(bench: Bench) -> None:
    conn = bench.connect()
    bench.call("alice", "c1", "echo", "hello")
    assert bench.frames(conn=conn, kind="call_response") == [
        {"type": "call_response", "callId": "c1", "success": True, "result": "hello"}]
    chain0 = bench.echo.envelopes[0]["callContext"]["callChain"][0]
    assert chain0 == {"type": "LumenizeClient", "bindingName": p.DEFAULT_BINDING,
                      "instanceName": "alice.tab1"}


def test_case07_do_sees_origin_auth_with_sub_and_claims(bench: Bench) -> None:
    bench.connect(isAdmin=True)
    bench.call("alice", "c1", "echo", 1)
    origin = bench.echo.envelopes[0]["callContext"]["originAuth"]
    assert origin["sub"] == "alice"
    assert origin["claims"]["emailVerified"] is True
    assert origin["claims"]["adminApproved"] is True
    assert origin["claims"]["isAdmin"] is True


def test_case07_envelope_metadata_names_caller_and_callee(bench: Bench) -> None:
    """Section 1.7 step 3: version 1, caller = the client, callee = the DO instance."""
    bench.connect()
    bench.call("alice", "c1", "echo", 1)
    env = bench.echo.envelopes[0]
    assert env["version"] == 1
    assert env["metadata"]["caller"]["instanceName"] == "alice.tab1"
    assert env["metadata"]["callee"] == {"type": "LumenizeDO", "bindingName": "ECHO_DO",
                                         "instanceName": "echo"}


def test_case10_after_supersession_a_call_on_the_new_socket_succeeds(bench: Bench) -> None:
    bench.connect("alice")
    second = bench.connect("bob", "alice.tab1", "alice")
    bench.call("bob", "c2", "echo", "again")
    assert bench.frames("bob", second, "call_response")[0]["result"] == "again"


def test_case17_unknown_message_type_is_ignored_then_call_succeeds(bench: Bench) -> None:
    conn = bench.connect()
    bench.send("alice", {"type": "mystery", "x": 1})
    assert bench.notes("frame.dropped")[-1]["why"] == "unknown type 'mystery'"
    bench.call("alice", "c1", "echo", "ok")
    assert bench.frames(conn=conn, kind="call_response")[0]["success"] is True
    assert conn not in bench.client().closed


def test_case18_bad_json_is_ignored_then_call_succeeds(bench: Bench) -> None:
    conn = bench.connect()
    bench.send("alice", "{not json")
    assert bench.notes("frame.dropped")[-1]["why"] == "bad JSON"
    bench.send("alice", '{"type": "call", "callId": "c1", "binding": "ECHO_DO", '
                        '"instance": "echo", "chain": {"method": "echo", "args": ["txt"]}}')
    assert bench.frames(conn=conn, kind="call_response")[0]["result"] == "txt"


def test_binary_frames_are_ignored(bench: Bench) -> None:
    """Section 1.2 step 1."""
    conn = bench.connect()
    bench.send("alice", b"\x00\x01")
    assert bench.notes("frame.dropped")[-1]["why"] == "binary"
    assert bench.frames(conn=conn) == [{"type": "connection_status",
                                        "subscriptionRequired": True}]


def test_case19_call_without_instance_goes_to_the_worker(bench: Bench) -> None:
    conn = bench.connect()
    bench.call("alice", "c1", "echo", "hi", instance=None, binding=p.WORKER_BINDING)
    response = bench.frames(conn=conn, kind="call_response")[0]
    assert response == {"type": "call_response", "callId": "c1", "success": True,
                        "result": "worker-echo: hi"}


def test_case20_target_throws_gives_success_false_with_the_error(bench: Bench) -> None:
    conn = bench.connect()
    bench.call("alice", "c1", "anything", instance="thrower")
    response = bench.frames(conn=conn, kind="call_response")[0]
    assert response["success"] is False
    assert response["error"] == {"name": "Error", "message": "boom"}


def test_case20_transport_error_gives_success_false(bench: Bench) -> None:
    """Section 1.7 step 4: a thrown transport error is a failed call_response too."""
    conn = bench.connect()
    bench.world.crash("echo")
    bench.call("alice", "c1", "echo", 1)
    response = bench.frames(conn=conn, kind="call_response")[0]
    assert response["success"] is False
    assert response["error"]["name"] == "Error"


def test_case21_unknown_incoming_call_response_is_ignored(bench: Bench) -> None:
    conn = bench.connect()
    bench.answer("alice", "no-such-call", "x")
    assert bench.notes("frame.dropped")[-1]["why"] == "unknown callId"
    bench.call("alice", "c1", "echo", "still fine")
    assert bench.frames(conn=conn, kind="call_response")[0]["result"] == "still fine"


def test_case22_client_call_context_state_reaches_the_do(bench: Bench) -> None:
    bench.connect()
    bench.call("alice", "c1", "echo", 1, state={"cart": [1, 2]})
    assert bench.echo.envelopes[0]["callContext"]["state"] == {"cart": [1, 2]}


def test_case23_expired_token_first_call_closes_4401_and_is_dropped(bench: Bench) -> None:
    """exp 60 s in the past: 101 and connection_status, then the call closes the socket with
    4401 "Token expired"; no call_response ever comes and the DO never sees the call."""
    bench.run(s(120))
    conn = bench.connect(ttl_s=-60)
    assert bench.frames(conn=conn, kind="connection_status")
    bench.call("alice", "c1", "echo", 1)
    assert bench.client().closed[conn] == (4401, "Token expired", True)
    assert bench.frames(conn=conn, kind="call_response") == []
    assert bench.echo.envelopes == []
    assert bench.notes("token.expired") == [{"where": "frame"}]


def test_token_check_is_strict_with_no_leeway(bench: Bench) -> None:
    """Section 1.6: ``exp < Date.now()/1000``: a frame arriving exactly at exp passes, one
    arriving a millisecond later closes the socket (fractional seconds, no leeway)."""
    conn = bench.connect(ttl_s=10)  # exp = 10 s
    latency = bench.world.network.config.latency
    bench.world.run_until(s(10) - latency)
    bench.call("alice", "c1", "echo", "at exp")  # arrives at exactly 10.000 s
    assert conn not in bench.client().closed
    assert bench.frames(conn=conn, kind="call_response")[0]["result"] == "at exp"
    bench.world.run_until(s(10) + 1_000 - latency)
    bench.call("alice", "c2", "echo", "1 ms after exp")
    assert bench.client().closed[conn][0] == 4401


def test_call_reply_goes_only_to_the_originating_socket(bench: Bench) -> None:
    """Section 1.7 and 6: if the calling socket dropped, the call_response is lost, even
    though the client reconnected on a new socket in the meantime."""
    bench.world.slow_link("gateway/alice.tab1", "echo", s(2))
    first = bench.connect()
    bench.call("alice", "c1", "echo", "slow")
    bench.world.drop(first)
    bench.run()
    second = bench.connect()
    bench.run(s(5))
    assert bench.notes("reply.lost") == [{"callId": "c1", "conn": first}]
    assert bench.frames(conn=second, kind="call_response") == []
    assert bench.frames(conn=first, kind="call_response") == []


def test_null_attachment_closes_1011(bench: Bench) -> None:
    """Section 1.3: a socket with no attachment is closed 1011 on its first call. The
    gateway always stores one, so the test clears it in the runtime to get there."""
    conn = bench.connect()
    bench.world.network.set_attachment("gateway/alice.tab1", conn, None)
    bench.call("alice", "c1", "echo", 1)
    assert bench.client().closed[conn] == (1011, "Connection not properly initialized", True)
    assert bench.echo.envelopes == []


def test_gateway_sets_no_timeout_on_client_calls(bench: Bench) -> None:
    """Section 1.7: a DO that takes five minutes still gets its answer through."""
    bench.world.slow_link("gateway/alice.tab1", "echo", s(150))
    conn = bench.connect()
    bench.call("alice", "c1", "echo", "late")
    bench.run(s(301))
    assert bench.frames(conn=conn, kind="call_response")[0]["result"] == "late"


def test_case06_call_chain_head_is_rebuilt_from_the_attachment(bench: Bench) -> None:
    """Section 1.7 step 1: the client's callChain[0] is replaced by the trusted caller
    (a client cannot claim to be someone else); the rest of its chain is kept."""
    bench.connect()
    frame = {"type": "call", "callId": "c1", "binding": "ECHO_DO", "instance": "echo",
             "chain": {"method": "echo", "args": [1]},
             "callContext": {"callChain": [{"type": "LumenizeClient",
                                            "instanceName": "mallory.t1"},
                                           {"type": "Hop", "instanceName": "h"}],
                             "state": {}}}
    bench.send("alice", frame)
    chain = bench.echo.envelopes[0]["callContext"]["callChain"]
    assert chain == [{"type": "LumenizeClient", "bindingName": p.DEFAULT_BINDING,
                      "instanceName": "alice.tab1"}, {"type": "Hop", "instanceName": "h"}]
