"""The RUL ensemble: column routing per member kind, the mean of members, and state with text blobs."""

import numpy as np
import pandas as pd
import pytest

from forewarn.base.persistence import load, save
from forewarn.exceptions import ParameterError, RegistryError
from forewarn.models.rul.ensemble import EnsembleRUL, member_columns
from forewarn.models.rul.lightgbm_rul import LightGBMRUL


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    wear = rng.uniform(0, 1, n)
    X = pd.DataFrame(
        {
            "s__mean": wear + rng.normal(0, 0.05, n),
            "s__t0": wear + rng.normal(0, 0.1, n),
            "s__t1": wear + rng.normal(0, 0.1, n),
            "cycle": 200 * wear + rng.normal(0, 5, n),
        }
    )
    return X, 150 * (1 - wear)


def test_member_columns_route_by_kind():
    names = ["a__mean", "a__t0", "a__t1", "cycle"]
    assert member_columns("sequence", names) == ["a__t0", "a__t1", "cycle"]
    assert member_columns("features", names) == ["a__mean", "cycle"]
    assert member_columns("sequence", ["x", "y"]) == ["x", "y"]  # nothing to route: every column


def test_mean_of_members_and_weights():
    X, y = _data()
    params = {"lightgbm-rul": {"n_estimators": 60}}
    ensemble = EnsembleRUL(members=("lightgbm-rul",), member_params=params, seed=4).fit(X, y)
    alone = LightGBMRUL(n_estimators=60, seed=4).fit(X[["s__mean", "cycle"]], y)
    np.testing.assert_allclose(ensemble.predict(X), alone.predict(X[["s__mean", "cycle"]]))
    weighted = EnsembleRUL(members=("lightgbm-rul", "lightgbm-rul"), member_params=params, weights=(3, 1)).fit(X, y)
    assert np.isfinite(weighted.predict(X)).all()


def test_state_round_trip_with_cnn_member(tmp_path):
    pytest.importorskip("torch")
    X, y = _data(n=200)
    model = EnsembleRUL(member_params={"lightgbm-rul": {"n_estimators": 30}, "cnn-rul": {"epochs": 2}}).fit(X, y)
    state = model.get_state()
    assert isinstance(state["m0.model_text_"], str) and "m1.net.head.1.weight" in state
    assert state["m1.feature_names_in_"].tolist() == ["s__t0", "s__t1", "cycle"]
    again = load(save(model, tmp_path / "ensemble"))
    np.testing.assert_allclose(again.predict(X), model.predict(X))


def test_bad_members_are_named():
    X, y = _data(n=50)
    with pytest.raises(RegistryError, match="no model named"):
        EnsembleRUL(members=("nope",)).fit(X, y)
    with pytest.raises(ParameterError, match="'members' parameter of EnsembleRUL must name RUL regressors"):
        EnsembleRUL(members=("isolation-forest",)).fit(X, y)
    with pytest.raises(ParameterError, match="'weights' parameter"):
        EnsembleRUL(members=("lightgbm-rul",), weights=(1, 2)).fit(X, y)
