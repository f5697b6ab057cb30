"""A plant whose failures are a flag column, not a failure log (issue 12, a new user's walk with AI4I as an hourly
export): ``train`` without ``--label`` names the stored label columns, and ``backtest --label`` does not judge
cases against failure events the store does not hold (it reported 113 false cases per asset-year and a cost of
193,500 against 0 for run-to-failure: every case counted false, as no failure could follow it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.backtest import backtest
from forewarn.exceptions import DataNotFoundError
from forewarn.store import Store
from forewarn.train import TrainSpec, train


@pytest.fixture
def flagged(tmp_path: Path) -> Path:
    """Six machines, 240 hourly rows each; the flag is 1 in the hours when the temperature runs high."""
    rng = np.random.default_rng(3)
    frames = []
    for k in range(6):
        temp = rng.normal(60, 2, 240)
        hot = rng.choice(np.arange(30, 230), size=4, replace=False)
        flag = np.zeros(240, dtype=int)
        for h in hot:
            temp[h - 3 : h + 1] += 8
            flag[h] = 1
        frames.append(
            pd.DataFrame(
                {
                    "Maschine": f"M{k}",
                    "Zeit": pd.date_range("2024-03-01", periods=240, freq="1h", tz="UTC").strftime("%Y-%m-%dT%H:%MZ"),
                    "Temperatur [K]": temp,
                    "Ausfall": flag,
                }
            )
        )
    path = tmp_path / "export.csv"
    pd.concat(frames).to_csv(path, index=False)
    store = tmp_path / "plant.duckdb"
    with Store(store) as db:
        db.ingest_file(path, asset_column="Maschine", time_column="Zeit", label_columns="Ausfall")
    return store


def test_train_without_a_failure_log_names_the_stored_label_columns(flagged: Path, tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match=r"holds the label column\(s\) 'Ausfall': --label NAME"):
        train(flagged, tmp_path / "models", spec=TrainSpec(model="logistic-failure"))


def test_a_label_backtest_without_failure_events_leaves_case_figures_unmeasured(flagged: Path) -> None:
    spec = TrainSpec(label="Ausfall", model="logistic-failure", window=4)
    result = backtest(flagged, spec=spec, by="asset", folds=3)
    events = result["events"]
    assert events["failures"] == 0 and events["cases"] > 0  # the cases are there...
    for key in ("false_cases", "false_cases_per_asset_year", "cost", "cost_run_to_failure", "caught_share"):
        assert events[key] is None, key  # ...but nothing says whether a failure followed them
    assert "no failure event in the store" in result["events_note"]
    assert result["cost_optimal_threshold_in_hindsight"] is None
    assert all(s["cost"] is None for s in result["sweep"])
    assert result["rows"]["roc_auc"] is not None  # the label still judges the rows
