"""Per-asset gauges on ``/metrics``: health score, failure probability, RUL and open cases of every asset.

:class:`FleetCollector` is a Prometheus collector read at each scrape: it asks the service for the fleet's health
(:meth:`~forewarn.serve.service.HealthService.fleet`, answered from the health cache unless new readings, events
or cases arrived since the last scrape) and turns each answer into samples labelled with where the asset sits:

* ``forewarn_asset_health_score`` (the health the API reports, 100 healthy .. 0 failed),
* ``forewarn_asset_failure_probability`` (failure within the model's horizon, label ``horizon``),
* ``forewarn_asset_rul`` (remaining useful life, label ``unit``), with ``forewarn_asset_rul_low`` and
  ``forewarn_asset_rul_high`` for its interval,
* ``forewarn_asset_open_cases`` (0 or 1: an open or acknowledged case).

Every sample carries ``asset_id``, ``asset_class``, ``site_id`` and ``line_id`` (empty when not set); the model
gauges carry ``model_id`` too. An asset that is not scored (no readings yet, no model) has no model samples, only
its open-case gauge. A model that fails while scoring does not fail the scrape: the open cases are still reported,
``forewarn_fleet_scrape_ok`` is 0 and the error is logged.

>>> from prometheus_client import CollectorRegistry, generate_latest
>>> from forewarn.serve.service import HealthService
>>> from forewarn.serve.settings import ServeSettings
>>> service = HealthService(ServeSettings())
>>> registry = CollectorRegistry()
>>> registry.register(FleetCollector(service))
>>> print(generate_latest(registry).decode().splitlines()[-1])   # an empty plant: nothing to report but "ok"
forewarn_fleet_scrape_ok 1.0
>>> service.close()
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from forewarn.exceptions import ForewarnError
from forewarn.serve.answers import HealthAnswer

log = logging.getLogger("forewarn.serve")

PLACE = ["asset_id", "asset_class", "site_id", "line_id"]


def _place(answer: HealthAnswer | dict[str, Any]) -> list[str]:
    values = [answer.get(k) for k in PLACE]
    return ["" if v is None or v != v else str(v) for v in values]  # v != v: a pandas NaN


class FleetCollector(Collector):
    """The per-asset gauges of a :class:`~forewarn.serve.service.HealthService`, computed at each scrape."""

    def __init__(self, service: Any):
        self.service = service

    def describe(self) -> list[Any]:
        return []  # the samples depend on the fleet at scrape time: nothing is checked at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        model = [*PLACE, "model_id"]
        health = GaugeMetricFamily(
            "forewarn_asset_health_score", "health score of an asset (100 healthy, 0 failed)", labels=model
        )
        probability = GaugeMetricFamily(
            "forewarn_asset_failure_probability",
            "probability that the asset fails within the model's horizon",
            labels=[*model, "horizon"],
        )
        rul = GaugeMetricFamily("forewarn_asset_rul", "remaining useful life of an asset", labels=[*model, "unit"])
        rul_low = GaugeMetricFamily("forewarn_asset_rul_low", "lower end of the RUL interval", labels=[*model, "unit"])
        rul_high = GaugeMetricFamily(
            "forewarn_asset_rul_high", "upper end of the RUL interval", labels=[*model, "unit"]
        )
        cases = GaugeMetricFamily(
            "forewarn_asset_open_cases", "open or acknowledged cases of an asset (0 or 1)", labels=PLACE
        )
        ok = 1.0
        try:
            answers: list[HealthAnswer] = self.service.fleet()
        except ForewarnError as err:  # a broken model: still report the case book
            log.warning("per-asset metrics: could not score the fleet: %s", err)
            ok = 0.0
            answers = []
            for _, row in self.service.assets().reset_index().iterrows():
                where = _place({k: row.get(k) for k in PLACE})
                cases.add_metric(where, 0.0 if self.service.casebook.open_case_id(where[0]) is None else 1.0)
        for answer in answers:
            place = _place(answer)
            labels = [*place, str(answer.get("model_id") or "")]
            cases.add_metric(place, 0.0 if answer.get("open_case") is None else 1.0)
            if answer.get("health") is not None:
                health.add_metric(labels, float(answer["health"]))  # type: ignore[arg-type]
            if answer.get("probability") is not None:
                probability.add_metric([*labels, f"{answer['horizon']:g}"], float(answer["probability"]))  # type: ignore[arg-type]
            unit = str(answer.get("unit") or "")
            for family, key in ((rul, "rul"), (rul_low, "rul_low"), (rul_high, "rul_high")):
                value = answer.get(key)
                if value is not None:
                    family.add_metric([*labels, unit], float(value))  # type: ignore[arg-type]
        yield from (health, probability, rul, rul_low, rul_high, cases)
        yield GaugeMetricFamily("forewarn_fleet_scrape_ok", "1 when the fleet was scored for this scrape", value=ok)
