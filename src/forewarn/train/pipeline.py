"""``forewarn train``: fit a model on a plant's own history and file it in the model registry.

Steps (each in its own module): select the assets and read their readings at one interval, label the rows from
the store's events (:mod:`~forewarn.train.dataset`, :mod:`~forewarn.train.labels`); hold out a share of the
assets; with ``model="auto"`` compare the task's zoo on by-asset folds of the training assets and keep the best
servable one (:mod:`~forewarn.train.zoo`); fit it on the training assets; calibrate it, fit RUL intervals and
cost thresholds per asset class on the held-out assets, with cross-fitted figures (:mod:`~forewarn.train.holdout`);
refit the recipe on every asset, held-out ones included (:func:`refit`); write a bundle with its model card (:mod:`~forewarn.train.card`) as the next version of the model id. It is not
made live unless ``promote`` (the first version of a model id is the only one it has, so it serves).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forewarn.base.executor import Executor
from forewarn.bundles.bundle import CARD_FILE, fill_missing, make_bundle, training_means
from forewarn.evaluate.cases import failures_in
from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError
from forewarn.features.kernel import ClassMeans
from forewarn.store import Store
from forewarn.train import card as cards
from forewarn.train import holdout as held
from forewarn.train import zoo
from forewarn.train.dataset import Dataset, load_dataset, opened
from forewarn.train.labels import renewals
from forewarn.train.references import class_references, feature_lines
from forewarn.train.spec import TrainSpec, hours

Progress = Callable[[str], None]
#: rows the zoo is compared on (every positive row kept): enough to rank models whose by-asset scores differ by
#: more than the folds' spread; the comparison was 233 of the 458 s of a 52 M-reading run at 60,000
COMPARE_ROWS = 30_000


@dataclass
class TrainResult:
    """What a training run made: the bundle's folder, its model id and version, and the card."""

    folder: Path
    model_id: str
    version: str
    promoted: bool
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.card.get("metrics", {}))


def split_assets(groups: np.ndarray, positive: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A mask of the rows of held-out assets: ``share`` of the assets with a positive row and of those without,
    drawn with ``seed`` (at least one of each kind when there are two).

    >>> groups = np.array(["a", "a", "b", "c", "d"]); positive = np.array([1, 0, 0, 1, 0], bool)
    >>> split_assets(groups, positive, 0.5, 0).tolist()
    [True, True, True, False, False]
    """
    rng = np.random.default_rng(seed)
    with_pos = np.unique(groups[positive])
    without = np.setdiff1d(np.unique(groups), with_pos)
    chosen: list[Any] = []
    for kind in (with_pos, without):
        if len(kind) >= 2:
            k = min(len(kind) - 1, max(1, int(round(share * len(kind)))))
            chosen.extend(rng.permutation(kind)[:k].tolist())
    return np.isin(groups, chosen)


def positive_rows(y: np.ndarray, spec: TrainSpec) -> np.ndarray:
    """Rows whose target says a failure is near: failure within the horizon (RUL: at most the horizon left; failure
    mode: any mode but none). The held-out split spreads the assets that have them.

    >>> positive_rows(np.array([5.0, 300.0, np.nan]), TrainSpec(task="rul", horizon="24h")).tolist()
    [True, False, False]
    """
    if y.dtype == object:
        return np.asarray([v is not None and v == v and v != "none" for v in y])
    if spec.task == "rul":
        return np.nan_to_num(y, nan=np.inf) <= spec.horizon_hours
    return y == 1


def _subsample(rows: np.ndarray, y: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """At most ``limit`` of ``rows`` (indices), keeping every positive row of a 0/1 target."""
    if len(rows) <= limit:
        return rows
    rng = np.random.default_rng(seed)
    if y.dtype != object and set(np.unique(y[rows])) <= {0.0, 1.0}:
        positive = rows[y[rows] == 1]
        rest = rows[y[rows] != 1]
        keep = rng.choice(rest, size=max(limit - len(positive), 0), replace=False) if len(rest) else rest
        return np.sort(np.concatenate([positive, keep]))
    return np.sort(rng.choice(rows, size=limit, replace=False))


def refit(name: str, spec: TrainSpec, X: pd.DataFrame, y: np.ndarray, usable: np.ndarray) -> tuple[Any, np.ndarray]:
    """The model that is filed (or scored forward in a backtest): the judged model's recipe fitted again on every
    usable row, its held-out rows included, as scikit-learn's ``CalibratedClassifierCV(ensemble=False)`` does.
    Calibration, RUL intervals and thresholds stay those fitted on the held-out assets' predictions of the model
    that did not see them; with a few dozen assets, the held-out third is too much data to leave out of the
    model (C-MAPSS FD001, 125 h cap, 200-row window: official test RMSE 14.0 on 70 engines, 12.9 on 95).
    Returns the model and the rows it was fitted on."""
    rows = _subsample(np.flatnonzero(usable), y, spec.max_rows, spec.seed)
    max_rul = spec.max_rul_hours if spec.task == "rul" else None
    model = zoo.fit_model(zoo.build(name, task=spec.task, seed=spec.seed, max_rul=max_rul), X.iloc[rows], y[rows])
    return model, rows


def next_version(folder: Path) -> str:
    """``v<n+1>`` after the highest ``v<n>`` under ``folder`` (``v1`` for a new model id)."""
    numbers = [int(m.group(1)) for p in folder.glob("v*") if (m := re.fullmatch(r"v(\d+)", p.name)) and p.is_dir()]
    return f"v{max(numbers, default=0) + 1}"


#: what an anomaly model's refusal adds: train judges and calibrates it against failures; without any, detect
NO_LABELS = (
    " (an anomaly model is judged and calibrated against failures here; with none in the history, "
    "forewarn detect --store finds what is odd without labels)"
)


def label_hint(stored_labels: tuple[str, ...]) -> str:
    """What a refusal for want of failures adds when the store holds label columns the run did not use.

    >>> label_hint(("Typ", "Ausfall"))
    " (the store holds the label column(s) 'Typ', 'Ausfall': --label NAME learns one of them)"
    >>> label_hint(())
    ''
    """
    if not stored_labels:
        return ""
    return (
        f" (the store holds the label column(s) {', '.join(map(repr, stored_labels))}: --label NAME learns one of them)"
    )


def _check_trainable(data: Dataset, spec: TrainSpec, usable: np.ndarray, stored_labels: tuple[str, ...] = ()) -> None:
    if usable.sum() < 50:
        raise DataNotFoundError(
            f"only {int(usable.sum())} labelled rows at the {data.interval} interval for task {spec.task!r}: "
            + (
                "no failure event and no label column; ingest failures and maintenance as events "
                "(kind=failure|maintenance) or pass --label NAME"
                + label_hint(stored_labels)
                + (NO_LABELS if spec.task == "anomaly" else "")
                if not len(data.events) and not spec.label
                else "need at least 50 (more history, a shorter --interval, or a shorter --horizon)"
            )
        )
    y = data.y[usable]
    if spec.task in ("failure", "anomaly") and (y == 1).sum() < 2:
        raise DataNotFoundError(
            f"the labelled rows hold {int((y == 1).sum())} failure row(s) within "
            f"{spec.horizon}; training needs failures (and rows before them) in the history"
            + label_hint(stored_labels)
            + (NO_LABELS if spec.task == "anomaly" else "")
        )
    if len(np.unique(data.groups[usable])) < 3:
        raise DataNotFoundError("need labelled rows of at least 3 assets (some are held out to calibrate)")


def train(
    store: str | os.PathLike[str] | Store,
    models: str | os.PathLike[str],
    *,
    spec: TrainSpec | None = None,
    promote: bool = False,
    progress: Progress | None = None,
    executor: Executor | None = None,
    **options: Any,
) -> TrainResult:
    """Train on the store's history and file the model in ``models``; see the module docstring.

    ``options`` override the spec's fields (``task``, ``horizon``, ``model``, ``label``, ``sites``, ...). Numeric
    libraries run on one thread (small models on a 2-core machine slow down badly with more). ``executor``
    (:mod:`forewarn.base.executor`) computes each asset's window features (in this process by default; the model
    does not depend on it).
    """
    with threadpool_limits(limits=1):
        return _train(store, models, spec=spec, promote=promote, progress=progress, executor=executor, **options)


def _train(
    store: str | os.PathLike[str] | Store,
    models: str | os.PathLike[str],
    *,
    spec: TrainSpec | None,
    promote: bool,
    progress: Progress | None,
    executor: Executor | None = None,
    **options: Any,
) -> TrainResult:
    spec = (spec or TrainSpec()).with_options(**options)
    say = progress or (lambda message: None)
    started = time.perf_counter()
    with opened(store) as db:
        data = load_dataset(db, spec)
        stored_labels = tuple(db.label_names()) if spec.label is None else ()
    spec = spec.resolved(data.interval)
    usable = data.labelled & ~data.down
    _check_trainable(data, spec, usable, stored_labels)
    unknown = [c for c in spec.operating_channels if c not in data.channels]
    if unknown:
        raise ConfigError(
            f"operating channel(s) {', '.join(map(repr, unknown))} not among the channels read: "
            + ", ".join(data.channels)
        )
    say(
        f"data: {len(data.frame):,} rows of {data.frame['asset_id'].nunique()} assets at {data.interval}, "
        f"{int(usable.sum()):,} labelled"
    )
    X_raw = data.features(spec, executor=executor)
    y = data.y
    positive = positive_rows(y, spec)
    held_rows = split_assets(data.groups, positive & usable, spec.holdout, spec.seed) & usable
    train_rows = np.flatnonzero(usable & ~held_rows)
    train_rows = _subsample(train_rows, y, spec.max_rows, spec.seed)
    means = training_means(X_raw.iloc[train_rows])
    filled: list[pd.DataFrame] = []  # made once, and only for a model that takes no missing values

    def inputs(model: str) -> pd.DataFrame:
        """The feature frame ``model`` reads: missing values as training means unless it takes them."""
        if zoo.accepts_missing(model):
            return X_raw
        if not filled:
            filled.append(
                pd.DataFrame(
                    fill_missing(X_raw.to_numpy(dtype="float64"), np.array(list(means.values()))),
                    columns=X_raw.columns,
                    index=X_raw.index,
                )
            )
        return filled[0]

    max_rul = spec.max_rul_hours if spec.task == "rul" else None
    comparison = pd.DataFrame()
    name = spec.model
    if name == "auto":
        # sequence models are left out: they cost the most (name one with --model to train and file it, or compare
        # it on a plant's data with forewarn backtest --model lstm-attention-failure)
        pool = [m for m in zoo.candidates(spec.task) if not zoo.is_sequence(m)]
        compare_rows = _subsample(train_rows, y, min(spec.max_rows, COMPARE_ROWS), spec.seed + 1)

        def features(model: str) -> pd.DataFrame:
            source = data.features(spec, sequence=True) if zoo.is_sequence(model) else inputs(model)
            return source.iloc[compare_rows].reset_index(drop=True)

        comparison = zoo.compare(
            pool,
            features,
            y[compare_rows],
            data.groups[compare_rows],
            task=spec.task,
            folds=spec.folds,
            seed=spec.seed,
            max_rul=max_rul,
            on_model=lambda m: say(f"comparing {m}"),
        )
        servable = comparison[comparison["servable"] & comparison["score"].notna()]
        if servable.empty:
            raise SchemaError(
                "no model of the zoo could be fitted on this data: "
                + "; ".join(f"{r.model}: {r.error}" for r in comparison.itertuples()),
                hint="more history (failures of more assets), or name one model with --model",
            )
        name = str(servable.iloc[0]["model"])
    sequence = zoo.is_sequence(name)
    if sequence and (spec.features != "ml" or spec.baseline_hours):
        raise ConfigError(
            f"{name!r} reads the last rows of each channel themselves, not window statistics: --features "
            f"{spec.features!r} and --baseline are options of window-statistics models (train it with --features ml "
            "and no --baseline)"
        )
    say(f"fitting {name}")
    # a sequence model's absent channels read their class's means over the training assets' rows (not held out)
    absent = data.class_means(np.isin(data.groups, np.unique(data.groups[train_rows]))) if sequence else None
    X_all = data.features(spec, sequence=True, absent=absent) if sequence else inputs(name)
    if sequence:  # what a missing input is filled with, and the reference of drift and explanations
        means = training_means(X_all.iloc[train_rows])
    model = zoo.fit_model(
        zoo.build(name, task=spec.task, seed=spec.seed, max_rul=max_rul), X_all.iloc[train_rows], y[train_rows]
    )
    result = _judge_and_file(
        data,
        spec,
        model,
        name,
        X_all,
        held_rows,
        train_rows,
        comparison,
        Path(models),
        promote,
        started,
        means,
        lambda: refit(name, spec, X_all, y, usable),
        absent,
    )
    say(f"filed {result.model_id} {result.version} in {result.folder}")
    return result


def held_out_cases(
    data: Dataset, spec: TrainSpec, X: pd.DataFrame, model: Any, judged: held.Holdout, assets: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Every row of the held-out ``assets`` that the service would score (not down), with its probability and
    class, their failures inside those rows' spans, and their renewals: what event thresholds are fitted on.

    A model of a stored label column (``spec.label``) answers to that label: its thresholds are fitted on the
    label's rows (:func:`~forewarn.train.holdout.label_thresholds`), so no failure is returned for it even where
    the store holds failure events (they still give the age since renewal). Case costs fitted on those events
    had chosen a threshold that alarmed on every row of a plant whose machines fail every two months (a case
    that never closes catches every failure; BENCHMARKS.md, issue 12, 2026-12-06)."""
    rows = np.isin(data.groups, assets) & ~data.down
    p = judged.probabilities(zoo.output(model, X[rows]), spec.horizon_hours)
    cases = data.frame.loc[rows, ["asset_id", "ts"]].assign(p=p, asset_class=data.asset_class[rows])
    failures = failures_in(cases, data.events, slack_hours=hours(data.interval, "interval"))
    if spec.label:
        failures = failures.iloc[:0]
    renewed = renewals(data.events, spec.renewing_actions) if len(data.events) else None
    return cases.reset_index(drop=True), failures, renewed


def _judge_and_file(
    data: Dataset,
    spec: TrainSpec,
    model: Any,
    name: str,
    X_all: pd.DataFrame,
    held_rows: np.ndarray,
    train_rows: np.ndarray,
    comparison: pd.DataFrame,
    models: Path,
    promote: bool,
    started: float,
    means: dict[str, float],
    refitted: Callable[[], tuple[Any, np.ndarray]],
    absent: ClassMeans | None = None,
) -> TrainResult:
    X_held = X_all[held_rows].reset_index(drop=True)
    y_held = data.y[held_rows]
    groups_held = data.groups[held_rows]
    classes_held = data.asset_class[held_rows]
    said = zoo.output(model, X_held)
    metrics: dict[str, Any] = {
        "model": name,
        "protocol": f"fit on {len(np.unique(data.groups[train_rows]))} assets, "
        f"judged on {len(np.unique(groups_held))} held-out assets (calibration cross-fitted "
        "by asset halves); the filed model is the same recipe refit on all of them, with "
        "the calibration, intervals and thresholds fitted on the held-out predictions",
    }
    calibrator = residual_model = None
    policy = None
    if spec.task == "failure-mode":
        from forewarn.evaluate.classification import multiclass_metrics

        metrics.update(multiclass_metrics(pd.Series(y_held).astype(str), pd.Series(said).astype(str)))
    else:
        if spec.task == "rul":
            outcome = (y_held <= spec.horizon_hours).astype(float)
            judged = held.rul_holdout(said, y_held, groups_held, spec.horizon_hours, spec.seed, cap=spec.max_rul_hours)
            residual_model = judged.residual_model
        else:
            outcome = y_held.astype(float)
            judged = held.calibrate_probabilities(said, outcome, groups_held, spec.seed)
        calibrator = judged.calibrator
        cases, failures, renewed = held_out_cases(data, spec, X_all, model, judged, np.unique(groups_held))
        policy, figures = held.choose_thresholds(
            judged.probability,
            outcome,
            classes_held,
            dict(spec.costs),
            groups=groups_held,
            cases=cases,
            failures=failures,
            renewals=renewed,
            horizon_hours=spec.horizon_hours,
            min_lead_hours=spec.min_lead_hours,
        )
        metrics.update(judged.metrics)
        metrics.update(figures)
        metrics["reliability"] = judged.reliability
    model, train_rows = refitted()
    model_id = spec.name
    folder = models / model_id
    version = next_version(folder)
    models.mkdir(parents=True, exist_ok=True)
    if model.task != "fault":
        _pin_live(models, model_id)
    summary = cards.data_summary(data.frame, data.events, data.assets)
    reference = cards.reference_distributions(X_all.iloc[train_rows])
    card = {
        "model_id": model_id,
        "version": version,
        "model": name,
        "task": spec.task,
        "created": pd.Timestamp.now(tz="UTC").isoformat(),
        "data": summary,
        "recipe": {
            "interval": data.interval,
            "window_rows": spec.window,
            "stats": [] if zoo.is_sequence(name) else list(spec.stats),
            "input": "sequence" if zoo.is_sequence(name) else "window statistics",
            "features": spec.features,
            "age": cards.age_recipe(X_all.columns, data.renewed, spec.age),
            "baseline": spec.baseline,
            "channels": data.channels,
            "operating_channels": list(spec.operating_channels),
            "horizon": spec.horizon,
            "horizon_hours": spec.horizon_hours,
            "labels": f"stored label {spec.label!r}"
            if spec.label
            else "events: failures end a life, renewing maintenance starts one, unseen futures are censored",
            "max_rul_hours": spec.max_rul_hours if spec.task == "rul" else None,
            "training_rows": len(train_rows),
        },
        "metrics": metrics,
        "warnings": cards.skill_warnings(spec.task, metrics, int(summary["failures"]), labelled=bool(spec.label)),
        "zoo": comparison.to_dict(orient="records"),
        "costs": None if policy is None else policy.to_mapping(),
        "reference": reference,
        "reference_lines": feature_lines(reference, X_all, data.frame["ts"].to_numpy(), rows=~data.down),
        "reference_by_class": class_references(
            X_all, data.frame["ts"].to_numpy(), data.asset_class, train_rows=train_rows, rows=~data.down
        ),
        "libraries": cards.library_versions(),
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    flat = {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
    }
    if model.task == "fault":
        from forewarn.base.persistence import save

        path = save(model, folder / version, metrics=flat, training_data=X_all.iloc[train_rows])
        (path / CARD_FILE).write_text(json.dumps(card, indent=2, default=str), encoding="utf-8")
    else:
        assert spec.window is not None  # spec.resolved() set it
        path = make_bundle(
            model,
            folder / version,
            channels=data.channels,
            window=spec.window,
            interval=data.interval,
            stats=spec.stats,
            horizon=spec.horizon_hours,
            X_holdout=X_held,
            y_holdout=y_held if spec.task == "rul" else y_held.astype(float),
            groups=groups_held,
            calibrator=calibrator,
            calibration=None,
            residual_model=residual_model,
            costs=None if policy is None else policy.to_mapping(),
            asset_classes=(),
            metrics=flat,
            training_data=X_all.iloc[train_rows],
            unit="hours",  # of the horizon (and of RUL): a failure model's was '', so "within 24" was shown
            card=card,
            reference=means,
            baseline_hours=spec.baseline_hours or 0.0,
            sequence=zoo.is_sequence(name),
            absent=absent,
        )
    # a failure-mode classifier is saved with its card but is not servable for health (the service scores failure,
    # RUL and anomaly models): it is not filed in the registry
    promoted = _register(models, model_id, version, promote) if model.task != "fault" else False
    return TrainResult(path, model_id, version, promoted, card)


def _register(models: Path, model_id: str, version: str, promote: bool) -> bool:
    """Make ``version`` live when asked; otherwise keep the live version live (the registry would else serve the
    new folder as the newest). Returns whether ``version`` serves now."""
    from forewarn.bundles.registry import ModelRegistry

    registry = ModelRegistry(models)
    if promote:
        registry.promote(model_id, version)
    return registry.active_version(model_id) == version


def _pin_live(models: Path, model_id: str) -> None:
    """Before a new version's folder appears: pin the live version of ``model_id`` (when it has one)."""
    from forewarn.bundles.registry import ModelRegistry

    registry = ModelRegistry(models)
    if model_id in registry.model_ids():
        registry.pin(model_id)
