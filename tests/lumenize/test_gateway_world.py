"""The wiring (``gatewaysim.models.lumenize.world``): real clients, Worker, token service, gateways
and mesh objects in one world; determinism, duplicate tabs, helpers and the timeline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gatewaysim.models.lumenize import ClientSpec, build_world, preset
from gatewaysim.models.lumenize import protocol as p
from gatewaysim.simulator.clock import ms, s
from gatewaysim.simulator.trace import Trace

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
from gatewaysim.models.lumenize import ClientSpec, build_world, preset
from gatewaysim.simulator.clock import s
lw = build_world(preset("faithful"), 11, [ClientSpec("alice"), ClientSpec("bob", "t2")])
lw.run_for(s(2))
lw.publish("x")
lw.drop_client(0)
lw.run_for(s(10))
print(lw.trace.sha256)
"""


def _two() -> list[ClientSpec]:
    return [ClientSpec("alice"), ClientSpec("bob", "t2")]


def _notes(lw, event: str, actor: str | None = None) -> list[dict]:  # type: ignore[no-untyped-def]
    return [r.data["data"] for r in lw.trace.records
            if r.type == "Note" and r.data["event"] == event
            and (actor is None or r.actor == actor)]


def test_clients_connect_and_subscribe_on_subscription_required() -> None:
    lw = build_world(preset("faithful"), 1, _two())
    lw.run_for(s(2))
    assert lw.clients == ["client/alice.t1", "client/bob.t2"]
    for address in lw.clients:
        stats = lw.client(address).statistics()
        assert stats["state"] == "connected"
        assert stats["subscribed"] == ["doc/main"]
    assert lw.gateway("alice.t1").statistics()["state"] == "connected"
    assert lw.gateway("nobody.t1") is None
    assert lw.broadcaster().statistics()["subscribers"] == ["alice.t1", "bob.t2"]


def test_trace_header_names_the_pack_seed_and_config() -> None:
    config = preset("fixed")
    lw = build_world(config, 5, _two())
    assert lw.trace.header["pack"] == "lumenize"
    assert lw.trace.header["seed"] == 5
    assert lw.trace.header["config"] == config.to_dict()
    assert repr(lw) == ("LumenizeWorld(seed=5, variant='fixed', "
                        "clients=['client/alice.t1', 'client/bob.t2'])")


def test_given_trace_is_used_as_it_is() -> None:
    trace = Trace(header={"mine": True})
    lw = build_world(preset("faithful"), 1, _two(), trace=trace)
    assert lw.trace is trace


def test_same_seed_same_trace_and_other_seed_differs() -> None:
    hashes = []
    for seed in (3, 3, 4):
        lw = build_world(preset("faithful"), seed, _two())
        lw.run_for(s(1))
        lw.publish("doc")
        lw.drop_client("alice.t1")
        lw.run_for(s(8))
        hashes.append(lw.trace.sha256)
    assert hashes[0] == hashes[1]
    assert hashes[0] != hashes[2]


def test_same_seed_same_trace_in_fresh_processes() -> None:
    """Different PYTHONHASHSEEDs must not change the run (no set or hash ordering)."""
    out = []
    for hash_seed in ("1", "2"):
        result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                                cwd=REPO, env={"PYTHONHASHSEED": hash_seed, "PATH": ""},
                                timeout=120, check=True)
        out.append(result.stdout.strip())
    assert out[0] == out[1]
    assert len(out[0]) == 64


def test_duplicate_tab_gets_a_suffixed_address_and_supersedes() -> None:
    """Case 85/92 shape: same sub and tab id share an instanceName; the newer tab closes the
    older one with 4409 (faithful: they then ping-pong, spec section 6)."""
    lw = build_world(preset("faithful"), 2, [ClientSpec("alice")])
    lw.run_for(s(1))
    second = lw.add_client(ClientSpec("alice"))
    third = lw.add_client(ClientSpec("alice"))
    assert (second, third) == ("client/alice.t1#2", "client/alice.t1#3")
    lw.run_for(ms(500))
    closes = [r for r in lw.trace.records if r.type == "CloseConnection"
              and r.actor == "gateway/alice.t1"]
    assert closes and all(r.data["code"] == p.CLOSE_SUPERSEDED for r in closes)
    assert len(lw.gateway_sockets("alice.t1")) >= 1


def test_publish_call_client_and_client_call_helpers() -> None:
    lw = build_world(preset("faithful"), 1, _two())
    lw.run_for(s(1))
    lw.publish("hello")
    lw.call_client("bob.t2", "ping", [9], tag="ping-bob")
    lw.client_call(0, "update", ["from alice"], tag="upd")
    lw.client_call("alice.t1", "anything", ["x"], instance=None, binding=p.WORKER_BINDING,
                   tag="worker")
    lw.run_for(s(1))
    assert lw.broadcaster().statistics()["version"] == 2
    assert lw.client(1).statistics()["doc_version"] == 2
    assert _notes(lw, "mesh_call.result") == [
        {"tag": "ping-bob", "instanceName": "bob.t2", "ok": True, "value": 9}]
    settled = {n["tag"]: n for n in _notes(lw, "call.settled", "client/alice.t1")}
    assert settled["upd"]["ok"] is True and settled["upd"]["value"] == 2
    assert settled["worker"]["value"] == "worker-echo: x"


def test_access_gate_rejects_an_unapproved_user_end_to_end() -> None:
    """Case 94 through the wiring: claims from the spec reach the token; the Worker says 403."""
    lw = build_world(preset("faithful"), 1, [ClientSpec("carol", claims={"adminApproved": False})])
    lw.run_for(s(3))
    rejects = [r.data for r in lw.trace.records if r.type == "RejectConnection"]
    assert rejects and rejects[0]["status"] == 403
    assert rejects[0]["reason"] == "Account not yet approved"
    assert lw.client(0).statistics()["state"] != "connected"


def test_force_close_uses_the_gateway_socket_like_the_real_tests() -> None:
    lw = build_world(preset("faithful"), 1, [ClientSpec("alice")])
    lw.run_for(s(1))
    conn = lw.force_close("alice.t1", p.CLOSE_UNAUTHORIZED, "Invalid token signature")
    lw.run_for(ms(100))
    assert conn == "client/alice.t1:ws1"
    faults = [r for r in lw.trace.records if r.kind == "fault" and r.type == "force_close"]
    assert faults[0].data["code"] == 4403
    assert _notes(lw, "grace.armed")[0]["code"] == 4403
    assert lw.force_close("nobody.t1", 1000) is None


def test_crash_and_restart_of_auth_keeps_refresh_tokens() -> None:
    lw = build_world(preset("faithful"), 1, [ClientSpec("alice")])
    lw.run_for(s(1))
    lw.crash(p.AUTH)
    lw.restart(p.AUTH)
    assert lw.auth().statistics()["live_refresh_tokens"] == 1


def test_timeline_reads_well() -> None:
    lw = build_world(preset("faithful"), 2, [ClientSpec("alice")])
    lw.run_for(s(1))
    lw.add_client(ClientSpec("alice"))
    lw.run_for(ms(200))
    text = lw.timeline()
    assert "state connecting -> connected" in text
    assert "close 4409 Superseded by new connection (client/alice.t1:ws1)" in text
    assert "send connection_status subscriptionRequired=true" in text
    assert "accept client/alice.t1#2:ws1 subscriptionRequired=false, superseding" in text
    assert "lmz:ping" not in text and "SetTimer" not in text


def test_describe_hides_noise_and_defers_kernel_records() -> None:
    lw = build_world(preset("faithful"), 2, [ClientSpec("alice")])
    lw.run_for(s(1))
    by_type = {}
    for rec in lw.trace.records:
        by_type.setdefault((rec.kind, rec.type), lw.describe(rec))
    assert by_type[("out", "SetTimer")] == ""
    assert by_type[("in", "WsOpened")] is None  # the kernel's default says it
    assert by_type[("out", "HttpRequest")].startswith("http POST /auth/refresh-token")
