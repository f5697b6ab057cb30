"""An hourly plant export of another shape than the twin's: a fleet of machines with replaceable components.

What a plant's historian and maintenance system would export for about a hundred machines (issue 12, target 2):

* ``plant.csv`` (wide, hourly): ``asset_id, ts, volt, rotate, pressure, vibration, error1 .. error5, failure_24h``;
  the four analog channels are hourly means, the five error columns count the error codes the controller logged in
  that hour, ``failure_24h`` is 1 when a failure of the machine follows within 24 h (``0 < t_fail - ts <= 24 h``).
  No row while a machine is down for repair.
* ``events.csv``: ``asset_id, ts, kind, failure_mode, action, parts, result``: failures (``failure_mode`` = the
  component, ``comp1`` .. ``comp4``) and maintenance (``action=replace``, ``parts`` = the replaced components, ``;``-separated: one
  work order per visit,
  ``result`` ``planned`` for the scheduled visits, ``corrective`` for the repair after a failure). The maintenance
  log starts ``--warmup-days`` before the readings, as a CMMS holds more history than a historian.
* ``assets.csv``: ``asset_id, site, class, install_year`` (``class`` = the machine model).

The physics (one hour per step, each machine on its own random stream):

* Channels: ``volt ~ 170``, ``rotate ~ 450``, ``pressure ~ 100``, ``vibration ~ 40`` with Gaussian noise of standard
  deviations 15, 50, 10 and 5 (times the difficulty's ``noise``), a per-machine offset of 0.3 sd, a model's own
  offset, and a daily load cycle on ``rotate`` (0.3 sd).
* Components: ``comp1`` .. ``comp4``, each tied to one channel (``volt``, ``rotate`` (falls), ``pressure``,
  ``vibration``) and one error code (``error1`` .. ``error4``); ``error5`` is a code unrelated to any failure.
  Each component, when replaced, draws a life from a Weibull law (shape 2.5, scale per model and component, 3,000 to
  8,000 h, shorter by 1.5 % per year of the machine's age); it fails at the end of that life unless replaced before.
* Scheduled maintenance: every 60-100 days per machine, replacing each component older than 3,000 h (at least the
  oldest one). After a failure the machine is down 2-12 h (no readings), then the failed component is replaced.
* Signatures: a failure with a signature (all but ``silent`` of them) shows as a drift of its component's channel
  over the last ``L`` hours (``L`` uniform in ``lead_h``), growing as ``(elapsed / L) ** 1.5`` to ``drift_sd``
  standard deviations, and as its error code, whose hourly Poisson rate grows from the background 0.002 to
  ``error_rate`` along the same curve. A *silent* failure shows nothing.
* Confounders: ``transients`` per machine-year, excursions of a random channel of 6-36 h (a triangle up to 0.5-1.0
  times ``drift_sd``) with a burst of its error code at half the rate, which no failure follows.

Difficulty (``--difficulty``): ``clear`` (4 sd over 20-28 h: the signature lies where the label does, none
silent, error rate 0.30, one transient per machine-year; meant as the learnable end, it measured harder than
``easy``: the drift's ``** 1.5`` growth leaves the label window's first half nearly flat), ``easy`` (drift 3 sd over 48-120 h, 5 % silent, error rate 0.15, 2 transients per
machine-year), ``medium`` (1.5 sd over 24-96 h, 15 % silent, 0.08, 4 transients), ``hard`` (0.8 sd over 12-72 h,
noise x1.3, 30 % silent, 0.04, 6 transients). The task is not solvable perfectly at any difficulty: silent failures,
transients and noise cap every detector.

Seeds used in BENCHMARKS.md (issue 12): validation 31-34, test 35-37 (measured once, with the rule chosen on
validation).

    .venv/bin/python benchmarks/plant_shapes.py --seed 31 --difficulty medium --out /tmp/shape31

>>> files = make_plant(Shape(assets=3, days=20, seed=1, warmup_days=10), difficulty="easy")
>>> sorted(files), list(files["plant"].columns[:4])
(['assets', 'events', 'plant', 'truth'], ['asset_id', 'ts', 'volt', 'rotate'])
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CHANNELS = ("volt", "rotate", "pressure", "vibration")
MEANS = np.array([170.0, 450.0, 100.0, 40.0])
SDS = np.array([15.0, 50.0, 10.0, 5.0])
#: the direction of each component's channel drift (comp2 loses rotation)
DIRECTIONS = np.array([1.0, -1.0, 1.0, 1.0])
COMPONENTS = ("comp1", "comp2", "comp3", "comp4")
ERRORS = ("error1", "error2", "error3", "error4", "error5")
MODELS = ("model1", "model2", "model3", "model4")
#: Weibull scale of each component's life (hours) per machine model
LIFE_SCALE = np.array(
    [
        [6000.0, 8000.0, 5000.0, 7000.0],
        [5000.0, 7000.0, 6000.0, 4000.0],
        [8000.0, 4000.0, 7000.0, 6000.0],
        [3000.0, 6000.0, 8000.0, 5000.0],
    ]
)
LIFE_SHAPE = 2.5
BACKGROUND_ERRORS = 0.002
#: a scheduled visit replaces every component older than this (hours)
REPLACE_AGE_H = 3000.0
START = pd.Timestamp("2024-01-01", tz="UTC")


@dataclass(frozen=True)
class Difficulty:
    drift_sd: float
    lead_h: tuple[float, float]
    noise: float
    silent: float
    error_rate: float
    transients: float


DIFFICULTIES = {
    "clear": Difficulty(4.0, (20.0, 28.0), 1.0, 0.0, 0.30, 1.0),
    "easy": Difficulty(3.0, (48.0, 120.0), 1.0, 0.05, 0.15, 2.0),
    "medium": Difficulty(1.5, (24.0, 96.0), 1.0, 0.15, 0.08, 4.0),
    "hard": Difficulty(0.8, (12.0, 72.0), 1.3, 0.30, 0.04, 6.0),
}
#: each difficulty's own random stream (fixed: a new difficulty leaves the others' data as it was)
STREAM = {"easy": 0, "hard": 1, "medium": 2, "clear": 3}


@dataclass(frozen=True)
class Shape:
    assets: int = 100
    days: int = 365
    seed: int = 31
    warmup_days: int = 120


def _history(
    rng: np.random.Generator, model: int, age_years: float, start_h: int, end_h: int
) -> tuple[list[tuple[int, str, int]], list[tuple[int, int]]]:
    """One machine's events from ``start_h`` (negative: the warm-up) to ``end_h``: ``(hour, kind, component)``
    (kind ``failure``, ``planned`` or ``corrective``) and the down spans ``(from, to)``."""
    scale = LIFE_SCALE[model] * max(0.5, 1.0 - 0.015 * age_years)
    installed = start_h - rng.uniform(0.0, 4000.0, size=4)  # the components' ages when the log starts

    def life(k: int, since: float) -> float:
        return since + scale[k] * rng.weibull(LIFE_SHAPE)

    fails = np.array([life(k, installed[k]) for k in range(4)])
    fails = np.maximum(fails, start_h + rng.uniform(1.0, 500.0, size=4))  # none failed before the log starts
    replaced = installed.copy()
    visit = start_h + rng.uniform(0.0, 100.0) * 24.0
    events: list[tuple[int, str, int]] = []
    down: list[tuple[int, int]] = []
    while True:
        k = int(np.argmin(fails))
        if min(fails[k], visit) >= end_h:
            break
        if fails[k] <= visit:
            t = int(fails[k])
            events.append((t, "failure", k))
            back = t + int(rng.integers(2, 13))
            down.append((t, back))
            events.append((back, "corrective", k))
            replaced[k] = back
            fails[k] = life(k, back)
            fails = np.maximum(fails, back + 1.0)  # nothing fails while the machine is down
        else:
            t = int(visit)
            ages = t - replaced
            chosen = set(np.flatnonzero(ages > REPLACE_AGE_H).tolist()) | {int(np.argmax(ages))}
            for j in sorted(chosen):
                events.append((t, "planned", j))
                replaced[j] = t
                fails[j] = life(j, t)
            visit = t + rng.uniform(60.0, 100.0) * 24.0
    return events, down


def _machine(
    rng: np.random.Generator, asset: str, model: int, age_years: float, shape: Shape, level: Difficulty
) -> tuple[pd.DataFrame, list[dict[str, object]], list[dict[str, object]]]:
    """One machine's hourly rows, its events and its failures' truth (signature or not, lead)."""
    hours = shape.days * 24
    events, down = _history(rng, model, age_years, -shape.warmup_days * 24, hours)
    t = np.arange(hours)
    offset = MEANS + SDS * (0.3 * rng.standard_normal(4) + 0.2 * (model - 1.5))
    values = offset + SDS * level.noise * rng.standard_normal((hours, 4))
    values[:, 1] += 0.3 * SDS[1] * np.sin(2 * np.pi * (t % 24) / 24.0 + rng.uniform(0, 2 * np.pi))
    rate = np.full((hours, 5), BACKGROUND_ERRORS)
    rate[:, 4] = 2 * BACKGROUND_ERRORS
    truth = []
    for when, kind, k in events:
        if kind != "failure" or when < 0:
            continue
        silent = bool(rng.random() < level.silent)
        lead = float(rng.uniform(*level.lead_h))
        truth.append({"asset_id": asset, "hour": when, "component": COMPONENTS[k], "silent": silent, "lead_h": lead})
        if silent:
            continue
        rows = t[(t >= when - lead) & (t < when)]
        grow = ((rows - (when - lead)) / lead) ** 1.5
        values[rows, k] += DIRECTIONS[k] * level.drift_sd * SDS[k] * grow
        rate[rows, k] += level.error_rate * grow
    for _ in range(rng.poisson(level.transients * shape.days / 365.0)):
        k = int(rng.integers(0, 4))
        length = int(rng.integers(6, 37))
        at = int(rng.integers(0, max(1, hours - length)))
        rows = np.arange(at, at + length)
        bump = 1.0 - np.abs(np.linspace(-1.0, 1.0, length))
        values[rows, k] += DIRECTIONS[k] * rng.uniform(0.5, 1.0) * level.drift_sd * SDS[k] * bump
        rate[rows, k] += 0.5 * level.error_rate * bump
    counts = rng.poisson(rate)
    up = np.ones(hours, dtype=bool)
    for start, end in down:
        up[max(0, start) : max(0, min(hours, end))] = False
    failures = np.array(sorted(w for w, kind, _ in events if kind == "failure" and w >= 0) + [np.inf])
    following = failures[np.searchsorted(failures, t, side="right")]  # the first failure after each hour
    label = ((following - t) <= 24).astype(int)
    frame = pd.DataFrame(np.round(values, 3), columns=list(CHANNELS))
    frame[list(ERRORS)] = counts
    frame.insert(0, "ts", START + pd.to_timedelta(t, unit="h"))
    frame.insert(0, "asset_id", asset)
    frame["failure_24h"] = label
    log: list[dict[str, object]] = []
    for when, kind, k in events:
        ts = START + pd.Timedelta(hours=int(when))
        if kind == "failure":
            log.append({"asset_id": asset, "ts": ts, "kind": "failure", "failure_mode": COMPONENTS[k]})
        elif log and log[-1]["ts"] == ts and log[-1]["kind"] == "maintenance":  # one work order, several parts
            log[-1]["parts"] = f"{log[-1]['parts']};{COMPONENTS[k]}"
        else:
            log.append(
                {
                    "asset_id": asset,
                    "ts": ts,
                    "kind": "maintenance",
                    "action": "replace",
                    "parts": COMPONENTS[k],
                    "result": kind,
                }
            )
    return frame[up].reset_index(drop=True), log, truth


def make_plant(shape: Shape, difficulty: str = "medium") -> dict[str, pd.DataFrame]:
    """The fleet's three exports and the failures' truth (``plant``, ``events``, ``assets``, ``truth``)."""
    level = DIFFICULTIES[difficulty]
    root = np.random.SeedSequence([shape.seed, STREAM[difficulty]])
    streams = [np.random.default_rng(s) for s in root.spawn(shape.assets + 1)]
    models = streams[-1].integers(0, 4, size=shape.assets)
    installed = streams[-1].integers(2004, 2023, size=shape.assets)
    frames, logs, truths, assets = [], [], [], []
    for i in range(shape.assets):
        asset = f"M{i + 1:03d}"
        frame, log, truth = _machine(streams[i], asset, int(models[i]), 2024 - installed[i], shape, level)
        frames.append(frame)
        logs.extend(log)
        truths.extend(truth)
        assets.append({"asset_id": asset, "site": "plant", "class": MODELS[models[i]], "install_year": installed[i]})
    events = pd.DataFrame(logs, columns=["asset_id", "ts", "kind", "failure_mode", "action", "parts", "result"])
    return {
        "plant": pd.concat(frames, ignore_index=True),
        "events": events.sort_values(["asset_id", "ts", "kind"], ignore_index=True),
        "assets": pd.DataFrame(assets),
        "truth": pd.DataFrame(truths, columns=["asset_id", "hour", "component", "silent", "lead_h"]),
    }


def write(files: dict[str, pd.DataFrame], out: Path, shape: Shape, difficulty: str) -> dict[str, object]:
    """Write the CSVs (ISO times) and ``shape.json``; returns what was written, counted."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("plant", "events", "assets", "truth"):
        frame = files[name].copy()
        if "ts" in frame:
            frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        frame.to_csv(out / f"{name}.csv", index=False)
    events = files["events"]
    in_span = events["ts"] >= START
    summary: dict[str, object] = {
        "shape": asdict(shape),
        "difficulty": difficulty,
        "level": asdict(DIFFICULTIES[difficulty]),
        "rows": len(files["plant"]),
        "label_rows": int(files["plant"]["failure_24h"].sum()),
        "failures": int(((events["kind"] == "failure") & in_span).sum()),
        "silent": int(files["truth"]["silent"].sum()),
        "maintenance": int(((events["kind"] == "maintenance") & in_span).sum()),
    }
    (out / "shape.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--difficulty", choices=sorted(DIFFICULTIES), default="medium")
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--warmup-days", type=int, default=120)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    shape = Shape(assets=args.assets, days=args.days, seed=args.seed, warmup_days=args.warmup_days)
    print(json.dumps(write(make_plant(shape, args.difficulty), args.out, shape, args.difficulty), default=str))


if __name__ == "__main__":
    main()
