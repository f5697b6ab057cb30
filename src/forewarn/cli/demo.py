"""``forewarn demo``: the main job, end to end, on the embedded default store.

C-MAPSS (a NASA turbofan fleet) goes into a DuckDB file as readings plus failure events; the training
labels are derived from those events (never from a label column); window features feed the LightGBM RUL
model; the test fleet is scored at each engine's last cycle and ranked by risk, with the sensors that drive
each prediction; the test RMSE and PHM08 score stand beside published results, under the standard
protocol (training RUL capped at 125, uncapped true RUL).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from forewarn.bench.anchors import anchor_rows
from forewarn.bench.cmapss import LIGHTGBM_PARAMS
from forewarn.bench.cmapss import WINDOW as BENCH_WINDOW
from forewarn.cli.demo_ranking import models_folder, print_ranking
from forewarn.config import DATA_DIR_ENV, find_data_dir
from forewarn.datasets.cmapss import ORIGIN, SENSORS, available_subsets, load_cmapss, to_readings
from forewarn.evaluate.rul import phm08_score, rmse
from forewarn.exceptions import ConfigError
from forewarn.features.window import window_features
from forewarn.models.rul.lightgbm_rul import LightGBMRUL
from forewarn.schema import Asset, Channel, Line, Site
from forewarn.store import Store

#: trailing-window length (cycles) and LightGBM settings: those of `forewarn bench cmapss`, chosen there on
#: unit-wise splits of the training engines
WINDOW = BENCH_WINDOW
#: the failure horizon the served model's probability refers to, in cycles
HORIZON_CYCLES = 30
FAILURE_MODE = {"FD001": "hpc_degradation", "FD002": "hpc_degradation"}


def _load_into_store(db: Store, subset: str, data_root: Path) -> dict[str, int]:
    """C-MAPSS train and test fleets into the store: hierarchy, readings, and run-to-failure events."""
    data = load_cmapss(subset, data_root)
    db.add_sites([Site("cmapss", name="NASA C-MAPSS turbofan fleet")])
    counts = {}
    for split, frame in (("train", data.train), ("test", data.test)):
        line = f"{subset}-{split}"
        db.add_lines([Line(line, "cmapss", name=f"{subset} {split} engines")])
        channels = tuple(Channel(c) for c in SENSORS)
        db.add_assets(
            Asset(f"{line}-{int(u):03d}", asset_class="turbofan", line_id=line, site_id="cmapss", channels=channels)
            for u in frame["unit"].unique()
        )
        report = db.ingest_readings(to_readings(frame, line), source=f"{split}_{subset}")
        counts[split] = report.written
    last = data.train.groupby("unit")["cycle"].max()
    failures = pd.DataFrame(
        {
            "asset_id": [f"{subset}-train-{int(u):03d}" for u in last.index],
            "ts": ORIGIN + pd.to_timedelta(last.to_numpy(), unit="h"),
            "kind": "failure",
            "failure_mode": FAILURE_MODE.get(subset, "hpc_or_fan_degradation"),
        }
    )
    db.ingest_events(failures, source=f"failures_{subset}")
    counts["test_rul"] = data.test_rul
    return counts


def _fleet_frame(db: Store, line: str) -> pd.DataFrame:
    """The wide readings of every asset of one line, with ``cycle`` recovered from the timestamp."""
    ids = db.assets().query("line_id == @line")["asset_id"].tolist()
    parts = [db.readings(asset_id, wide=True).assign(asset_id=asset_id) for asset_id in ids]
    frame = pd.concat(parts, ignore_index=True)
    frame["cycle"] = ((frame["ts"] - ORIGIN) / pd.Timedelta(hours=1)).round().astype("int64")
    return frame.sort_values(["asset_id", "cycle"], ignore_index=True)


def _labels_from_events(db: Store, frame: pd.DataFrame) -> np.ndarray:
    """RUL in cycles from each asset's failure event (labels come from events, not from columns)."""
    failures = db.events(kind="failure").groupby("asset_id")["ts"].max()
    failure_ts = frame["asset_id"].map(failures)
    return ((failure_ts - frame["ts"]) / pd.Timedelta(hours=1)).to_numpy(dtype="float64")


def drivers(model: LightGBMRUL, X: pd.DataFrame, k: int = 3) -> list[str]:
    """Per row, the sensors pulling the predicted life down most (summed feature contributions)."""
    contrib = model.explain(X).drop(columns="bias")
    by_sensor = contrib.T.groupby(lambda name: name.split("__")[0]).sum().T
    out = []
    for _, row in by_sensor.iterrows():
        worst = row.sort_values().head(k)
        out.append(", ".join(name.replace("sensor_", "s") for name, v in worst.items() if v < 0) or "-")
    return out


def bundle_model(model: LightGBMRUL, store: Path, **spec: object) -> Path:
    """Save ``model`` as the next version of model ``rul`` (earlier ones are kept) and make it live."""
    from forewarn.bundles.bundle import make_bundle
    from forewarn.bundles.registry import ModelRegistry
    from forewarn.train.pipeline import next_version

    folder = models_folder(store)
    version = next_version(folder / "rul")
    path = make_bundle(model, folder / "rul" / version, **spec)  # type: ignore[arg-type]
    ModelRegistry(folder).promote("rul", version)
    return path


#: each demo fleet keeps its own store, so running both never mixes them
DEMO_STORES = {"cmapss": Path("forewarn-demo.duckdb"), "simulated": Path("forewarn-demo-simulated.duckdb")}
DEMO_SITES = {"cmapss": "cmapss", "simulated": "S1"}


def cmapss_root(data_dir: Path | None, subset: str) -> Path | None:
    """The data directory when it holds the C-MAPSS subset, else ``None`` (the demo then simulates a fleet)."""
    data_root = find_data_dir(data_dir)
    if data_root is None or not (data_root / "cmapss").is_dir() or subset not in available_subsets(data_root):
        return None
    return data_root


def check_fleet(store: Path, fleet: str) -> None:
    """Refuse a store that already holds the other demo's fleet (one store, one fleet)."""
    if not store.exists():
        return
    with Store(store, read_only=True) as db:
        sites = set(db.assets()["site_id"].dropna().astype(str))
    if sites and DEMO_SITES[fleet] not in sites:
        raise ConfigError(
            f"store {str(store)!r} holds another fleet (sites {', '.join(sorted(sites))}); the {fleet} "
            f"demo writes its own store: pass --store {DEMO_STORES[fleet]} or another new file"
        )


def run_demo(
    *, store: Path | None, data_dir: Path | None, subset: str, top: int, seed: int, simulated: bool = False
) -> dict[str, float]:
    """Run the demo and print its report; returns the test metrics (for tests and scripts) and the store used
    (``metrics["store"]``, a path string).

    Without C-MAPSS data (or with ``simulated=True``) the demo runs on a fleet from the digital twin; each fleet
    has its own default store.
    """
    console = Console()
    started = time.perf_counter()
    data_root = None if simulated else cmapss_root(data_dir, subset)
    fleet = "simulated" if data_root is None else "cmapss"
    store = Path(store) if store is not None else DEMO_STORES[fleet]
    check_fleet(store, fleet)
    if data_root is None:
        from forewarn.cli.demo_simulated import run_simulated_demo

        if not simulated:
            console.print(
                f"No C-MAPSS {subset} data (set {DATA_DIR_ENV} or --data-dir to a folder holding "
                f"cmapss/train_{subset}.txt.gz); running on a simulated fleet instead."
            )
        return {
            **run_simulated_demo(store=store, top=top, seed=seed, console=console, started=started),
            "store": str(store),  # type: ignore[dict-item]
        }
    console.rule(f"Forewarn demo: NASA C-MAPSS {subset} turbofan fleet")
    with Store(store) as db:
        counts = _load_into_store(db, subset, data_root)
        console.print(
            f"[1/4] store {store}: {db.count_readings():,} readings "
            f"({counts['train'] + counts['test']:,} new this run), {len(db.assets())} engines"
        )
        train = _fleet_frame(db, f"{subset}-train")
        test = _fleet_frame(db, f"{subset}-test")
        y = _labels_from_events(db, train)
    sensors = [c for c in SENSORS if train[c].std() > 1e-4]  # constant sensors carry nothing
    X_train = window_features(train, group="asset_id", order="cycle", columns=sensors, window=WINDOW)
    X_test_all = window_features(test, group="asset_id", order="cycle", columns=sensors, window=WINDOW)
    last_rows = test.groupby("asset_id")["cycle"].idxmax()
    X_test = X_test_all.loc[last_rows.to_numpy()].reset_index(drop=True)
    console.print(
        f"[2/4] features: {X_train.shape[1]} window features ({WINDOW}-cycle trailing windows) "
        f"from {len(sensors)} informative sensors, {len(X_train):,} training rows"
    )

    fit_start = time.perf_counter()
    model = LightGBMRUL(seed=seed, **LIGHTGBM_PARAMS).fit(X_train, y)  # one thread: OpenMP spins on a busy box
    fit_s = time.perf_counter() - fit_start
    console.print(f"[3/4] LightGBM RUL model trained in {fit_s:.1f} s (target capped at {model.max_rul:.0f} cycles)")

    predicted = model.predict(X_test)
    engines = last_rows.index.to_numpy()
    units = np.asarray([int(e.rsplit("-", 1)[1]) for e in engines])
    true_rul = counts["test_rul"].set_index("unit")["rul"]
    true = true_rul.loc[units].to_numpy(dtype="float64")
    metrics = {"rmse": rmse(true, predicted), "score": phm08_score(true, predicted), "fit_s": fit_s}
    # The serving spec (RUL interval, failure probability within the horizon) is fitted on every window of the
    # test engines, whose true RUL is known; the figures above were measured before and do not use it.
    test_units = test["asset_id"].str.rsplit("-", n=1).str[1].astype(int)
    y_test_all = (
        true_rul.loc[test_units].to_numpy() + test.groupby("asset_id")["cycle"].transform("max") - test["cycle"]
    ).to_numpy(dtype="float64")
    model_dir = bundle_model(
        model,
        store,
        channels=sensors,
        window=WINDOW,
        horizon=HORIZON_CYCLES,
        X_holdout=X_test_all,
        y_holdout=y_test_all,
        groups=test["asset_id"].to_numpy(),
        metrics=metrics,
        training_data=X_train,
    )
    flown = test.groupby("asset_id")["cycle"].max().loc[engines].to_numpy()
    print_ranking(
        console,
        "Test engines ranked by risk",
        engines,
        ("cycles flown", flown),
        predicted,
        ("actual RUL", true),
        drivers(model, X_test),
        top,
    )
    _print_comparison(console, subset, metrics, len(engines))
    console.print(f"[4/4] done in {time.perf_counter() - started:.0f} s. Store: {store}  Model: {model_dir}/")
    return {**metrics, "store": str(store)}  # type: ignore[dict-item]


def _print_comparison(console: Console, subset: str, metrics: dict[str, float], n_engines: int) -> None:
    table = Table(title=f"C-MAPSS {subset} test RMSE and PHM08 score ({n_engines} engines; lower is better)")
    for column in ("method", "RMSE", "PHM08 score", "source"):
        table.add_column(column)
    table.add_row(
        "[bold]Forewarn LightGBM RUL (this run, one seed)[/]",
        f"[bold]{metrics['rmse']:.2f}[/]",
        f"[bold]{metrics['score']:.0f}[/]",
        "measured now, standard protocol",
    )
    for row in anchor_rows("cmapss", subset=subset):
        score = row.get("score")
        table.add_row(row["method"], f"{row['rmse']:.2f}", "-" if score is None else f"{score:.0f}", row["source"])
    console.print(table)
    console.print(
        f"Every model over 5 seeds, with operating-condition normalisation: forewarn bench cmapss --subset {subset}"
    )
