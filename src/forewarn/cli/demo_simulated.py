"""``forewarn demo`` on a simulated fleet: the same main job when no benchmark data is at hand.

The digital twin's demo fleet (one site, 30 pumps, motors, compressors and fans, 60 days, run to failure)
goes into the store; hourly readings come back out; each row's label is the time to that asset's next
failure event (rows with no failure ahead are censored and left out of training); the model is trained on
two thirds of the assets and judged on the other third, so no asset is both learnt and scored.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from forewarn.cli.demo_ranking import models_folder, print_ranking
from forewarn.store import Store
from forewarn.twin.demo import demo_fleet

WINDOW_HOURS = 24
MAX_RUL_HOURS = 240.0
HORIZON_HOURS = 72.0


def _hourly_frame(db: Store) -> pd.DataFrame:
    ids = db.assets()["asset_id"].tolist()
    parts = [db.readings(a, resample="1h", wide=True).assign(asset_id=a) for a in ids]
    frame = pd.concat(parts, ignore_index=True).sort_values(["asset_id", "ts"], ignore_index=True)
    frame["hour"] = ((frame["ts"] - frame["ts"].min()) / pd.Timedelta(hours=1)).round().astype("int64")
    return frame


def hours_to_next_failure(frame: pd.DataFrame, failures: pd.DataFrame) -> np.ndarray:
    """Per row, hours until the asset's next failure event (NaN when none follows: censored).

    >>> rows = pd.DataFrame({"asset_id": ["a", "a", "b"], "ts": pd.to_datetime(
    ...     ["2024-01-01 00:00", "2024-01-01 05:00", "2024-01-01 00:00"], utc=True)})
    >>> fails = pd.DataFrame({"asset_id": ["a"], "ts": pd.to_datetime(["2024-01-01 10:00"], utc=True)})
    >>> hours_to_next_failure(rows, fails).tolist()
    [10.0, 5.0, nan]
    """
    left = frame[["asset_id", "ts"]].assign(_row=np.arange(len(frame))).sort_values("ts")
    right = failures[["asset_id", "ts"]].rename(columns={"ts": "failure_ts"}).sort_values("failure_ts")
    left["ts"] = left["ts"].astype("datetime64[us, UTC]")
    right["failure_ts"] = right["failure_ts"].astype("datetime64[us, UTC]")
    merged = pd.merge_asof(left, right, left_on="ts", right_on="failure_ts", by="asset_id", direction="forward")
    merged = merged.sort_values("_row")
    return ((merged["failure_ts"] - merged["ts"]) / pd.Timedelta(hours=1)).to_numpy(dtype="float64")


def served_levels(ranked: pd.DataFrame) -> list[str]:
    """Each asset's risk level as ``forewarn score`` served it, or its status when it has none (an asset with
    ``insufficient data`` is never shown as low risk).

    >>> served_levels(pd.DataFrame({"risk": ["high", None], "status": ["in_service", "insufficient data"]}))
    ['high', 'insufficient data']
    """
    return [
        str(risk) if isinstance(risk, str) else str(status)
        for risk, status in zip(ranked["risk"], ranked["status"], strict=True)
    ]


def run_simulated_demo(*, store: Path, top: int, seed: int, console: Console, started: float) -> dict[str, float]:
    """Simulate, store, train with ``forewarn train`` (held-out assets judge it), rank the fleet with
    ``forewarn score``: the same recipe and numbers the dashboard serves."""
    from forewarn.train import train
    from forewarn.train.score import score

    console.rule("Forewarn demo: a simulated fleet from the digital twin")
    fleet = demo_fleet(seed=seed)
    with Store(store) as db:
        reports = fleet.to_store(db)
        new = sum(r.written for r in reports[:-1])
        console.print(
            f"[1/4] store {store}: {db.count_readings():,} readings ({new:,} new this run), "
            f"{len(db.assets())} assets, {len(db.events(kind='failure'))} failures"
        )
    fit_start = time.perf_counter()
    result = train(
        store,
        models_folder(store),
        task="rul",
        horizon=f"{HORIZON_HOURS:.0f}h",
        interval="1h",
        window=WINDOW_HOURS,
        max_rul=f"{MAX_RUL_HOURS:.0f}h",
        model="lightgbm-rul",
        seed=seed,
        model_id="rul",
        promote=True,
    )
    fit_s = time.perf_counter() - fit_start
    metrics = result.metrics
    console.print(
        f"[2/4] features: {WINDOW_HOURS} h trailing windows of hourly readings from "
        f"{len(result.card['recipe']['channels'])} channels; labels from the failure and maintenance events"
    )
    console.print(
        f"[3/4] LightGBM RUL model trained in {fit_s:.1f} s; on held-out assets RMSE {metrics['rmse']:.1f} h "
        f"(truth capped at {MAX_RUL_HOURS:.0f} h), 90 % interval covers {metrics['interval_coverage']:.0%} "
        f"(median width {metrics['interval_width_median']:.0f} h), ECE {metrics['ece']:.3f}"
    )
    ranked = score(store, models_folder(store), model_id="rul")
    assets = ranked["asset_id"].to_numpy()
    final = fleet.truth.sort_values("ts").drop_duplicates("asset_id", keep="last").set_index("asset_id")
    health = final.loc[assets, "health"].to_numpy(dtype="float64")  # the twin's ground truth, 1 = as new
    hours_run = ((ranked["last_reading"] - fleet.start) / pd.Timedelta(hours=1)).to_numpy(dtype="float64")
    print_ranking(
        console,
        "Simulated fleet ranked by risk now",
        assets,
        ("hours run", hours_run),
        ranked["rul"].to_numpy(dtype="float64"),
        ("true health", health),
        ranked["drivers"].fillna("-").tolist(),
        top,
        levels=served_levels(ranked),
    )
    console.print(f"[4/4] done in {time.perf_counter() - started:.0f} s. Store: {store}  Model: {result.folder}/")
    return {"rmse": float(metrics["rmse"]), "fit_s": fit_s}
