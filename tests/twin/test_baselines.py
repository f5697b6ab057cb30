"""The corpus' families of normal behaviour (forewarn.twin.baselines): shapes, domains, reproducibility, and the
default corpus unchanged by their arrival."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import ConfigError
from forewarn.twin.anomalies import (
    BASELINES,
    REALISTIC,
    SeriesConfig,
    make_corpus,
    read_corpus,
    synthetic_series,
    write_corpus,
)
from forewarn.twin.baselines import series_parts


def _digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False, float_format="%.9g").encode()).hexdigest()[:16]


def _corpus_digest(corpus: list) -> str:
    h = hashlib.sha256()
    for series in corpus:
        h.update(_digest(series.frame).encode())
        h.update(repr(series.labels).encode())
        h.update(series.name.encode())
    return h.hexdigest()[:16]


def test_the_default_series_and_corpus_are_as_before_the_families() -> None:
    # digests computed at the code before the families existed (commit 8c232e8)
    assert _digest(synthetic_series(SeriesConfig(), seed=0)) == "e6b8c0c68d6fdab4"
    gappy = SeriesConfig(n_rows=500, n_channels=2, gaps=True, irregular=True)
    assert _digest(synthetic_series(gappy, seed=3)) == "1c2d843d94cb8aae"
    assert _corpus_digest(make_corpus(seed=0)) == "48e266b8552a6b4c"
    assert _corpus_digest(make_corpus(seed=0, n_twin=0, n_rows=1000)) == "04230464bfea36c8"
    assert _corpus_digest(make_corpus(seed=0, n_twin=0, n_rows=1000, baselines=["gaussian"])) == "04230464bfea36c8"


@pytest.mark.parametrize("family", BASELINES)
def test_each_family_has_the_configured_shape_and_is_reproducible(family: str) -> None:
    config = SeriesConfig(n_rows=1500, n_channels=3, freq="15min", baseline=family)
    frame = synthetic_series(config, seed=4)
    assert list(frame.columns) == ["timestamp", "value_0", "value_1", "value_2"]
    assert len(frame) == 1500 and frame["timestamp"].is_monotonic_increasing
    values = frame.drop(columns="timestamp").to_numpy()
    assert np.isfinite(values).all() and (values.std(axis=0) > 0).all()
    pd.testing.assert_frame_equal(frame, synthetic_series(config, seed=4))
    assert not frame.equals(synthetic_series(config, seed=5))


def test_counts_are_whole_numbers_with_zeros_and_stay_counts_after_injection() -> None:
    values = np.hstack(
        [
            synthetic_series(SeriesConfig(n_rows=2000, n_channels=2, baseline="counts"), seed=s)
            .drop(columns="timestamp")
            .to_numpy()
            .ravel()
            for s in range(4)
        ]
    )
    assert (values == np.round(values)).all() and (values >= 0).all()
    assert (values == 0).mean() > 0.02
    for series in make_corpus(seed=1, n_synthetic=3, n_twin=0, n_rows=800, baselines=["counts"]):
        injected = series.frame.drop(columns="timestamp").to_numpy()
        assert series.labels and (injected == np.round(injected)).all() and (injected >= 0).all()


def test_multiplicative_is_positive_and_its_spread_grows_with_its_level() -> None:
    frame = synthetic_series(SeriesConfig(n_rows=4000, n_channels=4, baseline="multiplicative"), seed=2)
    values = frame.drop(columns="timestamp").to_numpy()
    assert (values > 0).all()
    # across channels of very different levels, the spread is about a fixed share of the level
    ratio = values.std(axis=0) / values.mean(axis=0)
    assert np.ptp(np.log(values.mean(axis=0))) > 1.0 and ratio.max() / ratio.min() < 6


def test_steps_are_flat_stretches_and_sawtooth_drops() -> None:
    steps = synthetic_series(SeriesConfig(n_rows=3000, n_channels=1, baseline="steps"), seed=6)["value"].to_numpy()
    jumps = np.abs(np.diff(steps))
    assert 1 <= (jumps > 10 * np.median(jumps)).sum() <= 4
    saw = synthetic_series(SeriesConfig(n_rows=3000, n_channels=1, baseline="sawtooth"), seed=6)["value"].to_numpy()
    drops = np.diff(saw) < -5 * np.median(np.abs(np.diff(saw)))
    assert drops.sum() >= 3 and np.diff(np.flatnonzero(drops)).min() >= 30


def test_business_hours_differ_from_nights_and_weekends() -> None:
    frame = synthetic_series(SeriesConfig(n_rows=4000, n_channels=1, freq="15min", baseline="business_hours"), seed=3)
    hour, weekday = frame["timestamp"].dt.hour, frame["timestamp"].dt.day_of_week
    noise = np.median(np.abs(np.diff(frame["value"].to_numpy())))
    shifted = [
        abs(frame["value"][(weekday < 5) & (hour == h)].mean() - frame["value"][weekday >= 5].mean()) for h in range(24)
    ]
    assert max(shifted) > 3 * noise and min(shifted) < max(shifted) / 2


def test_bursty_load_comes_in_short_bursts_shared_by_the_channels() -> None:
    times = pd.date_range("2024-01-01", periods=4000, freq="5min", tz="UTC")
    hours = (times - times[0]).total_seconds().to_numpy() / 3600.0
    for seed in range(6):
        bursts = series_parts("bursty", np.random.default_rng(seed), times, hours, 5 / 60)["bursts"]
        on = bursts > 0
        assert 0 < on.mean() < 0.15
        edges = np.flatnonzero(np.diff(np.r_[0, on.astype(int), 0]))
        assert (edges[1::2] - edges[::2]).max() <= 24  # at most two hours at 5 min
    frame = synthetic_series(SeriesConfig(n_rows=4000, n_channels=2, baseline="bursty", daily=False), seed=8)
    assert (frame.drop(columns="timestamp").std() > 0).all()


def test_a_realistic_corpus_draws_every_family_and_round_trips(tmp_path) -> None:
    corpus = make_corpus(seed=3, n_synthetic=8, n_twin=1, n_rows=600, baselines=REALISTIC)
    assert sorted(s.baseline for s in corpus if s.source == "synthetic") == sorted(REALISTIC)
    assert [s.baseline for s in corpus if s.source == "twin"] == ["twin"]
    again = read_corpus(write_corpus(corpus, tmp_path))
    assert [s.baseline for s in again] == [s.baseline for s in corpus]
    plain = make_corpus(seed=3, n_synthetic=8, n_twin=0, n_rows=600)
    # the same shapes and anomaly plans as the standard corpus; only the normal behaviour changed
    assert [(s.name, s.channels, s.labels) for s in corpus[:8]] == [(s.name, s.channels, s.labels) for s in plain]


def test_unknown_families_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown baseline"):
        SeriesConfig(baseline="lognormal")
    with pytest.raises(ConfigError, match="unknown baseline families"):
        make_corpus(seed=0, n_synthetic=1, n_twin=0, n_rows=300, baselines=["gaussian", "poisson"])
