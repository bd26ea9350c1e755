"""Mutants are shards: the same verdicts from worker processes and a Dask ``LocalCluster``,
and a worker killed mid-mutant costs a retry, then an ``error`` verdict, never the others."""

from __future__ import annotations

import io
import os
import re
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from gatewaysim.models import echo
from gatewaysim.properties.mutation import Mutant, mutate
from gatewaysim.properties.mutation.runner import Campaign, Tasks
from gatewaysim.properties.mutation.task import MutantTask, run_mutant, snapshot_files
from gatewaysim.properties.scale.campaign import ShardEvent
from gatewaysim.properties.scale.runners import Processes

ECHO = Path(echo.__file__).parent
CAMPAIGN: dict[str, Any] = {"pack": "echo", "mutants": 4, "max_examples": 10, "seed": 0}
RUNNING = re.compile(r"running mutant #(\d+) in process (\d+) \(judged by (\d+)\)")


def verdicts(results: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """What a verdict decides (not how long it took, nor how many attempts it needed)."""
    return {i: (v["n"], v["status"], v.get("by"), v.get("detail"), v.get("examples"))
            for i, v in results.items()}


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    work = tmp_path_factory.mktemp("processes")
    campaign = mutate(workers=2, work=work, **CAMPAIGN)
    assert len(campaign.results) == 4 and not campaign.interrupted
    # A campaign worth comparing: more than one kind of verdict.
    assert {"killed", "survived"} <= {v["status"] for v in campaign.results.values()}
    return campaign


@pytest.fixture(scope="module")
def reference(campaign: Campaign) -> dict[str, dict[str, Any]]:
    return campaign.results


class Killer:
    """Kills the worker judging mutant ``n`` on the attempts listed for it, once its judging
    interpreter is running (mid-mutant); keeps the interpreters' process ids."""

    def __init__(self, plan: dict[int, tuple[int, ...]]) -> None:
        self.plan = plan
        self.killed: list[tuple[int, int]] = []
        self.judges: list[int] = []

    def __call__(self, event: ShardEvent) -> None:
        running = RUNNING.match(event.text) if event.kind == "line" else None
        if running is None:
            return
        n, worker, judge = (int(g) for g in running.groups())
        attempt = len([k for k in self.killed if k[0] == n]) + 1
        if attempt in self.plan.get(n, ()) and (n, attempt) not in self.killed:
            os.kill(worker, signal.SIGKILL)
            self.killed.append((n, attempt))
            self.judges.append(judge)


class KillOnRunning:
    """A runner's sink that kills the worker as soon as its mutant is being judged."""

    def __init__(self) -> None:
        self.judges: list[int] = []
        self.lost: list[str] = []

    def started(self, task: Any, attempt: int, pid: int | None) -> None:
        pass

    def line(self, task: Any, text: str) -> None:
        running = RUNNING.match(text)
        assert running is not None, text
        _, worker, judge = (int(g) for g in running.groups())
        self.judges.append(judge)
        os.kill(worker, signal.SIGKILL)

    def finished(self, task: Any, report: Any) -> None:
        raise AssertionError(f"a verdict from a killed worker: {report}")

    def failed(self, task: Any, attempt: int, why: str, retry: bool) -> bool:
        self.lost.append(why)
        return False

    def tick(self) -> None:
        pass


def test_the_interpreter_judging_a_mutant_dies_with_its_worker(tmp_path: Path) -> None:
    """A mutant that never returns, judged with an hour's budget: killing the worker ends
    it at once, rather than leaving it to spin with nobody to read its verdict."""
    server = (ECHO / "server.py").read_text(encoding="utf-8")
    endless = Mutant.of(server, "server.py", "self.echoed += 1", "while True: pass")
    task = MutantTask(1, endless, "echo", "fixed", 0, 10, "gatewaysim.models.echo", "echo",
                      snapshot_files(ECHO), 3600.0, 3600.0, str(tmp_path / "mutants"))
    sink = KillOnRunning()
    Processes(1).run([task], sink, run_mutant)
    assert sink.lost == ["worker process killed by SIGKILL"] and len(sink.judges) == 1
    assert _gone(sink.judges[0], within_s=5.0)


def _gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_a_killed_worker_s_mutant_is_retried_once_then_an_error_and_resume_finishes_it(
        reference: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    killer = Killer({1: (1, 2), 2: (1,)})
    status = io.StringIO()
    campaign = mutate(workers=2, work=tmp_path, status=status, status_every_s=3600,
                      listeners=[killer], **CAMPAIGN)
    assert sorted(killer.killed) == [(1, 1), (1, 2), (2, 1)]
    by_n = {v["n"]: v for v in campaign.results.values()}
    assert by_n[1]["status"] == "error" and by_n[1]["attempts"] == 2
    assert "SIGKILL" in by_n[1]["detail"] and "after 2 attempt(s)" in by_n[1]["detail"]
    assert by_n[2]["attempts"] == 2
    mine, theirs = verdicts(campaign.results), verdicts(reference)
    assert {i: v for i, v in mine.items() if v[0] != 1} == {
        i: v for i, v in theirs.items() if v[0] != 1}
    text = status.getvalue()
    assert "#1 lost on attempt 1: worker process killed by SIGKILL; running it again" in text
    # The status line, as plain lines in a pipe.
    assert re.search(r"mutants 4/4 judged \([^)]*\b1 error\b[^)]*\)  0 running", text), text
    assert not (tmp_path / "mutants").exists()

    again = mutate(workers=1, work=tmp_path, resume=True, **CAMPAIGN)
    assert again.run_now == 1
    assert verdicts(again.results) == theirs


def test_a_dask_local_cluster_gives_the_same_verdicts_even_when_a_worker_dies(
        reference: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    killer = Killer({1: (1,)})
    campaign = mutate(workers=2, dask="local", work=tmp_path, listeners=[killer], **CAMPAIGN)
    assert killer.killed == [(1, 1)]
    assert verdicts(campaign.results) == verdicts(reference)
    by_n = {v["n"]: v for v in campaign.results.values()}
    assert by_n[1]["attempts"] == 2
    assert not (tmp_path / "mutants").exists()


def test_a_worker_on_another_machine_judges_from_the_package_the_task_carries(
        campaign: Campaign, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A task for a remote cluster names no directory of this machine: the worker writes
    the package it carries to a temporary directory of its own and removes it after."""
    theirs = tmp_path / "worker-tmp"
    theirs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(theirs))
    killed = next(m for m in campaign.mutants if campaign.results[m.id]["status"] == "killed")
    n = campaign.results[killed.id]["n"]
    work = tmp_path / "work"
    make = Tasks(campaign.settings, "echo", campaign.package, campaign.source_dir, work)
    task = make.make(n, killed, 600.0, 600.0, here=False)
    assert task.scratch is None and task.storage is None
    lines: list[str] = []
    verdict = run_mutant(task, lines.append)
    assert verdicts({killed.id: {**verdict, "n": n}}) == verdicts(
        {killed.id: campaign.results[killed.id]})
    assert len(lines) == 1 and RUNNING.match(lines[0])
    assert not work.exists() and list(theirs.iterdir()) == []
