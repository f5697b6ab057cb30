"""From model outputs to the planner's inputs, and work orders out for a CMMS.

Risk curves (the probability of failing by the end of each day of the horizon) come from what the served
models give:

- a failure probability ``p`` within ``h`` days (a failure predictor): a constant hazard over the horizon,
  ``F(d) = 1 - (1 - p)^((d + 1) / h)``;
- RUL percentiles in days (``rul_p50_days`` and ``rul_p90_days``, or ``rul_p10_days`` and ``rul_p50_days``):
  a log-normal time to failure through them, ``F(d) = Phi((ln(d + 1) - ln p50) / sigma)``.

:func:`problem_from_frame` reads one row per asset (``asset_id`` and those columns; optional ``line_id``,
``failure_cost``, ``failure_downtime_h``, ``job_cost``, ``job_hours``, ``skill``, ``part``, ``mode``).
``forewarn score``'s table (CSV or JSON) is such a table: its ``probability`` column is read as
``failure_probability`` once ``probability_days`` says the model's horizon, which that table does not carry
(a 24 h model read over a 30-day plan would look 30 times safer than it is). :func:`plannable` sets aside the
rows of that table a preventive job cannot be planned for: assets the model did not score (no readings of its
channels) and assets that are down (failed, not renewed: a repair now, not a job on the cheapest day).
:func:`write_orders` writes work orders as CSV or JSON (by the file's suffix), with a calendar date per day.

>>> import pandas as pd
>>> cdf = risk_curve(pd.Series({"failure_probability": 0.5}), horizon_days=2, probability_days=2)
>>> [round(float(x), 4) for x in cdf]
[0.2929, 0.5]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError, SchemaError
from forewarn.plan.schedule import AssetRisk, PlanProblem, PlanResult

__all__ = ["orders_frame", "plannable", "problem_from_frame", "risk_curve", "write_orders"]

_Z90 = NormalDist().inv_cdf(0.9)
_OPTIONAL = {
    "failure_cost": float,
    "failure_downtime_h": float,
    "job_cost": float,
    "job_hours": float,
    "job_downtime_h": float,
    "skill": str,
    "part": str,
    "mode": str,
}


def _num(row: pd.Series, name: str) -> float | None:
    value = row.get(name)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SchemaError(f"{value!r} is not a number", column=name) from None


def risk_curve(row: pd.Series, horizon_days: int, probability_days: float | None = None) -> np.ndarray:
    """The cumulative failure probability by the end of each day (see the module docstring)."""
    days = np.arange(1, horizon_days + 1, dtype=float)
    p = _num(row, "failure_probability")
    if p is not None:
        if not 0.0 <= p <= 1.0:
            raise SchemaError(f"failure_probability {p} is not in [0, 1]", column="failure_probability")
        h = float(probability_days or horizon_days)
        return 1.0 - (1.0 - min(p, 1.0 - 1e-12)) ** (days / h) if p < 1.0 else np.ones(horizon_days)
    p50, p90, p10 = _num(row, "rul_p50_days"), _num(row, "rul_p90_days"), _num(row, "rul_p10_days")
    if p50 is None or (p90 is None and p10 is None):
        raise SchemaError(
            "no risk: give failure_probability, or rul_p50_days with rul_p90_days or rul_p10_days",
            hint="the served failure and RUL models give these columns",
        )
    if p50 <= 0 or (p90 is not None and p90 <= p50) or (p10 is not None and not 0 < p10 < p50):
        raise SchemaError("RUL percentiles must be > 0 and increase (p10 < p50 < p90)", column="rul_p50_days")
    sigma = (np.log(p90) - np.log(p50)) / _Z90 if p90 is not None else (np.log(p50) - np.log(p10)) / _Z90  # type: ignore[arg-type]
    z = (np.log(days) - np.log(p50)) / sigma
    return np.array([NormalDist().cdf(float(v)) for v in z])


def plannable(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """The rows a job can be planned for, and the others with the reason (``asset_id``, ``status``, ``why``).

    Only a table with a ``status`` column (``forewarn score``'s) has rows to set aside; any other is kept whole.

    >>> table = pd.DataFrame({"asset_id": ["P1", "P2", "P3"], "status": ["in_service", "down", "not scored"],
    ...                       "probability": [0.2, 1.0, None]})
    >>> rows, aside = plannable(table)
    >>> rows["asset_id"].tolist(), [a["asset_id"] for a in aside]
    (['P1'], ['P2', 'P3'])
    >>> aside[0]["why"]
    'down: failed and not renewed; repair it now (no preventive job is planned)'
    """
    if "status" not in frame.columns:
        return frame, []
    status = frame["status"].fillna("").astype(str)
    keep = status.isin(["in_service", ""]).to_numpy()
    aside = [
        {
            "asset_id": str(row["asset_id"]),
            "status": str(row["status"]),
            "why": "down: failed and not renewed; repair it now (no preventive job is planned)"
            if row["status"] == "down"
            else f"{row['status']}: the model gave no risk for it",
        }
        for _, row in frame.loc[~keep].iterrows()
    ]
    return frame.loc[keep], aside  # the index kept: errors name the file's own lines


def problem_from_frame(
    frame: pd.DataFrame,
    *,
    horizon_days: int = 30,
    probability_days: float | None = None,
    source: str = "risk table",
    **settings: Any,
) -> PlanProblem:
    """A :class:`PlanProblem` from one row per asset; ``settings`` are the other :class:`PlanProblem` fields."""
    if "asset_id" not in frame.columns:
        raise SchemaError("missing column asset_id", source=source)
    if horizon_days < 1:
        raise ConfigError(f"horizon_days={horizon_days}: must be at least 1")
    if probability_days is not None and not probability_days > 0:
        raise ConfigError(
            f"probability_days={probability_days}: the horizon of failure_probability must be more than 0 days "
            "(--probability-days)"
        )
    if "failure_probability" not in frame.columns and "probability" in frame.columns:
        if probability_days is None:
            raise SchemaError(
                "column 'probability' (forewarn score's table) is a failure probability within the model's "
                "horizon, which the table does not say",
                source=source,
                column="probability",
                hint="pass --probability-days with the model's horizon in days (1 for --horizon 24h)",
            )
        frame = frame.rename(columns={"probability": "failure_probability"})
    assets = []
    for i, (index, row) in enumerate(frame.iterrows()):
        line_no = int(index) + 2 if isinstance(index, (int, np.integer)) else i + 2  # the header is line 1
        try:
            cdf = risk_curve(row, horizon_days, probability_days)
            extra: dict[str, Any] = {}
            for name, kind in _OPTIONAL.items():
                if name in frame.columns and not pd.isna(row[name]):
                    extra[name] = kind(row[name]) if kind is str else _num(row, name)
        except SchemaError as err:
            raise SchemaError(str(err).split(": ", 1)[-1], source=source, line=line_no, column=err.column) from None
        line = str(row["line_id"]) if "line_id" in frame.columns and not pd.isna(row["line_id"]) else "default"
        assets.append(AssetRisk(str(row["asset_id"]), line, cdf, **extra))
    return PlanProblem(assets, horizon_days=horizon_days, **settings)


def orders_frame(result: PlanResult, start: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """The work orders as a frame; with ``start`` (day 0), a ``date`` column too."""
    frame = pd.DataFrame(result.orders)
    if frame.empty:
        frame = pd.DataFrame(
            columns=["work_order", "asset_id", "line_id", "day", "duration_h", "skill", "saving", "why"]
        )
    if start is not None:
        day0 = pd.Timestamp(start).normalize()
        frame.insert(4, "date", [(day0 + pd.Timedelta(days=int(d))).strftime("%Y-%m-%d") for d in frame["day"]])
    return frame


def write_orders(result: PlanResult, path: str | Path, start: str | pd.Timestamp | None = None) -> Path:
    """Write the work orders as CSV (``.csv``) or JSON (``.json``: a list of objects) for a CMMS."""
    path = Path(path)
    frame = orders_frame(result, start)
    if path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix.lower() == ".json":
        path.write_text(json.dumps(frame.to_dict("records"), indent=1, default=str))
    else:
        raise ConfigError(f"work orders file {path}: use a .csv or .json name")
    return path


def summary(result: PlanResult) -> Mapping[str, Any]:
    """The solver's figures and totals, JSON-ready."""
    gap = result.gap if np.isfinite(result.gap) else None
    return {
        "status": result.status,
        "jobs": len(result.orders),
        "deferred": len(result.deferred),
        "expected_saving": result.objective,
        "bound": result.bound,
        "optimality_gap": gap,
        "solve_s": round(result.solve_s, 4),
        "build_s": round(result.build_s, 4),
        "variables": result.variables,
        "constraints": result.constraints,
    }
