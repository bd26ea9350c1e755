"""to_pandas: one typed row per record."""

from __future__ import annotations

import pytest

from gatewaysim.analysis import TraceView

pd = pytest.importorskip("pandas")


def test_columns_are_typed(view: TraceView) -> None:
    df = view.to_pandas()
    assert len(df) == len(view)
    dtypes = {c: str(t) for c, t in df.dtypes.items()}
    assert dtypes["t_us"] == "int64" and dtypes["seq"] == "int64"
    assert dtypes["t_s"] == "float64"
    for col in ("actor", "kind", "type"):
        assert dtypes[col] == "category"
    for col in ("conn", "event", "state", "req"):
        assert isinstance(df[col].dtype, pd.StringDtype)
    for col in ("code", "status"):
        assert dtypes[col] == "Int64"
    assert dtypes["data"] == "object"


def test_values_match_the_records(view: TraceView) -> None:
    df = view.to_pandas()
    assert df["t_us"].tolist() == [r.t for r in view]
    assert (df["t_s"] * 1e6).round().astype("int64").tolist() == [r.t for r in view]
    closes = df[df["type"] == "WsClosed"]
    assert closes["code"].tolist() == [r.data["code"] for r in view if r.type == "WsClosed"]
    assert df["code"].isna().sum() == sum("code" not in r.data for r in view)
    connected = df[df["event"] == "connected"]
    assert len(connected) == len(view.filter(event="connected"))
    assert set(connected["state"]) == {"connected"}
    per_conn = df.groupby("conn", observed=True).size()
    conn = next(r for r in view if r.type == "drop").data["conn"]
    assert per_conn[conn] == sum(r.data.get("conn") == conn for r in view)
    assert df["data"].iloc[5] == view.records[5].data
