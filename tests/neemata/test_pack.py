"""The Neemata pack as the tools see it: manifest, scenarios, determinism, mutants, timeline."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from gatewaysim.models.neemata import NeemataConfig
from gatewaysim.models.neemata.describe import describe
from gatewaysim.models.neemata.scenarios import run_calls, run_connection
from gatewaysim.properties.neemata import PACK
from gatewaysim.properties.pack import get_pack
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step
from gatewaysim.simulator.timeline import render_timeline
from gatewaysim.simulator.trace import Trace

from .test_known_issues import call, download, stream, wait


def test_the_pack_is_registered_under_its_name() -> None:
    assert get_pack("neemata") is PACK or get_pack("neemata").name == "neemata"
    assert {s.name for s in PACK.scenarios} == {
        "neemata-calls", "neemata-streams", "neemata-blobs", "neemata-connection"}
    sometimes = [m for m in PACK.monitors if m.kind == "sometimes"]
    assert sometimes


def test_readme_names_every_fix_flag_and_mutant() -> None:
    path = PACK.readme_path()
    assert path is not None and path.exists()
    text = Path(path).read_text()
    for name in (*NeemataConfig.FIXES, *NeemataConfig.MUTANTS):
        assert f"`{name}`" in text, name


@pytest.mark.parametrize("name", ["neemata-calls", "neemata-streams", "neemata-blobs",
                                  "neemata-connection"])
def test_each_scenario_runs_deterministically(name: str) -> None:
    scenario = PACK.scenario(name)
    hashes = []
    for _ in range(2):
        trace = Trace(keep=True)
        result = scenario.run(0, scenario.default_duration, trace)
        assert result.summary and result.describe is describe
        hashes.append(trace.sha256)
        text = render_timeline(trace.records, describe=describe)
        assert "->" in text and "<-" in text
    assert hashes[0] == hashes[1]


def test_the_calls_scenario_reports_what_callers_got() -> None:
    faithful = run_calls(NeemataConfig(), 0, None)[1]
    fixed = run_calls(NeemataConfig.for_variant("fixed"), 0, None)[1]
    assert faithful["resolved"] == fixed["resolved"] == 3
    assert faithful["RpcAbort frames sent"] > fixed["RpcAbort frames sent"]
    assert "TypeError" in faithful["rejected"] and "ConnectionError" in fixed["rejected"]


def test_the_connection_scenario_leaves_nothing_behind_on_both_variants() -> None:
    for variant in ("faithful", "fixed"):
        summary = run_connection(NeemataConfig.for_variant(variant), 0, None, cycles=5)[1]
        assert summary["cycles leaving something behind"] == 0
        assert summary["operation maps right after the first disconnect"] == "none"


def test_statistics_are_frozen_values() -> None:
    driver = PACK.new_driver(NeemataConfig(), 0)
    stats = driver.statistics()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        stats.client = None  # type: ignore[misc]
    assert stats.client.state in ("connecting", "connected")
    assert set(stats.maps()) >= {"client.calls", "gateway.rpcs", "gateway.server_streams"}


#: mutant -> (the monitor that catches it, a run that shows it)
MUTANTS: dict[str, tuple[str, list[Step]]] = {
    "calls_kept_after_response": ("neemata.maps_empty", [wait(5), call(), wait(20)]),
    "gateway_keeps_aborted_rpc": ("neemata.maps_empty",
                                  [wait(5), call("slow", 300, timeout=50), wait(1_000)]),
    "chunk_sent_twice": ("neemata.stream_order", [wait(5), stream(5), wait(100)]),
    "late_timeout_settles": ("neemata.settles_once", [wait(5), call(), wait(6_000)]),
    "download_ids_restart": ("neemata.ids_unique",
                             [wait(5), download(10, stop="ignore"), download(10, stop="ignore"),
                              wait(20)]),
}


def test_every_mutant_has_a_run() -> None:
    assert set(MUTANTS) == set(NeemataConfig.MUTANTS)


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_each_mutant_is_caught_and_fixed_is_not(mutant: str) -> None:
    monitor, steps = MUTANTS[mutant]
    caught = RunSpec.of(PACK, steps, variant=f"mutant:{mutant}").execute()
    assert caught.violation is not None and caught.violation.invariant_id == monitor
    assert RunSpec.of(PACK, steps, variant="fixed").execute().violation is None


def test_the_same_run_gives_the_same_trace() -> None:
    steps = [wait(5), stream(4, delay_ms=10), download(70_000), Step("drop"), wait(50),
             Step("connect"), call(), wait(3_000)]
    a = RunSpec.of(PACK, steps, variant="fixed").execute()
    b = RunSpec.of(PACK, steps, variant="fixed").execute()
    assert a.trace_sha256 == b.trace_sha256 and a.violation is None
