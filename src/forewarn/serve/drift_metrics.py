"""Drift gauges on ``/metrics``, from each model's last ``forewarn monitor`` run (read at each scrape).

* ``forewarn_model_drift_alerts``: drift alerts (plant changes) in the model's last monitored window;
* ``forewarn_model_sensor_drift_assets``: per sensor (label ``channel``), the assets whose residual drifted past
  the reference threshold on the last monitored day;
* ``forewarn_model_score_psi``: PSI of the model's probabilities against its reference;
* ``forewarn_model_multivariate_drift_assets``: assets whose readings, all channels at once, differ from their
  reference more than the reference's own windows do (the MMD test of :mod:`forewarn.monitor.multivariate`);
* ``forewarn_model_class_feature_drift``: per asset class (label ``asset_class``), the window features over the
  class's own drift line in the last run (classes judged against their own reference only: a class judged with the
  fleet has no sample);
* ``forewarn_model_realised_catch_rate``: failures caught over failures in the last window (absent without one).

Every sample carries ``model_id`` and ``version`` (the monitored one). A model never monitored has no sample.

>>> from prometheus_client import CollectorRegistry, generate_latest
>>> from forewarn.serve.service import HealthService
>>> from forewarn.serve.settings import ServeSettings
>>> service = HealthService(ServeSettings())
>>> registry = CollectorRegistry()
>>> registry.register(DriftCollector(service))
>>> generate_latest(registry).decode().count("forewarn_model_drift_alerts{")  # no models folder: no sample
0
>>> service.close()
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from forewarn.exceptions import ForewarnError
from forewarn.monitor.runs import latest

log = logging.getLogger("forewarn.serve")


#: each history file's latest run, with the file's size and change time when it was read
_read: dict[str, tuple[tuple[int, int], dict[str, Any] | None]] = {}


def _last_run(path: Any) -> dict[str, Any] | None:
    """The run of the latest window among the last 2 MB of a model's monitoring history (a look back at a past
    window, run later, is not the model's current state: :func:`forewarn.monitor.runs.latest`); read again only
    when the file changed, not at every scrape."""
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            stamp = (stat.st_mtime_ns, stat.st_size)
            held = _read.get(str(path))
            if held is not None and held[0] == stamp:
                return held[1]
            handle.seek(max(0, stat.st_size - 2_000_000))
            lines = handle.read().decode("utf-8", errors="replace").strip().splitlines()
    except OSError:
        return None
    runs = []
    for line in lines[1:] if stat.st_size > 2_000_000 else lines:  # past 2 MB the first line is cut
        try:
            runs.append(json.loads(line))
        except ValueError:
            continue
    found = latest(runs)
    _read[str(path)] = (stamp, found)
    return found


class DriftCollector(Collector):
    """The drift gauges of a service's models (see the module docstring)."""

    def __init__(self, service: Any):
        self.service = service

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        alerts = GaugeMetricFamily(
            "forewarn_model_drift_alerts", "Drift alerts in the last monitored window", labels=["model_id", "version"]
        )
        sensors = GaugeMetricFamily(
            "forewarn_model_sensor_drift_assets",
            "Assets whose sensor drifted past its reference threshold on the last monitored day",
            labels=["model_id", "version", "channel"],
        )
        psi = GaugeMetricFamily(
            "forewarn_model_score_psi",
            "PSI of the model's probabilities vs its reference",
            labels=["model_id", "version"],
        )
        joint = GaugeMetricFamily(
            "forewarn_model_multivariate_drift_assets",
            "Assets whose readings as a whole drifted from their reference (MMD) in the last monitored window",
            labels=["model_id", "version"],
        )
        by_class = GaugeMetricFamily(
            "forewarn_model_class_feature_drift",
            "Window features over their asset class's own drift line in the last monitored window",
            labels=["model_id", "version", "asset_class"],
        )
        caught = GaugeMetricFamily(
            "forewarn_model_realised_catch_rate",
            "Failures caught over failures in the last monitored window",
            labels=["model_id", "version"],
        )
        registry = getattr(self.service, "registry", None)
        if registry is None:
            yield from (alerts, sensors, psi, joint, by_class, caught)
            return
        try:
            ids = registry.model_ids()
        except ForewarnError as err:
            log.warning("drift gauges: %s", err)
            ids = []
        for model_id in ids:
            run = _last_run(registry.root / model_id / "monitor" / "history.jsonl")
            if not run:
                continue
            labels = [model_id, str(run.get("version", ""))]
            alerts.add_metric(labels, float(run.get("drift_alerts", 0)))
            per_day = run.get("per_day") or []
            last_day = max((row["day"] for row in per_day), default=None)
            for row in per_day:
                if row["day"] == last_day:
                    sensors.add_metric([*labels, str(row["channel"])], float(row["assets_drifted"]))
            score = run.get("score") or {}
            if score.get("psi") is not None:
                psi.add_metric(labels, float(score["psi"]))
            if run.get("multivariate_drifted_assets") is not None:
                joint.add_metric(labels, float(run["multivariate_drifted_assets"]))
            for asset_class, drifted in sorted((run.get("class_feature_drift") or {}).items()):
                by_class.add_metric([*labels, str(asset_class)], float(drifted))
            realised = (run.get("performance") or {}).get("realised") or {}
            if realised.get("catch_rate") is not None:
                caught.add_metric(labels, float(realised["catch_rate"]))
        yield from (alerts, sensors, psi, joint, by_class, caught)
