"""Explanations a maintenance planner can use: which *sensors* drive a prediction.

Models see features such as ``bearing_temp__slope`` or ``vib_rms__max``; a planner walks to a sensor.
Window and spectral features are named ``f"{sensor}__{statistic}"``, so :func:`sensor_of` maps a feature
back to its sensor and :func:`sensor_contributions` adds up the contributions of every feature of one sensor.

Where contributions come from:

* models with an ``explain(X)`` method (LightGBM's TreeSHAP contributions: one column per feature plus
  ``bias``, summing to the prediction) are used as they are;
* for any other model, :func:`occlusion_contributions` is the equivalent: replace all features of one
  sensor by a reference (the training mean, say) and record how much the output moves. Cost: one extra
  prediction per sensor.

The sign says in which direction a sensor pushes the *output* (for RUL, negative = shortens the life).

>>> import pandas as pd
>>> contrib = pd.Series({"temp__mean": -4.0, "temp__slope": -6.0, "vib__max": 3.0, "bias": 100.0})
>>> sensor_contributions(contrib)
{'temp': -10.0, 'vib': 3.0}
>>> sensor_contributions(contrib, top=1)
{'temp': -10.0}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError

SEPARATOR = "__"
#: columns of an ``explain`` frame that belong to no sensor
NON_FEATURE_COLUMNS = frozenset({"bias", "expected_value"})


def sensor_of(feature: str) -> str:
    """The sensor a feature was computed from (the part before the first ``__``; the name itself otherwise).

    >>> sensor_of("bearing_temp__slope"), sensor_of("vib__fft__band_3"), sensor_of("load")
    ('bearing_temp', 'vib', 'load')
    """
    name = str(feature)
    return name.split(SEPARATOR, 1)[0] if SEPARATOR in name else name


def sensor_contributions(contributions: pd.Series | Mapping[str, float], *, top: int | None = None) -> dict[str, float]:
    """Sum feature contributions per sensor; ordered by absolute size, largest first; ``top`` keeps the first k."""
    if isinstance(contributions, pd.Series):
        items = zip(contributions.index.tolist(), contributions.to_numpy(dtype="float64").tolist(), strict=True)
    else:
        items = ((k, float(v)) for k, v in contributions.items())
    totals: dict[str, float] = {}
    for feature, value in items:  # plain Python: this runs on every prediction, and pandas costs ~1 ms here
        if feature not in NON_FEATURE_COLUMNS and math.isfinite(value):
            sensor = sensor_of(str(feature))
            totals[sensor] = totals.get(sensor, 0.0) + value
    ordered = sorted(totals.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    if top is not None:
        ordered = ordered[: max(int(top), 0)]
    return {k: round(v, 6) for k, v in ordered}


def sensor_contribution_frame(contributions: pd.DataFrame) -> pd.DataFrame:
    """Row-wise :func:`sensor_contributions` for a frame of feature contributions (one column per sensor).

    >>> frame = pd.DataFrame({"a__mean": [1.0, 0.0], "a__max": [2.0, 1.0], "b__mean": [0.5, -3.0], "bias": [9.0, 9.0]})
    >>> sensor_contribution_frame(frame).values.tolist()
    [[3.0, 0.5], [1.0, -3.0]]
    """
    features = [c for c in contributions.columns if c not in NON_FEATURE_COLUMNS]
    sensors = [sensor_of(str(c)) for c in features]
    return contributions[features].T.groupby(sensors, sort=False).sum().T


def occlusion_contributions(predict: Callable[[pd.DataFrame], np.ndarray], X: pd.DataFrame,
                            reference: Mapping[str, float] | pd.Series,
                            sensors: Sequence[str] | None = None) -> pd.DataFrame:
    """Per-sensor contributions of any model: ``output(X) - output(X with that sensor's features at reference)``.

    ``reference`` gives a neutral value per feature (typically the training mean). Returns one column per
    sensor, one row per row of ``X``.

    >>> X = pd.DataFrame({"a__mean": [2.0], "b__mean": [5.0]})
    >>> out = occlusion_contributions(lambda f: (3 * f["a__mean"] + f["b__mean"]).to_numpy(), X,
    ...                               {"a__mean": 0.0, "b__mean": 5.0})
    >>> out.columns.tolist(), out.values.tolist()
    (['a', 'b'], [[6.0, 0.0]])
    """
    missing = [c for c in X.columns if c not in reference]
    if missing:
        raise SchemaError(f"reference has no value for feature(s) {', '.join(missing[:5])}", column="reference",
                          hint="pass the training mean of every feature")
    by_sensor: dict[str, list[str]] = {}
    for column in X.columns:
        by_sensor.setdefault(sensor_of(str(column)), []).append(str(column))
    chosen = list(by_sensor) if sensors is None else [s for s in sensors if s in by_sensor]
    base = np.asarray(predict(X), dtype="float64")
    out = {}
    for sensor in chosen:
        occluded = X.copy()
        for column in by_sensor[sensor]:
            occluded[column] = float(reference[column])
        out[sensor] = base - np.asarray(predict(occluded), dtype="float64")
    return pd.DataFrame(out, index=X.index)
