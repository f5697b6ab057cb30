"""RUL intervals that cover what they say: the card's figure and a new asset's (issue 12 item 6).

Each setting is one plant of validation data only, split by asset into the *plant* (what ``forewarn.train`` sees:
its own held-out third included) and *new* assets that take no part in training at all:

* ``twin``: ``simulate_fleet(FleetConfig(sites=2, assets=2 * N, days=D, interval=I, degradation_scale=S, seed=X))``
  (validation seeds 21-26), half the assets (drawn with the seed) are the plant;
* ``cmapss``: a C-MAPSS **training** file (FD001, FD002 or FD004; the test files are never read), engines split
  by number into two groups (odd engines the plant, even ones new), one failure at each engine's last cycle and
  an install at its first, the 125-cycle cap of the protocol.

One ``forewarn.train(..., task="rul", model="lightgbm-rul")`` per setting; the held-out rows that
:func:`forewarn.train.holdout.rul_holdout` receives (predicted RUL, capped truth, asset) are captured, and the
shipped model (the recipe refit on the whole plant) predicts every usable row of the new assets. The captures are
kept under ``WORK`` and read back on the next run, so each interval rule below is fitted on the same rows:

* ``card``: the figure the card reports (the rule fitted and judged within the held-out assets: the code's
  cross-fitting as it stands);
* ``new``: the rule fitted on all held-out rows (what ships) and judged on the new assets' rows (the honest
  figure); coverage over rows, ``asset_min`` the worst new asset's coverage, widths with the upper bound at the
  RUL cap (an interval at the cap says "cap or more").

Rules: ``before`` (the code before 2026-12-06: row quantiles in 4 bands, bounds with no cap, the card on asset
halves), ``rows4``/``rows1`` (row quantiles, 4 bands or one, bounds as served now), ``assets4``/``assets1`` (each
asset one weight in each band), ``am2``/``am3``/``am5`` (:func:`forewarn.bundles.bundle.interval_bands` with that
many assets a band), ``conf1``/``conf4m5``/``conf4m10``/``cs1``/``cs4m10`` (conformal quantiles counted in assets,
tried and not adopted), ``shipped`` (:func:`~forewarn.bundles.bundle.interval_bands` as it ships, the card by
:func:`forewarn.train.holdout.interval_figures`). ``card`` is the halves' figure for every rule but ``shipped``;
``loao`` each held-out asset judged by the others.

    .venv/bin/python benchmarks/rul_intervals.py --work /tmp/rulint --twin 8:1h:4 16:1h:4 --seeds 21 22 --json out.json
    .venv/bin/python benchmarks/rul_intervals.py --work /tmp/rulint --cmapss FD001 --json cm.json
    .venv/bin/python benchmarks/rul_intervals.py --work /tmp/rulint --report before rows4 shipped   # no training
    .venv/bin/python benchmarks/rul_intervals.py --work W --standing plant.duckdb   # one run, with W/holdout_before.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DATA_DIR = Path(os.environ.get("FOREWARN_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
LEVELS = (0.05, 0.95)


def _quiet_torch() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def train_and_capture(store_path: Path, plant: list[str], new: list[str], models: Path, **options: Any) -> dict:
    """Train on ``plant`` with the held-out rows captured; the shipped model's predictions on ``new``."""
    import forewarn
    from forewarn.bundles.bundle import Bundle
    from forewarn.store import Store
    from forewarn.train import holdout
    from forewarn.train.dataset import load_dataset
    from forewarn.train.spec import TrainSpec

    seen: dict[str, np.ndarray] = {}
    original = holdout.rul_holdout

    def capture(predicted: np.ndarray, truth: np.ndarray, groups: np.ndarray, *args: Any, **kw: Any) -> Any:
        seen.update(predicted=np.asarray(predicted, float), truth=np.asarray(truth, float), groups=np.asarray(groups))
        return original(predicted, truth, groups, *args, **kw)

    holdout.rul_holdout = capture  # type: ignore[assignment]
    began = time.perf_counter()
    try:
        result = forewarn.train.train(
            str(store_path), str(models), task="rul", model="lightgbm-rul", assets=tuple(plant), **options
        )
    finally:
        holdout.rul_holdout = original  # type: ignore[assignment]
    wall = time.perf_counter() - began
    bundle = Bundle(result.folder)
    held = {
        "held_predicted": seen["predicted"],
        "held_truth": seen["truth"],
        "held_groups": seen["groups"].astype(str),
        "card": np.array(json.dumps(dict(result.metrics) | {"train_wall_s": wall}, default=str)),
    }
    if not new:
        return held
    spec = TrainSpec(task="rul", horizon=options.get("horizon", "24h"), max_rul=options.get("max_rul")).with_options(
        assets=tuple(new), channels=tuple(bundle.spec.channels), interval=bundle.spec.interval
    )
    with Store(str(store_path), read_only=True) as db:
        data = load_dataset(db, spec)
    spec = spec.resolved(data.interval)
    X = data.features(spec).reindex(columns=bundle.feature_names)
    usable = data.labelled & ~data.down
    predicted = np.asarray(bundle.model.predict(X[usable].reset_index(drop=True)), float)  # type: ignore[attr-defined]
    metrics = result.metrics
    return held | {
        "new_predicted": predicted,
        "new_truth": data.y[usable].astype(float),
        "new_groups": data.groups[usable].astype(str),
        "cap": np.array(spec.max_rul_hours),
        "card": np.array(
            json.dumps(
                {k: metrics.get(k) for k in ("rmse", "interval_coverage", "interval_width_median", "ece", "brier")}
                | {"train_wall_s": wall}
            )
        ),
    }


def standing(store: Path, work: Path) -> dict[str, Any]:
    """One ``forewarn.train --task rul --model lightgbm-rul`` on every asset of ``store`` (the standing plant),
    its card's figures, and what the code before this change (``git show HEAD~N:src/forewarn/train/holdout.py``
    saved as ``--before-holdout``) says of the same held-out rows: the interval's figures change, the RMSE and the
    probability's ECE and Brier score must not."""
    from forewarn.store import Store

    with Store(str(store), read_only=True) as db:
        ids = sorted(db.assets()["asset_id"].astype(str))
    cached = work / "standing.npz"
    if not cached.exists():
        np.savez(cached, **train_and_capture(store, ids, [], work / "standing_models", seed=0))
    out = dict(np.load(cached, allow_pickle=False))
    card = json.loads(str(out["card"]))
    keys = (
        "rmse",
        "interval_coverage",
        "interval_width_median",
        "interval_coverage_below_cap",
        "interval_coverage_worst_asset",
        "interval_assets",
        "interval_bands",
        "ece",
        "brier",
    )
    result: dict[str, Any] = {"after": {k: card.get(k) for k in keys}, "train_wall_s": card["train_wall_s"]}
    before = work / "holdout_before.py"
    if before.exists():
        import importlib.util

        spec = importlib.util.spec_from_file_location("holdout_before", before)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["holdout_before"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        old = module.rul_holdout(out["held_predicted"], out["held_truth"], out["held_groups"], 24.0, 0).metrics
        result["before"] = {k: old.get(k) for k in keys}
    return result


def twin_setting(work: Path, assets: int, interval: str, scale: float, seed: int, days: int) -> dict:
    from forewarn.store import Store
    from forewarn.twin.fleet import FleetConfig, simulate_fleet
    from forewarn.twin.output import write_fleet

    name = f"twin_a{assets}_{interval}_s{scale:g}_d{days}_seed{seed}"
    cached = work / f"{name}.npz"
    if not cached.exists():
        store = work / f"{name}.duckdb"
        store.unlink(missing_ok=True)
        fleet = simulate_fleet(
            FleetConfig(sites=2, assets=2 * assets, days=days, seed=seed, interval=interval, degradation_scale=scale)
        )
        with Store(str(store)) as db:
            write_fleet(fleet, store=db)
        ids = sorted(fleet.asset_ids)
        chosen = set(np.random.default_rng(seed).permutation(ids)[:assets].tolist())
        plant = [a for a in ids if a in chosen]
        new = [a for a in ids if a not in chosen]
        out = train_and_capture(store, plant, new, work / f"{name}_models", seed=0)
        np.savez(cached, **out)
        store.unlink(missing_ok=True)
    return {"name": name, **dict(np.load(cached, allow_pickle=False))}


def cmapss_setting(work: Path, subset: str) -> dict:
    from forewarn.datasets.cmapss import load_cmapss, to_readings
    from forewarn.store import Store

    name = f"cmapss_{subset}_train"
    cached = work / f"{name}.npz"
    if not cached.exists():
        data = load_cmapss(subset, DATA_DIR)
        frame = to_readings(data.train, f"{subset}-train")
        store = work / f"{name}.duckdb"
        store.unlink(missing_ok=True)
        first = frame.groupby("asset_id")["ts"].min()
        last = frame.groupby("asset_id")["ts"].max()
        events = pd.concat(
            [
                pd.DataFrame(
                    {"asset_id": first.index, "ts": first.to_numpy(), "kind": "maintenance", "action": "install"}
                ),
                pd.DataFrame(
                    {"asset_id": last.index, "ts": last.to_numpy(), "kind": "failure", "failure_mode": "degradation"}
                ),
            ],
            ignore_index=True,
        )
        with Store(str(store)) as db:
            db.ingest_readings(frame)
            db.ingest_events(events)
        ids = sorted(first.index)
        plant = [a for a in ids if int(a.rsplit("-", 1)[1]) % 2 == 1]
        new = [a for a in ids if int(a.rsplit("-", 1)[1]) % 2 == 0]
        out = train_and_capture(store, plant, new, work / f"{name}_models", seed=0, max_rul="125h")
        np.savez(cached, **out)
        store.unlink(missing_ok=True)
    return {"name": name, **dict(np.load(cached, allow_pickle=False))}


# ---- interval rules: fit(predicted, truth, groups, cap) -> offsets(predicted) -> (low offset, high offset) ----

Rule = Callable[[np.ndarray, np.ndarray, np.ndarray], Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]]


def _row_bands(bands: int) -> Rule:
    def fit(p: np.ndarray, t: np.ndarray, g: np.ndarray) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        from forewarn.bundles.bundle import QUANTILE_LEVELS, residual_bands

        edges, q = residual_bands(p, t, bands)
        off = np.array([[np.interp(level, QUANTILE_LEVELS, row) for level in LEVELS] for row in q])

        def apply(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            b = np.searchsorted(edges, x, side="right")
            return off[b, 0], off[b, 1]

        return apply

    return fit


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, level: float) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w) / w.sum()
    return float(v[min(np.searchsorted(cum, level), len(v) - 1)])


def _asset_bands(bands: int) -> Rule:
    def fit(p: np.ndarray, t: np.ndarray, g: np.ndarray) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        from forewarn.bundles.bundle import residual_bands

        edges, _ = residual_bands(p, t, bands)
        band = np.searchsorted(edges, p, side="right")
        r = t - p
        off = []
        for b in range(len(edges) + 1):
            rows = band == b
            counts = pd.Series(g[rows]).map(pd.Series(g[rows]).value_counts()).to_numpy(float)
            off.append([_weighted_quantile(r[rows], 1.0 / counts, level) for level in LEVELS])
        table = np.array(off)

        def apply(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            b = np.searchsorted(edges, x, side="right")
            return table[b, 0], table[b, 1]

        return apply

    return fit


def _conformal_offsets(r: np.ndarray, g: np.ndarray, alpha: float = 0.1) -> tuple[float, float]:
    """Each asset one unit: the asset-weighted residuals with a mass of one asset at -inf/+inf (the finite-sample
    correction counted in assets), each tail at alpha/2; the extreme residual where the level cannot be reached."""
    n = len(np.unique(g))
    counts = pd.Series(g).map(pd.Series(g).value_counts()).to_numpy(float)
    w = 1.0 / counts / (n + 1)
    order = np.argsort(r)
    v, cum = r[order], np.cumsum(w[order])
    up_level = 1 - alpha / 2
    hi = v[np.searchsorted(cum, up_level - 1e-12)] if cum[-1] >= up_level else v[-1]
    # lower tail: mass 1/(n+1) at -inf, so the lower quantile at alpha/2 is where cum + 1/(n+1) reaches alpha/2
    # from below... mirrored: the value below which at most alpha/2 of the mixture (with -inf mass) lies
    v2, cum2 = (-r)[np.argsort(-r)], np.cumsum(w[np.argsort(-r)])
    lo = -(v2[np.searchsorted(cum2, up_level - 1e-12)] if cum2[-1] >= up_level else v2[-1])
    return float(lo), float(hi)


def _weighted_level(values: np.ndarray, weights: np.ndarray, level: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][min(np.searchsorted(cum, level - 1e-12), len(values) - 1)])


def _single_score_offsets(r: np.ndarray, g: np.ndarray, alpha: float = 0.1) -> tuple[float, float]:
    """One score per row, |r - m| scaled by the band's lower or upper spread (asset-weighted), its conformal
    quantile counted in assets (rank ceil((n+1)(1-alpha)) of n, the largest score where it cannot be reached)."""
    n = len(np.unique(g))
    counts = pd.Series(g).map(pd.Series(g).value_counts()).to_numpy(float)
    w = 1.0 / counts / n
    m = _weighted_level(r, w, 0.5)
    d_lo = max(m - _weighted_level(r, w, 0.25), 1.0)
    d_hi = max(_weighted_level(r, w, 0.75) - m, 1.0)
    score = np.where(r < m, (m - r) / d_lo, (r - m) / d_hi)
    level = (1 - alpha) * (n + 1) / n
    q = _weighted_level(score, w, level) if level <= 1 else float(score.max())
    return m - q * d_lo, m + q * d_hi


def _conformal(min_assets: int, bands: int = 4, offsets=None) -> Rule:
    def fit(p: np.ndarray, t: np.ndarray, g: np.ndarray) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        from forewarn.bundles.bundle import asset_bands

        edges, band = asset_bands(p, g, bands=bands, min_assets=min_assets)
        of = offsets or _conformal_offsets
        table = np.array([of(t[band == b] - p[band == b], g[band == b]) for b in range(len(edges) + 1)])

        def apply(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            b = np.searchsorted(edges, x, side="right")
            return table[b, 0], table[b, 1]

        return apply

    return fit


def _shipped(min_assets: int | None = None) -> Rule:
    def fit(p: np.ndarray, t: np.ndarray, g: np.ndarray) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        from forewarn.bundles.bundle import interval_bands

        fitted = interval_bands(p, t, g) if min_assets is None else interval_bands(p, t, g, min_assets=min_assets)

        def apply(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            b = np.searchsorted(fitted.edges, x, side="right")
            return fitted.offsets[b, 0], fitted.offsets[b, 1]

        return apply

    return fit


#: rules judged with the bounds every bundle served before (no cap): "before" is the code as it stood
UNCAPPED = {"before"}
RULES: dict[str, Rule] = {
    "before": _row_bands(4),
    "rows4": _row_bands(4),
    "rows1": _row_bands(1),
    "assets4": _asset_bands(4),
    "assets1": _asset_bands(1),
    "conf1": _conformal(10**9, 1),
    "conf4m5": _conformal(5),
    "conf4m10": _conformal(10),
    "cs1": _conformal(10**9, 1, _single_score_offsets),
    "cs4m10": _conformal(10, 4, _single_score_offsets),
    "am2": _shipped(2),
    "am3": _shipped(3),
    "am5": _shipped(5),
    "shipped": _shipped(),
}


def judge(
    rule: Rule, fit_rows: tuple, judge_rows: tuple, cap: float, *, capped: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Covered flag and width of each judged row, and its asset; ``capped``: the bounds as
    :meth:`forewarn.bundles.bundle.IntervalBands.bounds` gives them (the upper bound at the cap, or at an estimate
    past it), else as every bundle served them before (``max(p + offset, 0)``: "240-266 h" on a 240 h cap)."""
    p, t, g = judge_rows
    lo, hi = rule(*fit_rows)(p)
    low = np.maximum(p + lo, 0.0)
    high = np.maximum(p + hi, 0.0)
    if capped:
        from forewarn.bundles.bundle import rul_bounds

        low, high = rul_bounds(p, lo, hi, cap)
    return (t >= low - 1e-9) & (t <= high + 1e-9), high - low, g


def card_figure(
    rule: Rule, p: np.ndarray, t: np.ndarray, g: np.ndarray, cap: float, seed: int = 0, capped: bool = True
) -> dict:
    """The figure as the card reports it: the code's own cross-fitting when the rule is the shipped one, else
    halves of the held-out assets (as before)."""
    from forewarn.train.holdout import halves

    first, second = halves(g, seed)
    covered = np.zeros(len(t), bool)
    width = np.full(len(t), np.nan)
    for fit, jud in ((first, second), (second, first)):
        c, w, _ = judge(rule, (p[fit], t[fit], g[fit]), (p[jud], t[jud], g[jud]), cap, capped=capped)
        covered[jud], width[jud] = c, w
    return {"coverage": float(covered.mean()), "width_median": float(np.median(width))}


def loao_figure(rule: Rule, p: np.ndarray, t: np.ndarray, g: np.ndarray, cap: float, capped: bool = True) -> dict:
    """Each held-out asset judged by the rule fitted on the other held-out assets."""
    covered = np.zeros(len(t), bool)
    width = np.full(len(t), np.nan)
    for a in np.unique(g):
        jud = g == a
        c, w, _ = judge(rule, (p[~jud], t[~jud], g[~jud]), (p[jud], t[jud], g[jud]), cap, capped=capped)
        covered[jud], width[jud] = c, w
    below = t < cap
    return {
        "coverage": float(covered.mean()),
        "width_median": float(np.median(width)),
        "below_cap": float(covered[below].mean()) if below.any() else float("nan"),
    }


def figures(setting: dict) -> dict[str, Any]:
    cap = float(setting["cap"])
    held = (setting["held_predicted"], setting["held_truth"], setting["held_groups"])
    new = (setting["new_predicted"], setting["new_truth"], setting["new_groups"])
    out: dict[str, Any] = {
        "name": setting["name"],
        "held_assets": len(np.unique(held[2])),
        "new_assets": len(np.unique(new[2])),
        "card_as_filed": json.loads(str(setting["card"])),
        "new_rmse": float(np.sqrt(np.mean((new[0] - new[1]) ** 2))),
        "at_cap_share_new": float(np.mean(new[1] >= cap)),
    }
    for name, rule in RULES.items():
        covered, width, groups = judge(rule, held, new, cap, capped=name not in UNCAPPED)
        per_asset = pd.Series(covered).groupby(groups).mean()
        capped = name not in UNCAPPED
        card = (
            _card_of_shipped(*held, cap)
            if name == "shipped" and _has_shipped()
            else card_figure(rule, *held, cap, capped=capped)
        )
        loao = loao_figure(rule, *held, cap, capped=capped)
        below = new[1] < cap
        out[name] = {
            "card_coverage": card["coverage"],
            "card_width": card["width_median"],
            "loao_coverage": loao["coverage"],
            "loao_width": loao["width_median"],
            "loao_below_cap": loao["below_cap"],
            "new_below_cap": float(covered[below].mean()) if below.any() else float("nan"),
            "new_coverage": float(covered.mean()),
            "new_width": float(np.median(width)),
            "asset_min": float(per_asset.min()),
            "asset_mean": float(per_asset.mean()),
        }
    return out


def _has_shipped() -> bool:
    from forewarn.train import holdout

    return hasattr(holdout, "interval_figures")


def _card_of_shipped(p: np.ndarray, t: np.ndarray, g: np.ndarray, cap: float) -> dict:
    from forewarn.train import holdout

    f = holdout.interval_figures(p, t, g, cap=cap)  # type: ignore[attr-defined]
    return {"coverage": f["interval_coverage"], "width_median": f["interval_width_median"]}


def _one(results: list[dict[str, Any]], run: Callable[[], dict[str, Any]], what: str, seed: int) -> None:
    """One setting's figures appended and printed; a setting that cannot train is said and skipped."""
    try:
        results.append(run())
    except Exception as err:  # noqa: BLE001 - a benchmark goes on with the next setting
        results.append({"name": f"{what} seed {seed}", "error": f"{type(err).__name__}: {err}"})
    print(json.dumps(results[-1]), flush=True)


def report(path: Path, rules: list[str]) -> None:
    """Re-judge every cached capture under ``path`` with the rules (no training): one line per setting and rule,
    then per group of settings (the name without its seed) the median over seeds."""
    rows = []
    for cached in sorted(path.glob("*.npz")):
        d = figures({"name": cached.stem, **dict(np.load(cached, allow_pickle=False))})
        for name in rules:
            rows.append(
                {
                    "setting": d["name"],
                    "group": d["name"].rsplit("_seed", 1)[0],
                    "held": d["held_assets"],
                    "rule": name,
                    **d[name],
                }
            )
    frame = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    columns = ["card_coverage", "loao_coverage", "new_coverage", "new_below_cap", "new_width", "asset_min"]
    print(frame.set_index(["setting", "rule"])[["held", *columns]].round(3).to_string())
    print(frame.groupby(["group", "rule"])[["held", *columns]].median().round(3).to_string())
    print(frame.groupby("rule")[columns].agg(["median", "min"]).round(3).to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--twin", nargs="*", default=[], help="ASSETS:INTERVAL:SCALE[:DAYS] settings")
    parser.add_argument("--seeds", nargs="*", type=int, default=[21])
    parser.add_argument("--cmapss", nargs="*", default=[], help="FD001 FD002 FD004 (training files only)")
    parser.add_argument("--standing", type=Path, help="a store: train on all of it once, before and after")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--report", nargs="*", help="only re-judge the captures under --work with these rules")
    args = parser.parse_args()
    if args.standing is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        print(json.dumps(standing(args.standing, args.work), indent=2, default=str))
        return
    if args.report is not None:
        report(args.work, args.report or list(RULES))
        return
    _quiet_torch()
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for item in args.twin:
        parts = item.split(":")
        assets, interval, scale = int(parts[0]), parts[1], float(parts[2])
        days = int(parts[3]) if len(parts) > 3 else 120
        for seed in args.seeds:
            run = partial(twin_setting, args.work, assets, interval, scale, seed, days)
            _one(results, lambda run=run: figures(run()), item, seed)  # type: ignore[misc]
    for subset in args.cmapss:
        run = partial(cmapss_setting, args.work, subset)
        _one(results, lambda run=run: figures(run()), subset, 0)  # type: ignore[misc]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
