"""The fleet scored from a lake, in batches of assets, locally or on a Ray cluster, with the same functions.

``fleet_score(lake, models, out, engine=...)``: the asset registry is cut into batches of ``batch_size`` assets;
each batch goes to a :class:`BatchScorer` that loaded the live bundle and the events' failure and renewal marks
once (one per Ray actor, ``map_batches``), reads each asset's last ``history_rows`` buckets from the lake (only
the newest day partitions, :func:`forewarn.distributed.lake.asset_tail`), computes the window features with the
same kernel and decides probability, health, risk, RUL, drivers and action with the same code as ``forewarn
score`` (:func:`forewarn.train.score.asset_features` and :func:`forewarn.train.score.decide`), and writes its
rows as one Parquet file under ``out``. The driver only streams back one small count row per batch: its memory
does not grow with the readings. :func:`ranked` reads the written rows and ranks them (probability, then asset).

On Ray, a batch whose actor dies is run again on a restarted actor (``max_restarts``/``max_task_retries``); a
batch's file is written under a name of its first asset and replaced whole (write to a temporary name, then
rename), so a retried batch leaves the same output.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forewarn.distributed import lake as lakes
from forewarn.exceptions import ConfigError
from forewarn.features.age import hours_since_renewal, with_age
from forewarn.train.labels import is_down, latest_marks
from forewarn.train.score import COLUMNS, asset_features, decide, live_bundle

SUMMARY = ("assets", "readings", "seconds")


class BatchScorer:
    """Scores batches of assets (``asset_id, asset_class, site_id, n``) from ``lake`` with the bundle in
    ``bundle_folder``; writes each batch to ``out`` and returns its counts."""

    def __init__(self, lake: str, bundle_folder: str, out: str, model_id: str = "", version: str = "") -> None:
        from forewarn.bundles.bundle import Bundle

        self.lake, self.out = lake, Path(out)
        self.bundle = Bundle(bundle_folder, model_id=model_id, version=version)
        self.marks = latest_marks(lakes.events(lake))

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from threadpoolctl import threadpool_limits

        started = time.perf_counter()
        serving = self.bundle.spec
        done, readings = [], 0
        with threadpool_limits(limits=1):
            for info in batch.itertuples():
                failed_at, since = self.marks.get(info.asset_id, (None, None))
                wide, read = lakes.asset_tail(
                    self.lake,
                    info.site_id,
                    info.asset_id,
                    interval=serving.interval or "1h",
                    rows=int(serving.history_rows),
                    since=since,
                )
                readings += read
                history = wide.reindex(columns=["ts", *serving.channels])
                history.insert(0, "asset_id", info.asset_id)
                base = {"asset_id": info.asset_id, "asset_class": info.asset_class, "site_id": info.site_id}
                status = "down" if is_down((failed_at, since)) else "in_service"
                done.append(asset_features(serving, (base, status, history)))
            rows, features = [row for row, _ in done], [x for _, x in done]
            if serving.age_feature:  # as forewarn score does: the age at each asset's last row since its renewal
                renewed = {asset: marks[1] for asset, marks in self.marks.items()}
                ids = [row["asset_id"] for row in rows]
                age = hours_since_renewal(ids, [row.get("last_reading") for row in rows], renewed)
                features = list(with_age(np.vstack(features), age))
            table = decide(self.bundle, rows, features, None).drop(columns="rank")
        first = int(batch["n"].iloc[0])
        target = self.out / f"part-{first:09d}.parquet"
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        table.astype({"last_reading": "datetime64[us, UTC]"}).to_parquet(partial, index=False)
        partial.replace(target)
        return pd.DataFrame(
            {"assets": [len(batch)], "readings": [readings], "seconds": [time.perf_counter() - started]}
        )


def _batches(registry: pd.DataFrame, batch_size: int) -> list[pd.DataFrame]:
    return [registry.iloc[i : i + batch_size].reset_index(drop=True) for i in range(0, len(registry), batch_size)]


def fleet_score(
    lake: str | os.PathLike[str],
    models: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    model_id: str | None = None,
    engine: str = "local",
    address: str | None = None,
    batch_size: int = 64,
    workers: int | None = None,
    sites: list[str] | None = None,
    classes: list[str] | None = None,
) -> dict[str, Any]:
    """Score every selected asset of ``lake`` with the live bundle in ``models``; rows go to Parquet files under
    ``out`` (a new or empty folder). Returns ``{"assets", "readings", "batches", "seconds", "engine"}``.

    ``engine="ray"`` runs the batches on the cluster at ``address`` (a private local one when ``None``) with
    ``workers`` actors (default: one per CPU of the cluster)."""
    if engine not in ("local", "ray"):
        raise ConfigError(f"engine {engine!r} is not one of local, ray")
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size={batch_size!r} must be at least 1")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"output folder {str(out)!r} is not empty; choose a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    bundle = live_bundle(models, model_id)
    registry = lakes.assets(lake)
    if sites:
        registry = registry[registry["site_id"].isin(sites)]
    if classes:
        registry = registry[registry["asset_class"].isin(classes)]
    if bundle.spec.asset_classes:
        registry = registry[registry["asset_class"].isin(bundle.spec.asset_classes)]
    registry = registry[["asset_id", "asset_class", "site_id"]].reset_index(drop=True)
    registry["n"] = np.arange(len(registry))
    args = (str(lake), str(bundle.folder), str(out), bundle.model_id, bundle.version)
    started = time.perf_counter()
    totals = dict.fromkeys(SUMMARY, 0.0)
    batches = _batches(registry, int(batch_size))
    if engine == "local" or not batches:
        scorer = BatchScorer(*args)
        for batch in batches:
            _add(totals, scorer(batch))
    else:
        _ray_run(batches, args, address, workers, totals)
    return {
        "engine": engine,
        "assets": int(totals["assets"]),
        "readings": int(totals["readings"]),
        "batches": len(batches),
        "busy_seconds": round(totals["seconds"], 3),
        "seconds": round(time.perf_counter() - started, 3),
        "out": str(out),
    }


def _add(totals: dict[str, float], count: pd.DataFrame) -> None:
    for key in SUMMARY:
        totals[key] += float(count[key].sum())


def _ray_run(
    batches: list[pd.DataFrame],
    args: tuple[str, ...],
    address: str | None,
    workers: int | None,
    totals: dict[str, float],
) -> None:
    from forewarn.distributed.engine import connect

    ray = connect(address)
    if workers is None:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
    workers = min(int(workers), len(batches))  # an idle actor would only hold a CPU
    with warnings.catch_warnings():  # Ray Data 2.55 warns about defaults it sets itself whenever its context is copied
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\.data")
        data = ray.data.from_pandas(batches)  # one block per batch: the actors share the blocks out
        scored = data.map_batches(
            BatchScorer,
            fn_constructor_args=args,
            batch_size=None,
            batch_format="pandas",
            compute=ray.data.ActorPoolStrategy(size=int(workers)),
            num_cpus=1,
            max_restarts=-1,
            max_task_retries=-1,
        )
        for count in scored.iter_batches(batch_size=None, batch_format="pandas"):  # streamed: one count row a batch
            _add(totals, count)


def ranked(out: str | os.PathLike[str], top: int | None = None) -> pd.DataFrame:
    """The rows a :func:`fleet_score` wrote under ``out``, ranked by probability (then asset id), columns
    :data:`forewarn.train.score.COLUMNS`."""
    files = sorted(Path(out).glob("part-*.parquet"))
    if not files:
        raise ConfigError(f"{str(out)!r} holds no scored batch (part-*.parquet); run fleet_score first")
    table = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    table = table.sort_values(["probability", "asset_id"], ascending=[False, True], na_position="last", kind="stable")
    table = table.reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    table = table[list(COLUMNS)]
    return table.head(top) if top else table
