"""Feature drift per asset class (issue 18 item 1): the card's reference per class (forewarn.train.references.
class_references) and the monitor's verdict per class (forewarn.monitor.performance.class_feature_drift), drift
alerts that name the class, and a sequence model scored by the monitor with its asset's class."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from forewarn.bundles.bundle import ServingSpec
from forewarn.decide.cases import CaseBook
from forewarn.monitor.performance import class_feature_drift, feature_drift
from forewarn.monitor.runner import _remember, _scores, file_drift_cases
from forewarn.train.card import reference_distributions
from forewarn.train.references import class_references, feature_lines

HOURS = 24
#: three classes at different levels of the same sensor, as a fleet's pumps, motors and fans differ
LEVELS = {"pump": 60.0, "motor": 45.0, "fan": 30.0}


def fleet(days: int, seed: int, *, start: str = "2024-01-01", per_class: int = 3) -> pd.DataFrame:
    """Hourly feature rows of ``per_class`` assets of each class: a temperature at the class's level with the
    day's cycle and noise (SD 2), and a vibration that is noise around 1 for every class."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range(start, periods=days * HOURS, freq="1h", tz="UTC")
    frames = []
    for kind, level in LEVELS.items():
        for k in range(per_class):
            n = len(ts)
            frames.append(
                pd.DataFrame(
                    {
                        "asset_id": f"{kind}-{k}",
                        "asset_class": kind,
                        "ts": ts,
                        "temp__mean": level + np.sin(2 * np.pi * np.arange(n) / HOURS) + rng.normal(0, 2.0, n),
                        "vib__mean": 1.0 + rng.normal(0, 0.1, n),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


FEATURES = ["temp__mean", "vib__mean"]


def card_of(frame: pd.DataFrame, *, min_rows: int = 500) -> dict:
    """The parts of a model card that feature drift reads, as forewarn train writes them."""
    X = frame[FEATURES]
    reference = reference_distributions(X)
    return {
        "reference": reference,
        "reference_lines": feature_lines(reference, X, frame["ts"]),
        "reference_by_class": class_references(
            X, frame["ts"].to_numpy(), frame["asset_class"], train_rows=np.arange(len(X)), min_rows=min_rows
        ),
    }


def test_the_card_keeps_each_class_its_own_deciles_and_lines() -> None:
    plant = fleet(60, 0)
    card = card_of(plant)["reference_by_class"]
    assert card["min_rows"] == 500 and sorted(card["classes"]) == ["fan", "motor", "pump"]
    pump = card["classes"]["pump"]
    assert pump["rows"] == 3 * 60 * HOURS
    assert 58 < pump["reference"]["temp__mean"][5] < 62  # the pumps' median, not the fleet's (45)
    assert pump["reference_lines"]["window_days"] == [1, 7, 30, 90]
    assert pump["reference_lines"]["lines"]["temp__mean"][3] is None  # a 60-day span has no 90-day stretch
    # a class with too few training rows keeps none and says why
    few = class_references(
        plant[FEATURES], plant["ts"].to_numpy(), plant["asset_class"], train_rows=np.arange(100), min_rows=50
    )
    assert few["classes"]["pump"]["rows"] == 100 and "reference" in few["classes"]["pump"]
    assert few["classes"]["motor"]["rows"] == 0 and "reference" not in few["classes"]["motor"]
    thin = class_references(
        plant[FEATURES], plant["ts"].to_numpy(), plant["asset_class"], train_rows=np.arange(100), min_rows=500
    )
    assert thin["classes"]["pump"] == {
        "rows": 100,
        "pooled": "pump: 100 training rows, fewer than 500: judged with the fleet",
    }


def test_a_healthy_fleet_raises_no_class_feature_drift() -> None:
    card = card_of(fleet(60, 0))
    later = fleet(90, 1, start="2024-03-01")
    for days in (1, 7, 30):
        for k in range(0, 60, 20):
            start = pd.Timestamp("2024-03-01", tz="UTC") + pd.Timedelta(days=k)
            window = later[(later["ts"] >= start) & (later["ts"] < start + pd.Timedelta(days=days))]
            out = class_feature_drift(card, window, feature_drift(card, window, days=days, top=None), days=days)
            assert out["basis"] == "class" and out["drifted_classes"] == [], (days, k, out)
            assert [e["asset_class"] for e in out["by_class"]] == ["fan", "motor", "pump"]


def test_a_change_to_one_class_is_flagged_for_that_class_where_the_pooled_psi_dilutes_it() -> None:
    card = card_of(fleet(60, 0))
    window = fleet(30, 2, start="2024-03-01")
    window.loc[window["asset_class"] == "fan", "temp__mean"] += 2.0  # every fan's transmitter: +1 SD
    pooled = feature_drift(card, window, days=30, top=None)
    assert not any(r["drifted"] for r in pooled)  # a third of the rows moved: under the fleet's line
    out = class_feature_drift(card, window, pooled, days=30)
    assert out["drifted_classes"] == ["fan"]
    fan = {e["asset_class"]: e for e in out["by_class"]}["fan"]
    assert fan["basis"] == "class" and fan["assets"] == 3 and fan["rows"] == 3 * 30 * HOURS
    (flagged,) = fan["features"]
    assert flagged["feature"] == "temp__mean" and flagged["psi"] > flagged["line"] >= 0.25
    assert flagged["line_basis"] == "reference"


def test_a_class_without_its_own_reference_is_judged_with_the_fleet_and_says_so() -> None:
    plant = fleet(60, 0)
    thin = plant[(plant["asset_class"] != "fan") | (plant["ts"] < pd.Timestamp("2024-01-10", tz="UTC"))]
    card = card_of(thin.reset_index(drop=True), min_rows=1000)  # the fans: 3 assets x 9 days = 648 rows
    window = fleet(30, 2, start="2024-03-01")
    pooled = feature_drift(card, window, days=30, top=None)
    entries = {e["asset_class"]: e for e in class_feature_drift(card, window, pooled, days=30)["by_class"]}
    fan = entries["fan"]
    assert fan["basis"] == "pooled" and fan["judged"] is None and fan["reference_rows"] == 648
    assert fan["note"].startswith("fan: 648 training rows, fewer than 1000: judged with the fleet")
    assert fan["features"] == [r for r in pooled if r["drifted"]]
    assert entries["pump"]["basis"] == "class"
    # a card written before per-class references: every class with the fleet, the report says why
    old = {k: v for k, v in card.items() if k != "reference_by_class"}
    out = class_feature_drift(old, window, pooled, days=30)
    assert out["basis"] == "pooled" and out["min_rows"] is None and out["drifted_classes"] == []
    assert all("written before them" in e["note"] for e in out["by_class"])


def test_drift_cases_name_the_asset_class() -> None:
    alert = {
        "asset_id": "S1-P001",
        "asset_class": "pump",
        "day": "2024-03-05 00:00:00+00:00",
        "cause": "sensor change",
        "jump_sd": {"bearing_temp": 1.2},
    }
    older = {**alert, "asset_id": "S1-P002"}
    older.pop("asset_class")  # a report written before alerts named their class
    report = {"models": [{"model_id": "failure", "version": "v1", "drift_alerts": [alert, older]}]}
    book = CaseBook()
    first, second = file_drift_cases(book, report)
    assert book.case(first)["kind"] == "drift"
    assert list(book.alerts(case_id=first)[0]["explanation"]) == ["bearing_temp (sensor change; pump class)"]
    assert list(book.alerts(case_id=second)[0]["explanation"]) == ["bearing_temp (sensor change)"]


def test_monitor_scores_a_sequence_model_with_its_asset_class() -> None:
    """An absent channel (a fan without its flow sensor) reads the fans' training mean, not the overall one."""
    spec = ServingSpec(
        channels=("temp", "flow"),
        window=3,
        sequence=True,
        class_means={"fan": [30.0, 7.0], "pump": [60.0, 40.0]},
        channel_means=(45.0, 23.5),
    )
    names = spec.feature_names
    bundle = SimpleNamespace(
        spec=spec,
        feature_names=names,
        predict=lambda X: SimpleNamespace(probability=np.full(len(X), 0.1)),
    )
    ts = pd.date_range("2024-03-01", periods=5, freq="1h", tz="UTC")
    frame = pd.DataFrame({"asset_id": "fan-0", "ts": ts, "temp": 30.0 + np.arange(5.0), "flow": np.nan})
    out = _scores(bundle, frame, ts[2], "fan")
    assert len(out) == 3 and (out["asset_class"] == "fan").all()
    assert (out[[f"flow__t{k}" for k in range(3)]].to_numpy() == 7.0).all()
    assert out["temp__t2"].tolist() == [32.0, 33.0, 34.0]


def test_the_run_history_keeps_each_class_s_flagged_features(tmp_path: Path) -> None:
    card = card_of(fleet(60, 0))
    window = fleet(30, 2, start="2024-03-01")
    window.loc[window["asset_class"] == "pump", "vib__mean"] += 0.1
    by_class = class_feature_drift(card, window, feature_drift(card, window, days=30, top=None), days=30)
    report = {
        "version": "v1",
        "window": {},
        "status": "ok",
        "drift_alerts": [],
        "score": {},
        "multivariate": {"drifted_assets": 0},
        "per_day": [],
        "performance": {},
        "features_by_class": by_class,
    }
    _remember(tmp_path / "history.jsonl", report)
    (line,) = (tmp_path / "history.jsonl").read_text().splitlines()
    assert json.loads(line)["class_feature_drift"] == {"fan": 0, "motor": 0, "pump": 1}
