"""One alert path: a stream model's alarms (the alarm rule, ``[[models]] alarm``) are filed into the case book that
the service lists, one case per anomaly episode, none repeated or lost across a restart (also one mid-episode, or
one between the stream's commit and the case book's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.exceptions import ConfigError
from forewarn.serve.api.app import create_app
from forewarn.serve.service import HealthService
from forewarn.serve.settings import ServeSettings
from forewarn.store import Store
from forewarn.stream.config_file import parse_config
from forewarn.stream.messages import ReadingColumns
from forewarn.stream.pipeline import OnlinePipeline

from .conftest import T0_MS, WINDOW, assets_config, long_rows, make_fleet

TOKEN = "alert-path-token-0123456789"
ALARM = {"on": 0.5, "off": 0.3, "clear_rows": 3, "scale": 20.0}  # PCA T2/Q: healthy < 5, the jump > 100
EPISODES = {"P-1": [(100, 130), (200, 230)], "P-2": [(160, 200)]}  # minutes with a vibration jump


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _fleet() -> pd.DataFrame:
    wide = make_fleet(assets=3, steps=280, seed=3)
    minute = (wide["ts"].astype("int64") // 1000 - T0_MS) // 60_000
    for asset, spans in EPISODES.items():
        for lo, hi in spans:
            wide.loc[(wide["asset_id"] == asset) & (minute >= lo) & (minute < hi), "vib"] += 6.0
    return wide


def _config(model_dir: Path, **model: object) -> dict:
    return {
        "pipeline": {"idle_release": "10s"},
        "mqtt": {"subscriptions": [{"topic": "plant/+/+", "layout": "value", "asset": "{1}", "channel": "{2}"}]},
        "assets": assets_config(),
        "models": [{"path": str(model_dir), "model_id": "pump-pca", "window": WINDOW, "alarm": ALARM, **model}],
    }


def _feed(pipe: OnlinePipeline, rows: list, clock: Clock, *, chunk: int = 37) -> None:
    for lo in range(0, len(rows), chunk):
        cols = ReadingColumns()
        for asset, channel, ts, value in rows[lo : lo + chunk]:
            cols.add(asset, channel, ts, value)
        pipe.process(cols, [])
        clock.now += 0.05


def _until(rows: list, minute: int) -> int:
    """How many rows come before ``minute``."""
    limit = (T0_MS + minute * 60_000) * 1000
    return sum(1 for r in rows if r[2] < limit)


def _episode_starts(book: CaseBook) -> list[tuple[str, int]]:
    """(asset, minute) of every alert in the book, oldest first."""
    alerts = sorted(book.alerts(), key=lambda a: (a["ts"], a["asset_id"]))
    return [(a["asset_id"], int((a["ts"].value // 1_000_000 - T0_MS) // 60_000)) for a in alerts]


def _check_episodes(book: CaseBook) -> None:
    starts = _episode_starts(book)
    assert [a for a, _ in starts] == ["P-1", "P-2", "P-1"], starts  # one alert per episode, none elsewhere
    for (asset, minute), (lo, _) in zip(
        starts, [EPISODES["P-1"][0], EPISODES["P-2"][0], EPISODES["P-1"][1]], strict=True
    ):
        assert lo <= minute < lo + 3, (asset, minute)  # raised as the episode starts
    for alert in book.alerts():
        assert alert["source"] == "stream" and alert["model_id"] == "pump-pca" and alert["risk_level"] == "high"
        assert next(iter(alert["explanation"])) == "vib"  # the sensor that drives it first


@pytest.mark.parametrize("restart", [None, 115, 215])  # no restart; restarts inside P-1's first / second episode
def test_one_case_per_episode_in_the_service_case_book(tmp_path: Path, model_dir: Path, restart: int | None) -> None:
    rows = long_rows(_fleet())
    cfg = parse_config(_config(model_dir))
    clock = Clock()
    path = tmp_path / "plant.duckdb"
    with Store(path) as store:
        service = HealthService(ServeSettings(store=str(path), token=TOKEN), store=store)
        changed: list[str] = []
        invalidate = service.cache.case_changed
        service.cache.case_changed = lambda asset: (changed.append(asset), invalidate(asset))[1]  # type: ignore[method-assign]
        pipe = OnlinePipeline(store, cfg, clock=clock, file_alerts=service.cases.file)

        def feed(lo: int, hi: int) -> None:  # rows[lo:hi], with a restart (a new process) at `restart` if inside
            nonlocal pipe
            cut = hi if restart is None else min(max(_until(rows, restart), lo), hi)
            _feed(pipe, rows[lo:cut], clock)
            if lo < cut < hi:
                pipe.close()
                pipe = OnlinePipeline(store, cfg, clock=clock, file_alerts=service.cases.file)
            _feed(pipe, rows[cut:hi], clock)

        first_done = _until(rows, 170)  # P-1's first episode over, P-2's started
        feed(0, first_done)
        (case,) = service.cases.cases(asset_id="P-1")
        assert case["n_alerts"] == 1 and case["status"] == "open"
        assert "P-1" in changed  # filed through CaseDesk.file: the service's cache was told at once
        service.cases.close(case["case_id"], note="bearing greased")  # the planner acts; a new episode opens a new case
        feed(first_done, len(rows))
        clock.now += 60
        pipe.tick()
        pipe.close()
        _check_episodes(service.casebook)
        cases = service.cases.cases()
        assert sorted((c["asset_id"], c["n_alerts"], c["status"]) for c in cases) == [
            ("P-1", 1, "closed"),
            ("P-1", 1, "open"),
            ("P-2", 1, "open"),
        ]
        assert "P-0" not in {c["asset_id"] for c in cases}  # the healthy pump raises nothing
        outbox = store.sql("SELECT asset_id, filed FROM stream_alerts ORDER BY ts")
        assert outbox["asset_id"].tolist() == ["P-1", "P-2", "P-1"] and outbox["filed"].all()
        with TestClient(create_app(ServeSettings(store=str(path), token=TOKEN), service=service)) as client:
            listed = client.get("/api/v1/alerts").json()
            assert sorted((a["asset_id"], a["source"], a["model_id"]) for a in listed) == [
                ("P-1", "stream", "pump-pca"),
                ("P-1", "stream", "pump-pca"),
                ("P-2", "stream", "pump-pca"),
            ]
            assert len(client.get("/api/v1/cases", params={"status": "open"}).json()) == 2
        service.casebook.close()


def test_alerts_left_unfiled_are_filed_once_at_the_next_start(tmp_path: Path, model_dir: Path) -> None:
    """A case book that fails, or a crash between the stream's commit and the case book's: the alert waits in
    ``stream_alerts`` and is filed (once) later; a lone stream files into the case book beside its store."""
    rows = long_rows(_fleet())
    cfg = parse_config(_config(model_dir))
    clock = Clock()
    path = tmp_path / "plant.duckdb"

    def broken(alerts: object) -> None:
        raise OSError("disk full")

    with Store(path) as store:
        pipe = OnlinePipeline(store, cfg, clock=clock, file_alerts=broken)
        _feed(pipe, rows[: _until(rows, 120)], clock)  # P-1's first alert: committed, not filed
        assert store.sql("SELECT count(*) AS n FROM stream_alerts WHERE NOT filed")["n"].iloc[0] == 1
        pipe.close()
        pipe = OnlinePipeline(store, cfg, clock=clock)  # a lone stream: its own case book, beside the store
        pipe.tick()
        _feed(pipe, rows[_until(rows, 120) : _until(rows, 170)], clock)
        # a crash after the case book took the alerts, before they were marked filed
        pipe.tables.con.execute("UPDATE stream_alerts SET filed = false")
        pipe.close()
        pipe = OnlinePipeline(store, cfg, clock=clock)
        _feed(pipe, rows[_until(rows, 170) :], clock)
        clock.now += 60
        pipe.tick()
        pipe.close()
        assert store.sql("SELECT count(*) AS n FROM stream_alerts WHERE NOT filed")["n"].iloc[0] == 0
    book = CaseBook(casebook_path_for(path))
    try:
        _check_episodes(book)
        assert book.counts()["alerts"] == 3
        assert sorted((c["asset_id"], c["n_alerts"]) for c in book.cases()) == [("P-1", 2), ("P-2", 1)]
    finally:
        book.close()


def test_alarm_rule_equals_the_batch_rule(tmp_path: Path, model_dir: Path) -> None:
    """The stream's alarms are the ones :func:`forewarn.decide.alarms.find_alarms` gives on its scores."""
    from forewarn.decide.alarms import AlarmRule, find_alarms

    rows = long_rows(_fleet())
    clock = Clock()
    with Store() as store:
        pipe = OnlinePipeline(store, parse_config(_config(model_dir)), clock=clock)
        _feed(pipe, rows, clock, chunk=101)
        clock.now += 60
        pipe.tick()
        raised = pipe.tables.con.execute("SELECT asset_id, epoch_us(ts) FROM stream_alerts ORDER BY 1, 2").fetchall()
        scores = pipe.tables.con.execute(
            "SELECT asset_id, epoch_us(ts) AS ts_us, score FROM stream_scores ORDER BY 1, 2"
        ).df()
        pipe.close()
    rule = AlarmRule(**{k: v for k, v in ALARM.items() if k != "scale"})
    expected = []
    for asset, part in scores.groupby("asset_id"):
        values = part["score"].clip(lower=0).to_numpy()
        alarms, _ = find_alarms(values / (values + ALARM["scale"]), rule)
        expected += [(asset, int(t)) for t in part["ts_us"].to_numpy()[alarms == 1]]
    assert [(str(a), int(t)) for a, t in raised] == expected and len(expected) == 3


def test_alarm_config_is_checked(model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="off"):
        parse_config(_config(model_dir, alarm={"on": 0.3, "off": 0.5}))
    with pytest.raises(ConfigError, match="not both"):
        parse_config(_config(model_dir, alert={"threshold": 20.0}))
    assert np.isclose(parse_config(_config(model_dir)).models[0].alarm["scale"], 20.0)  # type: ignore[index]
