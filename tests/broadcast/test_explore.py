"""Bounded exploration (profile ``ci``, 200 examples a round): the faithful model's
weaknesses are found, each with a failure file that replays; ``fixed`` has none and still
reaches every ``sometimes`` situation."""

from __future__ import annotations

from pathlib import Path

from gatewaysim.properties.broadcast import PACK
from gatewaysim.properties.explorer import explore
from gatewaysim.properties.failure import load_failure
from gatewaysim.properties.replay import replay

WEAKNESSES = {
    "broadcast.invalidation-delivered": "the at-most-once bus loses an invalidation during a "
                                        "reconnect",
    "broadcast.monotonic-reads": "a late refetch overwrites a newer broadcast",
    "broadcast.no-phantom": "a rejected optimistic write survives in another tab",
    "broadcast.history": "a tab shows a write known to be rejected (aborted read)",
}
SOMETIMES = {m.id for m in PACK.monitors if m.kind == "sometimes"}


def test_faithful_campaign_finds_each_weakness(tmp_path: Path) -> None:
    report = explore("broadcast", "faithful", budget_s=600, max_examples=200, seed=0,
                     out_dir=tmp_path, profile="ci", progress=None)
    ids = {f.invariant_id for f in report.findings}
    missing = set(WEAKNESSES) - ids
    assert not missing, [WEAKNESSES[m] for m in sorted(missing)]
    assert "no-exception" not in ids
    for finding in report.findings:
        assert finding.path is not None and finding.path.exists()
        failure = load_failure(finding.path)
        again = replay(failure, timeline_limit=0)
        assert again.violation == failure.violation and again.hash_matches
        assert replay(failure, "fixed", timeline_limit=0).violation is None
    assert report.unreached == (), report.render()


def test_fixed_campaign_finds_nothing(tmp_path: Path) -> None:
    report = explore("broadcast", "fixed", budget_s=600, max_examples=200, seed=0,
                     out_dir=tmp_path, profile="ci", progress=None)
    assert report.findings == (), report.render()
    assert {i for i, _, n in report.sometimes if n > 0} == SOMETIMES, report.render()
    labels = dict(report.coverage)
    for label in ("slow link", "bus drop (ready)", "socket drop while connected"):
        assert labels.get(label, 0) > 0, label
    assert list(tmp_path.iterdir()) == []
