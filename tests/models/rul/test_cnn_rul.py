"""The sequence CNN: column layout, learning a degradation pattern, state, and seeded training."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from forewarn.base.persistence import load, save  # noqa: E402
from forewarn.exceptions import ParameterError, SchemaError  # noqa: E402
from forewarn.features.window import sequence_frame  # noqa: E402
from forewarn.models.deep.rul_cnn import CNNRUL, sequence_layout  # noqa: E402


def _fleet(n_units=24, seed=0):
    """Engines whose two sensors drift faster as they near failure; RUL counts down to 0."""
    rng = np.random.default_rng(seed)
    parts = []
    for unit in range(n_units):
        life = int(rng.integers(60, 120))
        rul = np.arange(life)[::-1]
        wear = np.exp(-rul / 30.0)
        parts.append(
            pd.DataFrame(
                {
                    "unit": unit,
                    "cycle": np.arange(life),
                    "rul": rul.astype(float),
                    "temp": 5 * wear + rng.normal(0, 0.3, life),
                    "flow": -3 * wear + rng.normal(0, 0.3, life),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _inputs(frame):
    X = sequence_frame(frame, group="unit", order="cycle", columns=["temp", "flow"], window=12)
    return X.assign(cycle=frame["cycle"].astype(float))


def test_layout_reads_steps_channels_and_static_columns():
    channels, length, seq, static = sequence_layout(["a__t1", "a__t0", "cycle", "b__t0", "b__t1"])
    assert (channels, length, seq, static) == (["a", "b"], 2, [1, 0, 3, 4], [2])
    with pytest.raises(SchemaError, match="lacks steps"):
        sequence_layout(["a__t0", "a__t2"])


def test_learns_remaining_life_on_unseen_units():
    train, test = _fleet(seed=0), _fleet(n_units=8, seed=1)
    model = CNNRUL(epochs=25, max_rul=60, seed=0).fit(_inputs(train), train["rul"])
    pred = model.predict(_inputs(test))
    target = np.minimum(test["rul"], 60)
    assert np.sqrt(np.mean((pred - target) ** 2)) < 0.5 * target.std()
    assert (pred >= 0).all()


def test_seeded_state_and_save_round_trip(tmp_path):
    frame = _fleet(n_units=6)
    X = _inputs(frame)
    a = CNNRUL(epochs=2, seed=3).fit(X, frame["rul"])
    b = CNNRUL(epochs=2, seed=3).fit(X, frame["rul"])
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    state = a.get_state()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert any(k.startswith("net.") for k in state)
    again = load(save(a, tmp_path / "cnn"))
    np.testing.assert_allclose(again.predict(X), a.predict(X))


def test_bad_settings_are_named():
    frame = _fleet(n_units=2)
    with pytest.raises(ParameterError, match="'activation' parameter of CNNRUL must be a str among"):
        CNNRUL(activation="gelu").fit(_inputs(frame), frame["rul"])
    with pytest.raises(SchemaError, match="non-negative"):
        CNNRUL(epochs=1).fit(_inputs(frame), -frame["rul"] - 1)
