"""OEE and the six big losses from production records, with the ISO 22400-2 definitions.

A production record is one asset over one period (a shift of a day, say). Its columns (:data:`RECORD_COLUMNS`):

=====================  =====================================================================================
``planned_busy_h``     PBT, planned busy time: the planned operation time less planned downtime (planned
                       maintenance, breaks). Planned maintenance is *outside* PBT, as ISO 22400 puts it.
``down_<reason>_h``    unplanned stops inside PBT, one column per reason of :data:`DOWN_REASONS` (missing = 0)
``produced``           PQ, produced quantity (units, good and bad)
``good``               GQ, good quantity
``ideal_rate``         units per hour at the planned rate; PRI, the planned run time per item, is its inverse
``energy_kwh``         energy drawn in the period (optional)
``startup_scrap``      units of ``produced - good`` scrapped while starting up (optional, else 0)
=====================  =====================================================================================

Definitions (ISO 22400-2:2014, the KPIs "availability", "effectiveness", "quality ratio" and "OEE index"):

- APT, actual production time = PBT - unplanned downtime.
- Availability A = APT / PBT.
- Effectiveness (performance) P = PRI x PQ / APT (the ideal time of what was made over the time it ran).
- Quality ratio Q = GQ / PQ.
- OEE = A x P x Q = PRI x GQ / PBT.

Groups (a line, a site, a shift, a day) are summed first and the ratios are taken from the sums, so a group's
OEE is its good ideal time over its busy time (never a mean of ratios). For a group the quality ratio weighs each
unit by its planned run time (PRI x GQ / PRI x PQ): for one asset (one rate) that is GQ / PQ, and for a group of
different rates it keeps OEE = A x P x Q equal to PRI x GQ / PBT.

The six big losses (Nakajima's TPM list) in hours, mapped to the factor they lower in this scheme: breakdowns
(``failure`` stops) and set-up and adjustments (``changeover``) lower A; idling and minor stops
(``starvation`` and ``minor_stop`` stops) lower A too, since they are recorded stops; reduced speed
(APT - PRI x PQ) lowers P; start-up rejects and production rejects (PRI x scrap) lower Q. They add up exactly
to PBT - PRI x GQ, that is PBT x (1 - OEE).

>>> import pandas as pd
>>> r = pd.DataFrame({"asset_id": ["P1"], "planned_busy_h": [8.0], "down_failure_h": [1.0],
...                   "down_changeover_h": [0.5], "down_starvation_h": [0.5], "produced": [480],
...                   "good": [456], "ideal_rate": [100.0]})
>>> row = oee(r).iloc[0]
>>> [round(float(row[k]), 12) for k in ("availability", "performance", "quality", "oee")]
[0.75, 0.8, 0.95, 0.57]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError

__all__ = [
    "DOWN_REASONS",
    "GROUPS",
    "LOSSES",
    "RECORD_COLUMNS",
    "oee",
    "six_big_losses",
    "validate_records",
]

#: reasons of unplanned stops inside planned busy time (``down_<reason>_h`` columns)
DOWN_REASONS = ("failure", "changeover", "starvation", "minor_stop")
#: the record columns (see the module docstring); ``energy_kwh``, ``startup_scrap`` and the stop columns are optional
RECORD_COLUMNS = (
    "asset_id",
    "planned_busy_h",
    *(f"down_{r}_h" for r in DOWN_REASONS),
    "produced",
    "good",
    "ideal_rate",
    "energy_kwh",
    "startup_scrap",
)
_REQUIRED = ("asset_id", "planned_busy_h", "produced", "good", "ideal_rate")
#: the names a report groups by: ``--by`` choice -> column
GROUPS = {"asset": "asset_id", "line": "line_id", "site": "site_id", "shift": "shift", "day": "day"}
#: the six big losses, in the order of the TPM list, with the OEE factor each lowers here
LOSSES = {
    "breakdowns": "availability",
    "setup_adjustments": "availability",
    "idling_minor_stops": "availability",
    "reduced_speed": "performance",
    "startup_rejects": "quality",
    "production_rejects": "quality",
}
_TOL = 1e-6


def validate_records(records: pd.DataFrame, source: str = "production records") -> pd.DataFrame:
    """Check ``records`` and return a copy with the optional columns filled (0); raise :class:`SchemaError`.

    >>> validate_records(pd.DataFrame({"asset_id": ["P1"], "planned_busy_h": [8.0], "produced": [10],
    ...                                "good": [11], "ideal_rate": [5.0]}))
    Traceback (most recent call last):
    ...
    forewarn.exceptions.SchemaError: production records, line 2, column 'good': good 11 exceeds produced 10 (good units are part of the produced ones)
    """
    missing = [c for c in _REQUIRED if c not in records.columns]
    if missing:
        raise SchemaError(
            f"missing column(s) {', '.join(missing)}; expected at least {', '.join(_REQUIRED)}",
            source=source,
            hint="see forewarn.kpi.oee for the record layout",
        )
    out = records.copy()
    for column in (*(f"down_{r}_h" for r in DOWN_REASONS), "energy_kwh", "startup_scrap"):
        if column not in out.columns:
            out[column] = 0.0
    numeric = [c for c in RECORD_COLUMNS if c != "asset_id"]
    for column in numeric:
        values = pd.to_numeric(out[column], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy() | (values.to_numpy(dtype=float, na_value=np.nan) < 0))
        if bad.size:
            row = int(bad[0])
            raise SchemaError(
                f"{out[column].iloc[row]!r} is not a number >= 0",
                source=source,
                line=row + 2,
                column=column,
                hint="fix the cell or drop the row",
            )
        out[column] = values.astype(float)

    def first(mask: np.ndarray) -> int | None:
        rows = np.flatnonzero(mask)
        return int(rows[0]) if rows.size else None

    i = first((out["ideal_rate"] <= 0).to_numpy())
    if i is not None:
        raise SchemaError("ideal_rate must be > 0 units per hour", source=source, line=i + 2, column="ideal_rate")
    i = first((out["good"] > out["produced"] + _TOL).to_numpy())
    if i is not None:
        raise SchemaError(
            f"good {out['good'].iloc[i]:g} exceeds produced {out['produced'].iloc[i]:g}",
            source=source,
            line=i + 2,
            column="good",
            hint="good units are part of the produced ones",
        )
    i = first((out["startup_scrap"] > out["produced"] - out["good"] + _TOL).to_numpy())
    if i is not None:
        raise SchemaError("startup_scrap exceeds produced - good", source=source, line=i + 2, column="startup_scrap")
    down = out[[f"down_{r}_h" for r in DOWN_REASONS]].sum(axis=1)
    i = first((down > out["planned_busy_h"] + _TOL).to_numpy())
    if i is not None:
        raise SchemaError(
            f"unplanned stops of {down.iloc[i]:g} h exceed the planned busy time {out['planned_busy_h'].iloc[i]:g} h",
            source=source,
            line=i + 2,
            column="planned_busy_h",
            hint="stops count only inside planned busy time",
        )
    ideal_h = out["produced"] / out["ideal_rate"]
    i = first((ideal_h > out["planned_busy_h"] - down + _TOL).to_numpy())
    if i is not None:
        raise SchemaError(
            f"{out['produced'].iloc[i]:g} units at {out['ideal_rate'].iloc[i]:g} per hour need more than the "
            f"{out['planned_busy_h'].iloc[i] - down.iloc[i]:g} h run",
            source=source,
            line=i + 2,
            column="produced",
            hint="check ideal_rate (units per hour at the planned rate) and the stop hours",
        )
    return out


def _sums(records: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    r = validate_records(records)
    for key in by:
        if key not in r.columns:
            raise SchemaError(f"cannot group by {key!r}: no such column", source="production records", column=key)
    down = {f"down_{x}_h": r[f"down_{x}_h"] for x in DOWN_REASONS}
    frame = pd.DataFrame(
        {
            **{k: r[k] for k in by},
            "planned_busy_h": r["planned_busy_h"],
            **down,
            "run_h": r["planned_busy_h"] - sum(down.values()),
            "produced": r["produced"],
            "good": r["good"],
            "ideal_h": r["produced"] / r["ideal_rate"],
            "good_ideal_h": r["good"] / r["ideal_rate"],
            "startup_scrap_h": r["startup_scrap"] / r["ideal_rate"],
            "energy_kwh": r["energy_kwh"],
        }
    )
    if not by:
        return frame.sum(numeric_only=True).to_frame().T
    return frame.groupby(list(by), sort=True, observed=True).sum(numeric_only=True).reset_index()


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype(float)


def oee(records: pd.DataFrame, by: Sequence[str] = ("asset_id",)) -> pd.DataFrame:
    """Availability, performance, quality and OEE per group (ratios of sums), with energy per good unit.

    Columns: the ``by`` keys, ``planned_busy_h``, ``run_h`` (APT), ``produced``, ``good``, ``ideal_h``
    (PRI x PQ), ``good_ideal_h`` (PRI x GQ), ``energy_kwh``, ``availability``, ``performance``, ``quality``,
    ``oee`` and ``energy_per_good_kwh`` (NaN where a denominator is 0). ``oee`` is taken as PRI x GQ / PBT,
    which equals A x P x Q wherever those are defined and is 0, not NaN, for a busy period that made nothing
    good: an asset down for the whole shift (P undefined) or running without output (Q undefined).

    >>> r = pd.DataFrame({"asset_id": ["down", "idle"], "planned_busy_h": [8.0, 8.0], "down_failure_h": [8.0, 0.0],
    ...                   "produced": [0, 0], "good": [0, 0], "ideal_rate": [100.0, 100.0]})
    >>> oee(r)[["availability", "performance", "oee"]].to_numpy().tolist()
    [[0.0, nan, 0.0], [1.0, 0.0, 0.0]]
    """
    s = _sums(records, by)
    s["availability"] = _ratio(s["run_h"], s["planned_busy_h"])
    s["performance"] = _ratio(s["ideal_h"], s["run_h"])
    s["quality"] = _ratio(s["good_ideal_h"], s["ideal_h"])
    s["oee"] = _ratio(s["good_ideal_h"], s["planned_busy_h"])  # = A x P x Q where all three are defined
    s["energy_per_good_kwh"] = _ratio(s["energy_kwh"], s["good"])
    keep = [*by, "planned_busy_h", "run_h", "produced", "good", "ideal_h", "good_ideal_h", "energy_kwh"]
    keep += ["availability", "performance", "quality", "oee", "energy_per_good_kwh"]
    return s[keep]


def six_big_losses(records: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """The six big losses in hours per group (columns of :data:`LOSSES`), plus ``planned_busy_h`` and
    ``good_ideal_h``; the losses add up to ``planned_busy_h - good_ideal_h``.

    >>> r = pd.DataFrame({"asset_id": ["P1"], "planned_busy_h": [8.0], "down_failure_h": [1.0],
    ...                   "produced": [480], "good": [456], "ideal_rate": [100.0]})
    >>> six_big_losses(r).iloc[0][["breakdowns", "reduced_speed", "production_rejects"]].round(6).tolist()
    [1.0, 2.2, 0.24]
    """
    s = _sums(records, by)
    out = s[[*by]].copy()
    out["breakdowns"] = s["down_failure_h"]
    out["setup_adjustments"] = s["down_changeover_h"]
    out["idling_minor_stops"] = s["down_starvation_h"] + s["down_minor_stop_h"]
    out["reduced_speed"] = s["run_h"] - s["ideal_h"]
    out["startup_rejects"] = s["startup_scrap_h"]
    out["production_rejects"] = s["ideal_h"] - s["good_ideal_h"] - s["startup_scrap_h"]
    out["planned_busy_h"] = s["planned_busy_h"]
    out["good_ideal_h"] = s["good_ideal_h"]
    return out
