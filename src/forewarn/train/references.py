"""The model card's reference distributions and each feature's drift line.

A card keeps the deciles of every feature over the training rows (:func:`forewarn.train.card.
reference_distributions`); the monitor measures a window's features against them by the population stability
index (:func:`psi`). The customary line, PSI 0.25, says "not like the whole training span", which on a seasonal
plant is true of every month the model was trained on: May against January-May weather is PSI 2-4 on the ambient
features, yet the model has seen May.

So the card also keeps a line per feature from the reference's own variability (:func:`feature_lines`): the PSI
against the deciles of every stretch of the training span as long as a monitoring window (``window_days``: 1, 7,
30 and 90 days, a stretch starting on each day), and the line is the highest of them times ``margin``, never below
the customary 0.25 (:data:`PSI_LINE`). The highest, not a 95th percentile: the stretches of a seasonal span's
first and last months are its extremes, and a window the model was trained on is then never called drifted. A
plant change (an offset of a sensor on every machine, a new regime) moves the feature beyond anything the span
held and still crosses its line; a feature that wandered as much within the span cannot show a change of that
size by its distribution alone (the per-sensor residual tests of :mod:`forewarn.monitor.drift` are the ones that
look through the operating point). :func:`line_for` picks the line of a monitoring window: that of the longest
stretch not longer than the window, raised by the chance PSI of the rows the window lacks (:func:`sampling_psi`)
when it holds fewer rows.

>>> rng = np.random.default_rng(0)
>>> ts = pd.Series(pd.date_range("2024-01-01", periods=24 * 120, freq="1h", tz="UTC"))
>>> season = np.sin(np.arange(len(ts)) / len(ts) * np.pi)  # warm in the middle of the span
>>> X = pd.DataFrame({"ambient": season + rng.normal(0, 0.1, len(ts)), "noise": rng.normal(size=len(ts))})
>>> reference = {c: np.quantile(X[c], DECILES).tolist() for c in X}
>>> lines = feature_lines(reference, X, ts)
>>> lines["window_days"], [round(v, 2) for v in lines["lines"]["noise"]]
([1, 7, 30, 90], [3.5, 0.26, 0.25, 0.25])
>>> line_for(lines, "ambient", days=30, rows=720, deciles=np.array(reference["ambient"]))[0] > psi(np.array(reference["ambient"]), X["ambient"][-720:].to_numpy())
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from forewarn.train.card import reference_distributions

#: the quantile levels of a card's reference (0, 10, ..., 100 %)
DECILES = np.linspace(0.0, 1.0, 11)
#: the customary PSI line ("a significant shift"), and the floor of every line from the reference
PSI_LINE = 0.25
#: a feature's line is this many times the highest PSI of the training span's own stretches (chosen on the twin's
#: validation seeds 3-4: the smallest of 1.25, 1.5, 2, 3 with no feature flagged on healthy fleets; benchmarks/
#: monitor_features.py, BENCHMARKS.md "Drift monitoring"; 2, as the sensor thresholds' margin)
LINE_MARGIN = 2.0
#: the stretch lengths the card keeps a line for, in days
WINDOW_DAYS = (1, 7, 30, 90)
#: a stretch counts when it holds at least this share of the median stretch's rows (edges and gaps hold fewer)
FULL_SHARE = 0.75
_DAY_NS = 86_400_000_000_000
#: a class keeps its own reference (:func:`class_references`) from this many training rows: its deciles' bins then
#: hold 50 rows each, and a reference sample that size strays from its class by a PSI of about (10 - 1) / 500 = 0.02
#: (a tenth of the lowest line, 0.25); fewer, and its rows are judged with the fleet's
MIN_CLASS_ROWS = 500
#: a class's lines are this many times the highest PSI of its own stretches (chosen on the twin's validation seeds 3-4
#: by the same rule as :data:`LINE_MARGIN`: the smallest of 2, 3, 4, 6 with no feature of any class flagged on
#: healthy fleets; benchmarks/monitor_classes.py, BENCHMARKS.md "Drift monitoring"). Higher than the fleet's: a class
#: of two to five machines wanders further from one reference year than a fleet of twenty does
CLASS_LINE_MARGIN = 6.0


def psi_bins(deciles: np.ndarray, *, floor: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """The bin edges and expected shares of a reference given by its deciles: bin ``k`` holds the values above
    edge ``k - 1`` and up to edge ``k`` (right-closed, as a decile is the value with its share at or below it), so
    a point mass (a stopped machine's zero speed filling several deciles) is expected where it falls.

    >>> edges, expected = psi_bins(np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5.0]))
    >>> edges.tolist(), expected.round(2).tolist()
    ([0.0, 1.0, 2.0, 3.0, 4.0], [0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    """
    inner = np.unique(deciles[1:-1])
    cumulative = np.searchsorted(deciles[1:-1], inner, side="right") / 10.0
    return inner, np.maximum(np.diff(np.r_[0.0, cumulative, 1.0]), floor)


def psi_bin(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The bin of each value for :func:`psi_bins`' edges (right-closed bins)."""
    return np.searchsorted(edges, values, side="left")


def psi_shares(expected: np.ndarray, actual: np.ndarray) -> Any:
    """Population stability index of bin shares ``actual`` against ``expected`` (the last axis holds the bins:
    one PSI per row of a 2-D ``actual``).

    >>> round(float(psi_shares(np.array([0.5, 0.5]), np.array([0.9, 0.1]))), 4)
    0.8789
    """
    return np.sum((actual - expected) * np.log(actual / expected), axis=-1)


def psi(deciles: np.ndarray, values: np.ndarray, *, floor: float = 1e-3) -> float:
    """Population stability index of ``values`` against a reference given by its deciles (ten equal-mass bins).

    >>> round(psi(np.linspace(0, 10, 11), np.arange(0.5, 10, 1.0)), 6)  # one value per bin: no drift
    0.0
    >>> round(psi(np.linspace(0, 10, 11), np.full(10, 0.5)), 3)  # all in the first bin: 0.9 ln 10 + 9 (0.099 ln 100)
    6.176
    >>> round(psi(np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5.0]), np.r_[np.zeros(5), np.arange(0.5, 5)]), 6)
    0.0
    """
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan")
    edges, expected = psi_bins(deciles, floor=floor)
    counts = np.bincount(psi_bin(edges, values), minlength=len(edges) + 1)
    return float(psi_shares(expected, np.maximum(counts / len(values), floor)))


def stretch_psis(
    deciles: np.ndarray, values: np.ndarray, day: np.ndarray, days: int, *, floor: float = 1e-3
) -> tuple[np.ndarray, float]:
    """The PSI against ``deciles`` of the values of every stretch of ``days`` consecutive days (one starting on
    each day; ``day``: each value's day number), the stretches holding too few rows left out, and the median rows
    of those kept. Empty when the span is shorter than ``days``.

    >>> day = np.repeat(np.arange(10), 24)
    >>> values = np.r_[np.zeros(24 * 5), np.ones(24 * 5)]  # the span's second half reads 1, its first 0
    >>> psis, rows = stretch_psis(np.quantile(values, DECILES), values, day, 5)
    >>> len(psis), rows, round(float(psis.max()), 2)
    (6, 120.0, 3.85)
    """
    keep = np.isfinite(values)
    values, day = values[keep], day[keep]
    if not len(values):
        return np.zeros(0), float("nan")
    day = day - day.min()
    n_days = int(day.max()) + 1
    if n_days < days:
        return np.zeros(0), float("nan")
    edges, expected = psi_bins(deciles, floor=floor)
    bins = len(edges) + 1
    counts = np.bincount(day * bins + psi_bin(edges, values), minlength=n_days * bins).reshape(n_days, bins)
    cumulative = np.vstack([np.zeros((1, bins)), np.cumsum(counts, axis=0)])
    stretch = cumulative[days:] - cumulative[:-days]
    rows = stretch.sum(axis=1)
    typical = float(np.median(rows[rows > 0])) if (rows > 0).any() else 0.0
    full = rows >= FULL_SHARE * typical
    if not full.any():
        return np.zeros(0), float("nan")
    shares = np.maximum(stretch[full] / rows[full, None], floor)
    return np.asarray(psi_shares(expected, shares), dtype="float64"), float(np.median(rows[full]))


def feature_lines(
    reference: dict[str, list[float | None]],
    X: pd.DataFrame,
    ts: Sequence[Any] | pd.Series | np.ndarray,
    *,
    rows: np.ndarray | None = None,
    window_days: Sequence[int] = WINDOW_DAYS,
    margin: float = LINE_MARGIN,
    floor: float = PSI_LINE,
) -> dict[str, Any]:
    """Each feature's drift line for the card (see the module docstring): ``reference`` the card's deciles,
    ``X`` the feature rows over the training span (``ts``: their times, UTC), of which ``rows`` (a boolean mask,
    by default every row) are those the service would score; each column is read alone (no copy of ``X``). Per
    stretch length ``window_days[i]``, ``lines[feature][i]`` (``None`` where the span is shorter or the feature
    has no deciles) and ``window_rows[i]`` (the median rows of its stretches, for :func:`line_for`'s sample-size
    correction)."""
    keep = np.ones(len(X), bool) if rows is None else np.asarray(rows, bool)
    stamp = pd.to_datetime(pd.Series(np.asarray(ts)[keep]), utc=True)
    day = stamp.to_numpy(dtype="datetime64[ns]").astype("int64") // _DAY_NS
    lengths = [int(d) for d in window_days]
    lines: dict[str, list[float | None]] = {}
    typical_rows: list[list[float]] = [[] for _ in lengths]
    for feature, deciles in reference.items():
        if feature not in X or any(d is None for d in deciles):
            continue
        values = X[feature].to_numpy(dtype="float64")[keep]
        cut = np.asarray(deciles, dtype="float64")
        lines[feature] = []
        for i, length in enumerate(lengths):
            psis, typical = stretch_psis(cut, values, day, length)
            if not len(psis):
                lines[feature].append(None)
                continue
            lines[feature].append(math.ceil(max(floor, margin * float(psis.max())) * 1e4) / 1e4)  # up: never below
            typical_rows[i].append(typical)
    return {
        "method": f"highest PSI of the training span's stretches x {margin}, at least {floor}",
        "margin": margin,
        "floor": floor,
        "window_days": lengths,
        "window_rows": [float(np.median(r)) if r else None for r in typical_rows],
        "lines": lines,
    }


def sampling_psi(expected: np.ndarray, rows: int, *, q: float = 0.99, draws: int = 400, seed: int = 0) -> float:
    """The ``q`` quantile of the PSI of ``rows`` independent draws from the bin shares ``expected`` against them:
    how far a sample of that size strays by chance alone (with :func:`psi`'s share floor, an empty bin counts
    0.46, far above the chi-square approximation ``(bins - 1) / rows``).

    >>> expected = np.full(10, 0.1)
    >>> sampling_psi(expected, 24) > sampling_psi(expected, 720) > 0
    True
    """
    p = np.asarray(expected, dtype="float64")
    counts = np.random.default_rng(seed).multinomial(int(rows), p / p.sum(), size=draws)
    shares = np.maximum(counts / float(rows), 1e-3)
    return float(np.quantile(psi_shares(p, shares), q))


def line_for(
    lines: dict[str, Any] | None, feature: str, *, days: int, rows: int, deciles: np.ndarray
) -> tuple[float, str]:
    """The PSI line of ``feature`` for a window of ``days`` days holding ``rows`` values (``deciles``: the card's
    reference of the feature), and where it comes from: ``"reference"`` (the card's lines) or ``"customary"``
    (0.25: a card written before the lines, or a feature without one). The line of the longest stretch not longer
    than the window; a window holding fewer rows than those stretches did gets ``margin`` times the difference of
    their chance PSIs (:func:`sampling_psi`) on top.

    >>> lines = {"window_days": [1, 30], "window_rows": [24.0, 720.0], "margin": 1.5, "lines": {"f": [0.9, 0.4]}}
    >>> cut = np.linspace(0, 10, 11)
    >>> line_for(lines, "f", days=30, rows=720, deciles=cut), line_for(lines, "f", days=7, rows=168, deciles=cut)
    ((0.4, 'reference'), (0.9, 'reference'))
    >>> line_for(lines, "f", days=30, rows=360, deciles=cut)[0] > 0.4  # half the rows: a higher line
    True
    >>> line_for(None, "f", days=30, rows=720, deciles=cut)
    (0.25, 'customary')
    """
    per_length = (lines or {}).get("lines", {}).get(feature)
    if not per_length:
        return PSI_LINE, "customary"
    assert lines is not None  # per_length came from it
    pairs = zip(lines["window_days"], per_length, lines["window_rows"], strict=True)
    known = [(int(d), float(v), r) for d, v, r in pairs if v is not None]
    if not known:
        return PSI_LINE, "customary"
    shorter = [k for k in known if k[0] <= days]
    _, line, typical = max(shorter) if shorter else min(known)
    if typical and 0 < rows < typical:
        _, expected = psi_bins(np.asarray(deciles, dtype="float64"))
        chance = sampling_psi(expected, rows) - sampling_psi(expected, int(typical))
        line += float(lines.get("margin", LINE_MARGIN)) * max(0.0, chance)
    return line, "reference"


def class_references(
    X: pd.DataFrame,
    ts: Sequence[Any] | pd.Series | np.ndarray,
    classes: Sequence[Any] | np.ndarray,
    *,
    train_rows: np.ndarray,
    rows: np.ndarray | None = None,
    min_rows: int = MIN_CLASS_ROWS,
    window_days: Sequence[int] = WINDOW_DAYS,
    margin: float = CLASS_LINE_MARGIN,
) -> dict[str, Any]:
    """The card's reference per asset class (``reference_by_class``): for each class (``classes``: each row's), the
    deciles of its training rows (``train_rows``: their positions in ``X``, as the pooled reference takes them) and
    its lines (:func:`feature_lines`) over its rows the service would score (``rows``, a boolean mask; every row by
    default), at ``margin`` (:data:`CLASS_LINE_MARGIN`). A class with fewer than ``min_rows`` training rows gets no
    reference of its own (``pooled``: why); the monitor then judges its rows with the fleet's (see
    :data:`MIN_CLASS_ROWS`).

    A class's rows differ from the fleet's mixture (a pump's seal leak, a compressor's discharge temperature), so a
    change that hits one class, diluted among the others in the pooled PSI, stands out against its own reference.

    >>> rng = np.random.default_rng(1)
    >>> ts = np.tile(pd.date_range("2024-01-01", periods=24 * 40, freq="1h", tz="UTC"), 3)
    >>> classes = np.repeat(["pump", "pump", "fan"], 24 * 40)
    >>> X = pd.DataFrame({"t": np.where(classes == "pump", 60.0, 30.0) + rng.normal(size=len(ts))})
    >>> out = class_references(X, ts, classes, train_rows=np.arange(len(X)), min_rows=1000)
    >>> out["classes"]["pump"]["rows"], round(out["classes"]["pump"]["reference"]["t"][5]), out["classes"]["fan"]
    (1920, 60, {'rows': 960, 'pooled': 'fan: 960 training rows, fewer than 1000: judged with the fleet'})
    """
    names = pd.Series(np.asarray(classes, dtype=object)).fillna("").astype(str).to_numpy()
    trained = np.zeros(len(X), bool)
    trained[np.asarray(train_rows)] = True
    scored = np.ones(len(X), bool) if rows is None else np.asarray(rows, bool)
    stamps = np.asarray(ts)
    out: dict[str, Any] = {}
    for name in sorted({n for n in names if n}):
        mine = names == name
        count = int((mine & trained).sum())
        if count < min_rows:
            why = f"{name}: {count} training rows, fewer than {min_rows}: judged with the fleet"
            out[name] = {"rows": count, "pooled": why}
            continue
        reference = reference_distributions(X[mine & trained])
        lines = feature_lines(reference, X, stamps, rows=mine & scored, window_days=window_days, margin=margin)
        out[name] = {"rows": count, "reference": reference, "reference_lines": lines}
    return {"min_rows": int(min_rows), "classes": out}
