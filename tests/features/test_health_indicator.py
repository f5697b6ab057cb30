"""The monotone health indicator: causal, monotone, alert level from the baseline only."""

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import ConfigError
from forewarn.features.health_indicator import MonotoneHealthIndicator, first_persistent_crossing


def _run_to_failure(n=400, seed=0):
    """Flat noisy features for 70 % of life, then an exponential rise on every feature."""
    rng = np.random.default_rng(seed)
    rise = np.where(np.arange(n) > 0.7 * n, np.exp((np.arange(n) - 0.7 * n) / 25), 1.0)
    return pd.DataFrame(
        {f"{f}_{c}": rise * rng.lognormal(0, 0.1, n) for f in ("rms", "kurtosis", "envelope_rms") for c in ("h", "v")}
    )


@pytest.mark.parametrize("rule", ["max", "cumulative"])
def test_future_data_does_not_change_past_values(rule):
    frame = _run_to_failure()
    indicator = MonotoneHealthIndicator(baseline_snapshots=100, monotone=rule)
    full = indicator.compute(frame)
    perturbed = frame.copy()
    perturbed.iloc[250:] *= np.random.default_rng(1).lognormal(0, 2.0, perturbed.iloc[250:].shape)
    changed = indicator.compute(perturbed)
    np.testing.assert_array_equal(changed.raw[:250], full.raw[:250])
    np.testing.assert_array_equal(changed.monotone[:250], full.monotone[:250])
    assert not np.allclose(changed.raw[250:], full.raw[250:])  # the perturbation did reach the future
    truncated = indicator.compute(frame.iloc[:250])  # and the future need not exist at all
    np.testing.assert_array_equal(truncated.monotone, full.monotone[:250])
    assert changed.level == full.level  # the alert level comes from the baseline only


def test_monotone_rules_never_fall_and_rise_to_failure():
    frame = _run_to_failure()
    for rule in ("max", "cumulative"):
        hi = MonotoneHealthIndicator(baseline_snapshots=100, monotone=rule).compute(frame)
        assert np.all(np.diff(hi.monotone) >= 0)
        assert hi.monotone[-1] == hi.monotone.max() > hi.monotone[279]
    raw = MonotoneHealthIndicator(baseline_snapshots=100).compute(frame).raw
    assert np.any(np.diff(raw) < 0)  # the raw indicator is noisy: the monotone step does something
    cumulative = MonotoneHealthIndicator(baseline_snapshots=100, monotone="cumulative").compute(frame)
    assert cumulative.monotone[250] < 0.01 * cumulative.monotone[-1]  # little accumulates in the healthy part


def test_alert_opens_after_the_degradation_starts_and_not_in_the_healthy_part():
    hi = MonotoneHealthIndicator(baseline_snapshots=100).compute(_run_to_failure())
    assert hi.alert_index is not None and 280 < hi.alert_index < 330
    healthy = MonotoneHealthIndicator(baseline_snapshots=100).compute(_run_to_failure().iloc[:270])
    assert healthy.alert_index is None


def test_one_sided_fusion_ignores_features_that_fall():
    frame = _run_to_failure()
    falling = frame.copy()
    falling["envelope_rms_h"] = np.r_[np.ones(280), np.full(120, 1e-3)] * np.random.default_rng(2).lognormal(
        0, 0.1, 400
    )
    a = MonotoneHealthIndicator(baseline_snapshots=100, features=("rms",)).compute(frame).raw
    b = MonotoneHealthIndicator(baseline_snapshots=100, features=("rms",)).compute(falling).raw
    np.testing.assert_array_equal(a, b)  # columns outside ``features`` are not used
    fused = MonotoneHealthIndicator(baseline_snapshots=100).compute(falling).raw
    assert fused[-1] > 0.5 * MonotoneHealthIndicator(baseline_snapshots=100).compute(frame).raw[-1]


def test_bad_settings_are_refused():
    frame = _run_to_failure()
    with pytest.raises(ConfigError, match="monotone"):
        MonotoneHealthIndicator(monotone="sorted").compute(frame)
    with pytest.raises(ConfigError, match="baseline"):
        MonotoneHealthIndicator(baseline_snapshots=400).compute(frame)
    with pytest.raises(ConfigError, match="no column"):
        MonotoneHealthIndicator(features=("crest",)).compute(frame)


def test_first_persistent_crossing():
    values = np.array([0, 0, 2, 2, 0, 2, 2, 2, 2])
    assert first_persistent_crossing(values, 1.0, 0, 3) == 7
    assert first_persistent_crossing(values, 1.0, 0, 1) == 2
    assert first_persistent_crossing(values, 5.0, 0, 1) is None
