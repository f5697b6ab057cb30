"""Benchmark results: one record per (model, seed), summarised as mean and spread over seeds.

A dataset runner yields :class:`ModelRun` records; :func:`summarise` turns them into the ``results`` list
of ``forewarn bench --json`` (per model: ``model``, metric means under their usual names, ``<metric>_std``,
``fit_s``, ``predict_s``, ``seeds``, and the first seed's ``predictions`` when the runner gives them).

>>> runs = [ModelRun("m", 0, {"rmse": 12.0}, 1.0, 0.1), ModelRun("m", 1, {"rmse": 14.0}, 3.0, 0.1)]
>>> r = summarise(runs)[0]
>>> r["model"], r["rmse"], r["rmse_std"], r["seeds"]
('m', 13.0, 1.0, 2)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forewarn.base.json_values import finite_json
from forewarn.evaluate.svg import bar_chart

#: metrics where lower is better (the rest: higher is better)
LOWER_IS_BETTER = {
    "rmse",
    "score",
    "far",
    "mar",
    "mae",
    "false_alarms_per_asset_month",
    "false_alerts",
    "fit_s",
    "rmse_capped_truth",
    "score_capped_truth",
    "capped_prediction_floor_rmse",
    "predict_s",
    "negative_increments",
}


@dataclass
class ModelRun:
    """One model fitted and evaluated with one seed."""

    model: str
    seed: int
    metrics: dict[str, float]
    fit_s: float
    predict_s: float
    predictions: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def summarise(runs: Iterable[ModelRun]) -> list[dict[str, Any]]:
    """Mean and standard deviation of every metric per model, in first-seen model order."""
    by_model: dict[str, list[ModelRun]] = {}
    for run in runs:
        by_model.setdefault(run.model, []).append(run)
    results = []
    for model, group in by_model.items():
        group.sort(key=lambda r: r.seed)
        row: dict[str, Any] = {"model": model, "seeds": len(group)}
        for timing in ("fit_s", "predict_s"):
            row[timing] = float(np.mean([getattr(r, timing) for r in group]))
        names = sorted({k for r in group for k in r.metrics})
        for name in names:
            values = np.asarray([r.metrics[name] for r in group if name in r.metrics], dtype="float64")
            row[name] = float(np.mean(values))
            row[f"{name}_std"] = float(np.std(values))
        if group[0].predictions is not None:
            row["predictions"] = group[0].predictions
        if group[0].extra:
            row.update(group[0].extra)
        results.append(row)
    return results


def metric_names(results: Sequence[dict[str, Any]]) -> list[str]:
    """The metrics present in ``results`` (without spreads, timings and bookkeeping)."""
    skip = {"model", "seeds", "fit_s", "predict_s", "predictions"}
    names: list[str] = []
    for row in results:
        for key, value in row.items():
            if key in skip or key.endswith("_std") or not isinstance(value, (int, float)) or key in names:
                continue
            names.append(key)
    return names


def write_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write the benchmark payload (``dataset``, ``protocol``, ``results``, ``published``...) as strict JSON: a
    figure a result does not have (NaN) is ``null`` (:func:`~forewarn.base.json_values.finite_json`)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(finite_json(payload), indent=2, allow_nan=False), encoding="utf-8")
    return out


def write_chart(
    path: str | os.PathLike[str],
    results: Sequence[dict[str, Any]],
    metric: str,
    published: Sequence[dict[str, Any]] = (),
    title: str = "",
) -> Path:
    """An SVG bar chart of ``metric`` per model (error bars = spread over seeds), published rows in grey.

    The file is SVG whatever ``path`` says: another suffix (``.png`` from older scripts) becomes ``.svg``, and the
    path written is returned."""

    def shown(row: dict[str, Any]) -> bool:
        return isinstance(row.get(metric), int | float) and math.isfinite(row[metric])

    rows = [(row["model"], float(row[metric]), float(row.get(f"{metric}_std") or 0.0)) for row in results if shown(row)]
    colours = ["#1f77b4"] * len(rows)
    rows += [(row["method"], float(row[metric]), 0.0) for row in published if shown(row)]
    colours += ["#9a9a9a"] * (len(rows) - len(colours))
    better = "lower" if metric in LOWER_IS_BETTER else "higher"
    out = Path(path).with_suffix(".svg")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        bar_chart(
            rows, f"{metric} ({better} is better; blue: Forewarn, grey: published)", colours=colours, title=title
        ),
        encoding="utf-8",
    )
    return out
