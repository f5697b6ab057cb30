"""Unsupervised anomaly detectors: ``score(X)``, higher is more anomalous.

Row-wise: ``isolation-forest``, ``pca-t2q``, ``knn``, ``mset`` (and the torch ``autoencoder`` in
:mod:`forewarn.models.deep`). Sequential (rows in time order): ``var-residual``. :mod:`.series` scores a
time series without look-ahead and calibrates scores to [0, 1].
"""

from forewarn.models.anomaly.isolation_forest import IsolationForestDetector
from forewarn.models.anomaly.knn import KNNDetector
from forewarn.models.anomaly.mset import MSETDetector
from forewarn.models.anomaly.pca import PCADetector
from forewarn.models.anomaly.series import ScoreCalibration, score_series, trailing_mean
from forewarn.models.anomaly.var_residual import VARResidualDetector

__all__ = ["IsolationForestDetector", "KNNDetector", "MSETDetector", "PCADetector", "ScoreCalibration",
           "VARResidualDetector", "score_series", "trailing_mean"]
