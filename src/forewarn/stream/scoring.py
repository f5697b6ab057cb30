"""One saved model in the stream: its online window features, micro-batch scoring, alert policy and checkpoint.

A stream model is any saved anomaly detector (``score``) or failure predictor (``predict_proba``) trained on
window features (:func:`forewarn.features.window.window_features`, names ``f"{channel}__{stat}"``). The
feature names in its manifest say which channels and statistics to compute online; the config gives the window
length (it must be the one used in training). Rows with a missing feature are not scored when the model does
not accept missing values (its ``nan_allowed`` tag).

A *sequential* anomaly detector (tag ``sequential``, e.g. the default ``ensemble`` of ``forewarn detect``, fitted
on raw channels) is scored per asset in time order with its last ``context`` rows (:mod:`forewarn.stream.sequential`);
its alerts' explanations are the channels furthest from the fit's centre. One fitted on window features is refused.
A folder written by ``forewarn detect --save-models`` (:mod:`forewarn.detect.saved`) is one such entry for a whole
fleet: each asset is scored by its own fit; an asset without one is not scored (``rows_unscored``, named once in
the log).

Each asset's feature window, the alert policy's state and the explanation reference are checkpointed with every
micro-batch. The window state is saved under a name that includes the channels, statistics, window and span, so a
model whose features change starts from empty windows instead of reading a state that does not fit.

**Alarms.** A model's ``alert`` table is a threshold policy (:class:`~forewarn.decide.alerts.AlertPolicy`); an
anomaly detector may instead use the one alarm rule of every face (``alarm``: :mod:`forewarn.decide.alarms`, an
:class:`~forewarn.decide.alarms.AlarmTracker` with one state per asset): an alert opens on the row where an anomaly
episode starts, and no other row of the episode (hysteresis, refractory period) raises one. The rule reads the
detector's score, which should be in [0, 1] (e.g. the default detector's ``anomaly_score``), or
``score / (score + scale)`` when ``scale`` is given (an unbounded score such as ``pca-t2q``'s: the episode opens
where the score reaches ``scale`` with ``on = 0.5``). With ``episode_rows = "auto"`` (a folder of ``forewarn detect``
fits only) each asset's state follows the rule resolved against the rows its fit learnt from, as ``detect`` resolves
it (:meth:`~forewarn.decide.alarms.AlarmRule.resolved`). Each asset's alarm state is checkpointed as JSON under
``alarm:<model_id>`` with the batch, so a restart mid-episode neither raises the episode again nor forgets it. The
alerts of both kinds carry ``source = "stream"`` and go to the case book (:mod:`forewarn.stream.pipeline`), and with
each batch the book is told how far each asset's alarm went (:meth:`ModelRunner.book_state`, under ``stream:<model_id>``):
the case rule measures "quiet" from an episode's last alarming row, not from the alert that opened it.

When the alert policy opens an alert, the sensors that drive it are found by occlusion
(as :func:`forewarn.decide.explain.occlusion_contributions` does, with all sensors in one model call): each sensor's features are replaced by a reference
(an exponential mean of the features of recent rows that scored below the threshold) and the change of the
output is recorded; the five largest go in the alert's ``explanation``.

**Servable bundles.** When the model's folder is a servable bundle (it holds ``serving.json``, see
:mod:`forewarn.bundles.bundle`), the feature recipe comes from its :class:`~forewarn.bundles.bundle.ServingSpec`:
``channels``, ``window``, ``stats``, ``ewm_span`` and the sampling ``interval`` (the config's ``window`` and
``ewm_span`` are not used), and outputs go through :meth:`~forewarn.bundles.bundle.Bundle.predict`, as the
service does: ``score`` and ``probability`` are the bundle's failure probability within its horizon (calibrated
when the bundle has a calibrator; what the service's health is made of, so an alert threshold reads as a
probability), and ``rul`` the predicted RUL of a RUL model (``None`` otherwise). A bundle with an empty interval
is scored row by row as above. A bundle of a sequence model (:attr:`~forewarn.bundles.bundle.ServingSpec.sequence`,
e.g. the window model ``forewarn federate --model window`` files) reads each row's last ``window`` rows themselves
(:class:`~forewarn.stream.features.MicroBatchFeatures` with ``sequence``), as the service does.

A bundle with an ``interval`` is scored over buckets at that interval (:class:`~forewarn.stream.buckets.OpenBuckets`):
the features are those of ``window_features`` on ``Store.readings(asset, resample=interval, wide=True)``. Each
asset's open (still-filling) bucket is held in the runner's state and **every released reading row is scored with
the open bucket as it stands** (the mean of its readings so far), like the service, which scores the last bucket
as it stands: the stream's score at a reading equals the offline prediction for the history up to that reading
(the last row of the features of its buckets), and a score does not lag an interval behind. A row of a later
bucket closes the open one: its final mean enters the asset's feature window and exponential mean
(:meth:`~forewarn.stream.features.MicroBatchFeatures.update`), and rows of an open bucket are scored with
:meth:`~forewarn.stream.features.MicroBatchFeatures.peek` (the window's last ``window - 1`` closed buckets and the
open one). A quiet asset keeps its bucket open (nothing new to score); its next reading closes it. The open
buckets are checkpointed with the feature windows, so a restart continues the bucket it was filling. The
exponential mean runs over every bucket since the stream first saw the asset, where the service's runs over the
last ``history_rows`` buckets: the two differ by ``(1 - 2 / (span + 1)) ** history_rows`` of the old start (below
1e-17 with the defaults). Maintenance events do not restart the stream's windows (the service's do). A channel
recorded on change (a *hold*, :mod:`forewarn.store.hold`) is weighed by time in its buckets as the store weighs it
(:mod:`~forewarn.stream.buckets`), its holds read from the store the stream writes to (again after
:data:`CLASSES_SECONDS`, so a hold set while the stream runs counts within a minute, from the channel's next reading).

**Age since renewal.** A bundle whose model reads the age since renewal (``ServingSpec.age_feature``,
:mod:`forewarn.features.age`) gets it at every scored row from the store's maintenance events: each micro-batch
reads the renewals of its assets from the ``events`` table (one query, so a repair filed by the API or the CLI while
the stream runs counts from the next batch on) and :func:`~forewarn.features.age.hours_since_renewal` counts the
hours from each row's time (its bucket's start with an ``interval``, as the service and training label rows) to the
asset's latest renewal at or before it; NaN without one. A runner made without a store (``ModelRunner(cfg)``) knows
no renewal: every age is NaN.

**Too few channels.** A servable bundle's rows follow the channel coverage rule of the service and ``forewarn score``
(:mod:`forewarn.features.coverage`, the one function :func:`~forewarn.features.coverage.coverage_of`): a row whose
window (the last ``window`` rows or buckets up to it) holds readings of less than the minimum share of the channels
its asset's class sends (``FOREWARN_MIN_CHANNEL_SHARE``, 0.75 by default) is not scored: its ``stream_scores`` row
has a NaN score, no probability or RUL, ``status`` ``"insufficient data"`` and ``channels_missing`` (a JSON list),
it raises no alert, counts in ``rows_unscored``, and the asset is logged once when it goes below the minimum and
when it comes back. A scored row lists the expected channels its window lacks in ``channels_missing`` (a warning).
Which channels a window read is seen in its mean (or max, or min: NaN exactly when the window holds no reading);
a bundle that computes none of those, or a sequence model's carried-forward steps, cannot tell, and the rule is not
applied. The classes (``assets.asset_class``) and the channels each sends are read from the store every 60 s and
when an unknown asset appears; a runner made without a store expects every model channel.

Late readings follow :mod:`forewarn.stream.reorder`: readings up to ``allowed_lateness`` out of order are held and
folded in time order; a reading at or before its asset's watermark is stored but not folded into any bucket, the
open one included (a redelivered duplicate looks the same, and must not be counted twice). A late reading of an
already-closed bucket therefore changes the store's mean of that bucket (the service, ``forewarn score`` and
backtests see it) but not the stream's: the stream's features differ from the offline ones while that bucket is
in the window (and, fading, in the exponential mean). Set ``allowed_lateness`` to the delay readings can have.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from forewarn.base import load, read_manifest
from forewarn.bundles.bundle import SPEC_FILE, Bundle
from forewarn.decide.alarms import AlarmRule, AlarmTracker, fitted_rule
from forewarn.decide.alerts import Alert, AlertPolicy
from forewarn.decide.explain import sensor_contributions, sensor_of
from forewarn.detect.saved import INDEX_FILE as FITS_INDEX
from forewarn.detect.saved import SavedFits
from forewarn.exceptions import ConfigError
from forewarn.features.age import hours_since_renewal, with_age
from forewarn.features.coverage import INSUFFICIENT, coverage_of, min_channel_share, store_class_channels
from forewarn.features.window import STATS
from forewarn.store import Store
from forewarn.store.queries import bucket_micros
from forewarn.stream.buckets import OpenBuckets
from forewarn.stream.config import ModelConfig
from forewarn.stream.features import MicroBatchFeatures
from forewarn.stream.sequential import SeriesContext, deviations
from forewarn.stream.tables import arrays_to_bytes, bytes_to_arrays

log = logging.getLogger(__name__)

REFERENCE_WEIGHT = 0.1  # weight of a batch's normal rows in the explanation reference
#: the status of a scored row (one with too few channels is ``forewarn.features.coverage.INSUFFICIENT``)
IN_SERVICE = "in_service"
#: window statistics that are a number exactly when the window holds a reading of the channel (the kernel's mean,
#: min and max skip missing values), in the order the coverage rule reads them
READ_TELLING_STATS = ("mean", "max", "min")
#: seconds the channels each asset class sends and the assets' classes are kept before they are read again
CLASSES_SECONDS = 60.0
#: an open bucket's checkpoint blob, field by field (:meth:`ModelRunner.state_items`; 8 bytes a value)
BUCKET_BLOB = (
    ("starts", "int64"),
    ("counts", "int64"),
    ("sums", "float64"),
    ("last_values", "float64"),
    ("last_times", "int64"),
    ("held_sums", "float64"),
    ("held_times", "int64"),
    ("marks", "int64"),
)
#: the alarm rule's ``mode`` (:meth:`forewarn.decide.alarms.AlarmState.get_state`) outside any episode
IDLE_MODE = 0


def scored_rows(table: pa.Table) -> int:
    """The rows of a :meth:`ModelRunner.run` table that were scored (not ``insufficient data``)."""
    if "status" not in table.column_names:
        return int(table.num_rows)
    return int(sum(1 for s in table.column("status").to_pylist() if s != INSUFFICIENT))


def plan_features(names: list[str], *, model: str = "model") -> tuple[list[str], list[str]]:
    """Channels and statistics (in the batch function's order) that produce ``names``.

    >>> plan_features(["vib__max", "temp__mean", "vib__mean"])
    (['vib', 'temp'], ['mean', 'max'])
    """
    columns: list[str] = []
    used: set[str] = set()
    for name in names:
        column, _, stat = str(name).rpartition("__")
        if not column or stat not in STATS:
            raise ConfigError(
                f"{model}: feature {name!r} is not a window feature ('<channel>__<stat>', stat one of "
                f"{', '.join(STATS)}); stream models must be trained on forewarn.features.window output"
            )
        if column not in columns:
            columns.append(column)
        used.add(stat)
    return columns, [s for s in STATS if s in used]


def blend_reference(reference: np.ndarray | None, normal: np.ndarray) -> np.ndarray:
    """The explanations' reference after a batch: each feature's mean over the batch's normal rows, blended in with
    weight :data:`REFERENCE_WEIGHT`; a feature with no value in those rows (a channel silent the whole batch) keeps
    its reference, and a feature without one takes the batch's mean.

    >>> old = np.array([1.0, 2.0, np.nan])
    >>> blend_reference(old, np.array([[3.0, np.nan, 5.0], [3.0, np.nan, 7.0]])).round(3).tolist()
    [1.2, 2.0, 6.0]
    >>> blend_reference(None, np.array([[3.0, np.nan]])).tolist()
    [3.0, nan]
    """
    counts = np.sum(~np.isnan(normal), axis=0)
    mean = np.where(counts > 0, np.nansum(normal, axis=0) / np.maximum(counts, 1), np.nan)
    if reference is None:
        return mean
    blended = (1.0 - REFERENCE_WEIGHT) * reference + REFERENCE_WEIGHT * mean
    return np.where(np.isnan(mean), reference, np.where(np.isnan(reference), mean, blended))


class ModelRunner:
    """Scores micro-batches of wide rows for one configured model (see the module docstring)."""

    def __init__(self, cfg: ModelConfig, store: Store | None = None):
        self.cfg = cfg
        self.store = store  # where the renewals of a model that reads the age since renewal come from
        self.model_id = cfg.model_id
        self.bundle = Bundle(cfg.path, model_id=cfg.model_id) if (Path(cfg.path) / SPEC_FILE).is_file() else None
        # a folder of `forewarn detect --save-models`: each asset scored by its own fit (forewarn.stream.sequential)
        self.fleet = SavedFits(cfg.path) if (Path(cfg.path) / FITS_INDEX).is_file() else None
        self.unfitted: set[str] = set()  # assets the fleet has no fit for, named once in the log
        self.model: Any
        if self.fleet is not None:
            manifest, self.model = self.fleet.manifest, self.fleet
        else:
            manifest = read_manifest(cfg.path) if self.bundle is None else self.bundle.manifest
            self.model = load(cfg.path) if self.bundle is None else self.bundle.model
        self.task = str(manifest.get("task", getattr(self.model, "task", "")))
        tasks = ("anomaly", "failure") if self.bundle is None else ("anomaly", "failure", "rul")
        if self.task not in tasks:
            raise ConfigError(
                f"model {cfg.model_id!r} ({manifest.get('model')}) is a {self.task!r} model; the "
                "stream scores anomaly detectors and failure predictors (and RUL models in a "
                "servable bundle, which turns their RUL into a failure probability)"
            )
        self.series: SeriesContext | None = None
        if self.model.get_tags().get("sequential", False) and (self.bundle is not None or self.task != "anomaly"):
            raise ConfigError(
                f"model {cfg.model_id!r} ({manifest.get('model')}) is a sequential model in a servable bundle: "
                "the stream scores sequential anomaly detectors saved with forewarn.base.save"
            )
        self.interval = ""
        self.buckets: OpenBuckets | None = None
        if self.bundle is None and self.model.get_tags().get("sequential", False):
            # a sequential detector reads raw channels in time order (forewarn.stream.sequential): the rows' last
            # values are its input, and each asset keeps its last `context` rows
            self.feature_names = [str(n) for n in manifest["feature_names"]]
            windowed = [n for n in self.feature_names if n.rpartition("__")[0] and n.rpartition("__")[2] in STATS]
            if windowed:
                raise ConfigError(
                    f"model {cfg.model_id!r} ({manifest.get('model')}) is a sequential detector fitted on window "
                    f"features ({windowed[0]!r}); the stream feeds a sequential detector each asset's raw channels in "
                    "time order, so fit it on the channels' readings (as forewarn detect does)"
                )
            self.series = SeriesContext(self.feature_names, cfg.context)
            columns, stats, window, ewm_span = list(self.feature_names), ["last"], 1, cfg.ewm_span
        elif self.bundle is None:
            self.feature_names = [str(n) for n in manifest["feature_names"]]
            columns, stats = plan_features(self.feature_names, model=cfg.model_id)
            window, ewm_span = cfg.window, cfg.ewm_span
        else:
            spec = self.bundle.spec
            self.feature_names = list(self.bundle.feature_names)
            columns, stats, window, ewm_span = list(spec.channels), list(spec.stats), spec.window, spec.ewm_span
            self.interval = spec.interval
            if self.interval:
                self.buckets = OpenBuckets(len(columns), bucket_micros(self.interval))
        self._holds_read = -float("inf")  # when the store's holds were last read (_read_holds)
        sequence = self.bundle is not None and self.bundle.spec.sequence
        absent = self._absent if sequence else None  # a sequence model's absent channels: the class's means
        self.features = MicroBatchFeatures(
            columns, window=window, stats=stats, ewm_span=ewm_span, sequence=sequence, absent=absent
        )
        position = {n: i for i, n in enumerate(self.features.feature_names)}
        names = self.feature_names if self.series is None else [f"{n}__last" for n in self.feature_names]
        self.take = np.asarray([position[n] for n in names]) if self.bundle is None else np.empty(0)
        self.age_feature = "" if self.bundle is None else self.bundle.spec.age_feature
        # the channel coverage rule (forewarn.features.coverage): where each channel's reading in the window shows
        self.min_share = min_channel_share()
        # (a servable bundle's, as the service applies it; a sequence model's steps are carried forward and cannot
        # tell; a model saved outside a bundle skips rows with a missing feature unless it takes them, as before)
        telling = self.bundle is not None and not sequence
        self.telling = self._telling_columns(columns, stats, window) if telling else None
        self._classes: tuple[float, dict[str, str], dict[str, frozenset[str]]] | None = None
        self.insufficient: dict[str, tuple[str, ...]] = {}  # assets now below the minimum: their missing channels
        self._reported: dict[str, frozenset[str]] | None = None  # the channels each class sends (_class_info)
        self.policy = AlertPolicy(**dict(cfg.alert)) if cfg.alert else None
        self.alarms: AlarmTracker | None = None
        self.alarm_scale: float | None = None
        if cfg.alarm is not None:
            if self.task != "anomaly":
                raise ConfigError(
                    f"model {cfg.model_id!r} is a {self.task!r} model; `alarm` (the alarm rule) is for anomaly "
                    "detectors, use `alert` (a threshold policy) for failure probabilities"
                )
            settings = dict(cfg.alarm)
            scale = settings.pop("scale", None)
            self.alarm_scale = None if scale is None else float(scale)
            # a folder of detect fits: detect's default rule (FITTED_EPISODE_ROWS) where the table sets no episode_rows
            rule = AlarmRule(**settings) if self.fleet is None else fitted_rule(**settings)
            if rule.tied and self.fleet is None:
                raise ConfigError(
                    f'model {cfg.model_id!r}: alarm episode_rows = "auto" ties an episode\'s length to the rows '
                    "each asset's fit learnt from, which only a folder of `forewarn detect --save-models` fits "
                    "records; give episode_rows a number of rows"
                )
            # tied to the fit: each asset's state under the rule resolved against its fit's training rows, as detect
            self.alarms = AlarmTracker(rule, training_rows=None if self.fleet is None else self.fleet.training_rows)
        self.nan_allowed = bool(self.model.get_tags().get("nan_allowed", False)) or self.bundle is not None
        self.reference: np.ndarray | None = None
        self.sensors = list(dict.fromkeys(sensor_of(n) for n in self.feature_names))
        owner = np.asarray([self.sensors.index(sensor_of(n)) for n in self.feature_names])
        self._occlude = owner[None, :] == np.arange(len(self.sensors))[:, None]  # (sensors, features)
        recipe: list[object] = [columns, stats, window, ewm_span]
        if self.interval:  # raw-row windows keep their saved name; bucket windows are another state
            recipe.append(self.interval)
        if sequence:  # a sequence model's windows hold readings carried forward: another state again
            recipe.append("sequence")
        signature = json.dumps(recipe)
        digest = hashlib.sha1(signature.encode(), usedforsecurity=False).hexdigest()[:10]
        self.state_name = f"features:{cfg.model_id}:{digest}"
        self.bucket_state_name = f"buckets:{cfg.model_id}:{digest}"

    @property
    def book_policy(self) -> str:
        """The name the case book keeps this model's alarm state under (its ``alert_state`` rows)."""
        return f"stream:{self.model_id}"

    def book_state(self, assets: list[str]) -> dict[str, np.ndarray] | None:
        """What the case book's rule needs of ``assets`` (the layout of
        :meth:`~forewarn.decide.alerts.AlertPolicy.get_state`): for the alarm rule, ``last_active_ns`` is the last
        alarming row of the asset's latest episode (its ``end``: the last row at or above ``off``, so an episode
        that lasts keeps its case alive) and ``last_ns`` the last row scored; ``active`` whether that episode is not
        final yet. A threshold policy gives its own state. ``None``: the model raises no alert."""
        if self.policy is not None:
            return self.policy.get_state(assets)
        if self.alarms is None:
            return None
        never = int(np.iinfo("int64").min)
        held = [(a, self.alarms.states[a].get_state()) for a in assets if a in self.alarms.states]
        return {
            "asset_id": np.asarray([a for a, _ in held], dtype=str),
            "active": np.asarray([s["mode"] != IDLE_MODE for _, s in held], dtype=bool),
            "streak": np.zeros(len(held), dtype="int64"),
            "last_active_ns": np.asarray([s["stamps"].get("end", never) for _, s in held], dtype="int64"),
            "last_ns": np.asarray([never if s["last_ns"] is None else s["last_ns"] for _, s in held], dtype="int64"),
        }

    @property
    def alarm_state_name(self) -> str:
        """The ``stream_state`` name of the alarm rule's per-asset state."""
        return f"alarm:{self.model_id}"

    def former_state_names(self) -> dict[str, list[str]]:
        """``{state name: the names it had under the model's former ids}`` (:attr:`ModelConfig.former_ids`)."""
        out: dict[str, list[str]] = {}
        for name in self.state_names:
            kind, _, rest = name.partition(":")
            suffix = rest.removeprefix(self.model_id)
            out[name] = [f"{kind}:{former}{suffix}" for former in self.cfg.former_ids]
        return out

    def level(self, score: float) -> float:
        """The score the alarm rule reads: the detector's own, or ``score / (score + scale)`` with a ``scale``.

        ``score / (score + scale)`` is in [0, 1) for a score >= 0 (a negative score counts as 0) and reaches 0.5
        exactly at ``score = scale``, so ``on = 0.5`` opens an episode where the score reaches ``scale``.
        """
        if self.alarm_scale is None:
            return score
        value = max(score, 0.0)
        return value / (value + self.alarm_scale) if math.isfinite(value) else 1.0

    @property
    def channels(self) -> list[str]:
        """The channels this model reads."""
        return self.features.columns

    @property
    def state_names(self) -> tuple[str, ...]:
        """The ``stream_state`` names this runner saves (and reads back on start-up)."""
        names: tuple[str, ...] = (
            self.state_name,
            f"policy:{self.model_id}",
            f"reference:{self.model_id}",
            self.alarm_state_name,
        )
        if self.series is not None:
            names += (f"context:{self.model_id}",)
        return names + (self.bucket_state_name,) if self.buckets is not None else names

    def _outputs(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Score, probability (``None``: not a failure model) and RUL (``None``: not a RUL bundle) of rows."""
        if self.bundle is not None:
            predictions = self.bundle.predict(X)
            probability = np.asarray(predictions.probability, dtype="float64")
            return probability, probability, None if predictions.rul is None else np.asarray(predictions.rul, "float64")
        if self.task == "anomaly":
            return np.asarray(self.model.score(X), dtype="float64").reshape(-1), None, None
        proba = np.asarray(self.model.predict_proba(X), dtype="float64")
        score = proba[:, -1] if proba.ndim == 2 else proba
        return score, score, None

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._outputs(X)[0]

    def _features(self, assets: np.ndarray, ts_us: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Window features of rows sorted by (asset, ts): of the rows themselves, or of their open buckets."""
        if self.buckets is None:
            return self.features.update(assets, values)
        self._read_holds()
        folded = self.buckets.fold(assets, ts_us, values)
        out = np.empty((len(values), len(self.features.feature_names)))
        for rank, (names, _, means) in enumerate(folded.closed):
            if len(names):
                self.features.update(names, means)  # the buckets that closed before this rank, one per asset
            rows = np.flatnonzero(folded.rank == rank)
            out[rows] = self.features.peek(assets[rows], folded.means[rows])
        return out

    def _read_holds(self) -> None:
        """The store's holds of the bundle's channels into the open buckets (:mod:`forewarn.stream.buckets`: a
        held channel's bucket weighed by time, as ``Store.readings(resample=...)`` weighs it), read again after
        :data:`CLASSES_SECONDS`; no store, or one without holds: none."""
        read = getattr(self.store, "holds", None)
        if self.buckets is None or read is None or time.monotonic() - self._holds_read < CLASSES_SECONDS:
            return
        self._holds_read = time.monotonic()
        position = {name: k for k, name in enumerate(self.channels)}
        holds: dict[str, np.ndarray] = {}
        for asset, channel, hold in read().itertuples(index=False):
            if channel in position:
                row = holds.setdefault(str(asset), np.zeros(len(position), dtype="int64"))
                row[position[channel]] = int(pd.Timedelta(hold) // pd.Timedelta(microseconds=1))
        self.buckets.set_holds(holds)

    def renewals(self, assets: np.ndarray) -> pd.DataFrame | None:
        """Every renewal of ``assets`` in the store's events (``asset_id, ts``); ``None`` without a store."""
        if self.store is None:
            return None
        from forewarn.train.labels import renewals

        events = self.store.sql(
            "SELECT asset_id, ts, kind, action, result FROM events WHERE asset_id IN (SELECT unnest(?)) "
            "AND kind = 'maintenance'",
            [sorted(set(assets.astype(str).tolist()))],
        )
        return renewals(events) if len(events) else None

    def ages(self, assets: np.ndarray, ts_us: np.ndarray) -> np.ndarray:
        """Hours since each row's last renewal, at its time (its bucket's start with an interval)."""
        ts = np.asarray(ts_us, dtype="int64")
        if self.interval:
            width = bucket_micros(self.interval)
            ts = ts - ts % width
        return hours_since_renewal(assets, pd.to_datetime(ts, unit="us", utc=True), self.renewals(assets))

    def run(
        self, assets: np.ndarray, ts_us: np.ndarray, values: np.ndarray, *, now_us: int
    ) -> tuple[pa.Table, list[Alert], np.ndarray]:
        """Score rows sorted by (asset, ts): the scores table part, opened alerts, and the features.

        A row whose window holds too few of its asset's channels (the coverage rule) is not scored: its table row
        has a NaN score, no probability or RUL, ``status`` ``"insufficient data"`` and its ``channels_missing``
        (a JSON list), and it raises no alert."""
        spec_feats = self._features(assets, ts_us, values)
        covered, missing = self._coverage(assets, spec_feats)
        if self.age_feature:
            spec_feats = with_age(spec_feats, self.ages(assets, ts_us))
        # a bundle picks its model's columns and fills a missing feature as the service does (Bundle.select)
        feats = spec_feats[:, self.take] if self.bundle is None else self.bundle.select(spec_feats)
        ok = ~np.isinf(feats).any(axis=1) if self.nan_allowed else np.isfinite(feats).all(axis=1)
        if self.fleet is not None:  # an asset without a fit of its own is not scored
            ok &= self._fitted(assets)
        rows = np.flatnonzero(ok & covered)
        X = pd.DataFrame(feats[rows], columns=self.feature_names)
        if self.series is not None:  # each asset's rows after its context, in time order
            score, probability, rul = self.series.score(self.model, assets[rows], ts_us[rows], feats[rows]), None, None
        else:
            score, probability, rul = self._outputs(X) if len(rows) else (np.empty(0), None, None)
        alerts: list[Alert] = []
        opened_rows: list[int] = []
        if self.policy is not None:
            stamps = pd.to_datetime(ts_us[rows], unit="us", utc=True)
            for i, (asset, stamp, value) in enumerate(zip(assets[rows].tolist(), stamps, score.tolist(), strict=True)):
                opened = self.policy.update(
                    str(asset),
                    stamp,
                    value,
                    model_id=self.model_id,
                    probability=None if probability is None else float(probability[i]),
                    rul=None if rul is None else float(rul[i]),
                )
                if opened is not None:
                    alerts.append(opened)
                    opened_rows.append(i)
        if self.alarms is not None:
            stamps = pd.to_datetime(ts_us[rows], unit="us", utc=True)
            for i, (asset, stamp, value) in enumerate(zip(assets[rows].tolist(), stamps, score.tolist(), strict=True)):
                if self.alarms.update(str(asset), self.level(value), stamp):
                    alerts.append(Alert(str(asset), stamp, self.model_id, float(value), "high", source="stream"))
                    opened_rows.append(i)
            self.alarms.pop_finished()  # episodes that ended: their alert was filed when they started
        if alerts:
            if self.fleet is not None:  # each asset's own fit, on its channels
                explanations = self._fleet_deviations(assets[rows][opened_rows], feats[rows][opened_rows])
            elif self.series is not None:  # no row stands alone: the channels furthest from the fit's centre
                explanations = deviations(self.model, feats[rows][opened_rows], self.feature_names)
            else:
                explanations = self._explain(feats[rows][opened_rows], X)
            alerts = [
                dataclasses.replace(a, explanation=e, source="stream")
                for a, e in zip(alerts, explanations, strict=True)
            ]
        self._update_reference(X, score)
        short = np.flatnonzero(~covered)  # too few channels: written without a score, with the reason
        written = np.sort(np.concatenate([rows, short]))
        at = np.searchsorted(written, rows)

        def spread(values: np.ndarray | None) -> np.ndarray | list[None]:
            if values is None:
                return [None] * len(written)
            out = np.full(len(written), np.nan)
            out[at] = values
            return out

        status = np.where(covered[written], IN_SERVICE, INSUFFICIENT)
        chosen = [missing[i] for i in written.tolist()]
        texts = {m: json.dumps(list(m)) for m in set(chosen)}  # a handful of distinct lists per batch
        table = pa.table(
            {
                "asset_id": pa.array(assets[written].astype(str), pa.string()),
                "ts": pa.array(ts_us[written], pa.timestamp("us", tz="UTC")),
                "model_id": pa.array([self.model_id] * len(written), pa.string()),
                "score": pa.array(spread(score), pa.float64()),
                "probability": pa.array(spread(probability), pa.float64(), from_pandas=True),
                "scored_at": pa.array(np.full(len(written), now_us, dtype="int64"), pa.timestamp("us", tz="UTC")),
                "rul": pa.array(spread(rul), pa.float64(), from_pandas=True),
                "status": pa.array(status.tolist(), pa.string()),
                "channels_missing": pa.array([texts[m] for m in chosen], pa.string()),
            }
        )
        return table, alerts, feats

    @staticmethod
    def _telling_columns(columns: list[str], stats: list[str], window: int) -> np.ndarray | None:
        """Per channel, the column of the window features that is a number exactly when the channel has a reading
        in the row's window (:data:`READ_TELLING_STATS`); None when the model computes none of those statistics
        (the rule cannot be read from its features, and is not applied)."""
        stat = next((s for s in READ_TELLING_STATS if s in stats), None)
        if stat is None or window < 1:
            return None
        return np.asarray([k * len(stats) + stats.index(stat) for k in range(len(columns))], dtype="int64")

    def _class_info(self, assets: np.ndarray) -> tuple[dict[str, str], dict[str, frozenset[str]] | None]:
        """The store's asset classes and the channels each class sends (read again after :data:`CLASSES_SECONDS`
        or when an asset is not known yet); no store: no classes (every model channel is expected)."""
        if self.store is None:
            return {}, None
        held = self._classes
        stale = held is None or time.monotonic() - held[0] > CLASSES_SECONDS
        if not stale and held is not None and any(str(a) not in held[1] for a in pd.unique(assets)):
            stale = True
        if stale or held is None:
            found = self.store.sql("SELECT asset_id, asset_class FROM assets")
            classes = {str(a): str(c) for a, c in zip(found["asset_id"], found["asset_class"], strict=True) if c}
            held = self._classes = (time.monotonic(), classes, store_class_channels(self.store))
        return held[1], held[2]

    def _coverage(self, assets: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, list[tuple[str, ...]]]:
        """Per row: whether its window holds enough of its asset's channels (the coverage rule of
        :mod:`forewarn.features.coverage`, :func:`~forewarn.features.coverage.coverage_of` once per distinct class
        and channels read, found with array operations) and the expected channels with no reading in it. Asset by
        asset, a change of state is logged: below the minimum (with what is missing), and back."""
        n = len(assets)
        covered = np.ones(n, dtype=bool)
        missing: list[tuple[str, ...]] = [()] * n
        if self.telling is None or n == 0:
            return covered, missing
        read = ~np.isnan(features[:, self.telling])
        partial = np.flatnonzero(~read.all(axis=1))
        if len(partial):
            names, codes = self._classes_of(assets[partial])
            width = read.shape[1]
            if width <= 40:  # one integer per (class, channels read): a 1-D unique
                bits = read[partial].astype(np.int64) @ (np.int64(1) << np.arange(width, dtype=np.int64))
                distinct, first, inverse = np.unique(bits + (codes << width), return_index=True, return_inverse=True)
            else:
                distinct, first, inverse = np.unique(
                    np.column_stack([codes, read[partial]]), axis=0, return_index=True, return_inverse=True
                )
            answers = []
            for row in first.tolist():
                i = int(partial[row])
                values = np.where(read[i], 0.0, np.nan)[None, :]
                asset_class = names[int(codes[row])]
                answers.append(coverage_of(values, self.channels, 1, asset_class, self._reported, self.min_share))
            sufficient = np.asarray([c.sufficient for c in answers], dtype=bool)
            covered[partial] = sufficient[inverse.reshape(-1)]
            for row, k in zip(partial.tolist(), inverse.reshape(-1).tolist(), strict=True):
                missing[row] = answers[k].missing
        if len(partial) or self.insufficient:
            self._log_coverage(assets, covered, missing)
        return covered, missing

    def _absent(self, assets: Sequence[str]) -> np.ndarray | None:
        """What a sequence bundle's absent channels read for each asset: its class's training means (the store's
        class, :meth:`_class_info`; none known: the overall means), as ``forewarn score`` and the service read them."""
        assert self.bundle is not None  # only a sequence bundle's features ask
        classes, _ = self._class_info(np.asarray(assets, dtype=object))
        return self.bundle.spec.absent([classes.get(a) for a in assets])

    def _classes_of(self, assets: np.ndarray) -> tuple[list[str | None], np.ndarray]:
        """Each row's asset class as a code into the returned names (None: not known), from the store's classes
        (:meth:`_class_info`, which also sets the channels each class sends)."""
        classes, self._reported = self._class_info(assets)
        rows, uniques = pd.factorize(np.asarray(assets, dtype=object))
        of_asset = [classes.get(str(a)) for a in uniques]
        codes, names = pd.factorize(np.asarray(of_asset, dtype=object), use_na_sentinel=True)
        return [None, *[str(c) for c in names]], (codes.astype(np.int64) + 1)[rows]

    def _log_coverage(self, assets: np.ndarray, covered: np.ndarray, missing: list[tuple[str, ...]]) -> None:
        """Log each asset whose last row of the batch went below the coverage minimum, or came back."""
        reverse = np.asarray(assets, dtype=object)[::-1]
        uniques, index = np.unique(reverse.astype(str), return_index=True)
        for asset, i in zip(uniques.tolist(), (len(assets) - 1 - index).tolist(), strict=True):
            if not covered[i] and asset not in self.insufficient:
                self.insufficient[asset] = missing[i]
                log.warning(
                    "model %r: asset %r has too few channels in its scoring window (missing %s): its rows are "
                    "written without a score (status %r) and raise no alert",
                    self.model_id,
                    asset,
                    ", ".join(missing[i]),
                    INSUFFICIENT,
                )
            elif covered[i] and asset in self.insufficient:
                del self.insufficient[asset]
                log.info("model %r: asset %r has enough channels again; scored", self.model_id, asset)

    def _fitted(self, assets: np.ndarray) -> np.ndarray:
        """Whether the fleet has a fit for each row's asset; an asset without one is named once in the log."""
        assert self.fleet is not None
        has = {str(a): self.fleet.fit_for(str(a)) is not None for a in pd.unique(assets)}
        for asset, fitted in has.items():
            if not fitted and asset not in self.unfitted:
                self.unfitted.add(asset)
                log.warning(
                    "model %r: %s holds no fit for asset %r (fitted: %d assets); its rows are not scored "
                    "(rows_unscored); run forewarn detect --save-models again with this asset in the store",
                    self.model_id,
                    self.fleet.folder,
                    asset,
                    len(self.fleet.assets),
                )
        return np.fromiter((has[str(a)] for a in assets), dtype=bool, count=len(assets))

    def _fleet_deviations(self, assets: np.ndarray, values: np.ndarray) -> list[dict[str, float]]:
        """:func:`~forewarn.stream.sequential.deviations` of each row under its asset's own fit and channels."""
        assert self.fleet is not None
        out = []
        for asset, row in zip(assets.tolist(), values, strict=True):
            fit = self.fleet.fit_for(str(asset))
            assert fit is not None
            take = [self.feature_names.index(c) for c in fit.channels]
            out += deviations(fit.model, row[None, take], fit.channels)
        return out

    def _explain(self, rows: np.ndarray, batch: pd.DataFrame) -> list[dict[str, float]]:
        """Occlusion per sensor for each row, all in one model call (the numbers of ``occlusion_contributions``)."""
        reference = self.reference if self.reference is not None else batch.mean().to_numpy()
        n_sensors = len(self.sensors)
        occluded = np.repeat(rows, n_sensors, axis=0).reshape(len(rows), n_sensors, -1)
        occluded[:, self._occlude] = np.broadcast_to(reference, occluded.shape)[:, self._occlude]
        block = np.concatenate([rows, occluded.reshape(-1, rows.shape[1])])
        outputs = self._predict(pd.DataFrame(block, columns=self.feature_names))
        base, moved = outputs[: len(rows)], outputs[len(rows) :].reshape(len(rows), n_sensors)
        return [
            sensor_contributions(dict(zip(self.sensors, base[i] - moved[i], strict=True)), top=5)
            for i in range(len(rows))
        ]

    def _update_reference(self, X: pd.DataFrame, score: np.ndarray) -> None:
        if len(X) == 0:
            return
        if self.policy is not None:
            normal = X.to_numpy()[score < self.policy.threshold]
        elif self.alarms is not None:
            off = self.alarms.rule.off
            normal = X.to_numpy()[np.fromiter((self.level(v) < off for v in score.tolist()), bool, len(score))]
        else:
            normal = X.to_numpy()
        if len(normal) == 0:
            return
        self.reference = blend_reference(self.reference, normal)

    # -- checkpoint -------------------------------------------------------------------------------------
    def state_items(self, assets: list[str]) -> list[tuple[str, str, bytes]]:
        """Rows for ``stream_state``: the feature window (and open bucket) of each asset in ``assets``, policy and
        reference."""
        state = self.features.get_state(assets)
        items = []
        for i, asset in enumerate(state["assets"].tolist()):
            packed = np.concatenate(
                [[state["lengths"][i], state["seen"][i]], state["ewm"][i], state["buffers"][i].ravel()]
            ).astype("float64")
            items.append((self.state_name, asset, packed.tobytes()))
        if self.buckets is not None:  # open buckets: start (int64 us), counts (int64), sums (float64) per asset,
            # then the held channels' last values, their times, value-times, times covered, and the newest row
            held = self.buckets.get_state(assets)
            for i, asset in enumerate(held["assets"].tolist()):
                blob = b"".join(
                    np.asarray(held[name][i]).reshape(-1).astype(kind).tobytes() for name, kind in BUCKET_BLOB
                )
                items.append((self.bucket_state_name, asset, blob))
        if self.policy is not None:
            items.append((f"policy:{self.model_id}", "", arrays_to_bytes(self.policy.get_state())))
        if self.alarms is not None:  # the alarm rule's state of each asset, as JSON (named values)
            for asset in assets:
                if asset in self.alarms.states:
                    blob = json.dumps(self.alarms.states[asset].get_state()).encode()
                    items.append((self.alarm_state_name, asset, blob))
        if self.reference is not None:
            items.append((f"reference:{self.model_id}", "", self.reference.astype("float64").tobytes()))
        if self.series is not None:
            items += [(f"context:{self.model_id}", asset, blob) for asset, blob in self.series.get_state(assets)]
        return items

    def restore(self, saved: dict[str, dict[str, bytes]]) -> None:
        """Continue from ``{state name: {asset: blob}}`` read back from ``stream_state``."""
        width, window = len(self.channels), self.features.window
        windows = saved.get(self.state_name, {})
        if windows:
            names = sorted(windows)
            packed = np.stack([np.frombuffer(windows[a], dtype="float64") for a in names])
            self.features.set_state(
                {
                    "assets": np.asarray(names, dtype=str),
                    "lengths": packed[:, 0].astype("int64"),
                    "seen": packed[:, 1].astype("int64"),
                    "ewm": packed[:, 2 : 2 + width],
                    "buffers": packed[:, 2 + width :].reshape(len(names), window, width),
                }
            )
        held = saved.get(self.bucket_state_name, {}) if self.buckets is not None else {}
        if held and self.buckets is not None:
            names = sorted(held)
            packed = np.stack([np.frombuffer(held[a], dtype="int64") for a in names])
            state: dict[str, np.ndarray] = {"assets": np.asarray(names, dtype=str)}
            at = 0
            for name, kind in BUCKET_BLOB:  # a blob written before holds were kept ends after the sums
                size = 1 if name in ("starts", "marks") else width
                if at + size <= packed.shape[1]:
                    state[name] = packed[:, at : at + size].copy().view(kind).reshape(len(names), -1)
                at += size
            state["starts"] = state["starts"].reshape(-1)
            if "marks" in state:
                state["marks"] = state["marks"].reshape(-1)
            self.buckets.set_state(state)
        policy = saved.get(f"policy:{self.model_id}", {}).get("")
        if policy is not None and self.policy is not None:
            self.policy.set_state(bytes_to_arrays(policy))
        if self.alarms is not None:
            for asset, blob in saved.get(self.alarm_state_name, {}).items():
                if self.alarms.rule.tied and self.fleet is not None and self.fleet.fit_number(asset) is None:
                    continue  # no fit for the asset now: it is not scored, and its rule cannot be resolved
                self.alarms.state(asset).set_state(json.loads(blob))
        if self.series is not None:
            self.series.set_state(saved.get(f"context:{self.model_id}", {}))
        reference = saved.get(f"reference:{self.model_id}", {}).get("")
        if reference is not None and len(reference) == 8 * len(self.feature_names):
            self.reference = np.frombuffer(reference, dtype="float64").copy()
