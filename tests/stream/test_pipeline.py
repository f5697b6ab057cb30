"""The online pipeline without a broker: online equals batch, restarts, late and repeated readings, dead letters."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.base import load, read_manifest
from forewarn.exceptions import ConfigError
from forewarn.store import Store
from forewarn.stream.config_file import parse_config
from forewarn.stream.messages import DeadLetter, ReadingColumns
from forewarn.stream.pipeline import OnlinePipeline

from .conftest import CHANNELS, WINDOW, assets_config, batch_features, long_rows, make_fleet

LATENESS_MIN = 5


class Clock:
    """A settable wall clock."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _config(model_dir: Path, **pipeline: object) -> dict:
    return {
        "pipeline": {"allowed_lateness": f"{LATENESS_MIN}min", "idle_release": "10s", **pipeline},
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


def _shuffled(rows: list, rng: np.random.Generator, block: int = 16) -> list:
    """Readings out of order inside blocks of ``block`` (at most 2 minutes apart here, under the lateness)."""
    out = []
    for lo in range(0, len(rows), block):
        part = rows[lo : lo + block]
        out += [part[i] for i in rng.permutation(len(part))]
    return out


def _feed(pipe: OnlinePipeline, rows: list, rng: np.random.Generator, clock: Clock) -> None:
    i = 0
    while i < len(rows):
        k = int(rng.integers(1, 120))
        cols = ReadingColumns()
        for asset, channel, ts, value in rows[i : i + k]:
            cols.add(asset, channel, ts, value)
        pipe.process(cols, [])
        clock.now += 0.05
        i += k


def _scores(store: Store) -> pd.DataFrame:
    return store.sql("SELECT asset_id, epoch_us(ts) AS ts_us, score FROM stream_scores ORDER BY 1, 2")


@pytest.mark.parametrize("restart", [False, True])
def test_online_equals_batch(tmp_path: Path, model_dir: Path, restart: bool) -> None:
    """Out-of-order readings in random micro-batches (and a restart midway) give the batch features and scores."""
    wide = make_fleet(4, 160, anomaly="P-2", gaps=0.03, seed=5)
    rows = _shuffled(long_rows(wide), np.random.default_rng(1))
    clock, seen = Clock(), {}

    def keep(model_id: str, assets: np.ndarray, ts: np.ndarray, feats: np.ndarray) -> None:
        for a, t, f in zip(assets, ts, feats, strict=True):
            assert (a, int(t)) not in seen, "a row was scored twice"
            seen[(a, int(t))] = f

    cfg = parse_config(_config(model_dir))
    with Store(tmp_path / "plant.duckdb") as store:
        pipe = OnlinePipeline(store, cfg, clock=clock, on_features=keep)
        half = len(rows) // 2 if restart else len(rows)
        _feed(pipe, rows[:half], np.random.default_rng(2), clock)
        if restart:  # a clean stop with readings still held, then a new process on the same store
            assert len(pipe.reorder.pending) > 0
            pipe.close()
            pipe = OnlinePipeline(store, cfg, clock=clock, on_features=keep)
            assert len(pipe.reorder.pending) > 0, "held readings must be recovered from the store"
            _feed(pipe, rows[half:], np.random.default_rng(3), clock)
        clock.now += 60
        pipe.tick()  # the assets are quiet now: score what is still held
        assert len(pipe.reorder.pending) == 0
        scores = _scores(store)
        assert store.count_readings() == len(rows)
        pipe.close()
    present = wide.dropna(how="all", subset=list(CHANNELS)).reset_index(drop=True)
    names = read_manifest(model_dir)["feature_names"]
    batch = batch_features(present, names)
    keys = list(zip(present["asset_id"], present["ts"].astype("int64"), strict=True))
    assert set(seen) == set(keys)
    online = np.vstack([seen[k] for k in keys])
    np.testing.assert_allclose(online, batch.to_numpy(), rtol=1e-7, atol=1e-7)
    finite = np.isfinite(batch.to_numpy()).all(axis=1)
    expected = load(model_dir).score(batch[finite])
    got = scores.set_index(["asset_id", "ts_us"])["score"]
    assert len(got) == int(finite.sum())
    np.testing.assert_allclose(
        got.loc[[k for k, f in zip(keys, finite, strict=True) if f]].to_numpy(), expected, rtol=1e-7
    )


def test_alert_redelivery_and_late_readings(tmp_path: Path, model_dir: Path) -> None:
    wide = make_fleet(4, 120, anomaly="P-2", seed=8)
    rows = long_rows(wide)
    clock = Clock()
    with Store(tmp_path / "plant.duckdb") as store:
        pipe = OnlinePipeline(store, parse_config(_config(model_dir, allowed_lateness="0s")), clock=clock)
        cols = ReadingColumns()
        for r in rows:
            cols.add(*r)
        first = pipe.process(cols, [])
        assert (first.written, first.duplicates, first.late) == (len(rows), 0, 0)
        assert first.rows_scored == len(wide) and [a.asset_id for a in first.alerts] == ["P-2"]
        assert next(iter(first.alerts[0].explanation)) == "vib"  # the sensor that drives the alert comes first
        scored = store.sql("SELECT count(*) AS n FROM stream_scores")["n"].iloc[0]
        again = pipe.process(cols, [])  # the broker redelivers the whole batch
        assert (again.written, again.duplicates, again.late, again.rows_scored) == (0, len(rows), 0, 0)
        late = ReadingColumns()
        late.add("P-0", "temp", rows[10][2] + 1, 99.0)  # new, but before P-0's scored watermark
        result = pipe.process(late, [])
        assert (result.written, result.late, result.rows_scored) == (1, 1, 0)
        assert store.sql("SELECT count(*) AS n FROM stream_scores")["n"].iloc[0] == scored
        alerts = store.sql("SELECT asset_id, model_id, risk_level, explanation FROM stream_alerts")
        assert alerts["asset_id"].tolist() == ["P-2"] and alerts["model_id"].tolist() == ["pump-pca"]
        assert "vib" in json.loads(alerts["explanation"].iloc[0])
        snap = pipe.metrics.snapshot()
        assert snap["readings_late"] == 1 and snap["readings_duplicate"] == len(rows) and snap["alerts_opened"] == 1
        pipe.close()


def test_dead_letters_are_recorded_once(tmp_path: Path, model_dir: Path) -> None:
    with Store(tmp_path / "plant.duckdb") as store:
        pipe = OnlinePipeline(store, parse_config(_config(model_dir)))
        letters = [
            (1_700_000_000_000_000, DeadLetter("mqtt:plant/P-1/temp", "not_finite", "NaN", "NaN", "P-1", "temp")),
            (1_700_000_000_000_000, DeadLetter("mqtt:plant/X/temp", "unknown_asset", "who?", "1", "X")),
        ]
        pipe.process(ReadingColumns(), letters, messages=2)
        pipe.process(ReadingColumns(), letters, messages=2)  # redelivered after a crash before the ack
        found = store.sql("SELECT reason, source, asset_id FROM stream_dead_letters ORDER BY reason")
        assert found["reason"].tolist() == ["not_finite", "unknown_asset"]
        assert pipe.metrics.snapshot()["dead_letters"] == {"not_finite": 2, "unknown_asset": 2}
        assert 'forewarn_stream_dead_letters_total{reason="not_finite"} 2.0' in pipe.metrics.prometheus()
        pipe.close()


def test_mapping_units_must_match_the_assets(tmp_path: Path, model_dir: Path) -> None:
    raw = _config(model_dir)
    raw["mqtt"]["subscriptions"][0]["unit"] = "degF"
    raw["mqtt"]["subscriptions"][0]["channel"] = "temp"
    with Store() as store, pytest.raises(ConfigError, match="degF"):
        OnlinePipeline(store, parse_config(raw))
    raw = _config(model_dir)
    raw["models"][0]["path"] = str(tmp_path)
    with Store() as store, pytest.raises(Exception, match="not a saved Forewarn model"):
        OnlinePipeline(store, parse_config(raw))


def test_explanations_equal_occlusion_contributions(model_dir: Path) -> None:
    from forewarn.decide.explain import occlusion_contributions, sensor_contributions
    from forewarn.stream.config import ModelConfig
    from forewarn.stream.scoring import ModelRunner

    runner = ModelRunner(ModelConfig(path=model_dir, model_id="m", window=WINDOW))
    wide = make_fleet(2, 60, anomaly="P-1", seed=3)
    X = batch_features(wide, runner.feature_names).dropna()
    runner.reference = X.iloc[:20].mean().to_numpy()
    rows = X.iloc[[5, -1]]
    ours = runner._explain(rows.to_numpy(), X)
    reference = pd.Series(runner.reference, index=runner.feature_names)
    theirs = occlusion_contributions(runner._predict, rows, reference)
    for i in range(2):
        expected = sensor_contributions(theirs.iloc[i], top=5)
        assert list(ours[i]) == list(expected)
        np.testing.assert_allclose(list(ours[i].values()), list(expected.values()), rtol=1e-6, atol=1e-9)


def test_a_failed_store_write_commits_nothing_and_stops_the_pipeline(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forewarn.exceptions import StateError

    rows = long_rows(make_fleet(2, 20, seed=4))
    cols = ReadingColumns()
    for r in rows:
        cols.add(*r)
    with Store(tmp_path / "plant.duckdb") as store:
        pipe = OnlinePipeline(store, parse_config(_config(model_dir, allowed_lateness="0s")))

        def disk_full(*args: object, **kwargs: object) -> None:
            raise OSError("No space left on device")

        monkeypatch.setattr(store, "ingest_readings", disk_full)
        with pytest.raises(OSError, match="No space"):
            pipe.process(cols, [])
        assert store.sql("SELECT count(*) AS n FROM stream_scores")["n"].iloc[0] == 0
        assert store.sql("SELECT count(*) AS n FROM stream_assets")["n"].iloc[0] == 0
        with pytest.raises(StateError, match="start a new pipeline"):
            pipe.process(cols, [])
        pipe.close()
        monkeypatch.undo()
        again = OnlinePipeline(store, parse_config(_config(model_dir, allowed_lateness="0s")))
        assert again.process(cols, []).rows_scored == 40
        again.close()


def test_a_sequential_detector_fitted_on_window_features_is_refused(tmp_path: Path) -> None:
    """The stream feeds a sequential detector raw channels per asset (tests/stream/test_sequential.py); one fitted
    on window features would never find its columns, so it is refused at start."""
    from forewarn.base import save
    from forewarn.models.anomaly.var_residual import VARResidualDetector
    from forewarn.stream.config import ModelConfig
    from forewarn.stream.scoring import ModelRunner

    names = [f"{c}__mean" for c in CHANNELS]
    X = batch_features(make_fleet(assets=2, steps=120, seed=5), names).dropna()
    path = save(VARResidualDetector().fit(X), tmp_path / "var")
    with pytest.raises(ConfigError, match="sequential detector fitted on window features"):
        ModelRunner(ModelConfig(path=path, model_id="seq", window=WINDOW))


def test_late_readings_are_counted_as_unscored_rows_and_said_once_with_the_setting(
    tmp_path: Path, model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After an outage, readings behind their asset's watermark are stored and not scored: ``rows_late`` counts
    their rows (redelivered ones are duplicates, not late rows), and one log line names ``allowed_lateness``."""
    rows = long_rows(make_fleet(3, 60, seed=4))
    clock = Clock()
    with Store(tmp_path / "plant.duckdb") as store:
        pipe = OnlinePipeline(store, parse_config(_config(model_dir, allowed_lateness="0s")), clock=clock)
        held_back = {r for r in rows if r[0] == "P-1" and 20 <= (r[2] - rows[0][2]) // 60_000_000 < 25}
        cols = ReadingColumns()
        for r in rows:
            if r not in held_back:  # the gateway's buffer of P-1's minutes 20-24 comes after the outage
                cols.add(*r)
        pipe.process(cols, [])
        scored = int(store.sql("SELECT count(*) AS n FROM stream_scores")["n"].iloc[0])
        late = ReadingColumns()
        for r in sorted(held_back) + [r for r in rows if r[0] == "P-2"][:6]:  # 10 new late, 6 redelivered
            late.add(*r)
        with caplog.at_level("WARNING", logger="forewarn.stream"):
            result = pipe.process(late, [])
            again = pipe.process(late, [])  # the whole batch redelivered: nothing new, nothing said
        assert (result.written, result.late, result.late_rows, result.duplicates) == (10, 10, 5, 6)
        assert (again.late, again.late_rows, again.duplicates) == (0, 0, 16)
        assert int(store.sql("SELECT count(*) AS n FROM stream_scores")["n"].iloc[0]) == scored  # none scored
        snap = pipe.metrics.snapshot()
        assert (snap["readings_late"], snap["rows_late"], snap["rows_unscored"]) == (10, 5, 0)
        (line,) = [r.getMessage() for r in caplog.records if "allowed_lateness" in r.getMessage()]
        # P-1's watermark is minute 59, the oldest late reading minute 20: 39 minutes behind
        assert "10 readings of 5 (asset, time) rows" in line and 'late: allowed_lateness = "40min" (now' in line
        assert "idle_release above" not in line  # P-1 kept sending: the lateness alone would have held them
        pipe.close()


def test_late_rows_are_said_at_most_once_a_minute_as_totals() -> None:
    """Later batches within a minute add to the next line instead of a line each."""
    from forewarn.stream.notices import LateNotes
    from forewarn.stream.reorder import Readings

    now = [0.0]
    notes = LateNotes(0.0, 2.0, clock=lambda: now[0])
    part = Readings(
        np.array(["a", "a"], dtype=object), np.array(["t", "v"], dtype=object), np.array([5, 5]), np.zeros(2)
    )
    said: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("forewarn.stream")
    logger.addHandler(handler)
    try:
        assert notes.add(part, np.array([3_000_000, 1]), 2) == 1
        now[0] = 30.0
        notes.add(part, np.array([7_000_000, 1]), 2)
        assert len(said) == 1
        now[0] = 61.0
        notes.add(part, np.array([1, 1]), 2, quiet_s=3.5)  # after an outage longer than idle_release
    finally:
        logger.removeHandler(handler)
    assert len(said) == 2 and said[1].startswith("4 readings of 2 (asset, time) rows came up to 7s behind")
    assert 'allowed_lateness = "8s" and idle_release above 3.5s' in said[1]
