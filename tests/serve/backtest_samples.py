"""Backtest result files as ``forewarn backtest ... --models DIR`` writes them (made up for the tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def backtest_result(
    backtest_id: str, *, created: str = "2026-01-10T08:00:00+00:00", threshold: float = 0.4, task: str = "failure"
) -> dict[str, Any]:
    """A plausible three-fold backtest of a failure model split by time."""
    sweep = []
    for k in range(11):
        t = k / 10
        sweep.append(
            {
                "threshold": t,
                "caught_share": round(1 - t**2, 3),
                "false_cases_per_asset_year": round(6 * (1 - t) ** 2, 3),
                "cost": 40_000 + 90_000 * abs(t - 0.4),
            }
        )
    reliability = [
        {
            "bin_low": k / 5,
            "bin_high": (k + 1) / 5,
            "predicted": k / 5 + 0.1,
            "observed": min(1.0, k / 5 + 0.1 + (0.05 if k % 2 else -0.04)),
            "count": 400 // (k + 1),
        }
        for k in range(5)
    ]
    rows = {"f1": 0.61, "precision": 0.55, "recall": 0.69, "far": 0.04, "roc_auc": 0.88, "pr_auc": 0.58, "ece": 0.031}
    events = {
        "failures": 12,
        "caught": 10,
        "caught_share": 10 / 12,
        "lead_time_hours_median": 36.0,
        "false_cases_per_asset_year": 1.4,
        "cost": 52_000.0,
        "cost_run_to_failure": 480_000.0,
        "cost_time_based": 210_000.0,
    }
    per_fold = [
        {
            "fold": k,
            "label": f"2025-Q{k + 2}",
            "rows": {**rows, "f1": 0.55 + 0.05 * k},
            "events": {**events, "failures": 4, "caught": 3 + (k == 2), "caught_share": (3 + (k == 2)) / 4},
        }
        for k in range(3)
    ]
    return {
        "id": backtest_id,
        "created": created,
        "task": task,
        "by": "time",
        "folds": 3,
        "horizon_hours": 48.0,
        "min_lead_hours": 4.0,
        "model": "lightgbm-failure",
        "rows": rows,
        "events": events,
        "threshold": threshold,
        "sweep": sweep,
        "reliability": reliability,
        "per_fold": per_fold,
    }


def write_backtests(models: Path) -> Path:
    """Two good backtests (``bt-old``, then ``bt-new``) and a broken file in ``models/backtests``."""
    folder = models / "backtests"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bt-old.json").write_text(
        json.dumps(backtest_result("bt-old", created="2026-01-02T08:00:00+00:00", threshold=0.6))
    )
    (folder / "bt-new.json").write_text(json.dumps(backtest_result("bt-new")))
    (folder / "broken.json").write_text('{"id": "broken", "created": ')
    return folder
