"""Features against an asset life's own baseline: hand-computed values, lives restarted by renewals, no look-ahead,
and a service's frame (baseline rows + recent history) agreeing with training's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import SchemaError
from forewarn.features.baseline import baseline_features, baseline_names, baseline_rows, baseline_span, life_starts

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def hourly(values: dict[str, list[float]], asset: str = "a", start: pd.Timestamp = T0) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    return pd.DataFrame({"asset_id": asset, "ts": pd.date_range(start, periods=n, freq="1h"), **values})


def test_one_channel_by_hand() -> None:
    # baseline = first 4 h: 1, 3, 1, 3 -> mean 2, population std 1; z of 4 and 8: 2 and 6.
    # PCA of the baseline z (-1, 1, -1, 1): one component, variance 4 / 3 -> T2 = z^2 * 3 / 4; Q = 0.
    frame = hourly({"t": [1.0, 3.0, 1.0, 3.0, 4.0, 8.0]})
    rows = baseline_rows(frame, columns=["t"], baseline_hours=4, renewals=None)
    assert np.isnan(rows[:4]).all()
    np.testing.assert_allclose(rows[4:], [[2.0, 3.0, 0.0], [6.0, 27.0, 0.0]], atol=1e-12)
    out = baseline_features(frame, columns=["t"], window=2, baseline_hours=4, renewals=None)
    assert list(out.columns) == baseline_names(["t"]) == ["t__base_z", "base__t2", "base__q"]
    # trailing 2-row means: row 4 sees (NaN, 2) -> 2; row 5 sees (2, 6) -> 4; T2 (3, 27) -> 15
    np.testing.assert_allclose(out.iloc[4:].to_numpy(), [[2.0, 3.0, 0.0], [4.0, 15.0, 0.0]], atol=1e-12)


def test_q_reads_a_broken_correlation() -> None:
    # two channels equal in the baseline: one component along (1, 1)/sqrt(2) holds all the variance; a row with
    # z = (1, -1) has score 0 (T2 = 0) and residual (1, -1): Q = 2. A row with z = (1, 1): score sqrt(2), Q = 0.
    base = [1.0, 3.0, 1.0, 3.0]
    frame = hourly({"a": [*base, 3.0, 3.0], "b": [*base, 1.0, 3.0]})
    rows = baseline_rows(frame, columns=["a", "b"], baseline_hours=4, renewals=None)
    np.testing.assert_allclose(rows[4], [1.0, -1.0, 0.0, 2.0], atol=1e-12)
    # variance of the scores in the baseline: (sqrt(2))^2 * 4 / 3 = 8 / 3; T2 = 2 / (8 / 3) = 0.75
    np.testing.assert_allclose(rows[5], [1.0, 1.0, 0.75, 0.0], atol=1e-12)


def test_a_renewal_starts_a_new_baseline() -> None:
    values = [1.0, 3.0, 1.0, 3.0, 4.0, 10.0, 12.0, 10.0, 12.0, 14.0]
    frame = hourly({"t": values})
    renewed = pd.DataFrame({"asset_id": ["a"], "ts": [T0 + pd.Timedelta(hours=5)]})
    starts = life_starts(frame["asset_id"].to_numpy(), frame["ts"], renewed)
    assert (starts[:5] == T0.tz_localize(None).to_datetime64()).all()
    assert (starts[5:] == (T0 + pd.Timedelta(hours=5)).tz_localize(None).to_datetime64()).all()
    rows = baseline_rows(frame, columns=["t"], baseline_hours=4, renewals=renewed)
    assert rows[4, 0] == pytest.approx(2.0)  # first life: (4 - 2) / 1
    assert np.isnan(rows[5:9]).all()  # the new life's baseline (10, 12, 10, 12) is in progress
    assert rows[9, 0] == pytest.approx(3.0)  # (14 - 11) / 1
    # a renewal before the first row does not move the first life's start
    early = pd.DataFrame({"asset_id": ["a"], "ts": [T0 - pd.Timedelta(days=3)]})
    assert (life_starts(frame["asset_id"].to_numpy(), frame["ts"], early) == starts[0]).all()


def test_no_look_ahead_and_a_service_frame_agrees() -> None:
    rng = np.random.default_rng(3)
    n = 300
    frame = hourly({"x": rng.normal(5, 1, n), "y": rng.normal(0, 2, n), "z": rng.normal(9, 0.5, n)})
    frame.loc[40, "y"] = np.nan
    other = hourly({"x": rng.normal(1, 1, 50), "y": rng.normal(0, 1, 50), "z": rng.normal(0, 1, 50)}, asset="b")
    both = pd.concat([frame, other], ignore_index=True).sample(frac=1.0, random_state=0)  # any row order
    full = baseline_features(both, columns=["x", "y", "z"], window=12, baseline_hours=48, renewals=None)
    full_a = full.loc[frame.index]
    cut = baseline_features(frame.iloc[:200], columns=["x", "y", "z"], window=12, baseline_hours=48, renewals=None)
    np.testing.assert_allclose(cut.to_numpy(), full_a.iloc[:200].to_numpy(), rtol=0, atol=1e-12)
    # what a service reads: the baseline span, then the last history rows (a gap in between)
    first, end = baseline_span(frame["ts"].iloc[0], 48)
    base = frame[(frame["ts"] >= first) & (frame["ts"] < end)]
    served = pd.concat([base, frame.tail(30)], ignore_index=True)
    last = baseline_features(served, columns=["x", "y", "z"], window=12, baseline_hours=48, renewals=None).iloc[-1]
    np.testing.assert_allclose(last.to_numpy(), full_a.iloc[-1].to_numpy(), rtol=0, atol=1e-9)


def test_flat_and_missing_channels_are_left_out() -> None:
    frame = hourly({"flat": [2.0] * 6, "gone": [np.nan] * 6, "t": [1.0, 3.0, 1.0, 3.0, 5.0, 5.0]})
    rows = baseline_rows(frame, columns=["flat", "gone", "t"], baseline_hours=4, renewals=None)
    assert np.isnan(rows[4:, :2]).all()
    np.testing.assert_allclose(rows[4:, 2:], [[3.0, 6.75, 0.0], [3.0, 6.75, 0.0]], atol=1e-12)


def test_bad_input_is_named() -> None:
    with pytest.raises(SchemaError, match="'t'"):
        baseline_rows(hourly({"x": [1.0]}), columns=["t"], baseline_hours=4, renewals=None)
    with pytest.raises(SchemaError, match="baseline_hours"):
        baseline_rows(hourly({"t": [1.0]}), columns=["t"], baseline_hours=0, renewals=None)


def test_a_frame_whose_rows_all_precede_the_renewals_starts_at_its_first_row() -> None:
    ts = pd.Series(pd.to_datetime(["2024-01-01 21:00"], utc=True))
    renewed = pd.DataFrame({"asset_id": ["a"], "ts": pd.to_datetime(["2024-01-01 21:54"], utc=True)})
    assert life_starts(np.array(["a"]), ts, renewed).tolist() == [np.datetime64("2024-01-01T21:00", "us")]


def test_the_window_does_not_reach_back_across_a_renewal() -> None:
    ts = pd.date_range("2024-01-01", periods=8, freq="1h", tz="UTC")
    frame = pd.DataFrame({"asset_id": "a", "ts": ts, "t": [1.0, 3.0, 1.0, 3.0, 4.0, 8.0, 2.0, 2.0]})
    renewed = pd.DataFrame({"asset_id": ["a"], "ts": [ts[6]]})
    out = baseline_features(frame, columns=["t"], window=3, baseline_hours=4, renewals=renewed)
    # old life: baseline rows 0-3 (mean 2, std 1); z of rows 4, 5 = 2, 6; window means over present values
    assert out["t__base_z"].tolist()[4:6] == [2.0, 4.0]
    # the new life (from row 6) has no complete baseline: NaN, not the old life's rows 4 and 5
    assert np.isnan(out["t__base_z"].to_numpy()[6:]).all()
