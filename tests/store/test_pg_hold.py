"""Channels recorded on change (forewarn.store.hold) on the PostgreSQL store: the same on-change readings with the
same holds give the same buckets as the DuckDB store (``Store.readings(resample=...)`` and the service's last-window
query, to 1e-9), holds come from ``set_hold``, ``ingest --hold`` and a tag map's ``hold`` column, and a database
written before holds existed gets the column without losing a reading. One server per session (``pg_server``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres
from forewarn.store.pg_sql import SCHEMA_VERSION
from forewarn.store.postgres import PgStore
from forewarn.store.window_queries import last_buckets

pytestmark = pytest.mark.slow
T0 = pd.Timestamp("2024-01-30T20:00:00Z")  # the readings cross a month, so two partitions on PostgreSQL
HOUR = 3_600_000_000
NO_SINCE = -(2**62)
_names = iter(range(10_000))


def new_pg_store(server: LocalPostgres) -> tuple[Store, str]:
    """A store in a fresh database (migrated when opened)."""
    name = f"fw_hold_{next(_names)}"
    return Store(server.create_database(name)), name


def on_change(rng: np.random.Generator, minutes: pd.DatetimeIndex, step: float, deadband: float) -> pd.Series:
    """A random walk kept only where it moved past ``deadband`` since the last kept value (a historian's test)."""
    walk = np.cumsum(rng.normal(0, step, len(minutes)))
    kept, last = [], None
    for i, value in enumerate(walk):
        if last is None or abs(value - last) > deadband:
            kept.append(i)
            last = value
    return pd.Series(walk[kept], index=minutes[kept])


def plant(seed: int = 5) -> list[pd.DataFrame]:
    """A: ``temp`` on change with a 12 h silence (longer than its 8 h hold), ``pressure`` on change (hold 2 h),
    ``vib`` every 7 min (not held) and 50 min past the held channels' last reading (the asset's newest reading is
    the end of every hold); B: ``temp`` on change only, ending earlier."""
    rng = np.random.default_rng(seed)
    minutes = pd.date_range(T0, periods=3 * 24 * 60, freq="1min")
    frames = []
    for asset, channel, step, band in (("A", "temp", 0.05, 0.8), ("A", "pressure", 0.02, 0.3), ("B", "temp", 0.1, 1)):
        series = on_change(rng, minutes if asset == "A" else minutes[: 2 * 24 * 60 + 17], step, band)
        if channel == "temp" and asset == "A":
            silent = (series.index >= T0 + pd.Timedelta("30h")) & (series.index < T0 + pd.Timedelta("42h"))
            series = series[~silent]
        frames.append(pd.DataFrame({"asset_id": asset, "channel": channel, "ts": series.index, "value": series.values}))
    vib = pd.date_range(T0, periods=(3 * 24 * 60 + 50) // 7, freq="7min")
    frames.append(pd.DataFrame({"asset_id": "A", "channel": "vib", "ts": vib, "value": rng.normal(2, 0.1, len(vib))}))
    return frames


def load(store: Store) -> Store:
    for frame in plant():
        store.ingest_readings(frame)
    assert store.set_hold("A", ["temp"], "8h") == 1
    assert store.set_hold("A", ["pressure"], "2h") == 1
    assert store.set_hold("B", None, "8h") == 1
    return store


@pytest.fixture(scope="module")
def pair(pg_server: LocalPostgres) -> Iterator[tuple[Store, Store]]:
    """The same plant and holds in a DuckDB store and a PostgreSQL store."""
    duck = load(Store())
    pg, _ = new_pg_store(pg_server)
    load(pg)
    yield duck, pg
    duck.close()
    pg.close()


def assert_same(left: pd.DataFrame, right: pd.DataFrame, what: str) -> None:
    """Same rows (times, assets, channels) and values equal to 1e-9."""
    keys = [c for c in ("asset_id", "ts", "channel") if c in left.columns]
    a = left.sort_values(keys, ignore_index=True)
    b = right.sort_values(keys, ignore_index=True)
    assert len(a) == len(b) and len(a) > 0, what
    for key in keys:
        assert a[key].tolist() == b[key].tolist(), f"{what}: {key}"
    np.testing.assert_allclose(b["value"].to_numpy(float), a["value"].to_numpy(float), rtol=0, atol=1e-9, err_msg=what)


def test_both_stores_hold_the_same_channels(pair: tuple[Store, Store]) -> None:
    duck, pg = pair
    assert isinstance(pg, PgStore)
    assert pg.holds().to_dict("records") == duck.holds().to_dict("records")
    assert pg.holds()["hold"].tolist() == [pd.Timedelta("2h"), pd.Timedelta("8h"), pd.Timedelta("8h")]


@pytest.mark.parametrize("interval", ["10min", "1h", "2h", "6h", "1d"])
@pytest.mark.parametrize(
    "start, end, limit",
    [
        (None, None, None),  # every hold, to each asset's newest reading
        ("2024-01-31T09:00Z", None, None),  # a held value recorded before the start carries into it
        ("2024-01-31T06:00Z", "2024-02-01T13:00Z", None),  # an end before the newest reading; the 12 h silence
        (None, None, 5),  # the last buckets only
    ],
)
def test_resampled_reads_are_equal(
    pair: tuple[Store, Store], interval: str, start: str | None, end: str | None, limit: int | None
) -> None:
    duck, pg = pair
    for asset in ("A", "B"):
        want = duck.readings(asset, start, end, resample=interval, limit=limit)
        got = pg.readings(asset, start, end, resample=interval, limit=limit)
        assert_same(want, got, f"{asset} at {interval} from {start} to {end}, limit {limit}")
    wide = pg.readings("A", resample=interval, wide=True)
    if interval == "1h":  # a held value fills an hour with no reading until its hold runs out, then stops
        raw = pg.readings("A", channels=["temp"])["ts"]
        recorded = set(raw.dt.floor("1h"))
        empty = wide[~wide["ts"].isin(recorded)]
        before = raw.searchsorted(empty["ts"]) - 1  # the reading whose value would hold into the hour
        holding = (raw.to_numpy()[before] + pd.Timedelta("8h")) > empty["ts"].to_numpy()
        assert holding.any() and not holding.all()  # hours filled by a held value, and hours after the hold
        assert (empty["temp"].notna().to_numpy() == holding).all()
        plain = duck.readings("A", resample="1h", agg="max", wide=True)  # other aggregates read the recorded values
        assert_same(
            plain.melt(["asset_id", "ts"], var_name="channel").dropna(),
            pg.readings("A", resample="1h", agg="max"),
            "max at 1h",
        )


@pytest.mark.parametrize("rows, width", [(6, 2 * HOUR), (24, HOUR), (30, HOUR // 6)])
def test_the_last_window_query_is_equal(pair: tuple[Store, Store], rows: int, width: int) -> None:
    duck, pg = pair
    renewal = int((pd.Timestamp("2024-02-02T03:17Z")).value // 1000)  # A renewed inside a bucket of its window
    for since in ([renewal, NO_SINCE], [NO_SINCE, NO_SINCE]):
        want = last_buckets(duck, ["A", "B"], ["temp", "pressure", "vib"], rows, width, since)
        got = last_buckets(pg, ["A", "B"], ["temp", "pressure", "vib"], rows, width, since)
        assert_same(want, got, f"{rows} x {width} us since {since}")
        assert {"temp", "vib"} <= set(got["channel"])  # pressure's 2 h hold ends before the 10 min window


def test_ingest_sets_holds_on_postgres(pg_server: LocalPostgres, tmp_path: Path) -> None:
    export = tmp_path / "h.csv"
    export.write_text(
        "tag,timestamp,value\nA.T,2024-01-01T00:00:00Z,1\nA.T,2024-01-01T03:00:00Z,2\n"
        "A.V,2024-01-01T00:00:00Z,1\nB.T,2024-01-01T00:00:00Z,4\n"
    )
    tags = tmp_path / "map.csv"
    tags.write_text("tag,asset,channel,hold\nA.T,P1,temp,8h\nA.V,P1,vib,\nB.T,P2,temp,0\n")
    pg, _ = new_pg_store(pg_server)
    with pg, Store() as duck:
        for store in (duck, pg):
            report = store.ingest_file(export, tag_map=tags, time_column="timestamp", hold="1h")
            assert "2 channel(s) recorded on change" in " ".join(report.notes)
        holds = {(r.asset_id, r.channel): r.hold for r in pg.holds().itertuples()}
        assert holds == {("P1", "temp"): pd.Timedelta("8h"), ("P1", "vib"): pd.Timedelta("1h")}
        assert pg.readings("P1", resample="1h", channels=["temp"])["value"].tolist() == [1.0, 1.0, 1.0, 2.0]
        assert_same(duck.readings("P1", resample="1h"), pg.readings("P1", resample="1h"), "ingested")
        pg.set_hold("P1", None, "0")  # not held any more: the rollup's plain hourly means again
        assert pg.holds().empty
        assert pg.readings("P1", resample="1h", channels=["temp"])["value"].tolist() == [1.0, 2.0]


def test_a_database_written_before_holds_gets_the_column_and_keeps_its_readings(pg_server: LocalPostgres) -> None:
    pg, name = new_pg_store(pg_server)
    url = pg.url
    with pg:
        pg.ingest_readings(plant()[0])
        with pg.connection(write=True) as con:  # as a database of schema version 7 was
            con.execute("ALTER TABLE channels DROP COLUMN hold_us")
            con.execute("UPDATE store_meta SET value = '7' WHERE key = 'schema_version'")
        count = pg.count_readings()
    with Store(url, read_only=True) as old:  # read-only: not migrated; no channel is held
        assert old.holds().empty
        assert len(old.readings("A", resample="1h")) > 0
    with Store(url) as store:  # opened to write: migration 8 adds the column
        assert store.count_readings() == count
        assert store.sql("SELECT value FROM store_meta WHERE key = 'schema_version'")["value"].tolist() == [
            str(SCHEMA_VERSION)
        ]
        assert store.holds().empty
        store.set_hold("A", ["temp"], "8h")
        assert store.holds()["channel"].tolist() == ["temp"]
