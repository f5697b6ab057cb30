"""Multivariate drift: can the window's readings be told apart from the reference's, all channels at once?

The per-sensor residual tests (:mod:`~forewarn.monitor.drift`) see one sensor's level move against the others;
a plant can also move to a joint state that no single channel shows (a new mix of load and speed, a channel that
now varies with another it never followed). The kernel maximum mean discrepancy (Gretton et al., "A kernel
two-sample test", JMLR 13, 2012) compares the two samples as wholes: with a Gaussian kernel ``k``,

    MMD^2 = mean k(x, x') + mean k(y, y') - 2 mean k(x, y)

over reference rows ``x`` and window rows ``y`` (the unbiased statistic: no row paired with itself), standardised by the reference's channel
means and spreads, the kernel's width the median distance between the pooled rows (the median heuristic). Two
yardsticks say how large is large:

* ``p_permutation``: the share of ``n_perm`` random relabellings of the pooled rows with an MMD^2 at least the
  observed one ((1 + count) / (1 + n_perm)). It treats rows as exchangeable; hourly rows are not (they follow
  the day and the season), so on its own it flags any month against a year;
* ``p_reference``: the same statistic for windows of the reference itself (``window_days`` consecutive reference
  days, every ``step_days``) against the rest of the reference: the plant's own month-to-month variability. The
  window *drifts* when ``p_permutation`` is below ``alpha`` and its MMD^2 is above every reference window's
  (``p_reference`` at its smallest, 1 / (1 + windows)): it differs from the reference more than any stretch of
  the reference as long differs from the rest, and not by chance.

>>> rng = np.random.default_rng(0)
>>> ref = rng.normal(size=(600, 3))
>>> days = np.repeat(np.arange(60), 10)
>>> same = mmd_test(ref, days, rng.normal(size=(200, 3)), window_days=7, seed=1)
>>> moved = mmd_test(ref, days, rng.normal(size=(200, 3)) + [0.0, 0.0, 1.0], window_days=7, seed=1)
>>> same["drifted"], moved["drifted"], moved["p_permutation"] < 0.01
(False, True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: rows kept per sample (reference and window) for the kernel test
MAX_ROWS = 200


def _standardise(rows: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    out = (rows - mean) / np.where(sd > 0, sd, 1.0)
    return np.where(np.isfinite(out), out, 0.0)


def _pick(rows: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return rows if len(rows) <= n else rows[rng.choice(len(rows), n, replace=False)]


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a**2).sum(axis=1)[:, None] + (b**2).sum(axis=1)[None, :] - 2.0 * a @ b.T, 0.0)


def mmd2(x: np.ndarray, y: np.ndarray, width: float) -> float:
    """The unbiased MMD^2 of samples ``x`` and ``y`` (rows; two or more each) under a Gaussian kernel of
    ``width``: the within-sample means leave out each row with itself, so samples of different sizes (a window
    of the reference against the window monitored) are measured alike.

    >>> round(mmd2(np.zeros((2, 1)), np.ones((2, 1)), 1.0), 4)  # 1 + 1 - 2 exp(-1/2)
    0.7869
    """
    g = -0.5 / width**2
    n, m = len(x), len(y)
    kxx = (np.exp(g * _sq_dist(x, x)).sum() - n) / (n * (n - 1))
    kyy = (np.exp(g * _sq_dist(y, y)).sum() - m) / (m * (m - 1))
    return float(kxx + kyy - 2 * np.exp(g * _sq_dist(x, y)).mean())


def permutation_p(x: np.ndarray, y: np.ndarray, width: float, n_perm: int, rng: np.random.Generator) -> float:
    """(1 + the number of relabellings of the pooled rows with MMD^2 >= the observed) / (1 + ``n_perm``)."""
    pooled = np.r_[x, y]
    kernel = np.exp(-0.5 / width**2 * _sq_dist(pooled, pooled))
    n, m = len(x), len(y)
    labels = np.zeros((len(pooled), n_perm + 1))
    labels[:n, 0] = 1.0
    for p in range(1, n_perm + 1):
        labels[rng.permutation(len(pooled))[:n], p] = 1.0
    # weights 1/n on the first sample, -1/m on the second: w' K w is the biased MMD^2 of each labelling (any
    # statistic gives a valid permutation test; this one is one matrix product for all labellings)
    w = labels / n - (1.0 - labels) / m
    stats = np.einsum("ip,ip->p", w, kernel @ w)
    return float((1 + np.sum(stats[1:] >= stats[0] - 1e-12)) / (1 + n_perm))


def mmd_test(
    reference: np.ndarray,
    reference_days: np.ndarray,
    window: np.ndarray,
    *,
    window_days: int = 30,
    step_days: int = 14,
    n_perm: int = 100,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """MMD^2 of ``window`` rows against ``reference`` rows (raw values, one column per channel; ``reference_days``
    numbers each reference row's day), its permutation p-value and its p-value against the reference's own
    windows; see the module docstring."""
    rng = np.random.default_rng(seed)
    reference = np.asarray(reference, dtype="float64")
    window = np.asarray(window, dtype="float64")
    if len(reference) < 10 or len(window) < 10:
        return {"mmd2": None, "p_permutation": None, "p_reference": None, "drifted": False, "rows": len(window)}
    mean = np.nanmean(reference, axis=0)
    sd = np.nanstd(reference, axis=0)
    ref_z = _standardise(reference, mean, sd)
    x = _pick(ref_z, MAX_ROWS, rng)
    y = _pick(_standardise(window, mean, sd), MAX_ROWS, rng)
    pooled = np.r_[x, y]
    distances = np.sqrt(_sq_dist(pooled, pooled))
    width = float(np.median(distances[np.triu_indices(len(pooled), 1)])) or 1.0
    observed = mmd2(x, y, width)
    p_perm = permutation_p(x, y, width, n_perm, rng)
    own = []
    days = np.asarray(reference_days)
    first, last = int(days.min()), int(days.max())
    for start in range(first, max(first + 1, last - window_days + 2), max(1, step_days)):
        inside = (days >= start) & (days < start + window_days)
        if inside.sum() < 10 or (~inside).sum() < 10:
            continue
        own.append(mmd2(_pick(ref_z[~inside], MAX_ROWS, rng), _pick(ref_z[inside], MAX_ROWS, rng), width))
    p_ref = float((1 + np.sum(np.asarray(own) >= observed)) / (1 + len(own))) if own else None
    return {
        "mmd2": round(observed, 6),
        "p_permutation": round(p_perm, 4),
        "p_reference": None if p_ref is None else round(p_ref, 4),
        "reference_windows": len(own),
        "reference_max_mmd2": round(max(own), 6) if own else None,
        "drifted": bool(own and p_perm < alpha and observed > max(own)),
        "rows": len(window),
    }
