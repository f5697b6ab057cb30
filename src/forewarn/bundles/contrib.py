"""TreeSHAP contributions of one row (the serving hot path): tables, or LightGBM's single-row C API.

:func:`row_contributions` picks the fastest exact way for a booster: :class:`~forewarn.bundles.treeshap.PathTables`
where its tables fit (shallow trees; about 3x faster than LightGBM for one row), otherwise
:class:`RowContributions`, below.

``Booster.predict(x, pred_contrib=True)`` builds a predictor, checks and copies its input on every call:
for one row that overhead is about a third of the call. LightGBM's C API has a path for exactly this
case, ``LGBM_BoosterPredictForMatSingleRowFast``, with the predictor built once (a "fast config").
:class:`RowContributions` wraps it, answers the same numbers as ``Booster.predict`` (the test suite checks
it), and returns ``None`` when it cannot be used (another thread holds it, or this LightGBM build lacks the
function), so callers fall back to ``Booster.predict``.

>>> import lightgbm as lgb, numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 3))
>>> booster = lgb.train({"verbose": -1, "num_leaves": 7}, lgb.Dataset(X, X[:, 0] * 2), num_boost_round=10)
>>> row = RowContributions.of(booster)
>>> bool(np.allclose(row(X[0]), booster.predict(X[:1], pred_contrib=True)[0]))
True
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Any

import numpy as np

from forewarn.bundles.treeshap import PathTables

C_API_PREDICT_CONTRIB = 3
C_API_DTYPE_FLOAT64 = 1


def _free(lib: Any, handle: ctypes.c_void_p) -> None:
    lib.LGBM_FastConfigFree(handle)


class RowContributions:
    """Contributions (features, then the expected value) of one row of float64 features for a booster."""

    def __init__(self, booster: Any, lib: Any, handle: ctypes.c_void_p, n_features: int):
        self._booster = booster  # keeps the booster alive as long as the fast config that points into it
        self._lib = lib
        self._handle = handle
        self._n_features = n_features
        self._row = np.zeros(n_features, dtype="float64")
        self._out = np.zeros(n_features + 1, dtype="float64")
        self._length = ctypes.c_int64()
        self._args = (
            handle,
            self._row.ctypes.data_as(ctypes.c_void_p),
            ctypes.byref(self._length),
            self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        )
        self._lock = threading.Lock()
        weakref.finalize(self, _free, lib, handle)

    @classmethod
    def of(cls, booster: Any) -> RowContributions | None:
        """The fast path for ``booster`` (a ``lightgbm.Booster``), or ``None`` where this LightGBM lacks it."""
        try:
            from lightgbm.basic import _LIB

            n_features = int(booster.num_feature())
            handle = ctypes.c_void_p()
            status = _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(C_API_PREDICT_CONTRIB),
                ctypes.c_int(0),
                ctypes.c_int(-1),
                ctypes.c_int(C_API_DTYPE_FLOAT64),
                ctypes.c_int32(n_features),
                ctypes.c_char_p(b"num_threads=1"),
                ctypes.byref(handle),
            )
        except (ImportError, AttributeError, TypeError):
            return None
        if status != 0 or not handle.value:
            return None
        return cls(booster, _LIB, handle, n_features)

    def __call__(self, row: np.ndarray) -> np.ndarray | None:
        """Contributions of ``row`` (a fresh array), or ``None`` when busy in another thread or on an error."""
        if len(row) != self._n_features or not self._lock.acquire(blocking=False):
            return None
        try:
            self._row[:] = row
            if (
                self._lib.LGBM_BoosterPredictForMatSingleRowFast(*self._args) != 0
                or self._length.value != self._n_features + 1
            ):
                return None
            return self._out.copy()
        finally:
            self._lock.release()


def row_contributions(booster: Any) -> PathTables | RowContributions | None:
    """The fastest exact single-row TreeSHAP for a ``lightgbm.Booster``: a callable ``row -> contributions``
    (``None`` from it: use ``Booster.predict``), or ``None`` when neither fast path applies."""
    return PathTables.of(booster) or RowContributions.of(booster)
