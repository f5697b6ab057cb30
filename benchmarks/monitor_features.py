"""Feature drift lines from the reference's own variability (issue 18 item 1) on the twin.

``forewarn monitor`` measures each window feature of a model by its PSI against the card's training deciles. This
script puts the customary line (PSI 0.25 for every feature) beside the card's lines
(:func:`forewarn.train.references.feature_lines`: the highest PSI of the training span's own stretches as long as
the window, times a margin, at least 0.25), on healthy twin fleets (no degradation, no sensor faults, 1-hour
steps; the fleets of ``benchmarks/monitor_drift.py``), with the window features a model at 1 hour reads (the one
kernel: :meth:`forewarn.bundles.bundle.ServingSpec.window_frame`, 24 rows, the default statistics):

* seasonal: a reference of the first ``--short-days`` days (150: January-May, the new user's plant), the monitored
  window its last 30 days (inside the span), then the four 30-day windows after it (June to September: weather
  the model never saw);
* healthy: a reference of the first year, every 30-day (and 7-day, 1-day) window of the next ``--years`` years;
  features flagged per window and per asset-year (the PSI is pooled over the fleet, as the monitor's is);
* changes, on the first year's reference: a 1-SD recalibration offset of one channel on *every* asset (a fleet's
  transmitters recalibrated together), of one channel on *one* asset, and a 1-SD ambient shift of one site; a
  daily ``monitor --days 1`` / ``--days 7`` / ``--days 30`` run after the change: the first run (1 = the change's
  first day) whose window flags a feature of the changed channel. The customary line's detections mean little: it
  flags most features of unchanged windows too (see healthy).

Margins are compared with ``--margins`` (the lines are ``max(0.25, margin x highest)``); the product's is
:data:`forewarn.train.references.LINE_MARGIN`. Tune on validation seeds (3, 4, 5), not on the standing ones.

    .venv/bin/python benchmarks/monitor_features.py --assets 20 --years 2 --seeds 3 4 --margins 1 1.25 1.5 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forewarn.bundles.bundle import ServingSpec
from forewarn.features.kernel import STATS
from forewarn.train.card import reference_distributions
from forewarn.train.references import LINE_MARGIN, PSI_LINE, feature_lines, line_for, psi
from forewarn.twin.changes import AmbientShift, SensorOffset, apply_changes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from monitor_drift import channels_of, fleet  # noqa: E402  (the standing protocol's fleets)

WINDOW = 24
WEEKS = (1, 7, 30)


def features(readings: pd.DataFrame, channels: list[str]) -> pd.DataFrame:
    """The window features of every row (``ts`` beside them), as a model at 1 hour reads them."""
    spec = ServingSpec(channels=tuple(channels), window=WINDOW, stats=tuple(STATS))
    frame = readings.sort_values(["asset_id", "ts"]).reset_index(drop=True)
    X = spec.window_frame(frame)
    X.insert(0, "ts", pd.to_datetime(frame["ts"], utc=True).to_numpy())
    X.insert(0, "asset_id", frame["asset_id"].to_numpy())
    return X


def card_of(X: pd.DataFrame, margin: float) -> dict:
    names = [c for c in X.columns if c not in ("asset_id", "ts")]
    reference = reference_distributions(X[names])
    return {"reference": reference, "reference_lines": feature_lines(reference, X[names], X["ts"], margin=margin)}


def judge(
    card: dict, window: pd.DataFrame, days: int, only: list[str] | None = None
) -> dict[str, tuple[float, float, float]]:
    """Per feature (of ``only``, by default every one): (PSI, the card's line, the customary line)."""
    out = {}
    for feature, deciles in card["reference"].items():
        if any(d is None for d in deciles) or (only is not None and feature not in only):
            continue
        cut = np.asarray(deciles, dtype="float64")
        values = window[feature].to_numpy(dtype="float64")
        value = psi(cut, values)
        if not np.isfinite(value):
            continue
        rows = int(np.isfinite(values).sum())
        line, _ = line_for(card["reference_lines"], feature, days=days, rows=rows, deciles=cut)
        out[feature] = (value, line, PSI_LINE)
    return out


def between(X: pd.DataFrame, start: pd.Timestamp, days: float) -> pd.DataFrame:
    return X[(X["ts"] >= start) & (X["ts"] < start + pd.Timedelta(days=days))]


def flagged(verdicts: dict[str, tuple[float, float, float]]) -> tuple[list[str], list[str]]:
    """(features over the card's line, features over 0.25)."""
    return [f for f, v in verdicts.items() if v[0] > v[1]], [f for f, v in verdicts.items() if v[0] > v[2]]


def seasonal(sim, X: pd.DataFrame, short_days: int, margins: list[float]) -> dict:
    start = X["ts"].min().floor("1D")
    cut = start + pd.Timedelta(days=short_days)
    out: dict = {"reference_days": short_days}
    for margin in margins:
        card = card_of(X[X["ts"] < cut], margin)
        rows = []
        for k in range(-1, 4):
            a = cut + pd.Timedelta(days=30 * k)
            mine, customary = flagged(judge(card, between(X, a, 30), 30))
            rows.append({"window": str(a.date()), "inside": k < 0, "lines": len(mine), "customary": len(customary)})
        out[f"margin {margin}"] = rows
    return out


def healthy(X: pd.DataFrame, years: int, margins: list[float], assets: int) -> dict:
    start = X["ts"].min().floor("1D")
    cut = start + pd.Timedelta(days=365)
    asset_years = assets * (365 * years) / 365.25
    out: dict = {"asset_years": round(asset_years, 1)}
    names = [c for c in X.columns if c not in ("asset_id", "ts")]
    for margin in margins:
        card = card_of(X[X["ts"] < cut], margin)
        per = {}
        for days in WEEKS:
            windows = (365 * years) // days
            step = max(1, windows // 120)  # at most ~120 windows per length
            n_lines = n_customary = judged = 0
            inside = 0
            which: dict[str, int] = {}
            for w in range(0, windows, step):
                mine, customary = flagged(judge(card, between(X, cut + pd.Timedelta(days=w * days), days), days))
                n_lines += len(mine)
                n_customary += len(customary)
                judged += 1
                for f in mine:
                    which[f] = which.get(f, 0) + 1
            # windows inside the reference year, against it (a month the model was trained on)
            for w in range(0, 365 // days, max(1, (365 // days) // 60)):
                inside += len(flagged(judge(card, between(X, start + pd.Timedelta(days=w * days), days), days))[0])
            per[f"{days}d"] = {
                "windows": judged,
                "flagged_per_window_lines": round(n_lines / judged, 3),
                "flagged_per_window_customary": round(n_customary / judged, 3),
                "flagged_per_asset_year_lines": round(n_lines / (judged * days * assets / 365.25), 3),
                "flagged_per_asset_year_customary": round(n_customary / (judged * days * assets / 365.25), 3),
                "flagged_inside_reference_lines": inside,
                "most_flagged": sorted(which.items(), key=lambda kv: -kv[1])[:5],
            }
        out[f"margin {margin}"] = per
    out["features"] = len(names)
    return out


def detection(sim, X: pd.DataFrame, seed: int, margins: list[float]) -> dict:
    """1-SD offsets (fleet-wide, one asset) and a site's ambient shift: when does feature PSI flag them?"""
    r = sim.readings
    start = X["ts"].min().floor("1D")
    cut = start + pd.Timedelta(days=365)
    rng = np.random.default_rng(seed + 300)
    names = channels_of(r)
    ref = r[pd.to_datetime(r["ts"], utc=True) < cut]
    sd = {c: float(ref[c].std()) for c in names}
    site_of = {a.asset_id: a.site_id for a in sim.assets}
    members = tuple(a for a, s in site_of.items() if s == sorted(set(site_of.values()))[0])
    assets = sorted(site_of)
    cases = []
    for i, channel in enumerate(c for c in names if sd[c] > 0):
        at = cut + pd.Timedelta(days=int(rng.integers(40, 300)))
        cases.append(("fleet offset", channel, at, [SensorOffset(a, channel, at, sd[channel]) for a in assets]))
        if i % 3 == 0:
            one = assets[int(rng.integers(len(assets)))]
            cases.append(("one-asset offset", channel, at, [SensorOffset(one, channel, at, sd[channel])]))
    at = cut + pd.Timedelta(days=200)
    cases.append(("site ambient", "ambient_temp", at, [AmbientShift(members, at, sd["ambient_temp"])]))
    cards = {m: card_of(X[X["ts"] < cut], m) for m in margins}
    out: dict = {m: [] for m in margins}
    for kind, channel, at, changes in cases:
        span = r[(r["ts"] >= at - pd.Timedelta(days=32)) & (r["ts"] < at + pd.Timedelta(days=31))]
        moved = features(apply_changes(span, changes), names)
        ours = [f for f in moved.columns if f.split("__")[0] == channel]
        for margin, card in cards.items():
            row = {"change": kind, "channel": channel, "day": str(at.date())}
            for days in WEEKS:  # daily runs of monitor --days 1 / 7 / 30: the first run (1 = the change's first day)
                first = {"lines": None, "customary": None}
                for k in range(1, days + 1):
                    window = between(moved, at + pd.Timedelta(days=k - days), days)
                    mine, customary = flagged(judge(card, window, days, ours))
                    for name, hit in (("lines", mine), ("customary", customary)):
                        if hit and first[name] is None:
                            first[name] = k
                    if first["lines"] is not None and first["customary"] is not None:
                        break
                row[f"first_{days}d_run_lines"] = first["lines"]
                row[f"first_{days}d_run_customary"] = first["customary"]
            out[margin].append(row)
    summary = {}
    for margin, rows in out.items():
        table = pd.DataFrame(rows)
        summary[f"margin {margin}"] = {
            kind: {
                "cases": len(g),
                **{
                    f"{days}d runs, {name}": f"{int(g[f'first_{days}d_run_{name}'].notna().sum())} flagged, median day "
                    + str(g[f"first_{days}d_run_{name}"].median())
                    for days in WEEKS
                    for name in ("lines", "customary")
                },
                "missed_30d_lines": g.loc[g["first_30d_run_lines"].isna(), "channel"].tolist(),
            }
            for kind, g in table.groupby("change")
        }
    return {"summary": summary, "cases": out[margins[0]] if len(margins) == 1 else out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=20)
    parser.add_argument("--years", type=int, default=2, help="Monitored years after the reference year.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4])
    parser.add_argument("--margins", type=float, nargs="+", default=[LINE_MARGIN])
    parser.add_argument("--short-days", type=int, default=150)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    threadpool_limits(1)
    out = []
    for seed in args.seeds:
        t = time.perf_counter()
        sim = fleet(args.assets, args.years, seed, False)
        X = features(sim.readings, channels_of(sim.readings))
        print(f"seed {seed}: fleet and features in {time.perf_counter() - t:.0f} s ({len(X):,} rows)", flush=True)
        result = {
            "seed": seed,
            "seasonal": seasonal(sim, X, args.short_days, args.margins),
            "healthy": healthy(X, args.years, args.margins, args.assets),
            "detection": detection(sim, X, seed, args.margins),
        }
        for part in ("seasonal", "healthy"):
            print(json.dumps({part: result[part]}, default=str), flush=True)
        print(json.dumps({"detection": result["detection"]["summary"]}, default=str), flush=True)
        print(f"seed {seed}: {time.perf_counter() - t:.0f} s", flush=True)
        out.append(result)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(out, handle, indent=1, default=str)


if __name__ == "__main__":
    main()
