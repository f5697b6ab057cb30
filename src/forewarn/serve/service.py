"""The service behind the API and the dashboard: health of assets, trends, alerts and cases.

:class:`HealthService` joins the store (readings, assets, events), the model registry (the live bundle),
the decisions (thresholds, risk levels, alert policy) and the case book. An asset's health is computed
from its last ``history_rows`` readings with the fast last-row features and cached until new readings of
that asset arrive through :meth:`ingest` or the stream connector started by :meth:`attach_stream` (the service
holds the store file open for writing, so no other process can add readings behind its back).

Readings are read at the bundle's sampling ``interval`` (``ServingSpec.interval``; empty = raw rows): averaged into
buckets aligned on the Unix epoch and labelled by their start, exactly as ``Store.readings(resample=interval)``
returns them, so the service computes the features the model was trained on. The last bucket is scored as it
stands (the mean of the readings it holds so far): the same last row that the offline path (``window_features`` on
the store's resample of the whole history) gives on the same data, and a health that moves as readings arrive
instead of lagging an interval behind; it is recomputed with every new reading of the asset.

Health follows the event history: an asset whose latest failure has no renewing maintenance at or after it is
``down`` (health 0, not scored), and a renewal (:func:`forewarn.train.labels.renewals`: a replacement, a repair, a
maintenance with no action; not an oil change) renews it: readings before it are not in its
window (its exponential mean starts again).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from forewarn.bundles.bundle import Bundle, Predictions
from forewarn.bundles.registry import ModelRegistry
from forewarn.decide.alerts import Alert, AlertPolicy
from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.decide.explain import SensorIndex
from forewarn.decide.risk import health_score, recommended_action, risk_level
from forewarn.decide.thresholds import ThresholdPolicy
from forewarn.exceptions import ConfigError, DataNotFoundError
from forewarn.features.last_row import last_row_features
from forewarn.features.window import window_features
from forewarn.serve.settings import ServeSettings
from forewarn.store import IngestReport, Store
from forewarn.store.queries import bucket_micros
from forewarn.train.labels import is_down, latest_marks

TREND_POINTS = 1000


def num(value: Any) -> float | None:
    """A JSON-safe float: NaN and infinities become ``None``."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class HealthService:
    """Scores assets on demand and turns scores into alerts and cases (thread-safe)."""

    def __init__(self, settings: ServeSettings, *, store: Store | None = None, registry: ModelRegistry | None = None,
                 casebook: CaseBook | None = None):
        self.settings = settings
        self.store = store if store is not None else Store(settings.store)
        self.registry = registry if registry is not None else (
            ModelRegistry(settings.models) if settings.models else None)
        self.casebook = casebook if casebook is not None else CaseBook(settings.cases or casebook_path_for(
            self.store.path))
        self._lock = threading.RLock()
        self._generation: dict[str, int] = {}
        self._generation_lock = threading.Lock()
        self._case_generation: dict[str, int] = {}  # bumped when an asset's open case changes
        self._health_cache: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        self._json_cache: dict[str, tuple[tuple[Any, ...], bytes]] = {}
        # per (channels, rows): the first instant of each asset's window when it was last read (see _recent_many)
        self._window_starts: dict[tuple[tuple[str, ...], int], dict[str, pd.Timestamp]] = {}
        self._policies: dict[str, AlertPolicy] = {}
        self._assets: pd.DataFrame | None = None
        self.on_alert: list[Any] = []  # callbacks(alert) for metrics
        self.stream: Any = None  # a forewarn.stream.runner.StreamRunner when readings also come by MQTT / OPC UA

    def close(self) -> None:
        self.casebook.close()
        self.store.close()

    # -- the plant --------------------------------------------------------------------------------------
    def assets(self) -> pd.DataFrame:
        """The asset table (cached until an ingest may have created assets)."""
        with self._lock:
            if self._assets is None:
                self._assets = self.store.assets().set_index("asset_id", drop=False)
            return self._assets

    def asset(self, asset_id: str) -> dict[str, Any]:
        table = self.assets()
        if asset_id not in table.index:
            raise DataNotFoundError(f"unknown asset {asset_id!r}; GET /api/v1/assets lists the known ones")
        row = table.loc[asset_id]
        return {"asset_id": asset_id, "asset_class": str(row["asset_class"]),
                "site_id": None if pd.isna(row["site_id"]) else str(row["site_id"]),
                "line_id": None if pd.isna(row["line_id"]) else str(row["line_id"]), "name": str(row["name"])}

    # -- models -----------------------------------------------------------------------------------------
    def bundle_for(self, asset_class: str | None = None, model_id: str | None = None) -> Bundle:
        """The live bundle that scores ``asset_class`` (the configured model id, else the first that fits)."""
        if self.registry is None:
            raise DataNotFoundError("no models folder is configured; start the service with --models DIR")
        if model_id is None:
            model_id = self.settings.model_id
        if model_id is not None:
            return self.registry.bundle(model_id)
        ids = self.registry.model_ids()
        if not ids:
            raise DataNotFoundError(f"the models folder {str(self.registry.root)!r} holds no servable model")
        for candidate in ids:
            bundle = self.registry.bundle(candidate)
            if not bundle.spec.asset_classes or asset_class in bundle.spec.asset_classes:
                return bundle
        raise DataNotFoundError(f"no model serves asset class {asset_class!r}; models: {', '.join(ids)}")

    def thresholds(self, bundle: Bundle) -> ThresholdPolicy:
        return ThresholdPolicy.from_mapping(self.settings.costs) if self.settings.costs else bundle.thresholds

    # -- scoring ----------------------------------------------------------------------------------------
    def _history(self, asset_id: str, bundle: Bundle, rows: int | None,
                 since: pd.Timestamp | None = None) -> pd.DataFrame:
        """An asset's readings as wide rows (every channel's instants, or buckets at the bundle's interval), the last
        ``rows`` of them (all: ``None``), none before ``since`` (the asset's latest maintenance).

        Raw rows: the last ``rows`` begin no earlier than the window :meth:`_recent_many` last found for the model's
        channels (a subset of the asset's channels; readings are only added), so that start bounds the read when
        known."""
        if bundle.spec.interval:
            return self._buckets(asset_id, bundle, rows, since)
        frame = None
        start = None if rows is None else self._window_starts.get((tuple(bundle.spec.channels), int(rows)), {}).get(
            asset_id)
        if start is not None and (since is None or start > since):
            frame = self.store.readings(asset_id, start, wide=True)
            if len(frame) < rows:  # fewer instants than a window since then: not a bound any more
                frame = None
        if frame is None:
            frame = self.store.readings(asset_id, since, wide=True)
        if rows is not None:
            frame = frame.tail(rows)
        return frame.reindex(columns=["ts", *bundle.spec.channels])

    def _buckets(self, asset_id: str, bundle: Bundle, rows: int | None, since: pd.Timestamp | None) -> pd.DataFrame:
        """:meth:`_history` at the bundle's interval: ``Store.readings(resample=interval, wide=True)`` from ``since``,
        its last ``rows`` buckets. The read starts ``rows`` buckets before the one of the asset's last reading (no
        earlier bucket can be among the last ``rows``), and again from ``since`` when empty buckets leave fewer."""
        spec = bundle.spec
        start = since
        if rows is not None:
            last = self.store.sql("SELECT epoch_us(max(ts)) AS t FROM readings WHERE asset_id = ?", [asset_id])["t"]
            if len(last) and pd.notna(last.iloc[0]):
                width = bucket_micros(spec.interval)
                bound = pd.Timestamp((int(last.iloc[0]) // width - (int(rows) - 1)) * width, unit="us", tz="UTC")
                start = bound if since is None else max(bound, since)
        frame = self.store.readings(asset_id, start, resample=spec.interval, wide=True)
        if rows is not None and len(frame) < rows and start is not None and (since is None or start > since):
            frame = self.store.readings(asset_id, since, resample=spec.interval, wide=True)
        if rows is not None:
            frame = frame.tail(rows)
        return frame.reindex(columns=["ts", *spec.channels])

    def _events(self, asset_ids: list[str]) -> dict[str, tuple[pd.Timestamp | None, pd.Timestamp | None]]:
        """``{asset_id: (latest failure, latest renewal)}`` of the assets that have either (one query; a renewal is
        what :func:`forewarn.train.labels.renewals` says renews life, as in training and ``forewarn score``)."""
        if not asset_ids:
            return {}
        found = self.store.sql(
            "SELECT asset_id, ts, kind, action, result FROM events "
            "WHERE asset_id IN (SELECT unnest(?)) AND kind IN ('failure', 'maintenance')", [asset_ids])
        return latest_marks(found)

    @staticmethod
    def _is_down(marks: tuple[pd.Timestamp | None, pd.Timestamp | None] | None) -> bool:
        """Whether the latest failure has no renewal at or after it."""
        return is_down(marks)

    def _recent_buckets(self, asset_ids: list[str], channels: tuple[str, ...], rows: int, interval: str,
                        since: Mapping[str, pd.Timestamp]) -> dict[str, tuple[pd.DatetimeIndex, np.ndarray]]:
        """:meth:`_recent_many` at a sampling interval, in one query: each asset's readings of ``channels`` from
        ``rows`` buckets before the bucket of its last reading (and not before its ``since``), averaged per bucket.
        A time bound: empty buckets in that span leave fewer than ``rows`` rows (the single-asset read,
        :meth:`_buckets`, reads further back then)."""
        width = bucket_micros(interval)
        bucket = f"time_bucket(to_microseconds({width}::BIGINT), r.ts, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
        renew = [since.get(a) for a in asset_ids]
        long = self.store.sql(
            "WITH s AS (SELECT unnest(?) AS asset_id, unnest(?) AS since_us), "
            "l AS (SELECT r.asset_id, epoch_us(max(r.ts)) AS last_us FROM readings r "
            "WHERE r.asset_id IN (SELECT unnest(?)) AND r.channel IN (SELECT unnest(?)) GROUP BY r.asset_id) "
            f"SELECT r.asset_id, {bucket} AS ts, r.channel, avg(r.value) AS value FROM readings r "
            "JOIN l ON r.asset_id = l.asset_id JOIN s ON r.asset_id = s.asset_id "
            "WHERE r.channel IN (SELECT unnest(?)) AND epoch_us(r.ts) >= greatest(s.since_us, "
            f"(l.last_us // {width} - {int(rows) - 1}) * {width}) GROUP BY ALL",
            [asset_ids, [-(2**62) if t is None else int(t.value // 1000) for t in renew], asset_ids, list(channels),
             list(channels)])
        if long.empty:
            return {}
        wide = long.pivot_table(index=["asset_id", "ts"], columns="channel", values="value", aggfunc="first")
        wide = wide.reindex(columns=list(channels)).sort_index()
        out: dict[str, tuple[pd.DatetimeIndex, np.ndarray]] = {}
        for asset_id, part in wide.groupby(level=0, sort=False):
            part = part.tail(rows)
            out[str(asset_id)] = (pd.DatetimeIndex(part.index.get_level_values(1)),
                                  part.to_numpy(dtype="float64", na_value=np.nan))
        return out

    def _recent_many(self, asset_ids: list[str], channels: tuple[str, ...],
                     rows: int) -> dict[str, tuple[pd.DatetimeIndex, np.ndarray]]:
        """The last ``rows`` instants of many assets: ``{asset_id: (times, instants x channels)}``, oldest first.

        Readings are only added, so an asset's window never starts before it did when it was last read: that start
        bounds the query (the store skips older row groups instead of reading each asset's whole history). An asset
        that has fewer than ``rows`` instants since the bound (readings replaced or removed since) is read again
        without it, so the bound never changes an answer.
        """
        starts = self._window_starts.setdefault((tuple(channels), int(rows)), {})
        known = {a: starts.get(a) for a in asset_ids}  # one look each: another thread may update them meanwhile
        hinted = [a for a, start in known.items() if start is not None]
        unbounded = [a for a, start in known.items() if start is None]
        out: dict[str, tuple[pd.DatetimeIndex, np.ndarray]] = {}
        if hinted:
            bounded = self._recent_query(hinted, channels, rows, since=min(known[a] for a in hinted))
            short = [a for a in hinted if a not in bounded or len(bounded[a][0]) < rows]
            out.update((a, bounded[a]) for a in hinted if a not in short)
            unbounded += short
        if unbounded:
            out.update(self._recent_query(unbounded, channels, rows, since=None))
        for asset_id, (times, _) in out.items():
            if len(times) >= rows:  # a full window: its first instant bounds the next query
                starts[asset_id] = times[0]
            else:
                starts.pop(asset_id, None)
        return out

    def _recent_query(self, asset_ids: list[str], channels: tuple[str, ...], rows: int,
                      since: pd.Timestamp | None) -> dict[str, tuple[pd.DatetimeIndex, np.ndarray]]:
        """:meth:`_recent_many` in one query over readings from ``since`` on (all when ``None``), cut from one
        pivoted matrix (no frame per asset, which cost more than the query for a fleet)."""
        # the time of each series' rows-th newest reading (a top-n aggregate: half the time of ranking every reading
        # with a window function, which sorts each asset's whole history), then the readings since then
        bound = "" if since is None else " AND ts >= ?"
        long = self.store.sql(
            "WITH since AS (SELECT asset_id, channel, list_min(max(ts, ?)) AS since FROM readings "
            f"WHERE asset_id IN (SELECT unnest(?)) AND channel IN (SELECT unnest(?)){bound} GROUP BY asset_id, channel) "
            "SELECT r.asset_id, r.ts, r.channel, r.value FROM readings r JOIN since s "
            f"ON r.asset_id = s.asset_id AND r.channel = s.channel AND r.ts >= s.since{bound.replace('ts', 'r.ts')}",
            [int(rows), asset_ids, list(channels), *([] if since is None else [since, since])])
        if long.empty:
            return {}
        wide = long.pivot_table(index=["asset_id", "ts"], columns="channel", values="value", aggfunc="first")
        wide = wide.reindex(columns=list(channels))  # rows sorted by asset, then time
        assets = wide.index.get_level_values(0).to_numpy()
        times = pd.DatetimeIndex(wide.index.get_level_values(1))
        values = wide.to_numpy(dtype="float64", na_value=np.nan)
        bounds = np.flatnonzero(assets[1:] != assets[:-1]) + 1
        starts, ends = np.r_[0, bounds].tolist(), np.r_[bounds, len(assets)].tolist()
        return {str(assets[a]): (times[max(a, b - rows):b], values[max(a, b - rows):b])
                for a, b in zip(starts, ends, strict=True)}

    def _cache_key(self, asset_id: str, bundle: Bundle) -> tuple[Any, ...]:
        return (self._generation.get(asset_id, 0), bundle.model_id, bundle.version, id(self.settings.costs),
                self._case_generation.get(asset_id, 0))

    def health(self, asset_id: str) -> dict[str, Any]:
        """Health score, failure probability, RUL interval, risk, action and driving sensors of one asset."""
        info = self.asset(asset_id)
        bundle = self.bundle_for(info["asset_class"])
        cached = self._health_cache.get(asset_id)
        if cached is not None and cached[0] == self._cache_key(asset_id, bundle):
            return cached[1]
        before = self._generations([asset_id])
        marks = self._events([asset_id]).get(asset_id)
        recent = {} if self._is_down(marks) else self._frame_recent(asset_id, bundle, marks)
        result = self._score(bundle, [info], recent, {asset_id: marks} if marks else {})[0]
        self._forget_if_changed(before)
        return result

    def _frame_recent(self, asset_id: str, bundle: Bundle, marks: tuple[pd.Timestamp | None, pd.Timestamp | None] | None
                      ) -> dict[str, tuple[pd.DatetimeIndex, np.ndarray]]:
        """One asset's recent rows (since its latest maintenance) in the layout of :meth:`_recent_many`."""
        frame = self._history(asset_id, bundle, bundle.spec.history_rows, None if marks is None else marks[1])
        return {} if frame.empty else {asset_id: (pd.DatetimeIndex(frame["ts"]), frame[list(bundle.spec.channels)]
                                                  .to_numpy(dtype="float64", na_value=np.nan))}

    def _generations(self, asset_ids: Iterable[str]) -> dict[str, int]:
        return {a: self._generation.get(a, 0) for a in asset_ids}

    def _forget_if_changed(self, before: Mapping[str, int]) -> None:
        """Drop scores cached from readings that were read before newer ones arrived (stream or ingest)."""
        for asset_id, generation in before.items():
            if self._generation.get(asset_id, 0) != generation:
                self._health_cache.pop(asset_id, None)

    def cached_health_json(self, asset_id: str) -> bytes | None:
        """The cached health of an asset as JSON bytes, or ``None`` when it must be computed (no blocking work)."""
        cached = self._health_cache.get(asset_id)
        if cached is None or self.registry is None:
            return None
        key, result = cached
        if key[0] != self._generation.get(asset_id, 0) or key[3] != id(self.settings.costs) or \
                key[4] != self._case_generation.get(asset_id, 0):
            return None
        if self.registry.active_version(result["model_id"]) != result["version"]:
            return None  # a promotion or roll-back since
        body = self._json_cache.get(asset_id)
        if body is None or body[0] != cached[0]:
            body = (cached[0], json.dumps(cached[1], separators=(",", ":")).encode())
            self._json_cache[asset_id] = body
        return body[1]

    def health_many(self, asset_ids: list[str]) -> list[dict[str, Any]]:
        """:meth:`health` of many assets: cached ones from memory, the rest with one query and one model call
        per model."""
        out: dict[str, dict[str, Any]] = {}
        todo: dict[tuple[str, str], tuple[Bundle, list[dict[str, Any]]]] = {}
        for asset_id in asset_ids:
            info = self.asset(asset_id)
            try:
                bundle = self.bundle_for(info["asset_class"])
            except DataNotFoundError as err:
                out[asset_id] = {**info, "model_id": "", "version": "", "horizon": 0.0, "unit": "", "ts": None,
                                 "health": None, "probability": None, "rul": None, "rul_low": None, "rul_high": None,
                                 "risk_level": "unknown", "threshold": None, "recommended_action": str(err),
                                 "contributions": [], "open_case": self._open_case_id(asset_id)}
                continue
            cached = self._health_cache.get(asset_id)
            if cached is not None and cached[0] == self._cache_key(asset_id, bundle):
                out[asset_id] = cached[1]
            else:
                todo.setdefault((bundle.model_id, bundle.version), (bundle, []))[1].append(info)
        for bundle, infos in todo.values():
            ids = [i["asset_id"] for i in infos]
            before = self._generations(ids)
            events = self._events(ids)
            live = [a for a in ids if not self._is_down(events.get(a))]
            spec = bundle.spec
            if spec.interval:
                renewed = {a: events[a][1] for a in live if a in events and events[a][1] is not None}
                recent = self._recent_buckets(live, spec.channels, spec.history_rows, spec.interval, renewed)
            else:  # raw rows: assets renewed by a maintenance are read one by one, from it
                renewed_ids = [a for a in live if a in events and events[a][1] is not None]
                recent = self._recent_many([a for a in live if a not in renewed_ids], spec.channels,
                                           spec.history_rows) if len(renewed_ids) < len(live) else {}
                for asset_id in renewed_ids:
                    recent.update(self._frame_recent(asset_id, bundle, events[asset_id]))
            for result in self._score(bundle, infos, recent, events):
                out[result["asset_id"]] = result
            self._forget_if_changed(before)
        return [out[a] for a in asset_ids]

    def _score(self, bundle: Bundle, infos: list[dict[str, Any]], recent: dict[str, tuple[pd.DatetimeIndex, np.ndarray]],
               events: Mapping[str, tuple[pd.Timestamp | None, pd.Timestamp | None]]) -> list[dict[str, Any]]:
        """Score the latest state of assets with one bundle (``recent``: see :meth:`_recent_many`; ``events``: see
        :meth:`_events`; a down asset is not scored); results are cached until the asset changes."""
        spec = bundle.spec
        scored = [i for i in infos if i["asset_id"] in recent]
        decisions: dict[str, dict[str, Any]] = {}
        if scored:
            matrix = np.vstack([last_row_features(recent[i["asset_id"]][1], spec.channels, window=spec.window,
                                                  stats=spec.stats, ewm_span=spec.ewm_span) for i in scored])
            rows = self.decide_values(bundle, bundle.select(matrix), [i["asset_class"] for i in scored])
            decisions = {i["asset_id"]: row for i, row in zip(scored, rows, strict=True)}
        results = []
        for info in infos:
            asset_id = info["asset_id"]
            # the key before the open case is read: a case filed or closed meanwhile makes this entry stale
            key = self._cache_key(asset_id, bundle)
            result = {**info, "model_id": bundle.model_id, "version": bundle.version, "horizon": spec.horizon,
                      "unit": bundle.unit, "open_case": self._open_case_id(asset_id)}
            marks = events.get(asset_id)
            renewed = None if marks is None or marks[1] is None else marks[1].isoformat()
            if self._is_down(marks):
                failed = marks[0].isoformat()  # type: ignore[index,union-attr]
                result.update({"ts": failed, "health": 0.0, "probability": 1.0,
                               "rul": 0.0 if bundle.task == "rul" else None, "rul_low": None, "rul_high": None,
                               "risk_level": "critical", "threshold": None, "contributions": [],
                               "recommended_action": f"down: failed at {failed} with no maintenance since; "
                                                     "record the repair (a maintenance event) to score it again",
                               "status": "down", "renewed_at": renewed})
            elif asset_id in decisions:
                result.update(decisions[asset_id])
                result["ts"] = pd.Timestamp(recent[asset_id][0][-1]).isoformat()
                result.update({"status": "in_service", "renewed_at": renewed})
            else:
                result.update({"ts": None, "health": None, "probability": None, "rul": None, "rul_low": None,
                               "rul_high": None, "risk_level": "unknown", "threshold": None,
                               "recommended_action": "no readings yet; connect this asset's sensors",
                               "contributions": [], "status": None, "renewed_at": renewed})
            self._health_cache[asset_id] = (key, result)
            results.append(result)
        return results

    def decide(self, bundle: Bundle, X: pd.DataFrame, asset_class: str | None, *, top: int = 5) -> dict[str, Any]:
        """Predictions, decision and explanation for the last row of ``X``."""
        return self.decide_many(bundle, X if len(X) == 1 else X.tail(1), [asset_class], top=top)[0]

    def decide_row(self, bundle: Bundle, spec_features: np.ndarray, asset_class: str | None, *,
                   top: int = 5) -> dict[str, Any]:
        """:meth:`decide` of one row of the spec's features (as :func:`last_row_features` makes it), without
        pandas: the single-prediction hot path."""
        return self.decide_values(bundle, bundle.select(spec_features[None, :]), [asset_class], top=top)[0]

    def decide_values(self, bundle: Bundle, values: np.ndarray, asset_classes: list[str | None], *,
                      top: int = 5) -> list[dict[str, Any]]:
        """:meth:`decide_many` of a matrix of model features (the model's column order)."""
        predictions, contributions, sensors = bundle.explain_values(values)
        return self._decisions(bundle, predictions, contributions, sensors, asset_classes, top)

    def decide_many(self, bundle: Bundle, X: pd.DataFrame, asset_classes: list[str | None], *,
                    top: int = 5) -> list[dict[str, Any]]:
        """Predictions, decisions and explanations for every row of ``X`` (one model call for all)."""
        predictions, contributions = bundle.predict_and_explain(X)
        return self._decisions(bundle, predictions, contributions.to_numpy(dtype="float64"),
                               bundle.sensor_index(contributions.columns), asset_classes, top)

    def _decisions(self, bundle: Bundle, predictions: Predictions, contributions: np.ndarray, sensors: SensorIndex,
                   asset_classes: list[str | None], top: int) -> list[dict[str, Any]]:
        """Risk, health, RUL interval, action and driving sensors of each row of model outputs."""
        # RUL contributions are in life units (negative = shortens life); show them as risk: positive = raises risk.
        signed = -contributions if bundle.task == "rul" else contributions
        policy = self.thresholds(bundle)
        out = []
        for k, asset_class in enumerate(asset_classes):
            probability = float(predictions.probability[k])
            threshold = policy.threshold_for(asset_class)
            level = risk_level(probability, threshold)
            drivers = sensors.contributions(signed[k], top=top)
            rising = [name for name, value in drivers.items() if value > 0]
            rul_low = None if predictions.rul_low is None else float(predictions.rul_low[k])
            out.append({
                "health": num(health_score(probability)), "probability": num(probability),
                "threshold": num(threshold), "rul": None if predictions.rul is None else num(predictions.rul[k]),
                "rul_low": num(rul_low),
                "rul_high": None if predictions.rul_high is None else num(predictions.rul_high[k]),
                "risk_level": level,
                "recommended_action": recommended_action(level, rul_low=rul_low, unit=bundle.unit,
                                                         top_sensor=rising[0] if rising else None),
                "contributions": [{"sensor": name, "contribution": num(v)} for name, v in drivers.items()],
            })
        return out

    def trend(self, asset_id: str, *, points: int = TREND_POINTS) -> dict[str, Any]:
        """Health, probability and RUL at every reading of an asset's history (thinned to ``points``)."""
        info = self.asset(asset_id)
        bundle = self.bundle_for(info["asset_class"])
        marks = self._events([asset_id]).get(asset_id)
        frame = self._history(asset_id, bundle, None, None if marks is None else marks[1])
        out: dict[str, Any] = {"asset_id": asset_id, "model_id": bundle.model_id, "version": bundle.version,
                               "unit": bundle.unit, "ts": [], "health": [], "probability": [], "rul": [],
                               "rul_low": [], "rul_high": []}
        if frame.empty:
            return out
        frame = frame.assign(asset_id=asset_id)
        spec = bundle.spec
        features = window_features(frame, group="asset_id", order="ts", columns=list(spec.channels),
                                   window=spec.window, stats=spec.stats, ewm_span=spec.ewm_span)
        keep = np.unique(np.linspace(0, len(frame) - 1, min(points, len(frame))).round().astype(int))
        X = features[bundle.feature_names].iloc[keep].reset_index(drop=True)
        predictions = bundle.predict(X)
        out["ts"] = [pd.Timestamp(t).isoformat() for t in frame["ts"].iloc[keep]]
        out["probability"] = [num(p) for p in predictions.probability]
        out["health"] = [num(health_score(p)) for p in predictions.probability]
        for name in ("rul", "rul_low", "rul_high"):
            values = getattr(predictions, name)
            out[name] = [] if values is None else [num(v) for v in values]
        return out

    def fleet(self, *, site_id: str | None = None, line_id: str | None = None) -> list[dict[str, Any]]:
        """Health of every asset (optionally of one site or line)."""
        table = self.assets()
        if site_id is not None:
            table = table[table["site_id"] == site_id]
        if line_id is not None:
            table = table[table["line_id"] == line_id]
        return self.health_many([str(a) for a in table["asset_id"]])

    # -- alerts -----------------------------------------------------------------------------------------
    @staticmethod
    def _policy_key(bundle: Bundle, asset_class: str) -> str:
        """The name an alert policy's state is stored under in the case book."""
        return f"{bundle.model_id}:{bundle.version}:{asset_class}"

    def _policy(self, bundle: Bundle, asset_class: str) -> AlertPolicy:
        """The alert policy of a model version and asset class, with its state read back from the case book."""
        key = self._policy_key(bundle, asset_class)
        if key not in self._policies:
            t = self.thresholds(bundle).threshold_for(asset_class)
            policy = AlertPolicy(threshold=t, clear_threshold=t * self.settings.alert_clear_ratio,
                                 min_consecutive=self.settings.alert_min_consecutive,
                                 cooldown=self.settings.alert_cooldown, critical_threshold=(1 + t) / 2)
            self._policies[key] = policy.set_state(self.casebook.policy_state(key))
        return self._policies[key]

    def evaluate(self, asset_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Score assets now and feed the alert policy; new alerts are filed into cases. Returns them.

        The alerts, their cases and the policy state of every asset scored are written in one transaction of
        the case book, so a restarted service carries on where this one stopped (no second alert for an asset
        already in alert). When that write fails, the policies are read back from the case book next time.
        """
        ids = list(self.assets()["asset_id"]) if asset_ids is None else list(asset_ids)
        with self._lock:
            known = set(self.assets().index)
            scorable = []
            for asset_id in map(str, ids):
                try:
                    if asset_id in known:
                        self.bundle_for(str(self.assets().loc[asset_id, "asset_class"]))
                        scorable.append(asset_id)
                except DataNotFoundError:
                    continue  # no model serves this asset's class: nothing to alert on
            alerts: list[Alert] = []
            touched: dict[str, list[str]] = {}
            for health in self.health_many(scorable):
                asset_id = str(health["asset_id"])
                if health["probability"] is None or health.get("status") == "down":
                    continue  # nothing scored, or a known failure (not a forewarning)
                bundle = self.bundle_for(health["asset_class"])
                policy = self._policy(bundle, health["asset_class"])
                alert = policy.update(
                    asset_id, health["ts"], health["probability"], model_id=f"{bundle.model_id}:{bundle.version}",
                    explanation={c["sensor"]: c["contribution"] or 0.0 for c in health["contributions"]},
                    probability=health["probability"], rul=health["rul"], risk_level=health["risk_level"])
                touched.setdefault(self._policy_key(bundle, health["asset_class"]), []).append(asset_id)
                if alert is not None:
                    alerts.append(alert)
            if not touched:
                return []
            states = {key: self._policies[key].get_state(assets) for key, assets in touched.items()}
            try:
                case_ids = self.casebook.file_alerts(alerts, states)
            except Exception:
                for key in touched:  # memory ran ahead of the case book: read it back next time
                    self._policies.pop(key, None)
                raise
            return [self._filed(alert, case_id) for alert, case_id in zip(alerts, case_ids, strict=True)]

    def _filed(self, alert: Alert, case_id: int) -> dict[str, Any]:
        self.case_changed(alert.asset_id)
        for callback in self.on_alert:
            callback(alert)
        return {**alert.to_dict(), "case_id": case_id}

    def _open_case_id(self, asset_id: str) -> int | None:
        return self.casebook.open_case_id(asset_id)

    def case_changed(self, asset_id: str) -> None:
        """Forget the cached health of an asset whose case was opened, acknowledged or closed (also a health being
        computed now: it read the case before this)."""
        with self._generation_lock:
            self._case_generation[asset_id] = self._case_generation.get(asset_id, 0) + 1
        self._health_cache.pop(asset_id, None)

    # -- ingest -----------------------------------------------------------------------------------------
    def ingest(self, frame: pd.DataFrame, *, source: str, strict: bool = False) -> tuple[IngestReport, list[str]]:
        """Store readings, refresh the touched assets and evaluate their alerts. Returns the report and ids."""
        report = self.store.ingest_readings(frame, source=source, strict=strict)
        touched = sorted({str(a) for a in frame["asset_id"].dropna().unique()}) if "asset_id" in frame else []
        self.readings_changed(touched, assets_changed=bool(report.assets_created))
        return report, touched

    def readings_changed(self, asset_ids: Iterable[str], *, assets_changed: bool = False) -> None:
        """New readings of these assets are in the store: their next health is computed afresh."""
        if assets_changed:
            with self._lock:
                self._assets = None
        with self._generation_lock:  # not self._lock: the stream must not wait for an evaluation holding it
            for asset_id in asset_ids:
                self._generation[asset_id] = self._generation.get(asset_id, 0) + 1

    def events_changed(self, asset_ids: Iterable[str]) -> None:
        """Failure or maintenance events of these assets were recorded: their next health is computed afresh (a
        failure takes an asset down, a maintenance renews its window)."""
        self.readings_changed(asset_ids)

    def attach_stream(self, config_path: str) -> Any:
        """Start the MQTT / OPC UA connector of a ``forewarn stream`` config in this process, on this store.

        Readings it commits refresh health at once (:meth:`readings_changed`) and, when models are served, are
        evaluated for alerts like readings posted to the API (in a background thread, coalesced). Returns the
        running :class:`~forewarn.stream.runner.StreamRunner`; stop it before :meth:`close`.
        """
        from forewarn.stream.runner import StreamRunner

        settle = (lambda ids: self.evaluate(ids)) if self.registry is not None else None
        self.stream = StreamRunner.from_file(config_path, self.store, on_readings=self.readings_changed,
                                             settle=settle).start()
        self.readings_changed((), assets_changed=True)  # the config may declare new assets
        return self.stream

    def stream_alerts(self, **filters: Any) -> list[dict[str, Any]]:
        """Alerts of the stream's own models (``[[models]]`` of a ``forewarn stream`` / ``serve --stream`` config),
        kept in the store's ``stream_alerts`` table; the service's alert policy keeps its own alerts and cases in the
        case book. ``filters``: see :func:`forewarn.stream.tables.stream_alerts`."""
        from forewarn.stream.tables import stream_alerts

        return stream_alerts(self.store, **filters)

    def set_costs(self, costs: Mapping[str, Mapping[str, float]] | None) -> None:
        """Replace the cost table (thresholds and alert policies follow)."""
        ThresholdPolicy.from_mapping(costs or {})  # validate first
        with self._lock:
            self.settings = self.settings.with_(costs=costs)
            self._policies.clear()
            self._health_cache.clear()


def check_ready(service: HealthService) -> dict[str, Any]:
    """What ``/healthz`` reports: store reachable, models loadable."""
    status: dict[str, Any] = {"status": "ok", "store": service.store.path}
    try:
        status["readings"] = service.store.count_readings()
    except Exception as err:  # noqa: BLE001 - the health check reports any failure instead of raising
        return {**status, "status": "error", "error": f"store: {err}"}
    if service.stream is not None:
        status["stream"] = service.stream.status()
        if not status["stream"]["running"]:
            return {**status, "status": "error", "error": f"stream: {status['stream']['error'] or 'stopped'}"}
    if service.registry is not None:
        try:
            bundle = service.bundle_for()
            status["model"] = f"{bundle.model_id}:{bundle.version}"
        except (DataNotFoundError, ConfigError) as err:
            status["model"] = None
            status["warning"] = str(err)
    return status
