"""The predictive policy's model, made the way a plant makes one: ``forewarn train`` on a store of its history.

The closed loop (:mod:`forewarn.bench.policy`) must not hand the predictive policy anything a plant would not have.
So its failure model is not fitted on features the bench computes for itself: the separate history fleets' sensor
readings and their failure and maintenance events are written into a DuckDB :class:`~forewarn.store.Store`, and
:func:`forewarn.train.train` fits, calibrates and files a bundle from it (labels from the events, the one window
kernel of :mod:`forewarn.features.window`, calibration and cost thresholds on held-out assets). In the loop, each
evening, :class:`BundleScorer` averages each asset's readings into the bundle's interval, computes the same window
statistics over the bundle's ``history_rows`` (as ``forewarn score`` reads an asset's history) and asks the bundle
for its calibrated probability of failing within its horizon.

The readings are what a plant reads from the engine's hourly record (:class:`Observer`): vibration RMS, bearing,
winding and ambient temperatures and the oil condition index, and the shaft seal's leak of the pumps and compressors
(the twin's ``seal_leak`` channel, which the engine's record does not hold: :class:`SealLeakMeter` renders it from the
twin's machine equations as the engine evaluates them), with the twin's own measurement noise
(:data:`forewarn.twin.render.NOISE`); never the hidden damage. The history and the loop observe the same way.

>>> import numpy as np
>>> rec = {k: np.ones((2, 48), np.float32) for k in ("vib_rms", "bearing_c", "winding_c", "oil", "seal_leak")}
>>> obs = Observer(np.zeros((2, 48)), seed=0)
>>> obs.observe(rec, 0, 48)
>>> frame = obs.frame(["a", "b"], "2024-01-01", 48, rows=3, interval_h=4)
>>> frame.shape, frame["ts"].iloc[-1].isoformat(), round(float(frame["ambient_temp"].abs().max()), 1) < 1.0
((6, 8), '2024-01-02T20:00:00+00:00', True)
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError
from forewarn.schema import to_events
from forewarn.train.spec import hours
from forewarn.twin.assets import CLASS_CHANNELS, MODES, SEAL, AssetParams
from forewarn.twin.machine import operate
from forewarn.twin.maintenance import PARTS
from forewarn.twin.render import NOISE

__all__ = [
    "CHANNELS",
    "OBSERVED",
    "TRAIN_OPTIONS",
    "BundleScorer",
    "Observer",
    "SealLeakMeter",
    "history_store",
    "train_bundle",
]

#: the channels the loop reads (store names) and the record each comes from (the engine's hourly record; the seal
#: leak from :class:`SealLeakMeter`). The first five were the bench's until 2026-12-05; their measurement noise is
#: drawn from the same stream as then (:class:`Observer`), so bundles of those five reproduce earlier figures
OBSERVED: dict[str, str] = {
    "vib_rms": "vib_rms",
    "bearing_temp": "bearing_c",
    "winding_temp": "winding_c",
    "ambient_temp": "",
    "oil_quality": "oil",
    "seal_leak": "seal_leak",
}
#: the channels ``forewarn train`` is given (the bundle's inputs). A pump's or compressor's seal leak (the twin's
#: ``seal_leak`` channel, L/min) was not read before 2026-12-05: the model could not see a seal wear (24 % of the
#: seal-leak failures flagged on validation fleet 2000, none of 9 of the 11 on the test seeds; BENCHMARKS.md, issue 16)
CHANNELS: tuple[str, ...] = tuple(OBSERVED)
_FIRST = 5  # channels whose noise comes from the shared stream (see OBSERVED)
#: what ``forewarn train`` is asked for (the CLI's options): failure within 42 days, daily means, window
#: statistics over 30 days (the trend of a wearing part shows over weeks, and each machine's own level sits in its
#: window), LightGBM, no age feature (the loop's fleets start mid-life, at an unknown age). Daily buckets were chosen
#: for time on the shared machine, before any test fleet ran: 4-hourly buckets (a 42-row window) train on six times
#: the rows (about 13 min against 4 min at load 20). On a validation fleet (seed 2000, not a test seed; time-based
#: 42 failures, 1,339 unplanned hours) the daily model left 38 failures and 951 h, the 4-hourly one 33 and 993 h.
#: The horizon is the decision's, not the failure's: a visit inspects and repairs what it finds, and an inspection
#: finds a bearing's spall at 15 % of its damage, an impeller's wear or a seal's leak weeks before they fail, so a
#: visit is worth what fails before the next chance to visit, weeks ahead. With 14 days the probabilities of a
#: failure three to six weeks out stayed below the planner's threshold; on the validation fleet (seed 2000, run to
#: failure, every evening scored) the 42-day bundle ranks better even on the 14-day label (ROC AUC 0.858 against
#: 0.840, PR AUC 0.236 against 0.226) and on its own (PR AUC 0.452 against 0.387): ``benchmarks/policy_decisions.py``
TRAIN_OPTIONS: dict[str, Any] = {
    "task": "failure",
    "horizon": "42d",
    "interval": "24h",  # daily buckets ("1d" is the same span; pandas 3 warns on its lower-case "d")
    "window": 30,
    "model": "lightgbm-failure",
    "age": "off",
    "model_id": "policy-failure",
    "seed": 0,
    "max_rows": 60_000,  # every failure row kept, the rest subsampled: 350 s on 200,000 rows at load 11, 2 cores
}


#: the machine's sensors read only while it runs (:meth:`Observer.observe`)
RUNNING_ONLY = False


class Observer:
    """Sensor readings of a fleet, hour by hour, from the engine's record (``rec`` of
    :func:`forewarn.twin.engine.run_plan`, or a finished :class:`~forewarn.twin.degradation.Plan`'s arrays)."""

    def __init__(self, ambient: np.ndarray, *, seed: int, running_only: bool = False) -> None:
        self.ambient = np.asarray(ambient, dtype=np.float32)
        n, hours = self.ambient.shape
        self.values = np.full((len(OBSERVED), n, hours), np.nan, np.float32)
        self.rng = np.random.default_rng([seed, 4242])
        # a channel added after the first five draws its noise from a stream of its own, so the first five read the
        # same noise as before it was added
        shared = [self.rng] * _FIRST
        self.rngs = shared + [np.random.default_rng([seed, 4242, i]) for i in range(_FIRST, len(OBSERVED))]
        self.running_only = running_only

    def observe(self, rec: Mapping[str, np.ndarray], lo: int, hi: int) -> None:
        """Read hours ``lo`` to ``hi`` (each hour read once, with fresh measurement noise). ``running_only``: the
        machine's sensors are read only in hours it runs (``rec["run"]``), as a condition-monitoring system
        triggered by the run state acquires; the ambient temperature is read always."""
        for i, (name, source) in enumerate(OBSERVED.items()):
            true = self.ambient[:, lo:hi] if not source else np.asarray(rec[source][:, lo:hi], np.float32)
            rel, absolute = NOISE[name]
            noise = self.rngs[i].standard_normal(true.shape).astype(np.float32)
            self.values[i, :, lo:hi] = true * (1.0 + rel * noise) + absolute * noise
            if source and self.running_only:
                self.values[i, :, lo:hi][np.asarray(rec["run"][:, lo:hi]) <= 0] = np.nan

    def buckets(self, hi: int, *, rows: int, interval_h: int) -> tuple[int, np.ndarray]:
        """The first hour and the bucket means ``(channel, asset, bucket)`` of :meth:`frame`."""
        first = max(hi - rows * interval_h, 0)
        first += (hi - first) % interval_h  # whole buckets only
        k = (hi - first) // interval_h
        if k < 1:
            raise ConfigError(f"no whole {interval_h} h bucket before hour {hi}")
        hourly = self.values[:, :, first:hi].reshape(len(OBSERVED), self.values.shape[1], k, interval_h)
        seen = ~np.isnan(hourly)
        count = seen.sum(axis=3)
        total = np.where(seen, hourly, 0.0).sum(axis=3, dtype=np.float64)
        return first, np.where(count > 0, total / np.maximum(count, 1), np.nan)  # hours not read are gaps, as stored

    def frame(self, asset_ids: Sequence[str], start: Any, hi: int, *, rows: int, interval_h: int) -> pd.DataFrame:
        """The last ``rows`` buckets of ``interval_h`` hours before hour ``hi`` (bucket means, as the store
        resamples), every asset: a wide frame ``asset_id, ts, <channels>`` (``ts`` = the bucket's start)."""
        first, block = self.buckets(hi, rows=rows, interval_h=interval_h)
        n, k = len(asset_ids), block.shape[2]
        t0 = pd.Timestamp(start, tz="UTC") if pd.Timestamp(start).tzinfo is None else pd.Timestamp(start)
        ts = t0 + pd.to_timedelta(first + np.arange(k) * interval_h, unit="h")
        out = {"asset_id": np.repeat(np.asarray(asset_ids, dtype=object), k), "ts": np.tile(ts.to_numpy(), n)}
        out.update({name: block[i].ravel().astype("float64") for i, name in enumerate(OBSERVED)})
        return pd.DataFrame(out)


class SealLeakMeter:
    """The shaft seal's leak (L/min) of each pump and compressor, hour by hour, as the twin reports its ``seal_leak``
    channel: the engine's hourly record holds no leak, so it is computed here with the twin's machine equations
    (:func:`~forewarn.twin.machine.operate`'s ``leak``, the leak times the fraction of the hour run) the way the engine
    evaluates them, the seal's wear held at each day's start. A machine without a shaft seal (motors and fans: the
    channel is not in their class's :data:`~forewarn.twin.assets.CLASS_CHANNELS`, and their ``leak_max`` is 0) reads
    no leak, 0 L/min plus the sensor's noise: ``forewarn train`` asks every asset of a fleet for each channel of the
    bundle, so one bundle for the mixed fleet needs the channel on every asset (a missing channel per asset is not
    supported by the train pipeline; a zero leak is what a sensor on a sealless machine would read).

    In the loop (:meth:`day`, each evening) the seal's wear at the day's start is the previous evening's state (the
    engine changes it only through the day's wear and the work it ends that evening), which is what the sensor
    measures; the policy never sees the wear itself, only the reading made from it with the sensor's noise.

    A pump with ``leak_max`` 2 L/min, its seal half worn (leak ``2 * 0.5**2 * s``), running the first two hours of
    three at full load (speed 1), and a motor (no seal, no leak):

    >>> from forewarn.twin.assets import sample_params
    >>> p = sample_params(["pump", "motor"], np.random.default_rng(0))
    >>> p.leak_max[0] = 2.0
    >>> meter = SealLeakMeter(p, np.ones((2, 3)), ["pump", "motor"], np.array([0.5, 0.0]))
    >>> meter.hours(np.array([0.5, 0.0]), np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]), 0, 3).round(3).tolist()
    [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]
    """

    def __init__(self, params: AssetParams, load: np.ndarray, classes: Sequence[str], seal0: np.ndarray) -> None:
        self.params = params.columns(float)
        self.load = np.asarray(load)
        self.has_seal = np.array(["seal_leak" in CLASS_CHANNELS[c] for c in classes])
        if (self.params.leak_max[~self.has_seal] > 0).any():
            raise ConfigError("an asset whose class has no seal_leak channel has a seal that leaks (leak_max > 0)")
        self.seal = np.asarray(seal0, dtype=float).copy()  # each asset's seal wear at the start of the day
        self.record = np.full(self.load.shape, np.nan, np.float32)

    def hours(self, seal: np.ndarray, run: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """The leak in hours ``lo`` to ``hi``: ``seal`` the wear (per asset, or per asset and hour), ``run`` the
        fraction of each hour run, ``(n, hi - lo)``."""
        load = self.load[:, lo:hi].astype(float)
        zero = np.zeros_like(load)
        damage = [zero] * len(MODES)
        damage[SEAL] = np.broadcast_to(seal if np.ndim(seal) == 2 else np.asarray(seal)[:, None], load.shape)
        op = operate(self.params, load, np.asarray(run, dtype=float), damage, zero + 1.0, zero, zero)
        return np.asarray(op.leak, dtype=np.float32)

    def day(self, rec: Mapping[str, np.ndarray], damage: np.ndarray, h: int) -> dict[str, np.ndarray]:
        """The engine's record with the leak of the day ending at hour ``h`` added (``damage``: the state's damage this
        evening, the next day's start)."""
        self.record[:, h - 24 : h] = self.hours(self.seal, rec["run"][:, h - 24 : h], h - 24, h)
        self.seal = np.asarray(damage[:, SEAL], dtype=float).copy()
        return {**rec, "seal_leak": self.record}

    @classmethod
    def of_plan(cls, f: Any, plan: Any) -> np.ndarray:
        """The leak of a finished run (``f`` a :mod:`forewarn.bench.policy` fleet, ``plan`` its engine record), the
        seal's wear held at each day's start, as :meth:`day` computes it in the loop."""
        hours = plan.run.shape[1]
        meter = cls(f.params, f.regime.load[:, :hours], f.classes, f.state.damage[:, SEAL])
        start = np.repeat(plan.damage[:, SEAL, ::24], 24, axis=1)[:, :hours]
        return meter.hours(start, plan.run, 0, hours)


def _renamed(prefix: str, fleet_assets: Sequence[Any], sites: Sequence[Any], lines: Sequence[Any]) -> tuple:
    """The history fleet's plant with its ids prefixed (several history fleets share one store)."""
    return (
        [dataclasses.replace(s, site_id=prefix + s.site_id) for s in sites],
        [dataclasses.replace(x, line_id=prefix + x.line_id, site_id=prefix + x.site_id) for x in lines],
        [
            dataclasses.replace(
                a,
                asset_id=prefix + a.asset_id,
                line_id=prefix + a.line_id if a.line_id else None,
                site_id=prefix + a.site_id if a.site_id else None,
                metadata={},
            )
            for a in fleet_assets
        ],
    )


def events_frame(asset_ids: Sequence[str], start: Any, plan: Any, days: int) -> pd.DataFrame:
    """The engine's failures and maintenance as store events (failure mode, action, parts, result)."""
    rows = [
        {"asset_id": asset_ids[a], "minute": m, "kind": "failure", "failure_mode": MODES[mode]}
        for a, m, mode in plan.failures
    ]
    rows += [
        {
            "asset_id": asset_ids[a],
            "minute": m,
            "kind": "maintenance",
            "action": action,
            "parts": PARTS.get(action) or None,
            "result": result,
            "note": note,
        }
        for a, m, action, result, note in plan.maintenance
    ]
    frame = pd.DataFrame(rows)
    frame = frame[frame["minute"] < days * 1440].sort_values(["minute", "asset_id"], kind="stable")
    t0 = pd.Timestamp(start, tz="UTC")
    frame.insert(1, "ts", t0 + pd.to_timedelta(frame.pop("minute").to_numpy(), unit="min"))
    return to_events(frame.reset_index(drop=True), source="twin history")


def history_store(path: str | Path, histories: Sequence[tuple[Any, Any]], *, running_only: bool = False) -> Path:
    """Write each history ``(fleet, plan)`` (a :class:`forewarn.bench.policy` fleet and its run) into a new
    DuckDB store at ``path``: plant, hourly readings as :class:`Observer` reads them, events."""
    import pyarrow as pa

    from forewarn.store import Store

    path = Path(path)
    with Store(path) as db:
        for k, (f, plan) in enumerate(histories):
            prefix = f"H{k + 1}-"
            sites, lines, assets = _renamed(prefix, f.assets, f.sites, f.lines)
            db.add_sites(sites)
            db.add_lines(lines)
            db.add_assets(assets)
            ids = [a.asset_id for a in assets]
            hours = plan.run.shape[1]
            obs = Observer(f.regime.ambient[:, :hours], seed=f.config.seed, running_only=running_only)
            record = {k2: getattr(plan, k2) for k2 in ("vib_rms", "bearing_c", "winding_c", "oil", "run")}
            obs.observe(record | {"seal_leak": SealLeakMeter.of_plan(f, plan)}, 0, hours)
            frame = obs.frame(ids, f.config.start, hours, rows=hours, interval_h=1)
            db.ingest_readings(pa.Table.from_pandas(frame, preserve_index=False), source=f"history {k + 1}")
            db.ingest_events(events_frame(ids, f.config.start, plan, f.config.days), source=f"history {k + 1}")
    return path


def train_bundle(
    histories: Sequence[tuple[Any, Any]],
    folder: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    running_only: bool = RUNNING_ONLY,
    channels: Sequence[str] = CHANNELS,
) -> Any:
    """``forewarn train`` (:data:`TRAIN_OPTIONS`) on a store of the histories, on ``channels`` (of :data:`OBSERVED`);
    returns the filed, live bundle (its ``running_only`` says how the loop must read the sensors, the way the history
    was read)."""
    unknown = sorted(set(channels) - set(OBSERVED))
    if unknown:
        raise ConfigError(f"the loop does not observe channel(s) {', '.join(unknown)}; use {', '.join(OBSERVED)}")
    from forewarn.train import train
    from forewarn.train.score import live_bundle

    work = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="forewarn-policy-"))
    store = history_store(work / "history.duckdb", histories, running_only=running_only)
    result = train(store, work / "models", progress=progress, channels=tuple(channels), **TRAIN_OPTIONS)
    bundle = live_bundle(work / "models", result.model_id)
    bundle.train_metrics = result.metrics
    bundle.running_only = running_only
    return bundle


class BundleScorer:
    """Each evening: every asset's calibrated probability of failing within the bundle's horizon, from the readings
    the loop has observed so far (the bundle's interval, window, statistics and ``history_rows``). ``classes`` (one
    per asset) are what a sequence bundle's absent channels read (the class's training means, as ``forewarn
    score`` reads them: :meth:`~forewarn.bundles.bundle.ServingSpec.last_row`); none: the overall means."""

    def __init__(self, bundle: Any, asset_ids: Sequence[str], start: Any, classes: Sequence[str] | None = None) -> None:
        self.bundle, self.ids, self.start = bundle, list(asset_ids), start
        if classes is not None and len(classes) != len(self.ids):
            raise ConfigError(f"{len(classes)} asset classes for {len(self.ids)} assets; give one per asset")
        self.classes: list[str | None] = list(classes) if classes is not None else [None] * len(self.ids)
        spec = bundle.spec
        self.interval_h = int(round(hours(spec.interval, "interval"))) if spec.interval else 0
        if self.interval_h < 1 or 24 % self.interval_h:
            raise ConfigError(f"the policy bundle's interval {spec.interval!r} must divide a day into whole hours")
        missing = sorted(set(spec.channels) - set(OBSERVED))
        if missing:
            raise ConfigError(f"the policy bundle reads channel(s) the loop does not observe: {', '.join(missing)}")

    def __call__(self, observer: Observer, hi: int, since: np.ndarray | None = None) -> np.ndarray:
        """Probabilities at hour ``hi``; ``since`` (hours, per asset; NaN = none): the asset's last renewal, after
        which alone it is scored, as ``forewarn score`` scores an asset renewed since its last failure (whole
        buckets after the renewal; none yet: probability 0, the asset is not scored)."""
        spec = self.bundle.spec
        first, block = observer.buckets(hi, rows=int(spec.history_rows), interval_h=self.interval_h)
        # each asset's last window only (:meth:`ServingSpec.last_row`, equal to the last row of ``window_frame`` of
        # :meth:`Observer.frame`): rows in time order, the bundle's channels as columns
        order = [list(OBSERVED).index(c) for c in spec.channels]
        k = block.shape[2]
        skip = np.zeros(block.shape[1], dtype=np.int64)
        if since is not None:
            after = np.where(np.isfinite(since), np.ceil((since - first) / self.interval_h), 0.0)
            skip = np.clip(after, 0, k).astype(np.int64)
        rows = [a for a in range(block.shape[1]) if skip[a] < k]
        p = np.zeros(block.shape[1])
        if rows:
            values = np.vstack([spec.last_row(block[order, a, skip[a] :].T, self.classes[a]) for a in rows])
            p[rows] = np.asarray(self.bundle.predict(self.bundle.feature_frame(values)).probability, dtype=float)
        return p
