"""Where the predictive policy's failures come from, failure by failure, beside the oracle's (issue 16).

``forewarn bench policy`` gives the cost gap to the oracle split into its components per seed (``gap_vs_oracle``:
missed failures' call-outs and downtime against the visits' labour, parts and planned downtime). This script says
why each failure the predictive policy let through happened: per failure mode, and for each failure whether the
bundle's probability had crossed the decision's bar in the 42 days before it and whether a visit had come in
that time (visited but the damage not yet found or not yet there; flagged but not visited: crew, cooldown or the
planner's cost rule; never flagged: the model did not see it).

The bundle is the one ``benchmarks/policy_decisions.py`` files under ``--work`` (``forewarn train`` on the same
separate histories as the bench, with the same options). Every part is on the shelf here (the bench shows the
predictive policy's breakdowns did not wait for parts). Analysis only: no choice is made from it. Example::

    python benchmarks/policy_gap.py --work /tmp/policy-work --seeds 0,1,2 --json gap.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from forewarn.bench import policy as P
from forewarn.bench import policy_model as M
from forewarn.train.score import live_bundle
from forewarn.twin.assets import MODES

LOOK_BACK_DAYS = 42


def _visit_actions(plan: Any, note: str) -> dict[tuple[int, int], list[str]]:
    """The actions of each planned job with this note, keyed by (asset, minute the work ended)."""
    out: dict[tuple[int, int], list[str]] = {}
    for a, minute, action, result, what in plan.maintenance:
        if result == "planned" and what == note:
            out.setdefault((int(a), int(minute)), []).append(str(action))
    return out


def analyse(model: Any, seed: int) -> dict[str, Any]:
    f = P._draw(P.FleetConfig(sites=4, assets=100, days=365, seed=seed, interval="1h"))
    t = time.perf_counter()
    pred = P._simulate(f, "predictive", model=model, decision=P.DECISION)
    oracle = P._simulate(f, "oracle")
    probs = np.array(pred.hook.log)  # (evenings, assets): evening i is the end of day 6 + i
    bar = pred.hook.bar  # the decision's bar (the bundle's own, with Decision.flag_share)
    visits: dict[int, list[int]] = {}
    for a, begin, _end, kind in pred.plan.downtime:
        if kind == 2:
            visits.setdefault(int(a), []).append(int(begin))
    causes: Counter[str] = Counter()
    by_mode: dict[str, Counter[str]] = {}
    for a, minute, mode in pred.plan.failures:
        day = minute // 1440
        lo, hi = max(day - LOOK_BACK_DAYS - 6, 0), max(day - 6, 0)
        trace = probs[lo:hi, a] if hi > lo else np.zeros(0)
        visited = any(minute - LOOK_BACK_DAYS * 1440 <= b < minute for b in visits.get(int(a), []))
        flagged = bool(trace.size and trace.max() > bar)
        cause = "visited" if visited else "flagged, not visited" if flagged else "never flagged"
        causes[cause] += 1
        by_mode.setdefault(MODES[mode], Counter())[cause] += 1
    # what each predictive visit ("scheduled repair") did, by asset class: nothing found (oil and cooling only), or
    # which parts it replaced; and the visits per asset (a flag that no inspection clears brings the crew back)
    found: dict[str, Counter[str]] = {}
    for (a, _minute), done in _visit_actions(pred.plan, "scheduled repair").items():
        heavy = sorted(x for x in done if x not in ("oil_change", "clean_cooling"))
        found.setdefault(f.classes[a], Counter())["+".join(heavy) or "nothing"] += 1
    per_asset = Counter(a for a, _m in _visit_actions(pred.plan, "scheduled repair"))
    return {
        "seed": seed,
        "visits_found_by_class": {k: dict(v) for k, v in sorted(found.items())},
        "assets_visited_3_or_more": sum(1 for v in per_asset.values() if v >= 3),
        "predictive_failures": len(pred.plan.failures),
        "oracle_failures": len(oracle.plan.failures),
        "predictive_by_mode": dict(Counter(MODES[m] for _a, _m, m in pred.plan.failures)),
        "oracle_by_mode": dict(Counter(MODES[m] for _a, _m, m in oracle.plan.failures)),
        "causes": dict(causes),
        "causes_by_mode": {k: dict(v) for k, v in sorted(by_mode.items())},
        "seconds": time.perf_counter() - t,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="policy_decisions.py's --work (the 42-day bundle)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--bundle", default="h42d", help="the bundle's folder under --work (policy_decisions.py's)")
    args = ap.parse_args()
    model = live_bundle(args.work / args.bundle / "models", M.TRAIN_OPTIONS["model_id"])
    out = []
    for seed in (int(s) for s in args.seeds.split(",")):
        row = analyse(model, seed)
        print(json.dumps(row), flush=True)
        out.append(row)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
