"""PHM 2012 (FEMTO-ST PRONOSTIA) bearings: a health indicator that rises toward failure, and an alert rule.

Data: the run-to-failure learning bearings of condition 2 (Bearing2_1, Bearing2_2; 1650 rpm, 4200 N), one
0.1 s snapshot of horizontal and vertical acceleration every 10 s; the last snapshot is the failure.

Health indicator (HI), computed causally, snapshot by snapshot:

1. per snapshot and channel, vibration features (:func:`forewarn.features.spectral.spectral_features`):
   ``rms``, ``kurtosis`` and ``envelope_rms`` (RMS of the envelope of the 3.2-9.6 kHz band, i.e. the impact
   energy around the structural resonances);
2. each chosen feature ``f`` of both channels becomes ``z = (log f - m) / s``, with ``m`` and ``s`` the mean
   and spread of ``log f`` over the **baseline**, the first ``baseline_fraction`` (20 %) of the snapshots;
3. the HI is the mean of those ``z``, smoothed by a causal exponential moving average (``span`` 12 snapshots,
   two minutes).

Indicators in the zoo: ``rms-hi`` (RMS only), ``impulse-hi`` (kurtosis and envelope RMS) and ``fused-hi``
(all three). Their baseline is a share of the whole life, which a plant only knows after the failure; the
monotone indicators below use a fixed commissioning period instead.

Monotone indicators (:mod:`forewarn.features.health_indicator`): ``monotone-hi`` and ``cumulative-hi`` fuse
the three features of both channels one-sidedly (a feature below its healthy level counts 0) against a
fixed baseline, the first 120 snapshots (20 minutes), smooth causally (same EWMA), then make the result
monotone: the running maximum (``monotone-hi``) or the cumulative excess over the alert level
(``cumulative-hi``). Their alert opens once the *raw* (pre-monotone) indicator has been above baseline mean
+ 3 std for 3 snapshots and never closes (health does not come back). Their rows also carry
``raw_monotonicity``, ``raw_trendability`` and ``raw_robustness``: the same metrics before the monotone step,
so what that step buys is visible.

Alert rule: threshold ``mean + k std`` of the HI over the baseline (``k = 3``); after the baseline, an alert
episode opens when the HI stays above the threshold for ``persistence`` consecutive snapshots (3, i.e. 30 s)
and closes when it stays below for as long.

Metrics per bearing:

``monotonicity``
    ``|#(dHI > 0) - #(dHI < 0)| / (n - 1)`` over consecutive snapshots (Coble & Hines 2009; 1 = monotonic);
``positive_increments``
    the share of increments that are positive;
``trendability``
    Spearman rank correlation of the HI with time (1 = always rising; 0 for a constant HI);
``trendability_final``
    the same over the last 10 % of life (does the HI rise in the run-up to failure?);
``robustness``
    how much of the HI is trend rather than noise (:func:`forewarn.evaluate.prognostics.robustness`);
``negative_increments``
    the share of increments that are negative (0 for a monotone indicator);
``lead_time_s``
    failure time minus the opening of the episode still open at failure (0 when none is open: missed);
``false_alerts``
    episodes that closed before failure (the HI went back to normal);
``first_alert_lead_s``
    failure time minus the opening of the first episode (equal to ``lead_time_s`` with no false alert).

There is no randomness anywhere, so every seed gives the same figures: the runner computes each bearing once
(``seeds`` is reported as 1).

Run: ``forewarn bench femto`` (or :func:`run`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from forewarn.base.executor import resolve
from forewarn.bench.anchors import anchor_rows
from forewarn.bench.report import ModelRun, summarise
from forewarn.datasets.femto import FEMTOBearing, load_femto
from forewarn.evaluate.prognostics import monotonicity, robustness, trendability
from forewarn.exceptions import ConfigError
from forewarn.features.health_indicator import MonotoneHealthIndicator
from forewarn.features.spectral import PRONOSTIA, spectral_features

BEARINGS = ("Bearing2_1", "Bearing2_2")
#: shaft speed of each PRONOSTIA operating condition (challenge details, section 2)
CONDITION_RPM = {1: 1800, 2: 1650, 3: 1500}
FEATURES = ("rms", "kurtosis", "envelope_rms")
CHANNELS = ("h", "v")
FINAL_FRACTION = 0.1
#: centred window of the robustness metric's trend: 2 * EWMA span + 1 snapshots
ROBUSTNESS_WINDOW = 25


@dataclass(frozen=True)
class HealthIndicator:
    """Baseline-normalised, fused, causally smoothed indicator and its alert rule (module docstring).

    >>> frame = pd.DataFrame({"rms_h": np.r_[np.ones(80), np.linspace(1, 4, 20)], "rms_v": np.ones(100)})
    >>> hi = HealthIndicator(features=("rms",), span=3)
    >>> values, n_base = hi.compute(frame)
    >>> n_base, bool(values[-1] > values[79])
    (20, True)
    """

    features: tuple[str, ...]
    baseline_fraction: float = 0.2
    span: int = 12
    k: float = 3.0
    persistence: int = 3

    def columns(self, frame: pd.DataFrame) -> list[str]:
        """The feature columns of ``frame`` this indicator fuses (every channel present)."""
        chosen = [c for c in frame.columns if c.rsplit("_", 1)[0] in self.features]
        if not chosen:
            raise ConfigError(f"no column of {self.features} in the snapshot features {list(frame.columns)}")
        return chosen

    def compute(self, frame: pd.DataFrame) -> tuple[np.ndarray, int]:
        """(smoothed HI per snapshot, number of baseline snapshots)."""
        n_base = max(int(len(frame) * self.baseline_fraction), 2)
        logs = np.log(np.maximum(frame[self.columns(frame)].to_numpy(dtype="float64"), 1e-12))
        centre, spread = logs[:n_base].mean(axis=0), logs[:n_base].std(axis=0)
        z = (logs - centre) / np.where(spread > 1e-12, spread, 1.0)
        raw = pd.Series(z.mean(axis=1))
        return raw.ewm(span=self.span, adjust=False).mean().to_numpy(), n_base

    def episodes(self, hi: np.ndarray, n_base: int) -> tuple[float, list[tuple[int, int | None]]]:
        """(threshold, alert episodes as (opening index, closing index or None when still open))."""
        threshold = float(hi[:n_base].mean() + self.k * hi[:n_base].std())
        found: list[tuple[int, int | None]] = []
        open_at: int | None = None
        above = below = 0
        for i in range(n_base, len(hi)):
            above, below = (above + 1, 0) if hi[i] > threshold else (0, below + 1)
            if open_at is None and above >= self.persistence:
                open_at = i
            elif open_at is not None and below >= self.persistence:
                found.append((open_at, i))
                open_at = None
        if open_at is not None:
            found.append((open_at, None))
        return threshold, found


def indicator_metrics(
    hi: np.ndarray, times: np.ndarray, life_s: float, episodes: Sequence[tuple[int, int | None]]
) -> dict[str, float]:
    """Monotonicity, trendability, robustness and alert figures of one bearing's HI (module docstring).

    >>> hi = np.r_[np.zeros(18), [1.0, 2.0]]
    >>> m = indicator_metrics(hi, np.arange(20) * 10.0, 200.0, [(5, 7), (18, None)])
    >>> round(m["monotonicity"], 3), round(m["trendability_final"], 6), m["lead_time_s"], m["false_alerts"]
    (0.105, 1.0, 20.0, 1.0)
    >>> m["first_alert_lead_s"], m["negative_increments"]
    (150.0, 0.0)
    """
    steps = np.diff(hi)
    final = slice(int(len(hi) * (1 - FINAL_FRACTION)), None)
    still_open = [start for start, end in episodes if end is None]
    return {
        "monotonicity": monotonicity(hi),
        "positive_increments": float((steps > 0).mean()),
        "negative_increments": float((steps < 0).mean()),
        "trendability": trendability(hi, times),
        "trendability_final": _rank_correlation(hi[final], times[final]),
        "robustness": robustness(hi, ROBUSTNESS_WINDOW),
        "lead_time_s": float(life_s - times[still_open[0]]) if still_open else 0.0,
        "false_alerts": float(sum(end is not None for _, end in episodes)),
        "first_alert_lead_s": float(life_s - times[episodes[0][0]]) if episodes else 0.0,
    }


def _rank_correlation(values: np.ndarray, times: np.ndarray) -> float:
    """Spearman correlation; 0 (no trend) for a constant or too short indicator, where it is undefined."""
    return trendability(values, times) if len(values) >= 2 else 0.0


def monotone_metrics(series: Any, times: np.ndarray, life_s: float) -> dict[str, float]:
    """Metrics of a :class:`~forewarn.features.health_indicator.HealthIndicatorSeries`: those of the monotone HI
    (its alert never closes), and ``raw_*`` of the indicator before the monotone step."""
    episodes: list[tuple[int, int | None]] = [] if series.alert_index is None else [(series.alert_index, None)]
    metrics = indicator_metrics(series.monotone, times, life_s, episodes)
    metrics.update(
        {
            "raw_monotonicity": monotonicity(series.raw),
            "raw_trendability": trendability(series.raw, times),
            "raw_robustness": robustness(series.raw, ROBUSTNESS_WINDOW),
        }
    )
    return metrics


def snapshot_features(bearing: FEMTOBearing) -> pd.DataFrame:
    """``<feature>_<h|v>`` for every snapshot of ``bearing`` (features of :data:`FEATURES`)."""
    shaft_hz = CONDITION_RPM[bearing.condition] / 60
    parts = []
    for index, channel in enumerate(CHANNELS):
        table = spectral_features(
            bearing.acc[:, :, index].astype("float64"),
            float(bearing.sampling_rate_hz),
            n_bands=8,
            shaft_hz=shaft_hz,
            geometry=PRONOSTIA,
        )
        parts.append(table[list(FEATURES)].add_suffix(f"_{channel}"))
    return pd.concat(parts, axis=1)


MODELS: dict[str, Callable[[int], HealthIndicator | MonotoneHealthIndicator]] = {
    "rms-hi": lambda seed: HealthIndicator(features=("rms",)),
    "impulse-hi": lambda seed: HealthIndicator(features=("kurtosis", "envelope_rms")),
    "fused-hi": lambda seed: HealthIndicator(features=FEATURES),
    "monotone-hi": lambda seed: MonotoneHealthIndicator(features=FEATURES, monotone="max"),
    "cumulative-hi": lambda seed: MonotoneHealthIndicator(features=FEATURES, monotone="cumulative"),
}


def _bearing_runs(chosen: Sequence[str], say: Callable[[str], None] | None, bearing: FEMTOBearing) -> list[ModelRun]:
    """Every chosen indicator on one bearing's snapshots (a unit of the executor)."""
    if say is not None:
        say(f"femto {bearing.name}: features of {bearing.n_snapshots} snapshots")
    runs = []
    start = time.perf_counter()
    features = snapshot_features(bearing)
    feature_s = time.perf_counter() - start
    for name in chosen:
        indicator = MODELS[name](0)
        start = time.perf_counter()
        if isinstance(indicator, MonotoneHealthIndicator):
            result = indicator.compute(features)
            hi, raw, threshold, n_base = result.monotone, result.raw, result.level, result.n_baseline
            score_s = time.perf_counter() - start
            metrics = monotone_metrics(result, bearing.snapshot_times, bearing.life_seconds)
        else:
            hi, n_base = indicator.compute(features)
            threshold, episodes = indicator.episodes(hi, n_base)
            raw = hi
            score_s = time.perf_counter() - start
            metrics = indicator_metrics(hi, bearing.snapshot_times, bearing.life_seconds, episodes)
        series = {
            "times_s": bearing.snapshot_times.round(1).tolist(),
            "hi": np.round(hi, 4).tolist(),
            "raw": np.round(raw, 4).tolist(),
            "threshold": threshold,
            "baseline_snapshots": n_base,
            "life_s": bearing.life_seconds,
        }
        runs.append(ModelRun(f"{name} {bearing.name}", 0, metrics, 0.0, feature_s + score_s, extra={"series": series}))
    return runs


def run(
    models: Sequence[str] | None = None,
    seeds: int = 1,
    data_dir: Any = None,
    *,
    progress: Callable[[str], None] | None = None,
    bearings: Sequence[str] = BEARINGS,
    **options: Any,
) -> dict[str, Any]:
    """Run the PHM 2012 health-indicator benchmark; returns the ``forewarn bench femto`` payload.

    ``executor`` (:mod:`forewarn.base.executor`) runs each bearing (its features and every chosen indicator) as
    one unit, e.g. on Ray (the figures do not depend on it, the timings do)."""
    executor = options.pop("executor", None)
    if options:
        raise ConfigError(f"femto takes no options {sorted(options)} (femto has no subsets)")
    chosen = list(MODELS) if models is None else list(models)
    unknown = [m for m in chosen if m not in MODELS]
    if unknown or seeds < 1:
        raise ConfigError(f"unknown model(s) {unknown} (known: {', '.join(MODELS)}) or seeds={seeds} < 1")
    say = progress or (lambda message: None)
    loaded = load_femto(data_dir, bearings=bearings).bearings
    unit = partial(_bearing_runs, chosen, say if executor is None else None)
    runs = [run for done in resolve(executor).map(unit, loaded) for run in done]
    return {
        "dataset": "femto",
        "subset": None,
        "protocol": "PHM 2012 learning bearings 2_1 and 2_2 run to failure; HI normalised on the first 20 % of "
        "snapshots (monotone-hi, cumulative-hi: the first 120 snapshots), causal EWMA (2 min); alert "
        "above baseline mean + 3 std for 30 s; deterministic, one run whatever --seeds",
        "primary_metric": "trendability",
        "results": summarise(runs),
        "published": _published(),
    }


def _published() -> list[dict[str, Any]]:
    try:
        return anchor_rows("femto")
    except ConfigError:  # no published figures shipped for this benchmark
        return []
