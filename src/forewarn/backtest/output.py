"""Where a backtest's result goes: a JSON file, the models folder's ``backtests/`` (the dashboard lists it), and
an HTML report with one risk timeline per asset, failures and maintenance marked."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forewarn.base.json_values import finite_json
from forewarn.evaluate.svg import risk_timeline
from forewarn.train.dataset import Dataset
from forewarn.train.spec import hours

#: how many assets the report draws (those with failures first, then the riskiest)
REPORT_ASSETS = 24


def backtest_id(result: dict[str, Any]) -> str:
    """A file-name-safe id: task, grouping and time (``failure-site-20241204T120000``)."""
    stamp = re.sub(r"[^0-9T]", "", str(result["created"]).split(".")[0].split("+")[0])
    return f"{result['task']}-{result['by']}-{stamp}"


def write_outputs(
    result: dict[str, Any],
    data: Dataset,
    p: np.ndarray,
    threshold: np.ndarray,
    *,
    json_path: str | os.PathLike[str] | None,
    models: str | os.PathLike[str] | None,
    report_dir: str | os.PathLike[str] | None,
) -> None:
    """Fill in the id and write the JSON where asked, and the HTML report."""
    result["id"] = backtest_id(result)
    text = json.dumps(finite_json(result), indent=2, default=str)
    if json_path is not None:
        Path(json_path).write_text(text, encoding="utf-8")
    if models is not None:
        folder = Path(models) / "backtests"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{result['id']}.json").write_text(text, encoding="utf-8")
    if report_dir is not None:
        folder = Path(report_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.html").write_text(report_html(result, data, p, threshold), encoding="utf-8")


def _timeline(asset: str, rows: pd.DataFrame, events: pd.DataFrame) -> str:
    """The asset's risk timeline as inline SVG (failures red, maintenance green dotted, the threshold dashed)."""
    return risk_timeline(
        f"{asset}: red = failure, green dotted = maintenance",
        rows["ts"],
        rows["p"].to_numpy(),
        rows["threshold"].to_numpy(),
        events,
    )


def _timeline_rows(
    rows: pd.DataFrame, events: pd.DataFrame, asset: str, slack: pd.Timedelta
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An asset's scored rows and the events to mark on its timeline: those from its first row to one interval
    (``slack``) after its last, as the event figures count them. A failure just after the last reading (the
    usual case: a failed machine stops reporting) was left off the chart; the time axis now reaches it (a row
    without a probability at its time).

    >>> ts = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    >>> rows = pd.DataFrame({"ts": ts, "p": [0.1, 0.5, 0.9], "threshold": 0.5})
    >>> events = pd.DataFrame({"asset_id": ["a", "a", "b"], "ts": [ts[-1] + pd.Timedelta("1h"), ts[-1] +
    ...                        pd.Timedelta("3h"), ts[0]], "kind": "failure"})
    >>> got_rows, got = _timeline_rows(rows, events, "a", pd.Timedelta("1h"))
    >>> len(got), len(got_rows), int(got_rows["p"].isna().sum())
    (1, 4, 1)
    """
    mine = events[(events["asset_id"] == asset) & events["ts"].between(rows["ts"].min(), rows["ts"].max() + slack)]
    after = mine.loc[mine["ts"] > rows["ts"].max(), "ts"]
    if len(after):
        rows = pd.concat([rows, pd.DataFrame({"ts": after.to_numpy(), "p": np.nan, "threshold": np.nan})])
    return rows, mine


def _span(hours: float) -> str:
    """Hours as the report's heading gives them: whole days beside the hours from two days up.

    >>> _span(168.0), _span(24.0), _span(36.0)
    ('168 h (7 d)', '24 h', '36 h')
    """
    days = hours / 24.0
    return f"{hours:.0f} h ({days:g} d)" if hours >= 48 and days == int(days) else f"{hours:.0f} h"


def report_html(result: dict[str, Any], data: Dataset, p: np.ndarray, threshold: np.ndarray) -> str:
    """One self-contained page: the figures, the sweep, and per-asset risk timelines."""
    scored = ~np.isnan(p)
    frame = data.frame.loc[scored, ["asset_id", "ts"]].assign(p=p[scored], threshold=threshold[scored])
    failed = set(data.events.loc[data.events["kind"] == "failure", "asset_id"])
    peak = frame.groupby("asset_id")["p"].max().sort_values(ascending=False)
    order = [a for a in peak.index if a in failed] + [a for a in peak.index if a not in failed]
    charts = []
    slack = pd.Timedelta(hours=hours(data.interval, "interval"))
    for asset in order[:REPORT_ASSETS]:
        rows, events = _timeline_rows(frame[frame["asset_id"] == asset], data.events, asset, slack)
        charts.append(f"<figure>{_timeline(asset, rows, events)}</figure>")

    def table(title: str, values: dict[str, Any]) -> str:
        cells = "".join(
            f"<tr><th scope='row'>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in values.items()
        )
        return f"<h2>{html.escape(title)}</h2><table>{cells}</table>"

    sweep = "".join(
        f"<tr><td>{s['threshold']:.4f}</td><td>{_fmt(s['caught_share'])}</td>"
        f"<td>{_fmt(s['false_cases_per_asset_year'])}</td><td>{_fmt(s['cost'])}</td></tr>"
        for s in result["sweep"]
    )
    reliability = "".join(
        f"<tr><td>{r['bin_low']:.1f}-{r['bin_high']:.1f}</td><td>{r['predicted']:.3f}</td>"
        f"<td>{r['observed']:.3f}</td><td>{r['count']}</td></tr>"
        for r in result["reliability"]
    )
    head = (
        f"Backtest {html.escape(result['id'])}: task {result['task']}, by {result['by']}, {result['folds']} folds, "
        f"model {html.escape(result['model'])}, horizon {_span(result['horizon_hours'])}, minimum lead "
        f"{_span(result['min_lead_hours'])}"
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Forewarn backtest</title><style>"
        "body{font-family:sans-serif;margin:2em;color:#111}table{border-collapse:collapse}th,td{border:1px "
        "solid #999;padding:2px 8px;text-align:left}svg{max-width:100%;height:auto}</style></head><body>"
        f"<h1>{head}</h1>"
        + table("Rows", result["rows"])
        + table("Events", result["events"])
        + (f"<p>{html.escape(result['events_note'])}</p>" if result.get("events_note") else "")
        + "<h2>Threshold sweep</h2><table><tr><th scope='col'>threshold</th><th scope='col'>caught share</th>"
        "<th scope='col'>false cases per asset-year</th><th scope='col'>cost</th></tr>" + sweep + "</table>"
        "<h2>Reliability (predicted against observed failure frequency)</h2><table><tr><th scope='col'>bin</th>"
        "<th scope='col'>mean predicted</th><th scope='col'>observed</th><th scope='col'>rows</th></tr>"
        + reliability
        + "</table>"
        "<h2>Risk timelines</h2>" + "".join(charts) + "</body></html>"
    )


def _fmt(value: Any) -> str:
    """A figure for the report: 4 significant digits, whole numbers from 1,000 up (costs read 20,000, not 2e+04).

    >>> _fmt(20000.0), _fmt(1.97e5), _fmt(0.03796), _fmt(None), _fmt(3905)
    ('20,000', '197,000', '0.03796', '-', '3905')
    """
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return "-" if value is None else str(value)
