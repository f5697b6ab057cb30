"""LSTM with attention: learns from the shape of a window, says which steps mattered, reloads exactly."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

pytest.importorskip("torch")

from forewarn.base.persistence import load, save  # noqa: E402
from forewarn.base.registry import get  # noqa: E402
from forewarn.exceptions import ParameterError, SchemaError  # noqa: E402
from forewarn.models.deep.lstm_attention import LSTMAttentionFailure, LSTMAttentionRUL  # noqa: E402

STEPS = 8


def _trend_windows(n=1200, seed=0):
    """Two channels over 8 steps; failure when temperature *rises* fast (its level alone says nothing)."""
    rng = np.random.default_rng(seed)
    offset, slope = rng.normal(0, 3, n), rng.uniform(0, 1, n)
    columns = {f"temp__t{k}": offset + 2 * slope * k + rng.normal(0, 0.5, n) for k in range(STEPS)}
    columns |= {f"vib__t{k}": rng.normal(1, 0.2, n) for k in range(STEPS)}
    X = pd.DataFrame(columns)
    X["hours"] = rng.uniform(0, 1000, n)  # a static column joins after the attention
    y = (slope + rng.normal(0, 0.05, n) > 0.7).astype(int)
    return X, y, slope


def test_registered_for_both_tasks_with_the_sequence_tag():
    for name, task in (("lstm-attention-failure", "failure"), ("lstm-attention-rul", "rul")):
        cls = get(name)
        assert cls.task == task and cls.get_tags()["input"] == "sequence" and cls.get_tags()["deep"]


def test_failure_from_the_trend_of_a_window(tmp_path):
    X, y, _ = _trend_windows()
    model = LSTMAttentionFailure(epochs=8, batch_size=32, calibration_folds=2, seed=0).fit(X[:600], y[:600])
    proba = model.predict_proba(X[600:])
    assert roc_auc_score(y[600:], proba) > 0.85
    again = load(save(model, tmp_path / "failure"))
    assert np.array_equal(again.predict_proba(X[600:]), proba)
    assert np.array_equal(again.attention(X[600:]), model.attention(X[600:]))


def test_rul_and_attention_on_the_step_that_matters(tmp_path):
    rng = np.random.default_rng(1)
    n, wear = 1000, rng.uniform(0, 1, 1000)
    X = pd.DataFrame({f"temp__t{k}": rng.normal(0, 1, n) for k in range(STEPS)})
    X["temp__t5"] = 4 * wear + rng.normal(0, 0.1, n)  # only step 5 carries the wear
    y = 200 * (1 - wear)
    model = LSTMAttentionRUL(epochs=20, batch_size=32, seed=0).fit(X[:500], y[:500])
    pred, truth = model.predict(X[500:]), np.minimum(y[500:], 125)
    assert np.sqrt(np.mean((pred - truth) ** 2)) < 0.35 * np.std(truth)
    weights = model.attention(X[500:])
    assert weights.shape == (500, STEPS) and np.allclose(weights.sum(axis=1), 1.0)
    assert weights.mean(axis=0).argmax() >= 5  # the informative step, or the state just after it
    again = load(save(model, tmp_path / "rul"))
    assert np.array_equal(again.predict(X[500:]), pred)


def test_plain_columns_are_sequences_of_one_step_and_missing_readings_are_taken():
    X, y, slope = _trend_windows(n=600, seed=2)
    plain = X.mask(np.random.default_rng(0).uniform(size=X.shape) < 0.05)[["temp__t0", "temp__t7", "hours"]]
    plain.columns = ["first", "last", "hours"]
    plain["dead"] = np.nan
    model = LSTMAttentionRUL(epochs=10, seed=0).fit(plain, 100 * slope)
    assert model.attention(plain.head(3)).tolist() == [[1.0]] * 3  # plain columns: one step of 4 channels
    assert np.isfinite(model.predict(plain)).all()


@pytest.mark.parametrize(
    "model, message",
    [
        (LSTMAttentionRUL(epochs=0), r"'epochs' parameter of LSTMAttentionRUL must be an int >= 1"),
        (LSTMAttentionRUL(dropout=1.0), "'dropout'"),
        (LSTMAttentionRUL(max_rul=-5.0), "'max_rul'"),
        (LSTMAttentionFailure(hidden=0), "'hidden'"),
        (LSTMAttentionFailure(calibration="beta"), "'calibration'"),
    ],
)
def test_bad_hyper_parameters_are_named(model, message):
    X, y, _ = _trend_windows(n=100)
    with pytest.raises(ParameterError, match=message):
        model.fit(X, y)


def test_windows_with_missing_steps_are_refused():
    X, y, _ = _trend_windows(n=100)
    with pytest.raises(SchemaError, match="lacks steps"):
        LSTMAttentionFailure(epochs=1).fit(X.drop(columns="vib__t3"), y)
