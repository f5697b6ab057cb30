"""Alerts and cases as the service handles them: the alert policy fed with fresh health, cases filed, acknowledged
and closed.

Every method that changes a case tells the health cache itself (an asset's health answer names its open case), so
no caller has to remember to: an alert filed, a case acknowledged or closed through :class:`CaseDesk` is in the
next health read, whichever face (API, dashboard, stream, CLI) made the change.

The alerts, their cases and the policy state of every asset scored are written in one transaction of the case
book, so a restarted service carries on where this one stopped (no second alert for an asset already in alert).

The case rule is the backtest's (:mod:`forewarn.decide.quiet`): an asset's case that had no alarm for the service's
``close_quiet`` and holds no failure is closed by ``forewarn`` (when the asset's next alert is filed, and at each
evaluation of the asset, against the time its readings have reached); the next alert opens a new case.
``close_quiet`` is the setting (``serve --close-quiet``), else the horizon of the model that scores health when it is
in hours (a failure model of ``forewarn train``), else :data:`~forewarn.decide.quiet.DEFAULT_CLOSE_QUIET` (7 days: a
service of stream models only, such as ``forewarn detect``'s fits).

An open case whose asset sent no reading for longer than the gap, while other assets with open cases did, stays open
and says so ("no readings since ...", :meth:`~forewarn.decide.cases.CaseBook.note_silent`): silence is no evidence
that the asset went quiet. The plant's time is the newest reading of the assets checked (those with an open case), so
a plant whose every asset with an open case stops shows no case as silent.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from forewarn.bundles.bundle import Bundle
from forewarn.decide.alerts import Alert, AlertPolicy, failure_alert
from forewarn.decide.cases import CaseBook
from forewarn.decide.quiet import DEFAULT_CLOSE_QUIET, close_quiet_setting, default_close_quiet
from forewarn.exceptions import DataNotFoundError, ForewarnError
from forewarn.serve.answers import FiledAlert
from forewarn.serve.cache import HealthCache
from forewarn.serve.health import HealthScorer
from forewarn.serve.settings import ServeSettings
from forewarn.store.window_queries import last_reading_times
from forewarn.train.labels import is_down

#: how often listing every case first closes the open ones that went quiet (seconds)
SWEEP_EVERY_S = 10.0


class CaseDesk:
    """Evaluates the alert policy and keeps the case book (thread-safe: evaluations and case changes are
    serialised; health reads never wait for them)."""

    def __init__(self, casebook: CaseBook, scorer: HealthScorer, cache: HealthCache, settings: ServeSettings):
        self.casebook = casebook
        self.scorer = scorer
        self.cache = cache
        self.settings = settings
        self.on_alert: list[Callable[[Alert], Any]] = []  # called with each alert filed (metrics)
        self._lock = threading.RLock()
        self._policies: dict[str, AlertPolicy] = {}
        self._quiet_known = False
        self._swept = -float("inf")

    def quiet(self) -> pd.Timedelta | None:
        """The case rule's gap in force (see the module text), resolved once and set on the case book."""
        if not self._quiet_known:
            with self._lock:
                self.casebook.quiet = self._resolve_quiet()
                self._quiet_known = True
        return self.casebook.quiet

    def _resolve_quiet(self) -> pd.Timedelta | None:
        if self.settings.close_quiet is not None:
            return close_quiet_setting(self.settings.close_quiet)
        models = self.scorer.models
        try:
            ids = [] if models.registry is None else models.registry.model_ids()
            if models.model_id is None and not ids:
                return DEFAULT_CLOSE_QUIET  # no model scores health: stream models alone
            bundle = models.bundle_for(model_id=models.model_id or ids[0])
        except ForewarnError:  # the model cannot be read: the default (the service says why elsewhere)
            return DEFAULT_CLOSE_QUIET
        return default_close_quiet(bundle.unit, bundle.spec.horizon)

    def close_quiet(self, asset_ids: Iterable[str]) -> list[int]:
        """Close the open cases of these assets that went quiet (the case rule) by the time their readings have
        reached (one query for the assets with an open case; an asset an alert policy scores is read at the last time it
        scored it: :meth:`~forewarn.decide.cases.CaseBook.close_quiet`); returns the ids closed."""
        if self.quiet() is None:
            return []
        opened = [a for a in map(str, asset_ids) if self.casebook.open_case_id(a) is not None]
        reached = last_reading_times(self.scorer.recent.store, opened)
        latest: dict[str, Any] = {a: pd.Timestamp(us, unit="us", tz="UTC") for a, us in reached.items()}
        with self._lock:
            closed = self.casebook.close_quiet(latest)
            for case_id in closed:
                self.cache.case_changed(str(self.casebook.case(case_id)["asset_id"]))
            if len(latest) > 1:  # how far the plant's readings went: the newest of these assets'
                self.casebook.note_silent(latest, max(latest.values()))
        return closed

    # -- reading ----------------------------------------------------------------------------------------
    def alerts(self, **filters: Any) -> list[dict[str, Any]]:
        """Alerts, newest first (``filters``: see :meth:`forewarn.decide.cases.CaseBook.alerts`)."""
        return self.casebook.alerts(**filters)

    def cases(self, **filters: Any) -> list[dict[str, Any]]:
        """Cases, newest first (``filters``: see :meth:`forewarn.decide.cases.CaseBook.cases`). The open cases that
        went quiet are closed first (the case rule): those of the asset asked about, or every open case at most every
        :data:`SWEEP_EVERY_S` seconds (a service of stream models alone is evaluated only when asked)."""
        asset_id = filters.get("asset_id")
        if asset_id is not None:
            self.close_quiet([str(asset_id)])
        elif time.monotonic() - self._swept > SWEEP_EVERY_S:
            self._swept = time.monotonic()
            self.close_quiet({str(c["asset_id"]) for c in self.casebook.cases(status="open", limit=100_000)})
        return self.casebook.cases(**filters)

    def case(self, case_id: int) -> dict[str, Any]:
        """One case; an unknown id raises :class:`~forewarn.exceptions.DataNotFoundError`."""
        return self.casebook.case(case_id)

    # -- changing ---------------------------------------------------------------------------------------
    def acknowledge(self, case_id: int, *, by: str = "", note: str | None = None) -> dict[str, Any]:
        """Mark an open case as seen by ``by``; the asset's next health shows it."""
        with self._lock:
            case = self.casebook.acknowledge(case_id, by=by, note=note)
            self.cache.case_changed(str(case["asset_id"]))
        return case

    def close(self, case_id: int, *, note: str, by: str = "") -> dict[str, Any]:
        """Close a case with a note saying what was found or done; the asset's next health has no open case."""
        with self._lock:
            case = self.casebook.close_case(case_id, note=note, by=by)
            self.cache.case_changed(str(case["asset_id"]))
        return case

    def file(self, alerts: Sequence[Alert], policy_states: Mapping[str, Mapping[str, Any]] | None = None) -> list[int]:
        """Store alerts on their assets' cases (and alert-policy state) in one transaction; returns the case ids."""
        self.quiet()
        with self._lock:
            try:
                return self.casebook.file_alerts(alerts, policy_states)
            finally:  # also after a failure: the case book may hold some of it
                for alert in alerts:
                    self.cache.case_changed(alert.asset_id)

    def reset_policies(self) -> None:
        """Forget the alert policies held in memory (thresholds changed); they are read back from the case book."""
        with self._lock:
            self._policies.clear()

    # -- the alert policy -------------------------------------------------------------------------------
    @staticmethod
    def policy_key(bundle: Bundle, asset_class: str) -> str:
        """The name an alert policy's state is stored under in the case book."""
        return f"{bundle.model_id}:{bundle.version}:{asset_class}"

    def _policy(self, bundle: Bundle, asset_class: str) -> AlertPolicy:
        """The alert policy of a model version and asset class, with its state read back from the case book."""
        key = self.policy_key(bundle, asset_class)
        if key not in self._policies:
            t = self.scorer.models.thresholds(bundle).threshold_for(asset_class)
            policy = AlertPolicy(
                threshold=t,
                clear_threshold=t * self.settings.alert_clear_ratio,
                min_consecutive=self.settings.alert_min_consecutive,
                cooldown=self.settings.alert_cooldown,
                critical_threshold=(1 + t) / 2,
            )
            self._policies[key] = policy.set_state(self.casebook.policy_state(key))
        return self._policies[key]

    def _failures(self, asset_ids: list[str]) -> tuple[list[Alert], dict[str, Any]]:
        """From the assets' events alone (no model needed): the failure alerts of down assets not filed yet, and the
        renewal time of each asset with an open case that a maintenance has renewed since its failure."""
        alerts: list[Alert] = []
        renewed: dict[str, Any] = {}
        for asset_id, marks in self.scorer.recent.events(asset_ids).items():
            if is_down(marks):
                failed = failure_alert(asset_id, marks[0])
                if not self.casebook.is_filed(failed):
                    alerts.append(failed)
            elif marks[1] is not None and self.casebook.open_case_id(asset_id) is not None:
                renewed[asset_id] = marks[1]
        return alerts, renewed

    def evaluate(self, asset_ids: Iterable[str] | None = None) -> list[FiledAlert]:
        """Score assets now (all when ``None``) and feed the alert policy; new alerts are filed into cases.
        Returns them. When the case book cannot be written, the policies are read back from it next time.

        A down asset (a recorded failure with no renewing maintenance since) files its failure once
        (:func:`~forewarn.decide.alerts.failure_alert`): on its open case, or on a new case of kind ``failure``;
        the renewing maintenance closes that case (:meth:`~forewarn.decide.cases.CaseBook.close_renewed`) at the
        next evaluation of the asset. Both follow the events alone: an asset no served model scores gets them too."""
        plant, models = self.scorer.plant, self.scorer.models
        with self._lock:
            known = plant.table()
            ids = list(known["asset_id"]) if asset_ids is None else list(asset_ids)
            scorable = []
            for asset_id in map(str, ids):
                try:
                    if asset_id in known.index:
                        models.bundle_for(str(known.loc[asset_id, "asset_class"]))
                        scorable.append(asset_id)
                except DataNotFoundError:
                    continue  # no model serves this asset's class: nothing to alert on
            alerts, renewed = self._failures([a for a in map(str, ids) if a in known.index])
            touched: dict[str, list[str]] = {}
            for health in self.scorer.health_many(scorable):
                if health["probability"] is None or health["status"] == "down":
                    continue  # nothing scored, or a known failure (filed above: not a forewarning)
                bundle = models.bundle_for(health["asset_class"])
                policy = self._policy(bundle, health["asset_class"])
                alert = policy.update(
                    health["asset_id"],
                    health["ts"],
                    health["probability"],
                    model_id=f"{bundle.model_id}:{bundle.version}",
                    explanation={c["sensor"]: c["contribution"] or 0.0 for c in health["contributions"]},
                    probability=health["probability"],
                    rul=health["rul"],
                    risk_level=health["risk_level"],
                )
                alert = None if alert is None else dataclasses.replace(alert, source="service")
                touched.setdefault(self.policy_key(bundle, health["asset_class"]), []).append(health["asset_id"])
                if alert is not None:
                    alerts.append(alert)
            if renewed:
                for case_id in self.casebook.close_renewed(renewed):
                    self.cache.case_changed(str(self.casebook.case(case_id)["asset_id"]))
            if not touched and not alerts:
                self.close_quiet([a for a in map(str, ids) if a in known.index])
                return []
            states = {key: self._policies[key].get_state(assets) for key, assets in touched.items()}
            try:
                case_ids = self.file(alerts, states)
            except Exception:
                for key in touched:  # memory ran ahead of the case book: read it back next time
                    self._policies.pop(key, None)
                raise
            self.close_quiet([a for a in map(str, ids) if a in known.index])
        filed: list[FiledAlert] = []
        for alert, case_id in zip(alerts, case_ids, strict=True):
            for callback in self.on_alert:
                callback(alert)
            filed.append({**alert.to_dict(), "case_id": case_id})  # type: ignore[typeddict-item]
        return filed
