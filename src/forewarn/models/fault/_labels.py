"""Class labels and class weights shared by the failure and fault models.

>>> classes, codes = encode_labels(["seal", "ok", "ok", "seal", "ok"])
>>> classes.tolist(), codes.tolist()
(['ok', 'seal'], [1, 0, 0, 1, 0])
>>> class_weights(codes, "balanced").round(3).tolist()
[1.25, 0.833, 0.833, 1.25, 0.833]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forewarn.base.params import Options
from forewarn.exceptions import SchemaError

WEIGHTINGS = ("balanced", "sqrt", None)
#: the declared constraint of every ``class_weight`` parameter
CLASS_WEIGHT: list[Any] = [Options("balanced", "sqrt"), None]


def encode_labels(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct classes, integer code of each row). Object labels become strings (state stays pickle-free)."""
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise SchemaError(f"targets y must be 1-D, got shape {labels.shape}", column="y")
    if labels.dtype == object:
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in labels):
            raise SchemaError("targets y contain missing values", column="y", hint="drop unlabelled rows")
        labels = labels.astype(str)
    elif labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise SchemaError("targets y contain missing or infinite values", column="y", hint="drop unlabelled rows")
    elif labels.dtype.kind == "f" and (labels != np.round(labels)).any():
        raise SchemaError(
            "Unknown label type: continuous (fault labels must be class names or integer codes)",
            column="y",
            hint="a number of cycles or hours left is a RUL target, not a fault class",
        )
    classes, codes = np.unique(labels, return_inverse=True)
    return classes, codes.astype("int64")


def class_weights(codes: np.ndarray, weighting: str | None) -> np.ndarray:
    """Per-row weights: ``balanced`` gives each class the same total weight (``n / (k * count)``), ``sqrt`` the
    square root of that (a milder correction), ``None`` weight 1."""
    if weighting not in WEIGHTINGS:
        raise SchemaError(f"class_weight {weighting!r} is not one of {WEIGHTINGS}", column="class_weight")
    if weighting is None:
        return np.ones(len(codes))
    counts = np.bincount(codes)
    per_class = len(codes) / (len(counts) * np.maximum(counts, 1))
    if weighting == "sqrt":
        per_class = np.sqrt(per_class)
    return per_class[codes]
