"""Trailing window statistics: precision far from the first row and speed, before and after (issue 14).

``models.anomaly.robust.trailing_mean`` / ``trailing_std`` (the embedding and discord members' window means and
spreads, the change-point member's reference mean) took differences of cumulative sums over the whole series
until 2026-12-06 (:func:`cumulative_mean` / :func:`cumulative_variance` below, kept here as "before"); they now
join each window's own pairwise sums (``robust.window_moments``: "after"). This script measures both:

- *error*: on series of a few shapes a plant exports (a large level with a small spread, a drifting level, a
  counter), the largest difference over the last ``--tail`` rows from numpy's own mean and two-pass standard
  deviation of each window, for windows 4, 32 and 256 (the embedding's and the discord's);
- *starts elsewhere*: the largest difference between a row's value in the whole series and in the same series
  started ``--offset`` rows later (what the stream's context and ``detect --only-new`` see);
- *speed*: one call on ``--rows`` x ``--channels`` standard normal values, old and new alternated, medians.

    .venv/bin/python benchmarks/trailing_precision.py                       # about a minute
    .venv/bin/python benchmarks/trailing_precision.py --rows 200000 --runs 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from forewarn.models.anomaly import robust  # noqa: E402

WINDOWS = (4, 32, 256)
Stat = Callable[[np.ndarray, int], np.ndarray]


def cumulative_mean(values: np.ndarray, window: int) -> np.ndarray:
    """The trailing mean as computed until 2026-12-06: differences of one cumulative sum over the whole series."""
    x = np.asarray(values, dtype="float64")
    csum = np.cumsum(x, axis=0)
    out = csum.copy()
    out[window:] -= csum[:-window]
    counts = np.minimum(np.arange(1, len(x) + 1), window).astype("float64")
    return out / counts.reshape((-1,) + (1,) * (x.ndim - 1))


def cumulative_std(values: np.ndarray, window: int) -> np.ndarray:
    """The trailing standard deviation as computed until 2026-12-06: mean square minus squared mean of cumulative
    sums centred on the first row."""
    centred = values - values[:1]
    mean = cumulative_mean(centred, window)
    square = cumulative_mean(centred * centred, window)
    return np.sqrt(np.maximum(square - mean * mean, 0.0))


FORMS: dict[str, tuple[Stat, Stat]] = {
    "before": (cumulative_mean, cumulative_std),
    "after": (robust.trailing_mean, robust.trailing_std),
}


def shapes(rows: int, seed: int) -> dict[str, np.ndarray]:
    """One column each: what the form before got wrong far from the first row."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows, dtype="float64")
    noise = rng.normal(size=rows)
    return {
        "level 1e6, spread 1e-3": 1e6 + 1e-3 * noise,
        "drift 1e3 + 0.01 / row, spread 1e-3": 1e3 + 0.01 * t + 1e-3 * noise,
        "counter from 1e7, steps 0-49, spread 1e-3": 1e7 + np.cumsum(rng.integers(0, 50, rows)) + 1e-3 * noise,
        "standard normal (z-scores)": noise,
        "flat 12.3 after a ramp (a stuck sensor)": np.where(t < rows - 1000, t * 1e-3, 12.3),
    }


def errors(series: np.ndarray, tail: int, offset: int) -> dict[str, Any]:
    x = series[:, None]
    out: dict[str, Any] = {}
    for window in WINDOWS:
        rows = sliding_window_view(series[-tail - window + 1 :], window)
        true_mean, true_std = rows.mean(axis=1), rows.std(axis=1)
        for form, (mean, std) in FORMS.items():
            m, s = mean(x, window)[-tail:, 0], std(x, window)[-tail:, 0]
            later_m, later_s = mean(x[offset:], window)[-tail:, 0], std(x[offset:], window)[-tail:, 0]
            out[f"w{window} {form}"] = {
                "mean error": float(np.abs(m - true_mean).max()),
                "std error": float(np.abs(s - true_std).max()),
                "std relative error": float((np.abs(s - true_std) / np.maximum(true_std, 1e-300)).max()),
                "true std (median)": float(np.median(true_std)),
                "mean, started later": float(np.abs(m - later_m).max()),
                "std, started later": float(np.abs(s - later_s).max()),
            }
    return out


def speed(rows: int, channels: int, runs: int) -> dict[str, Any]:
    values = np.random.default_rng(0).normal(size=(rows, channels))
    times: dict[str, list[float]] = {}
    for _ in range(runs):
        for window in WINDOWS:
            for form, (mean, std) in FORMS.items():  # old and new alternated
                for name, stat in (("mean", mean), ("std", std)):
                    start = time.perf_counter()
                    stat(values, window)
                    times.setdefault(f"{name} w{window} {form}", []).append(time.perf_counter() - start)
    return {key: {"median s": float(np.median(v)), "runs": [round(x, 3) for x in v]} for key, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=10, help="speed: columns")
    parser.add_argument("--tail", type=int, default=20_000, help="error: the last rows compared")
    parser.add_argument("--offset", type=int, default=900_000, help="started later: by this many rows")
    parser.add_argument("--runs", type=int, default=5, help="speed: calls of each form, alternated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", default="error,speed")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    offset = min(args.offset, args.rows - args.tail - max(WINDOWS))
    figures: dict[str, Any] = {"rows": args.rows, "offset": offset, "load": os.getloadavg()}
    parts = args.parts.split(",")
    if "error" in parts:
        figures["error"] = {}
        for name, series in shapes(args.rows, args.seed).items():
            figures["error"][name] = found = errors(series, args.tail, offset)
            print(name)
            for key, row in found.items():
                print(f"  {key:11s}", "  ".join(f"{k} {v:.2e}" for k, v in row.items()))
    if "speed" in parts:
        figures["speed"] = speed(args.rows, args.channels, args.runs)
        for key, row in figures["speed"].items():
            print(f"{key:18s} {row['median s']:.3f} s  {row['runs']}")
    figures["load after"] = os.getloadavg()
    print("load", figures["load"], "->", figures["load after"])
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=1)


if __name__ == "__main__":
    main()
