"""A bundle keeps its calibrator's method: a new one serves the isotonic-Platt blend, an old isotonic one maps as
before (the calibrator state is the serving spec's JSON, read through ``decide.calibration.Calibrator``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from forewarn.base.calibration import piecewise_linear
from forewarn.bundles.bundle import Bundle, make_bundle
from forewarn.decide.calibration import ISOTONIC_PLATT, Calibrator
from forewarn.features.last_row import feature_names
from forewarn.features.window import DEFAULT_STATS
from forewarn.models.failure.logistic_failure import LogisticFailure

NAMES = feature_names(("temp",), DEFAULT_STATS)


def _bundle(folder: Path, calibrator: Calibrator) -> tuple[Bundle, pd.DataFrame]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(600, len(NAMES))), columns=NAMES)
    y = (rng.uniform(size=600) < 1 / (1 + np.exp(-(2 * X["temp__mean"] - 3)))).astype(float).to_numpy()
    model = LogisticFailure(seed=0).fit(X, y)
    make_bundle(
        model, folder, channels=("temp",), window=3, horizon=24.0, X_holdout=X, y_holdout=y, calibrator=calibrator
    )
    return Bundle(folder), X


def test_a_new_bundle_serves_the_blend_and_keeps_every_rank(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    raw = rng.uniform(size=800)
    blend = Calibrator(ISOTONIC_PLATT).fit(raw, (rng.uniform(size=800) < raw).astype(float))
    bundle, X = _bundle(tmp_path / "new", blend)
    spec = json.loads(next((tmp_path / "new").glob("serving*.json")).read_text())
    assert spec["calibration"]["method"] == ISOTONIC_PLATT
    assert bundle.calibrator is not None and bundle.calibrator.method == ISOTONIC_PLATT
    predicted = bundle.predict(X)
    np.testing.assert_array_equal(predicted.probability, blend.transform(predicted.raw))
    # distinct raw outputs, distinct probabilities (the model's own ties, from its own isotonic ends, stay ties)
    assert len(np.unique(predicted.probability)) == len(np.unique(predicted.raw))
    assert np.all(np.diff(blend.transform(np.unique(predicted.raw))) > 0)


def test_an_old_isotonic_bundle_scores_exactly_as_before(tmp_path: Path) -> None:
    old = Calibrator().set_state({"method": "isotonic", "x": [0.1, 0.4, 0.8], "y": [0.0, 0.2, 0.9]})
    bundle, X = _bundle(tmp_path / "old", old)
    spec = json.loads(next((tmp_path / "old").glob("serving*.json")).read_text())
    assert spec["calibration"] == {"method": "isotonic", "x": [0.1, 0.4, 0.8], "y": [0.0, 0.2, 0.9]}
    predicted = bundle.predict(X)
    expected = piecewise_linear(predicted.raw, np.array([0.1, 0.4, 0.8]), np.array([0.0, 0.2, 0.9]))
    np.testing.assert_array_equal(predicted.probability, expected)
    assert bundle.calibrator is not None and bundle.calibrator.method == "isotonic"
