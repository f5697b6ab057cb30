"""The maintenance planner: which asset to service on which day, as a mixed-integer program solved by HiGHS.

Inputs (:class:`PlanProblem`): for each asset (:class:`AssetRisk`) the cumulative probability of failing by the
end of each day of the horizon (from the served failure and RUL models), what a failure costs (repair, and
its downtime hours at the line's cost per hour), what a planned job costs (labour and parts, its hours, which
also stop the line unless they fall on a planned stop), the crew skill it needs and the spare part it uses;
crew hours per skill and day (0 on days off: the calendar), the lines' planned stops, parts on hand and their
lead times.

Expected cost of asset *a* with its job on day *d*: the chance it fails before the job, ``F(d-1)``, times the
failure cost, plus ``1 - F(d-1)`` times the job cost (downtime charged unless line *a* stops on day *d*
anyway). Without a job it is ``F(H) x failure cost``. The *saving* of job *(a, d)* is the difference; the
program chooses at most one day per asset to maximise the total saving, subject to

- crew: the job hours of each skill on each day within the crew hours;
- parts: a job whose part is not on hand waits for the part's lead time; jobs before it share the stock on hand.

Only pairs with a positive saving and a feasible part become variables, so the size is about assets x days at
worst. The saving beyond the horizon is not counted (a job near the end looks worth less than it is); the
horizon is meant to roll (plan weekly over 30 days). Each work order says what it saves and why it is on its
day: the cheapest day, a planned stop, a day moved by crew capacity, or the part's lead time.

>>> import numpy as np
>>> risk = [AssetRisk("P1", "L1", np.linspace(0.05, 0.9, 10), failure_cost=5000, job_cost=800, job_hours=4),
...         AssetRisk("P2", "L1", np.linspace(0.0, 0.01, 10), failure_cost=5000, job_cost=800, job_hours=4)]
>>> result = plan_maintenance(PlanProblem(risk, horizon_days=10, crew_hours={"mechanical": 8.0}))
>>> [(o["asset_id"], o["day"]) for o in result.orders], result.status
([('P1', 0)], 'optimal')
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forewarn.exceptions import ConfigError

__all__ = ["AssetRisk", "PlanProblem", "PlanResult", "plan_maintenance"]


@dataclass
class AssetRisk:
    """One asset's risk and costs. ``cdf[d]`` = probability of failing by the end of day ``d`` (non-decreasing)."""

    asset_id: str
    line_id: str
    cdf: np.ndarray
    failure_cost: float = 10_000.0
    failure_downtime_h: float = 24.0
    job_cost: float = 1_000.0
    job_hours: float = 4.0
    skill: str = "mechanical"
    job_downtime_h: float | None = None  # hours the job stops the line (default: job_hours)
    part: str | None = None
    mode: str | None = None


@dataclass
class PlanProblem:
    """What to plan (see the module docstring). ``crew_hours`` maps a skill to hours per day (a number, or one
    value per day: 0 = no crew that day); ``planned_stops`` maps a line to the days it stops anyway;
    ``parts`` maps a part to ``(on_hand, lead_time_days)``; ``downtime_cost_h`` maps a line to its cost per
    hour of stop (``default_downtime_cost_h`` for the others)."""

    assets: list[AssetRisk]
    horizon_days: int = 30
    crew_hours: Mapping[str, Any] = field(default_factory=lambda: {"mechanical": 16.0})
    planned_stops: Mapping[str, Any] = field(default_factory=dict)
    parts: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    downtime_cost_h: Mapping[str, float] = field(default_factory=dict)
    default_downtime_cost_h: float = 500.0
    time_limit_s: float = 10.0
    mip_rel_gap: float = 1e-4


@dataclass
class PlanResult:
    """Work orders (dicts, day order), the assets left out with a positive saving, and the solver's figures."""

    orders: list[dict[str, Any]]
    deferred: list[dict[str, Any]]
    objective: float
    bound: float
    gap: float
    status: str
    solve_s: float
    build_s: float
    variables: int
    constraints: int


def _validate(problem: PlanProblem) -> tuple[int, dict[str, np.ndarray]]:
    h = int(problem.horizon_days)
    if h < 1:
        raise ConfigError(f"horizon_days={problem.horizon_days}: must be at least 1")
    crews: dict[str, np.ndarray] = {}
    for skill, hours in problem.crew_hours.items():
        arr = (
            np.broadcast_to(np.asarray(hours, dtype=float), (h,)).copy()
            if np.ndim(hours) == 0
            else np.asarray(hours, float)
        )
        if arr.shape != (h,) or (arr < 0).any():
            raise ConfigError(f"crew_hours[{skill!r}]: expected a number >= 0 or {h} values >= 0, one per day")
        crews[skill] = arr
    seen = set()
    for i, a in enumerate(problem.assets):
        where = f"asset {i} ({a.asset_id!r})"
        if a.asset_id in seen:
            raise ConfigError(f"{where}: asset_id appears twice; plan one row per asset")
        seen.add(a.asset_id)
        cdf = np.asarray(a.cdf, dtype=float)
        if cdf.shape != (h,) or not np.isfinite(cdf).all() or (cdf < 0).any() or (cdf > 1).any():
            raise ConfigError(f"{where}: cdf must hold {h} probabilities in [0, 1], one per day of the horizon")
        if (np.diff(cdf) < -1e-9).any():
            raise ConfigError(f"{where}: cdf must not decrease (it is the probability of failing by each day)")
        if a.skill not in crews:
            raise ConfigError(f"{where}: skill {a.skill!r} has no crew; crews: {', '.join(crews) or 'none'}")
        if a.part is not None and a.part not in problem.parts:
            raise ConfigError(f"{where}: part {a.part!r} is not in the parts list (give on hand and lead time)")
        for name in ("failure_cost", "failure_downtime_h", "job_cost", "job_hours"):
            value = float(getattr(a, name))
            if not np.isfinite(value) or value < 0:
                raise ConfigError(f"{where}: {name}={value} must be a number >= 0")
    return h, crews


def _stops(problem: PlanProblem, h: int) -> dict[str, np.ndarray]:
    out = {}
    for line, days in problem.planned_stops.items():
        mask = np.zeros(h, bool)
        idx = np.asarray(list(days), dtype=int)
        idx = idx[(idx >= 0) & (idx < h)]
        mask[idx] = True
        out[line] = mask
    return out


def plan_maintenance(problem: PlanProblem) -> PlanResult:
    """Solve the schedule (see the module docstring) with HiGHS; returns the work orders and the optimality gap."""
    import highspy
    from scipy import sparse

    t0 = time.perf_counter()
    h, crews = _validate(problem)
    stops = _stops(problem, h)
    skills = sorted(crews)
    cols_a, cols_d, savings, info = [], [], [], []
    no_stop = np.zeros(h, bool)
    for i, a in enumerate(problem.assets):
        cdf = np.asarray(a.cdf, dtype=float)
        dt_cost = float(problem.downtime_cost_h.get(a.line_id, problem.default_downtime_cost_h))
        c_fail = a.failure_cost + dt_cost * a.failure_downtime_h
        before = np.concatenate([[0.0], cdf[:-1]])
        stop = stops.get(a.line_id, no_stop)
        job_down = a.job_hours if a.job_downtime_h is None else a.job_downtime_h
        c_job = a.job_cost + dt_cost * job_down * ~stop
        cost = before * c_fail + (1.0 - before) * c_job
        saving = cdf[-1] * c_fail - cost
        crew_ok = crews[a.skill] >= a.job_hours
        ok = (saving > 1e-9) & crew_ok
        if a.part is not None and problem.parts[a.part][0] <= 0:
            ok &= np.arange(h) >= problem.parts[a.part][1]  # nothing on hand: wait for the part
        days = np.flatnonzero(ok)
        cols_a += [i] * days.size
        cols_d += days.tolist()
        savings += saving[days].tolist()
        info.append((c_fail, c_job, cost, saving, stop, dt_cost))
    n_var = len(cols_a)
    col_a, col_d = np.asarray(cols_a, dtype=np.int64), np.asarray(cols_d, dtype=np.int64)
    # rows: one per asset (<= 1 job), one per skill and day (crew hours), one per part with a lead time (stock)
    n_assets = len(problem.assets)
    skill_of = np.array([skills.index(a.skill) for a in problem.assets], dtype=np.int64)
    hours_of = np.array([a.job_hours for a in problem.assets], dtype=float)
    rows = [col_a, n_assets + skill_of[col_a] * h + col_d]
    vals = [np.ones(n_var), hours_of[col_a]]
    upper = [np.ones(n_assets), np.concatenate([crews[s] for s in skills])]
    base = n_assets + len(skills) * h
    col_index = [np.arange(n_var), np.arange(n_var)]
    part_of = np.array([problem.assets[i].part or "" for i in range(n_assets)], dtype=object)
    parts = sorted({a.part for a in problem.assets if a.part is not None})
    for k, part in enumerate(parts):
        on_hand, lead = problem.parts[part]
        # jobs before the lead time share the stock on hand
        uses = np.flatnonzero((part_of[col_a] == part) & (col_d < lead))
        rows.append(np.full(uses.size, base + k))
        vals.append(np.ones(uses.size))
        col_index.append(uses)
        upper.append(np.array([float(on_hand)]))
    n_row = base + len(parts)
    matrix = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(col_index))), shape=(n_row, n_var)
    )
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_var, n_row
    lp.col_cost_ = -np.asarray(savings, dtype=float)
    lp.col_lower_, lp.col_upper_ = np.zeros(n_var), np.ones(n_var)
    lp.row_lower_ = np.full(n_row, -highspy.kHighsInf)
    lp.row_upper_ = np.concatenate(upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(float)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_var
    solver = _highs(highspy)
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("time_limit", float(problem.time_limit_s))
    solver.setOptionValue("mip_rel_gap", float(problem.mip_rel_gap))
    solver.setOptionValue("random_seed", 0)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    if n_var:
        solver.passModel(lp)
        solver.run()
        status = solver.modelStatusToString(solver.getModelStatus()).lower()
        x = np.asarray(solver.getSolution().col_value) > 0.5
        result_info = solver.getInfo()
        objective = -float(result_info.objective_function_value)
        bound = -float(result_info.mip_dual_bound)
        gap = float(result_info.mip_gap)
    else:
        status, x, objective, bound, gap = "optimal", np.zeros(0, bool), 0.0, 0.0, 0.0
    solve_s = time.perf_counter() - t1
    orders = _orders(problem, col_a[x], col_d[x], info, crews, h)
    chosen = set(col_a[x].tolist())
    deferred = []
    for i in sorted(set(col_a.tolist()) - chosen):
        best = float(np.max(np.asarray(savings)[col_a == i]))
        a = problem.assets[i]
        deferred.append(
            {
                "asset_id": a.asset_id,
                "line_id": a.line_id,
                "best_saving": round(best, 2),
                "failure_probability": round(float(a.cdf[-1]), 4),
                "why": f"not scheduled: {a.skill} crew hours and parts went to jobs that save more",
            }
        )
    return PlanResult(
        orders=orders,
        deferred=deferred,
        objective=round(objective, 2),
        bound=round(bound, 2),
        gap=max(gap, 0.0) if np.isfinite(gap) else float("nan"),
        status=status,
        solve_s=solve_s,
        build_s=build_s,
        variables=n_var,
        constraints=n_row,
    )


def _highs(highspy: Any) -> Any:
    """A HiGHS instance without its start-up banner on stdout (printed by the C++ library: a JSON answer on
    stdout must stay clean)."""
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def _orders(
    problem: PlanProblem, assets: np.ndarray, days: np.ndarray, info: list[Any], crews: dict[str, np.ndarray], h: int
) -> list[dict[str, Any]]:
    orders = []
    for i, d in sorted(zip(assets.tolist(), days.tolist(), strict=True), key=lambda t: (t[1], t[0])):
        a = problem.assets[i]
        c_fail, c_job, cost, saving, stop, dt_cost = info[i]
        feasible = (saving > 1e-9) & (crews[a.skill] >= a.job_hours)
        if a.part is not None and problem.parts[a.part][0] <= 0:
            feasible &= np.arange(h) >= problem.parts[a.part][1]
        best = int(np.argmax(np.where(feasible, saving, -np.inf)))
        why = [
            f"P(failure within {h} d) = {a.cdf[-1]:.2f}: expected failure cost {a.cdf[-1] * c_fail:,.0f} "
            f"(repair {a.failure_cost:,.0f} + {a.failure_downtime_h:g} h down at {dt_cost:,.0f}/h)",
            f"job costs {c_job[d]:,.0f}" + (" (on a planned line stop: no downtime charged)" if stop[d] else ""),
            f"risk of failing before day {d}: {(a.cdf[d - 1] if d else 0.0):.2f}",
        ]
        if d == best:
            text = "the cheapest day for this asset with a crew on shift"
            if a.part is not None and problem.parts[a.part][0] <= 0:
                text += f" once the {a.part} arrives (none on hand, lead time {problem.parts[a.part][1]} d)"
            why.append(text)
        else:
            held = f"the {a.skill} crew hours"
            if a.part is not None and best < problem.parts[a.part][1]:
                held += f" or the {a.part} stock on hand"
            why.append(
                f"day {best} would save {saving[best] - saving[d]:,.0f} more, but {held} went to jobs saving more"
            )
        orders.append(
            {
                "work_order": f"WO-{a.asset_id}-{d:02d}",
                "asset_id": a.asset_id,
                "line_id": a.line_id,
                "day": int(d),
                "duration_h": float(a.job_hours),
                "skill": a.skill,
                "part": a.part,
                "mode": a.mode,
                "failure_probability": round(float(a.cdf[-1]), 4),
                "job_cost": round(float(c_job[d]), 2),
                "expected_cost": round(float(cost[d]), 2),
                "saving": round(float(saving[d]), 2),
                "planned_stop": bool(stop[d]),
                "why": "; ".join(why),
            }
        )
    return orders
