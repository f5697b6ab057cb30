"""Unsupervised anomaly detectors: ``score(X)``, higher is more anomalous."""

from forewarn.models.anomaly.isolation_forest import IsolationForestDetector
from forewarn.models.anomaly.pca import PCADetector

__all__ = ["IsolationForestDetector", "PCADetector"]
