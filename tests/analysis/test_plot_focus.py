"""Plots of an executed run: drawn around its verdict, readable in bursts, never overlapping.

The run is the echo pack's ``mutant:give_up`` client (it stops reconnecting after three
refused attempts) crashed at 0.5 s: a scripted step list, so it is cheap and exact.
"""

from __future__ import annotations

import pytest

from gatewaysim.analysis import TraceView, call_spans, sequence_diagram, state_timeline
from gatewaysim.analysis.focus import fault_records, focus_of, mentioned_times, named_actors
from gatewaysim.analysis.plot_layout import Labels, Scale
from gatewaysim.properties.steps import Step
from gatewaysim.simulator.clock import SECOND, ms
from gatewaysim.simulator.trace import TraceRecord

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402

STEPS = [Step("advance", {"ms": 500}), Step("crash"), Step("advance", {"ms": 3000})]


@pytest.fixture(scope="module")
def give_up() -> TraceView:
    return TraceView.from_steps("echo", STEPS, variant="mutant:give_up")


def _legend(fig: Figure) -> list[str]:
    legend = fig.axes[0].get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def test_focus_is_the_faulted_actors_from_the_first_fault_to_the_violation(
    give_up: TraceView,
) -> None:
    focus = focus_of(give_up)
    assert focus is not None and give_up.violation is not None
    assert focus.actors == ("client", "echo")
    crash = fault_records(give_up.records)[0]
    assert crash.type == "crash" and focus.lo < crash.t
    assert focus.hi >= give_up.violation.t
    assert focus.verdict().startswith("violated echo.reconnects at ")


def test_the_settle_fault_and_the_heals_after_it_are_not_faults(give_up: TraceView) -> None:
    settle = next(r for r in give_up.records if r.type == "settle")
    assert all(r.t != settle.t or r.seq < settle.seq for r in fault_records(give_up.records))
    assert "settle" not in {r.type for r in fault_records(give_up.records)}


def test_a_view_that_is_not_an_executed_run_has_no_focus(view: TraceView) -> None:
    assert focus_of(view) is None


def test_violation_messages_name_actors_and_times() -> None:
    actors = ["client/u0.t1", "client/u0.t1#2", "gateway/u0.t1", "worker"]
    assert named_actors("client/u0.t1 was refused", actors) == ["client/u0.t1"]
    assert named_actors("u0.t1 has 0 connected tab(s)", actors) == [
        "client/u0.t1", "gateway/u0.t1"]
    assert mentioned_times("accepted ws2 (t=1.070s), the last at 179.290s; 2m59.31s later") == [
        1_070_000, 179_290_000]


def test_plots_of_a_failure_mark_the_violation_the_faults_and_the_steps(
    give_up: TraceView,
) -> None:
    for fig in (sequence_diagram(give_up), state_timeline(give_up)):
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["client", "echo"]
        title = ax.get_title(loc="left")
        assert "violated echo.reconnects at 3.500s" in title
        texts = _legend(fig)
        assert "invariant violated (3.500s)" in texts
        assert "fault injected (1)" in texts
        assert any(t.startswith("step applied (") for t in texts)
        top = [a.get_text() for a in ax.texts if isinstance(a, Annotation)]
        assert "#1 crash" in top and any(t.startswith("violated: ") for t in top)


def test_event_order_gives_every_event_a_column_and_slants_every_arrow(view: TraceView) -> None:
    fig = sequence_diagram(view, window=(10.0, 20.0), axis="order")
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("event order (")
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks and all(10.0 <= float(t) <= 20.0 for t in ticks)
    scale = Scale("order", 10 * SECOND, 20 * SECOND, [(3, 7), (1, 5), (2, 5)])
    assert [scale.x(5, 1), scale.x(5, 2), scale.x(7, 3)] == [0.0, 1.0, 2.0]
    assert scale.x(6) == 1.5 and scale.min_slant() == 0.0
    with pytest.raises(ValueError, match="axis must be one of"):
        sequence_diagram(view, axis="lamport")


def test_labels_never_overlap_and_the_hidden_ones_are_counted(view: TraceView) -> None:
    fig = sequence_diagram(view)
    ax = fig.axes[0]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [a.get_window_extent(renderer) for a in ax.texts if a.get_visible()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b) or a.intersection(a, b).width < 1.0, (a, b)
    title = ax.get_title(loc="left")
    placer = Labels(ax, Scale("time", 0, SECOND))
    assert placer.fit("row", 0.0, "closed 1006", 1) == 0
    assert placer.fit("row", 0.0, "closed 1006", 1) is None and placer.hidden == 1
    assert ("hidden to avoid overlap" in title) == (" label(s) hidden" in title)


def _note(t: int, seq: int, actor: str, event: str, **data: object) -> TraceRecord:
    return TraceRecord(t, seq, actor, "out", "Note", {"event": event, "data": data})


def test_calls_are_issued_and_settled_or_hung() -> None:
    records = [_note(0, 1, "c", "call.issued", callId="c:call1"),
               _note(ms(5), 2, "c", "call.sent", callId="c:call1"),
               _note(ms(7), 3, "c", "call.issued", callId="c:call2"),
               _note(ms(9), 4, "c", "call.settled", callId="c:call1", ok=True)]
    spans = call_spans(records)
    assert [(c.call_id, c.start_us, c.end_us, c.hung) for c in spans] == [
        ("c:call1", 0, ms(9), False), ("c:call2", ms(7), None, True)]
    assert spans[1].short_id == "call2"


def test_a_hung_call_is_drawn_and_named() -> None:
    from gatewaysim.simulator.trace import Trace

    trace = Trace(header={}, keep=True)
    for rec in [_note(0, 1, "c", "call.issued", callId="c:call1"),
                TraceRecord(ms(1), 2, "s", "in", "Start", {"incarnation": 0}),
                TraceRecord(SECOND, 3, "c", "in", "Start", {"incarnation": 0})]:
        trace.emit(rec.t, rec.actor, rec.kind, rec.type, rec.data)
    fig = sequence_diagram(TraceView.from_trace(trace))
    texts = [a.get_text() for a in fig.axes[0].texts]
    assert "call1 never settled" in texts
    assert "call never settled (1)" in _legend(fig)
