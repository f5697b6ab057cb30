"""What only the server store has: many writer processes, SIGKILL mid-stream, rollups, migrations, read-only
roles, copying a store both ways, and credentials kept out of messages. One PostgreSQL server per session
(``pg_server`` in conftest); the whole module is ``slow``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from store_helpers import wipe_pg
from typer.testing import CliRunner

from forewarn.cli.main import app
from forewarn.decide.alerts import Alert
from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.exceptions import ConfigError, StateError
from forewarn.schema import Asset, Channel, Line, Site
from forewarn.store import Store
from forewarn.store.backend import migrate_store
from forewarn.store.pg_local import LocalPostgres
from forewarn.store.pg_sql import SCHEMA_VERSION
from forewarn.store.postgres import PgStore

pytestmark = pytest.mark.slow
runner = CliRunner()
T0 = pd.Timestamp("2024-01-31T00:00:00Z")
_names = iter(range(10_000))


def new_url(server: LocalPostgres) -> str:
    """A fresh empty database (not from the template: migrations run on it)."""
    return server.create_database(f"pgt_{next(_names)}")


@pytest.fixture(scope="module")
def module_url(pg_server: LocalPostgres) -> str:
    """One migrated database for the tests that only need an empty store (a database costs ~1 s here)."""
    url = new_url(pg_server)
    Store(url).close()
    return url


@pytest.fixture
def empty_url(module_url: str) -> str:
    """The module's database, emptied."""
    with Store(module_url) as store:
        assert isinstance(store, PgStore)
        wipe_pg(store)
    return module_url


def frame(asset: str, first: int, n: int, channel: str = "temp", scale: float = 1.0) -> pd.DataFrame:
    """Readings ``first .. first+n-1`` minutes after T0 with value = minute * scale."""
    minutes = np.arange(first, first + n)
    return pd.DataFrame(
        {
            "asset_id": asset,
            "ts": T0 + pd.to_timedelta(minutes, unit="min"),
            "channel": channel,
            "value": minutes * scale,
        }
    )


WRITER = """
import sys, pandas as pd, numpy as np
from forewarn.store import Store
url, me, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = pd.Timestamp("2024-01-31T00:00:00Z")
with Store(url) as store:
    for b in range(batches):
        m = np.arange(b * 500, (b + 1) * 500)
        ts = t0 + pd.to_timedelta(m, unit="min")
        shared = pd.DataFrame({"asset_id": "P-shared", "ts": ts, "channel": "temp", "value": m * 1.0})
        own = pd.DataFrame({"asset_id": f"W-{me}", "ts": ts, "channel": f"ch-{me}", "value": m * 2.0})
        store.ingest_readings(pd.concat([shared, own]))
print("done")
"""


def test_writer_processes_share_one_database(empty_url: str):
    url = empty_url
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, str(i), "4"], stdout=subprocess.PIPE, text=True)
        for i in range(3)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0] and all("done" in o for o in outs)
    with Store(url, read_only=True) as store:
        assert store.count_readings() == 2000 + 3 * 2000  # the shared asset once, each writer's own asset
        channels = store.channels()
        assert sorted(channels["channel"]) == ["ch-0", "ch-1", "ch-2", "temp"]
        ids = store.sql("SELECT series_id FROM channels")["series_id"].tolist()
        assert sorted(ids) == [1, 2, 3, 4]  # handed out once each under the write lock
        shared = store.readings("P-shared")
        assert shared["value"].tolist() == [float(m) for m in range(2000)]


STREAMER = """
import sys, os, pandas as pd, numpy as np
from forewarn.store import Store
url, ack_file, start, total, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
t0 = pd.Timestamp("2024-01-31T00:00:00Z")
with Store(url) as store:
    for b in range(start, total):
        m = np.arange(b * size, (b + 1) * size)
        store.ingest_readings(pd.DataFrame({"asset_id": "S-" + str(b % 3), "ts": t0 + pd.to_timedelta(m, unit="s"),
                                            "channel": "v", "value": m * 0.5}))
        with open(ack_file, "w") as f:  # acknowledge after commit
            f.write(str(b)); f.flush(); os.fsync(f.fileno())
"""


def _acked(path: Path) -> int:
    try:
        return int(path.read_text() or -1)
    except (FileNotFoundError, ValueError):
        return -1


def test_sigkill_mid_stream_loses_and_duplicates_nothing(empty_url: str, tmp_path: Path):
    url = empty_url
    ack, total, size = tmp_path / "ack", 12, 10_000
    for kills, deadline_batch in enumerate((2, 6)):
        start = _acked(ack) + 1  # redeliver everything not acknowledged (the batch in flight may have committed)
        proc = subprocess.Popen([sys.executable, "-c", STREAMER, url, str(ack), str(start), str(total), str(size)])
        limit = time.monotonic() + 240
        while _acked(ack) < deadline_batch and proc.poll() is None and time.monotonic() < limit:
            time.sleep(0.02)
        time.sleep(0.05 * kills)  # land at different points of a batch
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with Store(url, read_only=True) as store:
            assert store.count_readings() % size == 0  # a batch is in whole or not at all
    proc = subprocess.Popen(
        [sys.executable, "-c", STREAMER, url, str(ack), str(_acked(ack) + 1), str(total), str(size)]
    )
    assert proc.wait(timeout=300) == 0
    with Store(url, read_only=True) as store:
        assert store.count_readings() == total * size  # 0 lost, 0 duplicated
        got = store.sql("SELECT count(DISTINCT (series_id, ts)) AS keys, sum(value) AS total FROM reading_values")
        assert int(got["keys"].iloc[0]) == total * size
        assert float(got["total"].iloc[0]) == pytest.approx(0.5 * (total * size - 1) * total * size / 2)


def test_rollups_answer_as_the_readings_do(empty_url: str):
    days = 3 * 24 * 60
    data = pd.concat([frame("P-1", 0, days, "temp", 0.01), frame("P-1", 0, days, "vib", -0.5)])
    with Store(empty_url) as pg, Store() as duck:
        for store in (pg, duck):
            store.ingest_readings(data)
            store.ingest_readings(frame("P-1", 100, 50, "temp", 3.0), on_conflict="replace")  # overlap: replaced
        assert isinstance(pg, PgStore)
        partitions = pg.sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'reading_values'::regclass ORDER BY 1"
        )
        assert partitions["relname"].tolist() == ["reading_values_y2024m01", "reading_values_y2024m02"]
        start, end = T0, T0 + pd.Timedelta(days=3)
        for resample in ("1h", "6h", "1D"):
            for agg in ("mean", "min", "max", "sum", "count"):
                want = duck.readings("P-1", start, end, resample=resample, agg=agg)
                got = pg.readings("P-1", start, end, resample=resample, agg=agg)
                assert got["ts"].tolist() == want["ts"].tolist() and got["channel"].tolist() == want["channel"].tolist()
                np.testing.assert_allclose(got["value"], want["value"], rtol=1e-9, atol=1e-9)
        hourly = pg.sql("SELECT count(*) AS n, sum(n) AS readings FROM readings_hourly")
        assert (int(hourly["n"].iloc[0]), int(hourly["readings"].iloc[0])) == (2 * 72, 2 * days)
        assert pg.sql("SELECT count(*) AS n FROM rollup_dirty")["n"].iloc[0] == 0
        pg.ingest_readings(frame("P-1", 10, 1, "temp", 1000.0), on_conflict="replace")  # minute 10 -> 10000
        assert pg.refresh_rollups() == 1 and pg.refresh_rollups() == 0
        first_hour = pg.readings("P-1", start, start + pd.Timedelta(hours=1), resample="1h", agg="max", channels="temp")
        assert first_hour["value"].tolist() == [10000.0]


def test_migrations_are_numbered_and_run_once(pg_server: LocalPostgres):
    url = new_url(pg_server)
    assert migrate_store(url)["from_version"] == 0
    result = runner.invoke(app, ["store", "migrate", "--store", url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "store": url,
        "backend": "postgresql",
        "from_version": SCHEMA_VERSION,
        "to_version": SCHEMA_VERSION,
    }
    with Store(url) as store, store.connection(write=True) as con:  # an older store: version 1, no rollups
        con.execute("DROP TABLE readings_hourly, readings_daily, rollup_dirty")
        con.execute("UPDATE store_meta SET value = '1' WHERE key = 'schema_version'")
    assert migrate_store(url) == {
        "store": url,
        "backend": "postgresql",
        "from_version": 1,
        "to_version": SCHEMA_VERSION,
    }
    with Store(url) as store:
        assert store.sql("SELECT count(*) AS n FROM readings_hourly")["n"].iloc[0] == 0
        with store.connection(write=True) as con:
            con.execute("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(ConfigError, match="newer than this Forewarn"):
        Store(url)


def test_a_read_only_role_reads_and_cannot_write(empty_url: str):
    url = empty_url
    with Store(url) as store:
        store.ingest_readings(frame("P-1", 0, 120))
    with Store(url) as admin, admin.connection(write=True) as con:
        con.execute("DO $$ BEGIN CREATE ROLE reader LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        con.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader")
    reader_url = url.replace("forewarn@", "reader@")
    with Store(reader_url, read_only=True) as reader:
        assert reader.readings("P-1")["value"].tolist() == [float(m) for m in range(120)]
        assert len(reader.readings("P-1", T0, T0 + pd.Timedelta(hours=2), resample="1h")) == 2  # raw: not refreshed
        with pytest.raises(ConfigError, match="read-only"):
            reader.ingest_readings(frame("P-1", 200, 1))
        with pytest.raises(ConfigError, match="exactly one read-only SELECT"):
            reader.sql("DELETE FROM reading_values")
        with pytest.raises(ConfigError, match="exactly one read-only SELECT"):
            reader.sql("SELECT 1 FROM assets FOR UPDATE")
    with Store(url, read_only=True) as owner_read_only, pytest.raises(ConfigError, match="exactly one read-only"):
        owner_read_only.sql("WITH gone AS (DELETE FROM reading_values RETURNING 1) SELECT count(*) FROM gone")


def test_copy_a_store_both_ways(empty_url: str, tmp_path: Path):
    source = tmp_path / "plant.duckdb"
    with Store(source) as duck:
        duck.add_sites([Site("S1", name="Lyon")])
        duck.add_lines([Line("L1", "S1")])
        duck.add_assets(
            [Asset("P-1", asset_class="pump", line_id="L1", metadata={"kw": 7.5}, channels=(Channel("temp", "degC"),))]
        )
        duck.ingest_readings(frame("P-1", 0, 3000))
        duck.ingest_readings(frame("M-2", 0, 10, "current"))
        labelled = pd.DataFrame({"asset_id": ["P-1"], "ts": [T0], "state": ["run"]})
        duck.ingest_readings(labelled, label_columns=["state"])
        duck.ingest_events(pd.DataFrame({"asset_id": ["P-1"], "ts": [T0], "kind": ["failure"], "failure_mode": ["x"]}))
    book = CaseBook(casebook_path_for(source))  # the case book beside the store goes with it
    case_id = book.record_alert(Alert("P-1", T0, "rul-v1", 0.9, "high", {"temp": 1.0}))
    book.acknowledge(case_id, by="planner")
    book.close()
    url = empty_url
    with Store(url) as pg, pg.connection(write=True) as con:  # the module's database may hold an earlier test's
        con.execute("TRUNCATE alerts, cases, alert_state")
    result = runner.invoke(app, ["store", "copy", "--from", str(source), "--to", url, "--slice-days", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["readings"], report["events"], report["labels"], report["assets"]) == (3010, 1, 1, 2)
    assert (report["cases"], report["alerts"]) == (1, 1)
    again = json.loads(runner.invoke(app, ["store", "copy", "--from", str(source), "--to", url]).output)
    assert (again["readings"], again["duplicates"], again["events"], again["labels"]) == (0, 3010, 0, 0)
    assert (again["cases"], again["alerts"]) == (0, 0)
    back = tmp_path / "back.duckdb"
    assert runner.invoke(app, ["store", "copy", "--from", url, "--to", str(back)]).exit_code == 0
    for where in (url, casebook_path_for(back)):
        copied = CaseBook(where)
        try:
            (case,) = copied.cases()
            assert (case["case_id"], case["status"], case["acknowledged_by"]) == (case_id, "acknowledged", "planner")
            assert len(copied.alerts()) == 1 and copied.open_case_id("P-1") == case_id
        finally:
            copied.close()
    with Store(source, read_only=True) as a, Store(url, read_only=True) as b, Store(back, read_only=True) as c:
        for other in (b, c):
            pd.testing.assert_frame_equal(other.readings("P-1"), a.readings("P-1"))
            pd.testing.assert_frame_equal(other.events(), a.events())
            pd.testing.assert_frame_equal(other.labels(), a.labels())
            pd.testing.assert_frame_equal(other.channels(), a.channels())
            assert other.assets()["metadata"].tolist() == a.assets()["metadata"].tolist()
            assert other.hierarchy() == a.hierarchy()


def test_forewarn_store_names_the_server_store_for_the_cli(empty_url: str, tmp_path: Path):
    url = empty_url
    path = tmp_path / "r.csv"
    path.write_text("asset_id,ts,temp\nP-1,2024-01-01T00:00Z,1.5\nP-1,2024-01-01T00:01Z,oops\n")
    bad = runner.invoke(app, ["ingest", str(path)], env={"FOREWARN_STORE": url})
    assert bad.exit_code != 0 and "line 3" in str(bad.exception) + bad.output
    path.write_text("asset_id,ts,temp\nP-1,2024-01-01T00:00Z,1.5\nP-1,2024-01-01T00:01Z,2.5\n")
    good = runner.invoke(app, ["ingest", str(path)], env={"FOREWARN_STORE": url})
    assert good.exit_code == 0 and "2 written" in good.output
    listed = runner.invoke(app, ["assets", "--format", "json"], env={"FOREWARN_STORE": url})
    assert listed.exit_code == 0 and json.loads(listed.output)[0]["n_readings"] == 2
    path.write_text("asset_id,ts,temp,flow\n,,degC,m3/h\nP-1,2024-01-01T00:02Z,3.5,1\n")  # a units row
    assert runner.invoke(app, ["ingest", str(path)], env={"FOREWARN_STORE": url}).exit_code == 0
    with Store(url) as db:  # stored as the channels' units where they had none, as on DuckDB
        assert db.channels("P-1").set_index("channel")["unit"].to_dict() == {"flow": "m3/h", "temp": "degC"}


def test_two_stores_on_one_database_see_each_others_new_assets_and_channels(empty_url: str):
    url = empty_url
    with Store(url) as api, Store(url) as feed:
        feed.ingest_readings(pd.DataFrame({"asset_id": ["P-1"], "ts": ["2024-01-01"], "temp": [1.0]}))
        assert api.readings("P-1")["channel"].tolist() == ["temp"]
        feed.ingest_readings(pd.DataFrame({"asset_id": ["P-1", "P-2"], "ts": ["2024-01-02"] * 2, "vib": [2.0, 3.0]}))
        assert api.readings("P-1")["channel"].tolist() == ["temp", "vib"]
        assert api.readings("P-2")["value"].tolist() == [3.0]


def test_passwords_stay_out_of_messages(pg_server: LocalPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    closed = f"postgresql://ana:s3cret-pw@127.0.0.1:{pg_server.port + 1}/nothing"
    with pytest.raises(ConfigError) as caught:
        Store(closed)
    assert "s3cret-pw" not in str(caught.value) and "ana:***@" in str(caught.value)
    monkeypatch.setenv("FOREWARN_STORE_PASSWORD_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="FOREWARN_STORE_PASSWORD_FILE"):
        Store(pg_server.url("postgres"))
    secret = tmp_path / "pw"
    secret.write_text("from-the-file\n")
    monkeypatch.setenv("FOREWARN_STORE_PASSWORD_FILE", str(secret))
    url = new_url(pg_server).replace("forewarn@", "forewarn:in-the-url@")
    with Store(url) as store:  # trust authentication on the test server: the password is sent, not needed
        assert "in-the-url" not in repr(store) and "in-the-url" not in store.path
    assert os.environ["FOREWARN_STORE_PASSWORD_FILE"] == str(secret)


def test_a_role_without_write_rights_and_a_lost_server_are_clear_errors(empty_url: str):
    with Store(empty_url) as admin, admin.connection(write=True) as con:
        con.execute("DO $$ BEGIN CREATE ROLE looker LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        con.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO looker")
    looker = Store(empty_url.replace("forewarn@", "looker@"))  # not read_only: the server refuses the write
    with looker, pytest.raises(ConfigError, match="may not do this.*read_only=True"):
        looker.ingest_readings(frame("P-1", 0, 3))
    store = Store(empty_url)
    store.count_readings()  # the pool holds a live connection now
    with Store(empty_url) as admin, admin.connection() as con:  # the server drops the other connections
        con.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    with pytest.raises(StateError, match="lost the store server"):
        store.count_readings()
    store.close()


def test_production_records_of_issue_16_on_both_backends(empty_url: str):
    from forewarn.store.production import read_production, write_production

    rec = pd.DataFrame(
        {
            "asset_id": ["P1", "P1"],
            "day": ["2024-01-01", "2024-01-01"],
            "shift": ["A", "B"],
            "planned_busy_h": [8.0, 8.0],
            "produced": [480.0, 400.0],
            "good": [456.0, 390.0],
            "ideal_rate": [100.0, 100.0],
        }
    )
    stops = pd.DataFrame(
        {"asset_id": ["P1"], "start": ["2024-01-01T02:00Z"], "end": ["2024-01-01T02:30Z"], "reason": ["failure"]}
    )
    got = []
    for target in (empty_url, ":memory:"):
        with Store(target) as store:
            store.add_assets([Asset("P1", asset_class="pump")])
            assert write_production(store, rec, stops) == {"records": 2, "events": 1}
            again = rec.assign(good=[450.0, 390.0])  # same keys: replaced, not added
            write_production(store, again)
            got.append(read_production(store))
    (pg_rec, pg_ev), (duck_rec, duck_ev) = got
    assert pg_rec["good"].tolist() == duck_rec["good"].tolist() == [450.0, 390.0]
    assert pg_rec["day"].tolist() == duck_rec["day"].tolist() == ["2024-01-01", "2024-01-01"]
    assert len(pg_ev) == len(duck_ev) == 1 and pg_ev["reason"].tolist() == ["failure"]
    assert pd.Timestamp(pg_ev["start"].iloc[0]) == pd.Timestamp(duck_ev["start"].iloc[0])


def test_retention_drops_old_partitions_and_keeps_their_rollups(empty_url: str):
    """T0 is 2024-01-31: 3 days of one-minute readings span January's partition (one day) and February's. Keeping
    from 2024-02-01 12:00 (floored to the day) drops January's partition whole; its day lives on in the rollups,
    and a late reading from before the cutoff does not make a refresh recompute that day from what is gone."""
    days = 3 * 24 * 60
    with Store(empty_url) as pg:
        assert isinstance(pg, PgStore)
        pg.ingest_readings(frame("P-1", 0, days, "temp", 0.01))
        before = pg.readings("P-1", T0, T0 + pd.Timedelta(days=3), resample="1D", agg="mean")
        dropped = pg.drop_readings_before("2024-02-01 12:00")
        assert dropped == 24 * 60 and pg.count_readings() == days - 24 * 60  # the cutoff is the UTC day
        partitions = pg.sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'reading_values'::regclass ORDER BY 1"
        )
        assert partitions["relname"].tolist() == ["reading_values_y2024m02"]
        daily = pg.readings("P-1", T0, T0 + pd.Timedelta(days=3), resample="1D", agg="mean")
        np.testing.assert_allclose(daily["value"], before["value"])  # January 31 from its rollup
        assert pg.readings("P-1", T0, T0 + pd.Timedelta(days=1))["value"].empty  # no raw reading of it left
        pg.ingest_readings(frame("P-1", 30, 1, "temp", 1.0), on_conflict="replace")  # a late reading of Jan 31
        pg.refresh_rollups()
        again = pg.readings("P-1", T0, T0 + pd.Timedelta(days=1), resample="1D", agg="mean")
        np.testing.assert_allclose(again["value"], before["value"].iloc[:1])
    result = runner.invoke(app, ["store", "retain", "--store", empty_url, "--keep", "12h"])  # newest: Feb 2, 23:59
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["cutoff"] == "2024-02-02T00:00:00+00:00" and out["dropped"] == 24 * 60 + 1  # Feb 1 and the late one
    bad = runner.invoke(app, ["store", "retain", "--store", empty_url, "--keep", "1d", "--before", "2024-02-01"])
    assert isinstance(bad.exception, ConfigError) and "not both" in str(bad.exception)
