"""Spec section 4's known issues: FOUND on ``faithful``, ABSENT on ``fixed``, one flag each.

Each issue is a short scripted run judged by the monitor that states the broken promise;
the same steps under ``fixed``, and under ``faithful`` plus only that issue's fix flag,
keep it. A bounded exploration finds them on its own, and finds nothing on ``fixed``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gatewaysim.models.neemata import NeemataConfig
from gatewaysim.models.neemata.scenarios import measure_lingerers
from gatewaysim.properties.explorer import explore
from gatewaysim.properties.neemata import PACK
from gatewaysim.properties.run import RunSpec
from gatewaysim.properties.steps import Step
from gatewaysim.simulator.clock import ms


def call(procedure: str = "echo", work_ms: int = 0, timeout: int | None = None) -> Step:
    return Step("call", {"procedure": procedure, "work_ms": work_ms, "timeout": timeout})


def stream(n: int, delay_ms: int = 0, stop: str = "none", stop_after: int = 1,
           timeout: int | None = None, read_delay_ms: int = 0) -> Step:
    return Step("stream", {"n": n, "delay_ms": delay_ms, "stop": stop, "stop_after": stop_after,
                           "read_delay_ms": read_delay_ms, "timeout": timeout})


def download(size: int, stop: str = "none", stop_after: int = 1, delay_ms: int = 0,
             fails: bool = False) -> Step:
    return Step("download", {"size": size, "stop": stop, "stop_after": stop_after,
                             "delay_ms": delay_ms, "fails": fails})


def wait(ms_: int) -> Step:
    return Step("advance", {"ms": ms_})


#: issue -> (the monitor that states it, its fix flag(s), a minimal run that shows it)
ISSUES: dict[str, tuple[str, str | tuple[str, ...], list[Step]]] = {
    "7: spurious RpcAbort after a settled call": (
        "neemata.abort_frames", "single_abort_frame", [wait(5), call(), wait(20)]),
    "8: the call timeout caps a running stream": (
        "neemata.stream_lifetime", "call_signal_lifecycle",
        [wait(5), stream(8, delay_ms=1_500), wait(6_000)]),
    "3.3/9: a never-pulled stream floods after the consume timeout": (
        "neemata.rpc_stream_window", "stream_pull_timeout_aborts",
        [wait(5), stream(3, stop="ignore", timeout=0), wait(6_000)]),
    "2: an abandoned stream holds both sides' maps (and its signal the cab) forever": (
        "neemata.maps_empty", ("stream_pull_timeout_aborts", "call_signal_lifecycle"),
        [wait(5), stream(3, stop="abandon", timeout=0), wait(100)]),
    "7/8: a never-read stream's abort signal stays on the cab until disconnect": (
        "neemata.maps_empty", "call_signal_lifecycle",
        [wait(5), stream(3, stop="ignore", timeout=0), wait(6_000)]),
    "9: a download flows in full after one pull": (
        "neemata.download_window", "download_credits",
        [wait(5), download(200_000, stop="break"), wait(100)]),
    "2: breaking off a download does not cancel it": (
        "neemata.download_window", "download_break_cancels",
        [wait(5), download(300_000, stop="break", delay_ms=20), wait(500)]),
    "6/10: a wrapped id overwrites a live call": (
        "neemata.ids_unique", "id_in_use_guard",
        [wait(5), call("slow", 8_000), Step("skip_ids"), call(), wait(100)]),
    "6/10: an aborted call's id is reused while its handler runs": (
        "neemata.ids_unique", "id_in_use_guard",
        [wait(5), stream(3), Step("skip_ids"), Step("abort", {"which": 0, "download": False}),
         call(), wait(10)]),
    "11: a timeout reads as a generic AbortError": (
        "neemata.call_outcome", "distinct_abort_reasons",
        [wait(5), call("slow", 300, timeout=50), wait(100)]),
    "13: a second disconnect() throws": (
        "neemata.graceful_when_disconnected", "disconnected_guard",
        [wait(5), Step("disconnect"), Step("disconnect")]),
    "13: a call while disconnected fails with a TypeError": (
        "neemata.graceful_when_disconnected", "disconnected_guard",
        [wait(5), Step("disconnect"), call()]),
    "heartbeat off: a half-open connection is never reaped": (
        "neemata.connections", "gateway_heartbeat", [wait(5), Step("half_open"), wait(10)]),
}


@pytest.mark.parametrize("issue", list(ISSUES))
def test_found_on_faithful(issue: str) -> None:
    monitor, _, steps = ISSUES[issue]
    result = RunSpec.of(PACK, steps, variant="faithful", judge=monitor).execute()
    assert result.violation is not None and result.violation.invariant_id == monitor


@pytest.mark.parametrize("issue", list(ISSUES))
def test_absent_on_fixed(issue: str) -> None:
    _, _, steps = ISSUES[issue]
    result = RunSpec.of(PACK, steps, variant="fixed").execute()
    assert result.violation is None, result.violation


@pytest.mark.parametrize("issue", list(ISSUES))
def test_its_own_fix_flag_removes_it(issue: str) -> None:
    monitor, flags, steps = ISSUES[issue]
    config = NeemataConfig(fixes=frozenset({flags} if isinstance(flags, str) else flags))
    result = RunSpec.of(PACK, steps, config=config, judge=monitor).execute()
    assert result.violation is None, result.violation


def test_every_fix_flag_has_an_issue() -> None:
    flags = set()
    for _, named, _ in ISSUES.values():
        flags |= {named} if isinstance(named, str) else set(named)
    assert flags == set(NeemataConfig.FIXES)


def test_late_responses_are_dropped_quietly_on_both_variants() -> None:
    """Item 1 (mitigated at f77b193b): the late answer is dropped by the calls lookup."""
    steps = [wait(5), call("slow", 300, timeout=50), wait(400)]
    for variant in ("faithful", "fixed"):
        result = RunSpec.of(PACK, steps, variant=variant, judge="neemata.no_escaped_error"
                            ).execute()
        assert result.violation is None
        assert "neemata.late_response_seen" in result.reached


FAITHFUL_FINDINGS = {
    "neemata.graceful_when_disconnected", "neemata.abort_frames", "neemata.call_outcome",
    "neemata.connections", "neemata.rpc_stream_window", "neemata.download_window",
    "neemata.maps_empty", "neemata.stream_lifetime", "neemata.ids_unique",
}
"""What ``gatewaysim explore neemata --profile ci`` (1,000 examples) reports."""


def test_exploration_finds_the_faithful_issues(tmp_path: Path) -> None:
    report = explore(PACK, "faithful", max_examples=1000, seed=0, out_dir=tmp_path,
                     profile="ci", progress=None, budget_s=300)
    found = {f.invariant_id for f in report.findings}
    assert found >= FAITHFUL_FINDINGS and "no-exception" not in found
    written = {p.name for p in tmp_path.iterdir()}
    assert {f"neemata-faithful-{i}.json" for i in FAITHFUL_FINDINGS} <= written


def test_exploration_finds_nothing_on_fixed(tmp_path: Path) -> None:
    report = explore(PACK, "fixed", max_examples=200, seed=0, out_dir=tmp_path, profile="ci",
                     progress=None, budget_s=300)
    assert report.findings == ()
    assert report.unreached == ()


def test_lingerers_are_cleaned_eventually_and_sooner_when_fixed() -> None:
    """Section 4 item 12: how long each map stays non-empty after its caller is done."""
    faithful = measure_lingerers(NeemataConfig())
    fixed = measure_lingerers(NeemataConfig.for_variant("fixed"))
    for name, held in faithful.items():
        assert held < ms(10_100), name  # every one is cleaned by a timer at last
    assert faithful["download of a failed call"] >= ms(4_900)  # the Consume timeout
    assert faithful["blob in a late response"] >= ms(4_900)
    assert faithful["never-iterated RPC stream"] >= ms(4_900)
    assert faithful["download broken off after one chunk"] > ms(1_000)  # pushed to the end
    assert fixed["download broken off after one chunk"] <= ms(2)  # the break cancels it
    for held in (faithful, fixed):  # no fix flag: the upload runs to its end (300 KB, 2 ms
        assert ms(50) < held["upload after its call was aborted"] < ms(100)  # a chunk)
