"""``forewarn federate``: one failure or RUL model from many plants' stores; no raw reading leaves a site.

Each site's rows come from the same train pipeline as ``forewarn train`` (:func:`site_rows`): its assets and
readings at one interval, labels from its events (:func:`forewarn.train.dataset.load_dataset`), the one window
kernel (``Dataset.features``), a held-out share of its assets (:func:`forewarn.train.pipeline.split_assets`).
A site is either its own store file (``stores``, one per plant) or, in simulation, one ``site_id`` of a store.
Every site must read the same channels at the same interval (the first site's are asked of the others).

The sites train the network of :mod:`~forewarn.federated.network` through the Flower apps
(:mod:`~forewarn.federated.apps`), or with ``model="window"`` (``--model window``, RUL) the window model of
:mod:`~forewarn.federated.window` on the last ``window`` rows of every channel (the pipeline's sequence rows,
``Dataset.features(sequence=True)``); the result is the registry's ``mlp-failure``, ``mlp-rul`` or ``cnn-rul``
(its serving spec marked ``sequence``: the service and ``forewarn score`` feed it the same rows) filed as the next
version of the model id with a model card (the sites' held-out figures, the federation's rounds, strategy and
bytes per round), served, streamed and backtested like any model ``forewarn train`` files. The bundle's serving
spec (RUL intervals, the failure probability's calibration) is fitted on the sites' held-out rows: this is the
step that, in simulation, runs where every site's held-out rows are (a deployment would fit it from the sites'
shared residual quantiles instead; not built yet).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError
from forewarn.federated import network as net
from forewarn.federated.apps import MODELS, FedConfig
from forewarn.federated.simulate import SiteRows, simulate
from forewarn.train.spec import TrainSpec

TASKS = ("failure", "rul")
#: the window model's trailing rows when the spec names no window (``cnn-rul``'s 30 cycles on C-MAPSS)
WINDOW_ROWS = 30


@dataclass
class SiteData:
    """One site's rows from the train pipeline: features, targets, asset ids, and which assets are held out."""

    name: str
    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    held: np.ndarray
    channels: list[str]
    interval: str
    frame: pd.DataFrame
    events: pd.DataFrame
    assets: pd.DataFrame

    def rows(self) -> SiteRows:
        train, test = ~self.held, self.held
        values = self.X.to_numpy(dtype="float64")
        return SiteRows(self.name, values[train], self.y[train], values[test], self.y[test])


def site_rows(store: str | os.PathLike[str], spec: TrainSpec, name: str, *, sequence: bool = False) -> SiteData:
    """A site's labelled rows through ``forewarn train``'s pipeline (the store is opened here, at the site);
    ``sequence``: the last ``window`` rows of each channel (the window model's input) instead of statistics."""
    from forewarn.train.dataset import load_dataset, opened
    from forewarn.train.pipeline import positive_rows, split_assets

    with opened(store) as db:
        data = load_dataset(db, spec)
    spec = spec.resolved(data.interval)
    usable = data.labelled & ~data.down
    if usable.sum() < 20:
        raise DataNotFoundError(
            f"site {name!r}: only {int(usable.sum())} labelled rows; it needs failures in its history"
        )
    X = data.features(spec, sequence=sequence)
    y = np.asarray(data.y, dtype="float64")
    held = split_assets(data.groups, positive_rows(data.y, spec) & usable, spec.holdout, spec.seed)
    keep = np.flatnonzero(usable)
    return SiteData(
        name,
        X.iloc[keep].reset_index(drop=True),
        y[keep],
        np.asarray(data.groups)[keep],
        held[keep],
        list(data.channels),
        data.interval,
        data.frame,
        data.events,
        data.assets,
    )


@dataclass
class FederateResult:
    folder: Path
    model_id: str
    version: str
    promoted: bool
    card: dict[str, Any]


def federate(
    models: str | os.PathLike[str],
    *,
    stores: Sequence[str | os.PathLike[str]] = (),
    store: str | os.PathLike[str] | None = None,
    sites: Sequence[str] = (),
    spec: TrainSpec | None = None,
    rounds: int = 10,
    local_epochs: int = 2,
    min_local_steps: int = 0,
    strategy: str = "fedavg",
    hidden: tuple[int, ...] = (64, 32),
    engine: str = "ray",
    dp_noise: float = 0.0,
    dp_clip: float = 1.0,
    secure_aggregation: bool = False,
    promote: bool = False,
    progress: Callable[[str], None] | None = None,
    model: str = "mlp",
    window_settings: Mapping[str, Any] | None = None,
    **options: Any,
) -> FederateResult:
    """Federated training over ``stores`` (one per site) or the ``sites`` of ``store``; files the model in
    ``models``. ``options`` override the spec's fields (``task``, ``horizon``, ``max_rul``, ``window``, ...).

    ``model="window"`` trains the window model (:mod:`~forewarn.federated.window`: ``cnn-rul``'s 1-D CNN over
    the last ``window`` rows of every channel, :data:`WINDOW_ROWS` unless the spec says; RUL only) instead of the
    perceptron on window statistics, and files it as a ``cnn-rul`` whose serving spec reads those rows
    (``sequence``); ``window_settings`` overrides its :class:`~forewarn.federated.apps.FedConfig` fields
    (``window_filters``, ``window_norm``, ``learning_rate``, ...). ``min_local_steps``: at least that many
    optimiser steps per site and round (more passes over a small site's rows, :func:`~forewarn.federated.network.
    epochs_for`; 0: ``local_epochs`` passes)."""
    say = progress or (lambda m: None)
    spec = (spec or TrainSpec()).with_options(**options)
    if spec.task not in TASKS:
        raise ConfigError(f"federate trains task failure or rul, not {spec.task!r}")
    if model not in MODELS:
        raise ConfigError(f"model={model!r} is not one of {', '.join(MODELS)}")
    sequence = model == "window"
    if sequence and spec.task != "rul":
        raise ConfigError(f"the window model predicts RUL: use --task rul with --model window (not {spec.task!r})")
    if sequence and dict(window_settings or {}).get("window_arch", "cnn") != "cnn":
        raise ConfigError("only the window model's cnn variant is a registry model that federate can file")
    if sequence and secure_aggregation:
        raise ConfigError("secure aggregation runs with the perceptron (--model mlp) only in this version")
    # before minutes of reading the sites' rows
    _check_options(engine, strategy, secure_aggregation, dp_noise, len(stores) if stores else len(sites))
    if sequence and spec.window is None:
        spec = spec.with_options(window=WINDOW_ROWS)
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        data = _load_sites(stores, store, sites, spec, say, sequence=sequence)
        spec = spec.resolved(data[0].interval)
        kind = "regression" if spec.task == "rul" else "binary"
        scale = spec.max_rul_hours if spec.task == "rul" else 1.0
        shape: dict[str, Any] = {}
        if sequence:
            assert spec.window is not None
            shape = {"model": "window", "window_channels": len(data[0].channels), "window_length": spec.window}
        config = FedConfig(
            sites=len(data),
            rounds=rounds,
            local_epochs=local_epochs,
            min_local_steps=min_local_steps,
            strategy=strategy,
            hidden=hidden,
            kind=kind,
            target_scale=scale,
            seed=spec.seed,
            dp_noise=dp_noise,
            dp_clip=dp_clip,
            **(shape | dict(window_settings or {})),
        )
        if secure_aggregation:
            outcome = _secure(data, config)
        else:
            outcome = simulate([d.rows() for d in data], config, engine=engine)
        say(f"{rounds} rounds over {len(data)} sites in {outcome.wall_seconds:.1f} s")
        names = list(data[0].X.columns)
        if sequence:
            from forewarn.federated import window

            estimator = window.as_estimator(outcome.params, config.spec(len(names)), names, seed=spec.seed)
        else:
            estimator = net.as_estimator(outcome.params, config.net_spec(len(names)), names, seed=spec.seed)
        return _file(estimator, data, spec, config, outcome.history, Path(models), promote, started)


def site_names(stores: Sequence[str | os.PathLike[str]]) -> list[str]:
    """One name per site store: its file's stem, with its folder's name in front when two stems are the same
    (plants that each export ``store.duckdb``); the same store twice is an error (one plant counted as two).

    >>> site_names(["a/plant.duckdb", "b/other.duckdb"]), site_names(["a/store.duckdb", "b/store.duckdb"])
    (['plant', 'other'], ['a-store', 'b-store'])
    """
    from forewarn.store.pg_sql import is_postgres_url

    seen: dict[str, str] = {}
    for where in stores:
        key = str(where) if is_postgres_url(str(where)) else str(Path(where).resolve())
        if key in seen:
            raise ConfigError(f"--site-store {str(where)!r} is given twice: each site is one plant's own store")
        seen[key] = str(where)
    names = [Path(str(s)).stem for s in stores]
    if len(set(names)) < len(names):
        names = [f"{Path(str(s)).parent.name}-{Path(str(s)).stem}".lstrip("-") for s in stores]
    if len(set(names)) < len(names):
        names = [f"{name}-{i + 1}" for i, name in enumerate(names)]
    return names


def _check_options(engine: str, strategy: str, secure_aggregation: bool, dp_noise: float, sites: int) -> None:
    """The run's options that do not depend on the data (FedConfig and simulate check them again, later)."""
    from forewarn.federated.apps import STRATEGIES
    from forewarn.federated.secure import check_secure
    from forewarn.federated.simulate import ENGINES

    if engine not in ENGINES:
        raise ConfigError(f"engine={engine!r} is not one of {', '.join(ENGINES)}")
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy={strategy!r} is not one of {', '.join(STRATEGIES)}")
    if secure_aggregation and engine != "inprocess":
        raise ConfigError(f"secure aggregation runs with --engine inprocess only (not {engine!r}) in this version")
    if secure_aggregation:
        check_secure(strategy, dp_noise, sites)


def _known_sites(store: str | os.PathLike[str], sites: Sequence[str]) -> None:
    """Every named site is in the store (else the error named the first site's channels, not the missing site)."""
    from forewarn.train.dataset import opened

    with opened(store) as db:
        known = sorted(set(db.assets()["site_id"].dropna().astype(str)))
    missing = [s for s in sites if s not in known]
    if missing:
        raise ConfigError(f"--sites {', '.join(missing)}: not in the store (it has {', '.join(known) or 'no site'})")


def _secure(data: Sequence[SiteData], config: FedConfig) -> Any:
    """The run with Flower's SecAgg+ (:mod:`~forewarn.federated.secure`), on the in-process transport."""
    from forewarn.federated.secure import federate_secure
    from forewarn.federated.simulate import Outcome

    params, record = federate_secure([d.rows() for d in data], config)
    history = {"engine": "inprocess", "secure_aggregation": {"protocol": "SecAgg+"} | record}
    return Outcome(params, history, float(record["wall_s"]))


def _load_sites(
    stores: Sequence[str | os.PathLike[str]],
    store: str | os.PathLike[str] | None,
    sites: Sequence[str],
    spec: TrainSpec,
    say: Callable[[str], None],
    *,
    sequence: bool = False,
) -> list[SiteData]:
    if bool(stores) == (store is not None):
        raise ConfigError("give either one store per site (--site-store, repeated) or one --store with --sites")
    if store is not None:
        if len(sites) < 2:
            raise ConfigError("simulating sites of one store needs at least two --sites")
        _known_sites(store, sites)
        plan = [(store, spec.with_options(sites=(s,)), s) for s in sites]
    else:
        if len(stores) < 2:
            raise ConfigError("federated training needs at least two site stores")
        plan = [(s, spec, name) for s, name in zip(stores, site_names(stores), strict=True)]
    data: list[SiteData] = []
    for where, site_spec, name in plan:
        if data:  # every site reads the first one's channels at its interval
            site_spec = site_spec.with_options(channels=tuple(data[0].channels), interval=data[0].interval)
        try:
            data.append(site_rows(where, site_spec, name, sequence=sequence))
        except DataNotFoundError as err:
            if not data:
                raise
            raise DataNotFoundError(
                f"site {name!r} cannot read the channels of site {data[0].name!r} ({err}); every site trains on the "
                "same channels: narrow the assets with --class or the channels with --channels"
            ) from None
        say(f"site {name}: {len(data[-1].X):,} labelled rows, {int((~data[-1].held).sum()):,} for training")
    common = [c for c in data[0].X.columns if all(c in d.X.columns for d in data)]
    dropped = sorted(set().union(*(set(d.X.columns) for d in data)) - set(common))
    if dropped:  # e.g. age_h where one site has no renewal event: a feature every site can compute, or none
        say(f"features not every site has, left out: {', '.join(dropped[:8])}")
    if not common:
        raise SchemaError("the sites share no feature; every site needs the same channels", column="channels")
    for d in data:
        d.X = d.X[common]
    return data


def _file(
    model: Any,
    data: list[SiteData],
    spec: TrainSpec,
    config: FedConfig,
    history: dict[str, Any],
    models: Path,
    promote: bool,
    started: float,
) -> FederateResult:
    from forewarn.bundles.bundle import CARD_FILE, make_bundle, training_means
    from forewarn.bundles.registry import ModelRegistry
    from forewarn.train import card as cards
    from forewarn.train.pipeline import next_version

    X_held = pd.concat([d.X[d.held] for d in data], ignore_index=True)
    y_held = np.concatenate([d.y[d.held] for d in data])
    groups = [f"{d.name}/{g}" for d in data for g in d.groups[d.held]]
    X_train = pd.concat([d.X[~d.held] for d in data], ignore_index=True)
    per_site = {d.name: _held_metrics(model, spec, d) for d in data}
    metrics: dict[str, Any] = {
        "model": model.registry_name,
        "protocol": f"federated over {len(data)} sites ({config.strategy}, {config.rounds} rounds x "
        f"{config.local_epochs} local epochs); judged on each site's held-out assets",
        "sites": per_site,
    }
    for key in ("rmse", "pr_auc", "roc_auc"):
        values = [m[key] for m in per_site.values() if key in m and np.isfinite(m[key])]
        if values:
            metrics[key] = float(np.mean(values))
    model_id = spec.name
    folder = models / model_id
    version = next_version(folder)
    models.mkdir(parents=True, exist_ok=True)
    registry = ModelRegistry(models)
    if model_id in registry.model_ids():
        registry.pin(model_id)
    card = {
        "model_id": model_id,
        "version": version,
        "model": model.registry_name,
        "task": spec.task,
        "created": pd.Timestamp.now(tz="UTC").isoformat(),
        "data": {d.name: cards.data_summary(d.frame, d.events, d.assets) for d in data},
        "recipe": {
            "interval": data[0].interval,
            "window_rows": spec.window,
            "input": "the last window_rows rows of each channel" if config.model == "window" else "window statistics",
            "stats": [] if config.model == "window" else list(spec.stats),
            "features": spec.features,
            "channels": data[0].channels,
            "horizon": spec.horizon,
            "horizon_hours": spec.horizon_hours,
            "labels": "events: failures end a life, renewing maintenance starts one, unseen futures are censored",
            "max_rul_hours": spec.max_rul_hours if spec.task == "rul" else None,
            "training_rows": len(X_train),
        },
        "federation": {
            "sites": [d.name for d in data],
            "strategy": config.strategy,
            "rounds": config.rounds,
            "local_epochs": config.local_epochs,
            "min_local_steps": config.min_local_steps,
            "model": config.model,
            "hidden": list(config.hidden),
            "window": {k: v for k, v in vars(config).items() if k.startswith("window_")}
            if config.model == "window"
            else None,
            "bytes_per_round": history.get("bytes_per_round"),
            "engine": history.get("engine"),
            "differential_privacy": {"noise_multiplier": config.dp_noise, "clipping_norm": config.dp_clip}
            if config.dp_noise > 0
            else None,
            "secure_aggregation": history.get("secure_aggregation"),
            "train": history.get("train"),
            "evaluate": history.get("evaluate"),
            "crossed": "parameters, per-feature counts/sums/sums of squares, and metrics; no readings",
        },
        "metrics": metrics,
        "reference": cards.reference_distributions(X_train),
        "libraries": cards.library_versions(),
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    flat = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and np.isfinite(v)}
    assert spec.window is not None
    path = make_bundle(
        model,
        folder / version,
        channels=data[0].channels,
        window=spec.window,
        interval=data[0].interval,
        stats=spec.stats,
        horizon=spec.horizon_hours,
        X_holdout=X_held,
        y_holdout=y_held,
        groups=groups,
        metrics=flat,
        training_data=X_train,
        unit="hours" if spec.task == "rul" else None,
        card=card,
        reference=training_means(X_train)
        if config.model == "window"
        else {c: float(v) for c, v in zip(X_train.columns, model.mean_, strict=True)},
        sequence=config.model == "window",
    )
    if not (path / CARD_FILE).is_file():
        (path / CARD_FILE).write_text(json.dumps(card, indent=2, default=str), encoding="utf-8")
    registry = ModelRegistry(models)  # a fresh one: a registry's listing is cached for a moment
    if promote:
        registry.promote(model_id, version)
    promoted = registry.active_version(model_id) == version
    return FederateResult(path, model_id, version, promoted, card)


def _held_metrics(model: Any, spec: TrainSpec, site: SiteData) -> dict[str, float]:
    """The global model on one site's held-out assets: RMSE (RUL) or ROC/PR AUC (failure; ``failure_rows``, the
    held-out rows inside a horizon before a failure, says why there is none when they are 0 or all)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    X, y = site.X[site.held], site.y[site.held]
    out: dict[str, float] = {"rows": float(len(y))}
    if not len(y):
        return out
    if spec.task == "rul":
        out["rmse"] = float(np.sqrt(np.mean((model.predict(X) - np.minimum(y, spec.max_rul_hours)) ** 2)))
        return out
    out["failure_rows"] = float(np.sum(y))
    if 0 < out["failure_rows"] < len(y):
        p = model.predict_proba(X)
        out["roc_auc"] = float(roc_auc_score(y, p))
        out["pr_auc"] = float(average_precision_score(y, p))
    return out
