"""``forewarn score``: the fleet ranked by risk now, from the live model, without a server.

Each selected asset's readings are read at the bundle's interval (the one it was trained at), its window
statistics computed with the same kernel as in training, and the live model's calibrated probability, RUL
interval, risk level (anchored on its class's cost threshold, :mod:`forewarn.decide.risk`) and driving sensors
reported. An asset that failed and has not been renewed since is ``down`` (health 0), whatever its readings say;
one whose renewal came after its last failure is scored from the readings since that renewal. A bundle whose
model reads the age since renewal (``ServingSpec.age_feature``) gets it from the same events:
:func:`forewarn.features.age.hours_since_renewal` at the last row's time (NaN for an asset with no renewal).
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from forewarn.base.executor import Executor, resolve
from forewarn.decide.explain import sensor_contributions
from forewarn.decide.risk import health_score, recommended_action, risk_level
from forewarn.features.age import first_sensor, hours_since_renewal, with_age
from forewarn.store import Store
from forewarn.train.dataset import opened, select_assets
from forewarn.train.labels import is_down, latest_marks
from forewarn.train.spec import TrainSpec

COLUMNS = (
    "rank",
    "asset_id",
    "asset_class",
    "site_id",
    "status",
    "last_reading",
    "probability",
    "health",
    "risk",
    "rul",
    "rul_low",
    "rul_high",
    "unit",
    "drivers",
    "action",
)


def live_bundle(models: str | os.PathLike[str], model_id: str | None = None) -> Any:
    """The live bundle of ``model_id`` (or of the only model id in ``models``)."""
    from forewarn.bundles.registry import chosen_model

    registry, model_id = chosen_model(models, model_id)
    return registry.bundle(model_id)


def asset_history(db: Store, asset_id: str, bundle: Any, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """The asset's last ``history_rows`` readings at the bundle's interval (raw rows when it has none), since its
    last renewal."""
    spec = bundle.spec
    frame = db.readings(asset_id, start=since, channels=None, resample=spec.interval or None, wide=True)
    # the last history_rows rows, as the service reads them: the exponential mean starts where the service's does
    return frame.reindex(columns=["asset_id", "ts", *spec.channels]).tail(int(spec.history_rows))


def score(
    store: str | os.PathLike[str] | Store,
    models: str | os.PathLike[str],
    *,
    model_id: str | None = None,
    top: int | None = None,
    executor: Executor | None = None,
    **selection: Any,
) -> pd.DataFrame:
    """The selected assets ranked by failure probability (down assets first); columns :data:`COLUMNS`.

    ``selection``: ``sites``, ``lines``, ``classes``, ``assets`` as for :func:`forewarn.train`. ``executor``
    (:mod:`forewarn.base.executor`) computes the assets' window features (local by default; the ranking does not
    depend on it).
    """
    bundle = live_bundle(models, model_id)
    spec = TrainSpec().with_options(**selection)
    with opened(store) as db:
        return _score(db, bundle, spec, top, executor)


def _score(db: Store, bundle: Any, spec: TrainSpec, top: int | None, executor: Executor | None = None) -> pd.DataFrame:
    assets = select_assets(db, spec)
    if bundle.spec.asset_classes:
        assets = assets[assets["asset_class"].isin(bundle.spec.asset_classes)]
    marks = latest_marks(db.events())
    units = []
    for info in assets.itertuples():
        failed_at, since = marks.get(info.asset_id, (None, None))
        base = {"asset_id": info.asset_id, "asset_class": info.asset_class, "site_id": info.site_id}
        status = "down" if is_down((failed_at, since)) else "in_service"
        units.append((base, status, asset_history(db, info.asset_id, bundle, since)))
    done = resolve(executor).map(partial(asset_features, bundle.spec), units)
    rows, features = [row for row, _ in done], [x for _, x in done]
    if bundle.spec.age_feature:  # the age at each asset's last row, from the renewals the history starts at
        renewed = {a: m[1] for a, m in marks.items()}
        ids = [row["asset_id"] for row in rows]
        age = hours_since_renewal(ids, [row.get("last_reading") for row in rows], renewed)
        features = list(with_age(np.vstack(features), age)) if features else features
    return decide(bundle, rows, features, top)


def asset_features(serving: Any, unit: tuple[dict[str, Any], str, pd.DataFrame]) -> tuple[dict[str, Any], np.ndarray]:
    """One asset's row (ids, status, last reading) and the last window's features, from its history at the
    bundle's interval: the unit an engine maps over (``serving`` is the bundle's serving spec)."""
    base, status, history = unit
    if history.empty:
        return {**base, "status": "no readings"}, np.full(len(serving.window_feature_names), np.nan)
    X = serving.window_frame(history)
    row = {**base, "status": status, "last_reading": history["ts"].iloc[-1]}
    return row, X.iloc[-1][serving.window_feature_names].to_numpy(dtype="float64")


def decide(bundle: Any, rows: list[dict[str, Any]], features: list[np.ndarray], top: int | None) -> pd.DataFrame:
    """Probability, RUL, risk, drivers and action per row, ranked by probability (down assets first)."""
    table = pd.DataFrame(rows)
    scored = table["status"].isin(["in_service", "down"]).to_numpy()
    for column in COLUMNS:
        if column not in table:
            table[column] = None
    if scored.any():
        X = bundle.feature_frame(np.vstack(features)[scored])
        predictions, contributions = bundle.predict_and_explain(X)
        p = np.asarray(predictions.probability, dtype="float64")
        down = (table.loc[scored, "status"] == "down").to_numpy()
        p = np.where(down, 1.0, p)
        table.loc[scored, "probability"] = p
        sign = 1.0 if bundle.task != "rul" else -1.0
        drivers = []
        for (_, row), asset_down in zip(
            contributions.drop(columns="bias", errors="ignore").iterrows(), down, strict=True
        ):
            ranked = sensor_contributions(row * sign, top=3)
            drivers.append("" if asset_down else ", ".join(name for name, value in ranked.items() if value > 0))
        table.loc[scored, "drivers"] = drivers
        if predictions.rul is not None:
            table.loc[scored, "rul"] = np.where(down, 0.0, predictions.rul)
            table.loc[scored, "rul_low"] = np.where(down, 0.0, predictions.rul_low)
            table.loc[scored, "rul_high"] = np.where(down, 0.0, predictions.rul_high)
        table.loc[scored, "unit"] = bundle.unit
    for i in np.flatnonzero(scored):
        probability = float(table.at[i, "probability"])
        level = (
            "critical"
            if table.at[i, "status"] == "down"
            else risk_level(probability, bundle.thresholds.threshold_for(table.at[i, "asset_class"]))
        )
        table.at[i, "risk"] = level
        table.at[i, "health"] = health_score(probability)
        top_sensor = first_sensor((table.at[i, "drivers"] or "").split(", "))
        low = table.at[i, "rul_low"]
        table.at[i, "action"] = (
            "repair: failed and not renewed"
            if table.at[i, "status"] == "down"
            else recommended_action(
                level, rul_low=None if low is None else float(low), unit=bundle.unit, top_sensor=top_sensor
            )
        )
    table = table.sort_values("probability", ascending=False, na_position="last", ignore_index=True)
    table["rank"] = np.arange(1, len(table) + 1)
    table = table[list(COLUMNS)]
    return table.head(top) if top else table
