"""Sites for the federated benchmark (``forewarn bench federated``): data dealt to plants non-IID, and its metrics.

Each builder returns :class:`Site` records (a site's training rows and its own held-out rows; features already
computed *per site*, from that site's data only) and a :class:`Task`. The runner itself
(:mod:`forewarn.federated.benchmark`) trains the three arms, since only ``federated/`` imports Flower.

* ``seed-task``: the federated seed's factory task rebuilt from its description (8 factories, 20 sensors, three
  health states: normal, degrading, failure-imminent at 15 %), each factory with its own sensor offsets and gains
  (calibration) and a skewed health mix. :data:`VARIANTS` makes it harder: ``seed`` (as the seed wrote it: well
  separated states), ``noisy`` (three times the noise), ``subtle`` (state shifts a sixth as large), ``scarce``
  (60 rows per factory) and ``skewed`` (one factory sees almost no failure-imminent rows, another many). Factory 8
  takes no part in training: it is the held-out site.
* ``cmapss``: NASA C-MAPSS turbofan engines, RUL. Each subset present (FD001, FD002, FD004) is dealt to three
  sites by engine: FD001 by engine number; FD002 and FD004 by their *operating-regime mix* (engines sorted by the
  share of cycles in their most frequent regime and cut into three runs, so sites differ in how they are flown).
  A site normalises its own sensors per regime (its own k-means of the settings) and computes trailing-window
  statistics of the 14 informative sensors (those of FD001) plus the cycle; its test engines are the official
  test engines of its subset dealt the same way, one prediction each at the last cycle, against the uncapped
  true RUL (RMSE, training targets capped at 125). The last FD004 third is the held-out site.
* ``fleet``: the digital twin's non-IID fleet (:func:`forewarn.bench.fleet.prepare`: sites differ in climate,
  equipment mix, load, maintenance policy and calibration), failure within 7 days from trailing 24 h statistics;
  at each site 70 % of the assets train and 30 % test; the last site is held out.

Metrics (:func:`site_metrics`): RUL ``rmse``; for classification ``accuracy``, ``f1`` and ``pr_auc`` of the failure
class (failure-imminent against the rest on the seed task), and the seed's ``failure_detection_rate`` (share of
failure rows flagged: the failure class's recall).

>>> sites, task = seed_task_sites(seed=0, variant="seed")
>>> len(sites), sum(s.held_out for s in sites), task.kind, task.classes, sites[0].X_train.shape[1]
(8, 1, 'multiclass', 3, 20)
>>> m = site_metrics(task, np.array([0, 2, 2, 1]), np.eye(3)[[0, 2, 1, 1]])
>>> m["accuracy"], m["failure_detection_rate"], m["f1"]
(0.75, 0.5, 0.6666666666666666)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError

DATASETS = ("seed-task", "cmapss", "fleet")
VARIANTS = ("seed", "noisy", "subtle", "scarce", "skewed")
#: the informative C-MAPSS sensors (FD001's 14; the same ones carry the wear on every subset)
CMAPSS_SENSORS = tuple(f"sensor_{i}" for i in (2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21))
CMAPSS_WINDOW = 30
CMAPSS_CAP = 125.0
#: failure-imminent share and the other two states of the seed task
SEED_MIX = (0.60, 0.25, 0.15)


@dataclass(frozen=True)
class Task:
    """What the sites' network predicts: ``binary`` failure, ``multiclass`` health state or ``regression`` RUL."""

    kind: str
    classes: int = 1
    target_scale: float = 1.0
    failure_class: int = 1
    #: rows built for the window model: ``(channels, length)`` of the trailing window (0, 0: window statistics)
    window: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Site:
    """One site: its training rows and its own held-out rows; ``held_out`` sites take no part in training."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    held_out: bool = False
    #: per training row, the unit it belongs to (an engine, an asset): what a validation split keeps whole
    groups: np.ndarray | None = None


# -- the seed's factory task --------------------------------------------------------------------------------------
def seed_task_sites(seed: int, variant: str = "seed", factories: int = 8, sensors: int = 20) -> tuple[list[Site], Task]:
    """Factories with their own calibration and health mix; see the module text."""
    if variant not in VARIANTS:
        raise ConfigError(f"variant={variant!r} is not one of {', '.join(VARIANTS)}")
    rng = np.random.default_rng(seed)
    noise = 3.0 if variant == "noisy" else 1.0
    shift = 1.0 / 6.0 if variant == "subtle" else 1.0
    rows = 60 if variant == "scarce" else 600
    # the states' mean patterns: degrading moves a third of the sensors, failure-imminent half of them further
    pattern = np.zeros((3, sensors))
    moved = rng.permutation(sensors)
    pattern[1, moved[: sensors // 3]] = 3.0 * shift
    pattern[2, moved[: sensors // 3]] = 6.0 * shift
    pattern[2, moved[sensors // 3 : sensors // 2]] = 4.0 * shift
    sites = []
    for f in range(factories):
        offset = rng.normal(0.0, 0.5, sensors)  # calibration differs by factory
        gain = rng.uniform(0.8, 1.25, sensors)
        mix = np.array(SEED_MIX)
        if variant == "skewed":
            mix = rng.dirichlet(np.full(3, 0.6)) * 0.5 + mix * 0.5
        n = rows * 2  # half for training, half held out
        state = rng.choice(3, size=n, p=mix / mix.sum())
        X = (pattern[state] + rng.normal(0.0, noise, (n, sensors))) * gain + offset
        half = n // 2
        sites.append(
            Site(f"factory-{f + 1}", X[:half], state[:half], X[half:], state[half:], held_out=f == factories - 1)
        )
    return sites, Task("multiclass", classes=3, failure_class=2)


# -- C-MAPSS --------------------------------------------------------------------------------------------------
def _regime_order(frame: pd.DataFrame, regimes: np.ndarray) -> np.ndarray:
    """Units sorted by the share of their cycles in their most frequent regime (then by unit)."""
    share = (
        pd.Series(regimes, index=frame.index)
        .groupby(frame["unit"].to_numpy())
        .agg(lambda r: r.value_counts(normalize=True).iloc[0])
    )
    return np.asarray(share.sort_values(kind="stable").index)


def _deal(units: np.ndarray, parts: int) -> list[np.ndarray]:
    return [np.asarray(p) for p in np.array_split(np.asarray(units), parts)]


def cmapss_sites(
    data_dir: str | os.PathLike[str] | None,
    seed: int = 0,
    parts: int = 3,
    max_units: int | None = None,
    features: str = "stats",
    train_every: int = 1,
    validate: bool = False,
) -> tuple[list[Site], Task]:
    """C-MAPSS subsets dealt to sites; see the module text (``seed`` is unused: the deal is fixed).

    ``features="window"`` gives the window model's rows instead of window statistics: the last
    :data:`CMAPSS_WINDOW` cycles of the 14 regime-normalised sensors as ``sensor__t<k>`` columns (channel-major,
    the engine's first cycle repeated before its start) and the cycle; ``train_every`` keeps every k-th training
    cycle of an engine (its last included): neighbouring windows overlap in all but one cycle.

    ``validate=True`` is for choosing settings without the test engines: each site's test engines are a seeded
    fifth of its *training* engines (left out of its training rows), scored at every cycle against the RUL
    capped at 125; the official test engines are not read."""
    if features not in ("stats", "window"):
        raise ConfigError(f"features={features!r} is not one of stats, window")
    if train_every < 1:
        raise ConfigError(f"train_every={train_every} must be at least 1")
    from forewarn.datasets.cmapss import SETTINGS, available_subsets, load_cmapss, train_rul
    from forewarn.features.normalise import OperatingConditionNormaliser

    subsets = [s for s in ("FD001", "FD002", "FD004") if s in available_subsets(data_dir)]
    if not subsets:
        raise ConfigError("no C-MAPSS subset found; pass --data-dir holding cmapss/train_FD001.txt.gz ...")
    sites: list[Site] = []
    for subset in subsets:
        data = load_cmapss(subset, data_dir)
        train, test, truth = data.train, data.test, data.test_rul
        if max_units is not None:
            train, test = train[train["unit"] <= max_units], test[test["unit"] <= max_units]
        whole = OperatingConditionNormaliser(settings=list(SETTINGS), columns=list(CMAPSS_SENSORS)).fit(train)
        if whole.n_regimes_ > 1:  # deal by regime mix (the regimes found on the subset name nothing site-private)
            train_order = _regime_order(train, whole.regimes(train))
            test_order = _regime_order(test, whole.regimes(test))
        else:
            train_order, test_order = np.unique(train["unit"]), np.unique(test["unit"])
        for k, (mine, theirs) in enumerate(zip(_deal(train_order, parts), _deal(test_order, parts), strict=True)):
            site_train = train[train["unit"].isin(mine)]
            site_test = test[test["unit"].isin(theirs)]
            if validate:
                chosen = np.random.default_rng(seed + 7 * k).permutation(mine)[: max(1, len(mine) // 5)]
                site_test = site_train[site_train["unit"].isin(chosen)]
                site_train = site_train[~site_train["unit"].isin(chosen)]
            X_train, X_test = _cmapss_features(site_train, site_test, window=features == "window")
            y_train = train_rul(site_train, cap=int(CMAPSS_CAP))["rul"].to_numpy(dtype="float64")
            units = site_train["unit"].to_numpy()
            if train_every > 1:  # every k-th cycle counted back from each engine's last
                left = site_train.groupby("unit")["cycle"].transform("max").to_numpy() - site_train["cycle"].to_numpy()
                kept = left % train_every == 0
                X_train, y_train, units = X_train[kept], y_train[kept], units[kept]
            if validate:
                rows = np.arange(len(site_test))
                y_test = train_rul(site_test, cap=int(CMAPSS_CAP))["rul"].to_numpy(dtype="float64")
            else:
                last = site_test.groupby("unit")["cycle"].idxmax()
                rows = site_test.index.get_indexer(last.to_numpy())
                y_test = truth.set_index("unit").loc[last.index, "rul"].to_numpy(dtype="float64")
            name = f"{subset}-{'abc'[k] if k < 3 else k}"
            held = subset == subsets[-1] and k == parts - 1
            sites.append(Site(name, X_train, y_train, X_test[rows], y_test, held_out=held, groups=units))
    shape = (len(CMAPSS_SENSORS), CMAPSS_WINDOW) if features == "window" else (0, 0)
    return sites, Task("regression", target_scale=CMAPSS_CAP, window=shape)


def _cmapss_features(train: pd.DataFrame, test: pd.DataFrame, window: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A site's own regime normalisation (fitted on its training engines), window statistics (or the window
    itself: ``window=True``) and the cycle."""
    from forewarn.datasets.cmapss import SETTINGS
    from forewarn.features.normalise import OperatingConditionNormaliser
    from forewarn.features.window import sequence_frame, window_features

    norm = OperatingConditionNormaliser(settings=list(SETTINGS), columns=list(CMAPSS_SENSORS)).fit(train)
    build = sequence_frame if window else window_features
    out = []
    for frame in (train, test):
        z = norm.transform(frame)
        stats = build(z, group="unit", order="cycle", columns=list(CMAPSS_SENSORS), window=CMAPSS_WINDOW)
        stats["cycle"] = frame["cycle"].to_numpy(dtype="float64")
        out.append(stats.to_numpy(dtype="float64"))
    return out[0], out[1]


# -- the twin's fleet -----------------------------------------------------------------------------------------
def fleet_sites(seed: int, sites: int = 5, assets: int = 60, days: int = 180) -> tuple[list[Site], Task]:
    """The twin's non-IID fleet, one site per plant; see the module text."""
    from dataclasses import replace

    from forewarn.bench import fleet as twin_bench

    prepared = twin_bench.prepare(replace(twin_bench.FLEET, sites=sites, assets=assets, days=days, seed=seed))
    rows = prepared.rows
    X = prepared.X.to_numpy(dtype="float64")
    label = prepared.label
    labelled = np.isfinite(label)
    sampled = rows["hour"].to_numpy() % twin_bench.TRAIN_STEP == 0
    rng = np.random.default_rng(seed)
    out = []
    for i, site in enumerate(prepared.sites):
        at = rows["site_id"].to_numpy() == site
        ids = np.unique(rows.loc[at, "asset_id"])
        test_ids = rng.permutation(ids)[: max(1, int(round(0.3 * len(ids))))]
        is_test = np.isin(rows["asset_id"].to_numpy(), test_ids)
        train_rows = np.flatnonzero(at & ~is_test & labelled & sampled)
        test_rows = np.flatnonzero(at & is_test & labelled)
        out.append(
            Site(
                site,
                X[train_rows],
                label[train_rows],
                X[test_rows],
                label[test_rows],
                held_out=i == len(prepared.sites) - 1,
                groups=rows["asset_id"].to_numpy()[train_rows],
            )
        )
    return out, Task("binary")


def build_sites(
    dataset: str, seed: int, data_dir: str | os.PathLike[str] | None = None, **options: Any
) -> tuple[list[Site], Task]:
    """The sites and task of ``dataset`` for ``seed``."""
    if dataset == "seed-task":
        return seed_task_sites(seed, **options)
    if dataset == "cmapss":
        return cmapss_sites(data_dir, seed, **options)
    if dataset == "fleet":
        return fleet_sites(seed, **options)
    raise ConfigError(f"unknown federated dataset {dataset!r}; use one of {', '.join(DATASETS)}")


# -- metrics --------------------------------------------------------------------------------------------------
def site_metrics(task: Task, y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The benchmark's figures for one site's held-out rows (``predicted``: RUL, P(failure) or class probabilities)."""
    from sklearn.metrics import average_precision_score

    y = np.asarray(y)
    nan = float("nan")
    if task.kind == "regression":
        return {
            "rmse": float(np.sqrt(np.mean((np.asarray(predicted) - y) ** 2))),
            "f1": nan,
            "pr_auc": nan,
            "failure_detection_rate": nan,
            "accuracy": nan,
        }
    if task.kind == "binary":
        score = np.asarray(predicted, dtype="float64")
        chosen = (score >= 0.5).astype(int)
    else:
        proba = np.asarray(predicted, dtype="float64")
        score = proba[:, task.failure_class]
        chosen = np.argmax(proba, axis=1)
    truth = y.astype(int)
    positive = truth == task.failure_class
    flagged = chosen == task.failure_class
    tp = float((positive & flagged).sum())
    precision = tp / flagged.sum() if flagged.sum() else 0.0
    recall = tp / positive.sum() if positive.sum() else nan
    f1 = (
        2 * precision * recall / (precision + recall)
        if positive.sum() and precision + recall > 0
        else (0.0 if positive.sum() else nan)
    )
    return {
        "rmse": nan,
        "f1": float(f1),
        "pr_auc": float(average_precision_score(positive, score)) if 0 < positive.sum() < len(y) else nan,
        "failure_detection_rate": float(recall),
        "accuracy": float((chosen == truth).mean()),
    }


def pooled(sites: Sequence[Site]) -> tuple[np.ndarray, np.ndarray]:
    """Every training site's rows in one place (the pooled arm's upper bound)."""
    chosen = [s for s in sites if not s.held_out]
    return np.concatenate([s.X_train for s in chosen]), np.concatenate([s.y_train for s in chosen])
