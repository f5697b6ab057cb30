"""Ensemble member: change points by a windowed two-sided CUSUM against a moving reference.

Each channel's deviation from the mean of its previous ``reference`` rows, ``y_t = (z_t - mean(z_(t-R..t-1)))
/ sigma`` (``sigma``: the deviation's robust spread on the training rows), is about zero-mean on normal rows,
including slow drifts that the moving reference follows. A level shift, a step in a drift's slope or a new
variance leaves a run of same-signed deviations that one row does not show but a cumulative sum does. For each
channel and each sign, the CUSUM ``S_t = max(0, S_(t-1) + y_t - drift)`` is computed in closed form (the
running sum minus its running minimum, a Lindley recursion), limited to the last ``window`` rows so that the
statistic forgets an old change (bounded memory). As the reference catches up with a new level the
deviations vanish and the statistic falls: the member marks the *onset* of a change, not its duration. The
score of a row is the largest of the channel statistics divided by ``sqrt(window)``.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> z = rng.normal(size=(600, 1)); z[400:] += 1.5
>>> state = fit(z[:300], window=20)
>>> s = score(state, z, window=20)
>>> bool(s[430] > 3 * np.quantile(s[:400], 0.99)), bool(s[599] < 2 * np.quantile(s[:400], 0.99))
(True, True)
"""

from __future__ import annotations

import numpy as np

from forewarn.models.anomaly.robust import Moments, doubled_windows, robust_location_scale, trailing_mean

#: the reference drift (in units of the deviation's spread) below which a bias is not accumulated
DRIFT = 0.5
#: rows of the moving reference, in windows
REFERENCE = 4
#: rows :func:`window_peak` takes at a time (4,096 rows x 10 channels: 320 KiB an array, in cache)
PEAK_ROWS = 4096


def memory(window: int) -> int:
    """Rows before a row that its score reads: the CUSUM's ``window`` of deviations, each from the mean of the
    ``REFERENCE * window`` rows before it (:mod:`.memo`)."""
    return REFERENCE * window + window


def deviations(z: np.ndarray, window: int) -> np.ndarray:
    """Each row minus the mean of the ``REFERENCE * window`` rows before it (the first row: itself)."""
    baseline = trailing_mean(z, REFERENCE * window)
    before = np.vstack([z[:1], baseline[:-1]])
    return z - before


def windowed_cusum(y: np.ndarray, window: int, drift: float = DRIFT) -> np.ndarray:
    """Upper CUSUM of ``y - drift`` per column, over the trailing ``window`` rows (closed form, causal): the
    largest sum of the last 0 .. ``window`` rows of ``y - drift`` (:func:`window_peak`)."""
    return window_peak(y - drift, window)


def window_peak(values: np.ndarray, window: int) -> np.ndarray:
    """Each row's largest sum of the rows that end at it, over the last 0 .. ``window`` rows (0 for none), per
    column: ``max(0, x_t, x_t + x_(t-1), ...)``, fewer rows at the start; float64, shaped as ``values``.

    That is the upper CUSUM limited to a window (the running sum minus its trailing minimum), computed from each
    window's own rows: spans of 1, 2, 4, ... rows carry their sum and their largest trailing sum, two adjacent spans
    join as ``sum = sum_late + sum_early``, ``peak = max(peak_late, sum_late + peak_early)`` (about
    ``log2(window)`` passes, none per row in Python), and the spans of ``window``'s binary digits are joined as in
    :func:`~forewarn.models.anomaly.robust.window_moments`. A row's value depends on its window's values alone, in
    an order fixed by the window: the same, bit for bit, in a series that starts at another row once the window is
    full, with no error that grows with the rows before it. (Until 2026-12-06 it was a cumulative sum over the
    whole series minus its trailing minimum; the sum of ``y - drift`` falls by ``drift`` a row, so a million rows
    in its rounding was about 1e-10 and differed where a series started elsewhere.)

    Rows are taken :data:`PEAK_ROWS` at a time, each stretch with the ``window`` rows before it (the same values,
    bit for bit, as in one pass: a row's value is its window's), so the spans stay in cache and the memory is one
    stretch's.

    >>> window_peak(np.array([[1.0], [-3.0], [2.0], [2.0], [-1.0]]), 2).ravel().tolist()
    [1.0, 0.0, 2.0, 4.0, 1.0]
    """
    x = np.asarray(values, dtype="float64")
    out = np.empty_like(x)
    for lo in range(0, len(x), PEAK_ROWS):
        before = max(0, lo - window)
        out[lo : lo + PEAK_ROWS] = _stretch_peak(x[before : lo + PEAK_ROWS], window)[lo - before :]
    return out


def _stretch_peak(values: np.ndarray, window: int) -> np.ndarray:
    """:func:`window_peak` of the rows of ``values`` in one pass (the doubling)."""
    x = np.array(values, dtype="float64", copy=True)
    scratch = np.empty_like(x)

    def join(late: Moments, early: Moments, spans: tuple[int, int], out: Moments) -> None:
        _join_peaks(late, early, spans[0], out, scratch)

    return doubled_windows((x, np.maximum(x, 0.0)), window, join)[1]


def _join_peaks(
    late: tuple[np.ndarray, np.ndarray],
    early: tuple[np.ndarray, np.ndarray],
    rows: int,
    out: tuple[np.ndarray, np.ndarray],
    scratch: np.ndarray,
) -> None:
    """``out`` <- (sum, peak) over the span of ``late`` (``rows`` rows up to each row) and the span of ``early``
    read ``rows`` rows earlier; ``out`` may be ``late`` (in place), not ``early``; ``scratch``: an array of their
    shape to work in. Rows with nothing earlier keep the late span."""
    (s_late, p_late), (s_early, p_early), (s_out, p_out) = late, early, out
    n = len(s_late)
    if s_out is not s_late:
        s_out[:rows] = s_late[:rows]
        p_out[:rows] = p_late[:rows]
    if rows >= n:
        return
    rise = np.add(s_late[rows:], p_early[: n - rows], out=scratch[rows:])  # the late span whole, the early's tail
    np.maximum(p_late[rows:], rise, out=p_out[rows:])
    np.add(s_late[rows:], s_early[: n - rows], out=s_out[rows:])


def fit(z: np.ndarray, window: int) -> dict[str, np.ndarray]:
    """The robust spread of each channel's deviation from its moving reference on the training rows."""
    d = deviations(z, window)
    return {"spread": robust_location_scale(d[1:] if len(d) > 2 else d)[1]}


def score(state: dict[str, np.ndarray], z: np.ndarray, window: int) -> np.ndarray:
    """The change-point score of every row (module text)."""
    y = np.clip(deviations(z, window) / state["spread"], -8.0, 8.0)  # one gross outlier is not a change
    up = windowed_cusum(y, window)
    down = windowed_cusum(-y, window)
    # the last row's own deviation, a thousandth, keeps the score continuous where both CUSUMs sit at 0
    return (np.maximum(up, down) + 1e-3 * np.abs(y)).max(axis=1) / np.sqrt(window)
