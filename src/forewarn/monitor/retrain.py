"""``forewarn retrain``: a challenger trained on recent data, judged beside the champion on the same recent
window, promoted only when it is better by a margin; the decision and its evidence go into the registry.

Steps:

1. The champion is the live version of ``model_id``; its card gives the recipe (task, horizon, interval, window,
   model, asset classes) the challenger keeps.
2. The *judging window* is the last ``judge_days`` of the store. The challenger is trained, exactly as
   ``forewarn train`` does, on the ``train_days`` before that window (the recent plant), never on the window.
3. Champion and challenger score every row of the window as the service would (window features at the recipe's
   interval, each bundle's calibration and thresholds); both are judged by the same figures: ROC AUC and
   Brier score of the rows whose outcome the window shows, and failures caught at each model's own threshold.
4. The challenger is promoted when its figure (``metric``: ``roc_auc`` by default) beats the champion's by at
   least ``margin``. Either way the decision, both figures and the window are appended to
   ``<models>/<model_id>/decisions.json`` (the registry's evidence); :func:`rollback` goes back in one call.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forewarn.base.timespan import timespan
from forewarn.bundles.registry import ModelRegistry
from forewarn.exceptions import ConfigError, DataNotFoundError
from forewarn.monitor import performance
from forewarn.monitor.runner import _scores, model_card
from forewarn.schema import Asset
from forewarn.store import Store
from forewarn.train.dataset import opened

DECISIONS = "decisions.json"
METRICS = ("roc_auc", "brier", "catch_rate")


def _utc(value: Any) -> pd.Timestamp:
    """``value`` as a UTC timestamp (a naive one is read as UTC)."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _recent_store(db: Store, start: pd.Timestamp, end: pd.Timestamp, classes: list[str], interval: str) -> Store:
    """An in-memory store with the assets of ``classes``, their readings in ``[start, end)`` averaged at
    ``interval``, and their events in that span."""
    out = Store(":memory:")
    assets = db.assets()
    assets = assets[assets["asset_class"].astype(str).isin(classes)] if classes else assets
    out.add_assets(
        Asset(
            str(a.asset_id),
            asset_class=str(a.asset_class),
            line_id=None if pd.isna(a.line_id) else str(a.line_id),
            site_id=None if pd.isna(a.site_id) else str(a.site_id),
        )
        for a in assets.itertuples()
    )
    ids = assets["asset_id"].astype(str).tolist()
    # at the recipe's interval: the challenger trains on the same buckets, from far fewer rows than the raw ones
    parts = [db.readings(asset, start=start, end=end, resample=interval or None, wide=True) for asset in ids]
    parts = [p for p in parts if len(p)]
    if not parts:
        raise DataNotFoundError(f"no readings between {start} and {end} to train a challenger on")
    out.ingest_readings(pd.concat(parts, ignore_index=True), source="retrain")
    events = db.events(start=start, end=end)
    events = events[events["asset_id"].isin(ids)]
    if len(events):
        out.ingest_events(events, source="retrain")
    return out


def judge(bundle: Any, card: dict[str, Any], db: Store, start: pd.Timestamp, stop: pd.Timestamp) -> dict[str, Any]:
    """A bundle's figures over ``[start, stop)``: ROC AUC, Brier score, failures caught (see the module text)."""
    interval = str(card["recipe"]["interval"])
    classes = set(card["data"].get("asset_classes") or [])
    assets = db.assets()
    if classes:
        assets = assets[assets["asset_class"].astype(str).isin(classes)]
    warm = timespan(interval) * int(bundle.spec.window)
    parts = []
    for info in assets.itertuples():
        frame = db.readings(str(info.asset_id), start=start - warm, end=stop, resample=interval or None, wide=True)
        if len(frame):
            parts.append(_scores(bundle, frame.reset_index(drop=True), start, str(info.asset_class)))
    scores = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["asset_id", "ts", "p"])
    scores = scores.drop(columns=[c for c in scores if "__" in c])
    record = performance.realised(bundle, card, scores, db.events(), start, stop).get("realised") or {}
    out = {
        "roc_auc": record.get("row_roc_auc"),
        "catch_rate": record.get("catch_rate"),
        "failures": record.get("failures"),
        "rows": record.get("row_rows"),
    }
    out["brier"] = _brier(scores, db.events(), card, stop)
    return out


def _brier(scores: pd.DataFrame, events: pd.DataFrame, card: dict[str, Any], stop: pd.Timestamp) -> float | None:
    if scores.empty:
        return None
    horizon = pd.Timedelta(hours=float(card["recipe"]["horizon_hours"]))
    ts = pd.to_datetime(scores["ts"], utc=True)
    label = np.zeros(len(scores), bool)
    known = (ts + horizon <= stop).to_numpy().copy()
    for failure in events[events["kind"] == "failure"].itertuples():
        rows = ((scores["asset_id"] == failure.asset_id) & (ts <= failure.ts) & (ts > failure.ts - horizon)).to_numpy()
        label |= rows
        known |= rows
    if not known.any():
        return None
    p = scores["p"].to_numpy(dtype="float64")[known]
    return round(float(np.mean((p - label[known]) ** 2)), 6)


def _better(metric: str, challenger: float | None, champion: float | None, margin: float) -> bool:
    if challenger is None:
        return False
    if champion is None:
        return True
    return challenger <= champion - margin if metric == "brier" else challenger >= champion + margin


def retrain(
    store: str | os.PathLike[str] | Store,
    models: str | os.PathLike[str],
    model_id: str,
    *,
    judge_days: int = 30,
    train_days: int = 180,
    metric: str = "roc_auc",
    margin: float = 0.02,
    promote: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Train a challenger, judge it beside the champion, promote it by the margin; returns the decision record."""
    from forewarn.train.pipeline import train

    if metric not in METRICS:
        raise ConfigError(f"metric={metric!r} is not one of {', '.join(METRICS)}")
    if int(judge_days) < 1 or int(train_days) < 1 or not 0 <= margin < float("inf"):  # nan: no comparison holds
        raise ConfigError(
            f"judge_days and train_days must be >= 1 and margin a number >= 0; got judge_days={judge_days}, "
            f"train_days={train_days}, margin={margin}"
        )
    registry = ModelRegistry(models)
    champion_version = registry.active_version(model_id)
    champion = registry.bundle(model_id, champion_version)
    card = model_card(registry, model_id, champion_version)
    started = time.perf_counter()
    with threadpool_limits(limits=1), opened(store) as db:
        span = db.sql("SELECT min(ts) AS first, max(ts) AS last FROM reading_values")
        first, last = span["first"].iloc[0], span["last"].iloc[0]
        if last is None or pd.isna(last):
            raise DataNotFoundError("the store holds no readings")
        stop = _utc(last) + pd.Timedelta(seconds=1)
        window_start = stop - pd.Timedelta(days=int(judge_days))
        train_start = window_start - pd.Timedelta(days=int(train_days))
        if window_start <= _utc(first):
            held = (stop - _utc(first)) / pd.Timedelta(days=1)
            raise DataNotFoundError(
                f"the store holds {held:.1f} days of readings, not more than judge_days={int(judge_days)} (the recent "
                "window both models are judged on), so nothing is left to train a challenger on: give a shorter "
                "--judge-days (and --train-days)"
            )
        classes = list(card["data"].get("asset_classes") or [])
        with (
            _recent_store(db, train_start, window_start, classes, str(card["recipe"]["interval"])) as recent,
            tempfile.TemporaryDirectory() as scratch,
        ):
            result = train(
                recent,
                scratch,
                task=card["task"],
                horizon=card["recipe"]["horizon"],
                interval=card["recipe"]["interval"],
                window=card["recipe"]["window_rows"],
                model=card["model"],
                model_id=model_id,
                seed=seed,
                operating_channels=card["recipe"].get("operating_channels") or None,
            )
            # the challenger is filed beside the champion as the next version (not live yet)
            version = _file(Path(result.folder), registry.root / model_id)
        # a fresh registry: the one above lists versions from a cache it rescans only every RESCAN_S seconds, so a
        # challenger filed sooner than that (a quick training) would not be there yet
        registry = ModelRegistry(models)
        challenger = registry.bundle(model_id, version)
        challenger_card = model_card(registry, model_id, version)
        judged = {
            "champion": judge(champion, card, db, window_start, stop),
            "challenger": judge(challenger, challenger_card, db, window_start, stop),
        }
    better = _better(metric, judged["challenger"].get(metric), judged["champion"].get(metric), margin)
    if better and promote:
        registry.promote(model_id, version)
    decision = {
        "at": pd.Timestamp.now(tz="UTC").isoformat(),
        "model_id": model_id,
        "champion": champion_version,
        "challenger": version,
        "window": {"start": str(window_start), "end": str(stop)},
        "trained_on": {"start": str(train_start), "end": str(window_start)},
        "metric": metric,
        "margin": margin,
        "figures": judged,
        "promoted": bool(better and promote),
        "live": registry.active_version(model_id),
        "reason": reason(metric, judged, margin),
        "seconds": round(time.perf_counter() - started, 1),
    }
    _record(registry.root / model_id / DECISIONS, decision)
    return decision


def reason(metric: str, judged: dict[str, dict[str, Any]], margin: float) -> str:
    """The decision in words; a figure the judged window cannot give (ROC AUC or a catch rate without a failure
    in it) is said as such, not printed as ``None vs None``.

    >>> reason("roc_auc", {"champion": {"roc_auc": None, "failures": 0}, "challenger": {"roc_auc": None}}, 0.02)
    'no roc_auc for the challenger on the judged window (0 failures in it): it cannot be judged better'
    >>> reason("brier", {"champion": {"brier": 0.04}, "challenger": {"brier": 0.03}}, 0.005)
    'challenger brier 0.03 vs champion 0.04 (margin 0.005)'
    """
    mine, theirs = judged["challenger"].get(metric), judged["champion"].get(metric)
    if mine is None:
        failures = judged["champion"].get("failures")
        return (
            f"no {metric} for the challenger on the judged window ({failures} failures in it): it cannot be judged "
            "better"
        )
    return f"challenger {metric} {mine} vs champion {theirs} (margin {margin})"


def _file(folder: Path, target: Path) -> str:
    """Move a freshly trained version folder under ``target`` as its next version; returns that version."""
    from forewarn.train.pipeline import next_version

    version = next_version(target)
    card_path = folder / "card.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["version"] = version
    card_path.write_text(json.dumps(card, indent=2, default=str), encoding="utf-8")
    registry = ModelRegistry(target.parent)
    registry.pin(target.name)  # the champion stays live while the new folder appears
    os.replace(folder, target / version) if folder.stat().st_dev == target.stat().st_dev else _copy(
        folder, target / version
    )
    return version


def _copy(source: Path, destination: Path) -> None:
    import shutil

    shutil.copytree(source, destination)


def _record(path: Path, decision: dict[str, Any]) -> None:
    records = decisions_of(path)
    records.append(decision)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(records, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def decisions_of(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The retraining decisions recorded at ``path`` (``<models>/<id>/decisions.json``), oldest first."""
    path = Path(path)
    return list(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else []


def rollback(models: str | os.PathLike[str], model_id: str) -> dict[str, Any]:
    """Go back to the version live before the last promotion (one call), and record it."""
    registry = ModelRegistry(models)
    before = registry.active_version(model_id)
    described = registry.rollback(model_id)
    _record(
        registry.root / model_id / DECISIONS,
        {
            "at": pd.Timestamp.now(tz="UTC").isoformat(),
            "model_id": model_id,
            "rollback": before,
            "live": described["active"],
        },
    )
    return described
