"""``forewarn score``: the fleet ranked by risk now, from the live model, without a server.

Each selected asset's readings are read at the bundle's interval (the one it was trained at), its window
statistics computed with the same kernel as in training, and the live model's calibrated probability, RUL
interval, risk level (anchored on its class's cost threshold, :mod:`forewarn.decide.risk`) and driving sensors
reported. An asset that failed and has not been renewed since is ``down`` (health 0), whatever its readings say;
one whose renewal came after its last failure is scored from the readings since that renewal. A bundle whose
model reads the age since renewal (``ServingSpec.age_feature``) gets it from the same events:
:func:`forewarn.features.age.hours_since_renewal` at the last row's time (NaN for an asset with no renewal).
A bundle whose model reads rows against each asset life's baseline (``ServingSpec.baseline_hours``,
:mod:`forewarn.features.baseline`) gets them from the life's baseline rows read from the store
(:func:`baseline_history`: from the life's start, its latest renewal or the asset's first reading, the first
``baseline_hours``, in whole buckets at the bundle's interval) followed by the recent history: the rows training
read for that life, so the last row's features are training's (to 1e-9, tests/train/test_baseline_serving.py).

Too few channels is not a confident answer: an asset whose scoring window holds readings of less than the minimum
share of the channels its class is expected to send (:mod:`forewarn.features.coverage`, 0.75 by default,
``FOREWARN_MIN_CHANNEL_SHARE``) is ``insufficient data``, with no probability, health, risk or RUL, ranked after
every scored asset; ``channels_missing`` lists the expected channels with no reading in the window (a warning when
the asset is scored all the same).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from forewarn.base.executor import Executor, resolve
from forewarn.base.timespan import timespan
from forewarn.decide.explain import sensor_contributions
from forewarn.decide.risk import health_score, recommended_action, risk_level
from forewarn.features.age import first_sensor, hours_since_renewal, with_age
from forewarn.features.baseline import baseline_names, baseline_span
from forewarn.features.coverage import INSUFFICIENT, coverage_of, short_list, store_class_channels
from forewarn.store import Store
from forewarn.train.dataset import opened, select_assets
from forewarn.train.labels import is_down, latest_marks, renewals
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
    "channels_missing",
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


def _bucket(ts: pd.Timestamp, interval: str, *, up: bool = False) -> pd.Timestamp:
    """``ts`` floored (or ceiled) to the start of its bucket of width ``interval`` aligned on the Unix epoch, as the
    store buckets readings; unchanged for raw rows (no interval)."""
    if not interval:
        return ts
    width = timespan(interval).value
    offset = ts.value % width
    if not offset:
        return ts
    return pd.Timestamp(ts.value - offset + (width if up else 0), tz="UTC")


def baseline_history(db: Store, asset_id: str, serving: Any, life_start: pd.Timestamp) -> pd.DataFrame:
    """The rows of an asset life's baseline at the bundle's interval: the whole buckets from the one holding
    ``life_start`` to the one holding the baseline's end (:func:`~forewarn.features.baseline.baseline_span`)."""
    start, end = baseline_span(life_start, float(serving.baseline_hours))
    frame = db.readings(
        asset_id,
        start=_bucket(start, serving.interval),
        end=_bucket(end, serving.interval, up=True),
        channels=None,
        resample=serving.interval or None,
        wide=True,
    )
    return frame.reindex(columns=["asset_id", "ts", *serving.channels])


def baseline_row(
    db: Store,
    serving: Any,
    history: pd.DataFrame,
    life_start: pd.Timestamp | None,
    renewed: pd.DataFrame,
) -> np.ndarray:
    """The baseline features (:func:`~forewarn.features.baseline.baseline_names` order) of the last row of an
    asset's ``history``: its life's baseline rows (:func:`baseline_history`) then the history, through
    :meth:`~forewarn.bundles.bundle.ServingSpec.baseline_frame` with the asset's ``renewed`` (``asset_id, ts``)."""
    names = baseline_names(serving.channels)
    if history.empty or life_start is None or pd.isna(life_start):
        return np.full(len(names), np.nan)
    life = baseline_history(db, str(history["asset_id"].iloc[0]), serving, pd.Timestamp(life_start))
    frame = pd.concat([life, history], ignore_index=True) if len(life) else history.reset_index(drop=True)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame = frame.drop_duplicates("ts", keep="first").sort_values("ts", ignore_index=True)
    return serving.baseline_frame(frame, renewed).iloc[-1][names].to_numpy(dtype="float64")


def life_start(first_reading: Any, renewed_at: Any) -> pd.Timestamp | None:
    """Where an asset's current life starts, as :func:`~forewarn.features.baseline.life_starts` counts it: its
    latest renewal when that came after its first reading, else its first reading (None: no reading).

    >>> life_start(pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-02-01", tz="UTC")).month
    2
    >>> life_start(pd.Timestamp("2024-01-01", tz="UTC"), None).month
    1
    """
    if first_reading is None or pd.isna(first_reading):
        return None
    first = pd.Timestamp(first_reading)
    first = first.tz_localize("UTC") if first.tzinfo is None else first.tz_convert("UTC")
    if renewed_at is None or pd.isna(renewed_at):
        return first
    renewed_at = pd.Timestamp(renewed_at).tz_convert("UTC")
    return renewed_at if renewed_at > first else first


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
    rows, features = fleet_features(db, bundle, spec, executor)
    return decide(bundle, rows, features, top)


def fleet_features(
    db: Store, bundle: Any, spec: TrainSpec, executor: Executor | None = None
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """Each selected asset's row (ids, status, last reading) and the features of its last row, in the serving
    spec's order (window statistics, the baseline features, the age): what :func:`score` ranks."""
    assets = select_assets(db, spec)
    if bundle.spec.asset_classes:
        assets = assets[assets["asset_class"].isin(bundle.spec.asset_classes)]
    events = db.events()
    marks = latest_marks(events)
    units = []
    for info in assets.itertuples():
        failed_at, since = marks.get(info.asset_id, (None, None))
        base = {"asset_id": info.asset_id, "asset_class": info.asset_class, "site_id": info.site_id}
        status = "down" if is_down((failed_at, since)) else "in_service"
        units.append((base, status, asset_history(db, info.asset_id, bundle, since)))
    reported = store_class_channels(db)
    done = resolve(executor).map(partial(asset_features, bundle.spec, reported=reported), units)
    rows, features = [row for row, _ in done], [x for _, x in done]
    if bundle.spec.baseline_hours:  # each life's baseline rows, read from the store, before its recent history
        firsts = db.fleet_summary().set_index("asset_id")["first_ts"]
        renewed = renewals(events) if len(events) else pd.DataFrame(columns=["asset_id", "ts"])
        features = [
            np.concatenate(
                [
                    x,
                    baseline_row(
                        db,
                        bundle.spec,
                        history,
                        life_start(firsts.get(base["asset_id"]), marks.get(base["asset_id"], (None, None))[1]),
                        renewed[renewed["asset_id"].astype(str) == str(base["asset_id"])],
                    ),
                ]
            )
            for x, (base, _, history) in zip(features, units, strict=True)
        ]
    if bundle.spec.age_feature:  # the age at each asset's last row, from the renewals the history starts at
        renewed = {a: m[1] for a, m in marks.items()}
        ids = [row["asset_id"] for row in rows]
        age = hours_since_renewal(ids, [row.get("last_reading") for row in rows], renewed)
        features = list(with_age(np.vstack(features), age)) if features else features
    return rows, features


def asset_features(
    serving: Any,
    unit: tuple[dict[str, Any], str, pd.DataFrame],
    reported: dict[str, frozenset[str]] | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """One asset's row (ids, status, last reading, channels missing) and the last window's features, from its
    history at the bundle's interval: the unit an engine maps over (``serving`` is the bundle's serving spec;
    ``reported``: the channels each asset class reports, :func:`~forewarn.features.coverage.store_class_channels`;
    None: every asset is expected to send all the model's channels)."""
    base, status, history = unit
    nothing = np.full(len(serving.window_feature_names), np.nan)
    channels = list(serving.channels)
    if history.empty:
        row = {**base, "status": "no readings", "action": no_readings_action(channels), "channels_missing": channels}
        return row, nothing
    if status != "down" and not history[channels].notna().to_numpy().any():
        # readings, but of none of the model's channels: it cannot be scored (it was: health 99 from no data)
        row = {**base, "status": "not scored", "action": no_readings_action(channels), "channels_missing": channels}
        return row, nothing
    row = {**base, "status": status, "last_reading": history["ts"].iloc[-1], "channels_missing": []}
    if status != "down":
        values = history[channels].to_numpy(dtype="float64")
        cover = coverage_of(values, channels, int(serving.window), base.get("asset_class"), reported)
        row["channels_missing"] = list(cover.missing)
        if not cover.sufficient:  # a low answer from a few channels would be confident and wrong
            return {**row, "status": INSUFFICIENT, "action": cover.action()}, nothing
    X = serving.window_frame(history, dict.fromkeys(history["asset_id"].unique(), base.get("asset_class")))
    return row, X.iloc[-1][serving.window_feature_names].to_numpy(dtype="float64")


def no_readings_action(channels: Sequence[str]) -> str:
    """What an asset without readings of a model's channels is told, by ``forewarn score`` and the service
    (it may have readings of other channels: a new machine, another naming); short enough for a table's line.

    >>> no_readings_action(["temp", "vib"])
    "not scored: no readings of the model's channels (temp, vib)"
    >>> no_readings_action([f"s{i}" for i in range(24)])
    "not scored: no readings of the model's channels (s0, s1 +22)"
    """
    return f"not scored: no readings of the model's channels ({short_list(list(channels))})"


def decide(bundle: Any, rows: list[dict[str, Any]], features: list[np.ndarray], top: int | None) -> pd.DataFrame:
    """Probability, RUL, risk, drivers and action per row, ranked by probability (down assets first; the assets
    that are not scored, ``insufficient data`` among them, after every scored one)."""
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
