"""Drift of each sensor of an asset, day by day, against the asset's own reference period.

For each asset the reference is its readings (at the model's interval) over the last days of the model card's
training span. :func:`fit_reference` learns, on those rows:

* each channel's mean, standard deviation and deciles (the univariate reference);
* a multivariate model: each channel predicted from all the others by ridge regression on standardised values.
  A sensor's *residual* (reading minus what the other sensors say it should read) stays near zero while the
  physics holds; it moves when one sensor is offset, or when a machine's relations change (a new motor draws
  less current for the same flow). Operating-point changes (load, speed, weather) move the readings but not,
  to first order, their relations, so residuals separate a changed plant from a busier one;
* thresholds from the reference's own variability: the daily mean residual of each channel on each reference
  day, resampled by whole days (a block bootstrap, ``n_boot`` resamples); the threshold is the 95th percentile
  over resamples of the 99th percentile of ``|daily mean residual|``, times ``margin`` (days after the
  reference drift a little with the season), and never below ``min_shift`` reference standard deviations
  (a smaller shift does not matter to a model that read these sensors with their natural spread).

:func:`day_drift` then scores each day after the reference: per channel the shift of its mean residual (in
reference standard deviations), whether it passes the threshold, the level shift of its median, the PSI of its
values against the reference deciles and the Kolmogorov-Smirnov distance to the reference sample.

>>> rng = np.random.default_rng(0)
>>> ts = pd.date_range("2024-01-01", periods=24 * 40, freq="1h", tz="UTC")
>>> load = rng.normal(size=len(ts))
>>> frame = pd.DataFrame({"ts": ts, "a": load + rng.normal(0, .05, len(ts)), "b": 2 * load + rng.normal(0, .1, len(ts))})
>>> reference = fit_reference(frame.iloc[: 24 * 30], ["a", "b"])
>>> later = frame.iloc[24 * 30 :].copy()
>>> later.loc[later.index[-24:], "b"] += 2.0  # b offset by one standard deviation on the last day
>>> days = day_drift(reference, later)
>>> days.groupby("day")["drifted"].any().tolist()
[False, False, False, False, False, False, False, False, False, True]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from forewarn.exceptions import ConfigError, DataNotFoundError
from forewarn.train.references import DECILES, psi, psi_bin, psi_bins, psi_shares  # noqa: F401  (re-exported)

#: reference rows kept per channel for the Kolmogorov-Smirnov distance
SAMPLE = 2000
#: reference rows kept whole (every channel) for the multivariate test (:mod:`forewarn.monitor.multivariate`)
JOINT = 2000


@dataclass
class Reference:
    """One asset's reference: channel statistics, the residual model and the drift thresholds."""

    channels: list[str]
    mean: np.ndarray
    sd: np.ndarray
    coef: np.ndarray  # (k + 1, k): column j predicts channel j from the others (its own row is 0) and an intercept
    deciles: np.ndarray  # (k, 11)
    sample: np.ndarray  # (SAMPLE, k) sorted per column, NaN-padded
    threshold: np.ndarray  # (k,) in reference standard deviations
    jump_threshold: np.ndarray  # (k,) the same, for a day against the days before it
    day_residual: np.ndarray  # (days, k): the reference days' mean residuals
    rows_per_day: float
    days: int
    run_level: tuple[str, float] = ("", 0.0)
    raw_rate: float = float("nan")  # raw readings per channel per hour over the reference span
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the model's probabilities on reference rows
    score_days: np.ndarray = field(default_factory=lambda: np.zeros(0, "int64"))  # their day numbers
    jump_cov: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (k, k) of the reference days' jumps
    residual_sd: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (k,) hourly residual spread, reference
    offset_tail: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (k,) max |offset z| on reference days
    joint: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (JOINT, k) raw reference rows, whole
    joint_day: np.ndarray = field(default_factory=lambda: np.zeros(0, "int64"))  # their day numbers
    day_low: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (k,) lowest reference day mean, in SD
    day_high: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (k,) highest reference day mean, in SD
    jump_cov2: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (k, k) of two-day jumps (:func:`two_day`)
    offset_tail2: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (k,) max |two-day offset z|, reference
    level_days: np.ndarray = field(default_factory=lambda: np.zeros(0, "int64"))  # reference days (since 1970)
    level_means: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (days, k) their means, all rows

    def residuals(self, values: np.ndarray) -> np.ndarray:
        """Standardised residuals (rows, k) of raw ``values`` (rows, k); a missing reading reads as its mean."""
        Z = (values - self.mean) / self.sd
        Z = np.where(np.isfinite(Z), Z, 0.0)
        return Z - np.c_[Z, np.ones(len(Z))] @ self.coef


#: channels that say whether a machine runs, in order of preference
RUN_CHANNELS = ("speed", "power", "current", "flow")


def run_level(reference: pd.DataFrame, *, share: float = 0.2) -> tuple[str, float]:
    """The run channel (first of :data:`RUN_CHANNELS` with a positive median in ``reference``) and ``share`` of
    its median: above it the machine runs (``("", 0.0)``: no run channel, every row counts)."""
    for channel in RUN_CHANNELS:
        if channel in reference and reference[channel].notna().any():
            level = float(np.nanmedian(reference[channel].to_numpy(dtype="float64")))
            if level > 0:
                return channel, share * level
    return "", 0.0


def running_at(frame: pd.DataFrame, level: tuple[str, float]) -> np.ndarray:
    """Rows of ``frame`` where the machine runs by :func:`run_level`'s answer."""
    channel, floor = level
    if not channel:
        return np.ones(len(frame), bool)
    if channel not in frame:
        return np.zeros(len(frame), bool)
    values = frame[channel].to_numpy(dtype="float64")
    return np.isfinite(values) & (values > floor)


def running(frame: pd.DataFrame, reference: pd.DataFrame, *, share: float = 0.2) -> np.ndarray:
    """Rows where the machine runs: its run channel (:data:`RUN_CHANNELS`) present and above ``share`` of that
    channel's median in ``reference`` (all rows when it has none). A stopped machine's sensors read ambient and
    zero: a different regime, not drift, so drift is measured on running rows only.

    >>> ref = pd.DataFrame({"speed": [1000.0, 990, 0]})
    >>> running(pd.DataFrame({"speed": [980.0, 0.0, None]}), ref).tolist()
    [True, False, False]
    """
    return running_at(frame, run_level(reference, share=share))


def _ridge(Z: np.ndarray, alpha: float) -> np.ndarray:
    k = Z.shape[1]
    coef = np.zeros((k + 1, k))
    A_full = np.c_[Z, np.ones(len(Z))]
    for j in range(k):
        keep = [i for i in range(k + 1) if i != j]
        A = A_full[:, keep]
        penalty = alpha * len(Z) * np.eye(len(keep))
        penalty[-1, -1] = 0.0  # the intercept is not shrunk
        coef[keep, j] = np.linalg.solve(A.T @ A + penalty, A.T @ Z[:, j])
    return coef


def day_levels(frame: pd.DataFrame, channels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Day numbers (days since 1970-01-01, UTC) of ``frame`` and each channel's mean over the day's rows, a
    missing reading left out (NaN where a day has none): the site-wide test's input
    (:mod:`forewarn.monitor.site`), over all rows, the machine running or not (its surroundings do not stop).

    >>> ts = pd.to_datetime(["2024-01-01 01:00", "2024-01-01 02:00", "2024-01-02 01:00"], utc=True)
    >>> days, means = day_levels(pd.DataFrame({"ts": ts, "t": [1.0, 3.0, None]}), ["t"])
    >>> days.tolist(), means[:, 0].tolist()
    ([19723, 19724], [2.0, nan])
    """
    if not len(frame):
        return np.zeros(0, "int64"), np.zeros((0, len(channels)))
    day = ((pd.to_datetime(frame["ts"], utc=True) - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(days=1)).to_numpy()
    means = frame.reindex(columns=list(channels)).astype("float64").groupby(day).mean()
    return means.index.to_numpy(dtype="int64"), means.to_numpy(dtype="float64")


def _days(ts: pd.Series) -> np.ndarray:
    return pd.to_datetime(ts, utc=True).dt.floor("1D").to_numpy()


def _day_means(values: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys, inverse = np.unique(days, return_inverse=True)
    sums = np.zeros((len(keys), values.shape[1]))
    np.add.at(sums, inverse, values)
    counts = np.bincount(inverse, minlength=len(keys)).astype("float64")
    return keys, sums / counts[:, None]


def fit_reference(
    frame: pd.DataFrame,
    channels: Sequence[str],
    *,
    alpha: float = 0.01,
    n_boot: int = 200,
    margin: float = 2.0,
    min_shift: float = 0.5,
    baseline_days: int = 14,
    seed: int = 0,
    renewed_at: Sequence[object] = (),
) -> Reference:
    """The reference of one asset from its reference rows (``ts`` and ``channels``); see the module docstring.

    ``renewed_at``: times of the asset's maintenance and repairs over the reference; the offset test's null (the
    jump covariance and the channels' tails) leaves out those days and restarts its baseline after them
    (:func:`jumps`), so that an oil change in the reference year does not raise the offset threshold of the
    oil-quality sensor for good. The bootstrap jump thresholds keep every day.

    Channels with fewer than half their readings present or no spread are left out (they cannot drift
    measurably; the data-quality checks report them)."""
    if "ts" not in frame:
        raise DataNotFoundError("reference rows need a 'ts' column")
    values = frame.reindex(columns=list(channels)).to_numpy(dtype="float64")
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    centre = np.where(finite, values, 0.0).sum(axis=0) / np.maximum(count, 1)
    spread = (np.where(finite, values - centre, 0.0) ** 2).sum(axis=0)
    keep = (count >= 0.5 * max(len(values), 1)) & (count > 1) & (spread > 0)
    days = _days(frame["ts"])
    n_days = len(np.unique(days))
    if keep.sum() < 2 or n_days < 3:
        raise DataNotFoundError(
            f"a reference needs at least 3 days and 2 live channels; got {n_days} day(s) and {int(keep.sum())} channel(s)"
        )
    names = [c for c, k in zip(channels, keep, strict=True) if k]
    values = values[:, keep]
    mean = np.nanmean(values, axis=0)
    sd = np.nanstd(values, axis=0)
    Z = np.where(np.isfinite(values), (values - mean) / sd, 0.0)
    coef = _ridge(Z, alpha)
    reference = Reference(
        channels=names,
        mean=mean,
        sd=sd,
        coef=coef,
        deciles=np.nanquantile(values, DECILES, axis=0).T,
        sample=_sample(values, seed),
        threshold=np.zeros(len(names)),
        jump_threshold=np.zeros(len(names)),
        day_residual=np.zeros((0, len(names))),
        rows_per_day=len(frame) / n_days,
        days=n_days,
    )
    residual = reference.residuals(values)
    keys, day_res = _day_means(residual, days)
    _, day_level = _day_means(Z, days)
    reference.day_low, reference.day_high = day_level.min(axis=0), day_level.max(axis=0)
    reference.threshold = bootstrap_threshold(np.abs(day_res), n_boot, margin, min_shift, seed)
    renewed = renewal_days(keys, renewed_at)
    # the bootstrap step threshold keeps every day (work included: left out, it fell and wear on degrading fleets
    # stepped over it, 1.7 -> 2.8 drift alerts per asset-year); the offset test's null leaves work days out
    every = jumps(day_res[3:], day_res[:3], baseline_days)
    reference.jump_threshold = bootstrap_threshold(np.abs(every), n_boot, margin, min_shift, seed + 1)
    signed = jumps(day_res[3:], day_res[:3], baseline_days, renewed[3:])
    signed[renewed[3:]] = np.nan  # a maintenance day's step is the maintenance's: no measure of a quiet plant
    reference.day_residual = day_res
    reference.jump_cov = robust_cov(signed[np.isfinite(signed).all(axis=1)])
    _, ref_z, _ = offset_test(reference, signed[np.isfinite(signed).all(axis=1)])
    reference.offset_tail = np.abs(ref_z).max(axis=0, initial=0.0)
    pairs = two_day(signed, day_res[3:])
    pairs = pairs[np.isfinite(pairs).all(axis=1)]
    reference.jump_cov2 = robust_cov(pairs)
    _, ref_z2, _ = offset_test(reference, pairs, cov=reference.jump_cov2)
    reference.offset_tail2 = np.abs(ref_z2).max(axis=0, initial=0.0)
    day_of = np.searchsorted(keys, days)
    within = residual - day_res[day_of]
    rows = np.random.default_rng(seed).permutation(len(values))[:JOINT]
    stamps = pd.DatetimeIndex(keys)
    calendar = np.asarray((stamps - stamps[0]).days, dtype="int64")[day_of]  # days since the first
    reference.joint, reference.joint_day = values[np.sort(rows)], calendar[np.sort(rows)]
    reference.residual_sd = np.maximum(np.sqrt(np.mean(within**2, axis=0)), 1e-9)
    return reference


def robust_cov(rows: np.ndarray, *, clip: float = 5.0) -> np.ndarray:
    """Covariance of ``rows`` (n, k) after clipping each column at its median +- ``clip`` robust standard
    deviations (1.4826 MAD): a few odd reference days must not widen the null of the offset test. A small ridge
    (1e-6 of the diagonal) keeps it invertible.

    >>> rows = np.r_[np.random.default_rng(0).normal(size=(400, 2)), [[50.0, 0.0]]]
    >>> bool(robust_cov(rows)[0, 0] < 1.2 < np.cov(rows.T)[0, 0])
    True
    """
    k = rows.shape[1] if rows.ndim == 2 else 0
    if len(rows) < 3:
        return np.eye(k)
    centre = np.median(rows, axis=0)
    scale = 1.4826 * np.median(np.abs(rows - centre), axis=0)
    scale = np.where(scale > 0, scale, rows.std(axis=0) + 1e-9)
    clipped = np.clip(rows, centre - clip * scale, centre + clip * scale)
    cov = np.atleast_2d(np.cov(clipped.T))
    return cov + 1e-6 * np.diag(np.diag(cov)) + 1e-12 * np.eye(k)


def critical_z(false_alarms_per_year: float, channels: int) -> float:
    """The |z| above which a channel's one-day offset is flagged: with Gaussian day means, each asset-day runs
    ``channels`` two-sided tests, so ``false_alarms_per_year`` expected false flags per asset-year need a per-test
    level of ``rate / (365 * channels)``.

    >>> round(critical_z(0.01, 18), 2)
    4.81
    """
    if not false_alarms_per_year > 0 or channels < 1:
        raise ConfigError(f"false_alarms_per_year={false_alarms_per_year!r} must be > 0 and channels={channels!r} >= 1")
    return float(norm.isf(false_alarms_per_year / (365.0 * channels) / 2.0))


def gaussian_max(n: int) -> float:
    """The median of the largest of ``n`` independent |standard normal| draws: what the largest |z| of a channel
    over ``n`` reference days would be if its day means were Gaussian. A channel whose reference maximum is
    ``r`` times this has tails ``r`` times heavier than the theory, and its offset threshold is scaled by ``r``
    (process channels that follow the operating point do; pure-noise channels do not).

    >>> round(gaussian_max(350), 2)
    3.09
    """
    return float(norm.isf((1.0 - 0.5 ** (1.0 / max(int(n), 1))) / 2.0))


def two_day(jump: np.ndarray, day_residual: np.ndarray) -> np.ndarray:
    """Each day's *two-day* jump: the mean residual of that day and the one before, minus the baseline of the day
    before (the median of its ``baseline_days`` before it, as :func:`jumps` took it), so ``jump[d - 1] +
    (residual[d] - residual[d - 1]) / 2``; NaN on the first day and where either day's jump is NaN (a renewal).
    A lasting offset is in both days: its two-day jump has the same size and half the noise variance of white
    noise, which is what a sensor that no other predicts needs (one day gives a 1-SD offset a z of about 5).

    >>> two_day(np.array([[0.1], [1.0], [1.2]]), np.array([[0.1], [1.0], [1.2]]))[:, 0].round(2).tolist()
    [nan, 0.55, 1.1]
    """
    out = np.full(jump.shape, np.nan)
    if len(jump) > 1:
        out[1:] = jump[:-1] + (day_residual[1:] - day_residual[:-1]) / 2.0
        out[1:][~np.isfinite(jump[1:])] = np.nan
    return out


def offset_test(
    reference: Reference, jump: np.ndarray, *, cov: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The generalised likelihood-ratio test of a one-sensor offset on each day's residual jumps ``jump``
    (days, k): an offset ``d`` of channel ``j`` moves the jumps by ``d p_j`` (``p_j = e_j - w_j``,
    :func:`single_sensor`); with the reference days' jump covariance ``S`` the best ``d`` is
    ``p_j' S^-1 x / p_j' S^-1 p_j``, its z ``d sqrt(p_j' S^-1 p_j)`` (standard normal without an offset), and what
    the best channel leaves, ``x' S^-1 x - z^2``, is chi-square with ``k - 1`` degrees of freedom when that one
    offset is all that happened. Returns the offsets in reference SD (days, k), their z (days, k) and the
    remainder after the best channel (days,). Coupled sensors lend power: an offset of a sensor that others are
    predicted from also moves their residuals, so its SE is below its own residual noise."""
    k = len(reference.channels)
    cov = cov if cov is not None else reference.jump_cov
    cov = cov if cov.shape == (k, k) else np.eye(k)
    inv = np.linalg.pinv(cov)
    pattern = np.eye(k) - reference.coef[:k, :]
    info = np.maximum(np.einsum("ij,jk,ik->i", pattern, inv, pattern), 1e-12)
    x = np.nan_to_num(jump)
    projected = x @ inv @ pattern.T  # (days, k)
    offset = projected / info
    z = projected / np.sqrt(info)
    total = np.einsum("ij,jk,ik->i", x, inv, x)
    remainder = np.maximum(total - np.max(z**2, axis=1, initial=0.0), 0.0)
    return offset, z, remainder


def bootstrap_threshold(stats: np.ndarray, n_boot: int, margin: float, floor: float, seed: int) -> np.ndarray:
    """Per column of ``stats`` (days, k): ``margin`` times the 95th percentile over ``n_boot`` resamples of whole
    days of the resample's 99th percentile, and at least ``floor``.

    >>> bootstrap_threshold(np.full((10, 1), 0.4), 50, 2.0, 0.5, 0).tolist()
    [0.8]
    """
    stats = stats[np.isfinite(stats).all(axis=1)]
    if not len(stats):
        return np.full(stats.shape[1], np.inf)
    picks = np.random.default_rng(seed).integers(0, len(stats), size=(n_boot, len(stats)))
    tails = np.quantile(stats[picks], 0.99, axis=1)  # (n_boot, k)
    return np.maximum(floor, margin * np.quantile(tails, 0.95, axis=0))


def _sample(values: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.full((SAMPLE, values.shape[1]), np.nan)
    for j in range(values.shape[1]):
        column = values[:, j][np.isfinite(values[:, j])]
        if len(column) > SAMPLE:
            column = rng.choice(column, SAMPLE, replace=False)
        out[: len(column), j] = np.sort(column)
    return out


def ks_distance(sorted_reference: np.ndarray, values: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov distance between a sorted reference sample and ``values``.

    >>> ks_distance(np.arange(10.0), np.arange(10.0) + 5)
    0.5
    """
    ref = sorted_reference[np.isfinite(sorted_reference)]
    values = np.sort(values[np.isfinite(values)])
    if not len(ref) or not len(values):
        return float("nan")
    grid = np.r_[ref, values]
    f_ref = np.searchsorted(ref, grid, side="right") / len(ref)
    f_new = np.searchsorted(values, grid, side="right") / len(values)
    return float(np.max(np.abs(f_ref - f_new)))


DAY_COLUMNS = (
    "day",
    "channel",
    "shift_sd",
    "threshold_sd",
    "drifted",
    "jump_sd",
    "jump_threshold_sd",
    "step",
    "level_sd",
    "psi",
    "rows",
    "explained_by",
    "explained_share",
    "offset_sd",
    "offset_z",
    "offset_z_threshold",
    "offset_fit",
    "spread_ratio",
    "outside_range",
)

#: expected false one-day offset flags per asset-year under the Gaussian null (:func:`critical_z`)
FALSE_ALARMS_PER_YEAR = 0.01
#: the rest of a day's jumps fits "one sensor offset and noise" unless its chi-square p-value is below this
OFFSET_FIT_P = 1e-3
#: the offset test flags only offsets of at least this many reference standard deviations: a smaller one does not
#: matter to a model that read the sensor with its natural spread (the bootstrap thresholds' ``min_shift``), and on
#: the channels that the others predict closely (an SE of 0.01-0.06 SD) the operating point's small, non-Gaussian
#: wanderings otherwise pass any z threshold (healthy twin fleets: every false offset flag was below 0.1 SD)
MIN_OFFSET_SD = 0.5
#: expected false flags per asset-year of the two-day offset test (on top of the one-day test's), which catches on
#: their second day the lasting offsets of sensors no other predicts that one day's data leaves under the threshold
TWO_DAY_FALSE_ALARMS_PER_YEAR = 0.005
#: the two-day test's floor: it is there for lasting offsets of about one SD on noisy sensors (its estimate's SE is
#: about 0.15 SD there); with the one-day test's 0.5, a healthy fleet's vibration crest factor that sat 0.52 SD off
#: for two days was a false alert (1 in 178 healthy asset-years)
TWO_DAY_MIN_OFFSET_SD = 0.75


def single_sensor(reference: Reference, shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of residual ``shifts`` (days, k): the channels ordered by how well an offset of that channel
    alone explains it (indices, days x k), and the share of the shift's squared length each explains.

    An offset ``d`` (in standard deviations) of channel ``j`` alone moves the residuals by ``d (e_j - w_j)``,
    ``w_j`` being channel ``j``'s weights in the other channels' predictions; the share is the squared cosine
    between the observed shift and that pattern. A recalibrated sensor explains nearly all (a share near 1);
    a machine whose relations changed does not.
    """
    k = len(reference.channels)
    pattern = np.eye(k) - reference.coef[:k, :]  # row j: the residual shift of a unit offset of channel j
    projection = shifts @ pattern.T
    norms = np.maximum((pattern**2).sum(axis=1), 1e-12)
    total = np.maximum((shifts**2).sum(axis=1, keepdims=True), 1e-12)
    share = projection**2 / norms / total
    order = np.argsort(-share, axis=1)
    return order, np.take_along_axis(share, order, axis=1)


def jumps(
    day_residual: np.ndarray, history: np.ndarray, baseline_days: int, renewed: np.ndarray | None = None
) -> np.ndarray:
    """Each day's mean residual minus the median of the ``baseline_days`` days before it (``history`` supplies
    the days before the first); NaN where fewer than 3 days precede.

    ``renewed`` (bool, one per day of ``day_residual``) marks days of maintenance or repair: that day is judged
    against the days before it (its step is the maintenance's, named so by its event), the days after it only
    against days after it (the machine before the work is no baseline for the machine after it), so they are not
    judged until 3 such days have passed.

    >>> jumps(np.array([[0.0], [0.1], [2.0]]), np.array([[0.0], [0.1], [-0.1]]), 3)[:, 0].round(2).tolist()
    [0.0, 0.1, 2.0]
    >>> renewed = np.array([False, True, False, False, False, False])
    >>> jumps(np.array([[0.0], [2.0], [2.1], [2.0], [1.9], [2.2]]), np.zeros((3, 1)), 3, renewed)[:, 0].round(2).tolist()
    [0.0, 2.0, nan, nan, nan, 0.2]
    """
    series = np.r_[history, day_residual]
    out = np.full(day_residual.shape, np.nan)
    since = 0  # the first day of the series that may serve as baseline
    for d in range(len(day_residual)):
        i = len(history) + d
        past = series[max(since, i - baseline_days) : i]
        if len(past) >= 3:
            out[d] = series[i] - np.median(past, axis=0)
        if renewed is not None and renewed[d]:
            since = i + 1
    return out


def renewal_days(keys: np.ndarray | Sequence[object], renewed_at: Sequence[object]) -> np.ndarray:
    """Which of the day stamps ``keys`` (UTC midnights, as the day tables group by; naive ones are taken as UTC)
    hold a maintenance or repair at one of the times ``renewed_at``.

    >>> keys = pd.date_range("2024-01-01", periods=3, tz="UTC")
    >>> renewal_days(keys, [pd.Timestamp("2024-01-02 06:00", tz="UTC")]).tolist()
    [False, True, False]
    """
    days = pd.DatetimeIndex(keys)
    days = days.tz_localize("UTC") if days.tz is None else days.tz_convert("UTC")
    if not len(renewed_at):
        return np.zeros(len(days), bool)
    stamps = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(renewed_at)), utc=True).dt.floor("1D"))
    return np.asarray(days.isin(stamps))


def _psi_days(reference: Reference, values: np.ndarray, day_idx: np.ndarray, n_days: int) -> np.ndarray:
    out = np.full((n_days, len(reference.channels)), np.nan)
    for j in range(len(reference.channels)):
        edges, expected = psi_bins(reference.deciles[j])
        ok = np.isfinite(values[:, j])
        bins = psi_bin(edges, values[ok, j])
        counts = np.bincount(day_idx[ok] * len(expected) + bins, minlength=n_days * len(expected))
        counts = counts.reshape(n_days, len(expected)).astype("float64")
        total = counts.sum(axis=1, keepdims=True)
        actual = np.maximum(counts / np.where(total > 0, total, 1.0), 1e-3)
        day_psi = psi_shares(expected, actual)
        out[:, j] = np.where(total[:, 0] > 0, day_psi, np.nan)
    return out


def _two_day_crossed(reference: Reference, jump: np.ndarray, day_res: np.ndarray, k: int) -> np.ndarray:
    """The offset test on two-day jumps (:func:`two_day`), with its own null (the reference's two-day jump
    covariance and tails) and :data:`TWO_DAY_FALSE_ALARMS_PER_YEAR`: (days, k) where the best channel passes."""
    if reference.jump_cov2.shape != (k, k) or reference.offset_tail2.shape != (k,):
        return np.zeros(jump.shape, bool)
    pair = two_day(jump, day_res)
    offset, z, remainder = offset_test(reference, pair, cov=reference.jump_cov2)
    best = np.zeros_like(z, dtype=bool)
    best[np.arange(len(z)), np.argmax(np.abs(z), axis=1)] = True
    fit = (remainder <= chi2.isf(OFFSET_FIT_P, max(k - 1, 1)))[:, None]
    limit = critical_z(TWO_DAY_FALSE_ALARMS_PER_YEAR, k) * np.maximum(
        1.0, reference.offset_tail2 / gaussian_max(max(reference.days - 4, 1))
    )
    return (np.abs(z) > limit) & best & fit & (np.abs(offset) >= TWO_DAY_MIN_OFFSET_SD) & np.isfinite(pair)


def day_drift(
    reference: Reference,
    frame: pd.DataFrame,
    *,
    baseline_days: int = 14,
    false_alarms_per_year: float = FALSE_ALARMS_PER_YEAR,
    renewed_at: Sequence[object] = (),
) -> pd.DataFrame:
    """One row per day of ``frame`` and reference channel: :data:`DAY_COLUMNS`.

    ``shift_sd`` is the day's mean residual in reference standard deviations and ``drifted`` says it passes the
    reference threshold (the sensor's relations differ from the reference's); ``jump_sd`` is the same residual
    minus its median over the ``baseline_days`` before (reference days where the frame has too few) and ``step``
    says it passes the jump threshold (an abrupt change, as a recalibration or a replaced part makes, rather than
    a slow one such as wear or the seasons); ``level_sd`` is the day's median reading minus the reference median,
    in reference standard deviations; ``psi`` compares the day's readings with the reference deciles;
    ``explained_by`` names the sensor whose offset best explains the day's jumps (with, comma-separated, any other
    within 0.05 of its share: tightly coupled sensors explain each other's offsets) and ``explained_share`` its
    share (:func:`single_sensor`). ``offset_sd`` and ``offset_z`` are the one-sensor offset of that channel that
    best explains the day's jumps and its z (:func:`offset_test`); ``offset_fit`` says the day's jumps are that
    of the day's best channel plus noise (chi-square p-value of the rest above :data:`OFFSET_FIT_P`);
    ``spread_ratio`` is the channel's within-day residual spread over the reference's (an offset moves the level,
    not the spread; a burst of odd hours moves both). ``outside_range`` says the channel's day mean lies outside
    the range of the reference days' means (the day's operating point is one the reference never held, where the
    residual model extrapolates). A channel *steps* when its jump passes the jump threshold or it is the day's best
    offset channel, the day fits one offset (``offset_fit``), its |z| passes :func:`critical_z` for
    ``false_alarms_per_year`` and its offset is at least :data:`MIN_OFFSET_SD`, or the same holds for the day's
    two-day jumps (:func:`two_day`, :data:`TWO_DAY_FALSE_ALARMS_PER_YEAR`, :data:`TWO_DAY_MIN_OFFSET_SD`)."""
    if not len(frame):
        return pd.DataFrame(columns=list(DAY_COLUMNS))
    values = frame.reindex(columns=reference.channels).to_numpy(dtype="float64")
    days = _days(frame["ts"])
    residual = reference.residuals(values)
    keys, day_res = _day_means(residual, days)
    _, day_sq = _day_means(residual**2, days)
    day_idx = np.searchsorted(keys, days)
    medians = pd.DataFrame(values).groupby(day_idx).median().reindex(range(len(keys))).to_numpy()
    level = (medians - reference.deciles[:, 5]) / reference.sd
    jump = jumps(day_res, reference.day_residual, baseline_days, renewal_days(keys, renewed_at))
    psis = _psi_days(reference, values, day_idx, len(keys))
    rows = np.bincount(day_idx, minlength=len(keys))
    k = len(reference.channels)
    out = pd.DataFrame(
        {
            "day": np.repeat(pd.DatetimeIndex(keys), k),
            "channel": np.tile(reference.channels, len(keys)),
            "shift_sd": day_res.ravel(),
            "threshold_sd": np.tile(reference.threshold, len(keys)),
            "jump_sd": jump.ravel(),
            "jump_threshold_sd": np.tile(reference.jump_threshold, len(keys)),
            "level_sd": level.ravel(),
            "psi": psis.ravel(),
            "rows": np.repeat(rows, k),
        }
    )
    order, share = single_sensor(reference, np.nan_to_num(jump))
    names = np.asarray(reference.channels)
    # two tightly coupled sensors explain each other's offset almost equally: every one within 0.05 of the best
    near = [",".join(names[o][s >= s[0] - 0.05]) for o, s in zip(order, share, strict=True)]
    out["explained_by"] = np.repeat(near, k)
    out["explained_share"] = np.repeat(share[:, 0], k)
    offset, z, remainder = offset_test(reference, jump)
    out["offset_sd"] = offset.ravel()
    out["offset_z"] = z.ravel()
    out["offset_fit"] = np.repeat(remainder <= chi2.isf(OFFSET_FIT_P, max(k - 1, 1)), k)
    spread = np.sqrt(np.maximum(day_sq - day_res**2, 0.0))
    if reference.residual_sd.shape == (k,):
        out["spread_ratio"] = (spread / reference.residual_sd).ravel()
    else:
        out["spread_ratio"] = np.nan
    out["drifted"] = out["shift_sd"].abs() > out["threshold_sd"]
    if reference.day_low.shape == (k,) and reference.day_high.shape == (k,):
        _, day_level = _day_means(np.where(np.isfinite(values), (values - reference.mean) / reference.sd, 0.0), days)
        outside = (day_level < reference.day_low) | (day_level > reference.day_high)
        out["outside_range"] = outside.ravel()
    else:
        out["outside_range"] = False
    # the offset test marks only the day's best channel, and only when one offset and noise is all the day holds
    best = np.zeros_like(z, dtype=bool)
    best[np.arange(len(z)), np.argmax(np.abs(z), axis=1)] = True
    fit = (remainder <= chi2.isf(OFFSET_FIT_P, max(k - 1, 1)))[:, None]
    limit = np.full(k, critical_z(false_alarms_per_year, k))
    if reference.offset_tail.shape == (k,):
        limit = limit * np.maximum(1.0, reference.offset_tail / gaussian_max(max(reference.days - 3, 1)))
    out["offset_z_threshold"] = np.tile(limit, len(keys))
    crossed = ((np.abs(z) > limit) & best & fit & (np.abs(offset) >= MIN_OFFSET_SD)).ravel()
    crossed |= _two_day_crossed(reference, jump, day_res, k).ravel()
    out["step"] = (out["jump_sd"].abs() > out["jump_threshold_sd"]) | (crossed & np.isfinite(out["jump_sd"]))
    return out[list(DAY_COLUMNS)]
