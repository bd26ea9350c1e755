"""Faults of the campaign itself: a worker killed mid-shard, twice, and Ctrl-C."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from gatewaysim.properties.scale.campaign import CampaignReport, ShardEvent, run_campaign

from .conftest import CAMPAIGN, summary


class Killer:
    """Kills the worker running shard ``shard`` once it has reported exploring (mid-shard),
    on each of the ``attempts`` given."""

    def __init__(self, shard: int, attempts: tuple[int, ...]) -> None:
        self.shard = shard
        self.attempts = attempts
        self.killed: list[int] = []

    def __call__(self, event: ShardEvent) -> None:
        if (event.kind == "line" and event.shard == self.shard and event.pid is not None
                and event.attempt in self.attempts and event.attempt not in self.killed
                and " examples" in event.text):
            os.kill(event.pid, signal.SIGKILL)
            self.killed.append(event.attempt)


def test_a_killed_worker_s_shard_is_run_again_and_nothing_is_lost(
        reference: tuple[CampaignReport, Path]) -> None:
    killer = Killer(shard=1, attempts=(1,))
    report = run_campaign(workers=2, out_dir=None, progress=None, progress_every_s=0.05,
                          listeners=[killer], **CAMPAIGN)
    assert killer.killed == [1]
    shard = report.shards[1]
    assert (shard.status, shard.attempts) == ("done", 2)
    assert "SIGKILL" in shard.why
    assert summary(report) == summary(reference[0])
    assert "shard 1 (seed" in report.render() and "done after 2 attempt(s)" in report.render()


def test_a_shard_killed_twice_is_reported_failed_and_the_others_stand(
        reference: tuple[CampaignReport, Path]) -> None:
    killer = Killer(shard=1, attempts=(1, 2))
    report = run_campaign(workers=2, out_dir=None, progress=None, progress_every_s=0.05,
                          listeners=[killer], **CAMPAIGN)
    assert killer.killed == [1, 2]
    assert [s.status for s in report.shards] == ["done", "failed", "done"]
    assert report.failed
    ref = summary(reference[0])["shards"]
    mine = summary(report)["shards"]
    assert mine[0] == ref[0] and mine[2] == ref[2]
    survivors = {f.invariant_id for s in report.done for f in s.report.findings}  # type: ignore[union-attr]
    assert {f.invariant_id for f in report.findings} == survivors
    for f in report.findings:
        assert f.shard != 1 and f.findability.shards.of == 2


class Interrupt:
    """Ctrl-C as shard ``shard`` starts."""

    def __init__(self, shard: int) -> None:
        self.shard = shard

    def __call__(self, event: ShardEvent) -> None:
        if event.kind == "started" and event.shard == self.shard:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_the_table_of_the_shards_finished_so_far(
        reference: tuple[CampaignReport, Path], tmp_path: Path) -> None:
    report = run_campaign(workers=1, out_dir=tmp_path, progress=None,
                          listeners=[Interrupt(shard=2)], **CAMPAIGN)
    assert report.interrupted
    assert [s.status for s in report.shards] == ["done", "done", "not run"]
    assert summary(report)["shards"][:2] == summary(reference[0])["shards"][:2]
    text = report.render()
    assert "interrupted (Ctrl-C)" in text
    for f in report.findings:
        assert f.invariant_id in text and f.path is not None and f.path.exists()


class KillDaskWorkers:
    """Kills every worker process of this test's ``LocalCluster`` once shard 0 has reported
    exploring: both shards running are lost mid-shard."""

    def __init__(self) -> None:
        self.killed: list[int] = []

    def __call__(self, event: ShardEvent) -> None:
        import psutil

        if (event.kind == "line" and event.shard == 0 and not self.killed
                and " examples" in event.text):
            # The nannies live in this process, and fork the workers from it.
            me = psutil.Process()
            for worker in me.children():
                if worker.cmdline() == me.cmdline():
                    worker.kill()
                    self.killed.append(worker.pid)


def test_a_dask_worker_killed_mid_shard_loses_nothing(
        reference: tuple[CampaignReport, Path]) -> None:
    pytest.importorskip("distributed")
    killer = KillDaskWorkers()
    report = run_campaign(workers=2, dask="local", out_dir=None, progress=None,
                          progress_every_s=0.05, listeners=[killer], **CAMPAIGN)
    assert killer.killed
    assert report.shards[0].attempts == 2 and "KilledWorker" in report.shards[0].why
    assert all(s.status == "done" for s in report.shards), \
        [(s.status, s.attempts, s.why) for s in report.shards]
    assert summary(report) == summary(reference[0])


def test_the_budget_bounds_the_whole_campaign() -> None:
    report = run_campaign("echo", "buggy", seeds=3, workers=1, max_examples=3000, seed=3,
                          profile="ci", budget_s=0.5, out_dir=None, progress=None)
    first, *rest = report.shards
    assert first.status == "done" and first.report is not None
    assert first.report.stopped.startswith("incomplete")
    assert [s.status for s in rest] == ["not run", "not run"]
    assert all("budget was spent" in s.why for s in rest)
    assert report.failed and "0 failed, 2 not run" in report.render()
