"""Training targets from a plant's event history: failures end a life, renewing maintenance starts a new one.

For every row (an asset at a time) the events say:

* ``ttf_hours``: hours to the asset's next failure, when no renewing maintenance comes first (else NaN);
* ``future_hours``: hours of future that were watched without a failure: to the next renewal or the end of the
  asset's readings, whichever is first (NaN when a failure ends the life);
* ``down``: the asset had failed and was not renewed yet (between a failure and the next renewal): its readings
  describe a broken machine and are never training rows. An asset whose log holds no renewal at all is taken
  as repaired at each failure (plants that log failures only);
* ``next_mode``: the failure mode of the next failure of this life.

A renewal is a maintenance event whose action replaces or rebuilds something (:data:`RENEWING_ACTIONS`, as
prefixes), a maintenance event with no action, or a corrective one (``result == "corrective"``, a repair). An oil
change or an inspection does not renew life. A failure's repair renews too: the first maintenance after a failure
that nothing renewed yet, when its ``result`` is blank (a work-order export without a result column: "balance"
after an imbalance failure is the repair that put the machine back in service, not a service visit to a machine
that stays broken). A maintenance whose result is given and not corrective (``planned``) never renews by being
first. The cost of the rule: an asset whose failure is followed only weeks later by a service visit with a blank
result (the repair itself not logged) reads down until that visit, its rows left out of training; export such
visits with the result ``planned``, or the repairs themselves.

Targets (:func:`targets`): *failure within the horizon* is 1 when the next failure is at most ``horizon`` away, 0
when at least ``horizon`` of failure-free future was watched, and unknown (NaN: the row is censored, not a
negative) otherwise; *RUL* is the time to failure capped at ``max_rul``, or the cap itself when at least that much
failure-free future was watched, else unknown. An asset that never failed is censored, never a negative forever.

>>> import pandas as pd
>>> rows = pd.DataFrame({"asset_id": ["a"] * 4, "ts": pd.to_datetime(
...     ["2024-01-01 00:00", "2024-01-01 20:00", "2024-01-02 06:00", "2024-01-03 12:00"], utc=True)})
>>> events = pd.DataFrame({"asset_id": ["a", "a"], "kind": ["failure", "maintenance"], "action": [None, "replace_seal"],
...     "result": [None, "corrective"], "failure_mode": ["seal_leak", None],
...     "ts": pd.to_datetime(["2024-01-02 00:00", "2024-01-02 08:00"], utc=True)})
>>> life = life_table(rows, events)
>>> life[["ttf_hours", "down"]].values.tolist()
[[24.0, False], [4.0, False], [nan, True], [nan, False]]
>>> targets(life, task="failure", horizon_hours=12.0).tolist()
[0.0, 1.0, nan, nan]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError
from forewarn.train.spec import RENEWING_ACTIONS

NO_FAILURE = "none"


def renewals(events: pd.DataFrame, actions: Sequence[str] = RENEWING_ACTIONS) -> pd.DataFrame:
    """The maintenance events that renew an asset's life (see the module docstring): ``asset_id, ts``.

    >>> events = pd.DataFrame({"asset_id": ["a"] * 4, "kind": ["failure", "maintenance", "maintenance", "maintenance"],
    ...     "action": [None, "balance", "oil_change", "replace_seal"], "result": [None, None, None, "planned"],
    ...     "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-02-01", "2024-03-01"], utc=True)})
    >>> renewals(events)["ts"].dt.strftime("%m-%d").tolist()  # the failure's repair, then a replacement
    ['01-02', '03-01']
    """
    events = events.reset_index(drop=True)
    maintenance = events[events["kind"] == "maintenance"]
    action = maintenance.get("action", pd.Series(index=maintenance.index, dtype=object)).fillna("").astype(str)
    result = maintenance.get("result", pd.Series(index=maintenance.index, dtype=object)).fillna("").astype(str)
    lowered = action.str.strip().str.lower()
    renews = (lowered == "") | result.str.lower().eq("corrective")
    for prefix in actions:
        renews |= lowered.str.startswith(prefix.lower())
    renews |= _repairs(events, renews, result.str.strip() == "")
    return maintenance.loc[renews, ["asset_id", "ts"]].drop_duplicates()


def _repairs(events: pd.DataFrame, renews: pd.Series, blank: pd.Series) -> pd.Series:
    """Of the maintenance events (``renews``' index), those that repair a failure: the first maintenance after a
    failure nothing renewed yet, with a blank result (module docstring). A failure and a maintenance at one time:
    the failure first."""
    out = pd.Series(False, index=renews.index)
    failures = events.index[events["kind"] == "failure"]
    if len(failures) == 0 or len(renews) == 0:
        return out
    marks = events.loc[failures.union(renews.index), ["asset_id", "ts"]]
    marks = marks.assign(is_failure=marks.index.isin(failures))
    marks = marks.sort_values(["asset_id", "ts", "is_failure"], ascending=[True, True, False], kind="stable")
    renewing, blank_result = renews.to_dict(), blank.to_dict()
    down: dict[object, bool] = {}
    repairs = []
    for index, asset, is_failure in zip(marks.index, marks["asset_id"], marks["is_failure"], strict=True):
        if is_failure:
            down[asset] = True
        elif down.get(asset, False):
            if renewing[index]:
                down[asset] = False
            elif blank_result[index]:
                repairs.append(index)
                down[asset] = False
            # else a planned visit to a failed machine: it stays down
    out[repairs] = True
    return out


Marks = tuple["pd.Timestamp | None", "pd.Timestamp | None"]


def latest_marks(events: pd.DataFrame, actions: Sequence[str] = RENEWING_ACTIONS) -> dict[str, Marks]:
    """``{asset_id: (latest failure, latest renewal)}`` of the assets that have either: what the service and
    ``forewarn score`` read an asset's state from (:func:`is_down`).

    >>> events = pd.DataFrame({"asset_id": ["a", "a"], "kind": ["failure", "maintenance"], "action": [None, "oil_change"],
    ...                        "result": [None, "planned"], "ts": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True)})
    >>> is_down(latest_marks(events)["a"])  # a planned oil change does not repair a failed machine
    True
    """
    if events.empty:
        return {}
    failed = events[events["kind"] == "failure"].groupby("asset_id")["ts"].max()
    renewed = renewals(events, actions).groupby("asset_id")["ts"].max()
    out: dict[str, Marks] = {}
    for asset in sorted(set(failed.index) | set(renewed.index)):
        out[str(asset)] = (failed.get(asset), renewed.get(asset))
    return out


def is_down(marks: Marks | None) -> bool:
    """Whether an asset's latest failure has no renewal at or after it (failed and not repaired)."""
    if marks is None or marks[0] is None or pd.isna(marks[0]):
        return False
    return marks[1] is None or pd.isna(marks[1]) or marks[1] < marks[0]


def _next(
    rows: pd.DataFrame,
    marks: pd.DataFrame,
    name: str,
    *,
    forward: bool,
    extra: Sequence[str] = (),
    same_time: bool = True,
) -> pd.DataFrame:
    """For each row, the time (and ``extra`` columns) of the asset's next (or previous) mark; a mark at the row's
    own time counts unless ``same_time`` is false."""
    right = marks[["asset_id", "ts", *extra]].rename(columns={"ts": name}).sort_values(name)
    right[name] = right[name].astype("datetime64[us, UTC]")
    right["asset_id"] = right["asset_id"].astype(str)
    merged = pd.merge_asof(
        rows,
        right,
        left_on="ts",
        right_on=name,
        by="asset_id",
        direction="forward" if forward else "backward",
        allow_exact_matches=same_time,
    )
    return merged


def life_table(rows: pd.DataFrame, events: pd.DataFrame, *, actions: Sequence[str] = RENEWING_ACTIONS) -> pd.DataFrame:
    """Per row of ``rows`` (``asset_id, ts``): ``ttf_hours``, ``future_hours``, ``down``, ``next_mode``;
    same index as ``rows``."""
    missing = [c for c in ("asset_id", "ts") if c not in rows.columns]
    if missing:
        raise SchemaError(f"rows lack column(s) {', '.join(missing)}", column=missing[0])
    left = pd.DataFrame(
        {
            "asset_id": rows["asset_id"].astype(str).to_numpy(),
            "ts": pd.to_datetime(rows["ts"], utc=True).astype("datetime64[us, UTC]").to_numpy(),
            "_row": np.arange(len(rows)),
        }
    ).sort_values("ts")
    events = events if len(events) else pd.DataFrame(columns=["asset_id", "ts", "kind", "failure_mode"])
    failures = events[events["kind"] == "failure"].copy()
    if "failure_mode" not in failures:
        failures["failure_mode"] = None
    failures["failure_mode"] = failures["failure_mode"].fillna("unknown").astype(str)
    renew = renewals(events, actions) if len(events) else pd.DataFrame(columns=["asset_id", "ts"])
    # an asset whose log holds no renewal at all was repaired at each failure (its readings go on): plants that
    # log failures only still get one life per failure
    unlogged = failures.loc[~failures["asset_id"].isin(set(renew["asset_id"])), ["asset_id", "ts"]]
    renew = pd.concat([renew, unlogged], ignore_index=True)
    merged = _next(left, failures, "next_failure", forward=True, extra=("failure_mode",))
    # a renewal at a row's own time has happened: the row begins the new life (its last renewal), so the next
    # renewal is a later one
    merged = _next(merged, renew, "next_renewal", forward=True, same_time=False)
    merged = _next(merged, failures[["asset_id", "ts"]], "last_failure", forward=False)
    merged = _next(merged, renew, "last_renewal", forward=False)
    end = merged.groupby("asset_id")["ts"].transform("max")
    hour = pd.Timedelta(hours=1)
    failure_first = merged["next_failure"].notna() & (
        merged["next_renewal"].isna() | (merged["next_failure"] <= merged["next_renewal"])
    )
    ttf = ((merged["next_failure"] - merged["ts"]) / hour).where(failure_first)
    watched_until = merged["next_renewal"].where(merged["next_renewal"].notna() & (merged["next_renewal"] < end), end)
    future = ((watched_until - merged["ts"]) / hour).where(~failure_first)
    failed_before = merged["last_failure"].notna() & (
        merged["last_renewal"].isna() | (merged["last_renewal"] < merged["last_failure"])
    )
    down = failed_before & (merged["ts"] > merged["last_failure"])
    out = pd.DataFrame(
        {
            "ttf_hours": ttf.to_numpy(dtype="float64"),
            "future_hours": future.to_numpy(dtype="float64"),
            "down": down.to_numpy(dtype=bool),
            "next_mode": merged["failure_mode"].where(failure_first).to_numpy(dtype=object),
        },
        index=merged["_row"].to_numpy(),
    )
    out = out.sort_index()
    out.index = rows.index
    out.loc[out["down"], ["ttf_hours", "future_hours"]] = np.nan
    return out


def targets(life: pd.DataFrame, *, task: str, horizon_hours: float, max_rul_hours: float | None = None) -> np.ndarray:
    """The training target of each row for ``task`` (NaN, or ``None`` for failure modes, where censored)."""
    ttf = life["ttf_hours"].to_numpy(dtype="float64")
    future = life["future_hours"].to_numpy(dtype="float64")
    down = life["down"].to_numpy(dtype=bool)
    if task in ("failure", "anomaly"):
        y = np.full(len(life), np.nan)
        y[ttf <= horizon_hours] = 1.0
        y[(ttf > horizon_hours) | (future >= horizon_hours)] = 0.0
        y[down] = np.nan
        return y
    if task == "rul":
        cap = float(max_rul_hours if max_rul_hours is not None else 10 * horizon_hours)
        y = np.minimum(ttf, cap)
        y[np.isnan(ttf) & (future >= cap)] = cap
        y[down] = np.nan
        return y
    if task == "failure-mode":
        modes = life["next_mode"].to_numpy(dtype=object)
        out = np.full(len(life), None, dtype=object)
        soon = ttf <= horizon_hours
        out[soon] = modes[soon]
        out[((ttf > horizon_hours) | (future >= horizon_hours)) & ~down] = NO_FAILURE
        out[down] = None
        return out
    raise SchemaError(f"no event targets for task {task!r}", column="task")
