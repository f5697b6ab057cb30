"""A labelled anomaly corpus made here, to choose and tune label-free detectors without touching a benchmark's
test set.

Each series is a healthy multichannel signal with anomalies injected into chosen rows and channels; every
injection is recorded as a labelled window (:class:`Injection`: ``start``, ``end`` rows inclusive, ``kind``,
``channels``, ``magnitude``). Two sources of healthy signal:

* **synthetic** (:func:`synthetic_series`): per channel a level, a linear trend, a daily and a weekly
  cycle (computed from the timestamps, so gaps keep the phase), AR(1) noise, and a load factor shared by
  all channels (they are correlated, as a machine's sensors are). Options: irregular sampling (each
  timestamp jittered by up to 30 % of the step), gaps (blocks of rows missing, and isolated missing values).
  ``SeriesConfig(baseline=...)`` builds it on another family of normal behaviour instead (heavy tails, bursts,
  counts, multiplicative noise, business hours, a wandering level, rare steps, a sawtooth:
  :mod:`forewarn.twin.baselines`); ``make_corpus(baselines=REALISTIC)`` draws one per synthetic series.
* **twin** (:func:`twin_series`): one asset of a healthy simulated fleet (:func:`~forewarn.twin.simulate_fleet`
  with degradation and sensor faults off), its own channels, one series per asset.

Anomaly shapes (:data:`KINDS`), sized in units of the channel's *scale* (its short-term noise, the robust
spread of first differences, floored at a tenth of its robust spread so a smooth channel still gets a
visible anomaly; see :func:`channel_scale`); only the window's rows of the chosen channels change:

=============== ===================================================================== ==================
kind            what happens in the window                                            magnitude (scale)
=============== ===================================================================== ==================
``spike``       1-3 rows jump up or down                                              6-10
``level_shift`` a constant offset, then back to normal                                3-6
``variance``    extra Gaussian noise                                                  2-4 (its std)
``drift``       a linear ramp from 0 to the magnitude, then back to normal            4-8 (at the end)
``stuck``       the sensor repeats the window's first value                           0 (not sized)
``frequency``   a new oscillation (period 6-30 rows) appears, as a loose part would   2-4 (amplitude)
=============== ===================================================================== ==================

``strength`` multiplies every magnitude (0.5: a harder corpus). Anomalies lie after the first 15 % of the
rows (NAB's probationary period) unless the series is *contaminated*: then injections also fill about a
fifth of the first 15 % (the case where a detector's training rows already hold anomalies).

Scoring windows (:meth:`LabelledSeries.windows`), NAB-style: each injection gets NAB's window (10 % of the
file shared among its anomalies after the probationary period, centred on the injection's first row) extended to cover the whole
injection; overlapping windows merge. An injection inside the probationary period keeps its own extent.
:meth:`LabelledSeries.nab_file` gives the :class:`~forewarn.evaluate.nab.NABFile` that
:func:`~forewarn.evaluate.nab.normalised_score` scores.

Files (:func:`write_corpus`, :func:`read_corpus`), NAB's layout: ``data/<name>.csv`` (``timestamp`` then one
column per channel; a one-channel series has a ``value`` column), ``labels.json`` (NAB's
``combined_windows.json``: file -> list of ``[start, end]`` timestamps of the scoring windows) and
``injections.json`` (file -> rows, source, seed and every injection). The same seed gives the same corpus.

>>> corpus = make_corpus(seed=1, n_synthetic=2, n_twin=1, n_rows=1200, n_contaminated=1)
>>> [(s.name, s.source, s.frame.shape[0]) for s in corpus]
[('synthetic-1-00', 'synthetic', 1200), ('synthetic-1-01', 'synthetic', 1200), ('twin-1-00', 'twin', 1200)]
>>> clean, contaminated = corpus[0], corpus[1]
>>> [(label.kind, label.start, label.end) for label in clean.labels]
[('level_shift', 267, 303), ('frequency', 862, 912)]
>>> file = clean.nab_file()
>>> file.probation, file.windows
(180, ((237, 303), (832, 912)))
>>> [label.end < 180 for label in contaminated.labels]
[True, True, False, False]
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from forewarn.evaluate.nab import NABFile, probation_rows
from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError
from forewarn.twin.baselines import BASELINES, REALISTIC, after_injection, channel_values, series_parts

__all__ = [
    "BASELINES",
    "KINDS",
    "REALISTIC",
    "Injection",
    "LabelledSeries",
    "SeriesConfig",
    "channel_scale",
    "inject",
    "make_corpus",
    "read_corpus",
    "synthetic_series",
    "twin_series",
    "write_corpus",
]

KINDS = ("spike", "level_shift", "variance", "drift", "stuck", "frequency")
#: kind -> (magnitude range in scale units, length range as a fraction of the series; spikes: rows)
_SHAPES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "spike": ((6.0, 10.0), (1, 3)),
    "level_shift": ((3.0, 6.0), (0.03, 0.06)),
    "variance": ((2.0, 4.0), (0.03, 0.06)),
    "drift": ((4.0, 8.0), (0.04, 0.08)),
    "stuck": ((0.0, 0.0), (0.02, 0.04)),
    "frequency": ((2.0, 4.0), (0.03, 0.06)),
}
_TIME_TEXT = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class Injection:
    """One injected anomaly: rows ``start`` to ``end`` (inclusive) of ``channels``, of ``kind``."""

    start: int
    end: int
    kind: str
    channels: tuple[str, ...]
    magnitude: float


@dataclass(frozen=True, eq=False)
class LabelledSeries:
    """A series (``frame``: ``timestamp`` in UTC then float channels) and its injected anomalies; ``baseline``: the
    family of its normal behaviour (:mod:`forewarn.twin.baselines`; a twin series: ``"twin"``)."""

    name: str
    frame: pd.DataFrame
    labels: tuple[Injection, ...]
    source: str
    seed: int
    baseline: str = "gaussian"

    @property
    def channels(self) -> list[str]:
        """The value columns."""
        return [c for c in self.frame.columns if c != "timestamp"]

    def label_mask(self) -> np.ndarray:
        """True on every row inside an injection (any channel)."""
        mask = np.zeros(len(self.frame), dtype=bool)
        for label in self.labels:
            mask[label.start : label.end + 1] = True
        return mask

    def windows(self) -> tuple[tuple[int, int], ...]:
        """NAB-style scoring windows (module text), sorted and merged."""
        n = len(self.frame)
        probation = probation_rows(n)
        scored = sum(label.end >= probation for label in self.labels)
        length = max(1, int(0.1 * n / max(scored, 1)))
        spans = []
        for label in sorted(self.labels, key=lambda item: item.start):
            if label.end < probation:
                spans.append([label.start, label.end])
                continue
            start = max(0, label.start - length // 2)
            spans.append([start, min(n - 1, max(label.end, start + length - 1))])
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return tuple((s, e) for s, e in merged)

    def nab_file(self) -> NABFile:
        """The series as a NAB file (its windows, NAB's probationary period)."""
        n = len(self.frame)
        return NABFile(n_rows=n, windows=self.windows(), probation=probation_rows(n))


@dataclass(frozen=True)
class SeriesConfig:
    """Shape of a synthetic series (module text); ``freq`` is the nominal sampling step."""

    n_rows: int = 4000
    n_channels: int = 3
    freq: str = "5min"
    start: str = "2024-01-01"
    trend: bool = True
    daily: bool = True
    weekly: bool = True
    noise: float = 1.0
    irregular: bool = False
    gaps: bool = False
    baseline: str = "gaussian"

    def __post_init__(self) -> None:
        if self.baseline not in BASELINES:
            raise ConfigError(f"SeriesConfig: unknown baseline {self.baseline!r}; use one of {', '.join(BASELINES)}")
        if self.n_rows < 100 or self.n_channels < 1:
            raise ConfigError(
                f"SeriesConfig: n_rows={self.n_rows} must be >= 100 and n_channels={self.n_channels} >= 1"
            )
        if self.noise <= 0:
            raise ConfigError(f"SeriesConfig: noise={self.noise} must be > 0")


def _column_names(n_channels: int) -> list[str]:
    return ["value"] if n_channels == 1 else [f"value_{i}" for i in range(n_channels)]


def synthetic_series(config: SeriesConfig | None = None, seed: int = 0) -> pd.DataFrame:
    """A healthy synthetic series (module text): ``timestamp`` (UTC) and ``value`` / ``value_<i>`` columns.

    >>> frame = synthetic_series(SeriesConfig(n_rows=500, n_channels=2, gaps=True, irregular=True), seed=3)
    >>> list(frame.columns), len(frame), bool(frame["timestamp"].is_monotonic_increasing)
    (['timestamp', 'value_0', 'value_1'], 500, True)
    """
    config = config or SeriesConfig()
    rng = np.random.default_rng(seed)
    step = pd.Timedelta(config.freq)
    blocks = rng.integers(5, 50, int(rng.integers(1, 4))) if config.gaps else np.zeros(0, dtype="int64")
    n_slots = config.n_rows + int(blocks.sum())
    offsets = np.arange(n_slots, dtype="float64")
    if config.irregular:
        offsets += rng.uniform(-0.3, 0.3, n_slots)
    keep = np.ones(n_slots, dtype=bool)
    for length in blocks:  # blocks of missing rows (overlapping blocks leave surplus rows, trimmed at the end)
        at = int(rng.integers(n_slots // 10, n_slots - 60))
        keep[at : at + int(length)] = False
    offsets = offsets[keep][: config.n_rows]
    times = pd.Timestamp(config.start, tz="UTC") + pd.to_timedelta(offsets * step.value, unit="ns")
    hours = (times - times[0]).total_seconds().to_numpy() / 3600.0
    load = np.zeros(len(times))
    if config.daily:
        load += np.sin(2 * np.pi * (hours / 24.0 + rng.uniform()))
    if config.weekly:
        load += 0.5 * np.sin(2 * np.pi * (hours / 168.0 + rng.uniform()))
    columns: dict[str, Any] = {"timestamp": times}
    if config.baseline != "gaussian":  # another family of normal behaviour (forewarn.twin.baselines)
        shared = series_parts(config.baseline, rng, times, hours, step.total_seconds() / 3600.0, load)
        for name in _column_names(config.n_channels):
            values = channel_values(
                config.baseline,
                rng,
                times,
                hours,
                shared,
                noise=config.noise,
                trend=config.trend,
                daily=config.daily,
            )
            if config.gaps:
                values[rng.random(len(times)) < 0.002] = np.nan
            columns[name] = values
        return pd.DataFrame(columns)
    for name in _column_names(config.n_channels):
        level, gain = rng.normal(0, 50), rng.uniform(0.5, 5.0) * rng.choice([-1.0, 1.0])
        slope = rng.normal(0, 2.0) / max(hours[-1], 1.0) if config.trend else 0.0
        phi = rng.uniform(0.0, 0.8)
        shocks = rng.normal(0, config.noise * rng.uniform(0.3, 1.5), len(times))
        noise = lfilter([1.0], [1.0, -phi], shocks)  # AR(1)
        own = np.sin(2 * np.pi * (hours / 24.0 + rng.uniform())) if config.daily else 0.0
        values = level + slope * hours + gain * load + rng.uniform(0, 2) * own + noise
        if config.gaps:
            values[rng.random(len(times)) < 0.002] = np.nan
        columns[name] = values
    return pd.DataFrame(columns)


def twin_series(
    seed: int = 0, *, assets: int = 4, days: int = 28, interval: str = "10min", max_channels: int = 8
) -> list[tuple[str, pd.DataFrame]]:
    """Healthy twin machines (no degradation, no sensor faults): ``(asset_id, frame)`` per asset.

    Each frame has ``timestamp`` and up to ``max_channels`` of the asset's own channels (those that vary).

    >>> machines = twin_series(seed=2, assets=2, days=1)
    >>> [frame.shape[0] for _, frame in machines], list(machines[0][1].columns[:3])
    ([144, 144], ['timestamp', 'speed', 'current'])
    """
    from forewarn.twin import FleetConfig, simulate_fleet

    fleet = simulate_fleet(
        FleetConfig(
            sites=1, assets=assets, days=days, seed=seed, interval=interval, degradation=False, sensor_faults=False
        )
    )
    readings = fleet.readings
    out = []
    for asset in fleet.assets:
        rows = readings[readings["asset_id"] == asset.asset_id]
        names = [c.name for c in asset.channels if c.name in rows.columns]
        values = rows[names].astype("float64")
        varying = [c for c in names if values[c].notna().any() and float(np.nanstd(values[c])) > 0][:max_channels]
        frame = pd.concat([rows["ts"].rename("timestamp"), values[varying]], axis=1).reset_index(drop=True)
        out.append((str(asset.asset_id), frame))
    return out


def channel_scale(values: np.ndarray) -> float:
    """A channel's scale for sizing anomalies: the robust std of its first differences / sqrt(2), floored at a
    tenth of its robust spread (and at 1e-9).

    >>> round(float(channel_scale(np.random.default_rng(0).normal(0, 2.0, 5000))), 1)
    2.0
    """
    x = np.asarray(values, dtype="float64")
    x = x[np.isfinite(x)]
    if x.size < 3:
        return 1e-9
    diffs = np.diff(x)
    noise = 1.4826 * float(np.median(np.abs(diffs - np.median(diffs)))) / float(np.sqrt(2.0))
    q25, q75 = np.percentile(x, [25, 75])
    return max(noise, 0.1 * float(q75 - q25) / 1.349, 1e-9)


def inject(
    frame: pd.DataFrame, kind: str, start: int, end: int, channels: Sequence[str], magnitude: float, seed: int = 0
) -> pd.DataFrame:
    """A copy of ``frame`` with a ``kind`` anomaly in rows ``start..end`` of ``channels`` (magnitude in scale
    units, :func:`channel_scale` of each channel's healthy values); nothing else changes.

    >>> frame = pd.DataFrame({"a": np.zeros(10), "b": np.arange(10.0)})
    >>> inject(frame, "stuck", 4, 6, ["b"], 0.0)["b"].tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 4.0, 4.0, 7.0, 8.0, 9.0]
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown anomaly kind {kind!r}; use one of {', '.join(KINDS)}")
    if not 0 <= start <= end < len(frame):
        raise SchemaError(f"window ({start}, {end}) is outside rows 0..{len(frame) - 1}", column="window")
    missing = [c for c in channels if c not in frame.columns]
    if missing:
        raise SchemaError(f"no channel(s) {missing}; columns are {list(frame.columns)}", column="channels")
    rng = np.random.default_rng(seed)
    out = frame.copy()
    rows = np.arange(start, end + 1)
    length = len(rows)
    for channel in channels:
        values = out[channel].to_numpy(dtype="float64", copy=True)
        size = magnitude * channel_scale(np.delete(values, rows))
        window = values[rows]
        if kind in ("spike", "level_shift"):
            window = window + size * rng.choice([-1.0, 1.0])
        elif kind == "variance":
            window = window + rng.normal(0.0, size, length)
        elif kind == "drift":
            window = window + size * rng.choice([-1.0, 1.0]) * np.arange(1, length + 1) / length
        elif kind == "stuck":
            first = window[np.isfinite(window)]
            window = np.where(np.isfinite(window), first[0] if first.size else np.nan, window)
        else:  # frequency
            period = rng.uniform(6.0, 30.0)
            window = window + size * np.sin(2 * np.pi * np.arange(length) / period + rng.uniform(0, 2 * np.pi))
        values[rows] = window
        out[channel] = values
    return out


def _length(kind: str, n_rows: int, rng: np.random.Generator, cap: int) -> int:
    low, high = _SHAPES[kind][1]
    if kind == "spike":
        return int(rng.integers(int(low), int(high) + 1))
    return max(2, min(cap, int(rng.uniform(low, high) * n_rows)))


def _label(
    frame: pd.DataFrame,
    name: str,
    source: str,
    seed: int,
    kinds: Sequence[str],
    n_anomalies: int,
    contaminated: bool,
    strength: float,
    baseline: str = "gaussian",
) -> LabelledSeries:
    """Inject ``n_anomalies`` after the probationary period (and the contamination before it, if asked); a
    ``baseline`` family's channels stay in its domain (:func:`~forewarn.twin.baselines.after_injection`)."""
    rng = np.random.default_rng([seed, len(name), sum(map(ord, name))])
    n = len(frame)
    probation = probation_rows(n)
    channels = [c for c in frame.columns if c != "timestamp"]
    plan: list[tuple[str, int, int]] = []
    slot = (n - probation) // n_anomalies
    for i in range(n_anomalies):
        kind = kinds[i % len(kinds)]
        length = _length(kind, n, rng, cap=slot // 2)
        lo = probation + i * slot + slot // 8
        start = int(rng.integers(lo, max(lo + 1, probation + (i + 1) * slot - length - slot // 8)))
        plan.append((kind, start, start + length - 1))
    if contaminated:  # about a fifth of the probationary rows, in two injections, ending before it does
        for lo, hi in ((probation // 10, probation // 2), (probation // 2 + 5, probation - 5)):
            kind = str(rng.choice(["level_shift", "variance", "frequency", "drift"]))
            length = max(2, int(0.1 * probation))
            start = int(rng.integers(lo, max(lo + 1, hi - length)))
            plan.append((kind, start, start + length - 1))
    labels = []
    for kind, start, end in sorted(plan, key=lambda item: item[1]):
        count = 1 if len(channels) == 1 or rng.random() < 0.7 else int(rng.integers(2, min(3, len(channels)) + 1))
        chosen = tuple(str(c) for c in rng.choice(channels, size=count, replace=False))
        low, high = _SHAPES[kind][0]
        magnitude = round(float(rng.uniform(low, high)) * strength, 3)
        frame = inject(frame, kind, start, end, chosen, magnitude, seed=int(rng.integers(2**31)))
        if baseline != "gaussian":
            for channel in chosen:
                frame[channel] = after_injection(baseline, frame[channel].to_numpy(dtype="float64"))
        labels.append(Injection(start, end, kind, chosen, magnitude))
    return LabelledSeries(name, frame, tuple(labels), source, seed, baseline if source == "synthetic" else source)


def make_corpus(
    seed: int = 0,
    *,
    n_synthetic: int = 10,
    n_twin: int = 4,
    n_rows: int = 4000,
    n_contaminated: int = 2,
    kinds: Sequence[str] = KINDS,
    strength: float = 1.0,
    baselines: Sequence[str] | None = None,
) -> list[LabelledSeries]:
    """A reproducible labelled corpus: ``n_synthetic`` synthetic series (shapes drawn: 1-5 channels, some
    irregular, some with gaps), ``n_twin`` healthy twin machines (``n_rows`` rows at 10 min), each with 2-4
    anomalies whose kinds cycle through ``kinds``; the last ``n_contaminated`` synthetic series (and the
    first twin one when ``n_contaminated`` > 1) are contaminated (module text).

    ``baselines`` (families of :mod:`forewarn.twin.baselines`, e.g. :data:`REALISTIC`): each synthetic series is
    built on one of them, in an order shuffled per seed and cycled, so every family gets about as many series;
    everything else (shapes, anomalies, the twin series) is drawn as without it. ``None`` (the default): every
    synthetic series on the Gaussian baseline, the corpus as before the families existed.

    >>> [s.baseline for s in make_corpus(seed=2, n_synthetic=3, n_twin=0, n_rows=500, baselines=["counts", "steps"])]
    ['steps', 'counts', 'steps']
    """
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ConfigError(f"unknown anomaly kind(s) {unknown}; use some of {', '.join(KINDS)}")
    if baselines is not None and (not baselines or any(b not in BASELINES for b in baselines)):
        raise ConfigError(f"unknown baseline families {list(baselines)}; use some of {', '.join(BASELINES)}")
    families = list(baselines) if baselines is not None else ["gaussian"]
    np.random.default_rng([seed, 9]).shuffle(families)  # its own stream: the corpus' draws stay as they were
    if strength <= 0:
        raise ConfigError(f"strength={strength} must be > 0")
    rng = np.random.default_rng(seed)
    corpus = []
    order = list(kinds)
    for i in range(n_synthetic):
        config = SeriesConfig(
            n_rows=n_rows,
            n_channels=int(rng.integers(1, 6)),
            freq=str(rng.choice(["1min", "5min", "15min", "1h"])),
            trend=bool(rng.random() < 0.7),
            daily=bool(rng.random() < 0.8),
            weekly=bool(rng.random() < 0.5),
            irregular=bool(rng.random() < 0.3),
            gaps=bool(rng.random() < 0.3),
            baseline=families[i % len(families)],
        )
        frame = synthetic_series(config, seed=int(rng.integers(2**31)))
        rng.shuffle(order)
        corpus.append(
            _label(
                frame,
                f"synthetic-{seed}-{i:02d}",
                "synthetic",
                seed,
                list(order),
                int(rng.integers(2, 5)),
                i >= n_synthetic - n_contaminated,
                strength,
                config.baseline,
            )
        )
    if n_twin:
        days = int(np.ceil(n_rows / 144))
        for i, (_, frame) in enumerate(twin_series(seed, assets=n_twin, days=days)):
            rng.shuffle(order)
            corpus.append(
                _label(
                    frame.iloc[:n_rows].reset_index(drop=True),
                    f"twin-{seed}-{i:02d}",
                    "twin",
                    seed,
                    list(order),
                    int(rng.integers(2, 5)),
                    n_contaminated > 1 and i == 0,
                    strength,
                )
            )
    return corpus


def write_corpus(corpus: Sequence[LabelledSeries], directory: str | os.PathLike[str]) -> Path:
    """Write ``data/<name>.csv``, ``labels.json`` and ``injections.json`` under ``directory`` (module text)."""
    root = Path(directory)
    (root / "data").mkdir(parents=True, exist_ok=True)
    windows: dict[str, list[list[str]]] = {}
    injections: dict[str, Any] = {}
    for series in corpus:
        key = f"{series.name}.csv"
        frame = series.frame.copy()
        frame["timestamp"] = frame["timestamp"].dt.strftime(_TIME_TEXT)
        frame.to_csv(root / "data" / key, index=False, float_format="%.9g")
        stamps = frame["timestamp"].to_numpy()
        windows[key] = [[str(stamps[s]), str(stamps[e])] for s, e in series.windows()]
        injections[key] = {
            "rows": len(frame),
            "source": series.source,
            "seed": series.seed,
            "baseline": series.baseline,
            "injections": [
                dict(
                    asdict(label),
                    channels=list(label.channels),
                    start_ts=str(stamps[label.start]),
                    end_ts=str(stamps[label.end]),
                )
                for label in series.labels
            ],
        }
    (root / "labels.json").write_text(json.dumps(windows, indent=1) + "\n", encoding="utf-8")
    (root / "injections.json").write_text(json.dumps(injections, indent=1) + "\n", encoding="utf-8")
    return root


def read_corpus(directory: str | os.PathLike[str]) -> list[LabelledSeries]:
    """Read what :func:`write_corpus` wrote (timestamps as UTC, injections as :class:`Injection`).

    >>> import tempfile
    >>> corpus = make_corpus(seed=0, n_synthetic=1, n_twin=0, n_rows=300)
    >>> again = read_corpus(write_corpus(corpus, tempfile.mkdtemp()))
    >>> again[0].labels == corpus[0].labels, again[0].windows() == corpus[0].windows()
    (True, True)
    """
    root = Path(directory)
    index = root / "injections.json"
    if not index.is_file():
        raise DataNotFoundError(
            f"no corpus at {str(root)!r}: injections.json is missing (write one with "
            "forewarn.twin.anomalies.write_corpus)"
        )
    corpus = []
    for key, entry in json.loads(index.read_text(encoding="utf-8")).items():
        frame = pd.read_csv(root / "data" / key)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], format=_TIME_TEXT, utc=True)
        if len(frame) != entry["rows"]:
            raise SchemaError(f"{len(frame)} rows, injections.json says {entry['rows']}", source=str(root / key))
        labels = tuple(
            Injection(
                int(item["start"]),
                int(item["end"]),
                str(item["kind"]),
                tuple(item["channels"]),
                float(item["magnitude"]),
            )
            for item in entry["injections"]
        )
        source = str(entry["source"])
        baseline = str(entry.get("baseline", "gaussian" if source == "synthetic" else source))
        corpus.append(LabelledSeries(key.removesuffix(".csv"), frame, labels, source, int(entry["seed"]), baseline))
    return corpus
