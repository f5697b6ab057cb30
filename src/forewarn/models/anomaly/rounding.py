"""Rounded values and values recorded on change: the variance a recording grid or a historian's deadband adds to
each channel, as the ensemble's members take it (the ``rounding`` parameter of
:class:`~forewarn.models.anomaly.ensemble.EnsembleDetector`; its module text says why and what was measured). The
grid's helpers (:func:`~forewarn.models.anomaly.robust.resolution`,
:func:`~forewarn.models.anomaly.robust.decimal_grid`, :func:`~forewarn.models.anomaly.robust.grid_dominated`) and
the deadband's (:func:`~forewarn.models.anomaly.robust.deadband`) live in :mod:`~forewarn.models.anomaly.robust`.

**A deadband.** A historian keeps a value only when it moves past a deadband ``d`` (plus a heartbeat), so the
series it leaves is a staircase: flat, then a jump of at least ``d``. Fitted as it is, the members find the flat
stretches perfectly predictable and read each jump as a surprise (a validation fleet exported with a deadband of
0.5 % / 2 % of each channel's span: 2.6x / 3.3x the complete export's alarm episodes). The deadband is read from the
training rows (:func:`~forewarn.models.anomaly.robust.deadband`; a channel not recorded on change gets 0) and
``DEADBAND_VARIANCE * d**2`` is taken as recording noise as the grid's is, in both members, with any mode but
``False``: a series with no such channel is scored exactly as before.

A channel on a grid of four decimals, quiet (noise a fifth of a step): widened in both members by default; one on a
converter's step of 0.328 only with ``rounding=True``:

>>> rng = np.random.default_rng(0)
>>> x = np.c_[np.round(0.0007 + 2e-5 * rng.normal(size=300), 4), np.round(rng.normal(size=300) / 0.328) * 0.328]
>>> forecast, windows = rounding_noise(x, np.array([1e-4, 1.0]), np.ones(2), "auto")
>>> forecast.round(2).tolist(), windows.round(2).tolist()
([0.25, 0.0], [0.25, 0.0])
>>> rounding_noise(x, np.array([1e-4, 1.0]), np.ones(2), True)[0].round(3).tolist()
[0.25, 0.027]
>>> rounding_noise(x, np.array([1e-4, 1.0]), np.ones(2), False) is None
True
"""

from __future__ import annotations

import numpy as np

from forewarn.models.anomaly.robust import deadband, decimal_grid, grid_dominated, resolution

#: the variance a deadband ``d`` adds, as a multiple of ``d**2`` (:func:`rounding_noise`; chosen on the validation
#: fleet, seed 11, among 1/12, 1/4, 1/3 and 1: BENCHMARKS.md, "Own data", 2026-12-06 05:02)
DEADBAND_VARIANCE = 1.0 / 12.0


def rounding_noise(
    values: np.ndarray, spread: np.ndarray, regime_spread: np.ndarray, mode: bool | str
) -> tuple[np.ndarray, np.ndarray] | None:
    """Each channel's rounding variance, ``q**2 / 4`` (``q`` its recording step, :func:`resolution`), in the
    standardised units the members read (``values``' steps divided by ``spread``, the channels' training spreads,
    and by ``regime_spread``, the median of the regimes' spreads): ``(forecast, embedding)``, or ``None`` when
    ``mode`` is ``False``. With ``mode=True`` every channel on a grid gets it in both; with ``"auto"`` only those on
    a grid of written decimals (:func:`decimal_grid`), and in the embedding only those of them the grid dominates
    (:func:`grid_dominated`). The forecast takes it as a floor under its error variance, the embedding adds it to
    the window variances.

    A channel recorded on change (:func:`~forewarn.models.anomaly.robust.deadband` ``d > 0``) takes
    ``DEADBAND_VARIANCE * d**2`` (same units) in both, where it is larger than its grid's.

    ``q**2 / 4``, not the ``q**2 / 12`` of a uniform rounding error: a channel whose own noise is far below its step
    sits on one step for days and then flips by a whole step as its level crosses a boundary, an error of +-q/2 (on
    the validation fleet, seed 11: 281 episodes with ``/ 12``, 254 with ``/ 4``, 249 unrounded).
    """
    if not mode:
        return None
    steps = resolution(values)
    step = steps / spread / regime_spread
    noise: np.ndarray = step**2 / 4.0
    held = DEADBAND_VARIANCE * (deadband(values) / spread / regime_spread) ** 2
    if isinstance(mode, str):  # "auto": the grids an export's decimals made (module text of the ensemble)
        written: np.ndarray = np.where(decimal_grid(steps), noise, 0.0)
        return np.maximum(written, held), np.maximum(np.where(grid_dominated(values), written, 0.0), held)
    return np.maximum(noise, held), np.maximum(noise, held)
