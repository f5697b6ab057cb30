"""The twin's ceiling for issue 14's forewarning target: what a detector that read the truth could reach.

Issue 14 asks, with no labels used, for alarms that precede 60 % or more of the twin fleet's failures by at least
24 h at 1 false alarm per asset-month or fewer. This script asks whether that is possible on this twin at all. It
scores *oracle* detectors on the very fleets and event protocol of ``benchmarks/detect.py --parts forewarning``
(4 sites, 48 assets, 180 days of hourly rows, degradation 3x; an episode start 7 d to 24 h before a failure
forewarns it, a start that forewarns nothing is a false alarm, starts while the asset is down do not count; the
figures are that script's own :func:`forewarning_part`, called with the oracle as its detector). Each oracle gives
every row a *surprise* ``e >= 0``; its ``anomaly_score`` is the ensemble's own map
(:func:`forewarn.models.anomaly.ensemble.to_unit`: 0.5 where ``e`` equals the level), and the one alarm rule
(:class:`forewarn.decide.alarms.AlarmRule`, default hysteresis and refractory) turns scores into episodes. The
level is swept; nothing else is tuned. The oracles (``--oracles``):

* ``health``: ``e = 100 x (1 - health)``, the twin's true health index (``1 - max damage``, each damage
  normalised so that the asset fails when it reaches 1; 0 while the asset is down): a fleet-wide floor on true
  health, percent of the way to failure. Reads what the simulator knows, not the sensors.
* ``damage``: ``e = 100 x`` the largest excess of any failure mode's true damage over that mode's highest damage
  in the asset's training part (the first 15 % of its rows, what the detector fits on): damage beyond what the
  detector could have learned as normal (100 while down). A mode that came near failure inside the training part
  (a fan that fails every few weeks from imbalance) is therefore invisible to this oracle and the next ones, as
  it is to a detector fitted on those rows.
* ``observable``: the same damage excess seen through the sensor model: the fleet rendered without measurement
  noise and without sensor faults twice, once with the true damage and once with each mode's damage capped at
  its training-part maximum (same schedule, loads, oil, impeller wear, calibration); ``e`` = the largest
  difference over channels in units of that channel's measurement noise (``forewarn.twin.render.NOISE`` at the
  capped reading). A deviation the sensors carry, before noise; a level of 5 means "5 noise spreads".
* ``known_model``: the real readings (noise and sensor faults included) against the same capped, noise-free
  rendering, in noise units (largest over channels): a detector that knows the healthy machine exactly at every
  operating point. This one can be fooled, by noise and by the twin's sensor faults.
* ``observable_held``: the ``observable`` surprise with each stopped hour holding the last running hour's value
  (:func:`held_through_stops`): a stop hides a deviation, it does not end it; without this the noise-free
  deviation itself closes and re-opens an episode at every stop.
* ``damage_growth``, ``observable_growth``: how far the ``damage`` / ``observable`` surprise has risen above its
  median over the running hours 24-72 h before (:func:`growth`): not a level but a rise, for the question
  whether a member on a deviation's growth could place alarm starts inside the 7-day window.
* ``damage_projection``: ``1 / weeks`` to failure projected from each mode's true damage and its rise over the
  last 48 h (:func:`projected_weeks`; the nearest mode): a prognostic oracle that also knows where the failure
  limit lies, the most a health reading can say about *when*.

Reported per fleet and oracle: the sweep (forewarned share and false alarms per asset-month at each level), the
*ceiling* (the best forewarned share at <= 1 false alarm per asset-month, the level picked in hindsight on the
same fleet: an upper bound, not a result), the level chosen on the validation fleets 3 and 4 (the largest total
forewarned there with <= 1 on each) and its figures on fleets 0-2, measured once. Beside them:

* failures no detector can forewarn (:func:`unforewarnable`): inside the training part (or with their 7-day
  window reaching into it; the protocol still counts alarms there, and the oracles do raise them), and those
  whose deviation began less than 24 h before the failure, or not at all: the ``observable`` surprise at 3 and
  5 noise spreads (stopped hours passed over), and the failing mode's own damage excess at 5 % and 20 %;
* a labelled sensitivity, **not the standing protocol** (:func:`open_at_lead`): a failure counts as forewarned
  when an episode is *open* 24 h before it, whatever its start; an episode open 24 h before no failure of its
  asset is false. An episode open all the time passes it, so each point also gives the share of asset-hours in
  alarm, and its ceiling is given twice: as is, and with at most :data:`MAX_ALARM_SHARE` of the time in alarm.
  It shows how much of the ceiling the 7-day start window costs.

``--with-detector [MODULE:FUNCTION]`` adds a real detector (no value: ``forewarn detect``'s default) on the same
fleets, under the standing count (``forewarning_part``, as ``benchmarks/detect.py`` reports it) and the
sensitivity; ``--oracles ""`` runs it alone.

Run (seeds 3 and 4 first: they choose the level)::

    .venv/bin/python benchmarks/detect_ceiling.py --seeds 3,4,0,1,2 --json /tmp/h3/ceiling.json
    .venv/bin/python benchmarks/detect_ceiling.py --seeds 3,4,0,1,2 --oracles "" --with-detector

Each fleet takes seconds to simulate and render twice without noise; the sweeps take most of the time (about 3
minutes a fleet for every oracle on 2 loaded cores). Numeric libraries run on one thread.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forewarn.decide.alarms import AlarmRule, find_alarms  # noqa: E402
from forewarn.evaluate.events import MONTH  # noqa: E402
from forewarn.models.anomaly.ensemble import TRAIN_FRACTION, to_unit  # noqa: E402
from forewarn.train.labels import renewals  # noqa: E402
from forewarn.twin import render  # noqa: E402
from forewarn.twin.assets import CHANNEL_NAMES  # noqa: E402
from forewarn.twin.fleet import Fleet, FleetConfig, simulate_fleet  # noqa: E402
from forewarn.twin.sensors import SensorFaults  # noqa: E402

_spec = importlib.util.spec_from_file_location("detect_bench", Path(__file__).with_name("detect.py"))
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

LEAD = pd.Timedelta(hours=24)
WINDOW = pd.Timedelta(days=7)
ORACLES = (
    "health",
    "damage",
    "observable",
    "known_model",
    "damage_growth",
    "observable_growth",
    "damage_projection",
    "observable_held",
)
#: Levels swept: percent of the way to failure (health, damage) and noise spreads (observable, known_model).
LEVELS = {
    "health": [float(v) for v in np.arange(20.0, 99.5, 2.5)],
    "damage": [float(v) for v in (*np.arange(1.0, 10.0, 1.0), *np.arange(10.0, 99.5, 2.5))],
    "observable": [float(v) for v in np.geomspace(1.0, 3000.0, 36).round(2)],
    "known_model": [float(v) for v in np.geomspace(3.0, 3000.0, 31).round(2)],
    "damage_growth": [float(v) for v in np.geomspace(0.2, 50.0, 25).round(3)],
    "observable_growth": [float(v) for v in np.geomspace(1.0, 3000.0, 36).round(2)],
    "damage_projection": [float(v) for v in np.geomspace(0.05, 20.0, 27).round(3)],
    "observable_held": [float(v) for v in np.geomspace(1.0, 3000.0, 36).round(2)],
}
#: Growth oracles: the surprise now against the median of the running rows ``GROWTH_LAG`` to
#: ``GROWTH_LAG + GROWTH_SPAN`` hours before.
GROWTH_LAG, GROWTH_SPAN = 24, 48
VALIDATION = (3, 4)
#: The sensitivity's ceiling also asks that at most this share of the asset-hours lie inside an episode (an
#: episode open all the time is open 24 h before every failure).
MAX_ALARM_SHARE = 0.10
#: What the summary reports: (name, which count, the cap on the share of time in alarm).
VIEWS = (
    ("standing", "standing", None),
    ("open_at_24h", "open_at_24h", None),
    ("open_at_24h_bounded", "open_at_24h", MAX_ALARM_SHARE),
)


def fleet_config(seed: int, sites: int = 4, assets: int = 48, days: int = 180) -> FleetConfig:
    """The failing fleet exactly as :func:`detect.forewarning_part` simulates it (its defaults)."""
    return FleetConfig(sites=sites, assets=assets, days=days, seed=seed, interval="1h", degradation_scale=3.0)


def train_rows(n_rows: int) -> int:
    """Rows of an asset's training part: the detector's default fit (the first 15 %), as ``forewarning_part``
    counts them.

    >>> train_rows(4320), train_rows(20)
    (648, 10)
    """
    return max(10, int(TRAIN_FRACTION * n_rows))


def capped_damage(damage: np.ndarray, n_train: int) -> np.ndarray:
    """Each mode's damage ``(assets, modes, hours)`` capped at its maximum over the first ``n_train`` hours: the
    machine as it would be had nothing degraded beyond what its training part held (a repair still lowers it).

    >>> d = np.array([[[0.1, 0.2, 0.5, 0.9, 0.0]]])
    >>> capped_damage(d, 2).tolist()
    [[[0.1, 0.2, 0.2, 0.2, 0.0]]]
    """
    ceiling = damage[:, :, :n_train].max(axis=2, keepdims=True)
    return np.minimum(damage, ceiling)


def damage_excess(damage: np.ndarray, n_train: int, down: np.ndarray) -> np.ndarray:
    """``100 x`` the largest excess of a mode's damage over its training-part maximum, per asset and hour; 100
    while the asset is down (``down`` ``(assets, hours)``, true health 0).

    >>> d = np.array([[[0.1, 0.1, 0.3, 0.6], [0.2, 0.0, 0.25, 0.2]]])
    >>> damage_excess(d, 2, np.array([[False, False, False, True]])).round(1).tolist()
    [[0.0, 0.0, 20.0, 100.0]]
    """
    excess = (damage - capped_damage(damage, n_train)).max(axis=1)
    return np.where(down, 100.0, 100.0 * excess)


def measurement_sd(reference: np.ndarray) -> np.ndarray:
    """The twin's measurement-noise spread ``(channels, assets, steps)`` at the noise-free readings
    ``reference`` (``forewarn.twin.render.NOISE``: relative and absolute parts); NaN for channels without their own
    noise (the crest factor, derived from peak and RMS).

    >>> ref = np.ones((len(CHANNEL_NAMES), 1, 1)) * 2.0
    >>> sd = measurement_sd(ref)[:, 0, 0]
    >>> float(sd[CHANNEL_NAMES.index("power")]), float(sd[CHANNEL_NAMES.index("winding_temp")])
    (0.02, 0.2)
    >>> bool(np.isnan(sd[CHANNEL_NAMES.index("vib_crest")]))
    True
    """
    sd = np.full(reference.shape, np.nan)
    for name, (rel, absolute) in render.NOISE.items():
        i = CHANNEL_NAMES.index(name)
        sd[i] = np.hypot(rel * np.abs(reference[i]), absolute)
    return sd


def noise_units(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The largest ``|values - reference|`` over channels in measurement-noise spreads (:func:`measurement_sd`),
    per asset and step; channels without a spread or a value are left out (0 when none is left). A channel
    whose spread is 0 (a relative noise at a reading of 0: a stopped machine's speed) counts 0 when the readings
    agree and ``inf`` otherwise.

    >>> ref = np.ones((len(CHANNEL_NAMES), 1, 3)) * 10.0
    >>> values = ref.copy()
    >>> values[CHANNEL_NAMES.index("winding_temp"), 0, 1] += 1.0     # 5 spreads of 0.2 degrees
    >>> values[CHANNEL_NAMES.index("power"), 0, 2] = np.nan          # a dropout is left out
    >>> noise_units(values, ref).round(6).tolist()
    [[0.0, 5.0, 0.0]]
    """
    sd = measurement_sd(reference)
    gap = np.abs(values - reference)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, gap / sd, np.where(gap > 0, np.inf, 0.0))
    z[np.isnan(gap) | np.isnan(sd)] = np.nan
    usable = ~np.isnan(z).all(axis=0)
    out = np.zeros(z.shape[1:])
    out[usable] = np.nanmax(z[:, usable], axis=0)
    return out


def _no_sensor_faults() -> SensorFaults:
    empty = np.zeros(0, dtype=np.int64)
    return SensorFaults(empty, empty, np.zeros(0, dtype=object), empty, empty, np.zeros(0))


def clean_values(fleet: Fleet, damage: np.ndarray | None = None) -> np.ndarray:
    """The fleet's readings ``(channels, assets, steps)`` rendered without measurement noise or sensor faults
    (site calibration and the within-hour load wobble kept), with ``damage`` in place of the true damage when
    given. The renderer draws its load wobble before the noise, so both renders share it."""
    plan = fleet.plan if damage is None else replace(fleet.plan, damage=damage.astype(fleet.plan.damage.dtype))
    twin = replace(fleet, plan=plan, faults=_no_sensor_faults(), _cache={})
    with mock.patch.dict(render.NOISE, {name: (0.0, 0.0) for name in render.NOISE}):
        return np.concatenate([chunk.arrays.values for chunk in twin.iter_chunks()], axis=2)


def true_health(fleet: Fleet) -> np.ndarray:
    """The twin's true health ``(assets, steps)`` (0 while an asset is down after a failure)."""
    return fleet.truth["health"].to_numpy(dtype="float64").reshape(len(fleet.assets), fleet.steps)


def stopped_hours(fleet: Fleet, health: np.ndarray) -> np.ndarray:
    """Hours an asset that is up did not run (its schedule's stops), ``(assets, hours)``."""
    return (fleet.plan.run <= 0.0) & (health > 0.0)


def growth(surprise: np.ndarray, stopped: np.ndarray, lag: int = GROWTH_LAG, span: int = GROWTH_SPAN) -> np.ndarray:
    """How far each row's surprise ``(assets, steps)`` has risen above the median of the running rows ``lag`` to
    ``lag + span`` rows before it (0 where it has not, where the machine is stopped, or with no such row).

    >>> s = np.array([[1.0, 1.0, 1.0, 4.0, 9.0]])
    >>> growth(s, np.zeros_like(s, dtype=bool), lag=1, span=2).tolist()
    [[0.0, 0.0, 0.0, 3.0, 6.5]]
    """
    out = np.zeros_like(surprise)
    for i, row in enumerate(surprise):
        running = pd.Series(np.where(stopped[i], np.nan, row))
        before = running.shift(lag).rolling(span, min_periods=1).median().to_numpy()
        out[i] = np.where(stopped[i] | np.isnan(before), 0.0, np.maximum(row - np.nan_to_num(before), 0.0))
    return out


def held_through_stops(surprise: np.ndarray, stopped: np.ndarray) -> np.ndarray:
    """Each stopped hour takes the surprise of the asset's last running hour (0 before the first): a machine
    standing still shows no vibration or load, so its deviation is not gone, only unseen (a detector knows the
    machine stopped from its speed).

    >>> held_through_stops(np.array([[0.0, 7.0, 0.0, 0.0, 8.0]]), np.array([[True, False, True, True, False]])).tolist()
    [[0.0, 7.0, 7.0, 7.0, 8.0]]
    """
    shown = pd.DataFrame(np.where(stopped, np.nan, surprise).T)
    return shown.ffill().fillna(0.0).to_numpy().T


def projected_weeks(damage: np.ndarray, down: np.ndarray, span: int = GROWTH_SPAN) -> np.ndarray:
    """``1 / (weeks to failure)`` projected from the true damage, per asset and hour: for each mode, its
    distance to the failure limit (1) over its rise in the last ``span`` hours, the nearest mode; 0 where no mode
    rose, ``1e3`` while down. A prognostic oracle: it knows where the failure limit lies.

    >>> d = np.array([[[0.0, 0.2, 0.4, 0.6, 0.6], [0.1, 0.1, 0.1, 0.1, 0.1]]])    # one mode gains 0.2 an hour
    >>> projected_weeks(d, np.zeros((1, 5), bool), span=1).round(2).tolist()
    [[0.0, 42.0, 56.0, 84.0, 0.0]]
    """
    rise = damage - np.concatenate([np.repeat(damage[:, :, :1], span, axis=2), damage[:, :, :-span]], axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        hours = np.where(rise > 0, np.clip(1.0 - damage, 0.0, None) * span / rise, np.inf)
    return np.where(down, 1e3, 168.0 / np.maximum(hours.min(axis=1), 1e-9))


def oracle_surprises(fleet: Fleet, oracles: Sequence[str]) -> dict[str, np.ndarray]:
    """Each oracle's surprise ``(assets, steps)`` on an hourly fleet (module text)."""
    n, steps = len(fleet.assets), fleet.steps
    if fleet.interval_minutes != 60:
        raise ValueError("the oracles read the hourly damage: simulate the fleet at interval '1h'")
    health = true_health(fleet)
    n_train = train_rows(steps)
    damage = fleet.plan.damage.astype("float64")
    down, stopped = health <= 0.0, stopped_hours(fleet, health)
    out: dict[str, np.ndarray] = {}
    if "health" in oracles:
        out["health"] = 100.0 * (1.0 - health)
    if {"damage", "damage_growth"} & set(oracles):
        excess = damage_excess(damage, n_train, down)
        if "damage" in oracles:
            out["damage"] = excess
        if "damage_growth" in oracles:
            out["damage_growth"] = growth(excess, stopped)
    if "damage_projection" in oracles:
        out["damage_projection"] = projected_weeks(damage, down)
    if {"observable", "known_model", "observable_held", "observable_growth"} & set(oracles):
        reference = clean_values(fleet, capped_damage(damage, n_train)).astype("float64")
        seen = noise_units(clean_values(fleet).astype("float64"), reference)
        if "observable" in oracles:
            out["observable"] = seen
        if "observable_held" in oracles:
            out["observable_held"] = held_through_stops(seen, stopped)
        if "observable_growth" in oracles:
            out["observable_growth"] = growth(seen, stopped)
        if "known_model" in oracles:
            readings = fleet.readings
            values = np.stack([readings[name].to_numpy(dtype="float64").reshape(n, steps) for name in CHANNEL_NAMES])
            out["known_model"] = noise_units(values, reference)
    return out


class Oracle:
    """A detector for :func:`detect.forewarning_part`: the surprise of the asset being scored, through
    :func:`to_unit` at ``level``. The harness scores the fleet's assets in their order, one call each; every call
    is checked against that asset's readings, so a change of order fails loudly instead of scoring the wrong
    asset."""

    def __init__(self, fleet: Fleet, surprise: np.ndarray, level: float) -> None:
        self.fleet, self.surprise, self.level, self.calls = fleet, surprise, level, 0

    def __call__(self, frame: pd.DataFrame, n_train: int | None) -> np.ndarray:
        index = self.calls
        self.calls += 1
        asset = self.fleet.assets[index]
        rows = self.fleet.readings[self.fleet.readings["asset_id"] == asset.asset_id]
        channel = next(c for c in frame.columns if c != "timestamp")
        expected = rows[channel].to_numpy(dtype="float64")
        if len(frame) != len(expected) or not np.array_equal(frame[channel].to_numpy(), expected, equal_nan=True):
            raise RuntimeError(f"call {index}: the frame is not {asset.asset_id}'s readings")
        return to_unit(self.surprise[index], self.level)


@contextmanager
def fleet_reused(fleet: Fleet) -> Iterator[None]:
    """``forewarning_part`` simulates its fleet; hand it this one (checked to be the same configuration)."""

    def same(config: FleetConfig) -> Fleet:
        if config != fleet.config:
            raise RuntimeError(f"forewarning_part asked for {config}, not {fleet.config}")
        return fleet

    with mock.patch("forewarn.twin.simulate_fleet", same):
        yield


def protocol_figures(fleet: Fleet, surprise: np.ndarray, level: float, rule: AlarmRule) -> dict[str, Any]:
    """``detect.forewarning_part``'s figures for the oracle at ``level`` (the standing protocol)."""
    config = fleet.config
    with fleet_reused(fleet):
        figures = bench.forewarning_part(
            Oracle(fleet, surprise, level), rule, config.seed, config.sites, config.assets, config.days
        )
    keep = ("failures", "forewarned", "forewarned_share", "false_alarms", "false_alarms_per_asset_month")
    out = {key: figures[key] for key in keep}
    out.update(level=level, lead_hours_median=figures["lead_hours_median"], miss_reasons=figures["miss_reasons"])
    return out


class Recording:
    """Wraps a detector for :func:`detect.forewarning_part` and keeps each call's scores, in call order (the
    fleet's asset order)."""

    def __init__(self, detector: Callable[[pd.DataFrame, int | None], np.ndarray]) -> None:
        self.detector, self.scores = detector, []

    def __call__(self, frame: pd.DataFrame, n_train: int | None) -> np.ndarray:
        scores = np.asarray(self.detector(frame, n_train), dtype="float64")
        self.scores.append(scores)
        return scores


def detector_figures(fleet: Fleet, spec: str | None, rule: AlarmRule) -> dict[str, Any]:
    """A real detector (``module:function``, ``None`` = ``forewarn detect``'s default) on the same fleet: its
    standing figures (``forewarning_part``) beside the labelled sensitivity of its own scores."""
    recording = Recording(bench.load_detector(spec))
    config = fleet.config
    with fleet_reused(fleet):
        figures = bench.forewarning_part(recording, rule, config.seed, config.sites, config.assets, config.days)
    keep = ("failures", "forewarned", "forewarned_share", "false_alarms_per_asset_month", "lead_hours_median")
    episodes = fleet_episodes(fleet, np.stack(recording.scores), rule)
    events = fleet.events
    failures = events.loc[events["kind"] == "failure", ["asset_id", "ts"]]
    months = len(fleet.assets) * (fleet.steps - 1) * pd.Timedelta(hours=1) / MONTH
    share = alarm_hours_share(episodes, len(fleet.assets) * fleet.steps)
    return {
        "detector": spec or "forewarn detect's default",
        "standing": {**{key: figures[key] for key in keep}, "miss_reasons": figures["miss_reasons"]},
        "open_at_24h": {**open_at_lead(episodes, failures, months), "alarm_hours_share": share},
    }


def down_spans(failures: Sequence[pd.Timestamp], repairs: pd.Series, end: pd.Timestamp) -> list[tuple[Any, Any]]:
    """An asset's down periods ``[failure, next renewing maintenance)`` (to ``end`` when none follows): when
    ``forewarning_part`` does not count an alarm start (its rule, written inline there, so restated here).

    >>> t = pd.Timestamp("2024-01-10", tz="UTC")
    >>> down_spans([t], pd.Series([t - pd.Timedelta(days=1), t + pd.Timedelta(hours=30)]), t + pd.Timedelta(days=9))
    [(Timestamp('2024-01-10 00:00:00+0000', tz='UTC'), Timestamp('2024-01-11 06:00:00+0000', tz='UTC'))]
    """
    out = []
    for failed in failures:
        later = repairs[repairs > failed]
        out.append((failed, later.min() if len(later) else end))
    return out


def open_at_lead(
    episodes: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]],
    failures: pd.DataFrame,
    months: float,
    lead: pd.Timedelta = LEAD,
) -> dict[str, Any]:
    """The labelled sensitivity (module text; not the standing protocol): a failure is forewarned when an episode
    of its asset (``(start, end)`` times, starts while down already removed) is open ``lead`` before it, whatever
    its start; an episode open ``lead`` before no failure is a false alarm. ``months``: asset-months watched.

    >>> t = pd.Timestamp("2024-02-01", tz="UTC")
    >>> day = pd.Timedelta(days=1)
    >>> failures = pd.DataFrame({"asset_id": ["a", "b"], "ts": [t, t]})
    >>> episodes = {"a": [(t - 40 * day, t - 0.5 * day), (t - 60 * day, t - 50 * day)], "b": [(t - 3 * day, t - 2 * day)]}
    >>> open_at_lead(episodes, failures, 2.0)
    {'failures': 2, 'forewarned': 1, 'forewarned_share': 0.5, 'false_alarms': 2, 'false_alarms_per_asset_month': 1.0}
    """
    caught = false = 0
    for asset, found in episodes.items():
        at = failures.loc[failures["asset_id"] == asset, "ts"] - lead
        useful = [any(start <= t <= end for t in at) for start, end in found]
        false += len(found) - sum(useful)
    for asset, failed in zip(failures["asset_id"], failures["ts"], strict=True):
        caught += any(start <= failed - lead <= end for start, end in episodes.get(asset, []))
    n = len(failures)
    return {
        "failures": n,
        "forewarned": int(caught),
        "forewarned_share": caught / n if n else None,
        "false_alarms": int(false),
        "false_alarms_per_asset_month": false / months if months else None,
    }


def fleet_episodes(
    fleet: Fleet, scores: np.ndarray, rule: AlarmRule
) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """Each asset's episodes ``(start, end)`` of its ``anomaly_score`` row ``scores[asset]`` under ``rule``, those
    that start while the asset is down left out."""
    events = fleet.events.assign(ts=pd.to_datetime(fleet.events["ts"], utc=True))
    failures = events.loc[events["kind"] == "failure", ["asset_id", "ts"]]
    renewed = renewals(events)
    times = pd.Series(pd.date_range(fleet.start, periods=fleet.steps, freq="1h"))
    end = times.iloc[-1] + pd.Timedelta(hours=1)
    out: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = {}
    for index, asset in enumerate(fleet.assets):
        _, found = find_alarms(scores[index], rule)
        spans = down_spans(
            list(failures.loc[failures["asset_id"] == asset.asset_id, "ts"]),
            renewed.loc[renewed["asset_id"] == asset.asset_id, "ts"],
            end,
        )
        out[asset.asset_id] = [
            (times.iloc[e.start], times.iloc[e.end])
            for e in found
            if not any(a <= times.iloc[e.start] < b for a, b in spans)
        ]
    return out


def alarm_hours_share(episodes: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]], asset_hours: float) -> float:
    """The share of ``asset_hours`` (hourly rows) that lie inside an episode, ends included: how much of the time
    a detector is in alarm (an episode open all the time would forewarn every failure under the sensitivity).

    >>> t = pd.Timestamp("2024-01-01", tz="UTC")
    >>> alarm_hours_share({"a": [(t, t + pd.Timedelta(hours=9))], "b": []}, 40.0)
    0.25
    """
    hours = sum((end - start) / pd.Timedelta(hours=1) + 1 for found in episodes.values() for start, end in found)
    return float(hours / asset_hours)


def onset_lead_hours(surprise: np.ndarray, failed_row: int, threshold: float, stopped: np.ndarray | None = None) -> int:
    """Hours from the start of the run of rows at or above ``threshold`` that reaches the row before a failure
    (row ``failed_row``) to the failure; 0 when that row is under the threshold (no observable onset). Rows where
    ``stopped`` is true (the machine standing still: no vibration, no load, nothing a damage can show on) neither
    break the run nor start it.

    >>> onset_lead_hours(np.array([0, 6, 0, 5, 7, 9, 0]), 6, 5)
    3
    >>> onset_lead_hours(np.array([0, 6, 0, 5, 7, 1, 0]), 6, 5)
    0
    >>> onset_lead_hours(np.array([0, 6, 0, 5, 0, 9, 0]), 6, 5, stopped=np.array([0, 0, 0, 0, 1, 0, 0], bool))
    3
    """
    first, row = failed_row, failed_row - 1
    while row >= 0:
        if stopped is None or not stopped[row]:
            if surprise[row] < threshold:
                break
            first = row
        row -= 1
    return failed_row - first


def unforewarnable(fleet: Fleet, surprises: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per failure: its mode, whether it or its 7-day window lies in the training part, and how long before it
    its deviation began (:func:`onset_lead_hours`, stopped hours passed over; a down period ends the run): the
    ``observable`` surprise at 3 and 5 noise spreads, and the failing mode's own damage excess over its
    training-part maximum at 5 % and 20 % of the way to failure; counts of those under 24 h (no detector can
    forewarn them by 24 h: their deviation is not there, or not yet above the noise, a day ahead)."""
    from forewarn.twin.assets import MODES

    events = fleet.events
    failures = events.loc[events["kind"] == "failure"]
    n_train = train_rows(fleet.steps)
    train_end = fleet.start + pd.Timedelta(hours=n_train)
    stopped = stopped_hours(fleet, true_health(fleet))
    damage = fleet.plan.damage.astype("float64")
    excess = damage - capped_damage(damage, n_train)
    rows = []
    for asset, ts, mode in zip(
        failures["asset_id"], pd.to_datetime(failures["ts"], utc=True), failures["failure_mode"], strict=True
    ):
        index = fleet.index_of(asset)
        failed_row = int((ts - fleet.start) // pd.Timedelta(hours=1))
        row: dict[str, Any] = {
            "asset_id": asset,
            "ts": ts.isoformat(),
            "mode": mode,
            "in_training": bool(ts < train_end),
            "window_in_training": bool(ts - WINDOW < train_end),
        }
        if "observable" in surprises:
            for k in (3.0, 5.0):
                row[f"onset_h_observable_{k:g}"] = onset_lead_hours(
                    surprises["observable"][index], failed_row, k, stopped[index]
                )
        mode_excess = 100.0 * excess[index, MODES.index(mode)]
        for pct in (5.0, 20.0):
            row[f"onset_h_damage_{pct:g}pct"] = onset_lead_hours(mode_excess, failed_row, pct)
        rows.append(row)
    counts: dict[str, Any] = {
        "failures": len(rows),
        "in_training": sum(r["in_training"] for r in rows),
        "window_in_training": sum(r["window_in_training"] for r in rows),
    }
    for key in [k for k in (rows[0] if rows else {}) if k.startswith("onset_h_")]:
        name = key.removeprefix("onset_h_")
        short = [r for r in rows if not r["window_in_training"] and r[key] < 24]
        counts[f"onset_under_24h_{name}"] = len(short)
        counts[f"onset_under_24h_{name}_modes"] = dict(sorted(_count(r["mode"] for r in short).items()))
        early = [r[key] for r in rows if not r["window_in_training"]]
        counts[f"onset_h_{name}_median"] = float(np.median(early)) if early else None
    return {"counts": counts, "per_failure": rows}


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[str(value)] = out.get(str(value), 0) + 1
    return out


def best_within(
    sweep: Sequence[dict[str, Any]], budget: float = 1.0, max_alarm_share: float | None = None
) -> dict[str, Any] | None:
    """The sweep's point with the most failures forewarned at ``<= budget`` false alarms per asset-month
    (fewer false alarms break a tie) and, when ``max_alarm_share`` is given, at most that share of the
    asset-hours inside an episode; ``None`` when no level keeps the budget.

    >>> sweep = [{"level": 1, "forewarned": 9, "false_alarms_per_asset_month": 3.0},
    ...          {"level": 2, "forewarned": 6, "false_alarms_per_asset_month": 0.9},
    ...          {"level": 3, "forewarned": 6, "false_alarms_per_asset_month": 0.5}]
    >>> best_within(sweep)["level"]
    3
    """
    kept = [p for p in sweep if _within(p, budget, max_alarm_share)]
    return max(kept, key=lambda p: (p["forewarned"], -p["false_alarms_per_asset_month"])) if kept else None


def _within(point: dict[str, Any], budget: float, max_alarm_share: float | None) -> bool:
    if point["false_alarms_per_asset_month"] > budget:
        return False
    return max_alarm_share is None or point["alarm_hours_share"] <= max_alarm_share


def choose_level(
    sweeps: Sequence[Sequence[dict[str, Any]]], budget: float = 1.0, max_alarm_share: float | None = None
) -> float | None:
    """The level chosen on validation fleets: the most failures forewarned in total among the levels that keep
    ``<= budget`` false alarms per asset-month on every fleet (fewer false alarms in total break a tie).

    >>> a = [{"level": 1, "forewarned": 5, "false_alarms_per_asset_month": 0.8},
    ...      {"level": 2, "forewarned": 4, "false_alarms_per_asset_month": 0.5}]
    >>> b = [{"level": 1, "forewarned": 6, "false_alarms_per_asset_month": 1.2},
    ...      {"level": 2, "forewarned": 6, "false_alarms_per_asset_month": 0.7}]
    >>> choose_level([a, b])
    2
    """
    candidates = []
    for points in zip(*sweeps, strict=True):
        if len({p["level"] for p in points}) != 1:
            raise ValueError("the sweeps must share their levels")
        if all(_within(p, budget, max_alarm_share) for p in points):
            total = sum(p["forewarned"] for p in points)
            far = sum(p["false_alarms_per_asset_month"] for p in points)
            candidates.append((total, -far, points[0]["level"]))
    return max(candidates)[2] if candidates else None


def sweep_fleet(
    fleet: Fleet, surprises: dict[str, np.ndarray], rule: AlarmRule, progress: Callable[[str], None] = print
) -> dict[str, Any]:
    """Every oracle at every level of :data:`LEVELS`: the standing protocol and the sensitivity."""
    events = fleet.events.assign(ts=pd.to_datetime(fleet.events["ts"], utc=True))
    failures = events.loc[events["kind"] == "failure", ["asset_id", "ts"]].reset_index(drop=True)
    months = len(fleet.assets) * (fleet.steps - 1) * pd.Timedelta(hours=1) / MONTH
    out: dict[str, Any] = {}
    for name, surprise in surprises.items():
        standing, sensitivity = [], []
        for level in LEVELS[name]:
            episodes = fleet_episodes(fleet, to_unit(surprise, level), rule)
            share = alarm_hours_share(episodes, len(fleet.assets) * fleet.steps)
            standing.append({**protocol_figures(fleet, surprise, level, rule), "alarm_hours_share": share})
            figures = open_at_lead(episodes, failures, months)
            sensitivity.append({"level": level, **figures, "alarm_hours_share": share})
        out[name] = {"standing": standing, "open_at_24h": sensitivity}
        top, loose = best_within(standing), best_within(sensitivity, max_alarm_share=MAX_ALARM_SHARE)
        progress(
            f"  seed {fleet.config.seed} {name}: ceiling {_point(top)}; open at 24 h (sensitivity, at most "
            f"{MAX_ALARM_SHARE:.0%} of the time in alarm) {_point(loose)}"
        )
    return out


def _point(point: dict[str, Any] | None) -> str:
    if point is None:
        return "no level keeps <= 1 false alarm per asset-month"
    return (
        f"{point['forewarned']} of {point['failures']} ({point['forewarned_share']:.2f}) at "
        f"{point['false_alarms_per_asset_month']:.2f} per asset-month, level {point['level']:g}, "
        f"{point['alarm_hours_share']:.1%} of the time in alarm"
    )


def report(results: dict[int, dict[str, Any]], oracles: Sequence[str]) -> dict[str, Any]:
    """Per oracle: the ceiling per fleet and its median, the level chosen on the validation fleets and its
    figures on the others."""
    summary: dict[str, Any] = {}
    seeds = sorted(results)
    for name in oracles:
        entry: dict[str, Any] = {}
        for view, kind, cap in VIEWS:
            best = {s: best_within(results[s]["sweeps"][name][kind], max_alarm_share=cap) for s in seeds}
            shares = [b["forewarned_share"] if b else 0.0 for b in best.values()]
            entry[f"{view}_ceiling"] = {str(s): b for s, b in best.items()}
            entry[f"{view}_ceiling_median_share"] = statistics.median(shares) if shares else None
            validation = [results[s]["sweeps"][name][kind] for s in VALIDATION if s in results]
            level = choose_level(validation, max_alarm_share=cap) if len(validation) == len(VALIDATION) else None
            entry[f"{view}_level_from_validation"] = level
            if level is not None:
                entry[f"{view}_at_validation_level"] = {
                    str(s): next(p for p in results[s]["sweeps"][name][kind] if p["level"] == level) for s in seeds
                }
        summary[name] = entry
    return summary


def summary_text(summary: dict[str, Any]) -> str:
    """One line per oracle and view: each fleet's ceiling, their median, and the fleets at the level chosen on
    the validation fleets."""
    lines = []
    for name, entry in summary.items():
        for view, _, _ in VIEWS:
            cells = [
                f"{s}: "
                + ("-" if b is None else f"{b['forewarned_share']:.2f}/{b['false_alarms_per_asset_month']:.2f}")
                for s, b in entry[f"{view}_ceiling"].items()
            ]
            chosen = entry[f"{view}_level_from_validation"]
            at = entry.get(f"{view}_at_validation_level", {})
            picked = ", ".join(
                f"{s}: {p['forewarned_share']:.2f}/{p['false_alarms_per_asset_month']:.2f}" for s, p in at.items()
            )
            lines.append(
                f"{name} {view}: ceiling (share/false per asset-month) {'; '.join(cells)}; median "
                f"{entry[f'{view}_ceiling_median_share']:.2f}; level from validation {chosen}: {picked or '-'}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="3,4,0,1,2", help="failing fleets (3 and 4 choose the level)")
    parser.add_argument("--oracles", default=",".join(ORACLES))
    parser.add_argument(
        "--with-detector",
        nargs="?",
        const="",
        default=None,
        metavar="MODULE:FUNCTION",
        help="also a real detector's figures under both counts (no value: forewarn detect's default)",
    )
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args(argv)
    oracles = [o.strip() for o in args.oracles.split(",") if o.strip()]
    unknown = sorted(set(oracles) - set(ORACLES))
    if unknown:
        parser.error(f"unknown oracle(s) {', '.join(unknown)}; use {', '.join(ORACLES)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds {args.seeds!r}: give integers separated by commas, e.g. 3,4,0,1,2")
    if not seeds:
        parser.error("--seeds: give at least one fleet seed, e.g. 3,4,0,1,2")
    rule = AlarmRule()
    started, load = time.perf_counter(), os.getloadavg()
    results: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {}
    for seed in seeds:
        fleet = simulate_fleet(fleet_config(seed))
        surprises = oracle_surprises(fleet, oracles)
        lost = unforewarnable(fleet, surprises)
        print(f"seed {seed}: {lost['counts']}", flush=True)
        results[seed] = {"unforewarnable": lost, "sweeps": sweep_fleet(fleet, surprises, rule)}
        if args.with_detector is not None:
            results[seed]["detector"] = detector_figures(fleet, args.with_detector or None, rule)
            print(f"  seed {seed} detector: {results[seed]['detector']}", flush=True)
        out = {
            "seeds": sorted(results),
            "rule": {"on": rule.on, "off": rule.off, "clear_rows": rule.clear_rows, "refractory": str(rule.refractory)},
            "summary": report(results, oracles),
            "fleets": {str(s): r for s, r in results.items()},
            "seconds": round(time.perf_counter() - started, 1),
            "load_average_start": load,
            "load_average_end": os.getloadavg(),
        }
        if args.json:  # after each fleet, so that an interrupted run keeps what it measured
            Path(args.json).write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")
    print(summary_text(out["summary"]))
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
