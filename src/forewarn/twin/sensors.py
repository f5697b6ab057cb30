"""Sensors: measurement noise, site calibration, and sensor faults that must not look like machine faults.

A sensor fault changes what a channel *reads*, never the machine's ground-truth health. Faults are drawn per
asset and per sensor (the accelerometer feeds all ``vib_*`` channels, so its faults hit them together):

=========  ===============================================================================================
drift      the reading walks away from the truth (temperatures by ``mag`` degC per day, other channels by a
           relative ``mag`` per day) until the next maintenance visit recalibrates it, or about two months
stuck      the reading freezes at its value when the fault starts (median 6 h)
dropout    no reading (NaN), median 30 min; a whole-asset outage (gateway, network) blanks every channel
spike      a single reading multiplied by ``mag`` (temperatures: ``mag`` degC added)
=========  ===============================================================================================

Rates are per sensor-year (``scale`` multiplies them; a site's ``sensor_fault_factor`` too).

>>> import numpy as np
>>> faults = sample_sensor_faults(np.ones((3, 18), bool), np.ones(3), steps=525_600, step_min=1,
...                               recalibrations=[[], [], []], rng=np.random.default_rng(0))
>>> sorted(set(faults.kind.tolist())) == sorted(FAULT_KINDS)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forewarn.twin.assets import CHANNEL_NAMES

__all__ = ["FAULT_KINDS", "SENSORS", "SensorFaults", "apply_sensor_faults", "sample_sensor_faults"]

FAULT_KINDS = ("drift", "stuck", "dropout", "spike")
#: Physical sensors and the channels each feeds (index -1 in a fault = the whole asset is offline).
SENSORS: dict[str, tuple[str, ...]] = {name: (name,) for name in CHANNEL_NAMES if not name.startswith("vib_")}
SENSORS["vibration"] = tuple(c for c in CHANNEL_NAMES if c.startswith("vib_"))
SENSOR_NAMES = tuple(SENSORS)
SENSOR_CHANNELS = [np.array([CHANNEL_NAMES.index(c) for c in SENSORS[s]]) for s in SENSOR_NAMES]
TEMPERATURES = {"winding_temp", "bearing_temp", "ambient_temp", "discharge_temp"}
_SHAPE_STATS = {"vib_kurtosis", "vib_crest"}
_RATE_PER_YEAR = {"drift": 0.3, "stuck": 0.2, "dropout": 0.8, "spike": 12.0}
_OUTAGES_PER_YEAR = 3.0


@dataclass
class SensorFaults:
    """Fault episodes: ``(asset, sensor, kind, start, end, mag)`` arrays; ``start``/``end`` are step indices."""

    asset: np.ndarray
    sensor: np.ndarray  # index into SENSOR_NAMES, -1 = whole asset offline
    kind: np.ndarray  # str
    start: np.ndarray
    end: np.ndarray
    mag: np.ndarray

    def overlapping(self, first: int, stop: int) -> np.ndarray:
        return np.flatnonzero((self.start < stop) & (self.end > first))


def sample_sensor_faults(
    channel_mask: np.ndarray,
    site_factor: np.ndarray,
    steps: int,
    step_min: int,
    recalibrations: Sequence[Sequence[int]],
    rng: np.random.Generator,
    scale: float = 1.0,
) -> SensorFaults:
    """Draw fault episodes for ``n`` assets over ``steps`` steps of ``step_min`` minutes.

    ``channel_mask`` ``(n, channels)`` says which channels an asset has; ``recalibrations`` holds, per asset,
    the steps at which maintenance recalibrates its sensors (ending drifts).
    """
    n = channel_mask.shape[0]
    years = steps * step_min / 525_600.0
    rows: list[tuple[int, int, str, int, int, float]] = []
    has = np.array([[channel_mask[a, SENSOR_CHANNELS[s]].any() for s in range(len(SENSOR_NAMES))] for a in range(n)])
    per_day = 1440 // step_min
    for kind, rate in _RATE_PER_YEAR.items():
        counts = rng.poisson(rate * years * scale * site_factor[:, None] * has)
        for a, s in zip(*np.nonzero(counts), strict=True):
            for start in rng.integers(0, steps, counts[a, s]):
                temp = SENSOR_NAMES[s] in TEMPERATURES
                if kind == "drift":
                    natural = start + int(rng.lognormal(np.log(60.0), 0.5) * per_day)
                    later = [r for r in recalibrations[a] if r > start]
                    end = min([natural, *later[:1]])
                    mag = rng.uniform(0.1, 0.5) if temp else rng.uniform(0.002, 0.01)
                    mag *= rng.choice([-1.0, 1.0])
                elif kind == "stuck":
                    end, mag = start + max(1, int(rng.lognormal(np.log(360.0), 1.0) / step_min)), 0.0
                elif kind == "dropout":
                    end, mag = start + max(1, int(rng.lognormal(np.log(30.0), 1.2) / step_min)), 0.0
                else:
                    end = start + 1
                    mag = rng.uniform(10.0, 40.0) if temp else rng.uniform(1.5, 4.0)
                rows.append((int(a), int(s), kind, int(start), int(min(end, steps)), float(mag)))
    outages = rng.poisson(_OUTAGES_PER_YEAR * years * scale * site_factor)
    for a in np.flatnonzero(outages):
        for start in rng.integers(0, steps, outages[a]):
            end = start + max(1, int(rng.lognormal(np.log(20.0), 1.3) / step_min))
            rows.append((int(a), -1, "dropout", int(start), int(min(end, steps)), 0.0))
    rows.sort(key=lambda r: (r[3], r[0], r[1]))
    cols: list[Sequence[object]] = list(zip(*rows, strict=True)) if rows else [[] for _ in range(6)]
    return SensorFaults(
        asset=np.array(cols[0], dtype=np.int64),
        sensor=np.array(cols[1], dtype=np.int64),
        kind=np.array(cols[2], dtype=object),
        start=np.array(cols[3], dtype=np.int64),
        end=np.array(cols[4], dtype=np.int64),
        mag=np.array(cols[5], dtype=float),
    )


def apply_sensor_faults(
    values: np.ndarray, faults: SensorFaults, first: int, held: dict[int, np.ndarray], step_min: int = 1
) -> None:
    """Apply the episodes overlapping a chunk to ``values`` ``(channels, n, steps)`` in place.

    ``first`` is the chunk's first step; ``held`` carries stuck values across chunks (keyed by episode index).
    """
    steps = values.shape[2]
    for e in faults.overlapping(first, first + steps):
        a, kind = int(faults.asset[e]), faults.kind[e]
        lo, hi = max(int(faults.start[e]) - first, 0), min(int(faults.end[e]) - first, steps)
        chans = np.arange(values.shape[0]) if faults.sensor[e] < 0 else SENSOR_CHANNELS[faults.sensor[e]]
        if kind == "dropout":
            values[chans, a, lo:hi] = np.nan
        elif kind == "stuck":
            if e not in held:
                held[e] = values[chans, a, lo].copy()
            values[chans, a, lo:hi] = held[e][:, None]
        elif kind == "spike":
            for c in chans:
                if CHANNEL_NAMES[c] in TEMPERATURES:
                    values[c, a, lo:hi] += faults.mag[e]
                else:
                    values[c, a, lo:hi] *= faults.mag[e]
        else:  # drift: a temperature offset, or a gain (accelerometer sensitivity: kurtosis and crest unchanged)
            days = (np.arange(lo, hi) + first - faults.start[e]) * (step_min / 1440.0)
            for c in chans:
                name = CHANNEL_NAMES[c]
                if name in TEMPERATURES:
                    values[c, a, lo:hi] += (faults.mag[e] * days).astype(values.dtype)
                elif name not in _SHAPE_STATS:
                    values[c, a, lo:hi] *= (1.0 + faults.mag[e] * days).astype(values.dtype)
