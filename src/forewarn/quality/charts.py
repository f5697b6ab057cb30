"""Shewhart control charts (X-bar/R, X-bar/S, I-MR, p, np, c, u), EWMA and the tabular CUSUM.

Each function returns :class:`Chart` objects: the plotted statistic, the center line, the lower and upper
control limits (arrays, one value per point: the p and u charts' limits vary with the sample size, the EWMA's
with time) and the statistic's sigma per point (for the zone rules of :mod:`forewarn.quality.rules`).
Limits are estimated from the first ``baseline`` points (all points by default: Montgomery's phase I; give
``baseline`` to monitor later points against limits set on a known-good period, phase II). Formulas follow
Montgomery, *Introduction to Statistical Quality Control* (6th ed.), chapters 6, 7 and 9; lower limits that fall
below zero are set to zero for the R, S, p, np, c and u charts, as the textbook does.

>>> xbar, r = xbar_r([[1, 2, 3], [2, 3, 4], [3, 4, 5]])
>>> xbar.center, round(float(xbar.ucl[0]), 3), r.center, round(float(r.ucl[0]), 3)
(3.0, 5.046, 2.0, 5.147)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forewarn.exceptions import SchemaError
from forewarn.quality import constants as K
from forewarn.quality.rules import Violation, apply_rules

ArrayLike = Sequence[float] | Sequence[Sequence[float]] | np.ndarray


@dataclass
class Chart:
    """One control chart: statistic, center, limits and the statistic's sigma, one value per point."""

    name: str
    statistic: np.ndarray
    center: float
    lcl: np.ndarray
    ucl: np.ndarray
    sigma: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)

    def beyond_limits(self) -> list[int]:
        """Indices of points outside the control limits."""
        return [int(i) for i in np.flatnonzero((self.statistic > self.ucl) | (self.statistic < self.lcl))]

    def violations(self, ruleset: str = "western-electric") -> list[Violation]:
        """Rule hits (:func:`forewarn.quality.rules.apply_rules`) on this chart's zone scores.

        Charts whose lower limit was cut at zero keep their zones from the upper side (sigma per point).
        """
        return apply_rules((self.statistic - self.center) / self.sigma, ruleset)

    def to_dict(self, ruleset: str | None = "western-electric") -> dict[str, Any]:
        """JSON-ready: name, center, and per point statistic/lcl/ucl; rule hits when ``ruleset`` is given."""
        out: dict[str, Any] = {
            "name": self.name,
            "center": float(self.center),
            "statistic": [float(v) for v in self.statistic],
            "lcl": [float(v) for v in self.lcl],
            "ucl": [float(v) for v in self.ucl],
            "beyond_limits": self.beyond_limits(),
        }
        if ruleset is not None:
            out["violations"] = [v.to_dict() for v in self.violations(ruleset)]
        out.update({k: v for k, v in self.extra.items() if isinstance(v, int | float | str)})
        return out


def _series(x: ArrayLike, name: str, ndim: int = 1) -> np.ndarray:
    try:
        values = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise SchemaError(f"{name} must be numbers", column=name) from None
    if values.ndim != ndim:
        shape = "a 1-D series" if ndim == 1 else "a 2-D array (subgroups x observations)"
        raise SchemaError(f"{name} must be {shape}, got shape {values.shape}", column=name)
    if not np.all(np.isfinite(values)):
        first = int(np.flatnonzero(~np.isfinite(values).reshape(len(values), -1).all(axis=1))[0])
        raise SchemaError(f"needs finite points, point {first + 1} is not", column=name)
    if len(values) < 2:
        raise SchemaError(f"needs at least 2 points, got {len(values)}", column=name)
    if np.abs(values).max() > 1e150:
        raise SchemaError(f"{name} holds values beyond +/-1e150: the limits would overflow", column=name)
    return values


def _base(n: int, baseline: int | None) -> slice:
    if baseline is None:
        return slice(None)
    if not 2 <= baseline <= n:
        raise SchemaError(f"baseline {baseline} must be between 2 and the number of points ({n})", column="baseline")
    return slice(0, baseline)


def _chart(name: str, stat: np.ndarray, center: float, half: np.ndarray | float, floor: bool, **extra: Any) -> Chart:
    half_width = np.broadcast_to(np.asarray(half, dtype=float), stat.shape).copy()
    lcl = center - half_width
    if floor:
        lcl = np.maximum(lcl, 0.0)
    sigma = np.where(half_width > 0, half_width / 3.0, np.finfo(float).tiny)
    return Chart(name, stat, float(center), lcl, center + half_width, sigma, dict(extra))


def xbar_r(samples: ArrayLike, baseline: int | None = None) -> tuple[Chart, Chart]:
    """X-bar and R charts for rational subgroups (rows) of equal size 2..25: limits x-double-bar +/- A2 R-bar,
    D3 R-bar and D4 R-bar."""
    data = _series(samples, "samples", ndim=2)
    n = data.shape[1]
    means, ranges = data.mean(axis=1), np.ptp(data, axis=1)
    part = _base(len(data), baseline)
    grand, rbar = float(means[part].mean()), float(ranges[part].mean())
    xbar = _chart("xbar", means, grand, K.A2(n) * rbar, False, sigma_within=rbar / K.d2(n), n=n)
    r_chart = _chart("r", ranges, rbar, (K.D4(n) - 1.0) * rbar, True, n=n)
    r_chart.lcl = np.full(len(ranges), K.D3(n) * rbar)
    return xbar, r_chart


def xbar_s(samples: ArrayLike, baseline: int | None = None) -> tuple[Chart, Chart]:
    """X-bar and S charts: limits x-double-bar +/- A3 s-bar, B3 s-bar and B4 s-bar."""
    data = _series(samples, "samples", ndim=2)
    n = data.shape[1]
    means, sds = data.mean(axis=1), data.std(axis=1, ddof=1)
    part = _base(len(data), baseline)
    grand, sbar = float(means[part].mean()), float(sds[part].mean())
    xbar = _chart("xbar", means, grand, K.A3(n) * sbar, False, sigma_within=sbar / K.c4(n), n=n)
    s_chart = _chart("s", sds, sbar, (K.B4(n) - 1.0) * sbar, True, n=n)
    s_chart.lcl = np.full(len(sds), K.B3(n) * sbar)
    return xbar, s_chart


def imr(x: ArrayLike, baseline: int | None = None) -> tuple[Chart, Chart]:
    """Individuals and moving-range charts: x-bar +/- 3 MR-bar/d2 (d2 = 1.128), MR upper limit D4 MR-bar (3.267).

    The moving range of the first point is undefined; the MR chart starts at the second point.
    """
    values = _series(x, "x")
    moving = np.abs(np.diff(values))
    part = _base(len(values), baseline)
    center = float(values[part].mean())
    mrbar = float(moving[: (part.stop or len(values)) - 1].mean())
    sigma = mrbar / K.d2(2)
    individuals = _chart("individuals", values, center, 3 * sigma, False, sigma_within=sigma)
    mr = _chart("moving_range", moving, mrbar, (K.D4(2) - 1.0) * mrbar, True)
    return individuals, mr


def _counts(x: ArrayLike, name: str) -> np.ndarray:
    """Counts: finite, not negative, whole numbers (a measurement such as 10.13 charted as a count is a mistake)."""
    values = _series(x, name)
    if np.any(values < 0):
        raise SchemaError(f"must not be negative, got {values[values < 0][0]:g}", column=name)
    fractional = np.flatnonzero(values != np.round(values))
    if len(fractional):
        i = int(fractional[0])
        raise SchemaError(
            f"must be whole numbers (counts), got {values[i]:g} at point {i + 1}", column=name,
            hint="the p, np, c and u charts count units or defects; chart measurements with imr, xbar-r or xbar-s",
        )  # fmt: skip
    return values


def _sizes(n: float | ArrayLike, m: int, name: str) -> np.ndarray:
    given = np.asarray(n, dtype=float)
    if given.ndim > 1 or (given.ndim == 1 and len(given) not in (1, m)):
        raise SchemaError(f"{name} must be one size or one per sample ({m}), got shape {given.shape}", column=name)
    sizes = np.broadcast_to(given, (m,)).copy()
    if not np.all(np.isfinite(sizes)) or np.any(sizes <= 0):
        raise SchemaError(f"{name} must be positive", column=name)
    return sizes


def p_chart(defectives: ArrayLike, sizes: float | ArrayLike, baseline: int | None = None) -> Chart:
    """Fraction nonconforming: p-bar = total defectives / total inspected, limits p-bar +/- 3 sqrt(p-bar(1-p-bar)/n_i)
    (varying with each sample's size)."""
    d = _counts(defectives, "defectives")
    n = _sizes(sizes, len(d), "sizes")
    if np.any(d > n):
        raise SchemaError("a sample has more defectives than units inspected", column="defectives")
    part = _base(len(d), baseline)
    pbar = float(d[part].sum() / n[part].sum())
    return _chart("p", d / n, pbar, 3 * np.sqrt(pbar * (1 - pbar) / n), True)


def np_chart(defectives: ArrayLike, size: float, baseline: int | None = None) -> Chart:
    """Number nonconforming with a constant sample size n: n p-bar +/- 3 sqrt(n p-bar (1 - p-bar))."""
    d = _counts(defectives, "defectives")
    n = float(_sizes(size, 1, "size")[0])
    if np.any(d > n):
        raise SchemaError("a sample has more defectives than units inspected", column="defectives")
    part = _base(len(d), baseline)
    pbar = float(d[part].mean() / n)
    return _chart("np", d, n * pbar, 3 * math.sqrt(n * pbar * (1 - pbar)), True)


def c_chart(counts: ArrayLike, baseline: int | None = None) -> Chart:
    """Nonconformities per inspection unit: c-bar +/- 3 sqrt(c-bar)."""
    c = _counts(counts, "counts")
    cbar = float(c[_base(len(c), baseline)].mean())
    return _chart("c", c, cbar, 3 * math.sqrt(cbar), True)


def u_chart(counts: ArrayLike, units: float | ArrayLike, baseline: int | None = None) -> Chart:
    """Nonconformities per unit with n_i units per sample: u-bar +/- 3 sqrt(u-bar / n_i)."""
    c = _counts(counts, "counts")
    n = _sizes(units, len(c), "units")
    part = _base(len(c), baseline)
    ubar = float(c[part].sum() / n[part].sum())
    return _chart("u", c / n, ubar, 3 * np.sqrt(ubar / n), True)


def _target_sigma(values: np.ndarray, target: float | None, sigma: float | None, part: slice) -> tuple[float, float]:
    mu = float(values[part].mean()) if target is None else float(target)
    if sigma is not None and not sigma > 0:
        raise SchemaError(f"sigma must be positive, got {sigma}", column="sigma")
    if sigma is None:
        sigma = float(np.abs(np.diff(values[part])).mean() / K.d2(2))
        if not sigma > 0:
            raise SchemaError(
                "the baseline's points do not vary (every moving range is 0): its sigma is 0, the limits undefined",
                column="x", hint="give sigma (the process's known standard deviation) or a baseline that varies",
            )  # fmt: skip
    return mu, float(sigma)


def ewma(
    x: ArrayLike,
    *,
    lam: float = 0.2,
    L: float = 3.0,  # noqa: N803 - the textbook's name
    target: float | None = None,
    sigma: float | None = None,
    baseline: int | None = None,
) -> Chart:
    """EWMA chart z_i = lam x_i + (1 - lam) z_{i-1}, z_0 = target, with the exact time-varying limits
    target +/- L sigma sqrt(lam/(2 - lam) (1 - (1 - lam)^(2i))).

    ``target`` and ``sigma`` default to the baseline's mean and MR-bar/d2.
    """
    values = _series(x, "x")
    if not 0 < lam <= 1:
        raise SchemaError(f"lam must be in (0, 1], got {lam}", column="lam")
    mu, sig = _target_sigma(values, target, sigma, _base(len(values), baseline))
    z = np.empty_like(values)
    prev = mu
    for i, value in enumerate(values):
        prev = lam * value + (1 - lam) * prev
        z[i] = prev
    steps = np.arange(1, len(values) + 1)
    spread = sig * np.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * steps)))
    chart = _chart("ewma", z, mu, L * spread, False, lam=lam, L=L, sigma_process=sig)
    chart.sigma = spread
    return chart


def cusum(
    x: ArrayLike,
    *,
    k: float = 0.5,
    h: float = 5.0,
    target: float | None = None,
    sigma: float | None = None,
    baseline: int | None = None,
) -> Chart:
    """Tabular CUSUM: C+_i = max(0, x_i - (mu0 + K) + C+_{i-1}), C-_i = max(0, (mu0 - K) - x_i + C-_{i-1}),
    K = k sigma, decision interval H = h sigma.

    ``statistic`` holds C+, ``extra['lower']`` holds C-, and the limits are 0 and H: :func:`cusum_signals` gives
    the points where either side exceeds H (the zone rules do not apply to a CUSUM).
    """
    values = _series(x, "x")
    mu, sig = _target_sigma(values, target, sigma, _base(len(values), baseline))
    big_k, big_h = k * sig, h * sig
    upper, lower = np.zeros_like(values), np.zeros_like(values)
    cu = cl = 0.0
    for i, value in enumerate(values):
        cu = max(0.0, value - (mu + big_k) + cu)
        cl = max(0.0, (mu - big_k) - value + cl)
        upper[i], lower[i] = cu, cl
    chart = Chart(
        "cusum",
        upper,
        0.0,
        np.zeros_like(values),
        np.full_like(values, big_h),
        np.full_like(values, big_h / 3.0),
        {"k": k, "h": h, "target": mu, "sigma_process": sig, "lower": lower},
    )
    return chart


def cusum_signals(chart: Chart) -> list[int]:
    """Indices where C+ or C- exceeds the decision interval H."""
    lower = np.asarray(chart.extra["lower"])
    return [int(i) for i in np.flatnonzero((chart.statistic > chart.ucl) | (lower > chart.ucl))]
