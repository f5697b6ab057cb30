"""The service behind the API and the dashboard: health of assets, trends, alerts and cases.

:class:`HealthService` puts together small parts, each in its own module:

* :class:`~forewarn.serve.live.Plant` and :class:`~forewarn.serve.live.LiveModels`: the asset table, which bundle
  scores an asset, the thresholds in force;
* :class:`~forewarn.serve.recent.RecentReadings`: each asset's last window, read from the store;
* :class:`~forewarn.serve.health.HealthScorer` with its :class:`~forewarn.serve.cache.HealthCache`: health,
  scored on demand and cached under a named key;
* :class:`~forewarn.serve.cases.CaseDesk`: the alert policy and the case book (each change of a case invalidates
  the cache inside the method that makes it);
* :func:`~forewarn.serve.trend.asset_trend`: the trend of one asset.

The service holds the store file open for writing, so readings only arrive through :meth:`HealthService.ingest`
or the stream connector started by :meth:`HealthService.attach_stream`; both tell the cache. No caller outside
the service invalidates anything.

>>> service = HealthService(ServeSettings())
>>> check_ready(service)["status"], check_ready(service)["store"]
('ok', ':memory:')
>>> service.close()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from forewarn.bundles.bundle import Bundle
from forewarn.bundles.registry import ModelRegistry
from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.decide.thresholds import ThresholdPolicy
from forewarn.exceptions import ConfigError, DataNotFoundError
from forewarn.serve.answers import AssetInfo, FiledAlert, HealthAnswer, TrendAnswer, num
from forewarn.serve.cache import HealthCache
from forewarn.serve.cases import CaseDesk
from forewarn.serve.decisions import Decider
from forewarn.serve.health import HealthScorer
from forewarn.serve.live import LiveModels, Plant
from forewarn.serve.recent import RecentReadings
from forewarn.serve.settings import ServeSettings
from forewarn.serve.trend import TREND_POINTS, asset_trend
from forewarn.store import IngestReport, Store

__all__ = ["HealthService", "check_ready", "num"]


class HealthService:
    """Scores assets on demand and turns scores into alerts and cases (thread-safe).

    The parts are attributes: ``plant``, ``models``, ``recent``, ``decider``, ``cache``, ``scores`` (health),
    ``cases`` (alerts and cases); the methods here are the ones every face uses.
    """

    def __init__(
        self,
        settings: ServeSettings,
        *,
        store: Store | None = None,
        registry: ModelRegistry | None = None,
        casebook: CaseBook | None = None,
    ):
        self.settings = settings
        read_only = bool((settings.extra or {}).get("read_only", False))  # serve --read-only
        self.store = store if store is not None else Store(settings.store, read_only=read_only)
        self.registry = (
            registry if registry is not None else (ModelRegistry(settings.models) if settings.models else None)
        )
        self.casebook = casebook if casebook is not None else CaseBook(settings.cases or casebook_path_for(self.store))
        self.plant = Plant(self.store)
        self.models = LiveModels(self.registry, model_id=settings.model_id, costs=settings.costs)
        self.recent = RecentReadings(self.store)
        self.decider = Decider(self.models.thresholds)
        self.cache = HealthCache()
        self.scores = HealthScorer(self.plant, self.models, self.recent, self.decider, self.cache, self.casebook)
        self.cases = CaseDesk(self.casebook, self.scores, self.cache, settings)
        self.stream: Any = None  # a forewarn.stream.runner.StreamRunner when readings also come by MQTT / OPC UA
        from forewarn.serve.retraining import RetrainSchedule  # background retraining (serve --retrain-every)

        schedule = RetrainSchedule.from_settings(self)
        self.retraining = schedule.start() if schedule is not None else None
        from forewarn.serve.shared import SharedStoreRefresh  # other processes write a PostgreSQL store too

        self.shared = SharedStoreRefresh.start_for(self)

    def close(self) -> None:
        if self.retraining is not None:
            self.retraining.stop()
        if self.shared is not None:
            self.shared.stop()
        self.casebook.close()
        self.store.close()

    # -- reading ----------------------------------------------------------------------------------------
    def asset(self, asset_id: str) -> AssetInfo:
        """Where an asset sits; an unknown asset raises :class:`~forewarn.exceptions.DataNotFoundError`."""
        return self.plant.info(asset_id)

    def assets(self) -> pd.DataFrame:
        """The asset table, indexed by ``asset_id``."""
        return self.plant.table()

    def bundle_for(self, asset_class: str | None = None, model_id: str | None = None) -> Bundle:
        """The live bundle that scores ``asset_class`` (see :meth:`forewarn.serve.live.LiveModels.bundle_for`)."""
        return self.models.bundle_for(asset_class, model_id)

    def thresholds(self, bundle: Bundle) -> ThresholdPolicy:
        return self.models.thresholds(bundle)

    def health(self, asset_id: str) -> HealthAnswer:
        """Health score, failure probability, RUL interval, risk, action and driving sensors of one asset."""
        return self.scores.health(asset_id)

    def fleet(self, *, site_id: str | None = None, line_id: str | None = None) -> list[HealthAnswer]:
        """Health of every asset (optionally of one site or line)."""
        return self.scores.fleet(site_id=site_id, line_id=line_id)

    def trend(self, asset_id: str, *, points: int = TREND_POINTS) -> TrendAnswer:
        """Health, probability and RUL over an asset's history (thinned to ``points``)."""
        return asset_trend(asset_id, plant=self.plant, models=self.models, recent=self.recent, points=points)

    def evaluate(self, asset_ids: Iterable[str] | None = None) -> list[FiledAlert]:
        """Score assets now and feed the alert policy; new alerts are filed into cases. Returns them."""
        return self.cases.evaluate(asset_ids)

    # -- changing ---------------------------------------------------------------------------------------
    def ingest(self, frame: pd.DataFrame, *, source: str, strict: bool = False) -> tuple[IngestReport, list[str]]:
        """Store readings and refresh the touched assets. Returns the report and their ids."""
        report = self.store.ingest_readings(frame, source=source, strict=strict)
        touched = sorted({str(a) for a in frame["asset_id"].dropna().unique()}) if "asset_id" in frame else []
        self.readings_changed(touched, assets_changed=bool(report.assets_created))
        return report, touched

    def record_events(
        self, frame: pd.DataFrame, *, source: str, strict: bool = False
    ) -> tuple[IngestReport, list[str]]:
        """Store failure, maintenance and inspection events (``asset_id, ts, kind`` and the optional
        :data:`~forewarn.schema.EVENT_COLUMNS`) and refresh the touched assets. Returns the report and their ids."""
        report = self.store.ingest_events(frame, source=source, strict=strict)
        touched = sorted({str(a) for a in frame["asset_id"].dropna().unique()}) if "asset_id" in frame else []
        if report.assets_created:
            self.plant.changed()
        self.events_changed(touched)
        return report, touched

    def readings_changed(self, asset_ids: Iterable[str], *, assets_changed: bool = False) -> None:
        """New readings of these assets are in the store (the stream connector calls this after each commit):
        their next health is computed afresh."""
        if assets_changed:
            self.plant.changed()
        self.cache.readings_changed(asset_ids)

    def events_changed(self, asset_ids: Iterable[str]) -> None:
        """Failure or maintenance events of these assets were recorded: their next health is computed afresh (a
        failure takes an asset down, a maintenance renews its window)."""
        self.cache.readings_changed(asset_ids)

    def set_costs(self, costs: Mapping[str, Mapping[str, float]] | None) -> None:
        """Replace the cost table (thresholds and alert policies follow)."""
        ThresholdPolicy.from_mapping(costs or {})  # validate first
        self.settings = self.settings.with_(costs=costs)
        self.models.costs = costs
        self.cases.reset_policies()
        self.cache.clear()

    # -- the stream -------------------------------------------------------------------------------------
    def attach_stream(self, config_path: str) -> Any:
        """Start the MQTT / OPC UA connector of a ``forewarn stream`` config in this process, on this store.

        Readings it commits refresh health at once (:meth:`readings_changed`) and, when models are served, are
        evaluated for alerts like readings posted to the API (in a background thread, coalesced). The alerts of
        the stream's own models (``[[models]]``) are filed into this service's case book through
        :meth:`forewarn.serve.cases.CaseDesk.file` (so the cache sees them at once), with ``source = "stream"``. Returns the
        running :class:`~forewarn.stream.runner.StreamRunner`; stop it before :meth:`close`.
        """
        from forewarn.stream.runner import StreamRunner

        settle = (lambda ids: self.evaluate(ids)) if self.registry is not None else None
        self.stream = StreamRunner.from_file(
            config_path, self.store, on_readings=self.readings_changed, settle=settle, file_alerts=self.cases.file
        ).start()
        self.plant.changed()  # the config may declare new assets
        return self.stream

    def stream_alerts(self, **filters: Any) -> list[dict[str, Any]]:
        """Alerts of the stream's own models (``[[models]]`` of a ``forewarn stream`` / ``serve --stream`` config) as
        the store's ``stream_alerts`` table (the stream's outbox) holds them; kept for compatibility: the same alerts
        are filed into the case book, where :meth:`forewarn.serve.cases.CaseDesk.alerts` lists them with every other
        alert (``source = "stream"``). ``filters``: see :func:`forewarn.stream.tables.stream_alerts`."""
        from forewarn.stream.tables import stream_alerts

        return stream_alerts(self.store, **filters)


def check_ready(service: HealthService, *, reveal_paths: bool = False) -> dict[str, Any]:
    """What ``/healthz`` reports: store reachable, models loadable.

    Paths on the server (the store file, the case book, the models folder) are shown by their last part only,
    unless ``reveal_paths`` (the caller sent the API token): an anonymous caller learns nothing of the file system.
    """
    status = _ready(service)
    return status if reveal_paths else _redacted(status, _paths(service))


def _ready(service: HealthService) -> dict[str, Any]:
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


def _paths(service: HealthService) -> dict[str, str]:
    """The server's paths a status may name, longest first (a folder inside another), each with its last part."""
    paths = [service.store.path, service.casebook.path]
    if service.registry is not None:
        paths.append(str(service.registry.root))
    named = {p: Path(p).name or p for p in paths if p and p != ":memory:"}
    return dict(sorted(named.items(), key=lambda item: -len(item[0])))


def _redacted(value: Any, paths: Mapping[str, str]) -> Any:
    """``value`` with every path of ``paths`` in its text replaced by its last part (dicts walked through).

    >>> _redacted({"store": "/srv/plant/store.duckdb", "n": 3}, {"/srv/plant/store.duckdb": "store.duckdb"})
    {'store': 'store.duckdb', 'n': 3}
    """
    if isinstance(value, dict):
        return {k: _redacted(v, paths) for k, v in value.items()}
    if isinstance(value, str):
        for path, name in paths.items():
            value = value.replace(path, name)
    return value
