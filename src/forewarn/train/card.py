"""The model card: what a trained model was fitted on, how it was judged, and what it promised.

Written as ``card.json`` beside the bundle. It records the data (span, a fingerprint, assets and failures
counted), the recipe (interval, window, features, labels, whether the age since renewal was used), the protocol and its figures (the zoo comparison,
held-out metrics, calibration and interval coverage), the costs and thresholds, reference feature distributions
for drift checks (deciles of each feature on the training rows), and the library versions.
"""

from __future__ import annotations

import hashlib
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd

from forewarn.features.age import AGE_FEATURE

LIBRARIES = ("forewarn", "numpy", "pandas", "scikit-learn", "lightgbm", "duckdb", "torch")


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def fingerprint(frame: pd.DataFrame) -> str:
    """A short SHA-256 of the readings a model was trained on (asset, time and every value).

    >>> fingerprint(pd.DataFrame({"asset_id": ["a"], "ts": [1], "x": [0.5]}))
    'bbc75f52b5aa2d79'
    """
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:16]


def reference_distributions(X: pd.DataFrame, *, levels: int = 11) -> dict[str, list[float | None]]:
    """Deciles (0, 10, ..., 100 %) of each feature over the training rows: the drift monitor's reference."""
    qs = np.linspace(0, 1, levels)
    out: dict[str, list[float | None]] = {}
    for column in X.columns:
        values = X[column].to_numpy(dtype="float64")
        values = values[np.isfinite(values)]
        out[str(column)] = [float(v) for v in np.quantile(values, qs)] if len(values) else [None] * levels
    return out


def data_summary(frame: pd.DataFrame, events: pd.DataFrame, assets: pd.DataFrame) -> dict[str, Any]:
    """Span, counts and fingerprint of the training data."""
    failures = events[events["kind"] == "failure"] if len(events) else events
    return {
        "start": str(frame["ts"].min()),
        "end": str(frame["ts"].max()),
        "rows": len(frame),
        "assets": int(frame["asset_id"].nunique()),
        "failures": len(failures),
        "maintenance": int((events["kind"] == "maintenance").sum()) if len(events) else 0,
        "asset_classes": sorted(assets["asset_class"].astype(str).unique().tolist()),
        "sites": sorted(assets["site_id"].dropna().astype(str).unique().tolist()),
        "fingerprint": fingerprint(frame),
    }


def age_recipe(columns: Any, renewed: pd.DataFrame, option: str) -> dict[str, Any]:
    """What the card says of the age since renewal (:mod:`forewarn.features.age`): whether the model reads it,
    under which name, the ``age`` option it was trained with and how many renewals it is counted from.

    >>> age_recipe(["t__mean", "age_h"], pd.DataFrame({"asset_id": ["a"], "ts": [0]}), "auto")
    {'used': True, 'feature': 'age_h', 'option': 'auto', 'renewals': 1}
    """
    used = AGE_FEATURE in list(columns)
    return {"used": used, "feature": AGE_FEATURE if used else None, "option": option, "renewals": len(renewed)}


#: below this held-out ROC-AUC a failure or RUL model tells failing rows from healthy ones little better than chance
CHANCE_AUC = 0.6
#: with fewer failures than this in the data, held-out figures rest on a handful of events
FEW_FAILURES = 5
#: held-out assets the RUL interval's coverage needs to be trusted (fewer: each is judged by two or three others)
FEW_INTERVAL_ASSETS = 5


def skill_warnings(task: str, metrics: dict[str, Any], failures: int, labelled: bool) -> list[str]:
    """What a plant engineer must know before trusting a filed model: the held-out figures that show little or no
    skill, or that rest on too few events. ``failures``: failure events in the data (``labelled``: the labels came
    from a stored label column, where events are not counted). Empty when nothing is wrong.

    >>> skill_warnings("failure", {"roc_auc": 0.52, "f1": 0.0}, failures=1, labelled=False)  # doctest: +NORMALIZE_WHITESPACE
    ['only 1 failure(s) in the data: the held-out figures rest on very few events',
     'held-out ROC-AUC 0.52: the model tells failing rows from healthy ones little better than chance',
     'held-out F1 0: at its thresholds the model flags none of the held-out failure rows']
    >>> skill_warnings("failure", {"roc_auc": 0.93, "f1": 0.71}, failures=40, labelled=False)
    []
    >>> skill_warnings("rul", {"roc_auc": 0.9, "interval_assets": 3}, failures=40, labelled=False)  # doctest: +ELLIPSIS
    ["the RUL interval's coverage was judged on 3 held-out asset(s): a rough figure ..."]
    """
    if task not in ("failure", "rul"):
        return []
    out = []
    if not labelled and failures < FEW_FAILURES:
        out.append(f"only {failures} failure(s) in the data: the held-out figures rest on very few events")
    auc = metrics.get("roc_auc")
    if auc is None or auc != auc:
        out.append(
            "no held-out ROC-AUC: the held-out assets hold no failure within the horizon (or only failing rows), so "
            "nothing showed whether the model warns"
        )
    elif auc < CHANCE_AUC:
        out.append(
            f"held-out ROC-AUC {auc:.2f}: the model tells failing rows from healthy ones little better than chance"
        )
    if task == "failure" and metrics.get("f1") == 0:
        out.append("held-out F1 0: at its thresholds the model flags none of the held-out failure rows")
    judged_by = metrics.get("interval_assets")
    if task == "rul" and judged_by is not None and judged_by < FEW_INTERVAL_ASSETS:
        out.append(
            f"the RUL interval's coverage was judged on {judged_by} held-out asset(s): a rough figure (each one judged "
            f"by the interval of the others; {FEW_INTERVAL_ASSETS} or more give a figure to trust)"
        )
    return out
