"""Channels recorded on change (forewarn.store.hold): held values weighed by time in buckets, raw readings untouched,
the service's window query equal to ``Store.readings(resample=...)``, holds set at ingest and refused when wrong."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import ConfigError, DataNotFoundError, IngestError
from forewarn.store import Store
from forewarn.store.hold import hold_micros
from forewarn.store.window_queries import last_buckets

T0 = pd.Timestamp("2024-01-01T00:00:00Z")
HOUR = 3_600_000_000


def _at(*hours: float) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([T0 + pd.Timedelta(hours=h) for h in hours])


def _store(db: Store, hold: str | None = "8h") -> None:
    """P: ``temp`` recorded on change (1 at 0 h, 3 at 0.5 h, 5 at 5 h, 6 at 5 h 10 min); ``vib`` every hour."""
    db.ingest_readings(
        pd.DataFrame(
            {"asset_id": "P", "channel": "temp", "value": [1.0, 3.0, 5.0, 6.0], "ts": _at(0, 0.5, 5, 5 + 1 / 6)}
        )
    )
    db.ingest_readings(
        pd.DataFrame({"asset_id": "P", "channel": "vib", "value": np.arange(6.0), "ts": _at(0, 1, 2, 3, 4, 5)})
    )
    if hold is not None:
        db.set_hold("P", ["temp"], hold)


def test_a_held_channel_is_weighed_by_time_and_raw_readings_stay_as_stored() -> None:
    with Store() as db:
        _store(db, hold=None)
        before = db.readings("P", resample="1h", wide=True)
        assert before["temp"].isna().sum() == 4  # the flat hours read as missing
        _store(db)
        assert db.holds().to_dict("records") == [{"asset_id": "P", "channel": "temp", "hold": pd.Timedelta("8h")}]
        wide = db.readings("P", resample="1h", wide=True)
        # 0 h: 1 for 30 min, 3 for 30 min; 1-4 h: 3 held; 5 h: 5 held to the asset's newest reading (5 h 10 min)
        assert wide["temp"].tolist() == pytest.approx([2.0, 3.0, 3.0, 3.0, 3.0, 5.0])
        assert wide["vib"].tolist() == before["vib"].tolist()  # a channel not held is unchanged
        raw = db.readings("P", channels=["temp"])
        assert raw["value"].tolist() == [1.0, 3.0, 5.0, 6.0]  # no invented row
        assert db.readings("P", resample="1h", agg="max", channels=["temp"])["value"].tolist() == [3.0, 6.0]


def test_a_hold_ends_after_its_span_and_a_value_before_the_start_carries_in() -> None:
    with Store() as db:
        _store(db, hold="2h")
        wide = db.readings("P", resample="1h", wide=True)
        # 3 recorded at 0.5 h holds to 2.5 h: all of hour 1, half of hour 2, nothing of hours 3 and 4
        assert wide["temp"].tolist()[:3] == pytest.approx([2.0, 3.0, 3.0])
        assert wide["temp"].iloc[3:5].isna().all()
        late = db.readings("P", start=T0 + pd.Timedelta("1h"), resample="1h", wide=True)
        assert late["temp"].iloc[0] == pytest.approx(3.0)  # recorded at 0.5 h, before the start
        bounded = db.readings(
            "P", start=T0 + pd.Timedelta("1h"), end=T0 + pd.Timedelta("2h30min"), resample="1h", wide=True, limit=1
        )
        assert bounded["ts"].tolist() == [T0 + pd.Timedelta("2h")] and bounded["temp"].tolist() == [3.0]


def test_the_service_window_query_equals_the_resampled_read() -> None:
    rng = np.random.default_rng(3)
    with Store() as db:
        for asset in ("A", "B"):
            minutes = pd.date_range(T0, periods=60 * 30, freq="1min")
            flat = np.round(np.cumsum(rng.normal(0, 0.3, len(minutes))), 0)  # a deadband of 1: few changes
            kept = np.r_[True, np.diff(flat) != 0]
            db.ingest_readings(
                pd.DataFrame({"asset_id": asset, "channel": "temp", "value": flat[kept], "ts": minutes[kept]})
            )
            db.ingest_readings(
                pd.DataFrame(
                    {
                        "asset_id": asset,
                        "channel": "vib",
                        "ts": minutes[::7],
                        "value": rng.normal(2, 0.1, len(minutes[::7])),
                    }
                )
            )
            db.set_hold(asset, ["temp"], "3h")
        since = [int((T0 + pd.Timedelta("2h17min")).value // 1000), -(2**62)]  # A: a renewal inside a bucket
        served = last_buckets(db, ["A", "B"], ["temp", "vib"], 6, 2 * HOUR, since)
        for asset, start in (("A", T0 + pd.Timedelta("2h17min")), ("B", None)):
            offline = db.readings(asset, start=start, resample="2h", channels=["temp", "vib"])
            tail = offline[offline["ts"] >= offline["ts"].unique()[-6]].reset_index(drop=True)
            got = served[served["asset_id"] == asset].sort_values(["ts", "channel"], ignore_index=True)
            assert got["ts"].tolist() == tail["ts"].tolist()
            assert got["channel"].tolist() == tail["channel"].tolist()
            np.testing.assert_allclose(got["value"].to_numpy(float), tail["value"].to_numpy(float), rtol=1e-12)


def test_ingest_sets_holds_from_the_option_and_the_tag_map(tmp_path: Path) -> None:
    export = tmp_path / "h.csv"
    export.write_text(
        "tag,timestamp,value\nA.T,2024-01-01T00:00:00Z,1\nA.T,2024-01-01T03:00:00Z,2\n"
        "A.V,2024-01-01T00:00:00Z,1\nB.T,2024-01-01T00:00:00Z,4\n"
    )
    tags = tmp_path / "map.csv"
    tags.write_text("tag,asset,channel,hold\nA.T,P1,temp,8h\nA.V,P1,vib,\nB.T,P2,temp,0\n")
    with Store() as db:
        report = db.ingest_file(export, tag_map=tags, time_column="timestamp", hold="1h")
        assert "2 channel(s) recorded on change" in " ".join(report.notes)  # P1 temp (map), P1 vib (option)
        holds = {(r.asset_id, r.channel): r.hold for r in db.holds().itertuples()}
        assert holds == {("P1", "temp"): pd.Timedelta("8h"), ("P1", "vib"): pd.Timedelta("1h")}
        assert db.readings("P1", resample="1h", channels=["temp"])["value"].tolist() == [1.0, 1.0, 1.0, 2.0]


def test_bad_holds_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    export = tmp_path / "h.csv"
    export.write_text("tag,timestamp,value\nA.T,2024-01-01T00:00:00Z,1\n")
    tags = tmp_path / "map.csv"
    tags.write_text("tag,asset,channel,hold\nA.T,P1,temp,soon\n")
    with Store() as db:
        with pytest.raises(IngestError) as err:
            db.ingest_file(export, tag_map=tags, time_column="timestamp")
        assert err.value.line == 2 and err.value.column == "hold" and "'soon'" in str(err.value)
        assert db.assets().empty
        for bad in ("-1h", "an hour", "40d"):
            with pytest.raises(ConfigError, match="hold"):
                db.ingest_file(export, time_column="timestamp", hold=bad)
        with pytest.raises(ConfigError, match="--hold"):
            db.ingest_file(tmp_path / "h.csv", kind="events", hold="8h")
        with pytest.raises(DataNotFoundError, match="unknown asset 'P1'"):
            db.set_hold("P1", ["temp"], "8h")
        db.ingest_readings(pd.DataFrame({"asset_id": ["P1"], "channel": ["temp"], "value": [1.0], "ts": [T0]}))
        with pytest.raises(DataNotFoundError, match="no channel"):
            db.set_hold("P1", ["nope"], "8h")
    assert hold_micros("90min") == 90 * 60_000_000


def test_a_store_written_before_holds_opens_read_only_and_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with Store(path) as db:
        _store(db, hold=None)
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE c2 AS SELECT asset_id, channel, unit, description, series_id FROM channels")
    con.execute("DROP VIEW readings; DROP TABLE channels; ALTER TABLE c2 RENAME TO channels")
    con.execute(
        "CREATE VIEW readings AS SELECT c.asset_id, r.ts, c.channel, r.value FROM reading_values r "
        "JOIN channels c USING (series_id)"
    )
    con.close()
    with Store(path, read_only=True) as db:
        assert db.holds().empty
        assert db.readings("P", resample="1h", wide=True)["temp"].isna().sum() == 4
    with Store(path) as db:  # opened to write: the column is added, nothing held
        db.set_hold("P", ["temp"], "8h")
        assert db.readings("P", resample="1h", wide=True)["temp"].notna().all()
