"""Two small SVG charts written as text: bars per model (``forewarn bench``) and a risk timeline per asset (the
backtest report). Our own few lines instead of matplotlib (35 MB with its fonts and Pillow for two charts); the
files open in any browser and embed in HTML as they are.

>>> svg = bar_chart([("lightgbm-rul", 14.2, 0.4), ("published CNN", 18.45, 0.0)], "rmse (lower is better)",
...                 colours=["#1f77b4", "#9a9a9a"])
>>> svg.startswith("<svg") and svg.count("<rect") == 3 and "lightgbm-rul" in svg
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import numpy as np
import pandas as pd

FONT = "font-family='sans-serif'"
INK = "#1d232b"
GRID = "#e3e6ea"


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k apart) from ``low`` to ``high``."""
    span = high - low or 1.0
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + k * step, 10) for k in range(int((high - first) / step + 1e-9) + 1)]


def _label(value: float) -> str:
    return f"{value:g}"


def _open(width: int, height: int, title: str) -> list[str]:
    return [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
        f"role='img' aria-label='{escape(title, quote=True)}' {FONT}>",
        f"<rect width='{width}' height='{height}' fill='#fff'/>",
        f"<text x='8' y='18' font-size='13' font-weight='bold' fill='{INK}'>{escape(title)}</text>",
    ]


def bar_chart(
    rows: Sequence[tuple[str, float, float]], xlabel: str, *, colours: Sequence[str], title: str = "", width: int = 760
) -> str:
    """Horizontal bars, one per ``(label, value, spread)`` row top to bottom, with ``value ± spread`` error bars."""
    left, right, top, bar = 190, 30, 34 if title else 14, 22
    height = top + bar * len(rows) + 48
    high = max([v + s for _, v, s in rows] + [0.0]) or 1.0
    low = min([v - s for _, v, s in rows] + [0.0])
    ticks = _ticks(low, high)
    low, high = min(low, ticks[0]), max(high, ticks[-1])

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * (width - left - right)

    out = _open(width, height, title)
    bottom = top + bar * len(rows)
    for tick in ticks:
        out.append(
            f"<line x1='{x(tick):.1f}' x2='{x(tick):.1f}' y1='{top}' y2='{bottom}' stroke='{GRID}'/>"
            f"<text x='{x(tick):.1f}' y='{bottom + 14}' font-size='10' text-anchor='middle' fill='{INK}'>"
            f"{_label(tick)}</text>"
        )
    for k, ((label, value, spread), colour) in enumerate(zip(rows, colours, strict=True)):
        y = top + k * bar
        x0, x1 = sorted((x(0.0), x(value)))
        out.append(
            f"<rect x='{x0:.1f}' y='{y + 3}' width='{x1 - x0:.1f}' height='{bar - 6}' fill='{colour}'>"
            f"<title>{escape(label)}: {value:.4g} ± {spread:.2g}</title></rect>"
            f"<text x='{left - 6}' y='{y + bar / 2 + 4:.1f}' font-size='11' text-anchor='end' fill='{INK}'>"
            f"{escape(label[:32])}</text>"
        )
        if spread > 0:
            a, b, mid = x(value - spread), x(value + spread), y + bar / 2
            out.append(
                f"<path d='M{a:.1f},{mid}H{b:.1f}M{a:.1f},{mid - 4}V{mid + 4}M{b:.1f},{mid - 4}V{mid + 4}' "
                f"stroke='{INK}' fill='none'/>"
            )
    out.append(
        f"<text x='{(left + width - right) / 2:.0f}' y='{height - 10}' font-size='11' text-anchor='middle' "
        f"fill='{INK}'>{escape(xlabel)}</text></svg>"
    )
    return "".join(out)


def risk_timeline(
    title: str,
    ts: pd.Series,
    p: np.ndarray,
    threshold: np.ndarray,
    events: pd.DataFrame,
    *,
    width: int = 810,
    height: int = 170,
) -> str:
    """Failure probability over time (0 to 1), the threshold as a dashed step, failures (red) and maintenance
    (green, dotted) as vertical lines; ``events`` has ``ts`` and ``kind``."""
    left, right, top, bottom = 34, 10, 26, height - 22
    t = pd.DatetimeIndex(pd.to_datetime(ts)).as_unit("ns").asi8 / 1e9  # seconds, whatever the frame's resolution
    first, last = (float(t.min()), float(t.max())) if len(t) else (0.0, 1.0)
    last = last if last > first else first + 1.0

    def x(seconds: float) -> float:
        return left + (seconds - first) / (last - first) * (width - left - right)

    def y(value: float) -> float:
        return bottom - value * (bottom - top)

    def path(values: np.ndarray, step: bool) -> str:
        points = [(x(a), y(b)) for a, b in zip(t, values, strict=True) if np.isfinite(b)]
        if not points:
            return ""
        d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
        for px, py in points[1:]:
            d += f"H{px:.1f}V{py:.1f}" if step else f"L{px:.1f},{py:.1f}"
        return d

    out = _open(width, height, title)
    for tick in (0.0, 0.5, 1.0):
        out.append(
            f"<line x1='{left}' x2='{width - right}' y1='{y(tick):.1f}' y2='{y(tick):.1f}' stroke='{GRID}'/>"
            f"<text x='{left - 4}' y='{y(tick) + 4:.1f}' font-size='10' text-anchor='end' fill='{INK}'>"
            f"{_label(tick)}</text>"
        )
    days = pd.date_range(pd.Timestamp(first, unit="s"), pd.Timestamp(last, unit="s"), periods=5)
    for day in days:
        out.append(
            f"<text x='{x(day.timestamp()):.1f}' y='{height - 6}' font-size='10' text-anchor='middle' "
            f"fill='{INK}'>{day:%Y-%m-%d}</text>"
        )
    for event in events.itertuples():
        at = pd.Timestamp(event.ts).as_unit("ns").value / 1e9
        style = (
            "stroke='#b00020' stroke-width='1.6'"
            if event.kind == "failure"
            else "stroke='#2e7d32' stroke-width='1' stroke-dasharray='2 3'"
        )
        out.append(
            f"<line x1='{x(at):.1f}' x2='{x(at):.1f}' y1='{top}' y2='{bottom}' {style}><title>"
            f"{escape(str(event.kind))} {pd.Timestamp(event.ts):%Y-%m-%d %H:%M}</title></line>"
        )
    out.append(
        f"<path d='{path(np.asarray(threshold, dtype=float), True)}' stroke='#7a4b00' stroke-width='0.9' "
        f"stroke-dasharray='4 3' fill='none'/>"
    )
    out.append(
        f"<path d='{path(np.asarray(p, dtype=float), False)}' stroke='#1f4e79' stroke-width='1.2' fill='none'/></svg>"
    )
    return "".join(out)
