"""``benchmarks/detect.py --parts short``: ``forewarn detect``'s default on *short* healthy histories (issue 14).

Healthy data nobody tuned for is often short: a new plant, a new sensor, an export of a few hours. This part cuts
healthy series to their first ``N`` rows (``--short-lengths``, default 10, 20, 40, 60, 120, 250, 500, 1000 and the
full length) and scores them through :func:`forewarn.detect.detect_frame` as ``forewarn detect --store`` does:
one call per source and ``N``, each series an asset (``asset_id``) of its source's class, so an asset with fewer
than ``MIN_TRAIN_ROWS`` training rows is pooled with the others of its class (the package text of
:mod:`forewarn.detect`). Nothing here is anomalous, so every episode start is a false alarm. Sources:

* ``twin``: a healthy twin fleet (``--short-seed``, 1 by default: not the ``healthy`` part's fleet 0; 20 assets
  x 30 days at 10 min, no degradation, no sensor faults), each asset's class its machine class;
* ``noise``, ``seasonal``, ``drift``, ``steps``: synthetic healthy series of four shapes (:func:`shaped_series`;
  six series of 4,000 one-minute rows and 3 channels per shape);
* ``skab-train``: SKAB's training parts (the first 400 rows of each labelled file, the protocol's
  :data:`forewarn.datasets.skab.N_TRAIN`) that hold no anomalous row; the test parts are never read;
* ``skab-free``: SKAB's anomaly-free recording (9,405 rows) cut into consecutive pieces of ``N`` rows (at most
  20 pieces; the full length: the whole file as one series), each piece an asset.

Per source and ``N``: the share of rows that start an episode (all rows, and the rows after each asset's
training part), the episodes, and how many rows the models that scored the assets learnt from (the median over
assets; a pooled asset counts its pool's rows).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

LENGTHS = (10, 20, 40, 60, 120, 250, 500, 1000, 0)  # 0: the full length
SHAPES = ("noise", "seasonal", "drift", "steps")
#: series per synthetic shape, rows each
SHAPE_SERIES, SHAPE_ROWS = 6, 4000
#: most pieces cut from SKAB's anomaly-free file at one length
FREE_PIECES = 20


def shaped_series(shape: str, seed: int, n_rows: int = SHAPE_ROWS, n_channels: int = 3) -> pd.DataFrame:
    """A healthy series of one shape, one-minute rows: ``noise`` (correlated Gaussian noise), ``seasonal`` (a
    daily and an hourly cycle under noise), ``drift`` (a slow random walk under noise: after 4,000 rows it has
    wandered about 3 noise spreads), ``steps`` (the channels move together between three set points, each held
    for 100-600 rows).

    >>> frame = shaped_series("steps", seed=0, n_rows=50)
    >>> list(frame.columns), len(frame)
    (['timestamp', 'value_0', 'value_1', 'value_2'], 50)
    """
    rng = np.random.default_rng([seed, SHAPES.index(shape)])
    mixing = np.eye(n_channels) + 0.5 * rng.normal(size=(n_channels, n_channels))
    noise = rng.normal(size=(n_rows, n_channels)) @ mixing.T
    t = np.arange(n_rows, dtype="float64")[:, None]
    if shape == "noise":
        common = np.zeros((n_rows, 1))
    elif shape == "seasonal":
        common = 4.0 * np.sin(2 * np.pi * (t / 1440.0 + rng.uniform())) + 1.5 * np.sin(2 * np.pi * t / 60.0)
    elif shape == "drift":
        common = np.cumsum(rng.normal(0.0, 0.05, (n_rows, 1)), axis=0)
    elif shape == "steps":
        holds = rng.integers(100, 600, n_rows // 100 + 1)
        points = rng.choice([-6.0, 0.0, 6.0], len(holds))
        common = np.repeat(points, holds)[:n_rows, None]
    else:
        raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")
    gains = rng.uniform(0.5, 2.0, n_channels) * rng.choice([-1.0, 1.0], n_channels)
    values = 20.0 + common * gains + noise
    frame = pd.DataFrame(values, columns=[f"value_{i}" for i in range(n_channels)])
    frame.insert(0, "timestamp", pd.date_range("2024-01-01", periods=n_rows, freq="min", tz="UTC"))
    return frame


def _twin(seed: int, assets: int, days: int) -> list[tuple[str, str, pd.DataFrame]]:
    from forewarn.twin import FleetConfig, simulate_fleet

    fleet = simulate_fleet(
        FleetConfig(
            sites=1, assets=assets, days=days, seed=seed, interval="10min", degradation=False, sensor_faults=False
        )
    )
    out = []
    for asset in fleet.assets:
        rows = fleet.readings[fleet.readings["asset_id"] == asset.asset_id]
        names = [c.name for c in asset.channels if c.name in rows.columns]
        frame = pd.concat([rows["ts"].rename("timestamp"), rows[names].astype("float64")], axis=1)
        out.append(
            (str(asset.asset_id), str(asset.asset_class), frame.dropna(axis=1, how="all").reset_index(drop=True))
        )
    return out


def _skab(data_dir: str | None) -> tuple[list[tuple[str, str, pd.DataFrame]], pd.DataFrame]:
    from forewarn.datasets.skab import N_TRAIN, SENSORS, load_skab

    data = load_skab(data_dir)
    parts = []
    for file in data.files:
        head = file.frame.iloc[:N_TRAIN]
        if int(head["anomaly"].sum()):  # a training part with anomalous rows is not healthy: left out
            continue
        frame = head.loc[:, list(SENSORS)].reset_index(drop=True)
        frame.insert(0, "timestamp", head.index.to_numpy())
        parts.append((file.name, "skab", frame))
    free = data.anomaly_free.loc[:, list(SENSORS)].reset_index(drop=True)
    free.insert(0, "timestamp", data.anomaly_free.index.to_numpy())
    return parts, free


def sources(seed: int, data_dir: str | None, twin_assets: int = 20, twin_days: int = 30) -> dict[str, Any]:
    """Each source's series ``(asset_id, class, frame)``; ``skab-free`` is the whole recording (cut later)."""
    out: dict[str, Any] = {"twin": _twin(seed, twin_assets, twin_days)}
    for shape in SHAPES:
        out[shape] = [(f"{shape}-{i}", shape, shaped_series(shape, i)) for i in range(SHAPE_SERIES)]
    try:
        out["skab-train"], out["skab-free"] = _skab(data_dir)
    except Exception as err:  # the data is optional: the part says it was left out
        out["skab-missing"] = str(err)
    return out


def _cut(source: str, series: Any, n: int) -> list[tuple[str, str, pd.DataFrame]]:
    """The series of one source cut to their first ``n`` rows (0: whole); ``skab-free`` in pieces of ``n``."""
    if source == "skab-free":
        if not n or n >= len(series):
            return [("free", "skab", series)]
        count = min(FREE_PIECES, len(series) // n)
        return [(f"free-{i}", "skab", series.iloc[i * n : (i + 1) * n].reset_index(drop=True)) for i in range(count)]
    return [(a, c, f if not n else f.iloc[:n]) for a, c, f in series]


def measure(
    series: Sequence[tuple[str, str, pd.DataFrame]], score: Callable[..., Any], **options: Any
) -> dict[str, Any]:
    """One ``detect_frame`` call (``score``) over ``series`` as assets of one frame; the figures of one cell."""
    frame = pd.concat([f.assign(asset_id=a) for a, _, f in series], ignore_index=True)
    classes = {a: c for a, c, _ in series}
    result = score(frame, timestamp_column="timestamp", asset_column="asset_id", asset_classes=classes, **options)
    fits = result.fits
    pooled = fits["model"] != "own"
    learnt = fits["n_train"].where(~pooled, fits.groupby("model")["n_train"].transform("sum"))
    starts = result.scores["alarm"].to_numpy()
    trained = dict(zip(fits["asset_id"], fits["n_train"], strict=True))
    position = frame.groupby("asset_id").cumcount().to_numpy()
    within = position < frame["asset_id"].map(trained).to_numpy()
    after_rows = int((~within).sum())
    return {
        "assets": len(series),
        "rows": len(frame),
        "episodes": int(starts.sum()),
        "start_share_pct": 100.0 * float(starts.mean()),
        "after_training_share_pct": 100.0 * float(starts[~within].sum()) / after_rows if after_rows else None,
        "rows_learnt_median": float(statistics.median(learnt)),
        "pooled_assets": int(pooled.sum()),
        "notes": len(result.notes),
    }


def short_part(
    seed: int,
    data_dir: str | None,
    lengths: Sequence[int] = LENGTHS,
    only: Sequence[str] = (),
    **options: Any,
) -> dict[str, Any]:
    """Every source at every length (module text); ``only`` keeps some sources; ``options`` go to
    ``detect_frame`` (e.g. ``params``)."""
    import warnings

    from forewarn.detect import detect_frame

    found = sources(seed, data_dir)
    out: dict[str, Any] = {"seed": seed, "lengths": list(lengths), "cells": {}}
    if "skab-missing" in found:
        out["skab_missing"] = found.pop("skab-missing")
    for source, series in found.items():
        if only and source not in only:
            continue
        row = {}
        for n in lengths:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row[str(n or "full")] = measure(_cut(source, series, n), detect_frame, **options)
        out["cells"][source] = row
    return out


def short_lines(part: dict[str, Any]) -> list[str]:
    """The part as a table: per source, per length, the share of rows starting an episode (all / after the
    training part), the episodes, and the rows the models learnt from."""
    lines = [
        f"  short healthy histories (seed {part['seed']}): % of rows starting an episode, all rows / after training "
        "(episodes; rows learnt, median over assets; pooled assets)"
    ]
    if "skab_missing" in part:
        lines.append(f"    SKAB left out: {part['skab_missing']}")
    for source, row in part["cells"].items():
        cells = []
        for n, cell in row.items():
            after = cell["after_training_share_pct"]
            cells.append(
                f"{n}: {cell['start_share_pct']:.2f}/{'-' if after is None else f'{after:.2f}'} "
                f"({cell['episodes']}; {cell['rows_learnt_median']:.0f}; {cell['pooled_assets']}p)"
            )
        lines.append(f"    {source:10s} " + "  ".join(cells))
    return lines
