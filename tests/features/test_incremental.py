"""The incremental window features equal the batch ones, reading by reading and in micro-batches."""

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import SchemaError, StateError
from forewarn.features.incremental import IncrementalWindowFeatures
from forewarn.features.window import window_features


def _readings(seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for unit in range(5):
        n = int(rng.integers(5, 60))
        parts.append(
            pd.DataFrame(
                {
                    "unit": unit,
                    "cycle": np.arange(n),
                    "s1": 640 + np.cumsum(rng.normal(0.05, 0.5, n)),
                    "s2": rng.normal(1590, 6, n),
                    "s3": rng.normal(0, 1, n),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame[["s2", "s3"]] = frame[["s2", "s3"]].mask(rng.random((len(frame), 2)) < 0.1)
    return frame.sort_values(["cycle", "unit"], kind="stable").reset_index(drop=True)  # interleaved assets


COLUMNS = ["s1", "s2", "s3"]


@pytest.mark.parametrize("window", [1, 4, 30])
def test_reading_by_reading_equals_batch(window):
    frame = _readings(window)
    batch = window_features(frame, group="unit", order="cycle", columns=COLUMNS, window=window, ewm_span=7)
    online = IncrementalWindowFeatures(COLUMNS, window=window, ewm_span=7)
    rows = [
        online.update(u, r, order=c)
        for u, c, r in zip(frame["unit"], frame["cycle"], frame[COLUMNS].to_numpy(), strict=True)
    ]
    assert online.feature_names == batch.columns.tolist()
    np.testing.assert_allclose(np.vstack(rows), batch.to_numpy(), rtol=1e-9, atol=1e-9, equal_nan=True)


def test_micro_batches_and_state_round_trip_equal_batch():
    frame = _readings(1).assign(unit=lambda f: "pump-" + f["unit"].astype(str))
    batch = window_features(frame, group="unit", order="cycle", columns=COLUMNS, window=10)
    online = IncrementalWindowFeatures(COLUMNS, window=10)
    cuts = [0, 7, 40, 41, 120, len(frame)]
    pieces = []
    for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
        pieces.append(online.update_frame(frame.iloc[start:stop], group="unit", order="cycle"))
        # hand the state over to a fresh instance (as a restarted scorer would) before the next micro-batch
        online = IncrementalWindowFeatures(COLUMNS, window=10).set_state(online.get_state())
    np.testing.assert_allclose(pd.concat(pieces).to_numpy(), batch.to_numpy(), rtol=1e-9, atol=1e-9, equal_nan=True)


def test_real_cmapss_engine_equals_batch(shared_data_dir):
    from forewarn.datasets.cmapss import load_cmapss

    train = load_cmapss("FD001", shared_data_dir).train
    engines = train[train["unit"] <= 3]
    columns = ["sensor_2", "sensor_7", "sensor_11"]
    batch = window_features(engines, group="unit", order="cycle", columns=columns, window=30)
    online = IncrementalWindowFeatures(columns, window=30).update_frame(engines, group="unit", order="cycle")
    np.testing.assert_allclose(online.to_numpy(), batch.to_numpy(), rtol=1e-9, atol=1e-9)


def test_late_reading_and_wrong_width_are_rejected():
    online = IncrementalWindowFeatures(["a"], window=3)
    online.update("p", [1.0], order=5)
    with pytest.raises(StateError, match="not after"):
        online.update("p", [2.0], order=5)
    with pytest.raises(SchemaError, match="expected 1"):
        online.update("p", [1.0, 2.0], order=6)
    online.reset("p")
    assert online.update("p", [4.0], order=1).tolist()[0] == 4.0
