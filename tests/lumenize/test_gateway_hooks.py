"""Gateway subclass hooks (spec sections 1.1 step 5, 1.5 step 6, 1.7 step 2): cases 30-37."""

from __future__ import annotations

from typing import Any

from gatewaysim.models.lumenize import protocol as p
from gatewaysim.models.lumenize.gateway import LumenizeGateway, Rejection

from .conftest import Bench, BenchFactory, Rpc, claims_for, gateway_request


class CustomGateway(LumenizeGateway):
    """The real tests' subclass: adds a role claim, blocks a role, injects ``state._auth``,
    and refuses calls to the client from one binding."""

    def on_before_accept(self, instance_name: str, sub: str,
                         claims: dict[str, Any]) -> Rejection | dict[str, Any] | None:
        default = super().on_before_accept(instance_name, sub, claims)
        if default is not None:
            return default
        if claims.get("role") == "blocked":
            return Rejection(403, "Custom: blocked role")
        return {"role": claims.get("role", "member"), "tier": "gold"}

    def on_before_call_to_mesh(self, call_context: dict[str, Any],
                               info: dict[str, Any]) -> dict[str, Any]:
        auth = {"sub": info["attachment"]["sub"], "tier": info["attachment"]["claims"]["tier"]}
        return {**call_context, "state": {**call_context["state"], "_auth": auth}}

    def on_before_call_to_client(self, envelope: dict[str, Any], info: dict[str, Any]) -> None:
        caller = envelope["metadata"]["caller"]
        if caller.get("bindingName") == "BLOCKED_BINDING":
            raise p.RemoteError("Error", "BLOCKED_BINDING may not call clients")


def _custom(make_bench: BenchFactory) -> Bench:
    return make_bench(gateway_cls=CustomGateway)


def _connect_custom(bench: Bench, binding: str = "CUSTOM_GATEWAY", **claims: Any) -> str:
    token = p.encode_token(claims_for("alice", bench.world.now, **claims))
    return bench.open("alice", gateway_request("alice.tab1", token, binding=binding))


def test_case30_binding_name_comes_from_the_header(make_bench: BenchFactory) -> None:
    bench = _custom(make_bench)
    _connect_custom(bench)
    bench.call("alice", "c1", "echo", 1)
    env = bench.echo.envelopes[0]
    assert env["callContext"]["callChain"][0]["bindingName"] == "CUSTOM_GATEWAY"
    assert env["metadata"]["caller"]["bindingName"] == "CUSTOM_GATEWAY"


def test_case31_claims_added_by_on_before_accept_reach_origin_auth(
        make_bench: BenchFactory) -> None:
    bench = _custom(make_bench)
    _connect_custom(bench, role="editor")
    bench.call("alice", "c1", "echo", 1)
    claims = bench.echo.envelopes[0]["callContext"]["originAuth"]["claims"]
    assert claims["role"] == "editor"
    assert claims["tier"] == "gold"
    assert claims["sub"] == "alice"  # merged over the JWT payload, not replacing it


def test_case32_on_before_accept_response_rejects(make_bench: BenchFactory) -> None:
    bench = _custom(make_bench)
    conn = _connect_custom(bench, role="blocked")
    assert bench.client().rejected[conn] == (403, "Custom: blocked role")


def test_case32_default_hook_still_guards_identity_in_the_subclass(
        make_bench: BenchFactory) -> None:
    bench = _custom(make_bench)
    conn = bench.connect("bob", "alice.tab1", "bob")
    assert bench.client("bob").rejected[conn] == (403, "Forbidden: identity mismatch")


def test_case33_on_before_call_to_mesh_injects_state_auth(make_bench: BenchFactory) -> None:
    bench = _custom(make_bench)
    _connect_custom(bench)
    bench.call("alice", "c1", "echo", 1)
    assert bench.echo.envelopes[0]["callContext"]["state"]["_auth"] == {"sub": "alice",
                                                                         "tier": "gold"}


def test_case34_client_state_survives_next_to_auth(make_bench: BenchFactory) -> None:
    bench = _custom(make_bench)
    _connect_custom(bench)
    bench.call("alice", "c1", "echo", 1, state={"draft": "x"})
    state = bench.echo.envelopes[0]["callContext"]["state"]
    assert state["draft"] == "x"
    assert state["_auth"]["sub"] == "alice"


def _rpc_from(bench: Bench, binding: str) -> str:
    env = p.envelope({"method": "ping", "args": [1]},
                     {"callChain": [{"type": "LumenizeDO", "bindingName": binding,
                                     "instanceName": "x"}], "originAuth": None, "state": {}},
                     {"type": "LumenizeDO", "bindingName": binding, "instanceName": "x"},
                     {"type": "LumenizeClient", "bindingName": "CUSTOM_GATEWAY",
                      "instanceName": "alice.tab1"})
    bench.world.inject("caller", Rpc("gateway/alice.tab1", env))
    bench.run()
    return bench.caller.sent[-1]


def test_case35_on_before_call_to_client_blocks_a_binding(make_bench: BenchFactory) -> None:
    bench = _custom(make_bench)
    conn = _connect_custom(bench)
    req = _rpc_from(bench, "BLOCKED_BINDING")
    error = bench.reply(req)["$error"]
    assert "BLOCKED_BINDING" in error["message"]
    assert bench.frames(conn=conn, kind="incoming_call") == []


def test_case36_allowed_binding_goes_through(make_bench: BenchFactory) -> None:
    bench = _custom(make_bench)
    conn = _connect_custom(bench)
    req = _rpc_from(bench, "ALLOWED_BINDING")
    frame = bench.frames(conn=conn, kind="incoming_call")[0]
    bench.answer("alice", frame["callId"], "pong")
    assert bench.reply(req) == {"$result": "pong"}


def test_case37_all_hooks_composed_end_to_end_through_the_worker(
        make_bench: BenchFactory) -> None:
    """Client -> Worker (origin, token, gate) -> custom gateway -> DO and back."""
    bench = _custom(make_bench)
    token = p.encode_token(claims_for("alice", 0, role="editor"))
    request = {"path": p.upgrade_path("CUSTOM_GATEWAY", "alice.tab1"),
               "headers": {"Upgrade": "websocket", "Origin": p.DEFAULT_ORIGIN},
               "protocols": ["lmz", p.TOKEN_PROTOCOL_PREFIX + token]}
    conn = bench.open("alice", request, to=p.WORKER)
    assert bench.client().opened == [conn]
    bench.call("alice", "c1", "echo", "e2e", state={"k": 1})
    env = bench.echo.envelopes[0]
    assert env["metadata"]["caller"]["bindingName"] == "CUSTOM_GATEWAY"
    assert env["callContext"]["originAuth"]["claims"]["role"] == "editor"
    assert env["callContext"]["state"] == {"k": 1, "_auth": {"sub": "alice", "tier": "gold"}}
    assert bench.frames(conn=conn, kind="call_response")[0]["result"] == "e2e"
    blocked = _rpc_from(bench, "BLOCKED_BINDING")
    assert "BLOCKED_BINDING" in bench.reply(blocked)["$error"]["message"]
    allowed = _rpc_from(bench, "ALLOWED_BINDING")
    bench.answer("alice", bench.frames(conn=conn, kind="incoming_call")[0]["callId"], "ok")
    assert bench.reply(allowed) == {"$result": "ok"}
