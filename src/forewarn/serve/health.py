"""Health of assets: scored from their last readings with the fast last-row features, cached until they change.

An asset's health is computed from its last ``history_rows`` readings (or buckets, see :mod:`forewarn.serve.recent`)
and cached in a :class:`~forewarn.serve.cache.HealthCache` until new readings or events of that asset arrive, its
case changes, another model version goes live or the cost table changes.

Health follows the event history: an asset whose latest failure has no renewing maintenance at or after it is
``down`` (health 0, not scored), and a renewal (:func:`forewarn.train.labels.renewals`: a replacement, a repair, a
maintenance with no action; not an oil change) renews it: readings before it are not in its window (its
exponential mean starts again). A model that reads the age since renewal (``ServingSpec.age_feature``) gets the
hours from that renewal to the last row (:func:`forewarn.features.age.hours_since_renewal`; NaN without one).

An asset whose window holds readings of less than the minimum share of the channels its class sends
(:mod:`forewarn.features.coverage`, the rule ``forewarn score`` applies) is answered ``status: "insufficient data"``
with no health, probability or RUL (risk ``unknown``); ``channels_missing`` lists the expected channels with no
reading in the window, as a warning when the asset is scored all the same.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd

from forewarn.base.timespan import utc_minute
from forewarn.bundles.bundle import Bundle
from forewarn.exceptions import DataNotFoundError
from forewarn.features.age import hours_since_renewal, with_age
from forewarn.features.coverage import INSUFFICIENT, Coverage, coverage_of, min_channel_share, store_class_channels
from forewarn.serve.answers import AssetInfo, HealthAnswer, Marks, num
from forewarn.serve.cache import HealthCache, HealthKey
from forewarn.serve.decisions import Decider
from forewarn.serve.labels import card_label
from forewarn.serve.live import LiveModels, Plant
from forewarn.serve.recent import Recent, RecentReadings
from forewarn.train.labels import is_down
from forewarn.train.score import no_readings_action

#: how long the channels each asset class reports are kept before they are read from the store again
CLASS_CHANNELS_SECONDS = 60.0


class OpenCases(Protocol):
    """Where the open case of an asset is looked up (a :class:`~forewarn.decide.cases.CaseBook`)."""

    def open_case_id(self, asset_id: str) -> int | None: ...

    def cases_by_id(self, case_ids: list[int]) -> dict[int, dict[str, Any]]: ...


class HealthScorer:
    """Scores assets on demand (one query and one model call per model for many) and caches the answers."""

    def __init__(
        self,
        plant: Plant,
        models: LiveModels,
        recent: RecentReadings,
        decider: Decider,
        cache: HealthCache,
        cases: OpenCases,
    ):
        self.plant = plant
        self.models = models
        self.recent = recent
        self.decider = decider
        self.cache = cache
        self.cases = cases
        #: the minimum share of channels (``FOREWARN_MIN_CHANNEL_SHARE``), read once: a bad value stops the start
        self.min_share = min_channel_share()
        self._reported: tuple[float, object, dict[str, frozenset[str]]] | None = None

    def health(self, asset_id: str) -> HealthAnswer:
        """Health score, failure probability, RUL interval, risk, action and driving sensors of one asset."""
        info = self.plant.info(asset_id)
        bundle = self.models.bundle_for(info["asset_class"])
        cached = self.cache.get(asset_id, bundle.model_id, bundle.version)
        if cached is not None:
            return cached
        key = self.cache.key(asset_id, bundle.model_id, bundle.version)  # before anything is read
        marks = self.recent.events([asset_id]).get(asset_id)
        recent = {} if is_down(marks) else self.recent.one(asset_id, bundle.spec, marks)
        return self._score(bundle, [info], recent, {asset_id: marks} if marks else {}, {asset_id: key})[0]

    def health_many(self, asset_ids: list[str]) -> list[HealthAnswer]:
        """:meth:`health` of many assets: cached ones from memory, the rest with one query and one model call
        per model."""
        out: dict[str, HealthAnswer] = {}
        todo: dict[tuple[str, str], tuple[Bundle, list[AssetInfo]]] = {}
        unserved: list[str] = []
        for asset_id in asset_ids:
            info = self.plant.info(asset_id)
            try:
                bundle = self.models.bundle_for(info["asset_class"])
            except DataNotFoundError as err:
                out[asset_id] = unscored(info, str(err), self.cases.open_case_id(asset_id))
                unserved.append(asset_id)
                continue
            cached = self.cache.get(asset_id, bundle.model_id, bundle.version)
            if cached is not None:
                out[asset_id] = cached
            else:
                todo.setdefault((bundle.model_id, bundle.version), (bundle, []))[1].append(info)
        for bundle, infos in todo.values():
            ids = [i["asset_id"] for i in infos]
            keys = {a: self.cache.key(a, bundle.model_id, bundle.version) for a in ids}  # before anything is read
            events = self.recent.events(ids)
            live = [a for a in ids if not is_down(events.get(a))]
            spec = bundle.spec
            if spec.interval:
                renewed = {a: events[a][1] for a in live if a in events and events[a][1] is not None}
                recent = self.recent.recent_buckets(live, spec.channels, spec.history_rows, spec.interval, renewed)
            else:  # raw rows: assets renewed by a maintenance are read one by one, from it
                renewed_ids = [a for a in live if a in events and events[a][1] is not None]
                recent = (
                    self.recent.recent_many([a for a in live if a not in renewed_ids], spec.channels, spec.history_rows)
                    if len(renewed_ids) < len(live)
                    else {}
                )
                for asset_id in renewed_ids:
                    recent.update(self.recent.one(asset_id, spec, events[asset_id]))
            for result in self._score(bundle, infos, recent, events, keys):
                out[result["asset_id"]] = result
        if unserved:  # no model, but the event log still says which assets are down
            marks = self.recent.events(unserved)
            for asset_id in unserved:
                if is_down(marks.get(asset_id)):
                    mark_down(out[asset_id], marks[asset_id][0], probability=None)
        return [out[a] for a in asset_ids]

    def fleet(self, *, site_id: str | None = None, line_id: str | None = None) -> list[HealthAnswer]:
        """Health of every asset (optionally of one site or line)."""
        table = self.plant.table()
        if site_id is not None:
            table = table[table["site_id"] == site_id]
        if line_id is not None:
            table = table[table["line_id"] == line_id]
        return self.health_many([str(a) for a in table["asset_id"]])

    def cached_json(self, asset_id: str) -> bytes | None:
        """The cached health of an asset as JSON bytes, or ``None`` when it must be computed (no blocking work)."""
        if self.models.registry is None:
            return None
        return self.cache.json(asset_id, self.models.active_version)

    def _score(
        self,
        bundle: Bundle,
        infos: list[AssetInfo],
        recent: Recent,
        events: Mapping[str, Marks],
        keys: Mapping[str, HealthKey],
    ) -> list[HealthAnswer]:
        """Score the latest state of assets with one bundle (``recent``: see
        :meth:`~forewarn.serve.recent.RecentReadings.recent_many`; ``events``: see
        :meth:`~forewarn.serve.recent.RecentReadings.events`; a down asset is not scored); each answer is cached
        under its key, taken before the asset was read."""
        spec = bundle.spec
        covered = self._coverage(bundle, infos, recent)
        scored = [i for i in infos if i["asset_id"] in covered and covered[i["asset_id"]].sufficient]
        decisions = {}
        if scored:
            matrix = np.vstack([spec.last_row(recent[i["asset_id"]][1], i["asset_class"]) for i in scored])
            if spec.age_feature:
                ids = [i["asset_id"] for i in scored]
                renewal_of = {a: m[1] for a, m in events.items()}
                matrix = with_age(matrix, hours_since_renewal(ids, [recent[a][0][-1] for a in ids], renewal_of))
            rows = self.decider.decide_values(bundle, bundle.select(matrix), [i["asset_class"] for i in scored])
            decisions = {i["asset_id"]: row for i, row in zip(scored, rows, strict=True)}
        label = card_label(bundle.folder)
        policy = self.decider.thresholds(bundle)
        results = []
        with_quiet_case: list[
            tuple[int, HealthAnswer]
        ] = []  # answers that name their open case: the cases read in one query after the loop
        for info in infos:
            asset_id = info["asset_id"]
            marks = events.get(asset_id)
            renewed = None if marks is None or marks[1] is None else marks[1].isoformat()
            result = _answer(
                info,
                bundle.model_id,
                bundle.version,
                spec.horizon,
                bundle.unit,
                self.cases.open_case_id(asset_id),
                renewed,
                label,
            )
            result["recommended_action"] = unread_action(spec.channels, marks)
            # the model's threshold for the class, whether or not this answer has a probability to hold against it
            result["threshold"] = num(policy.threshold_for(info["asset_class"]))
            cover = covered.get(asset_id)
            result["channels_missing"] = list(spec.channels) if cover is None else list(cover.missing)
            if is_down(marks):
                mark_down(result, marks[0], probability=1.0)  # type: ignore[index]
                result["rul"] = 0.0 if bundle.task == "rul" else None
            elif cover is not None and not cover.sufficient:
                last = pd.Timestamp(recent[asset_id][0][-1]).isoformat()
                result.update({"ts": last, "status": INSUFFICIENT, "recommended_action": cover.action()})
            elif asset_id in decisions:
                result.update(decisions[asset_id])
                result.update({"ts": pd.Timestamp(recent[asset_id][0][-1]).isoformat(), "status": "in_service"})
                case_id = result["open_case"]
                if case_id is not None and result["risk_level"] in QUIET_LEVELS:
                    with_quiet_case.append((case_id, result))
            results.append(result)
        if with_quiet_case:
            cases = self.cases.cases_by_id([case_id for case_id, _ in with_quiet_case])
            for case_id, result in with_quiet_case:
                case = cases.get(case_id)
                if case is not None:  # closed and gone since its id was read: the model's own action stands
                    result["recommended_action"] = open_case_action(result["recommended_action"], case)
        for result in results:
            self.cache.put(result["asset_id"], keys[result["asset_id"]], result)
        return results

    def class_channels(self) -> dict[str, frozenset[str]]:
        """The channels each asset class reports in the store (:func:`~forewarn.features.coverage.
        store_class_channels`), read again when the plant's asset table was re-read (assets were added) or after
        :data:`CLASS_CHANNELS_SECONDS` (a new channel of a known asset): a query of a few milliseconds kept off
        each cold health answer and each ``POST /predict`` that names a class."""
        table = self.plant.table()
        held = self._reported
        if held is None or held[1] is not table or time.monotonic() - held[0] > CLASS_CHANNELS_SECONDS:
            held = self._reported = (time.monotonic(), table, store_class_channels(self.recent.store))
        return held[2]

    def _coverage(self, bundle: Bundle, infos: list[AssetInfo], recent: Recent) -> dict[str, Coverage]:
        """The channel coverage of each asset with recent readings (see :mod:`forewarn.features.coverage`)."""
        if not any(i["asset_id"] in recent for i in infos):
            return {}
        reported = self.class_channels()
        spec = bundle.spec
        return {
            i["asset_id"]: coverage_of(
                recent[i["asset_id"]][1], spec.channels, int(spec.window), i["asset_class"], reported, self.min_share
            )
            for i in infos
            if i["asset_id"] in recent
        }


#: the risk levels whose own action asks for no work now: an open case is named beside them (:func:`open_case_action`)
QUIET_LEVELS = ("low", "medium")


def open_case_action(action: str, case: Mapping[str, Any]) -> str:
    """What an asset in service is told while it has an open case that its model's reading does not call for (a
    stream detector's alarm, or the model's own earlier one): the case first, so "no action" never hides it.

    >>> case = {"case_id": 12, "risk_level": "high", "model_id": "detect", "opened_ts": "2024-01-17T16:00:00Z",
    ...         "n_alerts": 3, "status": "open"}
    >>> open_case_action("no action; keep monitoring", case).split("); ")
    ['review open case 12 (high, 3 alert(s) of model detect since 2024-01-17 16:00 UTC', 'this model: no action; keep monitoring']
    """
    state = "acknowledged case" if case.get("status") == "acknowledged" else "open case"
    alerts = case.get("n_alerts")
    counted = f"{int(alerts)} alert(s) of " if alerts else ""
    return (
        f"review {state} {case['case_id']} ({case.get('risk_level') or 'risk unsaid'}, {counted}model "
        f"{case.get('model_id') or 'unsaid'} since {utc_minute(case['opened_ts'])}); this model: {action}"
    )


def mark_down(answer: HealthAnswer, failed: pd.Timestamp, *, probability: float | None) -> None:
    """Make ``answer`` that of a down asset (failed at ``failed``, no renewing maintenance since): health 0,
    critical, told to repair it; ``probability`` 1 for a model's answer (it has failed within any horizon), ``None``
    where no model serves the asset.

    >>> answer = _answer({"asset_id": "P-1"}, "", "", 0.0, "", None, None)  # type: ignore[typeddict-item]
    >>> mark_down(answer, pd.Timestamp("2024-01-17T16:00:00Z"), probability=None)
    >>> answer["status"], answer["risk_level"], answer["health"]
    ('down', 'critical', 0.0)
    """
    answer["ts"] = pd.Timestamp(failed).isoformat()
    answer["health"] = 0.0
    answer["probability"] = probability
    answer["risk_level"] = "critical"
    answer["recommended_action"] = down_action(failed)
    answer["status"] = "down"
    answer["channels_missing"] = []


def down_action(failed: pd.Timestamp) -> str:
    """What a down asset (failed at ``failed``, no renewing maintenance since) is told.

    >>> down_action(pd.Timestamp("2024-01-17T16:00:00Z"))
    'down since 2024-01-17 16:00 UTC: repair it, then record the maintenance'
    """
    return f"down since {utc_minute(failed)}: repair it, then record the maintenance"


def unread_action(channels: tuple[str, ...], marks: Marks | None) -> str:
    """What an asset in service with no reading of the model's ``channels`` in its window is told: since its latest
    renewal when it has one (readings before it are not in the window), else at all.

    >>> unread_action(("temp",), (None, pd.Timestamp("2024-01-17T18:00:00Z")))
    "not scored: no reading of the model's channels since the maintenance of 2024-01-17 18:00 UTC"
    >>> unread_action(("temp",), None)
    "not scored: no readings of the model's channels (temp)"
    """
    if marks is None or marks[1] is None:
        return no_readings_action(channels)
    return f"not scored: no reading of the model's channels since the maintenance of {utc_minute(marks[1])}"


def _answer(
    info: AssetInfo,
    model_id: str,
    version: str,
    horizon: float,
    unit: str,
    open_case: int | None,
    renewed_at: str | None,
    label: str | None = None,
) -> HealthAnswer:
    """The answer of an asset that is not scored (no readings yet): filled in for a scored or a down one."""
    return {
        **info,
        "model_id": model_id,
        "version": version,
        "horizon": horizon,
        "label": label,
        "unit": unit,
        "ts": None,
        "health": None,
        "probability": None,
        "rul": None,
        "rul_low": None,
        "rul_high": None,
        "risk_level": "unknown",
        "threshold": None,
        "recommended_action": "",
        "contributions": [],
        "open_case": open_case,
        "status": None,
        "renewed_at": renewed_at,
        "channels_missing": [],
    }


def unscored(info: AssetInfo, reason: str, open_case: int | None) -> HealthAnswer:
    """The answer for an asset that no model serves: ``reason`` as its recommended action."""
    answer = _answer(info, "", "", 0.0, "", open_case, None)
    answer["recommended_action"] = reason
    return answer
