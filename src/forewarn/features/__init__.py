"""Features computed from readings, vectorised, with no look-ahead.

* :mod:`forewarn.features.window`: trailing-window statistics per asset (:func:`window_features`) and the
  raw window as columns (:func:`sequence_frame`);
* :mod:`forewarn.features.incremental`: the same window features one reading at a time
  (:class:`IncrementalWindowFeatures`), for online scoring;
* :mod:`forewarn.features.normalise`: per-regime (:class:`OperatingConditionNormaliser`) and per-asset
  baseline (:class:`BaselineNormaliser`) normalisation, fitted on training data only.
"""

from forewarn.features.incremental import IncrementalWindowFeatures
from forewarn.features.normalise import BaselineNormaliser, OperatingConditionNormaliser
from forewarn.features.window import sequence_frame, window_features

__all__ = [
    "BaselineNormaliser",
    "IncrementalWindowFeatures",
    "OperatingConditionNormaliser",
    "sequence_frame",
    "window_features",
]
