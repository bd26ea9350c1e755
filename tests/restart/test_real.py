"""Sim-to-real: the restart scenarios with real processes and sockets on 127.0.0.1.

Marked ``real``; skipped without aiohttp (the ``real`` extra). Delays are scaled by 0.1
(the client's and the scripts') so that a restart cycle takes a fraction of a second;
server processes bind port 0 once, then restart on the port they got. Every process
started is killed by the runner, whatever happens.

On a loaded machine: the simulation is told how long each start held the real script up
(a process start, and a reaping that outlasted a scaled ``Wait``), so the simulated server
starts when the real one did; orders and counts are compared exactly, and timings within
a tolerance that grows with the process start times the run measured
(:func:`~gatewaysim.real.conformance.tolerance_ms`).
"""

from __future__ import annotations

import argparse
import asyncio
import os

import pytest
from attrs import evolve

pytest.importorskip("aiohttp", reason="running for real needs aiohttp: "
                                      "pip install 'gatewaysim[real]'")

from gatewaysim import cli, cmd_real
from gatewaysim.models.restart.client import Init
from gatewaysim.models.restart.scenarios import BY_NAME, config_for
from gatewaysim.models.restart.script import Act, Script, StartServer, Wait
from gatewaysim.models.restart.script import run_sim as sim
from gatewaysim.models.restart.world import ClientSpec
from gatewaysim.real import runner as real_runner
from gatewaysim.real import transport
from gatewaysim.real.conformance import compare, fault_times, tolerance_ms
from gatewaysim.real.runner import run_real_sync
from gatewaysim.simulator.errors import ConfigError
from gatewaysim.simulator.trace import Trace

pytestmark = pytest.mark.real
SCALE = 0.1
CONFORMANCE = {"simple-basic": SCALE, "several-clients": SCALE,
               # Its prompt is submitted 300 ms before a SIGKILL and starts executing 200 ms
               # after it arrives: a window of the size of the link's latency, 10 ms at a
               # tenth of the delays, which a loaded machine's HTTP exchange outlasts.
               "workflow-across-restart": 1.0}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def spawned(monkeypatch):  # type: ignore[no-untyped-def]
    """Every server process the runner starts during a test (checked dead afterwards)."""
    servers: list[real_runner.ServerProcess] = []
    original = real_runner.ServerProcess.__init__

    def record(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        servers.append(self)

    monkeypatch.setattr(real_runner.ServerProcess, "__init__", record)
    yield servers
    pids = [pid for server in servers for pid in server.pids]
    assert not [pid for pid in pids if alive(pid)]


@pytest.mark.parametrize("name", CONFORMANCE)
def test_real_run_conforms_to_the_simulation(name, spawned):
    script, scale = BY_NAME[name], CONFORMANCE[name]
    config = config_for(name)
    real = run_real_sync(script, config, scale)
    trace = Trace(keep=True)
    simulated = sim(script, 0, trace, config, scale, startup_ms=real.startup_ms)
    differences = compare(simulated.observer.logs, fault_times(trace), real.observer.logs,
                          fault_times(real.trace), simulated.verdicts, real.verdicts,
                          tolerance_ms(script.tolerance_ms * scale, real.startups))
    assert [str(d) for d in differences] == []
    # the same verdicts both ways (a 5 s grace scaled to 0.5 s can be outlasted by a real
    # process start, and then by the simulated one told that start time too)
    assert [v.holds for v in real.verdicts] == [v.holds for v in simulated.verdicts]
    # the user saw real close codes: 1000 from the graceful shutdown, or 1006 from SIGKILL
    codes = {code for log in real.observer.logs.values() for _, _, code in log.closes}
    assert codes & {1000, 1006}


def test_the_faithful_bug_shows_for_real(spawned):
    # second-crash waits 5 s after the first reconnection for the loop's last check; at a
    # tenth of the delays a slow process start (a second or more on a loaded machine) can
    # leave a check pending then, and that check hides the bug (in simulation too, told the
    # same start times). 16 s outlasts the longest check interval (15 s): the loop is over.
    script = BY_NAME["second-crash"]
    steps = tuple(Wait(16_000) if step == Wait(5000) else step for step in script.steps)
    assert steps != script.steps
    script = evolve(script, steps=steps)
    real = run_real_sync(script, config_for("second-crash"), SCALE)
    failed = {v.label for v in real.verdicts if not v.holds}
    assert "connected 30 s after the second restart" in failed
    assert real.processes == 3
    trace = Trace(keep=True)
    simulated = sim(script, 0, trace, config_for("second-crash"), SCALE,
                    startup_ms=real.startup_ms)
    assert [v.holds for v in simulated.verdicts] == [v.holds for v in real.verdicts]


def test_processes_are_killed_when_a_run_fails(spawned):
    broken = Script("broken", "fails after starting a server", "-", (ClientSpec("api"),),
                    (StartServer(), Act(Init(), client="nobody")))
    with pytest.raises(KeyError):
        run_real_sync(broken, scale=SCALE)
    assert spawned and spawned[0].pids  # a process was started (and the fixture checks it)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cmd_real.add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


def test_real_command_reports_conformance(capsys, spawned):
    assert cmd_real.run(_parse(["real", "restart-simple-basic"])) == 0
    out = capsys.readouterr().out
    assert "transport: aiohttp" in out
    assert "conforms" in out and "connected -> disconnected -> reconnecting -> connected" in out


def test_real_command_rejects_what_it_cannot_run():
    for argv in (["real", "nope"], ["real", "lossy-link"], ["real"]):
        with pytest.raises(ConfigError):
            cmd_real.run(_parse(argv))


def test_without_aiohttp_the_command_says_what_to_install(monkeypatch, capsys, spawned):
    monkeypatch.setattr(transport, "aiohttp", None)
    assert cli.main(["real", "simple-basic"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'gatewaysim[real]'" in err[0]
    assert not spawned  # it stopped before starting anything


def test_a_server_process_ends_when_its_runner_goes_away(spawned):
    async def orphan() -> int | None:
        server = real_runner.ServerProcess(config_for("simple-basic"))
        await server.start()
        assert server.proc is not None and server.proc.stdin is not None
        server.proc.stdin.close()  # what the kernel does for a runner that dies
        return await asyncio.wait_for(server.proc.wait(), 10)

    assert asyncio.run(orphan()) == 1


def test_a_server_that_cannot_start_says_why(spawned):
    async def start() -> None:
        server = real_runner.ServerProcess(config_for("simple-basic"), node="no-such-node")
        await server.start()

    with pytest.raises(RuntimeError, match=r"did not start: .*no-such-node"):
        asyncio.run(start())
