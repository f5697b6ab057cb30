"""Drift monitoring on the twin (issue 18): false drift alerts on unchanged fleets, and how fast injected plant
changes are flagged.

Each fleet is simulated at 1-hour steps for 1 + ``--years`` years; the first year is the drift reference (as a
model trained on that year would have it), the following years are monitored day by day through the monitor's
own steps (:func:`forewarn.monitor.runner.assess_frames`: running rows, residual drift, steps, causes).

* false alerts: drift alerts (plant changes) per asset-year on fleets where nothing is changed, with
  degradation off (healthy) and on (machines wear and fail, maintained by each site's policy);
* detection: on a healthy fleet, one change per asset at midnight of a random day of the monitored years
  (a 1-SD recalibration offset of one random channel, SD over the reference year's running rows), a 1-SD
  ambient shift of one site, a replaced motor (30 % lower losses); flagged = a drift alert on the day the change
  starts (one day of data), and its cause; for the changes missed that day, the days until the first drift alert
  (``days_to_alert``, 0 = the first day), and whether a drift alert came by the first day *with data* (4 hours
  or more at speed: a machine may stand still on the day of its change) (``by_change_first_data_day``).

    .venv/bin/python benchmarks/monitor_drift.py --assets 40 --years 3 --seeds 0 1 2

Sensitivity options (the defaults are the standing protocol): ``--interval 10min`` renders the twin at a finer step,
``--model-interval 1h`` has the monitor read its bucket means (as ``forewarn monitor`` reads a store at a model's
interval), ``--offset-sd-at 1h`` sizes each offset as 1 SD of the hourly mean instead of the stored reading,
``--run-level positive`` judges as running the rows above a fifth of the run channel's median *positive* reading
(not the product's rule), ``--no-false-alerts`` / ``--healthy-only`` / ``--no-ambient`` skip parts.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forewarn.exceptions import DataNotFoundError
from forewarn.monitor import drift
from forewarn.monitor.classify import PLANT_CHANGES
from forewarn.monitor.drift import fit_reference, running, running_at
from forewarn.monitor.multivariate import mmd_test
from forewarn.monitor.runner import assess_frames
from forewarn.twin import FleetConfig, simulate_fleet
from forewarn.twin.changes import AmbientShift, MotorReplaced, SensorOffset, apply_changes, change_events

MARGIN = [2.0]
#: the sensitivity study's settings (the standing protocol: the twin stored at 1 h, monitored at 1 h, offsets of
#: 1 SD of the hourly reading): ``interval`` the twin's stored step, ``model_interval`` the step the monitor reads
#: (the stored readings averaged into its buckets, as ``forewarn monitor`` reads the store at the model's
#: interval), ``offset_sd_at`` the step whose SD an offset is (the stored readings averaged to it)
SETTINGS = {"interval": "1h", "model_interval": "1h", "offset_sd_at": "1h"}


def positive_run_level(reference: pd.DataFrame, *, share: float = 0.2) -> tuple[str, float]:
    """A variant of :func:`forewarn.monitor.drift.run_level` (``--run-level positive``, not the default): ``share``
    of the median of the run channel's *positive* readings, so that a machine standing still more than half the
    time still has a running threshold (the default's median is then 0 and every row, stopped or running, counts)."""
    for channel in ("speed", "power", "current", "flow"):
        if channel in reference:
            values = reference[channel].to_numpy(dtype="float64")
            values = values[np.isfinite(values) & (values > 0)]
            if len(values):
                return channel, share * float(np.median(values))
    return "", 0.0


def averaged(readings: pd.DataFrame, step: str | None = None) -> pd.DataFrame:
    """The stored readings averaged over buckets of ``step`` (by default ``model_interval``: what the monitor
    reads); unchanged when it is the stored interval."""
    step = step or SETTINGS["model_interval"]
    if pd.Timedelta(step) == pd.Timedelta(SETTINGS["interval"]):
        return readings
    bucket = pd.to_datetime(readings["ts"], utc=True).dt.floor(step)
    out = readings.drop(columns=["ts"]).groupby([readings["asset_id"], bucket.rename("ts")], sort=True).mean()
    return out.reset_index()


def fleet(assets: int, years: int, seed: int, degradation: bool):
    config = FleetConfig(
        sites=max(1, assets // 10),
        assets=assets,
        days=365 * (1 + years),
        seed=seed,
        interval=SETTINGS["interval"],
        degradation=degradation,
        sensor_faults=False,
    )
    return simulate_fleet(config)


def channels_of(readings: pd.DataFrame) -> list[str]:
    return [c for c in readings.columns if c not in ("asset_id", "ts")]


def alerts_of(found: dict) -> list[tuple[str, object, str]]:
    return [(a, e["day"], e["cause"]) for a, items in found.items() for e in items if e["cause"] in PLANT_CHANGES]


def false_alerts(assets: int, years: int, seed: int, degradation: bool) -> dict:
    sim = fleet(assets, years, seed, degradation)
    r = averaged(sim.readings)
    start = r["ts"].min()
    cut = start + pd.Timedelta(days=365)
    sites = {a.asset_id: a.site_id for a in sim.assets}
    found, table = assess_frames(
        r,
        sim.events,
        sites,
        channels_of(r),
        reference=(start, cut),
        window=(cut, r["ts"].max() + pd.Timedelta("1h")),
        margin=MARGIN[0],
    )
    alerts = alerts_of(found)
    asset_years = table.groupby("asset_id")["day"].nunique().sum() / 365.25
    causes = pd.Series([e["cause"] for items in found.values() for e in items]).value_counts().to_dict()
    return {
        "seed": seed,
        "degradation": degradation,
        "assets": len(found),
        "asset_years": round(float(asset_years), 1),
        "drift_alerts": len(alerts),
        "per_asset_year": round(len(alerts) / asset_years, 4),
        "onsets_by_cause": causes,
        "alerts": [(a, str(d.date()), c) for a, d, c in alerts[:20]],
    }


def detection(assets: int, years: int, seed: int) -> dict:
    sim = fleet(assets, years, seed, False)
    r = sim.readings
    start = r["ts"].min()
    cut = start + pd.Timedelta(days=365)
    rng = np.random.default_rng(seed + 100)
    changes = []
    site_of = {a.asset_id: a.site_id for a in sim.assets}
    ids = sorted(site_of)
    monitored_days = 365 * years - 20
    per_asset = {}
    for i, asset in enumerate(ids):
        at = cut + pd.Timedelta(days=int(rng.integers(20, monitored_days)))
        rows = r[r["asset_id"] == asset]
        ref_rows = rows[(rows["ts"] < cut)]
        ref_rows = averaged(ref_rows, SETTINGS["offset_sd_at"])
        ref_rows = ref_rows[running(ref_rows, ref_rows)]
        live = [c for c in channels_of(r) if ref_rows[c].notna().mean() > 0.5 and ref_rows[c].std() > 0]
        kind = ("offset", "offset", "motor")[i % 3]
        if kind == "motor" and "current" in live:
            changes.append(MotorReplaced(asset, at, loss_cut=0.3))
        else:
            channel = live[int(rng.integers(len(live)))]
            changes.append(SensorOffset(asset, channel, at, float(ref_rows[channel].std())))
        per_asset[asset] = changes[-1]
    changed = apply_changes(r, changes)
    events = pd.concat([sim.events, change_events(changes)], ignore_index=True)
    events["ts"] = pd.to_datetime(events["ts"], utc=True)
    found, _ = assess_frames(
        averaged(changed),
        events,
        site_of,
        channels_of(r),
        reference=(start, cut),
        window=(cut, r["ts"].max() + pd.Timedelta("1h")),
        margin=MARGIN[0],
    )
    rows = []
    for asset, change in per_asset.items():
        day = pd.Timestamp(change.at).floor("1D")
        onsets = [e for e in found.get(asset, []) if e["day"] == day]
        # the first day of data after the change: the first day from the change on with 4 hours or more at a speed
        # above a fifth of the asset's median running speed (a machine stopped on the day of its change gives no
        # data about it that day)
        mine = changed[changed["asset_id"] == asset]
        speed = mine["speed"].to_numpy(dtype="float64")
        moving = speed[np.isfinite(speed) & (speed > 0)]
        on = np.isfinite(speed) & (speed > 0.2 * (np.median(moving) if len(moving) else 0.0))
        ran = mine[on & (mine["ts"] >= day).to_numpy()]
        per_day = ran.groupby(pd.to_datetime(ran["ts"], utc=True).dt.floor("1D")).size()
        per_day = per_day * (pd.Timedelta(SETTINGS["interval"]) / pd.Timedelta("1h"))  # hours at speed
        first = per_day.index[per_day.to_numpy() >= 4][0] if (per_day >= 4).any() else day
        by_first = [e for e in found.get(asset, []) if day <= e["day"] <= first and e["cause"] in PLANT_CHANGES]
        early = [e for e in found.get(asset, []) if e["day"] < day and e["cause"] in PLANT_CHANGES]
        later = [e["day"] for e in found.get(asset, []) if day <= e["day"] and e["cause"] in PLANT_CHANGES]
        rows.append(
            {
                "asset": asset,
                "change": change.kind,
                "channel": getattr(change, "channel", None),
                "flagged_day_1": bool(onsets and onsets[0]["cause"] in PLANT_CHANGES),
                "cause": onsets[0]["cause"] if onsets else None,
                "false_before": len(early),
                "days_to_alert": (later[0] - day).days if later else None,
                "first_data_day": (first - day).days,
                "flagged_first_data_day": bool(by_first),
            }
        )
    table = pd.DataFrame(rows)
    return {
        "seed": seed,
        "by_change": table.groupby("change")["flagged_day_1"].agg(["sum", "count"]).to_dict("index"),
        "by_change_first_data_day": table.groupby("change")["flagged_first_data_day"].sum().to_dict(),
        "causes": {
            f"{k[0]}: {k[1]}": int(v) for k, v in table.groupby(["change", "cause"], dropna=False).size().items()
        },
        "missed": table[~table["flagged_day_1"]][
            ["asset", "change", "channel", "cause", "days_to_alert", "first_data_day", "flagged_first_data_day"]
        ].to_dict("records"),
    }


def ambient(assets: int, years: int, seed: int) -> dict:
    sim = fleet(assets, years, seed, False)
    r = sim.readings
    start = r["ts"].min()
    cut = start + pd.Timedelta(days=365)
    site_of = {a.asset_id: a.site_id for a in sim.assets}
    site = sorted(set(site_of.values()))[0]
    members = tuple(a for a, s in site_of.items() if s == site)
    ref = r[(r["asset_id"].isin(members)) & (r["ts"] < cut)]
    at = cut + pd.Timedelta(days=200)
    delta = float(ref["ambient_temp"].std())
    changed = apply_changes(r, [AmbientShift(members, at, delta)])
    found, _ = assess_frames(
        averaged(changed),
        sim.events,
        site_of,
        channels_of(r),
        reference=(start, cut),
        window=(cut, r["ts"].max() + pd.Timedelta("1h")),
        margin=MARGIN[0],
    )
    day = at.floor("1D")
    hits = {a: [e["cause"] for e in found.get(a, []) if e["day"] == day] for a in members}
    return {
        "seed": seed,
        "site_assets": len(members),
        "delta_k": round(delta, 2),
        "flagged_day_1": sum(1 for c in hits.values() if any(x in PLANT_CHANGES for x in c)),
        "causes": hits,
    }


def multivariate(assets: int, years: int, seed: int, window_days: int = 30) -> dict:
    """The kernel two-sample test (MMD) per asset and 30-day window: on a healthy fleet over ``years`` (every
    window of every asset), and on the 30 days after a 1-SD offset of one random channel or a replaced motor."""
    sim = fleet(assets, years, seed, False)
    r = sim.readings
    start = r["ts"].min()
    cut = start + pd.Timedelta(days=365)
    rng = np.random.default_rng(seed + 200)
    healthy = flagged = 0
    changed_hits: dict[str, list[int]] = {"sensor_recalibration": [0, 0], "motor_replaced": [0, 0]}
    changes, refs = [], {}
    for asset, rows in r.groupby("asset_id", sort=True):
        ts = pd.to_datetime(rows["ts"], utc=True)
        ref_frame = rows[(ts < cut).to_numpy()]
        level = drift.run_level(ref_frame)
        live = ref_frame[running_at(ref_frame, level)]
        try:
            ref = fit_reference(live, channels_of(r))
        except DataNotFoundError:
            continue
        refs[asset] = (ref, level)
        for w in range(365 * years // window_days):
            a = cut + pd.Timedelta(days=w * window_days)
            win = rows[((ts >= a) & (ts < a + pd.Timedelta(days=window_days))).to_numpy()]
            win = win[running_at(win, level)].reindex(columns=ref.channels).to_numpy(dtype="float64")
            found = mmd_test(ref.joint, ref.joint_day, win, window_days=window_days, seed=w)
            healthy += 1
            flagged += int(found["drifted"])
        at = cut + pd.Timedelta(days=int(rng.integers(0, 365 * years - window_days)))
        if len(changes) % 2 == 1 and "current" in ref.channels:
            changes.append(MotorReplaced(str(asset), at, loss_cut=0.3))
        else:
            channel = ref.channels[int(rng.integers(len(ref.channels)))]
            changes.append(
                SensorOffset(str(asset), channel, at, float(np.sqrt(ref.sd[ref.channels.index(channel)] ** 2)))
            )
    moved = apply_changes(r, changes)
    for change in changes:
        ref, level = refs[change.asset_id]
        rows = moved[moved["asset_id"] == change.asset_id]
        ts = pd.to_datetime(rows["ts"], utc=True)
        at = pd.Timestamp(change.at)
        win = rows[((ts >= at) & (ts < at + pd.Timedelta(days=window_days))).to_numpy()]
        win = win[running_at(win, level)].reindex(columns=ref.channels).to_numpy(dtype="float64")
        found = mmd_test(ref.joint, ref.joint_day, win, window_days=window_days, seed=1)
        changed_hits[change.kind][0] += int(found["drifted"])
        changed_hits[change.kind][1] += 1
    return {
        "seed": seed,
        "healthy_windows": healthy,
        "healthy_flagged": flagged,
        "false_rate_per_window": round(flagged / max(healthy, 1), 4),
        "changed_flagged": {k: f"{v[0]} of {v[1]}" for k, v in changed_hits.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=40)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", default=None)
    parser.add_argument("--margin", type=float, default=MARGIN[0])
    parser.add_argument("--multivariate", action="store_true", help="Also the MMD test's rates (slow).")
    parser.add_argument("--healthy-only", action="store_true", help="Skip the degrading fleets.")
    parser.add_argument("--interval", default="1h", help="The twin's stored step (sensitivity study; standing: 1h).")
    parser.add_argument(
        "--model-interval", default=None, help="The step the monitor reads, as bucket means (default: --interval)."
    )
    parser.add_argument(
        "--offset-sd-at",
        default=None,
        help="An offset is 1 SD of the stored readings averaged to this step (default: --interval, the reading).",
    )
    parser.add_argument("--no-ambient", action="store_true", help="Skip the site-wide ambient shift.")
    parser.add_argument(
        "--run-level",
        choices=("median", "positive"),
        default="median",
        help="The running threshold: a fifth of the run channel's median (the product's) or of its positive readings.",
    )
    parser.add_argument("--no-false-alerts", action="store_true", help="Skip the unchanged fleets.")
    args = parser.parse_args()
    MARGIN[0] = args.margin
    SETTINGS.update(interval=args.interval, model_interval=args.model_interval or args.interval)
    SETTINGS["offset_sd_at"] = args.offset_sd_at or args.interval
    if args.run_level == "positive":
        drift.run_level = positive_run_level  # the monitor's steps and running() look it up in the module
    out: dict[str, list] = {"false_alerts": [], "detection": [], "ambient": [], "multivariate": []}
    threadpool_limits(1)
    for seed in args.seeds:
        t = time.perf_counter()
        for degradation in () if args.no_false_alerts else (False,) if args.healthy_only else (False, True):
            out["false_alerts"].append(false_alerts(args.assets, args.years, seed, degradation))
            print(json.dumps(out["false_alerts"][-1], default=str), flush=True)
        out["detection"].append(detection(args.assets, min(args.years, 1), seed))
        print(json.dumps(out["detection"][-1], default=str), flush=True)
        if not args.no_ambient:
            out["ambient"].append(ambient(args.assets, 1, seed))
            print(json.dumps(out["ambient"][-1], default=str), flush=True)
        if args.multivariate:
            out["multivariate"].append(multivariate(args.assets, args.years, seed))
            print(json.dumps(out["multivariate"][-1], default=str), flush=True)
        print(f"seed {seed}: {time.perf_counter() - t:.0f} s", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(out, handle, indent=1, default=str)


if __name__ == "__main__":
    main()
