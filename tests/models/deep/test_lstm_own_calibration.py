"""The LSTM's own calibration is the isotonic-Platt blend, as every failure model's: its probabilities keep the
order of its margins (no plateau beyond the isotonic end knots), and a network saved with ``isotonic`` scores
exactly as before (the method travels in the manifest's params)."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

pytest.importorskip("torch")

from forewarn.base.calibration import ISOTONIC_PLATT, piecewise_linear  # noqa: E402
from forewarn.base.persistence import MANIFEST, load, save  # noqa: E402
from forewarn.models.deep.lstm_attention import LSTMAttentionFailure  # noqa: E402

STEPS = 6


def _windows(n: int = 900, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """One channel over 6 steps; failure (rare) when it rises fast."""
    rng = np.random.default_rng(seed)
    slope = rng.uniform(0, 1, n)
    X = pd.DataFrame({f"temp__t{k}": 2 * slope * k + rng.normal(0, 0.5, n) for k in range(STEPS)})
    return X, (slope + rng.normal(0, 0.3, n) > 1.0).astype(int)


def _net(**params: object) -> LSTMAttentionFailure:
    return LSTMAttentionFailure(epochs=3, batch_size=64, hidden=8, attention_units=4, dense=8, seed=0).set_params(
        calibration_folds=2, **params
    )


def test_the_default_is_the_blend_and_it_orders_every_margin() -> None:
    assert LSTMAttentionFailure().get_params()["calibration"] == ISOTONIC_PLATT
    X, y = _windows()
    X_new, y_new = _windows(seed=1)
    blend = _net().fit(X, y)
    iso = _net(calibration="isotonic").fit(X, y)
    margin = blend.margin(X_new)
    np.testing.assert_array_equal(margin, iso.margin(X_new))  # the same networks: only the map differs
    proba = blend.predict_proba(X_new)
    order = np.argsort(margin, kind="stable")
    # strictly rising with the margin wherever float64 can tell (the logistic reads 0 below about 1e-16)
    rising = (np.diff(margin[order]) > 0) & (proba[order][:-1] > 1e-12)
    assert rising.sum() > len(margin) // 2 and np.all(np.diff(proba[order])[rising] > 0)
    assert len(np.unique(iso.predict_proba(X_new))) < len(np.unique(margin)) // 2  # the plain map's plateaus
    assert roc_auc_score(y_new, proba) == pytest.approx(roc_auc_score(y_new, margin), abs=1e-12)


def test_a_network_saved_with_isotonic_scores_exactly_as_before(tmp_path) -> None:
    X, y = _windows()
    model = _net(calibration="isotonic").fit(X, y)
    folder = save(model, tmp_path / "lstm")
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["params"]["calibration"] == "isotonic"
    again = load(folder)
    assert again.get_params()["calibration"] == "isotonic"
    expected = piecewise_linear(again.margin(X), model.calibration_a_, model.calibration_b_)
    np.testing.assert_array_equal(again.predict_proba(X), expected)
