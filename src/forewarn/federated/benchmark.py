"""``forewarn bench federated``: local, federated and pooled training on the same sites, and a held-out site.

The sites and metrics come from :mod:`forewarn.bench.federated` (seed task, C-MAPSS dealt non-IID, the twin's
fleet). Arms, all with the same network, settings and seed (:data:`SETTINGS` per dataset, chosen on the seed
task's ``seed`` variant and on training rows, never on a site's test rows):

* ``local``: each site alone (its own standardiser) with the recipe a site follows in federation (``rounds``
  rounds of ``local_epochs`` epochs, Adam restarted each round, the same seeds) and early stopping: the number
  of rounds is chosen on a validation fifth of the site's own training units (engines, assets), then the
  network is retrained on all its training rows for that many rounds (:func:`_centrally`); tested on its own
  held-out rows; the held-out site too (what it could do by itself).
* ``federated``: the Flower apps (:mod:`forewarn.federated.apps`) over the participating sites, ``rounds``
  rounds of ``local_epochs`` epochs, FedAvg weighted by samples (or ``strategy``); the global model is tested on
  every site's held-out rows, the held-out site's included.
* ``personalised``: the federated model with its last layer fine-tuned for ``local_epochs`` epochs on each
  site's own training rows (local head fine-tuning; the held-out site fine-tunes too).
* ``pooled``: every participating site's training rows in one place (the upper bound), the local recipe with
  its early stopping.

``results``: one entry per arm and site (and per arm a ``site = "mean"`` row: the mean over participating sites),
with ``arm``, ``dataset``, ``site``, ``held_out`` and the means over seeds of ``rmse``, ``f1``, ``pr_auc``,
``failure_detection_rate`` and ``accuracy`` (NaN where a figure does not apply) and their ``_std``.
``comparison`` holds the targets' figures: per seed, the relative gain of federated over local and the gap of
federated to pooled (the primary metric, mean over participating sites).

Boosting arms, asked for by name: ``lightgbm-local|federated|pooled`` (bagging the sites' LightGBM boosters,
``comparison_lightgbm``) and ``hist-local|federated|personalised|pooled`` (histogram aggregation,
:mod:`forewarn.federated.histboost`, ``comparison_hist``; the documented default for the fleet and C-MAPSS).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from forewarn.bench.federated import Site, Task, build_sites, pooled, site_metrics
from forewarn.exceptions import ConfigError
from forewarn.federated import network as net
from forewarn.federated.apps import FedConfig, kit, scaler_for, site_params, train_step
from forewarn.federated.simulate import SiteRows, simulate

#: the network's arms (what ``--models all`` runs)
NET_MODELS = ("local", "federated", "personalised", "pooled")
#: federated gradient boosting (:mod:`forewarn.federated.trees`): asked for by name (``--models``)
TREE_MODELS = ("lightgbm-local", "lightgbm-federated", "lightgbm-pooled")
#: federated boosting by histogram aggregation (:mod:`forewarn.federated.histboost`): asked for by name
HIST_MODELS = ("hist-local", "hist-federated", "hist-personalised", "hist-pooled")
#: the histogram boosting's settings (:class:`~forewarn.federated.histboost.HistSettings` fields; empty: its
#: defaults, fixed before any run) and its personalisation: more trees on a site's own rows after the federated ones
HIST_SETTINGS: dict[str, Any] = {}
HIST_PERSONAL_TREES = 20
#: the window model (a 1-D CNN over the last cycles, :mod:`forewarn.federated.window`; RUL, C-MAPSS): asked for
#: by name, on the window rows of the same sites (``comparison_window``)
WINDOW_MODELS = ("window-local", "window-federated", "window-personalised", "window-pooled")
MODELS = NET_MODELS + TREE_MODELS + HIST_MODELS + WINDOW_MODELS
METRICS = ("rmse", "f1", "pr_auc", "failure_detection_rate", "accuracy")
#: per dataset: network and schedule (rounds x local epochs is also the local and pooled arms' epoch count)
SETTINGS: dict[str, dict[str, Any]] = {
    "seed-task": {
        "hidden": (32, 16),
        "rounds": 10,
        "local_epochs": 1,
        "batch_size": 64,
        "learning_rate": 3e-3,
        "min_local_steps": 20,  # chosen on validation seeds 10-12 (scarce: 60 rows a factory, one batch an epoch)
    },
    "cmapss": {"hidden": (64, 32), "rounds": 20, "local_epochs": 1, "batch_size": 256, "learning_rate": 2e-3},
    "fleet": {"hidden": (64, 32), "rounds": 15, "local_epochs": 1, "batch_size": 256, "learning_rate": 1e-3},
}


#: the window model's settings per dataset (FedConfig fields; ``cnn-rul``'s network), and the training cycles kept
WINDOW_SETTINGS: dict[str, dict[str, Any]] = {
    "cmapss": {
        "model": "window",
        "rounds": 20,
        "local_epochs": 1,
        "batch_size": 256,
        "learning_rate": 2e-3,
        "window_filters": 10,
        "window_kernel": 10,
        "window_layers": 4,
        "window_hidden": 100,
        "window_dropout": 0.5,
        # each site standardises with its own figures (FedBN-like): chosen on training engines (--validate, seed
        # 0: federated 16.64 against 16.86 with the shared standardiser); BENCHMARKS.md, issue 15, 2026-12-05
        "window_norm": "local",
    },
}
WINDOW_TRAIN_EVERY = 2


def primary_metric(task: Task) -> str:
    return "rmse" if task.kind == "regression" else ("accuracy" if task.kind == "multiclass" else "pr_auc")


def _config(dataset: str, task: Task, sites: int, seed: int, overrides: Mapping[str, Any]) -> FedConfig:
    base = WINDOW_SETTINGS[dataset] if overrides.get("model") == "window" else SETTINGS[dataset]
    settings = dict(base) | {k: v for k, v in overrides.items() if v is not None}
    if settings.get("model") == "window":
        settings["window_channels"], settings["window_length"] = task.window
    return FedConfig(
        sites=sites,
        kind=task.kind,
        classes=task.classes,
        target_scale=task.target_scale,
        seed=seed,
        **settings,
    )


def _predict(params: dict[str, np.ndarray], spec: Any, site: Site, config: FedConfig | None = None) -> np.ndarray:
    """``site``'s held-out predictions (with the site's own standardiser where the window model keeps it local)."""
    if config is not None:
        params = site_params(params, spec, {"window-norm": config.window_norm}, site.X_train)
    return kit(spec).predict(params, spec, site.X_test)


#: the local and pooled arms' early stopping: a fifth of the training units validate, patience in rounds
VALIDATION_SHARE = 0.2
PATIENCE = 5


def _split_groups(groups: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row masks (fit, validate): a seeded fifth of the units (at least one) validates, the rest fits.

    >>> fit, val = _split_groups(np.array([1, 1, 2, 2, 3, 3, 4, 4, 5, 5]), seed=0)
    >>> int(val.sum()), int(fit.sum()), len(set(np.array([1, 1, 2, 2, 3, 3, 4, 4, 5, 5])[val]))
    (2, 8, 1)
    """
    units = np.unique(groups)
    if len(units) < 2:
        raise ConfigError("early stopping needs at least two training units to hold one out")
    chosen = np.random.default_rng(seed).permutation(units)[: max(1, int(round(VALIDATION_SHARE * len(units))))]
    val = np.isin(groups, chosen)
    return ~val, val


def _centrally(
    X: np.ndarray, y: np.ndarray, config: FedConfig, seed: int, groups: np.ndarray | None = None
) -> tuple[dict[str, np.ndarray], int]:
    """The local recipe, on ``(X, y)`` in one place: what one site does in federation (``rounds`` rounds of
    ``local_epochs`` epochs, Adam restarted each round, the same seeds), with early stopping. The number of
    rounds is chosen on a validation fifth of the training units (``groups``; rows when there are none; patience
    :data:`PATIENCE` rounds), then the network is retrained on all the training rows for that many rounds.
    Returns the parameters and the rounds chosen."""
    from forewarn.federated.apps import _loss

    spec = config.spec(X.shape[1])
    fit, val = _split_groups(np.arange(len(X)) if groups is None else np.asarray(groups), seed)

    def rounds_of(rows: np.ndarray, count: int, watch: np.ndarray | None) -> tuple[dict[str, np.ndarray], int]:
        params = kit(spec).initial(spec, scaler_for(spec, net.Moments.of(X[rows])), seed)
        best, best_round, waited = float("inf"), count, 0
        for r in range(1, count + 1):
            params, _ = train_step(
                params,
                spec,
                X[rows],
                y[rows],
                epochs=config.local_epochs,
                seed=seed * 100_003 + r * 101,
                round_=r,
                rounds=config.rounds,
                min_steps=config.min_local_steps,
            )
            if watch is None:
                continue
            loss = _loss(params, spec, {"X_test": X[watch], "y_test": y[watch]})
            if loss < best - 1e-9:
                best, best_round, waited = loss, r, 0
            else:
                waited += 1
                if waited >= PATIENCE:
                    break
        return params, best_round

    _, chosen = rounds_of(fit, config.rounds, val)
    params, _ = rounds_of(np.ones(len(X), dtype=bool), chosen, None)
    return params, chosen


def run_seed(
    dataset: str,
    sites: Sequence[Site],
    task: Task,
    seed: int,
    arms: Sequence[str],
    *,
    engine: str = "inprocess",
    overrides: Mapping[str, Any] | None = None,
    say: Callable[[str], None] = lambda m: None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every arm on ``sites`` for one seed: rows ``(arm, site, held_out, metrics..., fit_s)`` and the federated
    run's record (rounds, bytes per round, wall time)."""
    taking_part = [s for s in sites if not s.held_out]
    config = _config(dataset, task, len(taking_part), seed, overrides or {})
    spec = config.spec(sites[0].X_train.shape[1])
    rows: list[dict[str, Any]] = []
    record: dict[str, Any] = {}

    def add(arm: str, site: Site, predicted: np.ndarray, fit_s: float) -> None:
        rows.append(
            {"arm": arm, "site": site.name, "held_out": site.held_out, "fit_s": fit_s}
            | site_metrics(task, site.y_test, predicted)
        )

    if "local" in arms:
        for site in sites:
            started = time.perf_counter()
            params, chosen = _centrally(site.X_train, site.y_train, config, seed, site.groups)
            add("local", site, _predict(params, spec, site), time.perf_counter() - started)
            rows[-1]["rounds"] = chosen
        say(f"seed {seed}: local done")
    if "pooled" in arms:
        X, y = pooled(sites)
        taking = [s for s in sites if not s.held_out]
        groups = None
        if all(s.groups is not None for s in taking):
            groups = np.concatenate([np.char.add(f"{s.name}/", np.asarray(s.groups).astype(str)) for s in taking])
        started = time.perf_counter()
        params, chosen = _centrally(X, y, config, seed, groups)
        fit_s = time.perf_counter() - started
        for site in sites:
            add("pooled", site, _predict(params, spec, site), fit_s)
            rows[-1]["rounds"] = chosen
        say(f"seed {seed}: pooled done")
    if "federated" in arms or "personalised" in arms:
        rows_in = [SiteRows(s.name, s.X_train, s.y_train, s.X_test, s.y_test) for s in taking_part]
        outcome = simulate(rows_in, config, engine=engine)
        record = {k: outcome.history[k] for k in ("rounds", "sites", "bytes_per_round", "moments_bytes", "engine")}
        record["wall_s"] = round(outcome.wall_seconds, 2)
        if "federated" in arms:
            for site in sites:
                add("federated", site, _predict(outcome.params, spec, site, config), outcome.wall_seconds)
        if "personalised" in arms:
            last = f"layer{len(spec.hidden)}" if isinstance(spec, net.NetSpec) else "head.3"
            for site in sites:
                started = time.perf_counter()
                tuned, _ = train_step(
                    site_params(outcome.params, spec, {"window-norm": config.window_norm}, site.X_train),
                    spec,
                    site.X_train,
                    site.y_train,
                    epochs=config.local_epochs,
                    seed=seed,
                    round_=1,
                    rounds=1,
                    trainable=(last,),
                    min_steps=config.min_local_steps,
                )
                add("personalised", site, _predict(tuned, spec, site), time.perf_counter() - started)
        say(f"seed {seed}: federated done in {outcome.wall_seconds:.1f} s")
    if any(a in TREE_MODELS for a in arms):
        record["lightgbm"] = _tree_arms(sites, task, seed, arms, add)
        say(f"seed {seed}: lightgbm arms done")
    if any(a in HIST_MODELS for a in arms):
        record["hist"] = _hist_arms(sites, task, arms, add)
        say(f"seed {seed}: histogram boosting arms done")
    return rows, record


def _tree_arms(
    sites: Sequence[Site],
    task: Task,
    seed: int,
    arms: Sequence[str],
    add: Callable[[str, Site, np.ndarray, float], None],
) -> dict[str, Any]:
    """The boosting arms: each site's own booster, the sites' boosters bagged through Flower, one pooled booster."""
    from forewarn.federated import boosting, trees

    def alone(X: np.ndarray, y: np.ndarray) -> trees.BaggedBoosters:
        return trees.BaggedBoosters([trees.train_booster(X, y, task.kind, {}, seed, task.classes)], [1.0], task.kind)

    record: dict[str, Any] = {}
    if "lightgbm-local" in arms:
        for site in sites:
            started = time.perf_counter()
            model = alone(site.X_train, site.y_train)
            add("lightgbm-local", site, model.predict(site.X_test), time.perf_counter() - started)
    if "lightgbm-pooled" in arms:
        started = time.perf_counter()
        model = alone(*pooled(sites))
        fit_s = time.perf_counter() - started
        for site in sites:
            add("lightgbm-pooled", site, model.predict(site.X_test), fit_s)
    if "lightgbm-federated" in arms:
        taking_part = [SiteRows(s.name, s.X_train, s.y_train, s.X_test, s.y_test) for s in sites if not s.held_out]
        model, record = boosting.federate_trees(taking_part, task.kind, classes=task.classes, seed=seed)
        for site in sites:
            add("lightgbm-federated", site, model.predict(site.X_test), float(record["wall_s"]))
    return record


def _hist_arms(
    sites: Sequence[Site],
    task: Task,
    arms: Sequence[str],
    add: Callable[[str, Site, np.ndarray, float], None],
) -> dict[str, Any]:
    """The histogram-aggregation arms, one tree growth for all: each site alone (its own bin edges), the sites
    together through Flower (shared edges, summed histograms), the federated model with
    :data:`HIST_PERSONAL_TREES` more trees on each site's own rows, and one model on the pooled rows. Deterministic:
    no row or feature sampling, so the seed only changes the sites (the fleet) or nothing (C-MAPSS)."""
    from dataclasses import replace

    from forewarn.federated import boosting
    from forewarn.federated import histboost as hb

    settings = hb.HistSettings(**HIST_SETTINGS)
    record: dict[str, Any] = {}
    if "hist-local" in arms:
        for site in sites:
            started = time.perf_counter()
            model = hb.fit_central(site.X_train, site.y_train, task.kind, settings)
            add("hist-local", site, model.predict(site.X_test), time.perf_counter() - started)
    if "hist-pooled" in arms:
        started = time.perf_counter()
        model = hb.fit_central(*pooled(sites), task.kind, settings)
        fit_s = time.perf_counter() - started
        for site in sites:
            add("hist-pooled", site, model.predict(site.X_test), fit_s)
    if "hist-federated" in arms or "hist-personalised" in arms:
        taking_part = [SiteRows(s.name, s.X_train, s.y_train, s.X_test, s.y_test) for s in sites if not s.held_out]
        federated, record = boosting.federate_hist(taking_part, task.kind, settings)
        if "hist-federated" in arms:
            for site in sites:
                add("hist-federated", site, federated.predict(site.X_test), float(record["wall_s"]))
        if "hist-personalised" in arms:
            more = replace(settings, trees=HIST_PERSONAL_TREES)
            for site in sites:
                started = time.perf_counter()
                tuned = hb.fit_central(site.X_train, site.y_train, task.kind, more, start=federated)
                add("hist-personalised", site, tuned.predict(site.X_test), time.perf_counter() - started)
    return record


def summarise(dataset: str, rows: Sequence[dict[str, Any]], primary: str) -> list[dict[str, Any]]:
    """Means and spreads over seeds per (arm, site), and per arm the mean over participating sites."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    out: list[dict[str, Any]] = []
    site_mean = (
        frame[~frame["held_out"]].groupby(["arm", "seed"], sort=False)[list(METRICS) + ["fit_s"]].mean().reset_index()
    )
    site_mean["site"], site_mean["held_out"] = "mean", False
    both = pd.concat([frame, site_mean], ignore_index=True)
    for (arm, site), group in both.groupby(["arm", "site"], sort=False):
        entry: dict[str, Any] = {
            "model": f"{arm} {site}",
            "arm": arm,
            "dataset": dataset,
            "site": site,
            "held_out": bool(group["held_out"].iloc[0]),
            "seeds": int(group["seed"].nunique()),
            "fit_s": float(group["fit_s"].mean()),
            "predict_s": 0.0,
        }
        for name in METRICS:
            values = group[name].to_numpy(dtype="float64")
            finite = values[np.isfinite(values)]
            entry[name] = float(finite.mean()) if len(finite) else float("nan")
            entry[f"{name}_std"] = float(finite.std()) if len(finite) > 1 else 0.0
        out.append(entry)
    return out


def comparison(rows: Sequence[dict[str, Any]], primary: str, prefix: str = "") -> dict[str, Any]:
    """The targets' figures per seed, on the primary metric's mean over participating sites: federated's relative
    gain over local (``(local - federated) / local`` for RMSE, ``(federated - local) / local`` otherwise) and its
    relative gap to pooled (positive: pooled is better); per-site gains are kept beside them, and the
    personalised arm's gain over local where it ran. ``prefix`` compares other arms of the same kind
    (``"lightgbm-"``: the boosting arms).

    >>> rows = [{"arm": a, "site": s, "held_out": False, "seed": 0, "rmse": v}
    ...         for a, s, v in [("local", "x", 20.0), ("local", "y", 30.0), ("federated", "x", 18.0),
    ...                         ("federated", "y", 22.0), ("pooled", "x", 18.0), ("pooled", "y", 20.0)]]
    >>> c = comparison(rows, "rmse")
    >>> round(c["gain_over_local"], 3), round(c["gap_to_pooled"], 3), c["per_seed"][0]["site_gains"]
    (0.2, 0.053, {'x': 0.1, 'y': 0.267})
    """
    import pandas as pd

    frame = pd.DataFrame(rows)
    part = frame[~frame["held_out"].astype(bool)]
    if prefix:
        part = part[part["arm"].str.startswith(prefix)].assign(arm=lambda f: f["arm"].str.removeprefix(prefix))
    else:
        part = part[part["arm"].isin(NET_MODELS)]
    lower = primary == "rmse"

    def gain(better: float, worse: float) -> float:
        return (worse - better) / worse if lower else (better - worse) / worse

    out: dict[str, Any] = {"metric": primary, "per_seed": []}
    for seed, group in part.groupby("seed"):
        by = {arm: g.set_index("site")[primary].astype(float) for arm, g in group.groupby("arm")}
        if not {"local", "federated"} <= set(by):
            continue
        local, fed = by["local"], by["federated"].reindex(by["local"].index)
        item: dict[str, Any] = {
            "seed": int(seed),
            "gain_over_local": gain(float(fed.mean()), float(local.mean())),
            "site_gains": {str(k): round(gain(float(fed[k]), float(local[k])), 3) for k in local.index},
        }
        if "pooled" in by:
            pool = by["pooled"].reindex(local.index)
            item["gap_to_pooled"] = -gain(float(fed.mean()), float(pool.mean()))
        if "personalised" in by:
            item["personalised_gain_over_local"] = gain(
                float(by["personalised"].reindex(local.index).mean()), float(local.mean())
            )
        out["per_seed"].append(item)
    for key in ("gain_over_local", "gap_to_pooled", "personalised_gain_over_local"):
        values = [s[key] for s in out["per_seed"] if key in s]
        if values:
            out[key] = float(np.mean(values))
    return out


def run(
    models: Sequence[str] | None,
    seeds: int,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    dataset: str = "seed-task",
    variant: str | None = None,
    engine: str = "inprocess",
    strategy: str | None = None,
    rounds: int | None = None,
    dp_noise: float | None = None,
    dp_clip: float | None = None,
    progress: Callable[[str], None] | None = None,
    window: Mapping[str, Any] | None = None,
    sites_options: Mapping[str, Any] | None = None,
    first_seed: int = 0,
    raw: bool = False,
    min_local_steps: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    """The runner of ``forewarn bench federated`` (see the module text); ``models`` picks arms."""
    net_overrides = {
        "strategy": strategy,
        "rounds": rounds,
        "dp_noise": dp_noise,
        "dp_clip": dp_clip,
        "min_local_steps": min_local_steps,
    }
    arms = list(models or NET_MODELS)
    unknown = sorted(set(arms) - set(MODELS))
    if unknown:
        raise ConfigError(f"unknown arm(s) {', '.join(unknown)}; use {', '.join(MODELS)}")
    say = progress or (lambda m: None)
    dataset, _colon, named = dataset.partition(":")  # seed-task:noisy names a variant
    variant = variant or named or None
    options: dict[str, Any] = {"variant": variant} if dataset == "seed-task" and variant else {}
    rows: list[dict[str, Any]] = []
    records = []
    task: Task | None = None
    started = time.perf_counter()
    for seed in range(first_seed, first_seed + seeds):
        record: dict[str, Any] = {}
        if set(arms) - set(WINDOW_MODELS):
            sites, task = build_sites(dataset, seed, data_dir, **options, **(sites_options or {}))
            seed_rows, record = run_seed(
                dataset,
                sites,
                task,
                seed,
                arms,
                engine=engine,
                overrides=net_overrides,
                say=say,
            )
            rows += [r | {"seed": seed} for r in seed_rows]
        window_arms = [a.removeprefix("window-") for a in arms if a in WINDOW_MODELS]
        if window_arms:
            if dataset not in WINDOW_SETTINGS:
                raise ConfigError(f"the window model runs on {', '.join(WINDOW_SETTINGS)}, not {dataset!r}")
            window_sites, task = build_sites(
                dataset, seed, data_dir, features="window", train_every=WINDOW_TRAIN_EVERY, **(sites_options or {})
            )
            window_rows, window_record = run_seed(
                dataset,
                window_sites,
                task,
                seed,
                window_arms,
                engine=engine,
                overrides={
                    "model": "window",
                    "strategy": strategy,
                    "rounds": rounds,
                    "min_local_steps": min_local_steps,
                    **(window or {}),
                },
                say=lambda m: say("window " + m),
            )
            rows += [r | {"seed": seed, "arm": "window-" + r["arm"]} for r in window_rows]
            record = record | ({"window": window_record} if window_record else {})
        if record:
            records.append(record | {"seed": seed})
    assert task is not None
    primary = primary_metric(task)
    config = _config(dataset, task, 2, 0, net_overrides)
    return {
        "dataset": "federated",
        "subset": dataset + (f" ({variant})" if variant else ""),
        "protocol": f"local / federated ({config.strategy}, {config.rounds} rounds x {config.local_epochs} local "
        f"epochs) / personalised / pooled on the same sites, plus a held-out site",
        "primary_metric": primary,
        "settings": {k: v for k, v in vars(config).items() if k not in ("sites", "seed")},
        "results": summarise(dataset, rows, primary),
        "comparison": comparison(rows, primary),
        **({"comparison_lightgbm": comparison(rows, primary, "lightgbm-")} if set(arms) & set(TREE_MODELS) else {}),
        **({"comparison_hist": comparison(rows, primary, "hist-")} if set(arms) & set(HIST_MODELS) else {}),
        **({"comparison_window": comparison(rows, primary, "window-")} if set(arms) & set(WINDOW_MODELS) else {}),
        **(
            {
                "window_settings": dict(WINDOW_SETTINGS[dataset]) | dict(window or {}),
                "window_train_every": WINDOW_TRAIN_EVERY,
            }
            if set(arms) & set(WINDOW_MODELS)
            else {}
        ),  # fmt: skip
        **({"rows": rows} if raw else {}),
        "federated_runs": records,
        "wall_s": round(time.perf_counter() - started, 1),
        "published": [],
    }


__all__ = ["HIST_MODELS", "MODELS", "NET_MODELS", "SETTINGS", "TREE_MODELS", "WINDOW_MODELS", "run", "run_seed"]
