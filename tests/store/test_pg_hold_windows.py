"""PostgreSQL's form of the held buckets (``pg_hold.held_buckets_sql``: per series, the last reading before the
window read alone, times kept as timestamps) against DuckDB's text of the same rule, on windows the fixed cases of
``test_pg_hold.py`` do not reach: random starts and ends on and off the bucket grid, widths that do not divide an hour or
a day, holds longer than a bucket (a segment cut into many), a reading before the window that is older than its
hold, and a database whose sessions run in a zone with a daylight-saving change inside the readings."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres

pytestmark = pytest.mark.slow
T0 = pd.Timestamp("2026-03-27T21:00:00Z")  # Europe/Berlin moves its clocks on 2026-03-29 01:00 UTC
HOLDS = {("A", "temp"): "3h", ("A", "flow"): "25min", ("B", "temp"): "50h"}


def plant(seed: int = 11) -> pd.DataFrame:
    """On-change readings over three days: bursts a few minutes apart, silences of 1-9 h between them."""
    rng = np.random.default_rng(seed)
    frames = []
    for (asset, channel), _ in HOLDS.items():
        gaps = np.where(rng.random(400) < 0.04, rng.integers(60, 540, 400), rng.integers(1, 12, 400))
        ts = T0 + pd.to_timedelta(np.cumsum(gaps), unit="min") + pd.to_timedelta(rng.integers(0, 60, 400), unit="s")
        ts = ts[ts < T0 + pd.Timedelta("3D")].unique()
        frames.append(
            pd.DataFrame(
                {"asset_id": asset, "channel": channel, "ts": ts, "value": np.round(rng.normal(50, 4, len(ts)), 3)}
            )
        )
    return pd.concat(frames, ignore_index=True)


def loaded(store: Store) -> Store:
    store.ingest_readings(plant())
    for (asset, channel), hold in HOLDS.items():
        assert store.set_hold(asset, [channel], hold) == 1
    return store


@pytest.fixture(scope="module")
def pair(pg_server: LocalPostgres) -> Iterator[tuple[Store, Store]]:
    """The same readings and holds in DuckDB and in a PostgreSQL database whose sessions run in Europe/Berlin."""
    import psycopg

    url = pg_server.create_database("fw_hold_windows")
    with psycopg.connect(pg_server.url(), autocommit=True) as con:
        con.execute("ALTER DATABASE fw_hold_windows SET timezone TO 'Europe/Berlin'")
    duck, pg = loaded(Store()), loaded(Store(url))
    yield duck, pg
    duck.close()
    pg.close()


@pytest.mark.parametrize(("width", "minutes"), [("7min", 7), ("45min", 45), ("1h", 60), ("1d", 1440)])
def test_random_windows_equal_duckdb(pair: tuple[Store, Store], width: str, minutes: int) -> None:
    duck, pg = pair
    rng = np.random.default_rng(sum(map(ord, width)))
    for _ in range(6):
        lo = T0 + pd.Timedelta(seconds=int(rng.integers(-3_600, 60 * 3_600)))
        hi = None if rng.random() < 0.3 else lo + pd.Timedelta(seconds=int(rng.integers(60, 30 * 3_600)))
        if hi is not None and rng.random() < 0.5:
            hi = max(hi.floor(pd.Timedelta(minutes=minutes)), lo + pd.Timedelta("1s"))  # an end on the bucket grid
        for asset in ("A", "B"):
            want = duck.readings(asset, lo, hi, resample=width, wide=True)
            got = pg.readings(asset, lo, hi, resample=width, wide=True)
            assert got["ts"].tolist() == want["ts"].tolist(), (asset, lo, hi)
            np.testing.assert_allclose(
                got.drop(columns=["asset_id", "ts"]).to_numpy(float),
                want.drop(columns=["asset_id", "ts"]).to_numpy(float),
                rtol=1e-9,
                err_msg=f"{asset} {lo} {hi}",
            )


def test_a_reading_older_than_its_hold_does_not_reach_the_window(pair: tuple[Store, Store]) -> None:
    """A's flow (held 25 min) after its longest silence: a window starting 40 min after the last reading before it
    holds nothing until the next reading, one starting 10 min after it carries that value in; both as DuckDB."""
    duck, pg = pair
    stamps = duck.readings("A", channels=["flow"])["ts"]
    gaps = stamps.diff().dt.total_seconds().fillna(0).to_numpy()
    k = int(np.argmax(gaps))
    before, after = stamps.iloc[k - 1], stamps.iloc[k]
    assert after - before > pd.Timedelta("1h")
    seen = []
    for lo in (before + pd.Timedelta("10min"), before + pd.Timedelta("40min")):
        want = duck.readings("A", lo, after + pd.Timedelta("1h"), channels=["flow"], resample="5min", wide=True)
        got = pg.readings("A", lo, after + pd.Timedelta("1h"), channels=["flow"], resample="5min", wide=True)
        assert got["ts"].tolist() == want["ts"].tolist()
        np.testing.assert_allclose(got["flow"].to_numpy(float), want["flow"].to_numpy(float), rtol=1e-9)
        seen.append(pd.Timestamp(got["ts"].iloc[0]))
    assert seen[0] < before + pd.Timedelta("25min") and seen[1] == after.floor("5min")
