"""The stream on a PostgreSQL store: the same results as on DuckDB, one transaction per micro-batch, and the crash
test (``forewarn stream --store postgresql://...`` SIGKILLed mid-stream, restarted: nothing lost or duplicated,
alerts filed once), also with a reader and a training job on the same database at once.

One PostgreSQL server (Debian's binaries, initdb + pg_ctl on 127.0.0.1, a free port) for the module, stopped at
its end; each test gets a database of its own. Skipped without the binaries; the module is ``slow``.
"""

from __future__ import annotations

import itertools
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres, binaries
from forewarn.store.postgres import PgStore
from forewarn.stream.broker import LocalBroker
from forewarn.stream.config_file import parse_config
from forewarn.stream.messages import DeadLetter, ReadingColumns
from forewarn.stream.pipeline import OnlinePipeline
from forewarn.stream.replay import Publisher, sparkplug_messages

from .conftest import WINDOW, assets_config, long_rows, make_fleet
from .test_mqtt import PREFIX, Consumer
from .test_mqtt import _check_store as check_store
from .test_mqtt import _config as mqtt_config
from .test_mqtt import _toml as to_toml

pytestmark = pytest.mark.slow
_names = itertools.count()


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    """A PostgreSQL server for the module, with a migrated template database."""
    if binaries() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    server = LocalPostgres(tmp_path_factory.mktemp("pg"), durable=False)
    server.start()
    try:
        Store(server.create_database("stream_template")).close()
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg: LocalPostgres) -> str:
    """A fresh migrated store database."""
    return pg.create_database(f"stream_{next(_names)}", template="stream_template")


class Clock:
    """A settable wall clock."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _config(model_dir: Path, **pipeline: object) -> dict:
    return {
        "pipeline": {"allowed_lateness": "2min", "idle_release": "10s", **pipeline},
        "mqtt": {"subscriptions": [{"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
        "assets": assets_config(),
        "models": [
            {
                "path": str(model_dir),
                "window": WINDOW,
                "alert": {"threshold": 20.0, "clear_threshold": 10.0, "min_consecutive": 2, "cooldown": "1h"},
            }
        ],
    }


def _columns(rows: list) -> ReadingColumns:
    cols = ReadingColumns()
    for row in rows:
        cols.add(*row)
    return cols


def _run(store: Store, model_dir: Path, rows: list, sizes: list[int]) -> list:
    """Feed ``rows`` in micro-batches of ``sizes`` (a restart halfway), then a quiet tick; the alerts filed."""
    filed: list = []
    clock = Clock()
    cfg = parse_config(_config(model_dir))
    pipe = OnlinePipeline(store, cfg, clock=clock, file_alerts=filed.extend)
    letter = DeadLetter("mqtt:plant/X/temp", "unknown_asset", "asset 'X' is not in the store", "1", "X")
    lo = 0
    for i, size in enumerate(sizes):
        if i == len(sizes) // 2:
            pipe.close()
            pipe = OnlinePipeline(store, cfg, clock=clock, file_alerts=filed.extend)
        dead = [(1_700_000_000_000_000, letter)] if i % 7 == 0 else []  # the same bad message, redelivered
        pipe.process(_columns(rows[lo : lo + size]), dead, messages=1)
        clock.now += 0.05
        lo += size
    clock.now += 60
    pipe.tick()
    pipe.close()
    return filed


def _tables(store: Store) -> dict[str, pd.DataFrame]:
    return {
        "readings": store.sql("SELECT asset_id, channel, epoch_us(ts) AS t, value FROM readings ORDER BY 1, 2, 3"),
        "scores": store.sql("SELECT asset_id, epoch_us(ts) AS t, model_id, score FROM stream_scores ORDER BY 1, 2"),
        "alerts": store.sql(
            "SELECT asset_id, epoch_us(ts) AS t, model_id, score, risk_level, filed FROM stream_alerts ORDER BY 1, 2"
        ),
        "marks": store.sql("SELECT * FROM stream_assets ORDER BY asset_id"),
        "state": store.sql("SELECT name, asset_id, octet_length(data) AS n FROM stream_state ORDER BY 1, 2"),
        "dead": store.sql("SELECT source, reason, asset_id, item, key FROM stream_dead_letters"),
    }


def test_micro_batches_give_the_same_tables_on_postgres_as_on_duckdb(
    pg_url: str, model_dir: Path, tmp_path: Path
) -> None:
    wide = make_fleet(4, 150, anomaly="P-3", seed=12)
    rows = long_rows(wide)
    rng = np.random.default_rng(4)
    sizes = []
    while sum(sizes) < len(rows):
        sizes.append(int(rng.integers(1, 90)))
    with Store(tmp_path / "plant.duckdb") as duck, Store(pg_url) as server:
        assert isinstance(server, PgStore)
        filed_duck = _run(duck, model_dir, rows, sizes)
        filed_pg = _run(server, model_dir, rows, sizes)
        want, got = _tables(duck), _tables(server)
    assert len(got["readings"]) == len(rows) == 4 * 150 * 2
    assert len(got["scores"]) == 4 * 150 and not got["scores"].duplicated(["asset_id", "t"]).any()
    for name in want:
        left, right = want[name].reset_index(drop=True), got[name].reset_index(drop=True)
        assert list(left.columns) == list(right.columns), name
        assert len(left) == len(right), name
        for column in left.columns:
            if left[column].dtype.kind == "f":
                np.testing.assert_allclose(right[column], left[column], rtol=1e-9, err_msg=f"{name}.{column}")
            else:
                assert right[column].astype(object).tolist() == left[column].astype(object).tolist(), (name, column)
    assert len(got["dead"]) == 1  # one bad message, recorded once though delivered several times
    assert got["alerts"]["asset_id"].tolist() == ["P-3"] and got["alerts"]["filed"].tolist() == [True]
    assert [(a.asset_id, a.ts, a.score) for a in filed_pg] == [(a.asset_id, a.ts, a.score) for a in filed_duck]


def test_a_micro_batch_is_one_transaction_readings_included(
    pg_url: str, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the readings are written (while writing the scores) leaves none of the batch behind; on
    DuckDB the readings would stay (their own transaction). The next pipeline writes the batch whole."""
    from forewarn.exceptions import StateError
    from forewarn.store import pg_stream

    rows = long_rows(make_fleet(2, 20, seed=4))
    with Store(pg_url) as store:
        cfg = parse_config(_config(model_dir, allowed_lateness="0s"))
        pipe = OnlinePipeline(store, cfg, file_alerts=list)
        # one reading of another asset in the same month first: a batch that creates a month's partition locks
        # the readings table for readers until it commits, and this test reads from inside the batch
        store.ingest_readings(
            pd.DataFrame({"asset_id": ["P-5"], "ts": [pd.Timestamp(rows[0][2] * 1000, tz="UTC")], "temp": [1.0]})
        )
        written: list[int] = []

        def fail(con: object, scores: object) -> None:
            with store.connection() as other:  # another connection: the readings are not visible yet
                written.append(int(other.execute("SELECT count(*) FROM reading_values").fetchone()[0]))
            raise OSError("the server went away")

        monkeypatch.setattr(pg_stream, "write_scores", fail)
        with pytest.raises(OSError, match="went away"):
            pipe.process(_columns(rows), [])
        assert written == [1]  # not the batch's 80
        assert store.count_readings() == 1
        for table in ("stream_scores", "stream_assets", "stream_state"):
            assert store.sql(f"SELECT count(*) AS n FROM {table}")["n"].iloc[0] == 0, table
        with pytest.raises(StateError, match="start a new pipeline"):
            pipe.process(_columns(rows), [])
        pipe.close()
        monkeypatch.undo()
        again = OnlinePipeline(store, cfg, file_alerts=list)
        result = again.process(_columns(rows), [])
        assert (result.written, result.rows_scored) == (len(rows), 40)
        again.close()
        assert store.count_readings() == 1 + len(rows)


def _reference_alerts(raw: dict, wide: pd.DataFrame, folder: Path) -> list[tuple[str, int]]:
    """``(asset_id, ts_us)`` of the alerts of one uninterrupted pass over ``wide`` (in this process, on DuckDB)."""
    clock = Clock()
    filed: list = []
    with Store(folder / "reference.duckdb") as store:
        pipe = OnlinePipeline(store, parse_config(raw), clock=clock, file_alerts=filed.extend)
        pipe.process(_columns(long_rows(wide)), [])
        clock.now += 60
        pipe.tick()
        pipe.close()
    return sorted((a.asset_id, int(a.ts.value // 1000)) for a in filed)


def _stream_alerts_and_cases(url: str) -> tuple[list[tuple[str, int]], list[tuple[str, int]], bool]:
    """The stream's outbox and the case book's stream alerts as ``(asset_id, ts_us)``, and whether all are filed."""
    from forewarn.decide.cases import CaseBook

    with Store(url) as store:
        outbox = store.sql("SELECT asset_id, epoch_us(ts) AS t, filed FROM stream_alerts")
    book = CaseBook(url)
    try:
        filed = [
            (str(a["asset_id"]), int(pd.Timestamp(a["ts"]).value // 1000))
            for a in book.alerts(limit=100_000)
            if a["source"] == "stream"
        ]
    finally:
        book.close()
    return (
        sorted(zip(outbox["asset_id"], outbox["t"].astype(int), strict=True)),
        sorted(filed),
        bool(outbox["filed"].all()),
    )


def test_stream_killed_mid_stream_on_postgres_loses_and_duplicates_nothing(
    tmp_path: Path, broker: LocalBroker, model_dir: Path, pg_url: str
) -> None:
    """``forewarn stream --store postgresql://...`` SIGKILLed mid-stream, then restarted: every reading once,
    every row scored once with the batch score, the alerts of an uninterrupted run, each filed in the case book
    once (the stream's test on DuckDB, tests/stream/test_mqtt.py, on the server store)."""
    wide = make_fleet(4, 150, seed=9, anomaly="P-2")
    messages = list(sparkplug_messages(wide, prefix=PREFIX, rows_per_message=3))
    total = 4 * 150 * 2
    raw = mqtt_config(broker.port, model_dir, client_id="pg-crash-consumer")
    config = tmp_path / "stream.toml"
    config.write_text(to_toml(raw))
    first = Consumer(config, pg_url, tmp_path / "first.log")
    try:
        first.wait_event(lambda e: e["event"] == "ready", timeout=60)
        pub = Publisher("127.0.0.1", broker.port, client_id="pg-crash-publisher")
        sender = threading.Thread(target=pub.send, args=(messages,), kwargs={"speedup": 60 * 60 * 2.0})
        sender.start()
        first.wait_event(lambda e: e.get("total_written", 0) >= total // 4, timeout=60)
        first.proc.send_signal(signal.SIGKILL)  # mid-stream: a batch in flight, its messages unacknowledged
        assert first.proc.wait(timeout=10) == -signal.SIGKILL
        sender.join(timeout=60)
        pub.close()
    finally:
        first.close()
    second = Consumer(config, pg_url, tmp_path / "second.log")
    try:
        stopped = second.wait_event(lambda e: e["event"] == "stopped", timeout=90)
        assert second.proc.wait(timeout=20) == 0
    finally:
        second.close()
    assert stopped["dead_letters"] == {}
    assert 0 < stopped["readings_written"] < total, "the restarted consumer picks up where the killed one stopped"
    with Store(pg_url) as db:
        check_store(db, wide, model_dir)
    outbox, filed, all_filed = _stream_alerts_and_cases(pg_url)
    expected = _reference_alerts(raw, wide, tmp_path)
    assert expected and {a for a, _ in expected} == {"P-2"}
    assert outbox == expected and filed == expected and all_filed
