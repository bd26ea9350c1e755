"""Views, timelines and diffs in Jupyter: HTML with the verdict first; timelines stay str."""

from __future__ import annotations

import pytest

from gatewaysim.analysis import Timeline, TraceView, diff
from gatewaysim.properties.steps import Step

STEPS = [Step("advance", {"ms": 500}), Step("crash"), Step("advance", {"ms": 3000})]


@pytest.fixture(scope="module")
def give_up() -> TraceView:
    return TraceView.from_steps("echo", STEPS, variant="mutant:give_up")


@pytest.fixture(scope="module")
def fixed(give_up: TraceView) -> TraceView:
    return give_up.branch(variant="fixed")


def test_a_timeline_is_a_str_that_jupyter_shows_preformatted(give_up: TraceView) -> None:
    text = give_up.filter(kind="fault").timeline()
    assert isinstance(text, str) and isinstance(text, Timeline)
    assert text.splitlines()[0].endswith("FAULT crash host=echo")
    rendered = text._repr_html_()
    assert rendered.startswith("<pre") and "FAULT crash host=echo" in rendered
    assert "\\n" not in rendered and "&lt;" not in str(text)
    assert Timeline("a <b>")._repr_html_().endswith(">a &lt;b&gt;</pre>")
    printed: list[str] = []

    class Printer:
        def text(self, s: str) -> None:
            printed.append(s)

    text._repr_pretty_(Printer(), False)
    assert printed == [str(text)]


def test_a_failing_view_shows_its_verdict_first(give_up: TraceView) -> None:
    assert give_up.violation is not None
    assert give_up.verdict == "violated echo.reconnects at 3.500s"
    page = give_up._repr_html_()
    verdict = page.index("VIOLATED")
    assert verdict < page.index("TraceView") < page.index("steps")
    assert "echo.reconnects</b> at 3.500s (after 3 step(s))" in page
    assert "Step(&#x27;crash&#x27;)" in page


def test_a_branch_that_holds_says_so(fixed: TraceView) -> None:
    assert fixed.violation is None and fixed.verdict == "holds: no invariant violated"
    page = fixed._repr_html_()
    assert page.index("HOLDS") < page.index("TraceView")
    assert "variant fixed" in page


def test_a_view_of_a_world_has_no_verdict(view: TraceView) -> None:
    assert view.verdict is None and view.violation is None
    page = view._repr_html_()
    assert "VIOLATED" not in page and "HOLDS" not in page and "TraceView" in page


def test_diff_parts_at_behaviour_not_notes_and_reports_config_last(
    give_up: TraceView, fixed: TraceView
) -> None:
    d = diff(give_up, fixed)
    raw = diff(give_up, fixed, behaviour=False)
    assert raw.a is not None and raw.a.type == "Note"
    assert d.a is not None and d.b is not None
    assert d.a.type != "Note" and d.b.type != "Note"
    assert d.index is not None and raw.index is not None and d.index >= raw.index
    assert d.first_note is not None and d.first_note[0] == raw.a
    text = str(d).splitlines()
    assert text[0].startswith("runs part at record ")
    assert text[1:3] == ["  verdict a: violated echo.reconnects at 3.500s",
                         "  verdict b: holds: no invariant violated"]
    assert text[-1] == ("configuration (trace header, not behaviour): mutants -give_up; "
                        "variant 'mutant:give_up' -> 'fixed'")
    page = d._repr_html_()
    assert page.index("violated echo.reconnects") < page.index("runs part at record")


def test_runs_whose_notes_alone_differ_are_reported_as_such(give_up: TraceView) -> None:
    from gatewaysim.simulator.trace import TraceRecord

    renamed = [TraceRecord(r.t, r.seq, r.actor, r.kind, r.type,
                           {**r.data, "event": "renamed"} if r.type == "Note" else r.data)
               for r in give_up.records]
    other = TraceView(give_up.header, renamed)
    d = diff(give_up, other)
    assert not d.identical and d.notes_only
    assert str(d).startswith("notes differ at record ")
    assert d.a is not None and d.a.type == "Note"


def test_diff_names_the_fields_in_which_the_same_record_differs() -> None:
    from gatewaysim.analysis.diff import differing_fields
    from gatewaysim.simulator.trace import TraceRecord

    a = TraceRecord(20, 5, "c", "out", "OpenConnection",
                    {"conn": "c:ws1", "request": {"path": "/g", "protocols": ["lmz"]}})
    b = TraceRecord(20, 5, "c", "out", "OpenConnection",
                    {"conn": "c:ws1", "request": {"path": "/g", "protocols": ["lmz", "tok"]}})
    assert differing_fields(a, b) == ["request.protocols"]
    other = TraceRecord(20, 5, "c", "out", "Send", {"conn": "c:ws1"})
    assert differing_fields(a, other) == [] and differing_fields(a, None) == []
