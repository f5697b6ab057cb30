"""FEMTO runner: indicator, alert episodes and metrics on synthetic runs, then one real bearing."""

import numpy as np
import pandas as pd
import pytest

from forewarn.bench import femto
from forewarn.exceptions import ConfigError


def _run_to_failure(n=500, seed=0):
    """Flat noisy features for 80 % of life, then an exponential rise (a degrading bearing)."""
    rng = np.random.default_rng(seed)
    rise = np.where(np.arange(n) > 0.8 * n, np.exp((np.arange(n) - 0.8 * n) / 20), 1.0)
    return pd.DataFrame({f"{f}_{c}": rise * rng.lognormal(0, 0.05, n) for f in femto.FEATURES for c in femto.CHANNELS})


def test_indicator_is_baseline_normalised_and_rises():
    frame = _run_to_failure()
    hi, n_base = femto.HealthIndicator(features=femto.FEATURES).compute(frame)
    assert n_base == 100
    assert abs(hi[20:n_base].mean()) < 0.5 and hi[-1] > 10
    times = np.arange(len(hi)) * 10.0
    metrics = femto.indicator_metrics(hi, times, 5000.0, [])
    assert metrics["trendability_final"] > 0.99 and metrics["lead_time_s"] == 0.0


def test_indicator_uses_only_the_past():
    frame = _run_to_failure()
    full, _ = femto.HealthIndicator(features=("rms",)).compute(frame)
    part, _ = femto.HealthIndicator(features=("rms",), baseline_fraction=0.2 * 500 / 300).compute(frame.iloc[:300])
    np.testing.assert_allclose(part, full[:300])  # same baseline rows -> same values: no look-ahead


def test_alert_episodes_need_persistence_and_close_again():
    indicator = femto.HealthIndicator(features=("rms",), persistence=3)
    hi = np.r_[np.zeros(10), [5, 5, 0, 0, 0, 0], [5, 5, 5, 5, 0, 0, 0, 0], [5, 5, 5, 5, 5]]
    hi[:10] = np.tile([0.1, -0.1], 5)
    threshold, episodes = indicator.episodes(hi, n_base=10)
    assert threshold == pytest.approx(0.3)
    # the 2-step blip is ignored; an episode opens at the 3rd snapshot above and closes at the 3rd below
    assert episodes == [(18, 22), (26, None)]
    metrics = femto.indicator_metrics(hi, np.arange(len(hi)) * 10.0, 330.0, episodes)
    assert metrics["false_alerts"] == 1.0
    assert metrics["lead_time_s"] == 330.0 - 260.0 and metrics["first_alert_lead_s"] == 330.0 - 180.0


def test_unknown_feature_is_refused():
    with pytest.raises(ConfigError, match="no column"):
        femto.HealthIndicator(features=("spectral_flux",)).compute(_run_to_failure())


def test_monotone_rows_report_raw_and_monotone_metrics():
    frame = _run_to_failure()
    result = femto.MODELS["monotone-hi"](0).compute(frame)
    times = np.arange(len(frame)) * 10.0
    metrics = femto.monotone_metrics(result, times, 5000.0)
    assert metrics["negative_increments"] == 0.0 and metrics["false_alerts"] == 0.0
    assert metrics["raw_monotonicity"] == pytest.approx(femto.monotonicity(result.raw))
    assert metrics["trendability"] > metrics["raw_trendability"]  # what the monotone step buys
    assert metrics["lead_time_s"] == 5000.0 - times[result.alert_index] > 0
    assert 400 < result.alert_index < 430  # opens in the rise (from snapshot 400), not in the flat part


def test_real_bearing(shared_data_dir):
    payload = femto.run(None, seeds=5, data_dir=shared_data_dir, bearings=["Bearing2_2"])
    rows = {row["model"]: row for row in payload["results"]}
    assert set(rows) == {f"{name} Bearing2_2" for name in femto.MODELS}
    for row in rows.values():
        assert row["seeds"] == 1  # deterministic: computed once
        assert row["trendability_final"] > 0.5  # rises in the run-up to failure
        assert 0 < row["lead_time_s"] < 7960.1
        assert len(row["series"]["hi"]) == len(row["series"]["raw"]) == 797
    for name in ("monotone-hi", "cumulative-hi"):
        row = rows[f"{name} Bearing2_2"]
        assert row["negative_increments"] == 0.0 and row["false_alerts"] == 0.0
        assert row["trendability"] > row["raw_trendability"] > 0.5
        assert np.all(np.diff(row["series"]["hi"]) >= 0)
    assert payload["primary_metric"] == "trendability" and payload["published"] == []
