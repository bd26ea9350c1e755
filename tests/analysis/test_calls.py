"""Call lifetimes, the one definition the plots, the HTML report and Perfetto share: call
ids, HTTP requests, a call id that joins the request it serves, and per-actor numbers."""

from __future__ import annotations

from typing import Any

import pytest

from gatewaysim.analysis import TraceView, call_spans
from gatewaysim.analysis.focus import focus_of, lanes_that_matter
from gatewaysim.properties.steps import Step
from gatewaysim.simulator.clock import ms
from gatewaysim.simulator.trace import TraceRecord


def _note(t: int, seq: int, actor: str, event: str, **data: Any) -> TraceRecord:
    return TraceRecord(t, seq, actor, "out", "Note", {"event": event, "data": data})


def _rec(t: int, seq: int, actor: str, kind: str, type_: str, **data: Any) -> TraceRecord:
    return TraceRecord(t, seq, actor, kind, type_, data)


def _spans(records: list[TraceRecord]) -> list[tuple[str, str, str, int, int | None]]:
    return [(c.kind, c.call_id, c.actor, c.start_us, c.end_us) for c in call_spans(records)]


def test_a_request_settles_when_its_issuer_gets_the_answer() -> None:
    records = [_rec(0, 1, "node", "out", "HttpRequest", req="node#0:rpc1", to="gw"),
               _rec(ms(10), 2, "gw", "in", "HttpRequestReceived", req="node#0:rpc1"),
               _rec(ms(10), 3, "gw", "out", "HttpRespond", req="node#0:rpc1", status=200),
               _rec(ms(20), 4, "node", "in", "HttpResponse", req="node#0:rpc1", status=200),
               _rec(ms(30), 5, "node", "out", "HttpRequest", req="node#0:rpc2", to="gw"),
               _rec(ms(40), 6, "node", "in", "HttpFailed", req="node#0:rpc2", reason="down")]
    assert _spans(records) == [("request", "node#0:rpc1", "node", 0, ms(20)),
                               ("request", "node#0:rpc2", "node", ms(30), ms(40))]
    assert call_spans(records)[0].records == 4


def test_a_request_only_parked_by_its_server_hangs() -> None:
    records = [_rec(0, 1, "node", "out", "HttpRequest", req="node#0:rpc1", to="gw"),
               _rec(ms(10), 2, "gw", "in", "HttpRequestReceived", req="node#0:rpc1"),
               _note(ms(10), 3, "gw", "call.parked", req="node#0:rpc1")]
    (span,) = call_spans(records)
    assert span.kind == "request" and span.hung and span.actor == "node"
    assert span.short_id == "rpc1" and span.end_or(ms(99)) == ms(99)


def test_a_call_id_forwarded_for_a_request_settles_with_it() -> None:
    """Lumenize's gateway forwards a mesh call to the tab as ``incoming_call ic-1``: the
    settle note names only the request, so ``ic-1`` must not look hung."""
    records = [_rec(0, 1, "node", "out", "HttpRequest", req="node#0:rpc1", to="gw"),
               _rec(ms(10), 2, "gw", "in", "HttpRequestReceived", req="node#0:rpc1"),
               _rec(ms(10), 3, "gw", "out", "Send", conn="c:ws1",
                    data={"type": "incoming_call", "callId": "ic-1"}),
               _note(ms(10), 4, "gw", "call.forwarded", req="node#0:rpc1", callId="ic-1"),
               _note(ms(20), 5, "c", "incoming.handled", callId="ic-1"),
               _note(ms(30), 6, "gw", "mesh_call.settled", req="node#0:rpc1", ok=True),
               _rec(ms(40), 7, "node", "in", "HttpResponse", req="node#0:rpc1", status=200)]
    (span,) = call_spans(records)
    assert (span.kind, span.call_id, span.end_us, span.aliases) == (
        "request", "node#0:rpc1", ms(40), ("ic-1",))


def test_call_ids_at_any_depth_and_any_settled_event() -> None:
    records = [_note(0, 1, "c", "call.issued", callId="c:call1"),
               _rec(ms(1), 2, "c", "out", "Send", conn="c:ws1",
                    data={"type": "call", "callId": "c:call1"}),
               _note(ms(2), 3, "c", "call.issued", callId="c:call2"),
               _note(ms(9), 4, "c", "call.settled", data={"callId": "c:call1"})]
    assert _spans(records) == [("call", "c:call1", "c", 0, ms(9)),
                               ("call", "c:call2", "c", ms(2), None)]
    assert call_spans(records)[0].records == 3


def test_a_number_is_the_issuers_own_and_a_reused_one_leaves_the_first_waiting() -> None:
    """Neemata numbers calls per connection: the server's notes naming the same number are
    not calls of its own, and two clients may both have a call 0."""
    records = [_note(0, 1, "a", "call.issued", call_id=0),
               _note(0, 2, "b", "call.issued", call_id=0),
               _note(ms(1), 3, "gw", "handler.started", call_id=0),
               _note(ms(2), 4, "b", "call.settled", call_id=0, ok=True),
               _note(ms(3), 5, "a", "call.issued", call_id=0),  # reused while 0 is open
               _note(ms(4), 6, "a", "call.settled", call_id=0, ok=True)]
    assert _spans(records) == [("call", "0", "a", 0, None), ("call", "0", "b", 0, ms(2)),
                               ("call", "0", "a", ms(3), ms(4))]


@pytest.fixture(scope="module")
def parked_mesh_call() -> TraceView:
    """Lumenize with parked mesh calls never released when the tab comes back: a mesh call
    that hangs, known only by its request id."""
    steps = [Step("advance", {"ms": 1000}), Step("drop", {"client": 0}),
             Step("call_client", {"client": 0}), Step("advance", {"ms": 2000})]
    return TraceView.from_steps("lumenize", steps,
                                variant="mutant:waiters_not_resolved_on_accept")


def test_a_hung_mesh_call_is_a_hung_request_of_the_mesh_node(parked_mesh_call: TraceView
                                                             ) -> None:
    hung = [c for c in call_spans(parked_mesh_call.records) if c.hung]
    assert [(c.kind, c.actor, c.call_id) for c in hung] == [
        ("request", "node/main", "node/main#0:rpc1")]
    focus = focus_of(parked_mesh_call)
    assert focus is not None and "node/main" in focus.actors  # its issuer gets a lane


def test_the_plots_and_the_report_pick_the_same_lanes(parked_mesh_call: TraceView) -> None:
    focus = focus_of(parked_mesh_call)
    outcome = parked_mesh_call.source.origin
    assert focus is not None
    assert list(focus.actors) == lanes_that_matter(
        parked_mesh_call.root.records, outcome.violation, outcome.marks)


def test_both_plots_mark_the_hung_mesh_call(parked_mesh_call: TraceView) -> None:
    pytest.importorskip("matplotlib")
    from gatewaysim.analysis import sequence_diagram, state_timeline

    for fig in (sequence_diagram(parked_mesh_call), state_timeline(parked_mesh_call)):
        ax = fig.axes[0]
        assert "node/main" in [t.get_text() for t in ax.get_yticklabels()]
        assert "request rpc1 never settled" in [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        assert legend is not None
        assert "call never settled (1)" in [t.get_text() for t in legend.get_texts()]
