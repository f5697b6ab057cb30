"""The stream on a PostgreSQL store: the same results as on DuckDB, one transaction per micro-batch, and the crash
test (``forewarn stream --store postgresql://...`` SIGKILLed mid-stream, restarted: nothing lost or duplicated,
alerts filed once), also with a reader and a training job on the same database at once.

One PostgreSQL server (Debian's binaries, initdb + pg_ctl on 127.0.0.1, a free port) for the module, stopped at
its end; each test gets a database of its own. Skipped without the binaries; the module is ``slow``.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres, binaries, free_port
from forewarn.store.postgres import PgStore
from forewarn.stream.broker import LocalBroker
from forewarn.stream.config_file import parse_config
from forewarn.stream.messages import DeadLetter, ReadingColumns
from forewarn.stream.pipeline import OnlinePipeline
from forewarn.stream.replay import Publisher, sparkplug_messages
from forewarn.stream.tables import stream_alerts

from .conftest import WINDOW, assets_config, long_rows, make_fleet
from .test_mqtt import PREFIX, Consumer
from .test_mqtt import _check_store as check_store
from .test_mqtt import _config as mqtt_config
from .test_mqtt import _toml as to_toml

pytestmark = pytest.mark.slow
TOKEN = "stream-pg-test-token"
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
    wide = make_fleet(4, 90, anomaly="P-3", seed=12)
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
        listed = [stream_alerts(store, asset_id="P-3") for store in (duck, server)]  # GET /api/v1/stream/alerts
    assert listed[0] == listed[1] and len(listed[1]) == 1 and listed[1][0]["explanation"]
    assert len(got["readings"]) == len(rows) == 4 * 90 * 2
    assert len(got["scores"]) == 4 * 90 and not got["scores"].duplicated(["asset_id", "t"]).any()
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


def _history(url: str) -> None:
    """Two days of four other assets (P-4 .. P-7) with a failure each: what the training job learns from."""
    wide = make_fleet(8, 2880, seed=2)
    wide = wide[wide["asset_id"].isin(["P-4", "P-5", "P-6", "P-7"])].copy()
    wide["ts"] = wide["ts"] - pd.Timedelta(days=3)
    last = wide["ts"].max()
    with Store(url) as store:
        store.ingest_readings(wide)
        store.ingest_events(
            pd.DataFrame(
                {
                    "asset_id": ["P-4", "P-5", "P-6", "P-7"],
                    "ts": [last - pd.Timedelta(hours=h) for h in (20, 8, 14, 30)],
                    "kind": ["failure"] * 4,
                    "failure_mode": ["bearing"] * 4,
                }
            )
        )


class Service:
    """``forewarn serve --store URL`` as a process, polled by a thread of this test: health, the readings of a
    streamed asset and the case book's alerts (and it acknowledges the stream's first case: a case-book write)."""

    def __init__(self, url: str, models: Path, log: Path):
        self.port = free_port()
        self.log = log.open("w")
        command = [sys.executable, "-m", "forewarn.cli.main", "serve", "--store", url, "--models", str(models)]
        self.proc = subprocess.Popen(
            [*command, "--port", str(self.port), "--log-level", "warning"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "FOREWARN_API_TOKEN": TOKEN},
        )
        self.log_path = log
        self.answers: list[tuple[str, int]] = []  # (path, status) of every poll
        self.readings: list[int] = []  # readings the health check counted, in poll order
        self.acknowledged: list[int] = []
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def get(self, path: str, data: bytes | None = None) -> tuple[int, object]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
            time.sleep(0.3)
        raise AssertionError(f"the service did not answer: {self.log_path.read_text()[-3000:]}")

    def start_polling(self) -> None:
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            for path in ("/healthz", "/api/v1/assets/P-2/readings?limit=50", "/api/v1/alerts?limit=50"):
                status, body = self.get(path)
                self.answers.append((path, status))
                if path == "/healthz" and status == 200:
                    self.readings.append(int(body["readings"]))  # type: ignore[index]
            if not self.acknowledged:
                status, cases = self.get("/api/v1/cases?status=open")
                if status == 200 and cases:
                    case_id = int(cases[0]["case_id"])  # type: ignore[index]
                    status, _ = self.get(f"/api/v1/cases/{case_id}/acknowledge", b'{"by": "test"}')
                    self.answers.append(("acknowledge", status))
                    self.acknowledged.append(case_id)
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=60)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.log.close()


def _streamed(store: Store, wide: pd.DataFrame, model_dir: Path) -> None:
    """:func:`check_store` on the streamed assets only (the store also holds the training history)."""
    streamed = "asset_id IN ('P-0', 'P-1', 'P-2', 'P-3')"

    class Only:
        def sql(self, query: str) -> pd.DataFrame:
            return store.sql(f"SELECT * FROM ({query}) q WHERE {streamed}")

    check_store(Only(), wide, model_dir)  # type: ignore[arg-type]


def test_stream_killed_mid_stream_with_the_service_and_a_training_job_on_postgres(
    tmp_path: Path, broker: LocalBroker, model_dir: Path, pg_url: str
) -> None:
    """Issue 20's third target: ``forewarn stream``, ``forewarn serve`` and ``forewarn train`` as separate processes
    on one PostgreSQL database at once; the stream is SIGKILLed mid-stream and restarted. Every streamed reading is
    stored once, every row scored once with the batch score, the alerts are those of an uninterrupted run and each
    is filed in the case book once; the service answered every request meanwhile (never a 5xx) and saw the readings
    only grow; the training job filed its model (the stream's crash test on DuckDB: tests/stream/test_mqtt.py)."""
    _history(pg_url)
    with Store(pg_url) as store:
        before = store.count_readings()
    wide = make_fleet(4, 150, seed=9, anomaly="P-2")
    messages = list(sparkplug_messages(wide, prefix=PREFIX, rows_per_message=3))
    total = 4 * 150 * 2
    raw = mqtt_config(broker.port, model_dir, client_id="pg-crash-consumer")
    config = tmp_path / "stream.toml"
    config.write_text(to_toml(raw))
    models = tmp_path / "models"
    models.mkdir()
    service = Service(pg_url, models, tmp_path / "serve.log")
    trainer: subprocess.Popen | None = None
    try:
        service.wait_ready()
        first = Consumer(config, pg_url, tmp_path / "first.log")
        try:
            first.wait_event(lambda e: e["event"] == "ready", timeout=60)
            service.start_polling()
            train_log = (tmp_path / "train.log").open("w")  # the stream has declared its assets now
            trainer = subprocess.Popen(
                [sys.executable, "-m", "forewarn.cli.main", "train", "--store", pg_url, "--models", str(models)]
                + ["--task", "anomaly", "--model", "pca-t2q", "--promote"],
                stdout=train_log,
                stderr=subprocess.STDOUT,
            )
            train_log.close()  # the child has its own copy
            pub = Publisher("127.0.0.1", broker.port, client_id="pg-crash-publisher")
            sender = threading.Thread(target=pub.send, args=(messages,), kwargs={"speedup": 60 * 60 * 2.0})
            sender.start()
            first.wait_event(lambda e: e.get("total_written", 0) >= total // 4, timeout=60)
            first.proc.send_signal(signal.SIGKILL)  # mid-stream: a batch in flight, its messages unacknowledged
            training_at_kill = trainer.poll() is None
            assert first.proc.wait(timeout=10) == -signal.SIGKILL
            sender.join(timeout=60)
            pub.close()
        finally:
            first.close()
        second = Consumer(config, pg_url, tmp_path / "second.log")
        try:
            stopped = second.wait_event(lambda e: e["event"] == "stopped", timeout=120)
            assert second.proc.wait(timeout=20) == 0
        finally:
            second.close()
        assert trainer.wait(timeout=180) == 0, (tmp_path / "train.log").read_text()[-3000:]
        time.sleep(0.5)  # a last round of polls after everything is in
    finally:
        if trainer is not None and trainer.poll() is None:
            trainer.kill()
            trainer.wait(timeout=20)
        service.stop()
    assert stopped["dead_letters"] == {}
    assert 0 < stopped["readings_written"] < total, "the restarted consumer picks up where the killed one stopped"
    with Store(pg_url) as db:
        _streamed(db, wide, model_dir)
        assert db.count_readings() == before + total
    outbox, filed, all_filed = _stream_alerts_and_cases(pg_url)
    expected = _reference_alerts(raw, wide, tmp_path)
    assert expected and {a for a, _ in expected} == {"P-2"}
    assert outbox == expected and filed == expected and all_filed
    assert [s for _, s in service.answers if s >= 500] == [], service.log_path.read_text()[-3000:]
    assert {s for _, s in service.answers} == {200} and service.acknowledged, service.answers[-10:]
    assert len(service.readings) >= 5 and service.readings == sorted(service.readings)
    assert service.readings[0] >= before and service.readings[-1] == before + total
    assert (models / "anomaly" / "v1" / "manifest.json").is_file()
    assert training_at_kill, "the training job ran while the stream was killed"


def test_a_host_writing_through_the_same_store_object_does_not_deadlock_the_stream(
    pg_url: str, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under ``serve --stream`` the service's threads write through the store object the stream was given. A batch
    holds the database's write lock from its readings to its commit; had it used that object's lock meanwhile (its
    late readings, a second ingest), a service thread holding the object's lock while waiting for the write lock
    would deadlock both (seen here as a lock timeout before the pipeline got a store object of its own)."""
    from forewarn.schema import Asset, Channel

    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=10s")  # a deadlock becomes an error instead of a hang
    rows = long_rows(make_fleet(4, 100, seed=1))
    with Store(pg_url) as store:
        cfg = parse_config(_config(model_dir, allowed_lateness="0s"))
        pipe = OnlinePipeline(store, cfg, file_alerts=list)
        stop, errors = threading.Event(), []

        def host() -> None:
            i = 0
            while not stop.is_set():
                try:
                    store.add_assets([Asset(f"X-{i % 5}", channels=(Channel("t", "degC"),))])
                except Exception as err:  # noqa: BLE001 - reported by the test
                    errors.append(repr(err))
                    return
                i += 1

        thread = threading.Thread(target=host, daemon=True)
        thread.start()
        try:
            late = written = late_rows = 0
            for lo in range(20, len(rows) - 20, 20):
                cols = _columns(rows[lo : lo + 20])
                for asset, channel, ts, value in rows[lo - 20 : lo]:  # sent before: new keys behind the watermark
                    cols.add(asset, channel, ts - 1, value)  # late, so a second ingest in the batch
                result = pipe.process(cols, [])
                late, written = late + result.late, written + result.written
                late_rows += result.late_rows
        finally:
            stop.set()
            thread.join(30)
            pipe.close()
        assert errors == []
        assert late > 500  # most batches wrote late readings in a second ingest
        assert late == 2 * late_rows  # both channels of each shifted row: looked up inside the batch's transaction
        assert store.count_readings() == written == 2 * (len(rows) - 40)  # every batch: 20 on time, 20 shifted
