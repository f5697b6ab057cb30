"""Reading the store back: raw and resampled readings, latest values, events, the fleet views and sql()."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from forewarn.exceptions import ConfigError, DataNotFoundError
from forewarn.schema import Asset, Channel, Line, Site
from forewarn.store import Store

T0 = pd.Timestamp("2024-03-01T00:00:00Z")


def _at(minutes: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def plant(make_module_store) -> Store:
    with make_module_store() as store:
        store.add_sites([Site("S1", name="Lyon"), Site("S2")])
        store.add_lines([Line("L1", "S1", name="press line"), Line("L2", "S1"), Line("L9", "S2")])
        store.add_assets(
            [
                Asset(
                    "P-1",
                    asset_class="pump",
                    line_id="L1",
                    install_date=dt.date(2019, 5, 1),
                    metadata={"rated_kw": 7.5},
                    channels=(Channel("temp", "degC"), Channel("vib", "mm/s")),
                ),
                Asset("M-1", asset_class="motor", site_id="S1", line_id="L2"),
                Asset("LOOSE", asset_class="fan"),
            ]
        )
        minutes = [0, 5, 10, 14, 15, 29, 31]
        store.ingest_readings(
            pd.DataFrame(
                {
                    "asset_id": "P-1",
                    "ts": [_at(m) for m in minutes],
                    "temp": [10.0, 11.0, 12.0, 13.0, 20.0, 21.0, 30.0],
                    "vib": [1.0, None, 3.0, None, 5.0, None, 7.0],
                }
            )
        )
        store.ingest_readings(
            pd.DataFrame(
                {
                    "asset_id": ["M-1", "M-1"],
                    "ts": [_at(0), _at(60)],
                    "channel": ["current", "current"],
                    "value": [4.0, 4.5],
                }
            )
        )
        store.ingest_events(
            pd.DataFrame(
                {
                    "asset_id": ["P-1", "P-1", "P-1", "M-1"],
                    "ts": [_at(-600), _at(20), _at(40), _at(50)],
                    "kind": ["maintenance", "failure", "maintenance", "inspection"],
                    "failure_mode": [None, "seal_leak", None, None],
                    "action": ["grease", None, "replace seal", None],
                }
            )
        )
        yield store


def test_raw_readings_long_sorted_and_half_open(plant: Store):
    got = plant.readings("P-1", start=_at(10), end=_at(15))
    assert got.columns.tolist() == ["asset_id", "ts", "channel", "value"]
    assert got[["channel", "value"]].values.tolist() == [["temp", 12.0], ["vib", 3.0], ["temp", 13.0]]
    assert str(got["ts"].dtype) == "datetime64[us, UTC]" and (got["asset_id"] == "P-1").all()
    everything = plant.readings("P-1")
    assert len(everything) == 11 and everything["ts"].is_monotonic_increasing
    only_vib = plant.readings("P-1", channels=["vib"], start="2024-03-01 00:15+00:00")
    assert only_vib["value"].tolist() == [5.0, 7.0]
    naive = plant.readings("P-1", start="2024-03-01 00:31")  # naive bounds are UTC
    assert naive["value"].tolist() == [30.0, 7.0]


def test_unknown_names_raise_data_not_found(plant: Store):
    with pytest.raises(DataNotFoundError, match="unknown asset 'NOPE'"):
        plant.readings("NOPE")
    with pytest.raises(DataNotFoundError, match=r"has no channel\(s\) pressure; it has temp, vib"):
        plant.readings("P-1", channels=["pressure"])
    assert plant.readings("LOOSE").empty  # known asset without readings: empty frame, not an error
    with pytest.raises(DataNotFoundError, match="NOPE"):
        plant.latest(["P-1", "NOPE"])


@pytest.mark.parametrize(
    ("agg", "temp"),
    [
        ("mean", [11.5, 20.5, 30.0]),
        ("min", [10.0, 20.0, 30.0]),
        ("max", [13.0, 21.0, 30.0]),
        ("last", [13.0, 21.0, 30.0]),
        ("first", [10.0, 20.0, 30.0]),
        ("count", [4.0, 2.0, 1.0]),
        ("sum", [46.0, 41.0, 30.0]),
    ],
)
def test_resample_buckets_and_aggregates(plant: Store, agg: str, temp: list[float]):
    got = plant.readings("P-1", channels=["temp"], resample="15min", agg=agg)
    assert got["ts"].tolist() == [_at(0), _at(15), _at(30)]
    assert got["value"].tolist() == temp


def test_resample_wide_and_bad_options(plant: Store):
    wide = plant.readings("P-1", resample="1h", agg="max", wide=True)
    assert wide.columns.tolist() == ["asset_id", "ts", "temp", "vib"]
    assert wide[["temp", "vib"]].values.tolist() == [[30.0, 7.0]]
    raw_wide = plant.readings("P-1", end=_at(6), wide=True)
    assert raw_wide["ts"].tolist() == [_at(0), _at(5)] and pd.isna(raw_wide["vib"].iloc[1])
    with pytest.raises(ConfigError, match="agg='mode' is not supported"):
        plant.readings("P-1", resample="1h", agg="mode")
    with pytest.raises(ConfigError, match="not a fixed time span"):
        plant.readings("P-1", resample="monthly")
    with pytest.raises(ConfigError, match="positive"):
        plant.readings("P-1", resample="0s")


def test_latest_value_per_asset_and_channel(plant: Store):
    latest = plant.latest()
    assert latest.columns.tolist() == ["asset_id", "channel", "ts", "value"]
    assert latest[["asset_id", "channel", "value"]].values.tolist() == [
        ["M-1", "current", 4.5],
        ["P-1", "temp", 30.0],
        ["P-1", "vib", 7.0],
    ]
    assert latest.loc[latest["asset_id"] == "M-1", "ts"].item() == _at(60)
    assert plant.latest(["P-1"])["asset_id"].unique().tolist() == ["P-1"]
    assert plant.latest(["LOOSE"]).empty


def test_events_filters(plant: Store):
    every = plant.events()
    assert every.columns.tolist() == ["asset_id", "ts", "kind", "failure_mode", "action", "parts", "result", "note"]
    assert every["ts"].is_monotonic_increasing and len(every) == 4
    failures = plant.events("P-1", kind="failure")
    assert failures["failure_mode"].tolist() == ["seal_leak"]
    assert plant.events(start=_at(30), end=_at(50))["action"].tolist() == ["replace seal"]
    with pytest.raises(ConfigError, match="kind='crash' is not an event kind"):
        plant.events(kind="crash")


def test_assets_channels_and_hierarchy(plant: Store):
    assets = plant.assets().set_index("asset_id")
    assert assets.columns.tolist() == ["asset_class", "site_id", "line_id", "name", "install_date", "metadata"]
    assert assets.loc["P-1", "site_id"] == "S1"  # taken from its line
    assert assets.loc["P-1", "metadata"] == {"rated_kw": 7.5} and assets.loc["LOOSE", "metadata"] == {}
    assert pd.Timestamp(assets.loc["P-1", "install_date"]) == pd.Timestamp("2019-05-01")
    channels = plant.channels("P-1")
    assert channels[["channel", "unit"]].values.tolist() == [["temp", "degC"], ["vib", "mm/s"]]
    assert plant.channels()["asset_id"].tolist() == ["M-1", "P-1", "P-1"]  # M-1's channel came with its data
    assert plant.hierarchy() == {"S1": {"L1": ["P-1"], "L2": ["M-1"]}, "S2": {"L9": []}, None: {None: ["LOOSE"]}}


def test_fleet_summary(plant: Store):
    summary = plant.fleet_summary().set_index("asset_id")
    pump = summary.loc["P-1"]
    assert (pump["asset_class"], pump["site_id"], pump["line_id"]) == ("pump", "S1", "L1")
    assert (pump["n_readings"], pump["n_channels"], pump["n_failures"]) == (11, 2, 1)
    assert (pump["first_ts"], pump["last_ts"]) == (_at(0), _at(31))
    assert (pump["last_failure_ts"], pump["last_maintenance_ts"]) == (_at(20), _at(40))
    loose = summary.loc["LOOSE"]
    assert (loose["n_readings"], loose["n_failures"]) == (0, 0) and pd.isna(loose["last_ts"])
    assert summary["n_readings"].sum() == plant.count_readings() == 13


def test_sql_is_read_only(plant: Store):
    got = plant.sql("SELECT channel, count(*) AS n FROM readings WHERE asset_id = ? GROUP BY 1 ORDER BY 1", ["P-1"])
    assert got.values.tolist() == [["temp", 7], ["vib", 4]]
    listed = plant.sql("SELECT asset_id FROM assets WHERE asset_id IN (SELECT unnest(?)) ORDER BY 1", [["P-1", "M-1"]])
    assert listed["asset_id"].tolist() == ["M-1", "P-1"]  # a list of ids, the way the service asks, on both backends
    for bad in [
        "DELETE FROM reading_values",
        "SELECT 1; DROP TABLE assets",
        "CREATE TABLE x (a INT)",
        "COPY assets TO 'x.csv'",
        "ATTACH 'other.db'",
    ]:
        with pytest.raises(ConfigError, match="exactly one read-only SELECT"):
            plant.sql(bad)
    with pytest.raises(ConfigError, match="query failed"):
        plant.sql("SELECT no_such_column FROM assets")
    assert plant.count_readings() == 13
