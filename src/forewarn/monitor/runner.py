"""``forewarn monitor``: is the live model still right for this plant?

For each live model in a models folder, over the last ``days`` days of the store (the *window*):

1. Sensor drift per asset (:mod:`~forewarn.monitor.drift`) against the asset's reference: its running rows over
   the last ``reference_days`` of the span the model card says the model was trained on, at the model's
   interval. References are fitted once per model version and kept in ``<models>/<id>/monitor/<version>.npz``.
2. What each drift is (:mod:`~forewarn.monitor.classify`): plant changes become drift alerts; the site-wide
   test of the channels a site's machines share (:mod:`~forewarn.monitor.site`, ``site_channels``: the ambient)
   adds a new ambient regime of a whole site as an ``operating regime``.
3. Data quality (:mod:`~forewarn.monitor.quality`): missing channels, stuck sensors, sampling changes.
4. Multivariate drift (:mod:`~forewarn.monitor.multivariate`): a kernel two-sample test (MMD) of each asset's
   running rows in the window against its reference rows, with a permutation p-value and the reference's own
   windows as the yardstick (``multivariate`` in the report).
5. Score and feature drift: the model's probabilities over the window against the same rows of the reference
   span, by PSI, with a threshold from the reference's own day-block bootstrap; each window feature against the
   card's training deciles, by PSI, above the feature's own line from the training span's stretches
   (:mod:`forewarn.train.references`; ``feature_lines`` says whether the card has them). The features are judged
   twice: pooled over the model's fleet (``features``), and per asset class against the class's own reference in
   the card (``features_by_class``, :func:`~forewarn.monitor.performance.class_feature_drift`), where a change that
   hits one class is not diluted by the others; a class without one (too few training rows, an older card) is
   judged with the fleet, and its entry says so. Drift alerts name the asset's class.
6. Realised performance (:mod:`~forewarn.monitor.performance`): what the model caught and missed of the failures
   in the window, against what its card promised.

The answer is a JSON-ready dict (:func:`monitor`); ``<models>/<id>/monitor/history.jsonl`` keeps one line per
run (drift per sensor per day), which the dashboard's model page draws.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forewarn.base.timespan import timespan
from forewarn.bundles.registry import ModelRegistry
from forewarn.exceptions import ConfigError, DataNotFoundError
from forewarn.features.age import hours_since_renewal
from forewarn.monitor import classify, drift, multivariate, performance, quality, site
from forewarn.monitor.references import load_references, save_references
from forewarn.monitor.runs import by_window
from forewarn.store import Store
from forewarn.train.dataset import opened
from forewarn.train.labels import renewals

Progress = Callable[[str], None]
BASELINE_DAYS = 14
#: thresholds are this many times the reference's bootstrap tail (benchmarks/monitor_drift.py --margin)
MARGIN = 2.0
#: features listed in a report (the drifted first, then the largest PSI); ``feature_lines`` counts every one
FEATURES_SHOWN = 20
#: days at the end of the reference span whose scores are the score-drift reference
SCORE_DAYS = 60


def model_card(registry: ModelRegistry, model_id: str, version: str) -> dict[str, Any]:
    """The card of a version (``card.json``); a bundle without one cannot be monitored."""
    path = registry.root / model_id / version / "card.json"
    if not path.is_file():
        raise DataNotFoundError(
            f"model {model_id!r} {version} has no card.json; only models filed by forewarn train can be monitored"
        )
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _read(db: Store, asset_id: str, start: pd.Timestamp, end: pd.Timestamp, interval: str) -> pd.DataFrame:
    frame = db.readings(asset_id, start=start, end=end, resample=interval or None, wide=True)
    return frame.reset_index(drop=True)


def monitor(
    store: str | os.PathLike[str] | Store,
    models: str | os.PathLike[str],
    *,
    model_id: str | None = None,
    days: int = 30,
    end: Any = None,
    reference_days: int = 365,
    refresh: bool = False,
    progress: Progress | None = None,
    operating_channels: str | list[str] | None = None,
    site_channels: tuple[str, ...] = site.SITE_CHANNELS,
) -> dict[str, Any]:
    """The monitoring report of every live model (or of ``model_id``); see the module docstring.

    ``operating_channels``: the channels that set the operating point (load, surroundings), comma-separated or a
    list; by default the ``FOREWARN_OPERATING_CHANNELS`` environment variable, else the twin's names
    (:func:`forewarn.monitor.classify.operating_channels`). ``site_channels``: the channels a site's machines share
    (their surroundings), tested site-wide (:mod:`forewarn.monitor.site`)."""
    if int(days) < 1 or int(reference_days) < 3:
        raise ConfigError(f"days={days!r} must be >= 1 and reference_days={reference_days!r} >= 3")
    if not Path(models).is_dir():
        raise DataNotFoundError(f"models folder {str(models)!r} does not exist; train one with forewarn train")
    registry = ModelRegistry(models)
    ids = [model_id] if model_id else registry.model_ids()
    if not ids:
        raise DataNotFoundError(f"no model in {str(models)!r}; train one with forewarn train")
    started = time.perf_counter()
    with threadpool_limits(limits=1), opened(store) as db:
        reports = [
            _monitor_model(
                db,
                registry,
                mid,
                int(days),
                end,
                int(reference_days),
                refresh,
                progress or (lambda m: None),
                operating_channels,
                tuple(site_channels),
            )
            for mid in ids
        ]
    return {"models": reports, "seconds": round(time.perf_counter() - started, 2)}


def _monitor_model(
    db: Store,
    registry: ModelRegistry,
    model_id: str,
    days: int,
    end: Any,
    reference_days: int,
    refresh: bool,
    say: Progress,
    operating_names: str | list[str] | None = None,
    site_channels: tuple[str, ...] = site.SITE_CHANNELS,
) -> dict[str, Any]:
    version = registry.active_version(model_id)
    bundle = registry.bundle(model_id, version)
    card = model_card(registry, model_id, version)
    interval = str(card["recipe"]["interval"])
    channels = [str(c) for c in card["recipe"]["channels"]]
    recorded = [str(c) for c in card["recipe"].get("operating_channels") or []]
    operating = classify.operating_channels(operating_names, channels, where=f"model {model_id!r}", recorded=recorded)
    assets = db.assets()
    classes = set(card["data"].get("asset_classes") or assets["asset_class"].astype(str))
    assets = assets[assets["asset_class"].astype(str).isin(classes)].sort_values("asset_id")
    trained_end = pd.Timestamp(card["data"]["end"])
    ref_start = max(pd.Timestamp(card["data"]["start"]), trained_end - pd.Timedelta(days=reference_days))
    last = db.sql("SELECT max(ts) AS ts FROM reading_values")["ts"].iloc[0]
    if end is None and (last is None or pd.isna(last)):
        raise DataNotFoundError("the store holds no readings to monitor")
    stop = _end(end) if end is not None else pd.Timestamp(last) + timespan(interval)
    stop = stop.tz_localize("UTC") if stop.tzinfo is None else stop.tz_convert("UTC")
    start = stop.floor("1D") - pd.Timedelta(days=days) if stop != stop.floor("1D") else stop - pd.Timedelta(days=days)
    cache = registry.root / model_id / "monitor" / f"{version}.npz"
    references = None if refresh else load_references(cache)
    fresh = references is None
    references = references or {}
    events = db.events()
    found: dict[str, list[dict[str, Any]]] = {}
    day_tables: list[pd.DataFrame] = []
    checks: list[dict[str, Any]] = []
    scored: list[pd.DataFrame] = []
    joint: list[dict[str, Any]] = []
    rates = quality.raw_rates(db, assets["asset_id"].astype(str).tolist(), start, stop)
    levels: dict[str, dict[str, Any]] = {}
    for info in assets.itertuples():
        asset = str(info.asset_id)
        work = work_times(events, asset)
        if fresh:
            ref_frame = _read(db, asset, ref_start, trained_end + timespan(interval), interval)
            if len(ref_frame) < 10:
                continue
            live = ref_frame[drift.running(ref_frame, ref_frame)]
            try:
                references[asset] = drift.fit_reference(
                    live, channels, baseline_days=BASELINE_DAYS, margin=MARGIN, renewed_at=work
                )
            except DataNotFoundError:
                continue
            references[asset].run_level = drift.run_level(ref_frame)
            references[asset].level_days, references[asset].level_means = drift.day_levels(
                ref_frame, references[asset].channels
            )
            references[asset].raw_rate = quality.raw_rate(db, asset, ref_start, trained_end)
            tail = max(ref_start, trained_end - pd.Timedelta(days=SCORE_DAYS))
            ref_scores = _scores(bundle, ref_frame, tail, str(info.asset_class), events)
            references[asset].scores = ref_scores["p"].to_numpy(dtype="float64")
            references[asset].score_days = (
                pd.to_datetime(ref_scores["ts"], utc=True).dt.floor("1D").astype("int64").to_numpy()
                // 86_400_000_000_000
            )
        reference = references.get(asset)
        if reference is None:
            continue
        frame = _read(db, asset, start - pd.Timedelta(days=BASELINE_DAYS), stop, interval)
        window = frame[frame["ts"] >= start]
        checks.append(quality.check(asset, window, reference, rates.get(asset, float("nan"))))
        if window.empty:
            continue
        live_rows = frame[drift.running_at(frame, reference.run_level)]
        joint.append(_joint_drift(asset, str(info.asset_class), reference, live_rows[live_rows["ts"] >= start], days))
        days_table = drift.day_drift(reference, live_rows, baseline_days=BASELINE_DAYS, renewed_at=work)
        days_table = days_table[days_table["day"] >= start.floor("1D")]
        days_table.insert(0, "asset_id", asset)
        day_tables.append(days_table)
        asset_events = events[events["asset_id"] == asset]
        found[asset] = classify.episodes(
            days_table, asset_events, min_rows=max(4.0, reference.rows_per_day / 4), operating=operating
        )
        _site_levels(levels, asset, reference, frame, site_channels)
        scored.append(_scores(bundle, frame, start, str(info.asset_class), events))
    if fresh:
        save_references(cache, references)
    say(f"{model_id} {version}: {len(day_tables)} assets monitored")
    sites = dict(zip(assets["asset_id"].astype(str), assets["site_id"].fillna("").astype(str), strict=True))
    kinds = dict(zip(assets["asset_id"].astype(str), assets["asset_class"].astype(str), strict=True))
    _site_changes(found, levels, sites, start)
    classify.site_wide(found, sites)
    table = pd.concat(day_tables, ignore_index=True) if day_tables else pd.DataFrame(columns=drift.DAY_COLUMNS)
    scores = pd.concat(scored, ignore_index=True) if scored else pd.DataFrame(columns=["asset_id", "ts", "p"])
    alerts = [
        {"asset_id": asset, "asset_class": kinds.get(asset), **item, "day": str(item["day"])}
        for asset, items in found.items()
        for item in items
        if item["plant_change"]
    ]
    other = [
        {"asset_id": asset, "asset_class": kinds.get(asset), **item, "day": str(item["day"])}
        for asset, items in found.items()
        for item in items
        if not item["plant_change"]
    ]
    features = performance.feature_drift(card, scores, days=days, top=None)
    report = {
        "model_id": model_id,
        "version": version,
        "window": {"start": str(start), "end": str(stop), "days": days},
        "reference": {"start": str(ref_start), "end": str(trained_end), "assets": len(references), "fresh": fresh},
        "operating_channels": list(operating),
        "assets": len(day_tables),
        "status": "drift" if alerts else ("ok" if day_tables else "no readings"),  # nothing judged is not ok
        "drift_alerts": sorted(alerts, key=lambda a: (a["day"], a["asset_id"])),
        "other_changes": sorted(other, key=lambda a: (a["day"], a["asset_id"])),
        "sensors": _by_sensor(table),
        "per_day": _per_day(table),
        "quality": checks,
        "multivariate": _joint_summary(joint),
        "score": performance.score_drift(bundle, scores, references),
        "features": features[:FEATURES_SHOWN],
        "feature_lines": performance.lines_note(card, features),
        "features_by_class": performance.class_feature_drift(card, scores, features, days=days),
        "performance": performance.realised(
            bundle, card, scores.drop(columns=[c for c in scores if "__" in c]), events, start, stop
        ),
    }
    _remember(registry.root / model_id / "monitor" / "history.jsonl", report)
    return report


def _end(end: Any) -> pd.Timestamp:
    """The window's end as a timestamp; text that is no time is an error naming it, not a parser's traceback."""
    try:
        stamp = pd.Timestamp(end)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ConfigError(f"end {end!r} is not a time: give an ISO 8601 date or time, e.g. 2024-05-30")
    return stamp


def work_times(events: pd.DataFrame, asset_id: str) -> list[pd.Timestamp]:
    """When ``asset_id`` was maintained or repaired (its ``maintenance`` and ``failure`` events): the drift
    baselines restart after those days (:func:`forewarn.monitor.drift.jumps`)."""
    if events is None or not len(events) or "kind" not in events:
        return []
    mine = events[(events["asset_id"].astype(str) == asset_id) & events["kind"].isin(("maintenance", "failure"))]
    return list(pd.to_datetime(mine["ts"], utc=True))


def _scores(
    bundle: Any, frame: pd.DataFrame, start: pd.Timestamp, asset_class: str, events: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The model's probability (and its window features) for each row of the window, as the service scores them:
    a model that reads the age since renewal gets it from the renewals among ``events``, a sequence model's absent
    channels read the training means of ``asset_class`` (the asset's; :meth:`forewarn.bundles.bundle.ServingSpec.
    window_frame`)."""
    spec = bundle.spec
    columns = frame.reindex(columns=["asset_id", "ts", *spec.channels])
    X = spec.window_frame(columns, dict.fromkeys(columns["asset_id"].unique(), asset_class))
    if spec.age_feature:
        renewed = renewals(events) if events is not None and len(events) else None
        X[spec.age_feature] = hours_since_renewal(frame["asset_id"], frame["ts"], renewed)
    X = X.reindex(columns=bundle.feature_names)
    keep = (frame["ts"] >= start).to_numpy()
    X = X[keep].reset_index(drop=True)
    if X.empty:
        return pd.DataFrame(columns=["asset_id", "ts", "asset_class", "p"])
    p = np.asarray(bundle.predict(X).probability, dtype="float64")
    out = frame.loc[keep, ["asset_id", "ts"]].reset_index(drop=True).assign(asset_class=asset_class, p=p)
    return pd.concat([out, X], axis=1)


def _joint_drift(
    asset: str, asset_class: str, reference: drift.Reference, window: pd.DataFrame, days: int
) -> dict[str, Any]:
    """The kernel two-sample test of one asset's running rows in the window against its reference rows."""
    if not len(reference.joint):
        return {"asset_id": asset, "asset_class": asset_class, "mmd2": None, "drifted": False, "rows": len(window)}
    values = window.reindex(columns=reference.channels).to_numpy(dtype="float64")
    found = multivariate.mmd_test(reference.joint, reference.joint_day, values, window_days=days)
    return {"asset_id": asset, "asset_class": asset_class, **found}


def _joint_summary(tests: list[dict[str, Any]]) -> dict[str, Any]:
    """Multivariate drift in the report: per asset, and per asset class the assets tested and drifted."""
    by_class: dict[str, dict[str, Any]] = {}
    for test in tests:
        entry = by_class.setdefault(
            test["asset_class"], {"asset_class": test["asset_class"], "assets": 0, "drifted": []}
        )
        entry["assets"] += 1
        if test["drifted"]:
            entry["drifted"].append(test["asset_id"])
    return {
        "method": "mmd",
        "drifted_assets": sum(1 for t in tests if t["drifted"]),
        "by_class": sorted(by_class.values(), key=lambda e: e["asset_class"]),
        "assets": tests,
    }


def _by_sensor(table: pd.DataFrame) -> list[dict[str, Any]]:
    if table.empty:
        return []
    grouped = table.groupby("channel")
    out = pd.DataFrame(
        {
            "assets_drifted": grouped.apply(
                lambda g: int(g.loc[g["drifted"], "asset_id"].nunique()), include_groups=False
            ),
            "assets_stepped": grouped.apply(
                lambda g: int(g.loc[g["step"], "asset_id"].nunique()), include_groups=False
            ),
            "max_shift_sd": grouped["shift_sd"].apply(lambda s: float(s.abs().max())),
            "median_psi": grouped["psi"].median(),
        }
    ).reset_index()
    return [
        {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
        for r in out.to_dict("records")
    ]


def _per_day(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Drift per sensor over time: per day and channel, the assets drifted and the median |shift|."""
    if table.empty:
        return []
    out = (
        table.assign(abs_shift=table["shift_sd"].abs())
        .groupby(["day", "channel"])
        .agg(assets_drifted=("drifted", "sum"), steps=("step", "sum"), median_abs_shift_sd=("abs_shift", "median"))
        .reset_index()
    )
    out["day"] = out["day"].astype(str)
    out["assets_drifted"] = out["assets_drifted"].astype(int)
    out["steps"] = out["steps"].astype(int)
    out["median_abs_shift_sd"] = out["median_abs_shift_sd"].round(4)
    return list(out.to_dict("records"))


def _remember(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "at": pd.Timestamp.now(tz="UTC").isoformat(),
        "version": report["version"],
        "window": report["window"],
        "status": report["status"],
        "drift_alerts": len(report["drift_alerts"]),
        "alerts": report["drift_alerts"],
        "score": report["score"],
        "multivariate_drifted_assets": report["multivariate"]["drifted_assets"],
        # per asset class judged against its own reference: the features over their lines (the dashboard, gauges)
        "class_feature_drift": {
            e["asset_class"]: e["drifted"] for e in report["features_by_class"]["by_class"] if e["basis"] == "class"
        },
        "per_day": report["per_day"],
        "performance": report["performance"],
    }
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, default=str) + "\n")


def history(models: str | os.PathLike[str], model_id: str, *, last: int = 20) -> list[dict[str, Any]]:
    """The ``last`` monitoring runs of a model (what :func:`monitor` remembered) of the latest windows, ordered by
    window (:func:`forewarn.monitor.runs.by_window`: a look back at a past window is not the latest run)."""
    path = Path(models) / model_id / "monitor" / "history.jsonl"
    if not path.is_file():
        return []
    runs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return by_window(runs)[-int(last) :]


def assess_frames(
    readings: pd.DataFrame,
    events: pd.DataFrame,
    sites: dict[str, str],
    channels: list[str],
    *,
    reference: tuple[Any, Any],
    window: tuple[Any, Any],
    margin: float = MARGIN,
    operating_channels: str | list[str] | None = None,
    site_channels: tuple[str, ...] = site.SITE_CHANNELS,
) -> tuple[dict[str, list[dict[str, Any]]], pd.DataFrame]:
    """The sensor-drift steps of :func:`monitor` on wide readings in memory (``asset_id, ts, <channels>`` at the
    model's interval): references fitted on ``reference`` = (start, end), days judged over ``window``. Returns the
    onsets per asset (after :func:`~forewarn.monitor.classify.site_wide`) and the day table."""
    ts = pd.to_datetime(readings["ts"], utc=True)
    ref_start, ref_end = (pd.Timestamp(t) for t in reference)
    start, stop = (pd.Timestamp(t) for t in window)
    operating = classify.operating_channels(operating_channels, channels)
    found: dict[str, list[dict[str, Any]]] = {}
    levels: dict[str, dict[str, Any]] = {}
    tables = []
    for asset, rows in readings.groupby("asset_id", sort=True):
        stamp = ts[rows.index]
        ref_frame = rows[((stamp >= ref_start) & (stamp < ref_end)).to_numpy()]
        level = drift.run_level(ref_frame)
        live = ref_frame[drift.running_at(ref_frame, level)]
        work = work_times(events, str(asset))
        try:
            ref = drift.fit_reference(live, channels, baseline_days=BASELINE_DAYS, margin=margin, renewed_at=work)
        except DataNotFoundError:
            continue
        frame = rows[((stamp >= start - pd.Timedelta(days=BASELINE_DAYS)) & (stamp < stop)).to_numpy()]
        table = drift.day_drift(
            ref, frame[drift.running_at(frame, level)], baseline_days=BASELINE_DAYS, renewed_at=work
        )
        table = table[table["day"] >= start.floor("1D")]
        table.insert(0, "asset_id", asset)
        tables.append(table)
        found[str(asset)] = classify.episodes(
            table, events[events["asset_id"] == asset], min_rows=max(4.0, ref.rows_per_day / 4), operating=operating
        )
        ref.level_days, ref.level_means = drift.day_levels(ref_frame, ref.channels)
        _site_levels(levels, str(asset), ref, frame, site_channels)
    _site_changes(found, levels, sites, start)
    classify.site_wide(found, sites)
    return found, (pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=drift.DAY_COLUMNS))


def _site_levels(
    levels: dict[str, dict[str, Any]],
    asset: str,
    reference: drift.Reference,
    frame: pd.DataFrame,
    site_channels: tuple[str, ...],
) -> None:
    """Collect one asset's day means of the site channels (reference and window, every row) for the site test."""
    for channel in site_channels:
        if channel not in reference.channels or reference.level_means.shape[1:] != (len(reference.channels),):
            continue
        j = reference.channels.index(channel)
        window_days, window_means = drift.day_levels(frame, [channel])
        levels.setdefault(channel, {})[asset] = (
            reference.level_days,
            reference.level_means[:, j],
            float(reference.sd[j]),
            window_days,
            window_means[:, 0],
        )


def _site_changes(
    found: dict[str, list[dict[str, Any]]], levels: dict[str, dict[str, Any]], sites: dict[str, str], start: Any
) -> None:
    """The site-wide test of each site channel (:func:`forewarn.monitor.site.site_onsets`), merged into ``found``."""
    first = pd.Timestamp(start)
    first = first.tz_localize("UTC") if first.tzinfo is None else first.tz_convert("UTC")
    since = int((first.floor("1D") - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(days=1))
    for channel, per_asset in levels.items():
        extra = site.site_onsets(per_asset, sites, channel, since=since, baseline_days=BASELINE_DAYS)
        classify.add_site_onsets(found, extra)


def file_drift_cases(book: Any, report: dict[str, Any]) -> list[int]:
    """File each drift alert of a monitoring report as an alert of source ``drift`` in a
    :class:`~forewarn.decide.cases.CaseBook` (a case of kind ``drift``, apart from the asset's health case), each
    sensor named with the cause and the asset's class (``vib_rms (sensor change; pump class)``); filing the same
    report again adds nothing. Returns the case ids."""
    from forewarn.decide.alerts import Alert

    alerts = []
    for model in report["models"]:
        for item in model["drift_alerts"]:
            kind = item.get("asset_class")  # a report written before alerts named their class has none
            why = f"{item['cause']}; {kind} class" if kind else item["cause"]
            alerts.append(
                Alert(
                    asset_id=item["asset_id"],
                    ts=pd.Timestamp(item["day"]),
                    model_id=f"{model['model_id']}-{model['version']}",
                    score=max((abs(float(v)) for v in item["jump_sd"].values()), default=0.0),
                    risk_level="medium",
                    explanation={f"{c} ({why})": abs(float(v)) for c, v in item["jump_sd"].items()},
                    source="drift",
                )
            )
    return book.file_alerts(alerts) if alerts else []
