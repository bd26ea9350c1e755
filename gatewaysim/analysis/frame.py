"""Trace records as a pandas DataFrame, with the fields people group and filter by as columns.

Record data is a free-form dict, which pandas cannot type. The fields most questions are
about (which connection, which close code, which note, which state, which HTTP status and
exchange) are lifted into typed nullable columns so ``df[df.code == 1006]`` and
``df.groupby("conn")`` work without digging in dicts; the whole dict stays in ``data``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gatewaysim.simulator.clock import SECOND
from gatewaysim.simulator.trace import TraceRecord

from .state import DEFAULT_RULES, StateRules

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("t_us", "t_s", "seq", "actor", "kind", "type", "conn", "code", "event", "state",
           "status", "req", "data")
"""Column order of :func:`to_pandas`."""


def require_pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "trace DataFrames need pandas: install gatewaysim[notebooks]") from exc
    return pandas


def _state_of(rec: TraceRecord, rules: StateRules) -> str | None:
    """The state a note record announces: a state note's ``to``, or a mapped plain note."""
    if rec.type != "Note":
        return None
    event = rec.data.get("event")
    if event == rules.state_event:
        to = (rec.data.get("data") or {}).get("to")
        return None if to is None else str(to)
    return rules.notes.get(event)  # type: ignore[arg-type]


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def to_pandas(records: Sequence[TraceRecord], rules: StateRules = DEFAULT_RULES
              ) -> pd.DataFrame:
    """One row per record.

    Columns: ``t_us``/``seq`` int64, ``t_s`` float64 (seconds), ``actor``/``kind``/``type``
    categorical, ``conn``/``event``/``state``/``req`` nullable strings, ``code``/``status``
    nullable Int64, and ``data`` (object) with the record's full data dict. ``code`` is a
    close code (``WsClosed``, ``CloseConnection``); ``status`` an HTTP or upgrade status;
    ``state`` what a state note (or a note mapped by ``rules``) says the actor became.
    """
    pd = require_pandas()
    t_us, seq, actor, kind, type_, conn, code, event, state, status, req, data = (
        [] for _ in range(12))
    for rec in records:
        d = rec.data
        t_us.append(rec.t)
        seq.append(rec.seq)
        actor.append(rec.actor)
        kind.append(rec.kind)
        type_.append(rec.type)
        c = d.get("conn")
        conn.append(c if isinstance(c, str) else None)
        code.append(_int_or_none(d.get("code")))
        e = d.get("event") if rec.type == "Note" else None
        event.append(e if isinstance(e, str) else None)
        state.append(_state_of(rec, rules))
        status.append(_int_or_none(d.get("status")))
        r = d.get("req")
        req.append(r if isinstance(r, str) else None)
        data.append(d)
    string = pd.StringDtype()
    t_arr = pd.array(t_us, dtype="int64")
    frame = pd.DataFrame({
        "t_us": t_arr,
        "t_s": pd.array([t / SECOND for t in t_us], dtype="float64"),
        "seq": pd.array(seq, dtype="int64"),
        "actor": pd.Categorical(actor),
        "kind": pd.Categorical(kind, categories=["in", "out", "fault", "sys"]),
        "type": pd.Categorical(type_),
        "conn": pd.array(conn, dtype=string),
        "code": pd.array(code, dtype="Int64"),
        "event": pd.array(event, dtype=string),
        "state": pd.array(state, dtype=string),
        "status": pd.array(status, dtype="Int64"),
        "req": pd.array(req, dtype=string),
        "data": pd.Series(data, dtype="object"),
    }, columns=list(COLUMNS))
    return frame
