"""Shared fixtures: one ``ci`` campaign on the buggy echo variant, reused by every test
that needs a failure file (exploring is the slow part; replaying is cheap)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatewaysim.properties.explorer import ExploreReport, explore


@pytest.fixture(scope="session")
def buggy_campaign(tmp_path_factory: pytest.TempPathFactory) -> tuple[ExploreReport, Path]:
    out = tmp_path_factory.mktemp("findings")
    report = explore("echo", "buggy", budget_s=300, max_examples=400, seed=0, out_dir=out,
                     profile="ci", progress=None)
    return report, out


@pytest.fixture(scope="session")
def order_failure(buggy_campaign: tuple[ExploreReport, Path]) -> Path:
    report, _ = buggy_campaign
    (finding,) = [f for f in report.findings if f.invariant_id == "echo.order"]
    assert finding.path is not None
    return finding.path


@pytest.fixture(scope="session")
def reconnect_failure(buggy_campaign: tuple[ExploreReport, Path]) -> Path:
    report, _ = buggy_campaign
    (finding,) = [f for f in report.findings if f.invariant_id == "echo.reconnects"]
    assert finding.path is not None
    return finding.path
