"""Alerts with hysteresis and de-duplication: one degrading asset raises one alert, not a storm.

:class:`AlertPolicy` watches one score per asset (a calibrated probability, an anomaly score...):

* an alert **opens** when the score is at or above ``threshold`` for ``min_consecutive`` updates in a row;
* it stays **active** (no further alerts) until the score drops below ``clear_threshold`` (hysteresis;
  default: ``threshold``), so a score that wobbles around the threshold does not re-alert;
* after it clears, a new alert for the same asset opens only once the asset has been quiet for ``cooldown``
  (de-duplication): a crossing inside the cooldown re-activates the asset silently, because it is the same
  episode that the open case already covers.

Updates older than the asset's last update are ignored (a late message cannot reopen the past). The
per-asset state is a set of named arrays (``get_state``/``set_state``), so a stream processor can
checkpoint it and resume, and the service keeps it in the case book
(:meth:`forewarn.decide.cases.CaseBook.file_alerts`) in the same transaction as the alerts it opens, so a
restart neither forgets an active alert nor alerts again on an asset that is already in alert.

>>> policy = AlertPolicy(threshold=0.5, clear_threshold=0.3, min_consecutive=2, cooldown="1h")
>>> t = pd.Timestamp("2024-01-01", tz="UTC")
>>> [policy.update("p1", t + pd.Timedelta(minutes=m), s) is not None
...  for m, s in enumerate([0.6, 0.7, 0.8, 0.45, 0.9, 0.2, 0.9, 0.9])]
[False, True, False, False, False, False, False, False]
>>> later = t + pd.Timedelta(hours=3)
>>> alerts = [policy.update("p1", later + pd.Timedelta(minutes=m), s) for m, s in enumerate([0.1, 0.9, 0.95])]
>>> alerts[:2], (alerts[2].asset_id, alerts[2].score, alerts[2].risk_level)
([None, None], ('p1', 0.95, 'high'))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError, StateError

_NO_TIME = np.iinfo("int64").min


@dataclass(frozen=True)
class Alert:
    """One opened alert: which asset, when, which model said so, and which sensors drive it."""

    asset_id: str
    ts: pd.Timestamp
    model_id: str
    score: float
    risk_level: str
    explanation: dict[str, float] = field(default_factory=dict)
    probability: float | None = None
    rul: float | None = None
    # what raised it: "service" (health on demand), "stream" (a stream model), "drift" (forewarn monitor),
    # "failure" (a recorded failure, :func:`failure_alert`); None: unsaid
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (time as ISO 8601 text)."""
        return {
            "asset_id": self.asset_id,
            "ts": self.ts.isoformat(),
            "model_id": self.model_id,
            "score": self.score,
            "risk_level": self.risk_level,
            "explanation": dict(self.explanation),
            "probability": self.probability,
            "rul": self.rul,
            "source": self.source,
        }


#: the ``source`` and ``model_id`` of an alert that a recorded failure raises (no model said it: the events did)
FAILURE_SOURCE = "failure"
FAILURE_MODEL = "events"


def failure_alert(asset_id: str, failed_at: Any) -> Alert:
    """The alert of a recorded failure of an asset that no maintenance has renewed since (health ``down``).

    It is the fleet's most urgent fact, so it goes to the case book like a forewarning does: on the asset's open
    case, or on a new case of kind ``failure`` (:meth:`forewarn.decide.cases.CaseBook.file_alerts`). One failure
    gives one alert however often it is filed (its source, model, asset and time identify it), and the
    maintenance that renews the asset closes the case (:meth:`forewarn.decide.cases.CaseBook.close_renewed`).

    >>> alert = failure_alert("P-7", "2024-05-02 06:00")
    >>> alert.source, alert.model_id, alert.risk_level, alert.probability, str(alert.ts)
    ('failure', 'events', 'critical', 1.0, '2024-05-02 06:00:00+00:00')
    """
    return Alert(
        str(asset_id),
        _utc(failed_at),
        FAILURE_MODEL,
        1.0,
        "critical",
        {},
        probability=1.0,
        source=FAILURE_SOURCE,
    )


def _utc(ts: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(ts)
    if pd.isna(stamp):
        raise ConfigError(f"alert time {ts!r} is missing (NaT)")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@dataclass
class _AssetAlertState:
    active: bool = False
    streak: int = 0
    last_active_ns: int = _NO_TIME  # last instant the asset was in alert (for the cooldown)
    last_ns: int = _NO_TIME  # last update seen


class AlertPolicy:
    """Per-asset hysteresis and de-duplication of threshold crossings (see the module docstring).

    ``critical_threshold`` (optional) marks alerts whose score reaches it as ``critical`` instead of ``high``.
    """

    def __init__(
        self,
        *,
        threshold: float,
        clear_threshold: float | None = None,
        min_consecutive: int = 1,
        cooldown: str = "1h",
        critical_threshold: float | None = None,
    ):
        self.threshold = float(threshold)
        self.clear_threshold = self.threshold if clear_threshold is None else float(clear_threshold)
        if not math.isfinite(self.threshold) or not math.isfinite(self.clear_threshold):
            raise ConfigError("alert thresholds must be finite numbers")
        if self.clear_threshold > self.threshold:
            raise ConfigError(
                f"clear_threshold {self.clear_threshold} is above threshold {self.threshold}; "
                "an alert must clear at or below the level that opens it"
            )
        if int(min_consecutive) < 1:
            raise ConfigError(f"min_consecutive must be at least 1, got {min_consecutive}")
        self.min_consecutive = int(min_consecutive)
        try:
            self.cooldown = pd.Timedelta(cooldown)
        except (TypeError, ValueError):
            raise ConfigError(f"cooldown {cooldown!r} is not a duration; write e.g. '30min', '1h', '2D'") from None
        if pd.isna(self.cooldown) or self.cooldown < pd.Timedelta(0):
            raise ConfigError(f"cooldown must be a non-negative duration, got {cooldown!r}")
        self.critical_threshold = None if critical_threshold is None else float(critical_threshold)
        self._assets: dict[str, _AssetAlertState] = {}

    def is_active(self, asset_id: str) -> bool:
        """Whether ``asset_id`` is in alert now."""
        state = self._assets.get(asset_id)
        return bool(state and state.active)

    def update(
        self,
        asset_id: str,
        ts: Any,
        score: float,
        *,
        model_id: str = "",
        explanation: Mapping[str, float] | None = None,
        probability: float | None = None,
        rul: float | None = None,
        risk_level: str | None = None,
    ) -> Alert | None:
        """Feed one score; return an :class:`Alert` only when a new alert opens."""
        stamp = _utc(ts)
        now = int(stamp.value)
        value = float(score)
        state = self._assets.setdefault(str(asset_id), _AssetAlertState())
        if now < state.last_ns or math.isnan(value):
            return None
        state.last_ns = now
        if state.active:
            if value < self.clear_threshold:
                state.active, state.streak = False, 0
            else:
                state.last_active_ns = now
            return None
        state.streak = state.streak + 1 if value >= self.threshold else 0
        if state.streak < self.min_consecutive:
            return None
        state.active = True
        quiet_since = state.last_active_ns
        state.last_active_ns = now
        if quiet_since != _NO_TIME and now - quiet_since < self.cooldown.value:
            return None  # same episode: the open case already covers it
        if risk_level is None:
            critical = self.critical_threshold is not None and value >= self.critical_threshold
            risk_level = "critical" if critical else "high"
        return Alert(
            asset_id=str(asset_id),
            ts=stamp,
            model_id=model_id,
            score=value,
            risk_level=risk_level,
            explanation={str(k): float(v) for k, v in (explanation or {}).items()},
            probability=None if probability is None else float(probability),
            rul=None if rul is None else float(rul),
        )

    def reset(self, asset_id: str | None = None) -> None:
        """Forget one asset's alert state (after a repair) or every asset's."""
        if asset_id is None:
            self._assets.clear()
        else:
            self._assets.pop(str(asset_id), None)

    def get_state(self, assets: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Per-asset state as named arrays (times as int64 nanoseconds since the epoch, UTC).

        ``assets`` limits it to those assets (the ones an update just touched, to persist only what changed);
        assets the policy has never seen are left out.

        >>> policy = AlertPolicy(threshold=0.5)
        >>> _ = policy.update("p1", "2024-01-01", 0.9), policy.update("p2", "2024-01-01", 0.1)
        >>> policy.get_state(["p1", "unseen"])["asset_id"].tolist(), policy.get_state()["active"].tolist()
        (['p1'], [True, False])
        """
        names = list(self._assets) if assets is None else [str(a) for a in assets if str(a) in self._assets]
        states = [self._assets[n] for n in names]
        return {
            "asset_id": np.asarray(names, dtype=str),
            "active": np.asarray([s.active for s in states], dtype=bool),
            "streak": np.asarray([s.streak for s in states], dtype="int64"),
            "last_active_ns": np.asarray([s.last_active_ns for s in states], dtype="int64"),
            "last_ns": np.asarray([s.last_ns for s in states], dtype="int64"),
        }

    def set_state(self, state: Mapping[str, Any], *, merge: bool = False) -> AlertPolicy:
        """Restore :meth:`get_state` output. Returns ``self``.

        ``merge=True`` adds or replaces the assets in ``state`` and keeps the others; by default the state
        replaces every asset's.

        >>> saved = AlertPolicy(threshold=0.5)
        >>> _ = saved.update("p1", "2024-01-01", 0.9)
        >>> restored = AlertPolicy(threshold=0.5).set_state(saved.get_state())
        >>> restored.is_active("p1"), restored.update("p1", "2024-01-01 01:00", 0.95) is None
        (True, True)
        """
        keys = ("asset_id", "active", "streak", "last_active_ns", "last_ns")
        missing = [k for k in keys if k not in state]
        if missing:
            raise StateError(f"alert policy state lacks {', '.join(missing)}")
        columns = [np.asarray(state[k]).reshape(-1) for k in keys]
        if len({len(c) for c in columns}) != 1:
            raise StateError("alert policy state arrays have different lengths")
        restored = {
            str(a): _AssetAlertState(bool(on), int(streak), int(active_ns), int(last_ns))
            for a, on, streak, active_ns, last_ns in zip(*columns, strict=True)
        }
        if merge:
            self._assets.update(restored)
        else:
            self._assets = restored
        return self
