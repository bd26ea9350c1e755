"""Sim-to-real: Lumenize phase 1 (a drop within grace) and phase 4 (a duplicate tab).

The Worker, the token service, the mesh objects and the gateways run in one OS process on
127.0.0.1 (port 0); the tabs run in the test's process. A drop closes the TCP connection
at the gateway's end; the duplicate tab is a second real client with the same user and
tab id. Each phase runs for real and in simulation, and what the users saw is compared:
orders and counts exactly, each state change within the script's tolerance (300 ms, more
when the run's process start shows a loaded machine) of the simulated one, measured from
the event before it.

The phases run at their own delays (scale 1: 1 s backoff, 5 s grace), so that a loaded
machine's pauses stay far from the margins the phases depend on (the call at 1.5 s falls
half a second from either supersession), and until everything they check has happened
(6 s and 4 s of the phases' 10 s). Marked ``real``; skipped without aiohttp; every
process started is checked dead afterwards, also when a run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os

import pytest

pytest.importorskip("aiohttp", reason="running for real needs aiohttp: "
                                      "pip install 'gatewaysim[real]'")

from gatewaysim import cmd_real
from gatewaysim.models.lumenize import protocol as p
from gatewaysim.models.lumenize.scenarios import ALICE_CLIENT, SECOND_TAB
from gatewaysim.real import lumenize, site_process
from gatewaysim.real.conformance import tolerance_ms
from gatewaysim.real.lumenize import PHASE1, PHASE1_FORCE_CLOSE, PHASE4, run_real_sync, run_sim
from gatewaysim.real.lumenize_view import compare, user_view
from gatewaysim.simulator.errors import ConfigError

pytestmark = [pytest.mark.real, pytest.mark.xdist_group("lumenize-real")]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


_RUNS: dict[tuple[str, str], lumenize.LumenizeRun] = {}


def real_run(script: lumenize.LumenizeScript, variant: str = "faithful") -> lumenize.LumenizeRun:
    """One real run per (phase, variant) for the module; its process is dead afterwards."""
    key = (script.name, variant)
    if key not in _RUNS:
        run = run_real_sync(script, variant, 1.0, duration=script.settled)
        assert run.pids and not [pid for pid in run.pids if alive(pid)]
        _RUNS[key] = run
    return _RUNS[key]


def conformance(script: lumenize.LumenizeScript, variant: str = "faithful") -> list[str]:
    real = real_run(script, variant)
    sim = run_sim(script, variant, 1.0, duration=script.settled)
    tolerance = tolerance_ms(script.tolerance_ms, [real.startup_s])
    return [str(d) for d in compare(sim.records, sim.end, real.records, real.end, tolerance)]


def states(run: lumenize.LumenizeRun, tab: str) -> list[str]:
    return [s.what for s in user_view(run.records).tabs[tab].states]


def test_phase1_drop_within_grace_conforms():
    assert conformance(PHASE1) == []
    real = real_run(PHASE1)
    view = user_view(real.records)
    tab = view.tabs[ALICE_CLIENT]
    # The drop is a real one: the tab saw 1006 without a close frame (so "error" first).
    assert [s.what for s in tab.closes] == ["closed 1006"]
    assert states(real, ALICE_CLIENT) == ["connecting", "connected", "reconnecting",
                                          "connected"]
    # The call made during grace was parked and delivered on the new socket, before its
    # connection_status, which says the subscription survived; nobody resubscribed.
    assert [s.what for s in view.mesh_results] == ["[during-grace] alice.t1: ok 'parked'"]
    second = [s.what for s in tab.messages if s.what.startswith("socket 2:")]
    assert second[:2] == ["socket 2: incoming_call ping('parked',)",
                          "socket 2: connection_status subscriptionRequired=False"]
    events = [s.what for s in tab.events]
    assert sum(e.startswith("call [subscribe:") for e in events) == 1
    assert events[-2:] == ["document v2 'v2'", "handled handleUpdate"]
    # The gateway's grace alarm was armed by the real close and deleted by the reconnect.
    armed = [r for r in real.records if r.type == "Note" and r.data["event"] == "grace.armed"]
    assert [r.data["data"]["code"] for r in armed] == [p.CLOSE_ABNORMAL]
    assert not [r for r in real.records if r.type == "AlarmFired"]


def test_phase1_as_written_conforms_too():
    # The phase's own fault: the gateway's process sends a close frame with code 1006.
    # aiohttp carries it as the simulated network does: a clean close, no "error" event.
    assert conformance(PHASE1_FORCE_CLOSE) == []
    real = real_run(PHASE1_FORCE_CLOSE)
    tab = user_view(real.records).tabs[ALICE_CLIENT]
    assert [s.what for s in tab.closes] == ["closed 1006"]
    assert "error" not in [s.what for s in tab.events]
    assert [s.what for s in user_view(real.records).mesh_results] == [
        "[during-grace] alice.t1: ok 'parked'"]


def test_phase4_duplicate_tab_conforms_and_the_faithful_tabs_ping_pong():
    assert conformance(PHASE4) == []
    real = real_run(PHASE4)
    view = user_view(real.records)
    a, b = view.tabs[ALICE_CLIENT], view.tabs[SECOND_TAB]
    assert a.closes[0].what == f"closed {p.CLOSE_SUPERSEDED}"
    assert b.messages[0].what == "socket 1: connection_status subscriptionRequired=False"
    assert [s.what for s in b.events] == ["handled ping"]  # the mesh call went to tab B
    assert [s.what for s in view.mesh_results] == [
        "[after-supersession] alice.t1: ok 'who?'"]
    # Faithful: A comes back a backoff later and takes over; B does the same.
    assert states(real, ALICE_CLIENT)[:4] == ["connecting", "connected", "reconnecting",
                                              "connected"]
    assert len(b.closes) >= 1 and {c.what for c in b.closes} == {"closed 4409"}


def test_phase4_fixed_conforms_and_the_first_tab_stays_down(capsys, monkeypatch):
    # Through the command, at the phase's delays, until everything it checks has happened.
    for name in ("run_real_sync", "run_sim"):
        whole = getattr(lumenize, name)
        monkeypatch.setattr(lumenize, name, lambda script, *args, run=whole: run(
            script, *args, duration=script.settled))
    parser = argparse.ArgumentParser()
    cmd_real.add_parser(parser.add_subparsers())
    args = parser.parse_args(["real", "lumenize-phase4", "--variant", "fixed", "--scale", "1"])
    assert cmd_real.run(args) == 0
    out = capsys.readouterr().out
    assert f"{ALICE_CLIENT} states: connecting -> connected -> disconnected" in out
    assert f"{SECOND_TAB} states: connecting -> connected\n" in out
    assert f"{ALICE_CLIENT} closes: 4409\n" in out
    assert "mesh call [after-supersession] alice.t1: ok 'who?'" in out
    assert "conforms" in out


def test_a_different_model_is_a_difference():
    # The comparison is not blind: the faithful tabs' ping-pong against a simulation of the
    # fixed client (A stays down) differs in A's states and closes.
    real = real_run(PHASE4)
    sim = run_sim(PHASE4, "fixed", 1.0, duration=PHASE4.settled)
    found = compare(sim.records, sim.end, real.records, real.end, PHASE4.tolerance_ms)
    assert {(d.client, d.what) for d in found} >= {(ALICE_CLIENT, "states"),
                                                   (ALICE_CLIENT, "closes")}


@pytest.fixture
def spawned(monkeypatch):  # type: ignore[no-untyped-def]
    """Every site process started during a test (checked dead afterwards)."""
    started: list[site_process.SiteProcess] = []
    original = site_process.SiteProcess.__init__

    def record(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        started.append(self)

    monkeypatch.setattr(site_process.SiteProcess, "__init__", record)
    yield started
    assert not [pid for proc in started for pid in proc.pids if alive(pid)]


def test_the_server_process_is_killed_when_a_run_fails(spawned, monkeypatch):
    async def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyError("a step that fails")

    monkeypatch.setattr(lumenize, "_act_real", broken)
    with pytest.raises(KeyError):
        run_real_sync(PHASE1, scale=0.1)
    assert spawned and spawned[0].pids  # a process was started (the fixture checks it)


def test_a_site_process_ends_when_its_runner_goes_away(spawned):
    async def orphan() -> int | None:
        server = site_process.SiteProcess("lumenize", {}, {"clients": []})
        try:
            await server.start()
            assert server.proc is not None and server.proc.stdin is not None
            server.proc.stdin.close()  # what the kernel does for a runner that dies
            return await asyncio.wait_for(server.proc.wait(), 10)
        finally:
            await server.cleanup()

    assert asyncio.run(orphan()) == 1


def test_a_site_process_refuses_an_input_it_does_not_know(spawned):
    async def inject() -> bool:
        server = site_process.SiteProcess("lumenize", {}, {"clients": []})
        try:
            await server.start()
            assert await server.command(op="start", origin=0.0)
            assert await server.inject(p.DEFAULT_DOCUMENT, p.Publish("v1"))
            return await server.command(op="inject", to="doc/main", input={"type": "Exit"})
        finally:
            await server.cleanup()

    with pytest.raises(RuntimeError, match=r"refused .*not an input the server accepts"):
        asyncio.run(inject())


def test_a_site_process_that_cannot_start_says_why(spawned):
    async def start() -> None:
        server = site_process.SiteProcess("lumenize", {"grace": "soon"}, {})
        await server.start()

    with pytest.raises(RuntimeError, match=r"did not start: .*grace"):
        asyncio.run(start())


def test_the_command_names_what_runs_for_real(capsys):
    parser = argparse.ArgumentParser()
    cmd_real.add_parser(parser.add_subparsers())
    assert cmd_real.run(parser.parse_args(["real", "--list"])) == 0
    listed = capsys.readouterr().out
    for name in ("lumenize-phase1 ", "lumenize-phase1-force-close ", "lumenize-phase4 "):
        assert name in listed
    for argv in (["real", "lumenize-phase2"], ["real", "lumenize-phase1", "--variant", "x"]):
        with pytest.raises(ConfigError):
            cmd_real.run(parser.parse_args(argv))
