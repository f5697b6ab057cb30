"""One saved model in the stream: its online window features, micro-batch scoring, alert policy and checkpoint.

A stream model is any saved anomaly detector (``score``) or failure predictor (``predict_proba``) trained on
window features (:func:`forewarn.features.window.window_features`, names ``f"{channel}__{stat}"``). The
feature names in its manifest say which channels and statistics to compute online; the config gives the window
length (it must be the one used in training). Rows with a missing feature are not scored when the model does
not accept missing values (its ``nan_allowed`` tag).

Each asset's feature window, the alert policy's state and the explanation reference are checkpointed with every
micro-batch. The window state is saved under a name that includes the channels, statistics, window and span, so a
model whose features change starts from empty windows instead of reading a state that does not fit.

When the alert policy opens an alert, the sensors that drive it are found by occlusion
(as :func:`forewarn.decide.explain.occlusion_contributions` does, with all sensors in one model call): each sensor's features are replaced by a reference
(an exponential mean of the features of recent rows that scored below the threshold) and the change of the
output is recorded; the five largest go in the alert's ``explanation``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow as pa

from forewarn.base import load, read_manifest
from forewarn.decide.alerts import Alert, AlertPolicy
from forewarn.decide.explain import sensor_contributions, sensor_of
from forewarn.exceptions import ConfigError
from forewarn.features.window import STATS
from forewarn.stream.config import ModelConfig
from forewarn.stream.features import MicroBatchFeatures
from forewarn.stream.tables import arrays_to_bytes, bytes_to_arrays

REFERENCE_WEIGHT = 0.1  # weight of a batch's normal rows in the explanation reference


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
            raise ConfigError(f"{model}: feature {name!r} is not a window feature ('<channel>__<stat>', stat one of "
                              f"{', '.join(STATS)}); stream models must be trained on forewarn.features.window output")
        if column not in columns:
            columns.append(column)
        used.add(stat)
    return columns, [s for s in STATS if s in used]


class ModelRunner:
    """Scores micro-batches of wide rows for one configured model (see the module docstring)."""

    def __init__(self, cfg: ModelConfig):
        self.cfg = cfg
        self.model_id = cfg.model_id
        manifest = read_manifest(cfg.path)
        self.model = load(cfg.path)
        self.task = str(manifest.get("task", getattr(self.model, "task", "")))
        if self.task not in ("anomaly", "failure"):
            raise ConfigError(f"model {cfg.model_id!r} ({manifest.get('model')}) is a {self.task!r} model; the "
                              "stream scores anomaly detectors and failure predictors")
        if self.model.get_tags().get("sequential", False):
            raise ConfigError(f"model {cfg.model_id!r} ({manifest.get('model')}) is a sequential detector: it scores "
                              "one series in time order, while the stream scores each row of many assets on its own; "
                              "use a row-wise detector (e.g. pca-t2q, mset, isolation-forest) in the stream")
        self.feature_names = [str(n) for n in manifest["feature_names"]]
        columns, stats = plan_features(self.feature_names, model=cfg.model_id)
        self.features = MicroBatchFeatures(columns, window=cfg.window, stats=stats, ewm_span=cfg.ewm_span)
        position = {n: i for i, n in enumerate(self.features.feature_names)}
        self.take = np.asarray([position[n] for n in self.feature_names])
        self.policy = AlertPolicy(**dict(cfg.alert)) if cfg.alert else None
        self.nan_allowed = bool(self.model.get_tags().get("nan_allowed", False))
        self.reference: np.ndarray | None = None
        self.sensors = list(dict.fromkeys(sensor_of(n) for n in self.feature_names))
        owner = np.asarray([self.sensors.index(sensor_of(n)) for n in self.feature_names])
        self._occlude = owner[None, :] == np.arange(len(self.sensors))[:, None]  # (sensors, features)
        signature = json.dumps([columns, stats, cfg.window, cfg.ewm_span])
        self.state_name = f"features:{cfg.model_id}:{hashlib.sha1(signature.encode(), usedforsecurity=False).hexdigest()[:10]}"

    @property
    def channels(self) -> list[str]:
        """The channels this model reads."""
        return self.features.columns

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.task == "anomaly":
            return np.asarray(self.model.score(X), dtype="float64").reshape(-1)
        proba = np.asarray(self.model.predict_proba(X), dtype="float64")
        return proba[:, -1] if proba.ndim == 2 else proba

    def run(self, assets: np.ndarray, ts_us: np.ndarray, values: np.ndarray, *,
            now_us: int) -> tuple[pa.Table, list[Alert], np.ndarray]:
        """Score rows sorted by (asset, ts): the scores table part, opened alerts, and the features."""
        feats = self.features.update(assets, values)[:, self.take]
        ok = ~np.isinf(feats).any(axis=1) if self.nan_allowed else np.isfinite(feats).all(axis=1)
        rows = np.flatnonzero(ok)
        X = pd.DataFrame(feats[rows], columns=self.feature_names)
        score = self._predict(X) if len(rows) else np.empty(0)
        alerts: list[Alert] = []
        opened_rows: list[int] = []
        if self.policy is not None:
            stamps = pd.to_datetime(ts_us[rows], unit="us", utc=True)
            failure = self.task == "failure"
            for i, (asset, stamp, value) in enumerate(zip(assets[rows].tolist(), stamps, score.tolist(), strict=True)):
                opened = self.policy.update(str(asset), stamp, value, model_id=self.model_id,
                                            probability=value if failure else None)
                if opened is not None:
                    alerts.append(opened)
                    opened_rows.append(i)
        if alerts:
            explanations = self._explain(feats[rows][opened_rows], X)
            alerts = [dataclasses.replace(a, explanation=e) for a, e in zip(alerts, explanations, strict=True)]
        self._update_reference(X, score)
        table = pa.table({
            "asset_id": pa.array(assets[rows].astype(str), pa.string()),
            "ts": pa.array(ts_us[rows], pa.timestamp("us", tz="UTC")),
            "model_id": pa.array([self.model_id] * len(rows), pa.string()),
            "score": pa.array(score, pa.float64()),
            "probability": pa.array(score if self.task == "failure" else [None] * len(rows), pa.float64()),
            "scored_at": pa.array(np.full(len(rows), now_us, dtype="int64"), pa.timestamp("us", tz="UTC")),
        })
        return table, alerts, feats

    def _explain(self, rows: np.ndarray, batch: pd.DataFrame) -> list[dict[str, float]]:
        """Occlusion per sensor for each row, all in one model call (the numbers of ``occlusion_contributions``)."""
        reference = self.reference if self.reference is not None else batch.mean().to_numpy()
        n_sensors = len(self.sensors)
        occluded = np.repeat(rows, n_sensors, axis=0).reshape(len(rows), n_sensors, -1)
        occluded[:, self._occlude] = np.broadcast_to(reference, occluded.shape)[:, self._occlude]
        block = np.concatenate([rows, occluded.reshape(-1, rows.shape[1])])
        outputs = self._predict(pd.DataFrame(block, columns=self.feature_names))
        base, moved = outputs[:len(rows)], outputs[len(rows):].reshape(len(rows), n_sensors)
        return [sensor_contributions(dict(zip(self.sensors, base[i] - moved[i], strict=True)), top=5)
                for i in range(len(rows))]

    def _update_reference(self, X: pd.DataFrame, score: np.ndarray) -> None:
        if len(X) == 0:
            return
        normal = X.to_numpy()[score < self.policy.threshold] if self.policy is not None else X.to_numpy()
        if len(normal) == 0:
            return
        mean = np.nanmean(normal, axis=0) if self.nan_allowed else normal.mean(axis=0)
        self.reference = mean if self.reference is None else \
            (1.0 - REFERENCE_WEIGHT) * self.reference + REFERENCE_WEIGHT * mean

    # -- checkpoint -------------------------------------------------------------------------------------
    def state_items(self, assets: list[str]) -> list[tuple[str, str, bytes]]:
        """Rows for ``stream_state``: the feature window of each asset in ``assets``, policy and reference."""
        state = self.features.get_state(assets)
        items = []
        for i, asset in enumerate(state["assets"].tolist()):
            packed = np.concatenate([[state["lengths"][i], state["seen"][i]], state["ewm"][i],
                                     state["buffers"][i].ravel()]).astype("float64")
            items.append((self.state_name, asset, packed.tobytes()))
        if self.policy is not None:
            items.append((f"policy:{self.model_id}", "", arrays_to_bytes(self.policy.get_state())))
        if self.reference is not None:
            items.append((f"reference:{self.model_id}", "", self.reference.astype("float64").tobytes()))
        return items

    def restore(self, saved: dict[str, dict[str, bytes]]) -> None:
        """Continue from ``{state name: {asset: blob}}`` read back from ``stream_state``."""
        width, window = len(self.channels), self.features.window
        windows = saved.get(self.state_name, {})
        if windows:
            names = sorted(windows)
            packed = np.stack([np.frombuffer(windows[a], dtype="float64") for a in names])
            self.features.set_state({
                "assets": np.asarray(names, dtype=str), "lengths": packed[:, 0].astype("int64"),
                "seen": packed[:, 1].astype("int64"), "ewm": packed[:, 2:2 + width],
                "buffers": packed[:, 2 + width:].reshape(len(names), window, width)})
        policy = saved.get(f"policy:{self.model_id}", {}).get("")
        if policy is not None and self.policy is not None:
            self.policy.set_state(bytes_to_arrays(policy))
        reference = saved.get(f"reference:{self.model_id}", {}).get("")
        if reference is not None and len(reference) == 8 * len(self.feature_names):
            self.reference = np.frombuffer(reference, dtype="float64").copy()
