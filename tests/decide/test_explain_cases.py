"""Explanations come back as sensors; cases group an asset's alerts until a planner closes them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.decide.alerts import Alert
from forewarn.decide.cases import CaseBook
from forewarn.decide.explain import occlusion_contributions, sensor_contribution_frame, sensor_contributions
from forewarn.decide.risk import health_score, recommended_action, risk_level
from forewarn.exceptions import DataNotFoundError, SchemaError, StateError
from forewarn.features.window import window_features
from forewarn.models.rul.lightgbm_rul import LightGBMRUL

T0 = pd.Timestamp("2024-05-01", tz="UTC")


def test_lightgbm_contributions_map_to_the_sensor_that_drives_wear() -> None:
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({"unit": np.repeat(np.arange(6), n // 6), "cycle": np.tile(np.arange(n // 6), 6)})
    wear = frame["cycle"] / (n // 6)
    frame["vibration"] = 2 + 5 * wear + rng.normal(0, 0.1, n)
    frame["noise"] = rng.normal(0, 1, n)
    X = window_features(
        frame, group="unit", order="cycle", columns=["vibration", "noise"], window=5, stats=("mean", "slope", "last")
    )
    model = LightGBMRUL(n_estimators=60, learning_rate=0.1, max_rul=None).fit(X, 100 * (1 - wear))
    contributions = model.explain(X.tail(50))
    per_sensor = sensor_contribution_frame(contributions)
    assert list(per_sensor.columns) == ["vibration", "noise"]
    # feature contributions plus bias give the prediction; summing per sensor keeps that total
    np.testing.assert_allclose(per_sensor.sum(axis=1) + contributions["bias"], model.predict(X.tail(50)), rtol=1e-6)
    assert per_sensor["vibration"].abs().mean() > 10 * per_sensor["noise"].abs().mean()
    top = sensor_contributions(contributions.iloc[-1], top=1)
    assert list(top) == ["vibration"]


def test_occlusion_explains_models_without_their_own() -> None:
    X = pd.DataFrame({"a__mean": [1.0, 3.0], "a__max": [2.0, 4.0], "b__mean": [5.0, 5.0]})
    out = occlusion_contributions(
        lambda f: (2 * f["a__mean"] + f["a__max"] + 0 * f["b__mean"]).to_numpy(),
        X,
        {"a__mean": 0.0, "a__max": 0.0, "b__mean": 1.0},
    )
    assert out.values.tolist() == [[4.0, 0.0], [10.0, 0.0]]
    with pytest.raises(SchemaError, match="reference has no value"):
        occlusion_contributions(lambda f: f.sum(axis=1).to_numpy(), X, {"a__mean": 0.0})


def test_risk_levels_health_and_actions() -> None:
    levels = [risk_level(p, 0.2) for p in (0.05, 0.15, 0.3, 0.7)]
    assert levels == ["low", "medium", "high", "critical"]
    assert health_score(0.0) == 100.0 and health_score(1.0) == 0.0
    assert "within 30 hours" in recommended_action("high", rul_low=30, unit="hours")
    assert recommended_action("critical", rul_low=0.2, unit="hours", top_sensor="vib").endswith("inspect vib first")
    with pytest.raises(ValueError, match="unknown risk level"):
        recommended_action("purple")


def _alert(asset: str, hours: float, level: str = "high", explanation: dict | None = None) -> Alert:
    return Alert(
        asset,
        T0 + pd.Timedelta(hours=hours),
        "rul:v1",
        0.7,
        level,
        explanation if explanation is not None else {"vib": 2.0, "temp": -1.0, "load": 0.5},
    )


def test_one_open_case_per_asset_until_closed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    book = CaseBook(tmp_path / "cases.duckdb")
    first = book.record_alert(_alert("P1", 0))
    assert book.record_alert(_alert("P1", 5, "critical")) == first
    other = book.record_alert(_alert("P2", 1))
    assert other != first
    case = book.case(first)
    assert (case["n_alerts"], case["risk_level"], case["top_sensors"]) == (2, "critical", ["vib", "load"])
    assert book.record_alert(_alert("P1", 6, "high")) == first and book.case(first)["risk_level"] == "critical"
    book.acknowledge(first, by="ana", note="on it")
    assert book.record_alert(_alert("P1", 7)) == first  # acknowledged is still open
    with pytest.raises(SchemaError, match="needs a note"):
        book.close_case(first, note=" ")
    closed = book.close_case(first, note="bearing replaced", by="ana")
    assert closed["status"] == "closed" and closed["closed_by"] == "ana" and closed["note"] == "bearing replaced"
    with pytest.raises(StateError, match="already closed"):
        book.close_case(first, note="again")
    with pytest.raises(StateError, match="cannot be acknowledged"):
        book.acknowledge(first)
    reopened = book.record_alert(_alert("P1", 48))
    assert reopened not in (first, other)
    assert [c["case_id"] for c in book.cases(status="open")] == [reopened, other]
    assert len(book.alerts(asset_id="P1")) == 5 and len(book.alerts(case_id=reopened)) == 1
    assert book.counts() == {"open": 2, "acknowledged": 0, "closed": 1, "alerts": 6}
    book.close()
    again = CaseBook(tmp_path / "cases.duckdb")  # persisted, and the open-case index is rebuilt
    assert again.open_case_id("P1") == reopened and again.open_case_id("P3") is None
    with pytest.raises(DataNotFoundError):
        again.case(12345)
    with pytest.raises(SchemaError, match="status"):
        again.cases(status="pending")
