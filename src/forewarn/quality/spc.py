"""One entry point for the charts, as the CLI (``forewarn quality spc``) and the API (``/api/v1/quality/spc``) call it.

:func:`compute` takes the chart's name, the measurements (or counts), and for the attribute charts the sample
sizes; it returns the chart(s), the rule hits and, for the variables charts with specification limits, the
capability indices.

>>> out = compute("imr", [10, 12, 11, 13, 12, 30], baseline=5)
>>> [c["name"] for c in out["charts"]], out["charts"][0]["beyond_limits"]
(['individuals', 'moving_range'], [5])
>>> compute("c", [21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16, 19, 10, 17])["charts"][0]["center"]
18.9375
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np

from forewarn.exceptions import SchemaError
from forewarn.quality import charts as C
from forewarn.quality.capability import capability
from forewarn.quality.rules import RULESETS

CHARTS = ("xbar-r", "xbar-s", "imr", "p", "np", "c", "u", "ewma", "cusum")


def subgroups(values: Sequence[float] | np.ndarray, size: int) -> np.ndarray:
    """Consecutive measurements cut into rows of ``size`` (a trailing partial subgroup is dropped)."""
    x = np.asarray(values, dtype=float)
    if size < 2 or len(x) < 2 * size:
        raise SchemaError(
            f"subgroup size {size} needs at least {2 * size} measurements, got {len(x)}", column="subgroup"
        )
    return x[: len(x) // size * size].reshape(-1, size)


VALUE_FIELDS = ("x", "samples", "data", "defectives", "counts")  # the chart functions' names for the values
SIZE_FIELDS = ("sizes", "size", "units")  # and for the sample sizes


def renamed(err: SchemaError, values: str, sizes: str | None, source: str | None = None) -> SchemaError:
    """``err`` from :func:`compute` with the caller's names for the values and sizes (a CSV's columns, a request's
    fields) in place of the chart functions' own (``x``, ``defectives``, ``units``...), and ``source`` if given.

    >>> str(renamed(SchemaError("needs at least 2 points, got 1", column="x"), "width", None, "m.csv"))
    "m.csv, column 'width': needs at least 2 points, got 1"
    """
    column = err.column
    if column in VALUE_FIELDS:
        column = values
    elif column in SIZE_FIELDS and sizes is not None:
        column = sizes
    return SchemaError(err.reason, source=source or err.source, line=err.line, column=column, hint=err.hint)


def _one_size(sizes: float | Sequence[float] | None) -> float:
    """The np chart's one sample size: sizes that vary are an error (their chart is the p chart)."""
    given = np.unique(np.asarray(sizes, dtype=float).ravel())
    if len(given) > 1:
        raise SchemaError(
            f"the np chart needs one sample size, these vary from {given.min():g} to {given.max():g}",
            column="sizes", hint="use the p chart for samples of different sizes",
        )  # fmt: skip
    if len(given) == 0:
        raise SchemaError("the np chart needs the sample size", column="sizes")
    return float(given[0])


def compute(
    chart: str,
    values: Sequence[float] | np.ndarray,
    *,
    sizes: float | Sequence[float] | None = None,
    subgroup: int = 5,
    ruleset: str = "western-electric",
    baseline: int | None = None,
    lsl: float | None = None,
    usl: float | None = None,
    **params: Any,
) -> dict[str, Any]:
    """The chart(s) named ``chart`` (one of :data:`CHARTS`) as JSON-ready dicts with rule hits.

    ``sizes``: sample sizes (p, np: units inspected; u: inspection units); ``subgroup``: the subgroup size the
    X-bar charts cut ``values`` into; ``params``: ``lam``/``L`` (EWMA), ``k``/``h`` (CUSUM), ``target`` and
    ``sigma`` (both).
    """
    if chart not in CHARTS:
        raise SchemaError(f"unknown chart {chart!r}; use one of {', '.join(CHARTS)}", column="chart")
    if ruleset not in RULESETS:
        raise SchemaError(f"unknown rule set {ruleset!r}; use one of {', '.join(RULESETS)}", column="ruleset")
    if chart in ("p", "np", "u") and sizes is None:
        raise SchemaError(f"the {chart} chart needs the sample sizes", column="sizes")
    out: dict[str, Any] = {"chart": chart, "ruleset": ruleset}
    made: list[C.Chart]
    if chart in ("xbar-r", "xbar-s"):
        data = subgroups(values, subgroup)
        made = list((C.xbar_r if chart == "xbar-r" else C.xbar_s)(data, baseline))
        spec_data: Any = data
    elif chart == "imr":
        made, spec_data = list(C.imr(values, baseline)), values
    elif chart == "p":
        made, spec_data = [C.p_chart(values, sizes, baseline)], None  # type: ignore[arg-type]
    elif chart == "np":
        made, spec_data = [C.np_chart(values, _one_size(sizes), baseline)], None
    elif chart == "c":
        made, spec_data = [C.c_chart(values, baseline)], None
    elif chart == "u":
        made, spec_data = [C.u_chart(values, sizes, baseline)], None  # type: ignore[arg-type]
    elif chart == "ewma":
        made, spec_data = [C.ewma(values, baseline=baseline, **params)], values
    else:
        cusum = C.cusum(values, baseline=baseline, **params)
        entry = cusum.to_dict(ruleset=None)
        entry["lower"] = [float(v) for v in cusum.extra["lower"]]
        entry["signals"] = C.cusum_signals(cusum)
        out["charts"] = [entry]
        out["violations"] = [
            {"chart": "cusum", "ruleset": "cusum", "rule": 0, "index": i, "description": "C+ or C- beyond H"}
            for i in entry["signals"]
        ]
        return out
    out["charts"] = [c.to_dict(ruleset) for c in made]
    out["violations"] = [
        {"chart": c["name"], **v} for c in out["charts"] for v in c["violations"]
    ]  # every chart's rule hits
    if spec_data is not None and (lsl is not None or usl is not None):
        out["capability"] = capability(spec_data, lsl=lsl, usl=usl)
    return out


def alert_fields(
    result: dict[str, Any],
    asset_id: str,
    times: Sequence[Any] | None = None,
    *,
    subgroup: int = 5,
    first: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The rule hits of a :func:`compute` result as the fields of :class:`forewarn.decide.alerts.Alert` (the
    faces build the alerts and file them in the case book: this layer sits below ``decide/``).

    One alert per point that breaks at least one rule, at that point's time (``times``: one per measurement; an
    X-bar subgroup takes its last measurement's time; without times, hourly points from ``first`` or 2000-01-01
    UTC). The score is the number of rules broken; the risk level is ``critical`` for a point beyond the
    control limits (rule 1 or a CUSUM signal) and ``high`` for the run rules; the explanation names the rules.

    >>> out = compute("imr", [10, 12, 11, 13, 12, 30], baseline=5)
    >>> [(a["asset_id"], str(a["ts"]), a["risk_level"], a["model_id"]) for a in alert_fields(out, "L1")]
    [('L1', '2000-01-01 05:00:00+00:00', 'critical', 'spc-imr')]
    """
    import pandas as pd

    step = subgroup if result["chart"] in ("xbar-r", "xbar-s") else 1
    by_point: dict[int, list[dict[str, Any]]] = {}
    for hit in result["violations"]:
        # the MR chart's point i is the range of measurements i and i + 1: it belongs to measurement i + 1
        measurement = (int(hit["index"]) + 1) * step - 1 + (hit["chart"] == "moving_range")
        by_point.setdefault(measurement, []).append(hit)
    out = []
    for measurement, hits in sorted(by_point.items()):
        if times is not None:
            ts = pd.Timestamp(list(times)[measurement])
        else:
            ts = pd.Timestamp(first or dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) + pd.Timedelta(hours=measurement)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        severe = any(h["rule"] in (0, 1) for h in hits)
        out.append(
            {
                "asset_id": asset_id,
                "ts": ts,
                "model_id": f"spc-{result['chart']}",
                "score": float(len(hits)),
                "risk_level": "critical" if severe else "high",
                "explanation": {f"{h['chart']}: {h['ruleset']} rule {h['rule']}": 1.0 for h in hits},
                "source": "spc",
            }
        )
    return out
