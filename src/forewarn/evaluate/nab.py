"""NAB-style scoring (Numenta Anomaly Benchmark v1.1, Lavin & Ahmad 2015), on row positions.

A *file* is a series of ``n_rows`` rows with labelled anomaly windows (inclusive row ranges). A detector's
binary detections are scored per profile (weights ``tp``, ``fn``, ``fp``):

* Windows: NAB gives each file 10 % of its length, shared equally among its labelled anomalies and
  centred on each (:func:`centred_windows`); SKAB's variant puts a 60 s window to the *right* of each
  changepoint (:func:`right_windows`). Overlapping windows are merged (NAB) or the later one is cut (SKAB).
* Probation: the first 15 % of a file (at most 750 rows) is unscored (:func:`probation_rows`); a window
  lying wholly inside it is dropped, since no detector could be credited for it.
* Inside a window, a detection at relative position ``y`` (-1 at the left edge, about 0 at the right
  edge: ``y = (i - end - 1) / length``) earns ``tp * (2 * sigmoid(-5 y) - 1)``; only the first detection
  in a window counts, a window without detection costs ``-fn``.
* A detection outside every window is a false positive. Before the first window it costs ``-fp``; after
  a window it costs ``fp * (2 * sigmoid(-5 y) - 1)`` with ``y`` the distance past that window's right edge
  in window lengths (so a late detection just after a window is barely punished), and ``-fp`` once
  ``y > 3``.
* Profiles (tp, fn, fp): standard (1, 1, 0.11), reward low FP (1, 1, 0.22), reward low FN (1, 2, 0.11).
* Corpus score: raw scores are summed over files and normalised, ``100 * (raw - null) / (perfect - null)``,
  where the null detector (never fires) scores ``-fn`` per window and the perfect one fires exactly once,
  on the first scored row of every window.
* One threshold per detector and profile: :func:`optimise_threshold` sweeps every distinct score over the
  whole corpus (detection = score >= threshold) and keeps the best normalised score, as NAB's optimiser
  does, with an exact vectorised sweep instead of NAB's search.

SKAB's leaderboard used its own variant (TSAD's ``chp_score``), available here as ``curve="skab"`` on a
:class:`NABFile`, so that figures can stand beside SKAB's published ones: a detection at relative position
``f`` in its window (0 at the left edge, 1 at the right) earns
``(tp + fp) / 2 * (1 - tanh(x) / tanh(pi / 2)) - fp`` with ``x = pi * (f - 1/2)``, which falls from
``tp`` at the left edge to ``-fp`` at the right edge; every false positive costs ``-fp`` wherever it is;
the perfect detector fires on each window's first row. (TSAD reads the curve off a 1000-point grid; this
evaluates it exactly.)

>>> f = NABFile(n_rows=100, windows=((40, 49),), probation=10)
>>> detections = np.zeros(100, dtype=bool); detections[40] = True
>>> round(normalised_score([detections], [f]), 6)
100.0
>>> round(normalised_score([np.zeros(100, dtype=bool)], [f]), 6)
0.0
>>> scores = np.zeros(100); scores[45] = 0.9; scores[80] = 0.5
>>> threshold, best = optimise_threshold([scores], [f])
>>> threshold, round(best, 1)
(0.9, 93.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError


@dataclass(frozen=True)
class Profile:
    """NAB application profile: weight of a true positive, a false negative (window missed), a false positive."""

    name: str
    tp: float
    fn: float
    fp: float


#: SKAB's changepoint window: 60 s to the right of each changepoint
SKAB_WINDOW = pd.Timedelta(seconds=60)

PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", 1.0, 1.0, 0.11),
    "low_fp": Profile("low_fp", 1.0, 1.0, 0.22),
    "low_fn": Profile("low_fn", 1.0, 2.0, 0.11),
}


@dataclass(frozen=True)
class NABFile:
    """One scored series: its length, its anomaly windows (inclusive ``(start, end)`` rows) and probation rows."""

    n_rows: int
    windows: tuple[tuple[int, int], ...]
    probation: int = 0
    curve: str = "nab"  # "nab": NAB's sigmoid weighting; "skab": SKAB's (TSAD's) tanh weighting

    def __post_init__(self) -> None:
        if self.curve not in ("nab", "skab"):
            raise SchemaError(f"unknown scoring curve {self.curve!r}", column="curve", hint="use 'nab' or 'skab'")
        previous_end = -1
        for start, end in self.windows:
            if not 0 <= start <= end < self.n_rows:
                raise SchemaError(f"window ({start}, {end}) is outside rows 0..{self.n_rows - 1}", column="windows")
            if start <= previous_end:
                raise SchemaError(
                    f"window ({start}, {end}) overlaps the previous one",
                    column="windows",
                    hint="sort windows and merge or cut overlaps (see centred_windows, right_windows)",
                )
            previous_end = end
        if not 0 <= self.probation <= self.n_rows:
            raise SchemaError(f"probation {self.probation} must be between 0 and {self.n_rows}", column="probation")

    @property
    def scored_windows(self) -> tuple[tuple[int, int], ...]:
        """Windows with at least one row after the probationary period."""
        return tuple(w for w in self.windows if w[1] >= self.probation)


def scaled_sigmoid(y: np.ndarray | float) -> np.ndarray:
    """NAB's ``2 * sigmoid(-5 y) - 1``, and -1 beyond ``y > 3``.

    >>> [round(float(v), 4) for v in scaled_sigmoid(np.array([-1.0, 0.0, 1.0, 4.0]))]
    [0.9866, 0.0, -0.9866, -1.0]
    """
    y = np.asarray(y, dtype="float64")
    return np.where(y > 3.0, -1.0, 2.0 / (1.0 + np.exp(np.clip(5.0 * y, -700, 700))) - 1.0)


def skab_curve(fraction: np.ndarray | float, profile: Profile) -> np.ndarray:
    """SKAB's (TSAD's) credit for a detection at ``fraction`` of its window: ``tp`` at 0 down to ``-fp`` at 1.

    >>> [round(float(v), 3) for v in skab_curve(np.array([0.0, 0.5, 1.0]), PROFILES["standard"])]
    [1.0, 0.445, -0.11]
    """
    x = np.pi * (np.asarray(fraction, dtype="float64") - 0.5)
    half = (profile.tp + profile.fp) / 2.0
    return half * (1.0 - np.tanh(x) / np.tanh(np.pi / 2.0)) - profile.fp


def probation_rows(n_rows: int, fraction: float = 0.15, cap: int = 750) -> int:
    """NAB's probationary period: the first ``fraction`` of the rows, at most ``cap``.

    >>> probation_rows(1000), probation_rows(100_000)
    (150, 750)
    """
    return min(int(math.floor(fraction * n_rows)), cap)


def centred_windows(n_rows: int, anomalies: Sequence[int], fraction: float = 0.1) -> tuple[tuple[int, int], ...]:
    """NAB windows: ``fraction`` of the file shared among ``anomalies`` (row positions), centred, merged on overlap.

    >>> centred_windows(1000, [300, 700])
    ((275, 324), (675, 724))
    """
    points = sorted(int(a) for a in anomalies)
    if not points:
        return ()
    if points[0] < 0 or points[-1] >= n_rows:
        raise SchemaError(f"anomaly rows must lie in 0..{n_rows - 1}", column="anomalies")
    length = max(1, int(fraction * n_rows / len(points)))
    merged: list[list[int]] = []
    for point in points:
        start = max(0, point - length // 2)
        end = min(n_rows - 1, start + length - 1)
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def right_windows(
    index: pd.DatetimeIndex | Sequence[int], events: Sequence[int] | np.ndarray, width: pd.Timedelta | int = SKAB_WINDOW
) -> tuple[tuple[int, int], ...]:
    """SKAB windows: from each event row to the last row within ``width`` after it (time or rows).

    ``index`` gives each row's time (a DatetimeIndex, with ``width`` a Timedelta) or is ignored when
    ``width`` is a row count. A window that would overlap its predecessor starts right after it.

    >>> right_windows(range(10), [2, 4], width=3)
    ((2, 5), (6, 7))
    """
    points = sorted(int(e) for e in events)
    windows: list[tuple[int, int]] = []
    n_rows = len(index)
    times = np.asarray(index) if isinstance(width, pd.Timedelta) else None
    for point in points:
        if not 0 <= point < n_rows:
            raise SchemaError(f"event row {point} is outside rows 0..{n_rows - 1}", column="events")
        if times is None:
            end = min(n_rows - 1, point + int(width))
        else:
            step = cast(pd.Timedelta, width)  # times is set only when width is a Timedelta
            end = int(np.searchsorted(times, times[point] + step.to_timedelta64(), side="right")) - 1
        start = point if not windows else max(point, windows[-1][1] + 1)
        if start <= end:
            windows.append((start, end))
    return tuple(windows)


@dataclass(frozen=True)
class _Rows:
    """Per-row scoring values of one file under one profile."""

    window: np.ndarray  # window number or -1 outside windows
    value: np.ndarray  # value of a detection on this row (tp credit inside a window, fp cost outside)
    scored: np.ndarray  # False in the probationary period


def _rows(file: NABFile, profile: Profile) -> _Rows:
    window = np.full(file.n_rows, -1, dtype="int64")
    value = np.full(file.n_rows, -profile.fp)  # before any window
    positions = np.arange(file.n_rows)
    windows = file.scored_windows
    for number, (start, end) in enumerate(windows):
        length = end - start + 1
        inside = slice(start, end + 1)
        window[inside] = number
        if file.curve == "skab":
            value[inside] = skab_curve((positions[inside] - start) / max(end - start, 1), profile)
            continue  # false positives stay at -fp
        value[inside] = profile.tp * scaled_sigmoid((positions[inside] - end - 1) / length)
        after_end = windows[number + 1][0] if number + 1 < len(windows) else file.n_rows
        after = slice(end + 1, after_end)
        value[after] = profile.fp * scaled_sigmoid((positions[after] - end) / length)
    scored = positions >= file.probation
    return _Rows(window, value, scored)


def raw_score(detections: np.ndarray, file: NABFile, profile: Profile = PROFILES["standard"]) -> float:
    """Un-normalised NAB score of one file's binary ``detections``."""
    hits = np.asarray(detections, dtype=bool)
    if hits.shape != (file.n_rows,):
        raise SchemaError(f"detections have shape {hits.shape}, expected ({file.n_rows},)", column="detections")
    rows = _rows(file, profile)
    hits = hits & rows.scored
    total = float(rows.value[hits & (rows.window < 0)].sum())
    for number in range(len(file.scored_windows)):
        found = np.flatnonzero(hits & (rows.window == number))
        total += float(rows.value[found[0]]) if found.size else -profile.fn
    return total


def _bounds(file: NABFile, profile: Profile) -> tuple[float, float]:
    """(null, perfect) raw scores of one file."""
    windows = file.scored_windows
    perfect = np.zeros(file.n_rows, dtype=bool)
    for start, _ in windows:
        perfect[max(start, file.probation)] = True
    return -profile.fn * len(windows), raw_score(perfect, file, profile)


def _normalise(raw: float, null: float, perfect: float) -> float:
    if perfect <= null:
        raise SchemaError(
            "the corpus has no scored anomaly window, so its NAB score is undefined",
            hint="label at least one anomaly after the probationary period",
        )
    return 100.0 * (raw - null) / (perfect - null)


def normalised_score(
    detections: Sequence[np.ndarray], files: Sequence[NABFile], profile: Profile | str = "standard"
) -> float:
    """Corpus score of binary detections (one array per file): null detector 0, perfect detector 100."""
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    if len(detections) != len(files):
        raise SchemaError(f"{len(detections)} detection arrays for {len(files)} files", column="detections")
    raw = null = perfect = 0.0
    for hits, file in zip(detections, files, strict=True):
        raw += raw_score(hits, file, prof)
        low, high = _bounds(file, prof)
        null, perfect = null + low, perfect + high
    return _normalise(raw, null, perfect)


def optimise_threshold(
    scores: Sequence[np.ndarray], files: Sequence[NABFile], profile: Profile | str = "standard"
) -> tuple[float, float]:
    """The corpus-wide threshold maximising the normalised score, and that score.

    Detection means ``score >= threshold``; the returned threshold is ``inf`` when never firing is best.
    """
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    if len(scores) != len(files):
        raise SchemaError(f"{len(scores)} score arrays for {len(files)} files", column="scores")
    values, windows, levels = [], [], []
    null = perfect = 0.0
    offset = 0
    for raw, file in zip(scores, files, strict=True):
        level = np.asarray(raw, dtype="float64")
        if level.shape != (file.n_rows,):
            raise SchemaError(f"scores have shape {level.shape}, expected ({file.n_rows},)", column="scores")
        if not np.isfinite(level).all():
            raise SchemaError("scores must be finite", column="scores", hint="replace NaN scores before scoring")
        rows = _rows(file, prof)
        keep = rows.scored
        values.append(rows.value[keep])
        windows.append(np.where(rows.window[keep] >= 0, rows.window[keep] + offset, -1))
        levels.append(level[keep])
        offset += len(file.scored_windows)
        low, high = _bounds(file, prof)
        null, perfect = null + low, perfect + high
    level = np.concatenate(levels) if levels else np.empty(0)
    if level.size == 0:
        return math.inf, _normalise(null, null, perfect)
    order = np.argsort(-level, kind="stable")
    level, value, window = level[order], np.concatenate(values)[order], np.concatenate(windows)[order]
    gain = np.where(window < 0, value, 0.0)
    inside = window >= 0
    if inside.any():
        # a window's credit is its best (= earliest) detection so far; count only its increases
        frame = pd.DataFrame({"window": window[inside], "value": value[inside]})
        best = frame.groupby("window")["value"].cummax().to_numpy()
        previous = frame.assign(best=best).groupby("window")["best"].shift(1).fillna(-prof.fn).to_numpy()
        gain[inside] = best - previous
    totals = null + np.cumsum(gain)
    last_of_tie = np.append(level[1:] != level[:-1], True)
    candidates = np.flatnonzero(last_of_tie)
    best_at = candidates[np.argmax(totals[candidates])]
    if totals[best_at] <= null:
        return math.inf, _normalise(null, null, perfect)
    return float(level[best_at]), _normalise(float(totals[best_at]), null, perfect)
