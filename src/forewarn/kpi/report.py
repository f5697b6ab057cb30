"""One KPI report (plain JSON types) for ``forewarn kpi`` and ``/api/v1/kpi``.

>>> import pandas as pd
>>> r = pd.DataFrame({"asset_id": ["P1"], "line_id": ["L1"], "planned_busy_h": [8.0], "down_failure_h": [1.0],
...                   "produced": [480], "good": [456], "ideal_rate": [100.0]})
>>> ev = pd.DataFrame({"asset_id": ["P1"], "reason": ["failure"], "start": ["2024-01-01 02:00"],
...                    "end": ["2024-01-01 03:00"]})
>>> report = kpi_report(r, ev, by="line")
>>> report["groups"][0]["oee"], report["groups"][0]["mtbf_h"], report["pareto"][0]["hours"]
(0.57, 7.0, 1.0)
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from forewarn.exceptions import ConfigError
from forewarn.kpi.oee import GROUPS, oee, six_big_losses
from forewarn.kpi.reliability import downtime_pareto, mtbf_mttr, opportunities

__all__ = ["group_problem", "kpi_report", "records_of"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def records_of(frame: pd.DataFrame, digits: int = 6) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (floats rounded to ``digits``, NaN and inf as ``None``)."""
    out = []
    for row in frame.to_dict("records"):
        out.append({str(k): _clean(round(v, digits) if isinstance(v, float) else v) for k, v in row.items()})
    return out


def group_problem(records: pd.DataFrame, by: str) -> str:
    """Why ``records`` cannot be grouped by ``by`` (its column is missing), and the groupings they allow.

    >>> print(group_problem(pd.DataFrame(columns=["asset_id", "planned_busy_h"]), "line"))
    the production records have no 'line_id' column to group by line; group by asset (--by asset; the API's "by": "asset"), or add a line_id column
    """
    key = GROUPS[by]
    allowed = [name for name, column in GROUPS.items() if column in records.columns]
    text = f"the production records have no {key!r} column to group by {by}"
    if allowed:
        first = "asset" if "asset" in allowed else allowed[0]
        others = ", ".join(allowed)
        text += f'; group by {others} (--by {first}; the API\'s "by": "{first}"), or add a {key} column'
    return text


def kpi_report(
    records: pd.DataFrame, events: pd.DataFrame | None = None, by: str = "asset", top: int = 3
) -> dict[str, Any]:
    """OEE, losses, reliability per ``by`` group (a key of :data:`~forewarn.kpi.oee.GROUPS`), the whole total,
    the downtime Pareto by reason and the ``top`` opportunities per line (or per ``by`` group without lines)."""
    if by not in GROUPS:
        raise ConfigError(f"unknown grouping {by!r}; use one of {', '.join(GROUPS)}")
    key = GROUPS[by]
    if key not in records.columns:
        raise ConfigError(group_problem(records, by))
    events = events if events is not None else pd.DataFrame(columns=["asset_id", "start", "end", "reason"])
    groups = oee(records, by=[key])
    groups = groups.merge(six_big_losses(records, by=[key]).drop(columns=["planned_busy_h", "good_ideal_h"]), on=key)
    if key in ("asset_id", "line_id", "site_id"):
        rel = mtbf_mttr(records, events, by=[key])[[key, "failures", "mtbf_h", "mttr_h"]]
        groups = groups.merge(rel, on=key, how="left")
    total = oee(records, by=[]).merge(six_big_losses(records, by=[]), left_index=True, right_index=True)
    total = total.drop(columns=["planned_busy_h_y", "good_ideal_h_y"]).rename(
        columns={"planned_busy_h_x": "planned_busy_h", "good_ideal_h_x": "good_ideal_h"}
    )
    rel_all = mtbf_mttr(records.assign(_all="all"), events.assign(_all="all"), by=["_all"]).iloc[0]
    opp_key = "line_id" if "line_id" in records.columns else key
    return {
        "by": by,
        "definitions": "ISO 22400-2: A = APT/PBT, P = PRI*PQ/APT, Q = GQ/PQ, OEE = A*P*Q",
        "total": records_of(total)[0]
        | {
            "failures": int(rel_all["failures"]),
            "mtbf_h": _clean(round(float(rel_all["mtbf_h"]), 6)),
            "mttr_h": _clean(round(float(rel_all["mttr_h"]), 6)),
        },
        "groups": records_of(groups),
        "pareto": records_of(downtime_pareto(events)) if len(events) else [],
        "opportunities": records_of(opportunities(records, by=opp_key, top=top)),
    }
