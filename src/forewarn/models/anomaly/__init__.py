"""Unsupervised anomaly detectors: ``score(X)``, higher is more anomalous.

Row-wise: ``isolation-forest``, ``pca-t2q``, ``knn``, ``mset`` (and the torch ``autoencoder`` in
:mod:`forewarn.models.deep`). Sequential (rows in time order): ``var-residual`` and ``ensemble``, ``forewarn
detect``'s default (a forecast residual, a distance on windowed embeddings, a windowed CUSUM and a discord score,
each normalised against its own training tail and combined into one ``anomaly_score`` in (0, 1)).
:mod:`.series` scores a time series without look-ahead and calibrates scores to [0, 1].
"""

from typing import TYPE_CHECKING

from forewarn._lazy import lazy_exports

if TYPE_CHECKING:
    from forewarn.models.anomaly.ensemble import EnsembleDetector
    from forewarn.models.anomaly.isolation_forest import IsolationForestDetector
    from forewarn.models.anomaly.knn import KNNDetector
    from forewarn.models.anomaly.mset import MSETDetector
    from forewarn.models.anomaly.pca import PCADetector
    from forewarn.models.anomaly.series import ScoreCalibration, score_series, trailing_mean
    from forewarn.models.anomaly.var_residual import VARResidualDetector

__all__ = [
    "EnsembleDetector",
    "IsolationForestDetector",
    "KNNDetector",
    "MSETDetector",
    "PCADetector",
    "ScoreCalibration",
    "VARResidualDetector",
    "score_series",
    "trailing_mean",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {  # a submodule is imported when a name of it is asked for
        "EnsembleDetector": "ensemble",
        "IsolationForestDetector": "isolation_forest",
        "KNNDetector": "knn",
        "MSETDetector": "mset",
        "PCADetector": "pca",
        "ScoreCalibration": "series",
        "score_series": "series",
        "trailing_mean": "series",
        "VARResidualDetector": "var_residual",
    },
)
