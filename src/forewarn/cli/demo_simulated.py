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

from forewarn.cli.demo import bundle_model, drivers, print_ranking
from forewarn.evaluate.rul import rmse
from forewarn.features.window import window_features
from forewarn.models.rul.lightgbm_rul import LightGBMRUL
from forewarn.store import Store
from forewarn.twin.demo import demo_fleet

WINDOW_HOURS = 24
MAX_RUL_HOURS = 240.0
HORIZON_HOURS = 72.0
#: planning bands on predicted RUL in hours
HOUR_BANDS = ((24, "critical"), (72, "high"), (168, "medium"))


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


def run_simulated_demo(*, store: Path, top: int, seed: int, console: Console, started: float) -> dict[str, float]:
    """Simulate, store, train on some assets, judge on the others, rank the whole fleet now."""
    console.rule("Forewarn demo: a simulated fleet from the digital twin")
    fleet = demo_fleet(seed=seed)
    with Store(store) as db:
        reports = fleet.to_store(db)
        new = sum(r.written for r in reports[:-1])
        console.print(f"[1/4] store {store}: {db.count_readings():,} readings ({new:,} new this run), "
                      f"{len(db.assets())} assets, {len(db.events(kind='failure'))} failures")
        frame = _hourly_frame(db)
        failures = db.events(kind="failure")
    channels = [c for c in frame.columns if c not in ("asset_id", "ts", "hour") and frame[c].notna().any()]
    X = window_features(frame, group="asset_id", order="hour", columns=channels, window=WINDOW_HOURS)
    y = hours_to_next_failure(frame, failures)
    assets = np.asarray(sorted(frame["asset_id"].unique()))
    held_out = set(np.random.default_rng(seed).permutation(assets)[: len(assets) // 3])
    is_test = frame["asset_id"].isin(held_out).to_numpy()
    known = ~np.isnan(y)
    console.print(f"[2/4] features: {X.shape[1]} window features ({WINDOW_HOURS} h trailing windows) from "
                  f"{len(channels)} channels; {int((~is_test & known).sum()):,} labelled training rows from "
                  f"{len(assets) - len(held_out)} assets, {len(held_out)} assets held out")
    fit_start = time.perf_counter()
    model = LightGBMRUL(max_rul=MAX_RUL_HOURS, seed=seed).fit(X[~is_test & known], y[~is_test & known])
    fit_s = time.perf_counter() - fit_start
    judged = is_test & known
    error = rmse(np.minimum(y[judged], MAX_RUL_HOURS), model.predict(X[judged]))
    model_dir = bundle_model(model, store, channels=channels, window=WINDOW_HOURS, horizon=HORIZON_HOURS,
                             X_holdout=X[judged], y_holdout=y[judged], groups=frame.loc[judged, "asset_id"].to_numpy(),
                             metrics={"rmse": error}, training_data=X[~is_test & known], unit="hours")
    console.print(f"[3/4] LightGBM RUL model trained in {fit_s:.1f} s; RMSE on the held-out assets "
                  f"{error:.1f} h (truth capped at {MAX_RUL_HOURS:.0f} h as in training)")
    last = frame.groupby("asset_id")["hour"].idxmax().loc[assets].to_numpy()
    now = model.predict(X.loc[last])
    final = fleet.truth.sort_values("ts").drop_duplicates("asset_id", keep="last").set_index("asset_id")
    health = final.loc[assets, "health"].to_numpy(dtype="float64")  # the twin's ground truth, 1 = as new
    print_ranking(console, "Simulated fleet ranked by risk now", assets, ("hours run", frame.loc[last, "hour"]
                  .to_numpy(dtype="float64")), now, ("true health", health), drivers(model, X.loc[last]), top,
                  HOUR_BANDS)
    console.print(f"[4/4] done in {time.perf_counter() - started:.0f} s. Store: {store}  Model: {model_dir}/")
    return {"rmse": error, "fit_s": fit_s}
