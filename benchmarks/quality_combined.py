"""Sensors + quality against sensors alone on the twin, at a matched false-alarm budget (issue 17, item 4).

:mod:`quality_forewarning` compares the quality chart ALONE with each sensor chart ALONE. A plant would not
choose one: it would act on whichever alarm comes first. This benchmark measures that reading:

* ``sensors`` (sensors alone): an alarm whenever the vibration RMS chart or the bearing temperature chart is above
  its threshold (each at the standing protocol's level, its 99th percentile of healthy running hours);
* ``combined`` (sensors + quality, "either alarm"): whenever any of the two sensor charts or the quality SPC chart
  (:func:`quality_forewarning.chart_z`, the standing charts and settings) is above its threshold.

Adding a member can only add alarms, so the combined rule would buy lead with false alarms. It is therefore held
to the sensors' false-alarm budget: every member's threshold is raised together, all three at one healthy-hour
quantile ``p`` (``p`` >= the sensors' 0.99), and ``p`` is found by bisection so that the combined rule's false
alarms equal the sensors-alone rule's. That matching is done on the **validation** fleets (``--val-seeds``,
other generation seeds than the reported ones) and then applied unchanged to the **test** fleets
(``--test-seeds``, the standing 0-7), where both rules' false-alarm rates are reported as they come out.

Two ways of turning ``p`` into thresholds, both reported:

* ``per-fleet`` (as the standing figure): each fleet's thresholds are its own healthy-hour quantiles at ``p``;
  ``p`` is what was chosen on validation;
* ``fixed`` (as a plant would set them before it knows its failures): the z thresholds themselves are the
  quantiles at ``p`` of the validation fleets' pooled healthy hours, used unchanged on the test fleets.

False alarms: alarm onsets (an hour in alarm after one not in alarm) outside every ``WINDOW_H`` (30 days)
pre-failure window, per asset-month. Lead: the failure hour minus the first alarm hour in its 30-day window (none:
missed). Per failure the lead gain is combined minus sensors alone (a miss counts as no lead: a failure only the
combined rule caught gains its whole lead, one only the sensors caught loses it). The combined rule's sensor
thresholds are at least the sensors-alone ones, so its sensor members alarm no earlier: a positive gain can only
come from the quality chart ("quality added lead"), a negative one is what the matched budget cost.

"Which modes does quality affect at all": per mode, the share of the last 168 h before each failure in which the
quality chart alone is above its per-fleet 99th percentile (1 % in healthy hours by construction) and the chart's
rise over the 30-day window (median of its last 72 h less that of the window's first 72 h), for every mode, beside
the same rise over 30-day windows far from any failure (the twin makes unit quality depend on the bearing races, imbalance and
misalignment only; this checks it as measured).

``--lag 168`` runs every chart on its EWMA's change over 168 running hours instead of its level (the labelled
sensitivity of 2026-12-05 05:30 UTC, where quality alone was competitive); the standing protocol is ``--lag 0``.
``--sensors-p``: the sensors' healthy-hour quantile, which sets the budget (0.99, the standing level, by default).
``--alternatives``: a control for what a gain is made of. The two-sensor rule spends part of its budget on the
bearing temperature chart, so two more rules are matched to the same budget (their quantile may fall below the
sensors'): ``vibration_alone`` and ``vibration+quality``; comparing those two per failure separates what quality adds
from what moving the temperature chart's budget to a faster chart adds (BENCHMARKS.md, issue 17, 2026-12-05 08:20).

Run: ``.venv/bin/python benchmarks/quality_combined.py --assets 60 --val-seeds 100 101 102 103
--test-seeds 0 1 2 3 4 5 6 7`` (``--lag 168`` for the sensitivity; ``--skip-test`` to look at validation only).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from quality_forewarning import BASELINE_H, WINDOW_H, Charts, fleet_charts

from forewarn.twin.assets import MODES
from forewarn.twin.quality import QUALITY_MODES

SENSORS = ("vibration", "bearing_temp")
COMBINED = ("vibration", "bearing_temp", "quality")
STANDING_P = 0.99
LAST_H = 168
LAST_Z_H = 72
#: The quality chart's quantiles tried by :func:`choose_split` (None: quality left out, the sensors alone).
QUALITY_GRID = (None, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999)
#: ``--alternatives``: rules without the temperature chart, matched to the two sensors' budget from this quantile up
#: (vibration alone may then be more sensitive than in the two-sensor rule).
ALTERNATIVES: dict[str, Callable[[float], dict[str, float]]] = {
    "vibration_alone": lambda p: {"vibration": p},
    "vibration+quality": lambda p: {"vibration": p, "quality": p},
}
ALTERNATIVE_LOW = 0.9


def healthy_values(c: Charts, name: str) -> np.ndarray:
    """Chart ``name``'s values in the healthy running hours of one fleet (outside every pre-failure window)."""
    z = c.z[name]
    return z[~c.in_window & np.isfinite(z)]


def thresholds_at(ps: dict[str, float], fleets: Sequence[Charts]) -> dict[str, float]:
    """Each member's threshold: the quantile ``ps[member]`` of its healthy values pooled over ``fleets``."""
    return {m: float(np.quantile(np.concatenate([healthy_values(c, m) for c in fleets]), p)) for m, p in ps.items()}


def alarm(c: Charts, thresholds: dict[str, float]) -> np.ndarray:
    """The rule's alarm hours (``(assets, hours)`` bool): any member above its threshold."""
    out = np.zeros(c.in_window.shape, dtype=bool)
    for name, t in thresholds.items():
        out |= np.nan_to_num(c.z[name], nan=-np.inf) > t
    return out


def false_onsets(c: Charts, on: np.ndarray) -> int:
    """Alarm onsets (an alarm hour after a non-alarm hour) outside the fleet's pre-failure windows."""
    onset = on & ~np.concatenate([np.zeros((on.shape[0], 1), bool), on[:, :-1]], axis=1)
    return int((onset & ~c.in_window).sum())


def leads(c: Charts, on: np.ndarray) -> list[float | None]:
    """Per failure of ``c.events``, hours from the first alarm in its window to the failure (None: missed)."""
    out: list[float | None] = []
    for asset, f, start, _ in c.events:
        hits = np.flatnonzero(on[asset, start:f])
        out.append(float(f - (start + hits[0])) if len(hits) else None)
    return out


def rule_thresholds(
    ps: dict[str, float], fleets: Sequence[Charts], mode: str, ref: Sequence[Charts]
) -> list[dict[str, float]]:
    """Thresholds per fleet at the members' quantiles ``ps``: ``per-fleet`` each fleet's own quantiles; ``fixed``
    the quantiles of the reference fleets ``ref`` (the validation fleets), the same for every fleet."""
    if mode == "fixed":
        shared = thresholds_at(ps, ref)
        return [shared for _ in fleets]
    return [thresholds_at(ps, [c]) for c in fleets]


def false_alarm_rate(fleets: Sequence[Charts], per_fleet: Sequence[dict[str, float]]) -> float:
    """False-alarm onsets per asset-month, pooled over ``fleets`` (each with its thresholds)."""
    onsets = sum(false_onsets(c, alarm(c, t)) for c, t in zip(fleets, per_fleet, strict=True))
    return onsets / sum(c.months for c in fleets)


def equal(p: float) -> dict[str, float]:
    """The combined rule with every member at quantile ``p`` (the brief's reading: all sensitivities lowered)."""
    return dict.fromkeys(COMBINED, p)


def split(q: float | None) -> Callable[[float], dict[str, float]]:
    """The combined rule with quality fixed at quantile ``q`` (None: quality left out) and both sensors at ``p``."""
    return lambda p: dict.fromkeys(SENSORS, p) | ({} if q is None else {"quality": q})


def match_p(
    budget: float, rule: Callable[[float], dict[str, float]], fleets: Sequence[Charts], mode: str, low: float
) -> float:
    """The lowest ``p`` (bisection on [``low``, 1)) at which ``rule(p)``'s false-alarm rate on ``fleets`` is at most
    ``budget`` (the sensors-alone rate on the same fleets)."""
    high = 1.0 - 1e-7
    if false_alarm_rate(fleets, rule_thresholds(rule(low), fleets, mode, fleets)) <= budget:
        return low
    for _ in range(30):
        mid = 0.5 * (low + high)
        rate = false_alarm_rate(fleets, rule_thresholds(rule(mid), fleets, mode, fleets))
        low, high = (low, mid) if rate <= budget else (mid, high)
    return high


def _median_finite(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else float("nan")


def quality_response(c: Charts) -> list[dict[str, float]]:
    """Per failure: the share of its last ``LAST_H`` hours with the quality chart above the fleet's own 99th
    healthy percentile (1 % of healthy hours), and the chart's rise over the pre-failure window: its median over
    the last ``LAST_Z_H`` hours less its median over the window's first ``LAST_Z_H`` hours (baseline-z units)."""
    t = thresholds_at({"quality": STANDING_P}, [c])["quality"]
    out = []
    for asset, f, start, _ in c.events:
        z = c.z["quality"][asset]
        last = z[max(f - LAST_H, 0) : f]
        last = last[np.isfinite(last)]
        rise = _median_finite(z[max(f - LAST_Z_H, 0) : f]) - _median_finite(z[start : start + LAST_Z_H])
        out.append(
            {"quality_above_share": float((last > t).mean()) if len(last) else float("nan"), "quality_rise_z": rise}
        )
    return out


def healthy_rise(c: Charts) -> list[float]:
    """The reference for :func:`quality_response`'s rise: the same rise over every 30-day window (asset by asset,
    back to back after the baseline) that holds no pre-failure hour."""
    out = []
    for asset in range(c.in_window.shape[0]):
        z = c.z["quality"][asset]
        for start in range(BASELINE_H, len(z) - WINDOW_H + 1, WINDOW_H):
            if c.in_window[asset, start : start + WINDOW_H].any():
                continue
            end = start + WINDOW_H
            out.append(_median_finite(z[end - LAST_Z_H : end]) - _median_finite(z[start : start + LAST_Z_H]))
    return out


def failure_rows(fleets: Sequence[Charts], sensors_t: Sequence[dict], combined_t: Sequence[dict]) -> list[dict]:
    """One row per failure: mode, the two rules' leads and the lead gain, and the quality chart's response."""
    rows = []
    for c, ts, tc in zip(fleets, sensors_t, combined_t, strict=True):
        lead_s, lead_c = leads(c, alarm(c, ts)), leads(c, alarm(c, tc))
        quality_alone = leads(c, alarm(c, {"quality": tc["quality"]})) if "quality" in tc else [None] * len(c.events)
        for (asset, f, _, mode), s, comb, q, resp in zip(
            c.events, lead_s, lead_c, quality_alone, quality_response(c), strict=True
        ):
            rows.append(
                {
                    "seed": c.seed,
                    "asset": asset,
                    "hour": f,
                    "mode": MODES[mode],
                    "affects_quality": mode in QUALITY_MODES,
                    "sensors_lead_h": s,
                    "combined_lead_h": comb,
                    "quality_member_lead_h": q,
                    "gain_h": (comb or 0.0) - (s or 0.0),
                    **resp,
                }
            )
    return rows


def _median(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.median(kept)) if kept else None


def block(rows: Sequence[dict]) -> dict[str, object]:
    """Caught and median lead of each rule, and the lead gain, over ``rows`` (failures)."""
    both = [r for r in rows if r["sensors_lead_h"] is not None and r["combined_lead_h"] is not None]
    gains = [r["gain_h"] for r in rows]
    return {
        "failures": len(rows),
        "sensors_caught": sum(r["sensors_lead_h"] is not None for r in rows),
        "sensors_median_lead_h": _median([r["sensors_lead_h"] for r in rows]),
        "combined_caught": sum(r["combined_lead_h"] is not None for r in rows),
        "combined_median_lead_h": _median([r["combined_lead_h"] for r in rows]),
        "quality_member_caught": sum(r["quality_member_lead_h"] is not None for r in rows),
        "median_gain_h": _median(gains),
        "mean_gain_h": float(np.mean(gains)) if gains else None,
        "median_gain_caught_by_both_h": _median([r["gain_h"] for r in both]),
        "quality_added_lead": sum(g > 0 for g in gains),
        "share_quality_added_lead": (sum(g > 0 for g in gains) / len(rows)) if rows else None,
        "lead_lost": sum(g < 0 for g in gains),
        "newly_caught": sum(r["sensors_lead_h"] is None and r["combined_lead_h"] is not None for r in rows),
        "catch_lost": sum(r["sensors_lead_h"] is not None and r["combined_lead_h"] is None for r in rows),
        "median_quality_above_share_last_168h": _median([r["quality_above_share"] for r in rows]),
        "median_quality_rise_z": _median([r["quality_rise_z"] for r in rows]),
    }


def summary(rows: Sequence[dict]) -> dict[str, object]:
    """:func:`block` for the quality modes, the other modes, and each mode."""
    out: dict[str, object] = {
        "quality_modes": block([r for r in rows if r["affects_quality"]]),
        "other_modes": block([r for r in rows if not r["affects_quality"]]),
    }
    for mode in sorted({r["mode"] for r in rows}):
        out[f"mode {mode}"] = block([r for r in rows if r["mode"] == mode])
    return out


def measure(
    val: Sequence[Charts],
    test: Sequence[Charts],
    mode: str,
    rule: Callable[[float], dict[str, float]],
    sensors_p: float = STANDING_P,
    low: float | None = None,
) -> dict[str, object]:
    """Match ``rule`` to the false alarms on ``val`` of the sensors at quantile ``sensors_p`` and measure both
    rules on ``test``; ``low``: the lowest quantile the matching may give ``rule`` (``sensors_p`` by default, so
    that the rule's sensors are never more sensitive than the sensors alone)."""
    sensors = split(None)(sensors_p)
    budget = false_alarm_rate(val, rule_thresholds(sensors, val, mode, val))
    p = match_p(budget, rule, val, mode, sensors_p if low is None else low)
    out: dict[str, object] = {
        "thresholds": mode,
        "matched_quantiles": rule(p),
        "val_sensors_false_alarms": budget,
        "val_combined_false_alarms": false_alarm_rate(val, rule_thresholds(rule(p), val, mode, val)),
        "val": summary(
            failure_rows(val, rule_thresholds(sensors, val, mode, val), rule_thresholds(rule(p), val, mode, val))
        ),  # fmt: skip
    }
    if mode == "fixed":
        out["z_thresholds"] = {"sensors": thresholds_at(sensors, val), "combined": thresholds_at(rule(p), val)}
    if test:
        ts, tc = rule_thresholds(sensors, test, mode, val), rule_thresholds(rule(p), test, mode, val)
        rows = failure_rows(test, ts, tc)
        # the combined rule's sensors alarm no earlier than the sensors alone: any gain is the quality chart's
        assert low is not None or all(
            r["gain_h"] <= 0 or r["quality_member_lead_h"] == r["combined_lead_h"] for r in rows
        )
        out["test_sensors_false_alarms"] = false_alarm_rate(test, ts)
        out["test_combined_false_alarms"] = false_alarm_rate(test, tc)
        out["test"] = summary(rows)
        out["test_failures"] = rows
        out["test_healthy_window_median_rise_z"] = _median([r for c in test for r in healthy_rise(c)])
    return out


def choose_split(
    val: Sequence[Charts], mode: str, sensors_p: float = STANDING_P
) -> tuple[float | None, list[dict[str, object]]]:
    """On the validation fleets only: for each quality quantile of ``QUALITY_GRID`` (None: quality left out), the
    sensors' quantile that matches the budget and the mean lead gain over all failures; the quantile with the
    largest gain (ties: the first, so quality is left out unless it gains)."""
    sensors = rule_thresholds(split(None)(sensors_p), val, mode, val)
    budget = false_alarm_rate(val, sensors)
    table: list[dict[str, object]] = []
    for q in QUALITY_GRID:
        rule = split(q)
        if false_alarm_rate(val, rule_thresholds(rule(1.0 - 1e-7), val, mode, val)) > budget:
            table.append({"quality_p": q, "feasible": False})
            continue
        p = match_p(budget, rule, val, mode, sensors_p)
        rows = failure_rows(val, sensors, rule_thresholds(rule(p), val, mode, val))
        b = block(rows)
        table.append({"quality_p": q, "feasible": True, "sensors_p": p, "mean_gain_h": b["mean_gain_h"],
                      "quality_added_lead": b["quality_added_lead"], "lead_lost": b["lead_lost"],
                      "combined_caught": b["combined_caught"]})  # fmt: skip
    best = max((t for t in table if t["feasible"]), key=lambda t: t["mean_gain_h"])  # type: ignore[arg-type,return-value]
    return best["quality_p"], table  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=60)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--val-seeds", type=int, nargs="+", default=[100, 101, 102, 103])
    parser.add_argument("--test-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5, 6, 7])
    parser.add_argument("--skip-test", action="store_true", help="validation only (choose without the test fleets)")
    parser.add_argument("--lag", type=int, default=0, help="charts on the EWMA's change over LAG running hours")
    parser.add_argument("--sensors-p", type=float, default=STANDING_P,
                        help="the sensors' healthy-hour quantile: sets the false-alarm budget")  # fmt: skip
    parser.add_argument("--alternatives", action="store_true",
                        help="also vibration alone and vibration + quality, matched to the same budget")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    start, cpu = time.perf_counter(), time.process_time()
    val = [fleet_charts(s, args.assets, args.days, lag=args.lag) for s in args.val_seeds]
    test = [] if args.skip_test else [fleet_charts(s, args.assets, args.days, lag=args.lag) for s in args.test_seeds]
    result: dict[str, object] = {"settings": vars(args) | {"json": str(args.json)}}
    for mode in ("per-fleet", "fixed"):
        q, table = choose_split(val, mode, args.sensors_p)
        result[mode] = {
            "equal": measure(val, test, mode, equal, args.sensors_p),
            "split_table_val": table,
            "best_split": measure(val, test, mode, split(q), args.sensors_p),
        }
        if args.alternatives:  # is a gain the quality chart's, or the budget taken from the temperature chart?
            for name, rule in ALTERNATIVES.items():
                result[mode][name] = measure(val, test, mode, rule, args.sensors_p, low=ALTERNATIVE_LOW)  # type: ignore[index]
    result["wall_s"], result["cpu_s"] = round(time.perf_counter() - start, 1), round(time.process_time() - cpu, 1)
    brief = {
        f"{mode} {rule}": {k: v for k, v in result[mode][rule].items() if k != "test_failures"}  # type: ignore[index]
        for mode in ("per-fleet", "fixed")
        for rule in ("equal", "best_split", *(ALTERNATIVES if args.alternatives else ()))
    } | {f"{mode} split_table_val": result[mode]["split_table_val"] for mode in ("per-fleet", "fixed")}  # type: ignore[index]
    print(json.dumps(brief, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
