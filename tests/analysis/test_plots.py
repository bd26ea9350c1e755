"""Plots return labelled figures, and the pairing behind the arrows is right."""

from __future__ import annotations

from collections import Counter

import pytest

from gatewaysim.analysis import TraceView, sequence_diagram, state_timeline
from gatewaysim.analysis.plots import pair_messages, state_intervals

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402


def _legend_texts(fig: Figure) -> list[str]:
    legend = fig.axes[0].get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def test_sequence_diagram_is_labelled(view: TraceView) -> None:
    fig = sequence_diagram(view)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "virtual time (s)" and ax.get_ylabel()
    assert ax.get_title(loc="left").startswith("Sequence diagram: 5 actors, 0.000s to ")
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        a for a in view.actors() if a != "world"]
    texts = _legend_texts(fig)
    messages = sum(r.type == "WsMessage" for r in view)
    assert f"WebSocket message ({messages})" in texts
    assert any(t.startswith("fault hit this actor (") for t in texts)
    assert any(t.startswith("fault injected (") for t in texts)


def test_sequence_diagram_narrows_to_actors_and_window(view: TraceView) -> None:
    fig = sequence_diagram(view, actors=["client/1", "echo"], window=(10.0, 20.0))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["client/1", "echo"]
    lo, hi = ax.get_xlim()
    assert 9.5 < lo < 10.0 and 20.0 < hi < 20.5


def test_messages_pair_fifo_with_what_was_sent(view: TraceView) -> None:
    by_seq = {r.seq: r for r in view}
    arrows, marks = pair_messages(view.records)
    messages = [a for a in arrows if a.what == "message"]
    assert len(messages) == sum(r.type == "WsMessage" for r in view)
    for a in messages:
        sent, got = by_seq[a.seq0], by_seq[a.seq1]
        assert sent.type == "Send" and got.type == "WsMessage"
        assert sent.data == {"conn": got.data["conn"], "data": got.data["data"]}
        assert sent.actor == a.src != a.dst == got.actor and a.t0 <= a.t1
    lost = Counter(m.seq for m in marks if m.what == "lost")
    assert sum(lost.values()) == sum(r.type == "Send" for r in view) - len(messages)
    opens = [a for a in arrows if a.what == "open"]
    assert len(opens) == sum(r.type in ("ConnectRequested", "WsOpened") for r in view)


def test_state_timeline_is_labelled_and_shows_alarms(view: TraceView) -> None:
    fig = state_timeline(view)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "virtual time (s)" and ax.get_ylabel()
    assert ax.get_title(loc="left").startswith("State timeline: ")
    texts = _legend_texts(fig)
    for label in ("connected", "reconnecting", "down", "up",
                  "alarm pending (set, not yet fired)"):
        assert label in texts
    assert any(t.startswith("fault hit this actor (") for t in texts)
    assert any(t.startswith("fault injected (") for t in texts)
    assert any(t.startswith("alarm fired (") for t in texts)
    narrow = state_timeline(view, actors="client/*", window=(5.0, 15.0)).axes[0]
    assert [t.get_text() for t in narrow.get_yticklabels()] == [f"client/{i}" for i in range(4)]


def test_state_bands_agree_with_state_at(view: TraceView) -> None:
    for actor, spans in state_intervals(view).items():
        for start, end, label in spans:
            mid = (start + end) // 2
            st = view.at_us(mid)[actor]
            assert label == ("down" if not st["up"] else st["state"]), (actor, start, end)
