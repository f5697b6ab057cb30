"""Ensemble member: distance of windowed embeddings to the nearest normal ones.

Each row is embedded by its trailing windows at several time scales: for every window length ``w`` and
channel, the window's mean and the log of its standard deviation (floored), so a level, a drift, a variance
change or a stuck sensor (a spread that collapses) each move the embedding. Features are standardised by
their robust training spread. The reference set is up to ``references`` training embeddings, evenly spaced in
time; a row's score is its mean squared distance per feature to the nearest reference. On the training rows
the references closer in time than the longest window are left out, so the training scores (the member's
normalisation) are honest rather than zero.

A channel recorded on a coarse grid (a historian's four decimals) carries rounding noise (``noise``: its
variance, standardised units) that is added to every window's variance: a window that sat on one recorded step
is then as flat as rounding allows, not flatter, so a later window that crosses one step does not look like a
new variance (without it one such channel's log spread jumps by 2-3 and a failing twin fleet's alarms doubled);
and a window mean's training spread is at least that of ``w`` roundings (``noise / w``), since a channel that sat
on one step through training has window means that never moved.

>>> import numpy as np
>>> rng = np.random.default_rng(2)
>>> z = rng.normal(size=(600, 2)); z[500:520, 0] = z[500, 0]   # a stuck sensor
>>> state = fit(z[:400], windows=(8, 32), references=128)
>>> s = score(state, z, windows=(8, 32))
>>> bool(s[515] > 3 * np.nanquantile(train_scores(state, z[:400], windows=(8, 32)), 0.99))
True
"""

from __future__ import annotations

import numpy as np

from forewarn.models.anomaly.robust import robust_location_scale, trailing_mean, trailing_std

#: the floor of a window's standard deviation (standardised units): a constant window is this flat
STD_FLOOR = 0.02
#: rows scored per block (memory)
BLOCK = 32768


def memory(windows: tuple[int, ...]) -> int:
    """Rows before a row that its score reads: its longest trailing window (:mod:`.memo`)."""
    return max(windows)


def features(z: np.ndarray, windows: tuple[int, ...], noise: np.ndarray | None = None) -> np.ndarray:
    """The embedding of every row: per window, every channel's trailing mean and log standard deviation (the
    window's variance plus the channel's rounding ``noise``, when given)."""
    parts = []
    for w in windows:
        parts.append(trailing_mean(z, w))
        std = trailing_std(z, w)
        if noise is not None and np.any(noise > 0):
            std = np.sqrt(std * std + noise)
        parts.append(np.log(std + STD_FLOOR))
    return np.hstack(parts)


def fit(
    z: np.ndarray, windows: tuple[int, ...], references: int, noise: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Learn the feature scaling and the reference embeddings from training rows ``z`` (``noise``: each channel's
    rounding variance, kept in the state; none by default)."""
    noise = np.zeros(z.shape[1]) if noise is None else np.asarray(noise, dtype="float64")
    f = features(z, windows, noise)
    start = min(max(windows) - 1, len(z) - 1)  # rows with full windows where the training set allows it
    center, spread = robust_location_scale(f[start:])
    # a window's mean carries its rows' rounding too: its spread is at least that of the mean of w roundings
    width = z.shape[1]
    for j, w in enumerate(windows if noise.any() else ()):
        means = slice(2 * j * width, (2 * j + 1) * width)
        spread[means] = np.sqrt(spread[means] ** 2 + noise / w)
    index = np.unique(np.linspace(start, len(z) - 1, min(references, len(z) - start)).round().astype("int64"))
    reference = (f[index] - center) / spread
    return {"center": center, "spread": spread, "reference": reference, "index": index, "noise": noise}


def _nearest(g: np.ndarray, reference: np.ndarray, exclude: tuple[np.ndarray, int] | None) -> np.ndarray:
    out = np.empty(len(g))
    ref_sq = (reference * reference).sum(axis=1)
    for lo in range(0, len(g), BLOCK):
        block = g[lo : lo + BLOCK]
        d = (block * block).sum(axis=1)[:, None] + ref_sq[None, :] - 2.0 * block @ reference.T
        if exclude is not None:
            index, zone = exclude
            rows = np.arange(lo, lo + len(block))
            d[np.abs(rows[:, None] - index[None, :]) < zone] = np.inf
        best = d.min(axis=1)
        out[lo : lo + len(block)] = np.where(np.isfinite(best), best, np.nan)
    return np.maximum(out, 0.0) / max(g.shape[1], 1)


def _score(
    state: dict[str, np.ndarray], z: np.ndarray, windows: tuple[int, ...], exclude: bool, first: int = 0
) -> np.ndarray:
    """The largest, over time scales, of the distance per feature; a scale counts once its window is full
    (NaN before the shortest window fills); rows before ``first`` are not scored (NaN)."""
    g = (features(z, windows, state.get("noise"))[first:] - state["center"]) / state["spread"]
    width = 2 * z.shape[1]
    out = np.full(len(z), np.nan)
    for j, w in enumerate(windows):
        cols = slice(j * width, (j + 1) * width)
        d = np.full(len(z), np.nan)
        d[first:] = _nearest(
            g[:, cols], state["reference"][:, cols], (state["index"], max(windows)) if exclude else None
        )
        d[: w - 1] = np.nan
        out = np.fmax(out, d)
    return out


def score(state: dict[str, np.ndarray], z: np.ndarray, windows: tuple[int, ...], first: int = 0) -> np.ndarray:
    """Distance per feature to the nearest reference embedding (largest time scale; NaN until a window fills); the
    rows before ``first`` are not scored (NaN: a caller that knows them already, :mod:`.memo`)."""
    return _score(state, z, windows, exclude=False, first=first)


def train_scores(state: dict[str, np.ndarray], z: np.ndarray, windows: tuple[int, ...]) -> np.ndarray:
    """Scores of the training rows with the references near each row in time left out (NaN: none left)."""
    return _score(state, z, windows, exclude=True)
