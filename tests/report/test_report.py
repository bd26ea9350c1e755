"""The report folder: what it holds, that it needs no network, that it is written whole,
and that its pictures keep to their promises (lanes that matter, labels apart)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gatewaysim.analysis.focus import lanes_that_matter
from gatewaysim.properties.explorer import ExploreReport
from gatewaysim.properties.run import RunResult
from gatewaysim.report import write_report
from gatewaysim.report.svg import CHAR_W, FONT, sequence_diagram_svg
from gatewaysim.simulator.errors import ConfigError

from .conftest import gatewaysim

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


def test_report_from_a_campaign_lists_every_finding(echo_campaign: ExploreReport,
                                                    tmp_path: Path) -> None:
    index = write_report(tmp_path / "report", echo_campaign.findings, echo_campaign)
    folder = index.parent
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["format"] == "gatewaysim-report"
    assert summary["explore"]["examples"] == echo_campaign.examples
    found = [f.invariant_id for f in echo_campaign.findings]
    assert [row["invariant"] for row in summary["findings"]] == found
    html = index.read_text()
    for row in summary["findings"]:
        assert f'href="{row["page"]}"' in html
        page = (folder / row["page"]).read_text()
        assert f"<h1>{row['invariant']}</h1>" in page
        assert row["violated"] and row["reproduces_recorded_trace"]
        assert json.loads((folder / row["failure_file"]).read_text())["invariant"]["id"] == \
            row["invariant"]
        assert "traceEvents" in json.loads((folder / row["perfetto"]).read_text())


def test_a_finding_without_a_file_is_rebuilt_from_the_campaign(echo_campaign: ExploreReport,
                                                               tmp_path: Path) -> None:
    import attrs

    finding = attrs.evolve(echo_campaign.findings[0], path=None)
    index = write_report(tmp_path / "r", [finding], echo_campaign)
    (row,) = json.loads((index.parent / "summary.json").read_text())["findings"]
    assert row["trace_sha256"] == finding.trace_sha256 and row["source"] is None
    with pytest.raises(ConfigError, match="ExploreReport"):
        write_report(tmp_path / "r2", [finding])


def test_pages_load_nothing_from_anywhere(order_file: Path, tmp_path: Path) -> None:
    index = write_report(tmp_path / "r", [order_file])
    for page in index.parent.rglob("*.html"):
        text = page.read_text()
        assert "Content-Security-Policy" in text and "default-src 'none'" in text
        assert not EXTERNAL.search(text), page
        assert "<script src" not in text and "<link" not in text


def test_writing_is_atomic_and_refuses_a_foreign_folder(order_file: Path, tmp_path: Path
                                                        ) -> None:
    dest = tmp_path / "r"
    write_report(dest, [order_file])
    (dest / "stale.txt").write_text("from an earlier report")
    write_report(dest, [order_file])  # an earlier report is replaced whole
    assert not (dest / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no temporary left behind
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="something other than a gatewaysim report"):
        write_report(foreign, [order_file])
    assert (foreign / "mine.txt").read_text() == "keep me"


def test_replay_report_option(order_file: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    result = gatewaysim("replay", order_file, "--quiet", "--report", dest)
    assert result.returncode == 1, result.stderr
    assert f"wrote report {dest / 'index.html'}" in result.stdout
    assert (dest / "01-echo.order" / "index.html").is_file()
    bad = gatewaysim("replay", order_file, "--quiet", "--report", tmp_path / "no" / "such")
    assert bad.returncode == 2 and "is not a directory" in bad.stderr


def _label_boxes(svg: str) -> list[tuple[float, float, float, float]]:
    """The box of every text label drawn in the plot (not lane names or the title)."""
    boxes = []
    for m in re.finditer(r'<text x="([\d.]+)" y="([\d.]+)"([^>]*)>([^<]*)</text>', svg):
        x, y, attrs_, text = float(m[1]), float(m[2]), m[3], m[4]
        text = (text.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")
                .replace("&#x27;", "'").replace("&quot;", '"'))
        if 'text-anchor="end"' in attrs_ or not text:
            continue
        w = len(text) * CHAR_W
        x0 = x - w / 2 if 'text-anchor="middle"' in attrs_ else x
        boxes.append((x0, y - FONT, x0 + w, y))
    return boxes


@pytest.mark.parametrize("axis", ["time", "order"])
def test_labels_never_overlap(hung_call_run: RunResult, axis: str) -> None:
    r = hung_call_run
    svg = sequence_diagram_svg(r.trace.records, steps=r.marks, violation=r.violation,
                               axis=axis)
    boxes = _label_boxes(svg)
    assert len(boxes) > 10
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, (a, b)


def test_lanes_are_the_ones_that_matter(hung_call_run: RunResult) -> None:
    r = hung_call_run
    lanes = lanes_that_matter(r.trace.records, r.violation, steps=r.marks)
    # the violation names client/u0.t1; the duplicate tab is what step 0 (a fault) started;
    # the gateway is the other end of their connections; the other users' tabs stay out
    assert lanes == ["client/u0.t1", "client/u0.t1#2", "gateway/u0.t1"]
    actors = {rec.actor for rec in r.trace.records}
    assert len(actors) > 10
    svg = sequence_diagram_svg(r.trace.records, steps=r.marks, violation=r.violation)
    assert "3 of 13 actors" in svg and "client/u1.t1" not in svg


def test_event_order_axis_gives_each_event_its_own_column(hung_call_run: RunResult) -> None:
    r = hung_call_run
    svg = sequence_diagram_svg(r.trace.records, steps=r.marks, violation=r.violation,
                               axis="order")
    arrows = re.findall(r'<g class="arrow \w+"><title>[^<]*\(#(\d+) -&gt; #(\d+)\)</title>'
                        r'<line x1="([\d.]+)" y1="[\d.]+" x2="([\d.]+)"', svg)
    assert len(arrows) > 20
    xs = {}
    for s0, s1, x0, x1 in arrows:
        xs[int(s0)], xs[int(s1)] = float(x0), float(x1)
    ordered = [xs[s] for s in sorted(xs)]
    assert ordered == sorted(ordered) and len(set(ordered)) == len(ordered)
    assert "event order" in svg
    with pytest.raises(ValueError, match="axis"):
        sequence_diagram_svg(r.trace.records, axis="lamport")


def test_a_window_draws_only_its_span(hung_call_run: RunResult) -> None:
    r = hung_call_run
    assert r.violation is not None
    lo, hi = r.violation.t - 5_000_000, r.violation.t
    svg = sequence_diagram_svg(r.trace.records, steps=r.marks, violation=r.violation,
                               window=(lo, hi))
    sent = [float(t) for t in re.findall(r"sent ([\d.]+)s, received", svg)]
    received = [float(t) for t in re.findall(r"received ([\d.]+)s", svg)]
    assert sent and min(sent) >= lo / 1e6 and max(received) <= hi / 1e6
    assert "VIOLATED lumenize.client_calls_settle" in svg  # its line is in the window
    assert "step 0" not in svg  # the steps were applied at 0s, outside it
    assert 'class="call hung"' in svg  # a hung call is alive in any window


def test_a_hung_mesh_call_is_marked_in_the_pictures_and_the_tables(
    parked_mesh_call_file: Path, tmp_path: Path,
) -> None:
    """The mesh call is known only by its request id (the gateway parked it): it is drawn
    to the end of the run in both pictures, listed first in the calls table as never
    settled, and named in ``summary.json``."""
    index = write_report(tmp_path / "report", [parked_mesh_call_file])
    summary = json.loads((index.parent / "summary.json").read_text())
    (row,) = summary["findings"]
    assert row["hung_calls"] == ["node/main#0:rpc1"]
    page = (index.parent / row["page"]).read_text()
    sequence = page[page.index('class="sequence-diagram"'):]
    state = page[page.index('class="state-timeline"'):]
    for svg in (sequence[:sequence.index("</svg>")], state[:state.index("</svg>")]):
        assert ('<g class="call hung"><title>request node/main#0:rpc1 issued 1.000s, never '
                "settled (drawn to the end of the run)</title>") in svg
        assert "hung request rpc1" in svg
    calls = page[page.index("<h2>Calls</h2>"):page.index("<h2>Sequence diagram</h2>")]
    first = calls[calls.index("<tr><td>"):]
    first = first[:first.index("</tr>")]
    assert "node/main#0:rpc1" in first and "never settled" in first


def test_a_mesh_call_the_tab_answered_is_not_hung(tmp_path: Path) -> None:
    """The gateway forwards the call as ``incoming_call ic-…`` and settles it by request id:
    the forwarded id belongs to the request, which settled."""
    from gatewaysim.properties.run import RunSpec
    from gatewaysim.properties.steps import Step

    steps = [Step("advance", {"ms": 1000}), Step("call_client", {"client": 0}),
             Step("advance", {"ms": 1000})]
    r = RunSpec.of("lumenize", steps, variant="fixed", seed=0).execute(keep_records=True)
    svg = sequence_diagram_svg(r.trace.records, steps=r.marks, violation=r.violation,
                               lanes=["client/u0.t1", "gateway/u0.t1", "node/main"])
    assert 'class="call hung"' not in svg
    assert re.search(r"request node/main#0:rpc1 \(as ic-\w+\) issued 1\.000s, settled", svg)
