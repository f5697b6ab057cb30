"""The PostgreSQL store's bucketed reads without needless work (issue 20): an asset whose every channel is held
runs no query for plain channels (it had none to answer), a mixed asset still does, and both answer as the DuckDB
store does; ``Store.sql`` parses a query text once and still refuses what is not one SELECT. One server per session
(``pg_server``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import ConfigError
from forewarn.store import Store, postgres

pytestmark = pytest.mark.slow
T0 = pd.Timestamp("2024-03-04T00:00:00Z")


def _readings() -> pd.DataFrame:
    """A: ``temp`` and ``flow`` (both to be held); B: ``temp`` (held) and ``vib`` (plain); a reading every 5 min
    for a day, ``temp`` only where it moved (every 40 min)."""
    rng = np.random.default_rng(2)
    five = pd.date_range(T0, periods=288, freq="5min")
    frames = []
    for asset, channel, times in (
        ("A", "temp", five[::8]),
        ("A", "flow", five[::3]),
        ("B", "temp", five[::8]),
        ("B", "vib", five),
    ):
        values = rng.normal(10.0, 1.0, len(times))
        frames.append(pd.DataFrame({"asset_id": asset, "channel": channel, "ts": times, "value": values}))
    return pd.concat(frames, ignore_index=True)


def _holds(store: Store) -> None:
    store.set_hold("A", None, "1h")
    store.set_hold("B", ["temp"], "1h")


@pytest.fixture(scope="module")
def stores(pg_server):
    pg = Store(pg_server.create_database("fw_read_costs"))
    duck = Store(":memory:")
    for store in (pg, duck):
        store.ingest_readings(_readings())
        _holds(store)
    yield pg, duck
    pg.close()
    duck.close()


def test_an_asset_with_every_channel_held_runs_no_plain_query(stores, monkeypatch):
    pg, duck = stores
    start, end = T0 + pd.Timedelta("2h"), T0 + pd.Timedelta("20h")
    expected = {a: duck.readings(a, start, end, resample="30min") for a in ("A", "B")}
    plain_queries: list[str] = []
    resampled = postgres._resampled
    monkeypatch.setattr(postgres, "_resampled", lambda *a: plain_queries.append(a[1]) or resampled(*a))
    got_a = pg.readings("A", start, end, resample="30min")
    assert plain_queries == []  # every channel held: nothing plain to ask for
    got_b = pg.readings("B", start, end, resample="30min")
    assert len(plain_queries) == 1  # vib: 30 min buckets, not a rollup's
    for asset, got in (("A", got_a), ("B", got_b)):
        want = expected[asset]
        assert got[["ts", "channel"]].astype(str).equals(want[["ts", "channel"]].astype(str))
        np.testing.assert_allclose(got["value"].to_numpy(float), want["value"].to_numpy(float), rtol=1e-9)
    wide = pg.readings("A", start, end, resample="30min", wide=True)
    assert list(wide.columns) == ["asset_id", "ts", "flow", "temp"] and len(wide) == len(got_a) // 2


def test_sql_parses_a_text_once_and_refuses_what_is_not_one_select(stores):
    pg, _ = stores
    postgres._one_select.cache_clear()
    for _ in range(3):
        assert pg.sql("SELECT count(*) AS n FROM assets WHERE asset_id = ?", ["A"])["n"].tolist() == [1]
    assert postgres._one_select.cache_info().misses == 1
    for text in ("DELETE FROM assets", "SELECT 1; DROP TABLE assets"):
        for _ in range(2):  # refused from the cache too
            with pytest.raises(ConfigError):
                pg.sql(text)
    assert pg.sql("SELECT count(*) AS n FROM assets")["n"].tolist() == [2]
