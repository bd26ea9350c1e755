"""One small sharded campaign on the buggy echo pack, run in this process: the reference
every backend, and every fault of the campaign itself, must reproduce."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gatewaysim.properties.scale.campaign import CampaignReport, run_campaign

CAMPAIGN: dict[str, Any] = {"pack": "echo", "variant": "buggy", "seeds": 3,
                            "max_examples": 90, "seed": 3, "profile": "ci"}


def summary(report: CampaignReport) -> dict[str, Any]:
    """Everything a campaign decides (not how long it took): per shard, what it ran and
    found; merged, each finding's run, shard, seed and findability."""
    shards = []
    for s in report.shards:
        r = s.report
        shards.append((s.task.index, s.task.seed, s.task.swarm, s.status, None if r is None
                       else (r.examples, r.steps, [(f.invariant_id, f.steps)
                                                   for f in r.findings])))
    findings = {f.invariant_id: (f.steps, f.shard, f.seed, f.trace_sha256, f.findability)
                for f in report.findings}
    return {"examples": report.examples, "steps": report.steps, "shards": shards,
            "findings": findings}


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[CampaignReport, Path]:
    out = tmp_path_factory.mktemp("reference")
    report = run_campaign(workers=1, out_dir=out, progress=None, **CAMPAIGN)
    return report, out
