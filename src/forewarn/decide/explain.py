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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

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


def standardised_deviation(values: Any, centre: Any, spread: Any) -> np.ndarray:
    """Each channel's distance from its training centre in its own spread, ``|value - centre| / spread`` (a spread of
    0 or less counts as 1); NaN where the value is missing. The one formula behind an alarm's channels in
    ``forewarn detect`` and in the stream.

    >>> standardised_deviation(np.array([[52.0, np.nan, 3.0]]), np.array([50.0, 0.0, 1.0]), np.array([1.0, 1.0, 0.0]))
    array([[ 2., nan,  2.]])
    """
    gap = np.abs(np.asarray(values, dtype="float64") - np.asarray(centre, dtype="float64"))
    width = np.asarray(spread, dtype="float64")
    return np.asarray(gap / np.where(width > 0, width, 1.0))


def sensor_contributions(contributions: pd.Series | Mapping[str, float], *, top: int | None = None) -> dict[str, float]:
    """Sum feature contributions per sensor; ordered by absolute size, largest first; ``top`` keeps the first k."""
    items: Iterable[tuple[Any, float]]
    if isinstance(contributions, pd.Series):
        items = zip(contributions.index.tolist(), contributions.to_numpy(dtype="float64").tolist(), strict=True)
    else:
        items = ((k, float(v)) for k, v in contributions.items())
    totals: dict[str, float] = {}
    for feature, value in items:  # plain Python: pandas costs ~1 ms here (SensorIndex is the per-model fast path)
        if feature not in NON_FEATURE_COLUMNS and math.isfinite(value):
            sensor = sensor_of(str(feature))
            totals[sensor] = totals.get(sensor, 0.0) + value
    return _ranked(totals.items(), top)


def _ranked(totals: Iterable[tuple[str, float]], top: int | None) -> dict[str, float]:
    """Per-sensor totals ordered by absolute size (largest first, ties by name), the first ``top``, rounded."""
    ordered = sorted(totals, key=lambda kv: (-abs(kv[1]), kv[0]))
    if top is not None:
        ordered = ordered[: max(int(top), 0)]
    return {k: round(v, 6) for k, v in ordered}


class SensorIndex:
    """:func:`sensor_contributions` for rows of a fixed set of contribution columns, mapped to sensors once.

    A model's contribution columns never change, so the feature -> sensor mapping is an index array built
    when the model is loaded, and the per-sensor sums of a row are one :func:`numpy.bincount`. It adds the
    finite values of each sensor in column order, as :func:`sensor_contributions` does, so both give the same
    numbers; a sensor without any finite contribution is left out there and here.

    >>> index = SensorIndex(["temp__mean", "vib__max", "temp__slope", "bias"])
    >>> index.sensors
    ('temp', 'vib')
    >>> index.contributions(np.array([-4.0, 3.0, -6.0, 100.0]))
    {'temp': -10.0, 'vib': 3.0}
    >>> index.contributions(np.array([-4.0, np.nan, -6.0, 100.0]), top=1)
    {'temp': -10.0}
    """

    def __init__(self, columns: Sequence[str]):
        positions: dict[str, int] = {}
        keep, index = [], []
        for j, column in enumerate(map(str, columns)):
            if column not in NON_FEATURE_COLUMNS:
                keep.append(j)
                index.append(positions.setdefault(sensor_of(column), len(positions)))
        self.columns = tuple(map(str, columns))
        self.sensors = tuple(positions)
        self._keep = np.asarray(keep, dtype=np.intp)
        self._index = np.asarray(index, dtype=np.intp)

    def contributions(self, row: np.ndarray, *, top: int | None = None) -> dict[str, float]:
        """Per-sensor sums of one row of contributions (one value per column), like :func:`sensor_contributions`."""
        values = np.asarray(row, dtype="float64")[self._keep]
        finite = np.isfinite(values)
        n = len(self.sensors)
        if finite.all():
            totals = np.bincount(self._index, weights=values, minlength=n).tolist()
            return _ranked(zip(self.sensors, totals, strict=True), top)
        totals = np.bincount(self._index, weights=np.where(finite, values, 0.0), minlength=n).tolist()
        present = np.bincount(self._index[finite], minlength=n).tolist()
        return _ranked(((s, v) for s, v, k in zip(self.sensors, totals, present, strict=True) if k), top)


def sensor_contribution_frame(contributions: pd.DataFrame) -> pd.DataFrame:
    """Row-wise :func:`sensor_contributions` for a frame of feature contributions (one column per sensor).

    >>> frame = pd.DataFrame({"a__mean": [1.0, 0.0], "a__max": [2.0, 1.0], "b__mean": [0.5, -3.0], "bias": [9.0, 9.0]})
    >>> sensor_contribution_frame(frame).values.tolist()
    [[3.0, 0.5], [1.0, -3.0]]
    """
    features = [c for c in contributions.columns if c not in NON_FEATURE_COLUMNS]
    sensors = [sensor_of(str(c)) for c in features]
    return contributions[features].T.groupby(sensors, sort=False).sum().T


def occlusion_contributions(
    predict: Callable[[pd.DataFrame], np.ndarray],
    X: pd.DataFrame,
    reference: Mapping[str, float] | pd.Series,
    sensors: Sequence[str] | None = None,
) -> pd.DataFrame:
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
        raise SchemaError(
            f"reference has no value for feature(s) {', '.join(missing[:5])}",
            column="reference",
            hint="pass the training mean of every feature",
        )
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
