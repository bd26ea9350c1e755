"""The same seeds and example bound find the same, whatever runs the shards: one process,
worker processes (from the command line), a Dask ``LocalCluster``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gatewaysim.properties.explorer import explore
from gatewaysim.properties.scale.campaign import CampaignReport, run_campaign

from .conftest import CAMPAIGN, summary

ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_campaign_finds_both_planted_bugs(
        reference: tuple[CampaignReport, Path]) -> None:
    report, _ = reference
    assert report.examples == CAMPAIGN["max_examples"]
    assert all(s.status == "done" for s in report.shards)
    assert {f.invariant_id for f in report.findings} == {"echo.order", "echo.reconnects"}
    assert len({s.task.seed for s in report.shards}) == CAMPAIGN["seeds"]


def test_worker_processes_find_the_same(reference: tuple[CampaignReport, Path]) -> None:
    report = run_campaign(workers=2, out_dir=None, progress=None, **CAMPAIGN)
    assert report.backend == "2 processes"
    assert summary(report) == summary(reference[0])


def test_a_dask_local_cluster_finds_the_same(reference: tuple[CampaignReport, Path]) -> None:
    pytest.importorskip("distributed")
    report = run_campaign(workers=2, dask="local", out_dir=None, progress=None, **CAMPAIGN)
    assert report.backend.startswith("dask LocalCluster")
    assert summary(report) == summary(reference[0])


def test_the_command_line_with_two_workers_writes_the_same_failure_files(
        reference: tuple[CampaignReport, Path], tmp_path: Path) -> None:
    out = tmp_path / "cli"
    done = subprocess.run(
        [sys.executable, "-m", "gatewaysim", "explore", "echo", "--variant", "buggy",
         "--seeds", "3", "--workers", "2", "--max-examples", "90", "--seed", "3",
         "--profile", "ci", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "PYTHONHASHSEED": "random"})
    assert done.returncode == 1, done.stderr
    assert "in 3 shards on 2 processes" in done.stdout
    assert "shards 3/3 done" in done.stderr  # the live progress, as plain lines in a pipe
    _, ref_out = reference
    mine = {p.name: json.loads(p.read_text()) for p in sorted(out.iterdir())}
    theirs = {p.name: json.loads(p.read_text()) for p in sorted(ref_out.iterdir())}
    assert mine.keys() == theirs.keys()
    for name, data in mine.items():
        for key in ("seed", "steps", "violation", "trace_sha256", "findability"):
            assert data[key] == theirs[name][key], (name, key)


def test_one_shard_is_exactly_explore() -> None:
    args = {"variant": "buggy", "max_examples": 40, "seed": 5, "profile": "ci"}
    single = explore("echo", out_dir=None, progress=None, **args)  # type: ignore[arg-type]
    sharded = run_campaign("echo", seeds=1, workers=1, out_dir=None, progress=None,
                           **args)  # type: ignore[arg-type]
    assert sharded.examples == single.examples and sharded.steps == single.steps
    assert ({f.invariant_id: f.steps for f in sharded.findings}
            == {f.invariant_id: f.steps for f in single.findings})
