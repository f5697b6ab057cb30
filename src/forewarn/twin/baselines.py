"""Normal behaviour of metric series that is not Gaussian: the baseline families of the labelled corpus.

:func:`forewarn.twin.anomalies.synthetic_series` builds a healthy series on a Gaussian AR(1) baseline with a
sinusoidal daily and weekly load unless its :class:`~forewarn.twin.anomalies.SeriesConfig` names another
``baseline``. Real metric series are often not like that; each family here is one shape of *normal* behaviour
that a detector tuned on Gaussian noise may take for an anomaly (the corpus' injections stay the same kinds,
sized by the same ``channel_scale``; only the healthy signal changes):

================== ==============================================================================================
family             normal behaviour of each channel
================== ==============================================================================================
``gaussian``       level, trend, daily and weekly sinusoidal load, AR(1) Gaussian noise (the default, as before)
``student_t``      the same with Student-t shocks (2.2-4 degrees of freedom): rare large values that are normal
``bursty``         the Gaussian baseline plus short bursts of load shared by the channels (batch jobs at random
                   rows, backups at a fixed hour of each day, or both), 4-12 noise sizes high
``counts``         Poisson counts (whole numbers >= 0) whose rate (0.5-20 per row) follows the load: many zeros
``multiplicative`` positive, log-normal: the level times ``exp`` of the load and of AR(1) noise, so the spread
                   grows with the level (heteroscedastic)
``business_hours`` a plateau on weekdays 08:00-18:00 (an hour's ramp at each end, the clock shifted by up to 8 h),
                   low at night and on weekends, instead of sinusoids; AR(1) noise
``wandering``      a level that wanders: AR(1) with coefficient 0.98-0.995 (near a unit root), plus
                   measurement noise and half the load
``steps``          long flat stretches (small measurement noise) with rare steps of 3-20 noise sizes (a
                   configuration value; 1-4 steps per series, anywhere, the training rows included)
``sawtooth``       a queue or a disk that fills and empties: a ramp of 10-40 noise sizes over 60-600 rows, then a
                   drop to its floor within a row, again and again; plus noise
================== ==============================================================================================

After an injection, a ``counts`` channel is rounded to whole numbers and both ``counts`` and ``multiplicative``
channels are clipped at 0 (:func:`after_injection`), so an anomalous count is still a count and a positive metric
stays positive.

>>> import numpy as np, pandas as pd
>>> times = pd.date_range("2024-01-01", periods=2000, freq="5min", tz="UTC")
>>> hours = (times - times[0]).total_seconds().to_numpy() / 3600.0
>>> rng = np.random.default_rng(0)
>>> shared = series_parts("counts", rng, times, hours, step_hours=5 / 60, load=np.sin(2 * np.pi * hours / 24))
>>> x = channel_values("counts", rng, times, hours, shared, noise=1.0, trend=True, daily=True)
>>> bool((x == np.round(x)).all() and (x >= 0).all())
True
>>> after_injection("counts", np.array([1.4, -2.0, 3.0])).tolist()
[1.0, 0.0, 3.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter

__all__ = ["BASELINES", "REALISTIC", "after_injection", "channel_values", "series_parts"]

#: every family (``gaussian`` first: the default)
BASELINES = (
    "gaussian",
    "student_t",
    "bursty",
    "counts",
    "multiplicative",
    "business_hours",
    "wandering",
    "steps",
    "sawtooth",
)
#: the families that are not the Gaussian default (``make_corpus(baselines=REALISTIC)``, the benchmark's
#: ``--corpus-baselines realistic``)
REALISTIC = BASELINES[1:]


def _ar1(rng: np.random.Generator, phi: float, shocks: np.ndarray) -> np.ndarray:
    out: np.ndarray = lfilter([1.0], [1.0, -phi], shocks)
    return out


def _business_load(rng: np.random.Generator, times: pd.DatetimeIndex) -> np.ndarray:
    """1 on weekdays from 08:00 to 18:00 (an hour's linear ramp at each end), 0 otherwise; the clock shifted by a
    whole number of hours (-8 to 8), so a series' business day is not always UTC's."""
    local = times + pd.Timedelta(hours=int(rng.integers(-8, 9)))
    hour = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
    day = np.clip(np.minimum(hour - 7.0, 19.0 - hour), 0.0, 1.0)  # ramps 07-08 and 18-19
    weekday = local.day_of_week.to_numpy() < 5
    out: np.ndarray = np.where(weekday, day, 0.15 * day)
    return out


def _bursts(rng: np.random.Generator, hours: np.ndarray, step_hours: float) -> np.ndarray:
    """Shared normal bursts (height about 1): at random rows, at a fixed hour each day, or both."""
    n = len(hours)
    out = np.zeros(n)
    kind = int(rng.integers(0, 3))  # 0: random, 1: daily at a fixed hour, 2: both
    if kind in (0, 2):
        count = int(rng.poisson(n / rng.uniform(300.0, 1000.0)))
        for _ in range(count):
            at, length = int(rng.integers(0, n)), int(rng.integers(1, 9))
            out[at : at + length] = np.maximum(out[at : at + length], rng.uniform(0.6, 1.4))
    if kind in (1, 2):
        phase, duration = rng.uniform(0.0, 24.0), max(rng.uniform(0.25, 1.0), 1.5 * step_hours)
        out = np.maximum(out, ((hours + phase) % 24.0 < duration) * rng.uniform(0.8, 1.2))
    return out


def series_parts(
    family: str,
    rng: np.random.Generator,
    times: pd.DatetimeIndex,
    hours: np.ndarray,
    step_hours: float,
    load: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """What the channels of one series share: its ``load`` (``load``, the default's daily and weekly sinusoids, or
    for ``business_hours`` the plateau) and, for ``bursty``, its ``bursts``."""
    sinusoids = np.zeros(len(hours)) if load is None else load
    parts = {"load": _business_load(rng, times) if family == "business_hours" else sinusoids}
    if family == "bursty":
        parts["bursts"] = _bursts(rng, hours, step_hours)
    return parts


def channel_values(
    family: str,
    rng: np.random.Generator,
    times: pd.DatetimeIndex,
    hours: np.ndarray,
    shared: dict[str, np.ndarray],
    *,
    noise: float,
    trend: bool,
    daily: bool,
) -> np.ndarray:
    """One healthy channel of a series of ``family`` (module text); ``noise`` scales the shocks, ``trend`` adds a
    slow drift (the same total over the series whatever its length), ``daily`` the channel's own daily cycle."""
    n = len(hours)
    span = max(float(hours[-1]), 1.0)
    load = shared["load"]
    sd = noise * rng.uniform(0.3, 1.5)
    phi = rng.uniform(0.0, 0.8)
    own = np.sin(2 * np.pi * (hours / 24.0 + rng.uniform())) if daily else np.zeros(n)
    if family == "counts":
        base = np.exp(rng.uniform(np.log(0.5), np.log(20.0)))
        drift = rng.normal(0, 0.5) * hours / span if trend else 0.0
        rate = base * np.exp(rng.uniform(0.3, 0.8) * load + rng.uniform(0.0, 0.5) * own + drift)
        return rng.poisson(rate).astype("float64")
    if family == "multiplicative":
        level = np.exp(rng.uniform(1.0, 6.0))
        drift = rng.normal(0, 0.3) * hours / span if trend else 0.0
        sigma = rng.uniform(0.1, 0.5)
        log_noise = _ar1(rng, phi, rng.normal(0, np.sqrt(1 - phi * phi), n)) * sigma
        out: np.ndarray = level * np.exp(rng.uniform(0.1, 0.4) * load + 0.1 * own + drift + log_noise)
        return out
    level = rng.normal(0, 50)
    gain = rng.uniform(0.5, 5.0) * rng.choice([-1.0, 1.0])
    slope = rng.normal(0, 2.0) / span if trend else 0.0
    base = level + slope * hours
    if family == "student_t":
        df = rng.uniform(2.2, 4.0)
        return base + gain * load + rng.uniform(0, 2) * own + _ar1(rng, phi, sd * rng.standard_t(df, n))
    if family == "bursty":
        height = sd * rng.uniform(4.0, 12.0) * (rng.random() < 0.8)
        ar = _ar1(rng, phi, rng.normal(0, sd, n))
        return base + gain * load + rng.uniform(0, 2) * own + height * shared["bursts"] + ar
    if family == "business_hours":
        return base + 3.0 * gain * load + _ar1(rng, phi, rng.normal(0, sd, n))
    if family == "wandering":
        walk = _ar1(rng, rng.uniform(0.98, 0.995), rng.normal(0, sd, n))
        return base + 0.5 * gain * load + walk + rng.normal(0, 0.5 * sd, n)
    if family == "steps":
        value = np.full(n, level)
        for _ in range(int(rng.integers(1, 5))):
            value[int(rng.integers(0, n)) :] += sd * rng.uniform(3.0, 20.0) * rng.choice([-1.0, 1.0])
        return value + rng.normal(0, 0.2 * sd, n)
    if family == "sawtooth":
        height = sd * rng.uniform(10.0, 40.0)
        period = rng.uniform(60.0, 600.0)
        ramp = np.zeros(n)
        at = -int(rng.integers(0, int(period)))  # the first cycle began before the series
        while at < n:
            length = max(2, int(period * rng.uniform(0.75, 1.25)))
            lo, hi = max(at, 0), min(at + length, n)
            if hi > lo:
                ramp[lo:hi] = height * (np.arange(lo, hi) - at) / length
            at += length
        return base + ramp + 0.3 * gain * load + _ar1(rng, phi, rng.normal(0, sd, n))
    raise ValueError(f"unknown baseline family {family!r}; use one of {', '.join(BASELINES)}")


def after_injection(family: str, values: np.ndarray) -> np.ndarray:
    """A channel's values after an injection, kept in its family's domain: ``counts`` rounded to whole numbers and
    clipped at 0, ``multiplicative`` clipped at 0; others unchanged (module text)."""
    if family == "counts":
        return np.maximum(np.round(values), 0.0)
    if family == "multiplicative":
        return np.maximum(values, 0.0)
    return values
