"""Whose "1 SD" an offset is, and what the resolution of the readings does to the offset test's power.

A day's mean is the same whether it is taken over 144 ten-minute readings or over their 24 hourly means, and the
offset test's variance is the reference days' own day-to-day covariance (measured, not the reading's variance over
the row count), so the z of a given offset does not depend on the step the monitor reads at; what it depends on is
how many independent readings a day holds *in units of the SD the offset is measured in*. For white noise read every
10 minutes, an offset of 1 SD of the reading is sqrt(144) = 12 standard errors of the day mean, but 1 SD of the
hourly mean is 1 / sqrt(6) of that: sqrt(24), about 4.9, at any resolution. A slowly wandering (autocorrelated)
channel keeps its honest, much larger day-mean variance: no false flags from it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.monitor.drift import day_drift, fit_reference
from forewarn.twin.changes import SensorOffset, apply_changes

STEPS = 144  # ten-minute readings a day
DAYS = 70
AT = 55  # the day the offset starts
REFERENCE = 45  # days of reference


def readings(seed: int = 0) -> pd.DataFrame:
    """Ten-minute readings: three sensors on one load (a, b = 2 a, c = a + 10), a white-noise sensor ``n`` (SD 1
    per reading) and a slow AR(1) sensor ``s`` (coefficient 0.995 per reading, a memory of about 1.4 days: its
    day means wander almost as much as its readings, far more than the 1 / 12 of its SD a white channel's would)."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-01-01", periods=DAYS * STEPS, freq="10min", tz="UTC")
    load = rng.normal(size=len(ts))
    slow = np.zeros(len(ts))
    shocks = rng.normal(size=len(ts)) * np.sqrt(1 - 0.995**2)
    for i in range(1, len(ts)):
        slow[i] = 0.995 * slow[i - 1] + shocks[i]
    return pd.DataFrame(
        {
            "asset_id": "p1",
            "ts": ts,
            "speed": 1000 + 10 * rng.normal(size=len(ts)),
            "a": load + rng.normal(0, 0.05, len(ts)),
            "b": 2 * load + rng.normal(0, 0.1, len(ts)),
            "c": load + 10 + rng.normal(0, 0.05, len(ts)),
            "n": rng.normal(size=len(ts)),
            "s": slow,
        }
    )


CHANNELS = ["speed", "a", "b", "c", "n", "s"]


def hourly(frame: pd.DataFrame) -> pd.DataFrame:
    """The readings averaged to the hour, as the monitor reads a store at a model's 1-hour interval."""
    return frame.groupby(frame["ts"].dt.floor("1h")).mean(numeric_only=True).reset_index().assign(asset_id="p1")


def offset_row(frame: pd.DataFrame, size: float) -> tuple[pd.Series, pd.DataFrame]:
    """The offset test's row for ``n`` on the offset's first day, and the whole day table."""
    at = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=AT)
    reference = fit_reference(frame[frame["ts"] < frame["ts"].iloc[0] + pd.Timedelta(days=REFERENCE)], CHANNELS)
    changed = apply_changes(frame, [SensorOffset("p1", "n", at, size)]) if size else frame
    days = day_drift(reference, changed[changed["ts"] >= changed["ts"].iloc[0] + pd.Timedelta(days=REFERENCE)])
    return days[(days["day"] == at) & (days["channel"] == "n")].iloc[0], days


def test_the_offset_z_does_not_depend_on_the_step_the_readings_are_averaged_to() -> None:
    frame = readings()
    fine, _ = offset_row(frame, 1.0)  # 1 SD of the ten-minute reading
    coarse, _ = offset_row(hourly(frame), 1.0)  # the same offset, read as hourly means
    # the hourly means' SD is 1 / sqrt(6) of the reading's: the same offset is sqrt(6) of their SDs
    assert fine["offset_sd"] == pytest.approx(1.0, abs=0.3)
    assert coarse["offset_sd"] == pytest.approx(np.sqrt(6), abs=0.3 * np.sqrt(6))
    assert fine["offset_z"] == pytest.approx(12.0, abs=3.0)  # sqrt(144) standard errors of the day mean
    assert coarse["offset_z"] == pytest.approx(fine["offset_z"], rel=0.1)  # the same day mean, the same z
    assert fine["step"] and coarse["step"]


def test_one_sd_of_the_hourly_mean_is_sqrt_24_standard_errors_at_any_step() -> None:
    frame = readings()
    size = 1.0 / np.sqrt(6)  # 1 SD of the hourly mean of a white-noise reading
    fine, _ = offset_row(frame, size)
    coarse, _ = offset_row(hourly(frame), size)
    for row in (fine, coarse):
        assert row["offset_z"] == pytest.approx(np.sqrt(24), abs=3.0)  # 4.9 here, against a threshold of 5.2
        assert row["offset_z_threshold"] == pytest.approx(fine["offset_z_threshold"], rel=0.05)
    assert coarse["offset_z"] == pytest.approx(fine["offset_z"], rel=0.1)


def test_a_slow_channel_keeps_its_day_mean_variance_and_raises_no_flag() -> None:
    frame = readings()
    _, days = offset_row(frame, 0.0)
    slow = days[days["channel"] == "s"]
    day_means = frame.groupby(frame["ts"].dt.floor("1D"))["s"].mean()
    naive_se = frame["s"].std() / np.sqrt(STEPS)  # the reading's variance over the row count
    assert day_means.std() > 4 * naive_se  # so a naive z would flag its ordinary wandering
    assert (day_means.diff().abs() / naive_se).max() > 5
    assert not days["step"].any()  # the measured day-to-day covariance flags nothing
    assert (slow["offset_z"].abs() < slow["offset_z_threshold"]).all()
