"""Operating-condition and baseline normalisation: regimes found by the rule, fitted on training rows only."""

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import NotFittedError, SchemaError
from forewarn.features.normalise import BaselineNormaliser, OperatingConditionNormaliser


def _regime_frame(n=900, seed=0, centres=((0.0, 0.0), (20.0, 0.5), (40.0, 0.8))):
    rng = np.random.default_rng(seed)
    regime = rng.integers(0, len(centres), n)
    settings = np.asarray(centres)[regime] + rng.normal(0, 0.01, (n, 2))
    level = np.array([500.0, 550.0, 620.0])[regime]
    return pd.DataFrame(
        {
            "alt": settings[:, 0],
            "mach": settings[:, 1],
            "temp": level + rng.normal(0, 2.0, n),
            "flow": 10 * regime + rng.normal(0, 0.5, n),
        }
    ), regime


def test_finds_the_regimes_and_standardises_within_them():
    frame, regime = _regime_frame()
    norm = OperatingConditionNormaliser(settings=["alt", "mach"], columns=["temp", "flow"]).fit(frame)
    assert norm.n_regimes_ == 3
    found = norm.regimes(frame)
    assert pd.crosstab(found, regime).gt(0).sum(axis=1).eq(1).all()  # each found regime is one true regime
    out = norm.transform(frame)
    for r in range(3):
        assert out.loc[found == r, "temp"].mean() == pytest.approx(0.0, abs=1e-9)
        assert out.loc[found == r, "temp"].std(ddof=0) == pytest.approx(1.0, abs=1e-9)
    assert out[["alt", "mach"]].equals(frame[["alt", "mach"]])


def test_one_regime_when_settings_do_not_cluster():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"alt": rng.normal(0, 1, 600), "mach": rng.normal(0, 1, 600), "temp": rng.normal(5, 2, 600)})
    norm = OperatingConditionNormaliser(settings=["alt", "mach"], columns=["temp"]).fit(frame)
    assert norm.n_regimes_ == 1 and norm.silhouette_ < 0.5


def test_transform_uses_training_statistics_only():
    train, _ = _regime_frame(seed=2)
    test, _ = _regime_frame(seed=3)
    test = test.assign(temp=test["temp"] + 100.0)  # the test rows drift: that must show, not be normalised away
    norm = OperatingConditionNormaliser(settings=["alt", "mach"], columns=["temp"], n_regimes=3).fit(train)
    assert norm.transform(test)["temp"].mean() > 20


def test_matches_the_six_cmapss_regimes(shared_data_dir):
    from forewarn.datasets.cmapss import SENSORS, SETTINGS, load_cmapss

    data = load_cmapss("FD002", shared_data_dir)
    norm = OperatingConditionNormaliser(settings=list(SETTINGS), columns=list(SENSORS)).fit(data.train)
    assert norm.n_regimes_ == 6
    rounded = data.test[list(SETTINGS)].round(0).astype(str).agg("/".join, axis=1)
    assert pd.crosstab(norm.regimes(data.test), rounded).gt(0).sum(axis=1).eq(1).all()


def test_baseline_is_causal_and_per_asset():
    frame = pd.DataFrame(
        {"unit": [1, 1, 1, 1, 2, 2], "cycle": [1, 2, 3, 4, 1, 2], "temp": [10.0, 14.0, 30.0, 50.0, 100.0, 104.0]}
    )
    norm = BaselineNormaliser(group="unit", order="cycle", columns=["temp"], n_baseline=2, scale=False).fit(frame)
    out = norm.transform(frame)["temp"].tolist()
    assert out == [0.0, 2.0, 18.0, 38.0, 0.0, 2.0]
    shorter = norm.transform(frame[frame["cycle"] <= 2])["temp"].tolist()
    assert shorter == [0.0, 2.0, 0.0, 2.0]  # early rows do not depend on later ones


def test_baseline_scale_comes_from_training_rows():
    train = pd.DataFrame({"unit": [1] * 5, "cycle": range(5), "temp": [0.0, 0.0, 2.0, 4.0, 6.0]})
    test = pd.DataFrame({"unit": [9] * 3, "cycle": range(3), "temp": [5.0, 5.0, 1005.0]})
    norm = BaselineNormaliser(group="unit", order="cycle", columns=["temp"], n_baseline=2).fit(train)
    spread = float(np.sqrt(np.mean(np.array([0.0, 0.0, 2.0, 4.0, 6.0]) ** 2)))
    assert norm.transform(test)["temp"].iloc[-1] == pytest.approx(1000.0 / spread)


def test_unfitted_and_bad_columns_raise():
    frame, _ = _regime_frame()
    with pytest.raises(NotFittedError):
        OperatingConditionNormaliser(settings=["alt"], columns=["temp"]).transform(frame)
    with pytest.raises(NotFittedError):
        BaselineNormaliser(group="u", order="c", columns=["temp"]).transform(frame)
    with pytest.raises(SchemaError, match="missing column"):
        OperatingConditionNormaliser(settings=["altitude"], columns=["temp"]).fit(frame)
