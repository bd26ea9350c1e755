"""Findability: Wilson intervals, the merged table, and the failure files' optional field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatewaysim.properties.errors import FailureFileError
from gatewaysim.properties.failure import load_failure, parse_failure
from gatewaysim.properties.scale.campaign import CampaignReport, campaign_table
from gatewaysim.properties.scale.findability import Rate, wilson


def test_wilson_matches_the_textbook_values() -> None:
    low, high = wilson(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = wilson(0, 10)
    assert low == 0 and round(high, 4) == 0.2775
    low, high = wilson(10, 10)
    assert round(low, 4) == 0.7225 and high == 1
    assert wilson(0, 0) == (0.0, 1.0)


def test_findability_counts_the_shards_and_examples_that_hit_each_finding(
        reference: tuple[CampaignReport, Path]) -> None:
    report, _ = reference
    for f in report.findings:
        hits = [s for s in report.done
                if any(g.invariant_id == f.invariant_id for g in s.report.findings)]  # type: ignore[union-attr]
        assert f.findability.shards == Rate(len(hits), len(report.done))
        assert f.findability.examples.hits == len(hits)
        exposure = sum(
            next((g.examples_to_find for g in s.report.findings  # type: ignore[union-attr]
                  if g.invariant_id == f.invariant_id), s.report.examples)  # type: ignore[union-attr]
            for s in report.done)
        assert f.findability.examples.of == exposure
        kept = min((len(g.steps), s.task.index) for s in hits
                   for g in s.report.findings if g.invariant_id == f.invariant_id)  # type: ignore[union-attr]
        assert (len(f.steps), f.shard) == kept


def test_the_table_shows_findability(reference: tuple[CampaignReport, Path]) -> None:
    report, _ = reference
    table = campaign_table(report.findings)
    assert "shards that hit it" in table.splitlines()[0]
    for f in report.findings:
        (row,) = [line for line in table.splitlines() if line.startswith(f.invariant_id)]
        assert str(f.findability.shards) in row and str(f.seed) in row


def test_failure_files_carry_findability_and_read_back(
        reference: tuple[CampaignReport, Path]) -> None:
    report, out = reference
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f.path.name for f in report.findings if f.path is not None)  # one file per invariant
    for f in report.findings:
        assert f.path is not None
        data = json.loads(f.path.read_text())
        shards = data["findability"]["shards"]
        assert (shards["hits"], shards["of"]) == (f.findability.shards.hits,
                                                  f.findability.shards.of)
        assert data["seed"] == f.seed
        assert load_failure(f.path).findability == f.findability


def test_files_without_findability_stay_valid_and_bad_ones_are_refused(
        reference: tuple[CampaignReport, Path]) -> None:
    _, out = reference
    path = sorted(out.iterdir())[0]
    data = json.loads(path.read_text())
    old = {k: v for k, v in data.items() if k != "findability"}
    assert parse_failure(old, path).findability is None
    bad = {**data, "findability": {**data["findability"],
                                   "shards": {"hits": 5, "of": 3}}}
    with pytest.raises(FailureFileError, match=r"findability\.shards\.hits"):
        parse_failure(bad, path)
    with pytest.raises(FailureFileError, match="findability must be an object"):
        parse_failure({**data, "findability": [1]}, path)


def test_campaign_failure_files_match_the_published_schema(
        reference: tuple[CampaignReport, Path]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from gatewaysim.properties.failure import SCHEMA

    report, _ = reference
    for f in report.findings:
        assert f.path is not None
        data = json.loads(f.path.read_text())
        jsonschema.validate(data, json.loads(SCHEMA.read_text()))
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**data, "findability": {"shards": {"hits": -1, "of": 2},
                                                         "examples": {"hits": 0, "of": 1}}},
                                json.loads(SCHEMA.read_text()))
