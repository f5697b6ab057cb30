"""``forewarn plan``: a maintenance schedule from each asset's failure risk, costs, crews, the production
calendar and parts, solved by HiGHS; work orders as CSV or JSON for a CMMS.

>>> import typer
>>> from typer.testing import CliRunner
>>> app = typer.Typer()
>>> register(app)
>>> "--crew" in CliRunner().invoke(app, ["--help"]).output
True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from forewarn.exceptions import ConfigError

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def register(app: typer.Typer) -> None:
    """Add ``plan`` to ``app``."""
    app.command()(plan)


def parse_crew(text: str) -> dict[str, float]:
    """``"mechanical=16,electrical=8"`` -> hours per day per skill.

    >>> parse_crew("mechanical=16, electrical=8")
    {'mechanical': 16.0, 'electrical': 8.0}
    """
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        try:
            hours = float(value)
        except ValueError:
            hours = -1.0
        if not sep or not name.strip() or hours < 0:
            raise ConfigError(f"--crew {text!r}: expected skill=hours pairs such as mechanical=16,electrical=8")
        out[name.strip()] = hours
    if not out:
        raise ConfigError("--crew: give at least one skill=hours pair")
    return out


def plan(
    risk: Annotated[
        Path,
        typer.Option(
            help="One row per asset (CSV, JSON or Parquet, read by content): asset_id, line_id, failure_probability or rul_p50_days + rul_p90_days; optional costs, skill, part. forewarn score's CSV or JSON is such a table."
        ),
    ],
    horizon_days: Annotated[int, typer.Option(min=1, help="Days to plan.")] = 30,
    probability_days: Annotated[
        float | None,
        typer.Option(
            help="Horizon of failure_probability in days (default: the plan's); needed for `forewarn score`'s table, whose probability column is within the model's horizon (1 for a 24h model)."
        ),
    ] = None,
    crew: Annotated[
        str, typer.Option(help="Crew hours per day per skill, e.g. mechanical=16,electrical=8.")
    ] = "mechanical=16",
    start: Annotated[str | None, typer.Option(help="Date of day 0 (default: today, UTC).")] = None,
    days_off: Annotated[str, typer.Option(help="Weekdays without crews, e.g. sat,sun (empty: none).")] = "",
    stops: Annotated[Path | None, typer.Option(help="Planned line stops (CSV/JSON): line_id, date (or day).")] = None,
    parts: Annotated[Path | None, typer.Option(help="Parts (CSV/JSON): part, on_hand, lead_days.")] = None,
    downtime_cost: Annotated[float, typer.Option(min=0.0, help="Cost per hour a line stands still.")] = 500.0,
    time_limit: Annotated[float, typer.Option(min=0.1, help="Solver time limit in seconds.")] = 10.0,
    orders: Annotated[Path | None, typer.Option(help="Write the work orders here (.csv or .json).")] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the plan (summary, orders, deferred) as JSON.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, or json (the plan on stdout).")] = "table",
) -> None:
    """Schedule maintenance jobs where they save the most, under crew, calendar and parts limits."""
    import numpy as np
    import pandas as pd

    from forewarn.cli.kpi import read_table
    from forewarn.plan import plan_maintenance
    from forewarn.plan.risk import orders_frame, plannable, problem_from_frame, summary, write_orders

    if fmt not in ("table", "json"):
        raise ConfigError(f"--format {fmt!r}: use table or json")
    try:
        day0 = pd.Timestamp(start).normalize() if start else pd.Timestamp.now(tz="UTC").normalize().tz_localize(None)
    except ValueError:
        raise ConfigError(f"--start {start!r} is not a date; use e.g. 2026-01-05") from None
    off = [d.strip().lower()[:3] for d in days_off.split(",") if d.strip()]
    bad = [d for d in off if d not in _WEEKDAYS]
    if bad:
        raise ConfigError(f"--days-off: unknown weekday(s) {', '.join(bad)}; use mon..sun")
    weekday = (day0.weekday() + np.arange(horizon_days)) % 7
    working = ~np.isin(weekday, [_WEEKDAYS.index(d) for d in off])
    crews = {skill: hours * working for skill, hours in parse_crew(crew).items()}
    planned_stops: dict[str, list[int]] = {}
    if stops is not None:
        table = read_table(stops)
        if "line_id" not in table.columns or not ({"date", "day"} & set(table.columns)):
            raise ConfigError(f"{stops}: expected columns line_id and date (or day)")
        for _, row in table.iterrows():
            day = int(row["day"]) if "day" in table.columns else (pd.Timestamp(row["date"]).normalize() - day0).days
            planned_stops.setdefault(str(row["line_id"]), []).append(day)
    stock: dict[str, tuple[int, int]] = {}
    if parts is not None:
        table = read_table(parts)
        if not {"part", "on_hand", "lead_days"} <= set(table.columns):
            raise ConfigError(f"{parts}: expected columns part, on_hand, lead_days")
        stock = {str(r["part"]): (int(r["on_hand"]), int(r["lead_days"])) for _, r in table.iterrows()}
    table = read_table(risk)
    if "asset_id" in table.columns:
        table, aside = plannable(table)
    else:
        aside = []
    problem = problem_from_frame(
        table,
        horizon_days=horizon_days,
        probability_days=probability_days,
        source=str(risk),
        crew_hours=crews,
        planned_stops=planned_stops,
        parts=stock,
        default_downtime_cost_h=downtime_cost,
        time_limit_s=time_limit,
    )
    result = plan_maintenance(problem)
    frame = orders_frame(result, day0)
    payload: dict[str, Any] = {
        "summary": dict(summary(result)) | {"start": day0.strftime("%Y-%m-%d"), "horizon_days": horizon_days},
        "orders": json.loads(frame.to_json(orient="records")),
        "deferred": result.deferred,
        "not_planned": aside,
    }
    if orders is not None:
        write_orders(result, orders, day0)
    if json_path is not None:
        json_path.write_text(json.dumps(payload, indent=1))
    if fmt == "json":
        typer.echo(json.dumps(payload, indent=1))
        return
    from rich.console import Console

    from forewarn.cli.tables import Column, print_table

    console = Console()
    s = payload["summary"]
    gap = "n/a" if s["optimality_gap"] is None else f"{100 * s['optimality_gap']:.3f} %"
    console.print(
        f"{s['jobs']} jobs, expected saving {s['expected_saving']:,.0f} (bound {s['bound']:,.0f}, gap {gap}, "
        f"{s['status']}, {s['solve_s']:.2f} s); {s['deferred']} assets deferred"
    )
    for row in aside:
        console.print(f"not planned: {row['asset_id']}: {row['why']}", markup=False)
    print_table(
        console,
        [Column("date"), Column("asset"), Column("line"), Column("skill"), Column("saving", "right"), Column("why")],
        [
            [o["date"], o["asset_id"], o["line_id"], o["skill"], f"{o['saving']:,.0f}", o["why"]]
            for o in payload["orders"]
        ],
        title="Work orders",
        key_width=12,
    )
