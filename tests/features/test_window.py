"""Window features against a plain per-row reference, no look-ahead, and bad input."""

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import SchemaError
from forewarn.features.window import STATS, sequence_frame, window_features


def _frame(seed=0, n_units=4, nan_share=0.15):
    rng = np.random.default_rng(seed)
    rows = []
    for unit in range(n_units):
        length = int(rng.integers(1, 40))
        cycles = np.arange(1, length + 1)
        rows.append(
            pd.DataFrame(
                {
                    "unit": f"u{unit}",
                    "cycle": cycles,
                    "a": 100 + np.cumsum(rng.normal(0, 1, length)),
                    "b": rng.normal(0, 5, length),
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    frame[["a", "b"]] = frame[["a", "b"]].mask(rng.random((len(frame), 2)) < nan_share)
    return frame.sample(frac=1.0, random_state=seed).set_index(np.arange(len(frame)) * 3 + 7)  # shuffled, odd index


def _reference(frame, column, window, span):
    """Plain loops: the definition of every statistic."""
    out = {}
    alpha = 2 / (span + 1)
    for _, unit in frame.sort_values("cycle").groupby("unit"):
        ewm = np.nan
        values = unit[column].to_numpy()
        for i, index in enumerate(unit.index):
            win = values[max(0, i - window + 1) : i + 1]
            ok = win[np.isfinite(win)]
            t = np.arange(len(win))[np.isfinite(win)]
            x = values[i]
            if np.isfinite(x):
                ewm = x if np.isnan(ewm) else (1 - alpha) * ewm + alpha * x
            slope = np.polyfit(t, ok, 1)[0] if len(ok) > 1 else (0.0 if len(ok) else np.nan)
            out[index] = {
                "mean": ok.mean() if len(ok) else np.nan,
                "std": ok.std() if len(ok) else np.nan,
                "min": ok.min() if len(ok) else np.nan,
                "max": ok.max() if len(ok) else np.nan,
                "last": x,
                "slope": slope,
                "ewm": ewm,
                "diff": win[-1] - win[0],
            }
    return pd.DataFrame.from_dict(out, orient="index")


@pytest.mark.parametrize("window", [1, 3, 10])
def test_matches_plain_reference(window):
    frame = _frame(seed=window)
    got = window_features(frame, group="unit", order="cycle", columns=["a", "b"], window=window, ewm_span=5)
    assert got.index.equals(frame.index)
    for column in ("a", "b"):
        want = _reference(frame, column, window, span=5).loc[frame.index]
        for stat in STATS:
            np.testing.assert_allclose(
                got[f"{column}__{stat}"], want[stat], rtol=1e-7, atol=1e-7, equal_nan=True, err_msg=f"{column}__{stat}"
            )


def test_no_look_ahead():
    frame = _frame(seed=3, nan_share=0.0)
    full = window_features(frame, group="unit", order="cycle", columns=["a", "b"], window=5)
    early = frame[frame["cycle"] <= 6]
    cut = window_features(early, group="unit", order="cycle", columns=["a", "b"], window=5)
    pd.testing.assert_frame_equal(cut, full.loc[early.index])
    seq_full = sequence_frame(frame, group="unit", order="cycle", columns=["a"], window=4)
    seq_cut = sequence_frame(early, group="unit", order="cycle", columns=["a"], window=4)
    pd.testing.assert_frame_equal(seq_cut, seq_full.loc[early.index])


def test_sequence_frame_orders_steps_and_pads_with_first_reading():
    frame = pd.DataFrame(
        {"unit": [1, 1, 1, 2], "cycle": [3, 1, 2, 1], "a": [30.0, 10.0, 20.0, 5.0], "b": [3.0, 1.0, 2.0, 0.5]}
    )
    out = sequence_frame(frame, group="unit", order="cycle", columns=["a", "b"], window=2)
    assert out.columns.tolist() == ["a__t0", "a__t1", "b__t0", "b__t1"]
    assert out.loc[0].tolist() == [20.0, 30.0, 2.0, 3.0]
    assert out.loc[1].tolist() == [10.0, 10.0, 1.0, 1.0]  # first cycle: padded with itself
    assert out.loc[3].tolist() == [5.0, 5.0, 0.5, 0.5]


def test_large_offsets_keep_precision():
    n = 200_000
    t = np.arange(n)
    frame = pd.DataFrame({"unit": 1, "cycle": t, "a": 1e4 + 0.001 * t + np.sin(t)})
    out = window_features(frame, group="unit", order="cycle", columns=["a"], window=30, stats=("slope", "std"))
    tail = frame["a"].to_numpy()[-30:]
    assert out["a__slope"].iloc[-1] == pytest.approx(np.polyfit(np.arange(30), tail, 1)[0], rel=1e-6)
    assert out["a__std"].iloc[-1] == pytest.approx(tail.std(), rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"columns": ["nope"]}, "missing column"),
        ({"columns": ["a"], "stats": ("median",)}, "unknown statistic"),
        ({"columns": ["a"], "window": 0}, "window must be"),
        ({"columns": "a"}, "list of column names"),
    ],
)
def test_bad_input_is_named(kwargs, fragment):
    frame = _frame()
    with pytest.raises(SchemaError, match=fragment):
        window_features(frame, group="unit", order="cycle", **kwargs)
