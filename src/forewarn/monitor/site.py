"""A site's shared surroundings: has the ambient of a whole site changed, beyond what the weather does?

The machines of one site stand in one hall, so the weather moves all their ambient temperatures together, each
in proportion to how much of the outdoor swing reaches it (a machine by the door more than one in the middle).
Over the reference, each asset's day-mean ambient ``a_i`` is a line of the site's mean ``f``:
``a_i = alpha_i + beta_i f`` (the ``beta_i`` average 1), and what the line leaves, ``e_i``, is small (sensor noise,
local heat). The weather moves ``f``, not the ``e_i``. A new ambient regime (the hall's heating or ventilation
changed, the site moved to a new building) shifts every machine by the same amount ``d``: then ``f`` moves by
``d`` and each ``e_i`` by ``d (1 - beta_i)``, a pattern the weather never makes. One sensor's offset shifts one
asset's ``e_i`` alone (its own drift test names it).

:func:`fit_site` learns the lines, the covariance of the residuals' day-to-day jumps and a threshold from the
reference (the Gaussian theory's z for :data:`FALSE_ALARMS_PER_YEAR` false flags per site-year, scaled up by the
reference's own tail, as the offset test does); :func:`site_days` scores each later day by the
generalised-likelihood-ratio z of a common shift on that day's jumps (each day's residuals minus their median
over the ``baseline_days`` before) and flags it when z passes the threshold, the shift is at least
:data:`MIN_SHIFT_SD` of the channel's spread, and the common pattern explains at least
:data:`COMMON_SHARE` of the day's jumps (one asset's offset does not).

The test needs three assets or more on a site, and assets whose couplings differ: with equal ``beta_i`` a common
shift and the weather look alike (the pattern ``1 - beta_i`` is zero) and nothing is flagged.

>>> rng = np.random.default_rng(0)
>>> weather = np.cumsum(rng.normal(0, 2, 120))  # day means of the outdoor swing
>>> beta = np.array([0.4, 0.7, 1.0, 1.3, 1.6])
>>> means = 15 + weather[:, None] * beta + rng.normal(0, 0.05, (120, 5))
>>> means[100:] += 5.0  # a new ambient regime from day 100
>>> days = np.arange(120)
>>> site = fit_site(days[:80], means[:80], spread=np.full(5, 5.0))
>>> found = site_days(site, days[80:], means[80:])
>>> [int(d) for d in found.loc[found["onset"], "day"]]
[100]
>>> bool(abs(found.loc[found["day"] == 100, "shift"].iloc[0] - 5.0) < 0.2)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forewarn.monitor.drift import critical_z, gaussian_max, jumps, robust_cov

#: expected false site-wide flags per site-year under the Gaussian null (one test per site and day)
FALSE_ALARMS_PER_YEAR = 0.01
#: a common shift smaller than this share of the channel's spread (SD over the reference's rows) is not flagged
MIN_SHIFT_SD = 0.5
#: the common pattern must explain at least this share of the day's (whitened) jumps
COMMON_SHARE = 0.8
#: the channels a site's machines share (their surroundings), tested site-wide by default
SITE_CHANNELS = ("ambient_temp",)


@dataclass
class SiteFactor:
    """One site's lines ``a_i = alpha_i + beta_i f`` of one channel over the reference, and the test's null."""

    assets: list[str]
    alpha: np.ndarray
    beta: np.ndarray
    spread: float  # the channel's SD over the reference's rows (mean over the assets), in its unit
    history: np.ndarray  # (days, m): the last reference days' residuals, the first baseline of the jumps
    inv: np.ndarray  # (m, m): pseudo-inverse of the reference jumps' covariance
    limit: float  # z threshold
    baseline_days: int = 14


def _residuals(site: SiteFactor, means: np.ndarray) -> np.ndarray:
    f = means.mean(axis=1, keepdims=True)
    return means - site.alpha - f * site.beta


def _glr(site: SiteFactor, jump: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The common shift's estimate, its z and the share of the whitened jumps it explains, per day."""
    pattern = 1.0 - site.beta
    info = max(float(pattern @ site.inv @ pattern), 1e-12)
    x = np.nan_to_num(jump)
    projected = x @ site.inv @ pattern
    total = np.maximum(np.einsum("ij,jk,ik->i", x, site.inv, x), 1e-12)
    z = projected / np.sqrt(info)
    return projected / info, z, z**2 / total


def fit_site(
    days: np.ndarray,
    means: np.ndarray,
    *,
    spread: np.ndarray,
    assets: Sequence[str] | None = None,
    baseline_days: int = 14,
    false_alarms_per_year: float = FALSE_ALARMS_PER_YEAR,
) -> SiteFactor | None:
    """The site's factor model from reference day means ``means`` (days x m assets, one column per asset, NaN
    where an asset has no reading that day) on day numbers ``days``; ``spread``: each asset's SD of the channel
    over the reference rows. ``None`` when fewer than 3 assets or 30 complete days."""
    means = np.asarray(means, dtype="float64")
    m = means.shape[1] if means.ndim == 2 else 0
    whole = np.isfinite(means).all(axis=1) if m else np.zeros(0, bool)
    if m < 3 or whole.sum() < 30:
        return None
    A = means[whole]
    f = A.mean(axis=1)
    X = np.c_[np.ones(len(f)), f]
    coef, *_ = np.linalg.lstsq(X, A, rcond=None)
    site = SiteFactor(
        assets=list(assets) if assets is not None else [str(i) for i in range(m)],
        alpha=coef[0],
        beta=coef[1],
        spread=float(np.nanmean(spread)),
        history=np.zeros((0, m)),
        inv=np.eye(m),
        limit=np.inf,
        baseline_days=int(baseline_days),
    )
    residual = _residuals(site, A)
    step = jumps(residual[3:], residual[:3], baseline_days)
    step = step[np.isfinite(step).all(axis=1)]
    if len(step) < 10:
        return None
    site.inv = np.linalg.pinv(robust_cov(step))
    _, z, _ = _glr(site, step)
    tail = float(np.max(np.abs(z), initial=0.0))
    site.limit = critical_z(false_alarms_per_year, 1) * max(1.0, tail / gaussian_max(len(step)))
    site.history = residual[-baseline_days:]
    return site


def site_days(site: SiteFactor, days: np.ndarray, means: np.ndarray) -> pd.DataFrame:
    """One row per day of ``means`` (days x the site's assets, in :attr:`SiteFactor.assets` order): ``day``, the
    common ``shift`` (in the channel's unit), its ``z``, the ``share`` of the day's jumps it explains,
    ``flagged`` and ``onset`` (flagged after a day that was not: the jumps stay high while the baseline still
    holds days before the change). Days on which an asset has no reading are not judged (and do not serve as baseline)."""
    means = np.asarray(means, dtype="float64")
    whole = np.isfinite(means).all(axis=1)
    out = pd.DataFrame({"day": np.asarray(days)[whole]})
    if not whole.any():
        return out.assign(shift=[], z=[], share=[], flagged=[], onset=[])
    residual = _residuals(site, means[whole])
    jump = jumps(residual, site.history, site.baseline_days)
    shift, z, share = _glr(site, jump)
    judged = np.isfinite(jump).all(axis=1)
    out["shift"], out["z"], out["share"] = shift, z, share
    flagged = (
        judged & (np.abs(z) > site.limit) & (share >= COMMON_SHARE) & (np.abs(shift) >= MIN_SHIFT_SD * site.spread)
    )
    out["flagged"] = flagged
    out["onset"] = flagged & ~np.r_[False, flagged[:-1]]
    return out


def site_onsets(
    levels: dict[str, tuple[np.ndarray, np.ndarray, float, np.ndarray, np.ndarray]],
    sites: dict[str, str],
    channel: str,
    *,
    since: int,
    baseline_days: int = 14,
) -> dict[str, list[dict[str, object]]]:
    """The site-wide shifts of ``channel`` as onsets per asset (:func:`forewarn.monitor.classify.episodes`'s
    layout, cause ``operating regime``), on days numbered ``since`` or later. ``levels``: per asset, its reference
    day numbers and day means of the channel, the channel's SD over the reference rows, and the monitored day
    numbers and day means (day numbers: days since 1970-01-01)."""
    by_site: dict[str, list[str]] = {}
    for asset in sorted(levels):
        by_site.setdefault(sites.get(asset, ""), []).append(asset)
    out: dict[str, list[dict[str, object]]] = {}
    for members in by_site.values():
        if len(members) < 3:
            continue
        ref = pd.DataFrame({a: pd.Series(levels[a][1], index=levels[a][0]) for a in members}).sort_index()
        site = fit_site(
            ref.index.to_numpy(),
            ref.to_numpy(),
            spread=np.array([levels[a][2] for a in members]),
            assets=members,
            baseline_days=baseline_days,
        )
        if site is None:
            continue
        live = pd.DataFrame({a: pd.Series(levels[a][4], index=levels[a][3]) for a in members}).sort_index()
        found = site_days(site, live.index.to_numpy(), live.to_numpy())
        for row in found[found["onset"] & (found["day"] >= since)].itertuples():
            day = pd.Timestamp(int(row.day), unit="D", tz="UTC")
            for asset in members:
                out.setdefault(asset, []).append(
                    {
                        "day": day,
                        "cause": "operating regime",
                        "plant_change": True,
                        "channels": [channel],
                        "jump_sd": {channel: round(float(row.shift) / site.spread, 3)},
                        "single_sensor_share": round(float(row.share), 3),
                        "actions": [],
                        "site_shift": round(float(row.shift), 3),
                        "site_z": round(float(row.z), 2),
                    }
                )
    return out
