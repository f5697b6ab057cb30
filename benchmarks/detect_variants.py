"""Variants of the default ensemble tried for issue 14 (third session), as ``benchmarks/detect.py`` detectors.

Each is a ``(frame, n_train) -> anomaly_score`` function (``--detector detect_variants:NAME`` with
``PYTHONPATH=benchmarks``); none is the default, each was measured and not adopted (BENCHMARKS.md, issue 14,
2026-12-04 night). Settings come from the environment so one function covers a sweep:

The first three fit and score without the rows' times (so nothing settles: they were measured against the
default of before ``settle_hours``); ``with_params`` and ``settled`` pass them.

* ``min_adapted``: the smaller of two ensembles' scores, one fitted as usual, one with ``adaptation`` =
  ``D14_ADAPTATION`` (default 0.002 per row): a row alarms only when it is new against the training rows *and*
  against the recent past, so a lasting changed state stops alarming while a return to normal raises nothing.
* ``adapted``: the ensemble with ``adaptation`` = ``D14_ADAPTATION`` alone.
* ``debiased``: the forecast member's errors minus their own exponentially weighted mean of the rows before
  (``D14_DEBIAS_ROWS`` rows, default 128), so a channel that drifts slowly out of its training range stops
  feeding the per-row member (the embedding member still sees the level). With ``D14_DEBIAS_MODE=min`` each
  channel's error is the smaller (in size) of the raw and the debiased one, so a return to normal after a long
  change does not look like a new change.
* ``with_params``: the ensemble with the keyword parameters in ``D14_PARAMS`` (JSON, lists become tuples), e.g.
  ``D14_PARAMS='{"windows": [8, 32]}'``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pandas as pd

from forewarn.models.anomaly import residual
from forewarn.models.anomaly.ensemble import TRAIN_FRACTION, EnsembleDetector, _numeric, score_frame


def _fit_score(frame: pd.DataFrame, n_train: int | None, **params: Any) -> np.ndarray:
    values = _numeric(frame)
    if n_train is None:
        n_train = max(10, int(TRAIN_FRACTION * len(values)))
    return EnsembleDetector(**params).fit(values.iloc[:n_train]).score(values)


def _adaptation() -> float:
    return float(os.environ.get("D14_ADAPTATION", "0.002"))


def _params() -> dict[str, Any]:
    params = json.loads(os.environ.get("D14_PARAMS", "{}"))
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def min_adapted(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """min(plain ensemble, ensemble with adaptation) per row (module text)."""
    return np.minimum(_fit_score(frame, n_train), _fit_score(frame, n_train, adaptation=_adaptation()))


def adapted(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The ensemble with ``adaptation`` (module text)."""
    return _fit_score(frame, n_train, adaptation=_adaptation())


def with_params(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The ensemble with ``D14_PARAMS`` (module text), through :func:`~forewarn.models.anomaly.ensemble.score_frame`
    (the rows' times passed, so lasting deviations settle as in ``forewarn detect``)."""
    return score_frame(frame, n_train, **_params())


_innovations = residual.innovations


def _debiased_innovations(state: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    errors = _innovations(state, z)
    rows = float(os.environ.get("D14_DEBIAS_ROWS", "128"))
    level = pd.DataFrame(errors).ewm(alpha=1.0 / rows, adjust=False, ignore_na=True).mean().to_numpy()
    before = np.vstack([np.full((1, errors.shape[1]), np.nan), level[:-1]])
    out: np.ndarray = errors - np.nan_to_num(before)
    if os.environ.get("D14_DEBIAS_MODE") == "min":  # per channel, the smaller of the raw and the debiased error
        out = np.where(np.abs(errors) <= np.abs(out), errors, out)
    return out


def debiased(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The ensemble whose forecast member reads debiased errors (module text); patched for this call only."""
    residual.innovations = _debiased_innovations
    try:
        return _fit_score(frame, n_train, **_params())
    finally:
        residual.innovations = _innovations


def settled(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """A lasting deviation stops alarming: each row's combined surprise ``e`` is divided by how far above the alarm
    level the surprises of the rows in the ``D14_SETTLE`` before it (a duration, default ``2D``) already were
    (``D14_FACTOR`` times their median, default 2), so after days at one deviation a new alarm needs the
    deviation to grow by that factor; rows whose recent past was normal keep their score."""
    from forewarn.models.anomaly.ensemble import combine, to_unit

    values = _numeric(frame)
    if n_train is None:
        n_train = max(10, int(TRAIN_FRACTION * len(values)))
    detector = EnsembleDetector(**_params()).fit(values.iloc[:n_train])
    e = combine(detector.member_scores(values).to_numpy())
    times = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True))
    recent = (
        pd.Series(e, index=times)
        .rolling(os.environ.get("D14_SETTLE", "2D"), closed="left", min_periods=1)
        .median()
        .to_numpy()
    )
    factor = float(os.environ.get("D14_FACTOR", "2"))
    level = float(detector.level)
    damp = np.maximum(level, factor * np.nan_to_num(recent, nan=0.0)) / level
    return to_unit(e / damp, level)
