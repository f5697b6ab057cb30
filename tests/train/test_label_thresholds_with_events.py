"""A stored label column beside a failure log: the thresholds answer to the label (issue 12, target 2).

A plant whose machines fail every week or two exports both a ``failure_24h`` column and its failure log. With
``--label failure_24h`` the thresholds used to be fitted on case costs over the failure events (ten or more in the
held-out assets), where a case that never closes catches every failure: the chosen threshold alarmed on every
row (a generated plant of 60 machines: F1 0.03, FAR 100 %). They are now fitted on the label's rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.backtest import backtest
from forewarn.store import Store
from forewarn.train import TrainSpec, train

HOURS = 900


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve machines; each fails every 100-200 h, half the failures announced by 30 h of rising temperature,
    half silent; a failure is repaired two hours later (a corrective replacement)."""
    rng = np.random.default_rng(12)
    folder = tmp_path_factory.mktemp("plant")
    start = pd.Timestamp("2024-01-01", tz="UTC")
    frames, events = [], []
    for k in range(12):
        temp = rng.normal(60.0, 2.0, HOURS)
        label = np.zeros(HOURS, dtype=int)
        t = int(rng.integers(60, 150))
        while t < HOURS:
            if rng.random() < 0.5:
                temp[max(0, t - 30) : t] += np.linspace(0.0, 10.0, min(30, t))
            label[max(0, t - 24) : t] = 1
            asset = f"M{k:02d}"
            events.append({"asset_id": asset, "ts": start + pd.Timedelta(hours=t), "kind": "failure"})
            events.append(
                {
                    "asset_id": asset,
                    "ts": start + pd.Timedelta(hours=t + 2),
                    "kind": "maintenance",
                    "action": "replace",
                    "result": "corrective",
                }
            )
            t += int(rng.integers(100, 200))
        frames.append(
            pd.DataFrame(
                {
                    "asset_id": f"M{k:02d}",
                    "ts": start + pd.to_timedelta(np.arange(HOURS), unit="h"),
                    "temp": temp,
                    "failure_24h": label,
                }
            )
        )
    readings = folder / "plant.csv"
    pd.concat(frames).to_csv(readings, index=False)
    log = folder / "events.csv"
    pd.DataFrame(events).to_csv(log, index=False)
    store = folder / "plant.duckdb"
    with Store(store) as db:
        db.ingest_file(readings, label_columns="failure_24h")
        db.ingest_file(log, kind="events")
    return store


SPEC = TrainSpec(label="failure_24h", model="logistic-failure", window=6)


def test_train_on_a_label_fits_its_thresholds_on_the_label_rows(plant: Path, tmp_path: Path) -> None:
    card = train(plant, tmp_path / "models", spec=SPEC).card
    metrics = card["metrics"]
    assert metrics["far"] < 0.5  # the case-cost threshold put every held-out row in alarm (FAR 1.0)
    assert metrics["recall"] > 0.2  # and the label's rows still set an operating point that alarms
    assert max(metrics["thresholds"].values()) > 0.05


def test_a_label_backtest_beside_failure_events_does_not_alarm_on_every_row(plant: Path) -> None:
    result = backtest(plant, spec=SPEC, by="asset", folds=3)
    assert result["rows"]["far"] < 0.5  # 1.0 with the case-cost thresholds
    assert result["events"]["failures"] > 0  # the failure log still counts the cases


def test_event_thresholds_that_alarm_on_most_rows_are_not_taken(plant: Path, tmp_path: Path) -> None:
    spec = TrainSpec(task="failure", horizon="24h", model="logistic-failure", window=6)
    metrics = train(plant, tmp_path / "models", spec=spec).card["metrics"]
    assert metrics["far"] < 0.5  # the case-cost optimum alarmed on every held-out row (FAR 1.0)
    assert metrics["recall"] > 0.2
