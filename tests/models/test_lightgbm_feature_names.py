"""LightGBM models take a plant's channel names (``Temp [°C]``, ``Vib: "rms"``): the booster trains under positional
names, the model answers with the user's names, and saved states round-trip (old ones included)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from forewarn.models.boosting import booster_names, kept_by_lightgbm
from forewarn.models.failure.lightgbm_failure import LightGBMFailure
from forewarn.models.fault.lightgbm_fault import LightGBMFault
from forewarn.models.rul.lightgbm_rul import LightGBMRUL

ODD = ["Temp [°C]__mean", 'Vib: "rms"__std', "Druck {bar},max"]
PLAIN = ["temp__mean", "vib__std", "pressure__max"]


def _data(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(n, 3))
    return values, values[:, 0] - 0.5 * values[:, 1]


def _models() -> list[tuple[object, np.ndarray]]:
    values, signal = _data()
    return [
        (LightGBMFailure(n_estimators=30, seed=0), (signal > 1.0).astype(int)),
        (LightGBMRUL(n_estimators=30, seed=0), 100.0 + 20.0 * signal),
        (LightGBMFault(n_estimators=20, seed=0), np.where(signal > 1, "hot", np.where(signal < -1, "loose", "ok"))),
    ]


def _output(model: object, X: pd.DataFrame) -> np.ndarray:
    method = getattr(model, "predict_proba", None) or model.predict  # type: ignore[attr-defined]
    return np.asarray(method(X), dtype="float64")


@pytest.mark.parametrize("index", [0, 1, 2], ids=["failure", "rul", "fault"])
def test_odd_names_train_as_plain_ones_and_round_trip(index: int) -> None:
    model, y = _models()[index]
    values, _ = _data()
    odd = type(model)(**model.get_params()).fit(pd.DataFrame(values, columns=ODD), y)  # type: ignore[attr-defined]
    plain = type(model)(**model.get_params()).fit(pd.DataFrame(values, columns=PLAIN), y)  # type: ignore[attr-defined]
    probe = values[:50]
    said = _output(odd, pd.DataFrame(probe, columns=ODD))
    np.testing.assert_array_equal(said, _output(plain, pd.DataFrame(probe, columns=PLAIN)))  # names change nothing
    booster = getattr(odd, "booster_", None) or odd.model_  # type: ignore[attr-defined]
    assert booster.feature_name() == ["feature_0", "feature_1", "feature_2"]
    state = odd.get_state()  # type: ignore[attr-defined]
    assert list(state["feature_names_in_"]) == ODD
    again = type(model)().set_state(state)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(_output(again, pd.DataFrame(probe, columns=ODD)), said)
    with pytest.raises(ValueError, match="Temp"):  # the model still checks the user's columns by name
        _output(again, pd.DataFrame(probe, columns=PLAIN))


def test_rul_explanations_and_fault_importances_carry_the_users_names() -> None:
    values, signal = _data()
    X = pd.DataFrame(values, columns=ODD)
    rul = LightGBMRUL(n_estimators=30, seed=0).fit(X, 100.0 + 20.0 * signal)
    assert rul.booster_.feature_name() == ["feature_0", "feature_1", "feature_2"]
    contributions = rul.explain(X.head(5))
    assert contributions.columns.tolist() == [*ODD, "bias"]
    np.testing.assert_allclose(contributions.sum(axis=1), rul.predict(X.head(5)), rtol=1e-9)
    fault = LightGBMFault(n_estimators=20, seed=0).fit(X, np.where(signal > 0, "hot", "ok"))
    importance = fault.feature_importance()
    assert set(importance.index) == set(ODD) and importance.index[0] == ODD[0]  # the strongest signal is column 0


def test_plain_names_are_kept_for_the_booster() -> None:
    values, signal = _data()
    rul = LightGBMRUL(n_estimators=10, seed=0).fit(pd.DataFrame(values, columns=PLAIN), signal + 10)
    assert rul.booster_.feature_name() == PLAIN  # bundles' direct booster path compares these names
    assert booster_names(["a", "a"]) == ["feature_0", "feature_1"]  # LightGBM refuses repeated names too
    assert not kept_by_lightgbm("") and not kept_by_lightgbm("tab\there") and kept_by_lightgbm("Drehzahl_1/min")


def test_a_state_filed_before_the_rule_still_loads() -> None:
    """A booster trained under LightGBM's own rewrite of a name with spaces (``Air temperature K`` ->
    ``Air_temperature_K``), as filed before positional names: it loads, predicts and names its features as the
    model does."""
    values, signal = _data()
    names = ["Air temperature K", "Torque Nm", "wear"]
    y = np.where(signal > 0, 1, 0)
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "seed": 0, "deterministic": True, "num_threads": 1},
        lgb.Dataset(values, label=y, feature_name=names),
        num_boost_round=10,
    )
    assert booster.feature_name()[0] == "Air_temperature_K"
    state = {
        "feature_names_in_": np.asarray(names, dtype=str),
        "model_text_": booster.model_to_string(),
        "classes_": np.asarray(["0", "1"]),
    }
    old = LightGBMFault().set_state(state)
    frame = pd.DataFrame(values[:20], columns=names)
    np.testing.assert_allclose(old.predict_proba(frame)[:, 1], booster.predict(values[:20]), rtol=1e-12)
    assert set(old.feature_importance().index) == set(names)
