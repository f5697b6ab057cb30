"""A servable model: a saved estimator folder plus ``serving.json``, which says how to feed and read it.

``serving.json`` holds what the estimator's own manifest cannot know:

* the feature recipe: sensor ``channels``, the sampling ``interval`` the model was trained at (readings are
  averaged into buckets of that width, aligned on the Unix epoch, before features are computed; empty = the raw
  rows as stored), trailing ``window`` (rows at that interval), ``stats``, ``ewm_span`` and how many recent rows
  (``history_rows``) to read from the store to score an asset's latest state;
* the failure ``horizon`` (in the RUL ``unit``) and, for RUL models, quantiles of held-out residuals
  (true - predicted RUL), one set per band of predicted RUL (``residual_edges`` splits the bands; none = one
  band), so an interval is conditional on the prediction: they give the RUL interval and the probability that
  the asset fails within the horizon, ``P(RUL + residual <= horizon)``, with ``rul_tails`` saying what lies beyond
  the residuals (``"power"`` tails in new bundles, so the probability keeps falling as the predicted RUL grows;
  empty in older ones: 0 and 1 there, as they have always been scored);
* ``interval_edges`` and ``interval_offsets``: the RUL interval itself, a (low, high) offset added to the predicted
  RUL per band of predicted RUL, fitted with each held-out asset as one unit (:func:`interval_bands`); empty in
  every bundle written before them, whose interval is read from the residual quantiles at :data:`INTERVAL`, as it
  always was. Every RUL interval's upper bound stops at the model's RUL cap (its ``max_rul``): an interval that
  reaches the cap says "the cap or more", never an hour count the model cannot tell;
* an optional :class:`~forewarn.decide.calibration.Calibrator` that maps that raw probability (or a failure
  model's probability, or an anomaly score) to a calibrated one, fitted on a different half of the
  held-out rows than the residuals;
* the cost table of :class:`~forewarn.decide.thresholds.ThresholdPolicy` (alert threshold per asset class);
* per-feature training means (``reference``), used by occlusion explanations for models without ``explain`` and,
  for a model that does not accept missing values, in place of a missing feature (a channel an asset class lacks);
* ``age_feature``: the name of the age-since-renewal feature (:mod:`forewarn.features.age`, ``age_h``) when the
  model reads it, listed after the window features; empty (the default, and every bundle written before it) = no
  age, the features are the window statistics alone;
* ``baseline_hours``: the span of each asset life's baseline when the model reads its rows against that baseline
  (:mod:`forewarn.features.baseline`; listed after the window features, before the age); 0 (the default, and
  every bundle written before it) = none. Such features need the life's first rows, which only ``forewarn score``
  reads (:func:`forewarn.train.score.baseline_history`); the service and the stream refuse such a bundle
  (:meth:`Bundle.select`: a feature matrix without those columns);
* ``sequence``: the model reads the last ``window`` rows of each channel (``f"{channel}__t{k}"``, a sequence
  model such as ``cnn-rul``) instead of window statistics; the service, ``forewarn score`` and the monitor compute
  them from the same recent rows (:meth:`ServingSpec.window_frame`, :meth:`ServingSpec.last_row`), the stream from
  its micro-batches (:class:`~forewarn.stream.features.MicroBatchFeatures` with ``sequence``). False (the default, and every bundle
  written before it) = window statistics;
* ``class_means`` and ``channel_means`` (sequence bundles): what a channel with no reading yet, or a sensor an asset
  lacks, reads in a sequence model's input: its asset class's training mean of the channel (0 where the class never
  reported it in training; the channels' overall training means, ``channel_means``, for an asset with no class or
  a class training never saw; :func:`~forewarn.features.kernel.absent_fill`). Empty in every bundle written before
  them: an absent channel reads 0 there, as it always has.

:func:`make_bundle` writes such a folder from a fitted model and held-out data; :class:`Bundle` loads it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forewarn.base.estimator import Estimator
from forewarn.base.persistence import load, read_manifest, save
from forewarn.base.timespan import timespan
from forewarn.bundles.contrib import row_contributions
from forewarn.decide.calibration import ISOTONIC_PLATT, Calibrator
from forewarn.decide.explain import SensorIndex
from forewarn.decide.thresholds import ThresholdPolicy
from forewarn.exceptions import ConfigError, SchemaError, StateError
from forewarn.features.age import AGE_FEATURE
from forewarn.features.baseline import baseline_features, baseline_names
from forewarn.features.kernel import ClassMeans, absent_fill, fill_absent, sequence_steps
from forewarn.features.last_row import feature_names, last_row_features
from forewarn.features.window import DEFAULT_STATS, sequence_frame, window_features

SPEC_FILE = "serving.json"
QUANTILE_LEVELS = np.linspace(0.0, 1.0, 101)
INTERVAL = (0.05, 0.95)
#: bands of predicted RUL an interval may use, and the held-out assets each band needs: rows of one asset are one
#: piece of evidence about a new asset's errors, so a band whose rows are one asset's joins its neighbour (5 assets
#: a band, measured beside it, merged the bands of every plant of 16 assets and covered fewer rows of lives that end
#: within the cap: BENCHMARKS.md, "Own data", 2026-12-06)
INTERVAL_BANDS = 4
INTERVAL_MIN_ASSETS = 2
#: what :func:`rul_failure_probability` reads beyond the held-out residuals: ``""`` (0 and 1, every bundle written
#: before the rule was recorded) or ``"power"`` tails (:func:`residual_cdf`)
RUL_TAIL_RULES = ("", "power")
#: the rule new bundles record (``ServingSpec.rul_tails``) and ``forewarn train`` fits its calibration on
RUL_TAILS = "power"
#: the quantile index (1 %) beyond which :func:`residual_cdf` is a power tail, and the one (10 %) that sets its span
_TAIL_AT, _TAIL_SCALE_AT = 1, 10


@dataclass(frozen=True)
class ServingSpec:
    """How to turn readings into the model's features, and its outputs into decisions."""

    channels: tuple[str, ...]
    window: int = 30
    interval: str = ""
    stats: tuple[str, ...] = tuple(DEFAULT_STATS)
    ewm_span: float = 10.0
    history_rows: int = 200
    horizon: float = 30.0
    unit: str = ""
    residual_quantiles: tuple[float, ...] = ()
    residual_edges: tuple[float, ...] = ()
    calibration: Mapping[str, Any] | None = None
    costs: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    asset_classes: tuple[str, ...] = ()
    reference: Mapping[str, float] = field(default_factory=dict)
    age_feature: str = ""
    baseline_hours: float = 0.0
    #: the model reads the last ``window`` rows of each channel (``f"{channel}__t{k}"``, forward-filled, missing
    #: as 0: :func:`~forewarn.features.window.sequence_frame`) instead of window statistics; False in every bundle
    #: written before it
    sequence: bool = False
    #: what a RUL model's failure probability reads beyond the held-out residuals (:data:`RUL_TAIL_RULES`); ``""``
    #: in every bundle written before it (0 and 1 there), :data:`RUL_TAILS` in new ones
    rul_tails: str = ""
    #: a sequence model's absent channels: each asset class's training mean per channel (``channels`` order) and the
    #: overall means (:func:`~forewarn.features.kernel.class_means`); empty in every bundle written before them (0)
    class_means: Mapping[str, Sequence[float]] = field(default_factory=dict)
    channel_means: tuple[float, ...] = ()
    #: the RUL interval (:class:`IntervalBands`): edges between bands of predicted RUL and a (low, high) offset per
    #: band, flattened; empty in every bundle written before them (the residual quantiles at :data:`INTERVAL` then)
    interval_edges: tuple[float, ...] = ()
    interval_offsets: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not self.channels:
            raise ConfigError("a serving spec needs at least one sensor channel")
        if self.rul_tails not in RUL_TAIL_RULES:
            raise ConfigError(f"rul_tails must be one of {RUL_TAIL_RULES}, got {self.rul_tails!r}")
        if int(self.window) < 1 or int(self.history_rows) < int(self.window):
            raise ConfigError(
                f"need 1 <= window <= history_rows, got window={self.window}, history_rows={self.history_rows}"
            )
        if not np.isfinite(self.horizon) or self.horizon <= 0:
            raise ConfigError(f"horizon must be a positive number, got {self.horizon!r}")
        width = len(self.channels)
        wrong = [name for name, means in self.class_means.items() if len(means) != width]
        if (self.class_means and not self.channel_means) or (self.channel_means and len(self.channel_means) != width):
            wrong.insert(0, "channel_means")
        if wrong:
            raise ConfigError(
                f"class_means / channel_means need one mean per channel ({width}): {', '.join(map(repr, wrong[:5]))}"
            )
        if self.interval_offsets and len(self.interval_offsets) != 2 * (len(self.interval_edges) + 1):
            raise ConfigError(
                f"interval_offsets need a (low, high) pair per band of predicted RUL ({len(self.interval_edges) + 1} "
                f"band(s)), got {len(self.interval_offsets)} value(s)"
            )
        if self.interval:
            try:
                width = timespan(self.interval)
            except (TypeError, ValueError):
                width = pd.Timedelta(0)
            if width <= pd.Timedelta(0):
                raise ConfigError(
                    f"interval must be a positive time span such as '10min' or '1h', got {self.interval!r}"
                )

    @property
    def window_feature_names(self) -> list[str]:
        """The window statistics' names (``f"{channel}__{stat}"``), the features computed from readings alone
        (a sequence model's: ``f"{channel}__t{k}"``, channel-major)."""
        if self.sequence:
            return [f"{c}__t{k}" for c in self.channels for k in range(int(self.window))]
        return feature_names(self.channels, self.stats)

    @property
    def feature_names(self) -> list[str]:
        """The window features, then the age since renewal when the model reads it (``age_feature``)."""
        names = self.window_feature_names
        if self.baseline_hours:
            names = [*names, *baseline_names(self.channels)]
        return [*names, self.age_feature] if self.age_feature else names

    def baseline_frame(self, frame: pd.DataFrame, renewals: pd.DataFrame | None) -> pd.DataFrame:
        """Every row of ``frame`` against its asset life's baseline (:func:`~forewarn.features.baseline.
        baseline_features` with this spec's channels, window and ``baseline_hours``): the frame must hold the
        life's baseline rows, as training read them.

        >>> spec = ServingSpec(channels=("t",), window=1, stats=("mean",), baseline_hours=4)
        >>> ts = pd.date_range("2024-01-01", periods=6, freq="1h", tz="UTC")
        >>> frame = pd.DataFrame({"asset_id": "a", "ts": ts, "t": [1.0, 3.0, 1.0, 3.0, 4.0, 8.0]})
        >>> spec.baseline_frame(frame, None)["t__base_z"].tolist()[-2:]
        [2.0, 6.0]
        """
        if not self.baseline_hours:
            raise ConfigError("this serving spec reads no baseline features (baseline_hours is 0)")
        return baseline_features(
            frame,
            columns=list(self.channels),
            window=self.window,
            baseline_hours=float(self.baseline_hours),
            renewals=renewals,
        )

    def absent(self, classes: Sequence[Any]) -> np.ndarray | None:
        """What the absent channels of rows of assets of ``classes`` read in a sequence model's input
        ``(rows, channels)`` (:func:`~forewarn.features.kernel.absent_fill`); None in a bundle without class means
        (0 there).

        >>> spec = ServingSpec(channels=("t", "leak"), sequence=True, class_means={"pump": [1.0, 2.0]},
        ...                    channel_means=(5.0, 2.0))
        >>> spec.absent(["pump", "fan", None]).tolist()
        [[1.0, 2.0], [5.0, 2.0], [5.0, 2.0]]
        """
        return absent_fill(classes, self.class_means, self.channel_means)

    def window_frame(self, frame: pd.DataFrame, classes: Mapping[Any, Any] | None = None) -> pd.DataFrame:
        """The window statistics of every row of ``frame`` (``asset_id, ts, <channel>...``, any row order) as the
        model was trained on them: the one kernel with this spec's channels, window, statistics and EWM span.
        A sequence model's input (:attr:`sequence`) reads a channel with no reading yet as the training mean of its
        asset's class (``classes``: asset id -> class; an asset not in it reads the overall mean, see
        :meth:`absent`).

        >>> spec = ServingSpec(channels=("t",), window=2, stats=("mean",))
        >>> frame = pd.DataFrame({"asset_id": ["a"] * 3, "ts": [1, 2, 3], "t": [1.0, 3.0, 5.0]})
        >>> spec.window_frame(frame)["t__mean"].tolist()
        [1.0, 2.0, 4.0]
        """
        if self.sequence:
            columns = list(self.channels)
            filled = frame.copy()
            carried = filled.groupby("asset_id")[columns].ffill().to_numpy(dtype="float64", na_value=np.nan)
            ids = filled["asset_id"].to_numpy()
            fill = self.absent([(classes or {}).get(a) for a in ids]) if len(ids) else None
            filled[columns] = fill_absent(carried, 0.0 if fill is None else fill)
            return sequence_frame(filled, group="asset_id", order="ts", columns=columns, window=self.window)
        return window_features(
            frame,
            group="asset_id",
            order="ts",
            columns=list(self.channels),
            window=self.window,
            stats=self.stats,
            ewm_span=self.ewm_span,
        )

    def last_row(self, values: np.ndarray, asset_class: Any = None) -> np.ndarray:
        """The window statistics of the last row of ``values`` (rows in time order, one column per channel): what
        :meth:`window_frame` gives that row, computed from the rows alone (a sequence model's absent channels read
        the means of ``asset_class``, see :meth:`absent`).

        >>> ServingSpec(channels=("t",), window=2, stats=("mean",)).last_row(np.array([[1.0], [3.0], [5.0]]))
        array([4.])
        >>> ServingSpec(channels=("t",), window=4, sequence=True).last_row(np.array([[1.0], [np.nan], [5.0]]))
        array([1., 1., 1., 5.])
        """
        if self.sequence:
            rows = pd.DataFrame(np.asarray(values, dtype="float64")).ffill().to_numpy()
            if not len(rows):
                return np.full(len(self.channels) * int(self.window), np.nan)
            last = rows[-int(self.window) :]
            pad = int(self.window) - len(last)
            block = np.vstack([np.full((pad, len(self.channels)), np.nan), last])[None]
            return sequence_steps(block, np.array([pad]), self.absent([asset_class]))[0]
        return last_row_features(values, self.channels, window=self.window, stats=self.stats, ewm_span=self.ewm_span)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["calibration"] = None if self.calibration is None else dict(self.calibration)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServingSpec:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise StateError(f"{SPEC_FILE} has unknown key(s) {', '.join(sorted(unknown))}")
        values = dict(data)
        for key in (
            "channels",
            "stats",
            "residual_quantiles",
            "residual_edges",
            "asset_classes",
            "channel_means",
            "interval_edges",
            "interval_offsets",
        ):
            if key in values:
                values[key] = tuple(values[key])
        try:
            return cls(**values)
        except (TypeError, ConfigError) as err:
            raise StateError(f"{SPEC_FILE} is not a valid serving spec: {err}") from None


@dataclass
class Predictions:
    """Model outputs for a batch of feature rows (``rul*`` are ``None`` for non-RUL models)."""

    probability: np.ndarray
    raw: np.ndarray
    rul: np.ndarray | None = None
    rul_low: np.ndarray | None = None
    rul_high: np.ndarray | None = None


class Bundle:
    """A loaded servable model: estimator, spec, calibrator and threshold policy."""

    def __init__(self, folder: str | os.PathLike[str], *, model_id: str = "", version: str = ""):
        self.folder = Path(folder)
        self.model_id = model_id or self.folder.name
        self.version = version
        self.manifest = read_manifest(self.folder)
        spec_path = self.folder / SPEC_FILE
        if not spec_path.is_file():
            raise StateError(
                f"{str(spec_path)!r} not found: {str(self.folder)!r} is a saved model but not a "
                "servable one; build it with forewarn.bundles.bundle.make_bundle"
            )
        try:
            self.spec = ServingSpec.from_json(json.loads(spec_path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as err:
            raise StateError(f"{str(spec_path)!r} is not valid JSON (line {err.lineno}): {err.msg}") from None
        self.model: Estimator = load(self.folder)
        self.task = self.model.task
        self.feature_names = [str(n) for n in self.model.feature_names_in_]
        missing = sorted(set(self.feature_names) - set(self.spec.feature_names))
        if missing:
            raise StateError(
                f"model in {str(self.folder)!r} uses features the serving spec does not make: {', '.join(missing[:5])}"
            )
        self._columns = np.asarray([self.spec.feature_names.index(n) for n in self.feature_names], dtype=np.intp)
        self._fill = (
            None
            if self.model.get_tags().get("nan_allowed")
            else np.array([self.spec.reference.get(n, 0.0) for n in self.feature_names], dtype="float64")
        )
        # built once, as plain Python strings: pandas' Arrow-backed string indexes are slow to build and to iterate,
        # and the estimator checks the column names on every call
        self._index = pd.Index(self.feature_names, dtype=object)
        self.calibrator = None if self.spec.calibration is None else Calibrator().set_state(self.spec.calibration)
        bands = len(self.spec.residual_edges) + 1
        if self.task == "rul" and len(self.spec.residual_quantiles) != bands * len(QUANTILE_LEVELS):
            raise StateError(
                f"RUL model in {str(self.folder)!r} lacks residual quantiles in {SPEC_FILE} "
                f"({len(QUANTILE_LEVELS)} per band of predicted RUL, {bands} band(s))"
            )
        self._residual_edges = np.asarray(self.spec.residual_edges, dtype="float64")
        self._residual_quantiles = (
            np.asarray(self.spec.residual_quantiles, dtype="float64").reshape(bands, -1)
            if self.task == "rul"
            else np.zeros((1, len(QUANTILE_LEVELS)))
        )
        self.interval = self._interval_bands()
        #: the RUL the model cannot see past (its ``max_rul``; inf without one): the interval's upper bound stops there
        self.rul_cap = rul_cap(self.model)
        if self.task == "anomaly" and self.calibrator is None:
            raise StateError("an anomaly model needs a calibrator to turn scores into probabilities")
        if self.task not in ("rul", "failure", "anomaly"):
            raise StateError(f"models of task {self.task!r} cannot be served for health (rul, failure, anomaly)")
        self.thresholds = ThresholdPolicy.from_mapping(self.spec.costs) if self.spec.costs else ThresholdPolicy()
        self.unit = self.spec.unit or str(self.model.get_tags().get("unit", ""))
        self.metrics = dict(self.manifest.get("metrics", {}))
        self.additive = self._explanations_add_up()
        self._booster = self._direct_booster()
        self._one_row = None if self._booster is None else row_contributions(self._booster)
        self._contribution_index = pd.Index([*self.feature_names, "bias"], dtype=object)
        self._sensor_indexes: dict[tuple[str, ...], SensorIndex] = {}
        self._direct_sensors = self.sensor_index(self._contribution_index)  # the direct path's columns, mapped once

    def select(self, spec_features: np.ndarray) -> np.ndarray:
        """Columns of a full spec-feature matrix that the model uses, in the model's order (missing values
        replaced by the training means for a model that does not accept them)."""
        if self.spec.baseline_hours and spec_features.shape[1] != len(self.spec.feature_names):
            raise StateError(
                f"model {self.model_id!r} reads {len(self.spec.feature_names)} features per row, got "
                f"{spec_features.shape[1]}: it reads rows against each asset life's baseline (baseline "
                f"{self.spec.baseline_hours:g} h), which only forewarn score computes; the service and the stream "
                "cannot serve it yet (train without --baseline to serve it)"
            )
        if self.spec.sequence and spec_features.shape[1] != len(self.spec.feature_names):
            raise StateError(
                f"model {self.model_id!r} reads the last {self.spec.window} rows of each channel "
                f"({len(self.spec.feature_names)} values per row), got {spec_features.shape[1]} features: "
                "window statistics are not its input (compute them with the bundle's serving spec)"
            )
        values = spec_features[:, self._columns]
        return values if self._fill is None else fill_missing(values, self._fill)

    def feature_frame(self, spec_features: np.ndarray) -> pd.DataFrame:
        """Model features (selected from the spec's features) as a frame with the model's column names."""
        return pd.DataFrame(self.select(np.atleast_2d(spec_features)), columns=self._index, copy=False)

    def predict(self, X: pd.DataFrame) -> Predictions:
        """Probabilities (and RUL with its interval) for rows of model features."""
        if self.task == "rul":
            return self._from_rul(self.model.predict(X))  # type: ignore[attr-defined]
        raw = self.model.predict_proba(X) if self.task == "failure" else self.model.score(X)  # type: ignore[attr-defined]
        raw = np.asarray(raw, dtype="float64").reshape(len(X), -1)[:, -1]
        probability = raw if self.calibrator is None else self.calibrator.transform(raw)
        return Predictions(np.clip(probability, 0.0, 1.0), raw)

    def _from_rul(self, rul: np.ndarray) -> Predictions:
        """Interval and failure probability within the horizon from predicted RUL and the held-out residuals of
        its band of predicted RUL."""
        rul = np.asarray(rul, dtype="float64")
        raw, band = rul_failure_probability(
            rul, self.spec.horizon, self._residual_edges, self._residual_quantiles, self.spec.rul_tails
        )
        low, high = self.interval.bounds(rul, self.rul_cap)
        probability = raw if self.calibrator is None else self.calibrator.transform(raw)
        return Predictions(probability, raw, rul, low, high)

    def _interval_bands(self) -> IntervalBands:
        """The RUL interval the spec records, or (a bundle written before it) the residual quantiles at the
        interval's two levels in the residual bands, as such bundles were always served."""
        if self.spec.interval_offsets:
            offsets = np.asarray(self.spec.interval_offsets, dtype="float64").reshape(-1, 2)
            return IntervalBands(np.asarray(self.spec.interval_edges, dtype="float64"), offsets)
        offsets = np.array(
            [[np.interp(level, QUANTILE_LEVELS, q) for level in INTERVAL] for q in self._residual_quantiles]
        )
        return IntervalBands(self._residual_edges, offsets)

    def _explanations_add_up(self) -> bool:
        """Whether this RUL model's ``explain`` sums to its prediction (TreeSHAP does): checked once, on the
        reference row, so :meth:`predict_and_explain` can answer with one model call instead of two."""
        if self.task != "rul" or not callable(getattr(self.model, "explain", None)):
            return False
        X = pd.DataFrame([[self.spec.reference.get(n, 0.0) for n in self.feature_names]], columns=self._index)
        total = self.model.explain(X).to_numpy(dtype="float64").sum(axis=1)  # type: ignore[attr-defined]
        return bool(np.allclose(np.maximum(total, 0.0), self.model.predict(X), rtol=1e-9, atol=1e-6))  # type: ignore[attr-defined]

    def _direct_booster(self) -> Any:
        """The LightGBM booster behind an additive RUL model, when its ``explain`` is exactly the booster's
        ``pred_contrib`` on the model's columns (as :class:`~forewarn.models.rul.lightgbm_rul.LightGBMRUL`'s is):
        then :meth:`predict_and_explain` calls it on a numpy matrix and skips the estimator's frame checks, the
        cost of a one-row prediction (and a single row goes through :class:`RowContributions`). ``None``
        otherwise."""
        booster = getattr(self.model, "booster_", None)
        if not self.additive or booster is None or not callable(getattr(booster, "feature_name", None)):
            return None
        return booster if list(booster.feature_name()) == self.feature_names else None

    def _direct(self, values: np.ndarray) -> tuple[Predictions, np.ndarray] | None:
        """Predictions and contributions (model features, then ``bias``) of rows of model features by the direct
        booster call; ``None`` where it does not apply (no direct booster; infinities, which the model's own
        checks refuse)."""
        if self._booster is None or np.isinf(values).any():
            return None
        row = self._one_row(values[0]) if len(values) == 1 and self._one_row is not None else None
        raw = (
            row[None, :]
            if row is not None
            else self._booster.predict(values, pred_contrib=True, num_threads=int(getattr(self.model, "n_jobs", 1)))
        )
        return self._from_rul(np.maximum(raw.sum(axis=1), 0.0)), raw

    def predict_and_explain(self, X: pd.DataFrame) -> tuple[Predictions, pd.DataFrame]:
        """:meth:`predict` and :meth:`contributions` together (one model call when the explanation adds up: the
        contributions of a row plus the ``bias`` column sum to the predicted RUL)."""
        if not self.additive:
            return self.predict(X), self.contributions(X)
        direct = self._direct(X.to_numpy(dtype="float64")) if list(X.columns) == self.feature_names else None
        if direct is not None:
            return direct[0], pd.DataFrame(direct[1], columns=self._contribution_index, index=X.index, copy=False)
        contributions = self.model.explain(X)  # type: ignore[attr-defined]
        rul = np.maximum(contributions.to_numpy(dtype="float64").sum(axis=1), 0.0)
        return self._from_rul(rul), contributions

    def explain_values(self, values: np.ndarray) -> tuple[Predictions, np.ndarray, SensorIndex]:
        """:meth:`predict_and_explain` of rows of model features (a float64 matrix, the model's column order),
        with the contributions as a matrix and the :class:`~forewarn.decide.explain.SensorIndex` of its columns.

        The serving hot path: with a direct booster no frame is built (one row goes through the single-row C API);
        any other model gets the frame its estimator expects, and the same answer as :meth:`predict_and_explain`.
        """
        direct = self._direct(values) if self.additive else None
        if direct is not None:
            return direct[0], direct[1], self._direct_sensors
        predictions, contributions = self.predict_and_explain(pd.DataFrame(values, columns=self._index, copy=False))
        return predictions, contributions.to_numpy(dtype="float64"), self.sensor_index(contributions.columns)

    def sensor_index(self, columns: Sequence[Any]) -> SensorIndex:
        """The feature -> sensor mapping of a set of contribution columns, built once per set of columns."""
        key = tuple(map(str, columns))
        index = self._sensor_indexes.get(key)
        if index is None:
            index = self._sensor_indexes[key] = SensorIndex(key)
        return index

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions of each row: the model's own ``explain``, else occlusion per sensor."""
        explain = getattr(self.model, "explain", None)
        if callable(explain):
            return explain(X)
        from forewarn.decide.explain import occlusion_contributions

        def output(frame: pd.DataFrame) -> np.ndarray:
            return self.predict(frame).probability

        reference = {k: self.spec.reference.get(k, 0.0) for k in X.columns}
        return occlusion_contributions(output, X, reference)

    def describe(self) -> dict[str, Any]:
        """What the API shows about this bundle."""
        return {
            "model_id": self.model_id,
            "version": self.version,
            "model": self.manifest.get("model"),
            "task": self.task,
            "unit": self.unit,
            "horizon": self.spec.horizon,
            "window": self.spec.window,
            "interval": self.spec.interval,
            "channels": list(self.spec.channels),
            "n_features": len(self.feature_names),
            "calibrated": self.calibrator is not None,
            "metrics": self.metrics,
            "asset_classes": list(self.spec.asset_classes),
            "age_feature": self.spec.age_feature or None,
            "input": "sequence" if self.spec.sequence else "window statistics",
            "data_hash": self.manifest.get("data_hash"),
            "warnings": self._card_warnings(),
        }

    def _card_warnings(self) -> list[str]:
        """The model card's warnings (:func:`forewarn.train.card.skill_warnings`); none without a card."""
        file = self.folder / CARD_FILE
        try:
            card = json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}
        except (OSError, ValueError):
            return []
        return [str(w) for w in card.get("warnings") or []] if isinstance(card, dict) else []


def rul_failure_probability(
    rul: np.ndarray, horizon: float, edges: np.ndarray, quantiles: np.ndarray, tails: str = RUL_TAILS
) -> tuple[np.ndarray, np.ndarray]:
    """``P(RUL + residual <= horizon)`` per row from the residual quantiles (one row of :data:`QUANTILE_LEVELS`
    per band of predicted RUL, ``edges`` between bands), and each row's band.

    ``tails`` says what lies beyond the held-out residuals (:data:`RUL_TAIL_RULES`): ``""`` (every bundle written
    before the rule was recorded) reads 0 below the smallest residual and 1 above the largest, so every asset whose
    predicted RUL exceeds the horizon by more than the largest residual ties at 0; ``"power"`` (the default)
    replaces the empirical distribution outside its 1 % and 99 % quantiles by power tails (:func:`residual_cdf`),
    so within a band the probability falls strictly as the predicted RUL grows and a fleet ranking keeps its
    order.

    >>> q = np.quantile(np.array([-10.0, 0.0, 10.0]), QUANTILE_LEVELS)[None, :]
    >>> p, band = rul_failure_probability(np.array([20.0, 5.0]), 10.0, np.array([]), q, tails="")
    >>> p.round(2).tolist(), band.tolist()
    ([0.0, 0.75], [0, 0])
    >>> p, _ = rul_failure_probability(np.array([60.0, 40.0, 20.0, 5.0]), 10.0, np.array([]), q)
    >>> bool(np.all(np.diff(p) > 0)), round(float(p[-1]), 2)
    (True, 0.75)
    """
    if tails not in RUL_TAIL_RULES:
        raise ConfigError(f"unknown RUL probability tails {tails!r}; choose from {RUL_TAIL_RULES}")
    rul = np.atleast_1d(np.asarray(rul, dtype="float64"))
    band = np.searchsorted(np.asarray(edges, dtype="float64"), rul, side="right")
    raw = np.empty(len(rul))
    for b in np.unique(band):
        rows = band == b
        if tails:
            raw[rows] = residual_cdf(horizon - rul[rows], quantiles[b])
        else:
            raw[rows] = np.interp(horizon - rul[rows], quantiles[b], QUANTILE_LEVELS, left=0.0, right=1.0)
    return raw, band


def residual_cdf(values: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """``P(residual <= value)`` from one band's residual quantiles (at :data:`QUANTILE_LEVELS`): linear between the
    quantiles from 1 % to 99 %, and beyond them a power tail, ``0.01 * span / (span + 9 * distance)`` (and its mirror
    above), that falls tenfold over the span in which the empirical tail does (1 % to 10 %, 90 % to 99 %).
    Continuous, strictly increasing, within (0, 1); float64 still orders rows hundreds of spans out, where an
    exponential tail's probabilities (measured beside it) were too small for a calibration curve to tell apart
    (BENCHMARKS.md "Own data", issue 12 item 6).

    >>> q = np.quantile(np.arange(-50.0, 51.0), QUANTILE_LEVELS)
    >>> residual_cdf(np.array([-49.0, 0.0, 49.0]), q).round(3).tolist()
    [0.01, 0.5, 0.99]
    >>> p = residual_cdf(np.array([-1000.0, -100.0, -60.0, 60.0, 100.0]), q)
    >>> bool(np.all(np.diff(p) > 0) and p[0] > 0 and p[-1] < 1), round(float(p[1]), 4)
    (True, 0.0002)
    """
    x = np.asarray(values, dtype="float64")
    q = np.asarray(quantiles, dtype="float64")
    low, high = q[_TAIL_AT], q[-1 - _TAIL_AT]
    spread = float(high - low)
    down = _tail_span(q[_TAIL_SCALE_AT] - low, spread)
    up = _tail_span(high - q[-1 - _TAIL_SCALE_AT], spread)
    level = QUANTILE_LEVELS[_TAIL_AT]
    inner = np.interp(x, q[_TAIL_AT : len(q) - _TAIL_AT], QUANTILE_LEVELS[_TAIL_AT : len(q) - _TAIL_AT])
    below = level * down / (down + 9.0 * np.maximum(low - x, 0.0))
    above = 1.0 - level * up / (up + 9.0 * np.maximum(x - high, 0.0))
    return np.where(x < low, below, np.where(x > high, above, inner))


def _tail_span(span: float, spread: float) -> float:
    """The span over which a tail falls tenfold: the empirical one, or (flat: tied residuals) ``spread``, the
    1 %-99 % range, and at least one unit of RUL (an hour, a cycle), so a model whose held-out residuals all tie
    still orders the rows beyond them."""
    return max(float(span) if span > 0 else spread, 1.0)


def residual_bands(
    predicted: np.ndarray, truth: np.ndarray, bands: int = 1, *, min_rows: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Edges between bands of predicted RUL (equal counts of rows) and the quantiles of ``truth - predicted`` in
    each band (one row of :data:`QUANTILE_LEVELS` per band). Fewer bands when a band would hold under
    ``min_rows`` rows.

    >>> edges, q = residual_bands(np.arange(200.0), np.arange(200.0) + 1, bands=2)
    >>> edges.tolist(), q.shape, float(q[0, 50])
    ([99.5], (2, 101), 1.0)
    """
    predicted = np.asarray(predicted, dtype="float64")
    residual = np.asarray(truth, dtype="float64") - predicted
    bands = int(max(1, min(bands, len(predicted) // max(min_rows, 1))))
    edges = np.unique(np.quantile(predicted, np.linspace(0, 1, bands + 1)[1:-1])) if bands > 1 else np.empty(0)
    band = np.searchsorted(edges, predicted, side="right")
    quantiles = np.array([np.quantile(residual[band == b], QUANTILE_LEVELS) for b in range(len(edges) + 1)])
    return edges, quantiles


def rul_cap(model: Any) -> float:
    """The RUL a model cannot see past: its ``max_rul`` (the cap on its training targets), inf without one.

    >>> from forewarn.models.rul.lightgbm_rul import LightGBMRUL
    >>> rul_cap(LightGBMRUL(max_rul=240.0)), rul_cap(LightGBMRUL(max_rul=None))
    (240.0, inf)
    """
    params = model.get_params() if callable(getattr(model, "get_params", None)) else {}
    cap = params.get("max_rul")
    return float(cap) if cap is not None and np.isfinite(float(cap)) and float(cap) > 0 else float("inf")


def rul_bounds(
    rul: np.ndarray, low_offset: np.ndarray, high_offset: np.ndarray, cap: float = float("inf")
) -> tuple[np.ndarray, np.ndarray]:
    """The interval ``[rul + low_offset, rul + high_offset]`` as served: never negative; no bound past ``cap`` (the
    model reads every longer life as the cap: an interval that reaches it says "the cap or more"), except the upper
    one at an estimate that itself lies past the cap (a boosted model's may, by a few hours), so the estimate stays
    inside its interval; the lower bound never above the upper one.

    >>> low, high = rul_bounds(np.array([10.0, 230.0, 250.0]), np.array(-30.0), np.array(20.0), 240.0)
    >>> low.tolist(), high.tolist()
    ([0.0, 200.0, 220.0], [30.0, 240.0, 250.0])
    >>> [b.tolist() for b in rul_bounds(np.array([245.0]), np.array(-1.0), np.array(8.0), 240.0)]
    [[240.0], [245.0]]
    """
    rul = np.asarray(rul, dtype="float64")
    high = np.minimum(np.maximum(rul + high_offset, 0.0), np.maximum(cap, rul))
    low = np.minimum(np.minimum(np.maximum(rul + low_offset, 0.0), cap), high)
    return low, high


@dataclass(frozen=True)
class IntervalBands:
    """The RUL interval: ``offsets[b]`` = (low, high) added to a predicted RUL in band ``b`` of predicted RUL
    (``edges`` between bands; none = one band). ``assets``: the held-out assets it was fitted on (0: unknown, a
    bundle written before it).

    >>> bands = IntervalBands(np.array([100.0]), np.array([[-20.0, 10.0], [-50.0, 30.0]]))
    >>> low, high = bands.bounds(np.array([10.0, 150.0, 230.0, 250.0]), cap=240.0)
    >>> low.tolist(), high.tolist()
    ([0.0, 100.0, 180.0, 200.0], [20.0, 180.0, 240.0, 250.0])
    """

    edges: np.ndarray
    offsets: np.ndarray
    assets: int = 0

    def bounds(self, rul: np.ndarray, cap: float = float("inf")) -> tuple[np.ndarray, np.ndarray]:
        """Low and high bound of each predicted RUL: never negative, the high bound at most ``cap`` (an interval
        that reaches the cap reads "the cap or more"; where the estimate itself lies past the cap, as a boosted
        model's may by a few hours, the bound stops at the estimate), never below the low one."""
        rul = np.asarray(rul, dtype="float64")
        band = np.searchsorted(self.edges, rul, side="right")
        return rul_bounds(rul, self.offsets[band, 0], self.offsets[band, 1], cap)

    def to_spec(self) -> dict[str, tuple[float, ...]]:
        """The serving spec's ``interval_edges`` and ``interval_offsets``."""
        return {
            "interval_edges": tuple(float(e) for e in self.edges),
            "interval_offsets": tuple(float(v) for v in self.offsets.reshape(-1)),
        }


class ResidualModel(tuple):
    """``(edges, quantiles)`` of :func:`residual_bands` (the failure probability's residuals; unpacks as before),
    with the RUL interval fitted beside them (``interval``, an :class:`IntervalBands`, or None)."""

    interval: IntervalBands | None

    def __new__(cls, edges: np.ndarray, quantiles: np.ndarray, interval: IntervalBands | None = None) -> ResidualModel:
        made = super().__new__(cls, (edges, quantiles))
        made.interval = interval
        return made


def asset_weights(groups: np.ndarray) -> np.ndarray:
    """One unit of weight per asset, shared by its rows (each row ``1 / (assets * its asset's rows)``): rows of one
    asset move together, so an asset with many rows says no more about a new asset than one with few.

    >>> asset_weights(np.array(["a", "a", "a", "b"])).tolist()
    [0.16666666666666666, 0.16666666666666666, 0.16666666666666666, 0.5]
    """
    _, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    return 1.0 / (len(counts) * counts[inverse].astype("float64"))


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """For each of ``levels`` (0-1), the smallest value whose share of the weight at or below it reaches the level
    (one sort for all levels).

    >>> weighted_quantiles(np.array([3.0, 1.0, 2.0]), np.array([0.2, 0.2, 0.6]), [0.5, 0.9]).tolist()
    [2.0, 3.0]
    """
    values = np.asarray(values, dtype="float64")
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(np.asarray(weights, dtype="float64")[order])
    total = cumulative[-1]
    at = np.searchsorted(cumulative, np.asarray(levels, dtype="float64") * total - 1e-12 * total)
    return values[order][np.minimum(at, len(order) - 1)]


def interval_offsets(residual: np.ndarray, groups: np.ndarray, levels: tuple[float, float] = INTERVAL) -> np.ndarray:
    """The (low, high) offsets of one band: the residuals' quantiles at ``levels`` with every asset one unit
    (:func:`asset_weights`).

    >>> r = np.r_[np.zeros(98), -10.0, 10.0]   # one asset's 98 rows at 0, two assets' single rows at +-10
    >>> interval_offsets(r, np.array(["a"] * 98 + ["b", "c"])).tolist()
    [-10.0, 10.0]
    """
    return weighted_quantiles(residual, asset_weights(groups), levels)


def interval_bands(
    predicted: np.ndarray,
    truth: np.ndarray,
    groups: np.ndarray,
    *,
    bands: int = INTERVAL_BANDS,
    min_assets: int = INTERVAL_MIN_ASSETS,
    levels: tuple[float, float] = INTERVAL,
) -> IntervalBands:
    """The RUL interval from held-out rows: up to ``bands`` bands of predicted RUL (equal counts of rows), fewer
    until each holds rows of ``min_assets`` assets, and each band's :func:`interval_offsets`.

    >>> p = np.tile(np.arange(100.0), 10); g = np.repeat(np.arange(10), 100)
    >>> fitted = interval_bands(p, p + np.where(g % 2, 5.0, -5.0), g, bands=2)
    >>> fitted.edges.tolist(), fitted.offsets.tolist(), fitted.assets
    ([49.5], [[-5.0, 5.0], [-5.0, 5.0]], 10)
    """
    predicted = np.asarray(predicted, dtype="float64")
    residual = np.asarray(truth, dtype="float64") - predicted
    groups = np.asarray(groups)
    edges, band = asset_bands(predicted, groups, bands=bands, min_assets=min_assets)
    offsets = np.array(
        [interval_offsets(residual[band == b], groups[band == b], levels) for b in range(len(edges) + 1)]
    )
    return IntervalBands(edges, offsets, int(len(np.unique(groups))))


def asset_bands(
    predicted: np.ndarray, groups: np.ndarray, *, bands: int, min_assets: int
) -> tuple[np.ndarray, np.ndarray]:
    """Edges between up to ``bands`` bands of predicted RUL (equal counts of rows), fewer until each band holds rows
    of ``min_assets`` assets (``groups``), and each row's band.

    >>> edges, band = asset_bands(np.arange(4.0), np.array(["a", "b", "a", "a"]), bands=2, min_assets=2)
    >>> edges.tolist(), band.tolist()
    ([], [0, 0, 0, 0])
    """
    predicted = np.asarray(predicted, dtype="float64")
    groups = np.asarray(groups)
    count = max(1, int(bands))
    while True:
        edges = np.unique(np.quantile(predicted, np.linspace(0, 1, count + 1)[1:-1])) if count > 1 else np.empty(0)
        band = np.searchsorted(edges, predicted, side="right")
        fewest = min(len(np.unique(groups[band == b])) for b in range(len(edges) + 1))
        if count == 1 or fewest >= min_assets:
            return edges, band
        count -= 1


CARD_FILE = "card.json"


def fill_missing(values: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """``values`` (rows x features) with NaN replaced by each feature's ``fill`` value (a copy only when needed).

    >>> fill_missing(np.array([[1.0, np.nan]]), np.array([0.0, 5.0])).tolist()
    [[1.0, 5.0]]
    """
    return fill_absent(values, fill)


def training_means(X: pd.DataFrame) -> dict[str, float]:
    """Each feature's mean over the rows given (finite values only; 0.0 for a feature with none)."""
    return {str(c): _finite_mean(X[c].to_numpy(dtype="float64")) for c in X.columns}


def _finite_mean(values: np.ndarray) -> float:
    """The mean of the finite values (0.0 when there is none: a channel the held-out assets lack)."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else 0.0


def _halves(n: int, groups: Sequence[Any] | None) -> tuple[np.ndarray, np.ndarray]:
    """Split held-out rows in two: by group when groups are given (no group in both), else alternating, as with
    a single group (one held-out asset: a plant that trains on three).

    >>> [half.tolist() for half in _halves(4, ["a", "a", "b", "b"])], [h.tolist() for h in _halves(3, ["a"] * 3)]
    ([[True, True, False, False], [False, False, True, True]], [[True, False, True], [False, True, False]])
    """
    keys = pd.Series(np.asarray(groups) if groups is not None else np.zeros(n))
    uniques = keys.drop_duplicates().to_numpy()
    if len(uniques) < 2:
        index = np.arange(n)
        return index % 2 == 0, index % 2 == 1
    first = keys.isin(set(uniques[::2].tolist())).to_numpy()
    return first, ~first


def make_bundle(
    model: Estimator,
    folder: str | os.PathLike[str],
    *,
    channels: Sequence[str],
    window: int,
    interval: str = "",
    stats: Sequence[str] = DEFAULT_STATS,
    ewm_span: float = 10.0,
    history_rows: int | None = None,
    horizon: float,
    X_holdout: pd.DataFrame,
    y_holdout: Sequence[float] | np.ndarray,
    groups: Sequence[Any] | None = None,
    calibration: str | None = ISOTONIC_PLATT,
    costs: Mapping[str, Mapping[str, float]] | None = None,
    asset_classes: Sequence[str] = (),
    metrics: Mapping[str, float] | None = None,
    training_data: Any = None,
    unit: str | None = None,
    calibrator: Calibrator | None = None,
    bands: int = 1,
    card: Mapping[str, Any] | None = None,
    residual_model: tuple[np.ndarray, np.ndarray] | None = None,
    reference: Mapping[str, float] | None = None,
    baseline_hours: float = 0.0,
    sequence: bool = False,
    absent: ClassMeans | None = None,
) -> Path:
    """Save ``model`` with a serving spec fitted on held-out rows; returns the folder.

    ``y_holdout`` is the true RUL for RUL models, else 0/1 "failed within the horizon". With ``groups``
    (asset ids of the held-out rows), residuals and calibration are fitted on disjoint assets. ``unit`` names
    the RUL unit when it differs from the model's tag (e.g. hours instead of cycles). ``calibration`` is the
    held-out map's method (the isotonic-Platt blend by default, as ``forewarn train`` ships with enough failures:
    the plain isotonic map ties every row beyond its end knots); a fitted ``calibrator`` is used as given (none is
    fitted then); ``bands`` splits RUL residuals by predicted RUL (the failure probability and the interval
    conditional on the prediction; the interval by :func:`interval_bands`, each asset of ``groups`` one unit), or
    ``residual_model`` gives the edges and quantiles of :func:`residual_bands` ready made (a :class:`ResidualModel`
    with its ``interval``, as :func:`forewarn.train.holdout.rul_holdout` fits them; a plain pair: the interval is
    read from those quantiles, as before);
    ``card`` is written as ``card.json`` (the model card); ``reference`` gives the training means of the features
    (default: the held-out rows' means). When the held-out rows hold an ``age_h`` column (the age since renewal,
    :mod:`forewarn.features.age`), the spec records it as the ``age_feature``; ``baseline_hours`` (> 0) records
    that the rows hold the baseline features of :mod:`forewarn.features.baseline` with that span; ``sequence``
    that they hold the last ``window`` rows of each channel (a sequence model's input, :attr:`ServingSpec.sequence`)
    and ``absent`` the class and overall training means its absent channels read there
    (:func:`~forewarn.features.kernel.class_means`; none: 0, as before them).
    """
    X = pd.DataFrame(X_holdout)
    y = np.asarray(y_holdout, dtype="float64")
    if len(X) != len(y) or len(X) < 10:
        raise SchemaError(
            f"need at least 10 held-out rows with one target each, got {len(X)} rows and {len(y)} targets",
            column="y_holdout",
        )
    first, second = _halves(len(X), groups)
    residual_quantiles: tuple[float, ...] = ()
    edges = np.empty(0)
    interval_spec: dict[str, tuple[float, ...]] = {}
    if model.task == "rul":
        fitted = getattr(residual_model, "interval", None)
        if residual_model is not None:
            edges, quantiles = residual_model
        else:  # the residual bands and the interval fitted here, on the same half
            said = model.predict(X[first])  # type: ignore[attr-defined]
            edges, quantiles = residual_bands(said, y[first], bands)
            half = np.asarray(groups)[first] if groups is not None else np.zeros(int(first.sum()))
            fitted = interval_bands(said, y[first], half, bands=bands)
        interval_spec = fitted.to_spec() if fitted is not None else {}
        residual_quantiles = tuple(float(v) for v in quantiles.reshape(-1))
        raw = rul_failure_probability(model.predict(X[second]), horizon, edges, quantiles)[0]  # type: ignore[attr-defined]
        outcome = y[second] <= horizon
    elif model.task == "failure":
        raw = np.asarray(model.predict_proba(X[second])).reshape(int(second.sum()), -1)[:, -1]  # type: ignore[attr-defined]
        outcome = y[second]
    else:
        raw, outcome = model.score(X[second]), y[second]  # type: ignore[attr-defined]
    if calibrator is not None:
        pass
    elif calibration is not None and len(np.unique(outcome)) == 2:
        calibrator = Calibrator(calibration).fit(raw, outcome.astype(float))
    elif model.task == "anomaly":
        raise SchemaError(
            "held-out rows hold one class only; an anomaly model needs both to be calibrated", column="y_holdout"
        )
    reference = dict(reference) if reference is not None else training_means(X)
    spec = ServingSpec(
        channels=tuple(channels),
        window=int(window),
        interval=str(interval),
        stats=tuple(stats),
        ewm_span=float(ewm_span),
        history_rows=int(history_rows or max(4 * window, 60)),
        horizon=float(horizon),
        unit=unit if unit is not None else str(model.get_tags().get("unit", "")),
        residual_quantiles=residual_quantiles,
        residual_edges=tuple(float(e) for e in edges),
        calibration=None if calibrator is None else calibrator.to_json(),
        costs=dict(costs or {}),
        asset_classes=tuple(asset_classes),
        reference=reference,
        age_feature=AGE_FEATURE if AGE_FEATURE in X.columns else "",
        baseline_hours=float(baseline_hours or 0.0),
        sequence=bool(sequence),
        rul_tails=RUL_TAILS if model.task == "rul" else "",
        class_means={str(k): [float(v) for v in means] for k, means in (absent or ({}, ()))[0].items()},
        channel_means=tuple(float(v) for v in (absent or ({}, ()))[1]),
        **interval_spec,
    )
    path = save(model, folder, metrics=metrics, training_data=training_data)
    (path / SPEC_FILE).write_text(json.dumps(spec.to_json(), indent=2), encoding="utf-8")
    if card is not None:
        (path / CARD_FILE).write_text(json.dumps(card, indent=2, default=str), encoding="utf-8")
    return path
