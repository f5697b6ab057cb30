"""Retraining on a schedule inside ``forewarn serve``: ``--retrain-every 7d`` and/or ``--retrain-on-drift``.

A daemon thread wakes every ``check`` (the retrain period, or a day when only drift triggers it). For each model
id of the service's registry it runs :func:`forewarn.monitor.runner.monitor` over the last ``window_days`` when
drift is a trigger (drift alerts are filed as cases of kind ``drift``), then
:func:`forewarn.monitor.retrain.retrain` when the period has passed since the model's last retraining or the
monitor reported drift. The champion keeps serving meanwhile: the challenger is trained on the service's own
store connection (a DuckDB file is open in one process at a time), whose lock is held per query only, and is
promoted, if it wins, by the registry's atomic switch. A failed run is logged and retried at the next wake-up;
it never stops the service.

Settings come from :attr:`forewarn.serve.settings.ServeSettings.extra`: ``retrain_every`` (a span such as
``"7d"``), ``retrain_on_drift`` (bool), ``retrain_margin`` and ``retrain_judge_days``.

>>> parse_every("7d"), parse_every(None)
(Timedelta('7 days 00:00:00'), None)
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pandas as pd

from forewarn.exceptions import ConfigError, ForewarnError

log = logging.getLogger("forewarn.serve")


#: the shortest retraining period: each run trains a challenger on months of data and files a version
MIN_EVERY = pd.Timedelta(hours=1)


def parse_every(value: Any) -> pd.Timedelta | None:
    """A retraining period of at least :data:`MIN_EVERY`, or ``None`` for none ('1s' retrained without a pause
    and filed a new version each time).

    >>> parse_every("30min")
    Traceback (most recent call last):
    ...
    forewarn.exceptions.ConfigError: retrain every '30min': give a span of 1h or more (each run trains a challenger and files a version)
    """
    if value is None or value == "":
        return None
    from forewarn.train.spec import timespan  # "7d" as people write it (pandas warns on a lower-case d)

    try:
        span = timespan(str(value))
    except (ValueError, ConfigError):
        span = pd.Timedelta(0)
    if span <= pd.Timedelta(0):
        raise ConfigError(f"retrain every {value!r}: give a positive span such as '7d' or '12h'")
    if span < MIN_EVERY:
        raise ConfigError(
            f"retrain every {value!r}: give a span of 1h or more (each run trains a challenger and files a version)"
        )
    return span


class RetrainSchedule:
    """The background retraining of a :class:`~forewarn.serve.service.HealthService` (see the module text)."""

    def __init__(self, service: Any, *, every: pd.Timedelta | None, on_drift: bool, **options: Any):
        self.service = service
        self.every = every
        self.on_drift = on_drift
        self.options = options
        self.check = every if every is not None else pd.Timedelta(days=1)
        self.last: dict[str, dict[str, Any]] = {}  # model id -> the last decision (or error)
        self._done: dict[str, pd.Timestamp] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="forewarn-retrain", daemon=True)

    @classmethod
    def from_settings(cls, service: Any) -> RetrainSchedule | None:
        extra = dict(service.settings.extra or {})
        every = parse_every(extra.get("retrain_every"))
        on_drift = bool(extra.get("retrain_on_drift", False))
        if (every is None and not on_drift) or service.registry is None:
            return None
        options = {k: extra[k] for k in ("retrain_margin", "retrain_judge_days") if k in extra}
        return cls(service, every=every, on_drift=on_drift, **options)

    def start(self) -> RetrainSchedule:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.check.total_seconds()):
            self.run_once()

    def run_once(self, now: pd.Timestamp | None = None) -> dict[str, dict[str, Any]]:
        """One wake-up: monitor and retrain what is due; returns what was done per model id."""
        from forewarn.monitor.retrain import retrain
        from forewarn.monitor.runner import file_drift_cases, monitor

        now = now if now is not None else pd.Timestamp.now(tz="UTC")
        registry = self.service.registry
        done: dict[str, dict[str, Any]] = {}
        for model_id in registry.model_ids():
            if self._stop.is_set():
                break
            try:
                drifted = False
                if self.on_drift:
                    report = monitor(self.service.store, registry.root, model_id=model_id, days=7)
                    file_drift_cases(self.service.casebook, report)
                    drifted = any(m["drift_alerts"] for m in report["models"])
                due = self.every is not None and now - self._done.get(model_id, pd.Timestamp(0, tz="UTC")) >= self.every
                if not (due or drifted):
                    continue
                decision = retrain(
                    self.service.store,
                    registry.root,
                    model_id,
                    margin=float(self.options.get("retrain_margin", 0.02)),
                    judge_days=int(self.options.get("retrain_judge_days", 30)),
                )
                decision["trigger"] = "drift" if drifted else "schedule"
                self._done[model_id] = now
                done[model_id] = decision
                log.info("retrained %s: %s", model_id, decision["reason"])
            except (ForewarnError, OSError, ValueError) as err:
                done[model_id] = {"error": str(err)}
                log.warning("retraining %s failed: %s", model_id, err)
        self.last.update(done)
        return done
