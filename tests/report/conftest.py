"""Shared runs for the report tests: one bounded campaign on the buggy echo variant (its
findings and failure files, as ``explore`` hands them over) and a scripted Lumenize run
with a call that never settles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gatewaysim.properties.explorer import ExploreReport, explore
from gatewaysim.properties.failure import Failure, write_failure
from gatewaysim.properties.pack import get_pack
from gatewaysim.properties.run import RunResult, RunSpec
from gatewaysim.properties.steps import Step

ROOT = Path(__file__).resolve().parents[2]


def gatewaysim(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The command line in a fresh interpreter, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "gatewaysim", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONHASHSEED": "random"})


@pytest.fixture(scope="session")
def echo_campaign(tmp_path_factory: pytest.TempPathFactory) -> ExploreReport:
    out = tmp_path_factory.mktemp("findings")
    report = explore("echo", "buggy", budget_s=300, max_examples=400, seed=0, out_dir=out,
                     profile="ci", progress=None)
    assert {f.invariant_id for f in report.findings} >= {"echo.order", "echo.reconnects"}
    return report


@pytest.fixture(scope="session")
def order_file(echo_campaign: ExploreReport) -> Path:
    (finding,) = [f for f in echo_campaign.findings if f.invariant_id == "echo.order"]
    assert finding.path is not None
    return finding.path


HUNG_STEPS = [Step("open_tab", {"client": 0}), Step("client_call", {"awaited": True, "client": 0})]


@pytest.fixture(scope="session")
def hung_call_run() -> RunResult:
    """Lumenize (faithful): a duplicate tab, then an awaited call that never settles."""
    spec = RunSpec.of("lumenize", HUNG_STEPS, variant="faithful", seed=0,
                      judge="lumenize.client_calls_settle")
    result = spec.execute(keep_records=True)
    assert result.violation is not None
    return result


@pytest.fixture(scope="session")
def hung_call_file(hung_call_run: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = hung_call_run
    assert r.violation is not None
    statement = get_pack("lumenize").monitor(r.violation.invariant_id).statement
    failure = Failure(r.spec, r.violation.invariant_id, statement, r.violation,
                      r.trace_sha256)
    return write_failure(tmp_path_factory.mktemp("lumenize") / "hung.json", failure)


MESH_STEPS = [Step("advance", {"ms": 1000}), Step("drop", {"client": 0}),
              Step("call_client", {"client": 0}), Step("advance", {"ms": 2000})]


@pytest.fixture(scope="session")
def parked_mesh_call_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Lumenize with parked mesh calls never released: ``node/main`` calls the tab while it
    is away, the gateway parks the call (naming only its request id) and never lets go."""
    spec = RunSpec.of("lumenize", MESH_STEPS, variant="mutant:waiters_not_resolved_on_accept",
                      seed=0)
    r = spec.execute()
    assert r.violation is not None
    statement = get_pack("lumenize").monitor(r.violation.invariant_id).statement
    failure = Failure(r.spec, r.violation.invariant_id, statement, r.violation,
                      r.trace_sha256)
    return write_failure(tmp_path_factory.mktemp("lumenize") / "parked.json", failure)
