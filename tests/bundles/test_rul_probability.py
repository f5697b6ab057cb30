"""A RUL bundle's failure probability keeps the fleet's order: power tails beyond the held-out residuals
(no wall of ties at 0 for healthy assets), recorded in the serving spec, while a bundle written before the rule was
recorded scores exactly as it did (BENCHMARKS.md "Own data", issue 12 item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.bundles.bundle import (
    QUANTILE_LEVELS,
    RUL_TAILS,
    SPEC_FILE,
    Bundle,
    make_bundle,
    residual_cdf,
    rul_failure_probability,
)
from forewarn.exceptions import ConfigError, StateError
from forewarn.features.last_row import feature_names
from forewarn.features.window import DEFAULT_STATS
from forewarn.models.rul.lightgbm_rul import LightGBMRUL

NAMES = feature_names(("temp",), DEFAULT_STATS)


def _fleet(rows: int = 1200) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    wear = rng.uniform(0, 1, rows)
    X = pd.DataFrame(rng.normal(size=(rows, len(NAMES))), columns=NAMES)
    X["temp__mean"] = 60 + 40 * wear + rng.normal(0, 2, rows)
    rul = np.maximum(200 * (1 - wear) + rng.normal(0, 10, rows), 0.0)
    return X, rul, np.repeat(np.arange(rows // 20), 20)


def _bundle(folder: Path) -> tuple[Bundle, pd.DataFrame]:
    X, rul, groups = _fleet()
    model = LightGBMRUL(seed=0, n_estimators=60, max_rul=None).fit(X, rul)
    make_bundle(
        model, folder, channels=("temp",), window=3, horizon=24.0, X_holdout=X, y_holdout=rul, groups=groups, bands=2
    )
    return Bundle(folder), X


def test_residual_cdf_is_continuous_and_strictly_increasing_beyond_the_residuals() -> None:
    q = np.quantile(np.random.default_rng(1).normal(0, 15, 500), QUANTILE_LEVELS)
    x = np.linspace(q[0] - 2000, q[-1] + 2000, 5001)
    p = residual_cdf(x, q)
    assert np.all(np.diff(p) > 0) and p[0] > 0 and p[-1] < 1
    for knot, level in ((q[1], 0.01), (q[99], 0.99)):  # the tails join the linear part without a step
        around = residual_cdf(np.array([knot - 1e-9, knot, knot + 1e-9]), q)
        np.testing.assert_allclose(around, level, atol=1e-9)
    inside = (x > q[1]) & (x < q[99])  # between the 1 % and 99 % quantiles: the empirical distribution as before
    np.testing.assert_allclose(p[inside], np.interp(x[inside], q, QUANTILE_LEVELS), atol=1e-12)
    # far out, a Platt curve fitted on these probabilities still tells every row apart (an exponential tail's did not)
    from forewarn.decide.calibration import Calibrator

    far = x < q[0] - 500
    outcome = (np.random.default_rng(2).uniform(size=len(p)) < p).astype(float)
    assert len(np.unique(Calibrator("platt").fit(p, outcome).transform(p[far]))) == far.sum()


def test_tied_residuals_still_give_a_strictly_increasing_tail() -> None:
    q = np.zeros(len(QUANTILE_LEVELS))  # every held-out residual 0 (a RUL model that is exactly right)
    p = residual_cdf(np.array([-10.0, -1.0, 1.0, 10.0]), q)
    assert np.all(np.diff(p) > 0) and np.all((p > 0) & (p < 1))


def test_a_new_rul_bundle_orders_every_healthy_asset(tmp_path: Path) -> None:
    bundle, X = _bundle(tmp_path / "new")
    assert json.loads((tmp_path / "new" / SPEC_FILE).read_text())["rul_tails"] == RUL_TAILS == "power"
    assert bundle.calibrator is not None and bundle.calibrator.method == "isotonic-platt"  # make_bundle's default
    predicted = bundle.predict(X)
    assert predicted.rul is not None
    healthy = predicted.rul > 120  # far beyond the 24 h horizon: the old rule put all of them at one value
    assert healthy.sum() > 300
    old_raw = rul_failure_probability(
        predicted.rul, 24.0, bundle._residual_edges, bundle._residual_quantiles, tails=""
    )[0]
    assert len(np.unique(old_raw[healthy])) == 1
    order = np.argsort(predicted.rul[healthy])
    rul_levels = len(np.unique(predicted.rul[healthy]))
    assert len(np.unique(predicted.probability[healthy])) == rul_levels
    assert np.all(np.diff(predicted.raw[healthy][order]) <= 0)  # later failure, lower probability, per band


def test_a_rul_bundle_written_before_the_rule_scores_exactly_as_before(tmp_path: Path) -> None:
    bundle, X = _bundle(tmp_path / "old")
    spec_path = tmp_path / "old" / SPEC_FILE
    spec = json.loads(spec_path.read_text())
    del spec["rul_tails"]  # the serving.json every bundle before it has
    spec_path.write_text(json.dumps(spec))
    old = Bundle(tmp_path / "old")
    assert old.spec.rul_tails == ""
    predicted, new = old.predict(X), bundle.predict(X)
    rul = predicted.rul
    assert rul is not None
    band = np.searchsorted(old._residual_edges, rul, side="right")
    raw = np.array(
        [
            np.interp(24.0 - r, old._residual_quantiles[b], QUANTILE_LEVELS, 0.0, 1.0)
            for r, b in zip(rul, band, strict=True)
        ]
    )
    np.testing.assert_array_equal(predicted.raw, raw)
    assert old.calibrator is not None
    np.testing.assert_array_equal(predicted.probability, old.calibrator.transform(raw))
    # intervals do not depend on the tails
    np.testing.assert_array_equal(predicted.rul_low, new.rul_low)
    np.testing.assert_array_equal(predicted.rul_high, new.rul_high)


def test_an_unknown_tail_rule_is_a_clear_error(tmp_path: Path) -> None:
    _bundle(tmp_path / "b")
    spec_path = tmp_path / "b" / SPEC_FILE
    spec_path.write_text(json.dumps({**json.loads(spec_path.read_text()), "rul_tails": "gaussian"}))
    with pytest.raises(StateError, match="rul_tails must be one of"):
        Bundle(tmp_path / "b")
    with pytest.raises(ConfigError, match="unknown RUL probability tails 'gaussian'"):
        rul_failure_probability(np.array([1.0]), 24.0, np.empty(0), np.zeros((1, len(QUANTILE_LEVELS))), "gaussian")
