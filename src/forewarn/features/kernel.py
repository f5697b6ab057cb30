"""The window kernel: every trailing-window statistic, defined once, over a block of windows.

The batch function (:func:`~forewarn.features.window.window_features`), the one-reading-at-a-time version
(:class:`~forewarn.features.incremental.IncrementalWindowFeatures`), the stream's micro-batches
(:class:`~forewarn.stream.features.MicroBatchFeatures`) and the serving fast path
(:func:`~forewarn.features.last_row.last_row_features`) all compute their statistics here:

* :func:`window_stats` takes a block of trailing windows ``(rows, window, channels)``, oldest reading first, with
  NaN for a missing reading and, in the first ``pad[i]`` places of row ``i``, for the absent rows before the start
  of an asset's history; it returns the statistics of every window as ``(rows, channels * len(stats))``, grouped by
  channel (the column order of :func:`feature_names`). The last-row and incremental paths pass one window, the
  micro-batch path one per new row, the batch path chunks of its rows.
* :func:`sequence_steps` takes the same block and returns a sequence model's input instead of statistics: the
  window's readings themselves, ``(rows, channels * window)`` channel-major (the columns ``f"{channel}__t{k}"`` of
  :func:`~forewarn.features.window.sequence_frame`), absent rows repeating the first present one, missing readings
  carried forward, and before a channel's first reading the asset's ``fill`` (the serving fast path and the
  stream's micro-batches).
* An *absent* channel (none of its readings yet, or a sensor an asset lacks) reads its asset class's training
  mean (:func:`class_means` fits them, :func:`absent_fill` gives each row's, :func:`fill_absent` puts them in):
  a fan without a flow sensor reads the fans' usual flow, not 0, which a standardised input reads as a stopped
  machine. A channel the class never reports (motors and fans of the twin lack ``seal_leak``) reads 0 there, as
  it always has: it is not applicable to the class, and on the twin its overall mean instead (the centre of the
  running pumps' readings) gave the LSTM no better ranking (held-out ROC-AUC up on 4 of 9 validation runs, mean
  +0.001), PR-AUC 0.030 lower and a worse ECE on 7 of 9 (BENCHMARKS.md, issue 12). An asset with no class, or a class training never saw, reads the channels' overall training means.
  Bundles written before class means (none recorded) read 0 wherever a channel is absent, as they always have.
* The exponential mean is not a window statistic but recursive state over an asset's whole past:
  ``e = (1 - a) e + a x`` with ``a = 2 / (span + 1)``, the first observed reading starting it, missing readings
  skipped. :func:`ewm_step` is that recursion (incremental and micro-batch paths), :func:`ewm_weights` its closed
  form over ``n`` observed readings (the serving path, one product) and :func:`ewm_groups` runs it over sorted
  groups with pandas' ``ewm(adjust=False, ignore_na=True)``, which implements this very recursion in compiled code
  (the batch path: a Python step per row would take seconds on a 10^6-row history).

Definitions (over the readings present in the window):

``mean``, ``std`` (population, 0 for one reading), ``min``, ``max``; ``last`` the window's last row (NaN when
missing); ``slope`` the least-squares slope against the step number in the window (0 for one reading);
``diff`` the last row minus the window's first present row (NaN when either is missing).

A window without missing or absent readings takes a dense branch: ``mean``, ``last``, ``diff`` and ``slope`` are
weighted sums of its readings (one product, weights computed once per window length), then the spread and the
extremes. Windows with gaps are computed again by the masked branch, so a gap costs only the windows it falls in.

>>> import numpy as np
>>> block = np.array([[[10.0], [12.0], [17.0]]])
>>> window_stats(block, ("mean", "slope", "diff")).tolist()
[[13.0, 3.5, 7.0]]
>>> window_stats(np.array([[[np.nan], [12.0], [17.0]]]), ("mean", "slope", "diff"), pad=np.array([1])).tolist()
[[14.5, 5.0, 5.0]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError

STATS = ("mean", "std", "min", "max", "last", "slope", "ewm", "diff")
#: a sequence model's absent-channel means (:func:`class_means`): per asset class, and overall, one per channel
ClassMeans = tuple[Mapping[str, Sequence[float]], Sequence[float]]
SLOPE_EPS = 1e-9  # a window whose step numbers vary less than this (per reading) has slope 0


def feature_names(columns: Sequence[str], stats: Sequence[str]) -> list[str]:
    """Column names in :func:`window_stats` order: ``f"{col}__{stat}"`` grouped by column.

    >>> feature_names(["a", "b"], ["mean", "max"])
    ['a__mean', 'a__max', 'b__mean', 'b__max']
    """
    return [f"{col}__{stat}" for col in columns for stat in stats]


def check_settings(stats: Sequence[str], window: int) -> None:
    """Reject unknown statistics and windows shorter than one row (shared by every path).

    >>> check_settings(("mean", "slope"), 30)
    >>> check_settings(("median",), 30)
    Traceback (most recent call last):
    ...
    forewarn.exceptions.SchemaError: column 'stats': unknown statistic(s) 'median' (choose from mean, std, min, max, last, slope, ewm, diff)
    """
    unknown = [s for s in stats if s not in STATS]
    if unknown:
        raise SchemaError(
            f"unknown statistic(s) {', '.join(map(repr, unknown))}",
            column="stats",
            hint=f"choose from {', '.join(STATS)}",
        )
    if int(window) < 1:
        raise SchemaError(f"window must be at least 1 row, got {window}", column="window")


def alpha_of(span: float) -> float:
    """The exponential mean's weight of a new reading, ``2 / (span + 1)``."""
    return 2.0 / (float(span) + 1.0)


# -- the exponential mean -------------------------------------------------------------------------------
def ewm_step(state: np.ndarray, x: np.ndarray, alpha: float) -> np.ndarray:
    """One step of the exponential mean for rows of ``(assets, channels)`` (or one asset's channels), in place.

    >>> ewm_step(np.array([np.nan, 4.0]), np.array([2.0, np.nan]), 0.5).tolist()
    [2.0, 4.0]
    """
    observed = np.isfinite(x)
    first = observed & ~np.isfinite(state)
    state[first] = x[first]
    blend = observed & ~first
    state[blend] = (1.0 - alpha) * state[blend] + alpha * x[blend]
    return state


@lru_cache(maxsize=64)
def ewm_weights(n: int, alpha: float) -> np.ndarray:
    """Weights of ``n`` observed readings (oldest first) in the exponential mean after the last: the closed form
    of :func:`ewm_step` from an empty state (read-only; cached per length).

    >>> ewm_weights(3, 0.5).tolist()
    [0.25, 0.25, 0.5]
    """
    powers = (1.0 - alpha) ** np.arange(n - 1, -1, -1, dtype="float64")
    weights = alpha * powers
    weights[0] = powers[0]  # the first reading starts the mean with its full weight
    weights.flags.writeable = False
    return weights


def ewm_last(values: np.ndarray, alpha: float) -> np.ndarray:
    """The exponential mean after the last row of ``values`` (rows x channels, oldest first) from an empty state."""
    if np.isfinite(values).all():
        last: np.ndarray = ewm_weights(len(values), alpha) @ values
        return last
    out = np.full(values.shape[1], np.nan)
    for j in range(values.shape[1]):
        observed = values[np.isfinite(values[:, j]), j]
        if len(observed):
            out[j] = float(ewm_weights(len(observed), alpha) @ observed)
    return out


def ewm_groups(values: np.ndarray, codes: np.ndarray, alpha: float) -> np.ndarray:
    """The exponential mean at every row of ``values`` sorted by group (``codes``), each group from an empty
    state: :func:`ewm_step` along each group, run by pandas' compiled ``ewm(adjust=False, ignore_na=True)``."""
    grouped = pd.DataFrame(values).groupby(codes, sort=False)
    smoothed: np.ndarray = grouped.ewm(alpha=alpha, adjust=False, ignore_na=True).mean().to_numpy()
    return smoothed


# -- the window statistics ------------------------------------------------------------------------------
LINEAR = ("mean", "last", "diff", "slope")  # statistics that are weighted sums of a complete window


@lru_cache(maxsize=256)
def _linear_weights(size: int, stats: tuple[str, ...]) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The positions in ``stats`` of the statistics that are weighted sums of a complete window of ``size``
    readings, one row of weights for each of them, and the same rows in a matrix with a (zero) row for every
    statistic (read-only; computed once per window length)."""
    t_dev = np.arange(size, dtype="float64") - (size - 1) / 2.0
    var_t = float(t_dev @ t_dev)
    rows: dict[int, np.ndarray] = {}
    for i, stat in enumerate(stats):
        if stat in LINEAR:
            weights = rows[i] = np.zeros(size)
            if stat == "mean":
                weights[:] = 1.0 / size
            elif stat == "last":
                weights[-1] = 1.0
            elif stat == "diff":
                weights[-1] += 1.0
                weights[0] -= 1.0
            elif var_t > SLOPE_EPS * size:  # slope; 0 for one reading
                weights[:] = t_dev / var_t
    matrix = np.array(list(rows.values())).reshape(len(rows), size)
    full = np.zeros((len(stats), size))
    full[list(rows)] = matrix
    matrix.flags.writeable = full.flags.writeable = False
    return list(rows), matrix, full


def _dense(data: np.ndarray, stats: tuple[str, ...], ewm: np.ndarray | None) -> np.ndarray:
    """Statistics ``(stats, rows, channels)`` of complete windows ``data`` ``(window, rows, channels)`` (window axis
    first: sums over it add whole rows). One window goes through a BLAS product; a block through ``einsum``
    (BLAS threads cost more than they give on these thin products, and compete with the service's)."""
    size, rows, channels = data.shape
    positions, weights, full = _linear_weights(size, stats)
    if rows == 1:  # one window (serving, incremental): the same formulas in two-dimensional calls, fewer of them
        one = data[:, 0]
        out = full @ one
        for i, stat in enumerate(stats):
            if stat == "std":
                deviation = one - one.sum(axis=0) / size
                out[i] = np.sqrt(np.einsum("ij,ij->j", deviation, deviation) / size)
            elif stat == "min":
                one.min(axis=0, out=out[i])
            elif stat == "max":
                one.max(axis=0, out=out[i])
            elif stat == "ewm":
                out[i] = ewm
        block: np.ndarray = out[:, None, :]
        return block
    out = np.empty((len(stats), rows, channels))
    if positions:
        linear = np.einsum("kw,wm->km", weights, data.reshape(size, -1))
        out[positions] = linear.reshape(len(positions), rows, channels)
    for i, stat in enumerate(stats):
        if stat == "std":
            deviation = data - data.sum(axis=0) / size
            out[i] = np.sqrt(np.einsum("wnc,wnc->nc", deviation, deviation) / size)
        elif stat == "min":
            data.min(axis=0, out=out[i])
        elif stat == "max":
            data.max(axis=0, out=out[i])
        elif stat == "ewm":
            out[i] = ewm
    return out


def _masked(data: np.ndarray, stats: tuple[str, ...], ewm: np.ndarray | None, pad: np.ndarray) -> np.ndarray:
    """Statistics ``(stats, rows, channels)`` of windows ``data`` ``(window, rows, channels)`` with missing (NaN) or
    absent (the first ``pad`` places) readings."""
    size, rows, channels = data.shape
    valid = np.isfinite(data)
    count = valid.sum(axis=0)
    has = count > 0
    nan = np.full(count.shape, np.nan)
    mean = np.divide(np.where(valid, data, 0.0).sum(axis=0), count, out=nan.copy(), where=has)
    deviation = np.where(valid, data - mean, 0.0)
    out = np.empty((len(stats), rows, channels))
    for i, stat in enumerate(stats):
        if stat == "mean":
            out[i] = mean
        elif stat == "std":
            out[i] = np.sqrt(np.divide((deviation**2).sum(axis=0), count, out=nan.copy(), where=has))
        elif stat == "min":
            out[i] = np.where(has, np.where(valid, data, np.inf).min(axis=0), np.nan)
        elif stat == "max":
            out[i] = np.where(has, np.where(valid, data, -np.inf).max(axis=0), np.nan)
        elif stat == "last":
            out[i] = data[-1]
        elif stat == "diff":
            out[i] = data[-1] - data[pad, np.arange(rows)]
        elif stat == "slope":
            t = np.arange(size, dtype="float64")[:, None, None]
            mean_t = np.divide(np.where(valid, t, 0.0).sum(axis=0), count, out=np.zeros_like(mean), where=has)
            t_dev = np.where(valid, t - mean_t, 0.0)
            var_t = (t_dev**2).sum(axis=0)
            slope = np.divide(
                (t_dev * deviation).sum(axis=0), var_t, out=np.zeros_like(mean), where=var_t > SLOPE_EPS * count
            )
            out[i] = np.where(has, slope, np.nan)
        elif stat == "ewm":
            out[i] = ewm
    return out


def window_stats(
    block: np.ndarray,
    stats: Sequence[str],
    *,
    ewm: np.ndarray | None = None,
    pad: np.ndarray | None = None,
    complete: bool = False,
) -> np.ndarray:
    """The statistics of a block of trailing windows (see the module docstring); ``(rows, channels * len(stats))``.

    ``ewm`` ``(rows, channels)`` fills the ``ewm`` statistic (required when it is asked for); ``pad`` counts the
    absent rows (NaN) at the start of each window (none: every window starts with a present row);
    ``complete=True`` says the caller has checked that no reading is missing (the check is skipped). The block is
    read along its window axis: a view ``data.transpose(1, 0, 2)`` of a window-major array ``(window, rows,
    channels)``, which is how the batch and micro-batch paths gather it, makes those sums add whole rows.
    """
    stats = tuple(stats)
    rows, _, channels = block.shape
    if "ewm" in stats and ewm is None:
        raise SchemaError("the ewm statistic needs the running exponential mean", column="ewm")
    data = block.transpose(1, 0, 2)
    if complete:
        return _dense(data, stats, ewm).transpose(1, 2, 0).reshape(rows, -1)
    dense = np.isfinite(data.sum(axis=0)).all(axis=1)  # NaN in a window (missing or absent) makes its sum NaN
    if dense.all():
        out = _dense(data, stats, ewm)
    elif not dense.any():
        out = _masked(data, stats, ewm, np.zeros(rows, dtype=np.intp) if pad is None else pad)
    else:  # every row by the dense branch (cheaper than selecting its rows), then the others again
        out = _dense(data, stats, ewm)
        rest = ~dense
        out[:, rest] = _masked(
            data[:, rest],
            stats,
            None if ewm is None else ewm[rest],
            np.zeros(int(rest.sum()), dtype=np.intp) if pad is None else pad[rest],
        )
    return out.transpose(1, 2, 0).reshape(rows, -1)  # grouped by channel, as feature_names orders them


def class_means(values: np.ndarray, classes: Sequence[Any] | np.ndarray) -> tuple[dict[str, list[float]], list[float]]:
    """Each asset class's mean of each channel over the readings present in ``values`` ``(rows, channels)``, and
    each channel's overall mean: what an absent channel reads (:func:`absent_fill`). A class that never reported a
    channel holds 0 there (the channel is not applicable to it; see the module docstring); a channel with no
    reading at all has overall mean 0. Rows without a class (``None``, ``""``, NaN) count in the overall means only.

    >>> values = np.array([[1.0, 10.0], [3.0, np.nan], [5.0, np.nan]])
    >>> class_means(values, ["pump", "motor", None])
    ({'motor': [3.0, 0.0], 'pump': [1.0, 10.0]}, [3.0, 10.0])
    """
    values = np.asarray(values, dtype="float64")
    present = ~np.isnan(values)
    overall = _present_mean(values, present, np.zeros(values.shape[1]))
    names = np.asarray([_class_name(c) for c in classes], dtype=object)
    by_class = {}
    for name in sorted({n for n in names if n}):
        rows = names == name
        by_class[name] = _present_mean(values[rows], present[rows], np.zeros(values.shape[1])).tolist()
    return by_class, overall.tolist()


def _present_mean(values: np.ndarray, present: np.ndarray, otherwise: np.ndarray) -> np.ndarray:
    """Per column: the mean of the present values, ``otherwise`` where a column has none."""
    count = present.sum(axis=0)
    total = np.where(present, values, 0.0).sum(axis=0)
    out = np.asarray(otherwise, dtype="float64").copy()
    np.divide(total, count, out=out, where=count > 0)
    return out


def _class_name(value: Any) -> str:
    """An asset class as a key ("" for none: ``None``, NaN, an empty string)."""
    return "" if value is None or value != value else str(value)


def absent_fill(
    classes: Sequence[Any] | np.ndarray, by_class: Mapping[str, Sequence[float]], overall: Sequence[float]
) -> np.ndarray | None:
    """What each row's absent channels read ``(rows, channels)``: its class's training means (:func:`class_means`),
    the overall means for a row without a class or of a class not in ``by_class``. None when ``overall`` is empty
    (a bundle written before class means were recorded: absent channels read 0 there).

    >>> absent_fill(["pump", "fan", None], {"pump": [1.0, 10.0]}, [3.0, 10.0]).tolist()
    [[1.0, 10.0], [3.0, 10.0], [3.0, 10.0]]
    >>> absent_fill(["pump"], {}, []) is None
    True
    """
    if not len(overall):
        return None
    default = np.asarray(overall, dtype="float64")
    table = {name: np.asarray(means, dtype="float64") for name, means in by_class.items()}
    rows = [table.get(_class_name(c), default) for c in classes]
    return np.vstack(rows) if rows else np.empty((0, len(default)))


def fill_absent(values: np.ndarray, fill: np.ndarray | float) -> np.ndarray:
    """``values`` with each NaN replaced by ``fill``, broadcast over the last axis: one value per column, or one
    row of them per row of ``values`` (``(rows, 1, channels)`` for a block of windows). A copy only when needed.

    >>> fill_absent(np.array([[1.0, np.nan], [np.nan, 4.0]]), np.array([[0.0, 5.0], [6.0, 0.0]])).tolist()
    [[1.0, 5.0], [6.0, 4.0]]
    """
    missing = np.isnan(values)
    return np.asarray(np.where(missing, fill, values)) if missing.any() else values


def sequence_steps(block: np.ndarray, pad: np.ndarray | None = None, fill: np.ndarray | None = None) -> np.ndarray:
    """A sequence model's input from a block of trailing windows ``(rows, window, channels)``, oldest first:
    ``(rows, channels * window)``, channel-major. The first ``pad[i]`` places of row ``i`` (absent rows, before the
    start of the asset's history) repeat its first present row, as :func:`~forewarn.features.window.sequence_frame`
    pads; a missing reading takes the last one before it in the window, and a channel with none yet reads the
    row's ``fill`` (``(rows, channels)``, :func:`absent_fill`; 0 without it) (the serving spec's forward fill,
    :meth:`forewarn.bundles.bundle.ServingSpec.window_frame`, when the window holds the values carried forward
    from before it).

    >>> block = np.array([[[np.nan, 0.0], [1.0, np.nan], [np.nan, 2.0], [3.0, np.nan]]])
    >>> sequence_steps(block, pad=np.array([1])).tolist()
    [[1.0, 1.0, 1.0, 3.0, 0.0, 0.0, 2.0, 2.0]]
    >>> sequence_steps(np.array([[[np.nan, 1.0], [np.nan, 2.0]]]), fill=np.array([[7.0, 9.0]])).tolist()
    [[7.0, 7.0, 1.0, 2.0]]
    """
    rows, window, _ = block.shape
    steps = np.arange(window)[None, :]
    first = np.zeros((rows, 1), dtype=np.intp) if pad is None else np.asarray(pad, dtype=np.intp)[:, None]
    data = np.take_along_axis(block, np.maximum(steps, first)[:, :, None], axis=1)
    present = np.where(np.isnan(data), 0, steps[:, :, None])  # a missing reading points back at the last present
    data = np.take_along_axis(data, np.maximum.accumulate(present, axis=1), axis=1)
    data = fill_absent(data, 0.0 if fill is None else np.asarray(fill, dtype="float64")[:, None, :])
    return data.transpose(0, 2, 1).reshape(rows, -1)
