"""What both demos print and where they keep their models: the fleet ranked by risk, and the models folder.

``forewarn demo`` runs on C-MAPSS (:mod:`forewarn.cli.demo`) or, without benchmark data, on a simulated fleet
(:mod:`forewarn.cli.demo_simulated`); both end with the same table, so it lives here, below the two of them
(they used to import each other).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from forewarn.cli.tables import Column, print_table

__all__ = ["RISK_BANDS", "RISK_COLOURS", "fleet_counts", "models_folder", "print_ranking", "risk_level"]

#: planning bands on predicted RUL in cycles (one cycle is one flight)
RISK_BANDS = ((20, "critical"), (50, "high"), (90, "medium"))
RISK_COLOURS = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "green"}
#: how a status that is not a risk band (``insufficient data``, ``unknown``, ``no readings``) is shown
UNSCORED_COLOUR = "magenta"


def risk_level(rul: float, bands: tuple[tuple[float, str], ...] = RISK_BANDS) -> str:
    """The planning band of a predicted RUL.

    >>> [risk_level(r) for r in (5, 30, 80, 200)]
    ['critical', 'high', 'medium', 'low']
    """
    for limit, name in bands:
        if rul <= limit:
            return name
    return "low"


def models_folder(store: Path) -> Path:
    """Where the demo keeps its servable models: ``<store>.models/<model_id>/<version>/``."""
    return Path(f"{store}.models")


def print_ranking(
    console: Console,
    title: str,
    assets: np.ndarray,
    age: tuple[str, np.ndarray],
    predicted: np.ndarray,
    truth: tuple[str, np.ndarray],
    reasons: list[str],
    top: int,
    bands: tuple[tuple[float, str], ...] = RISK_BANDS,
    levels: list[str] | None = None,
) -> None:
    """The fleet ranked by predicted RUL (shortest first), with risk band (or the given ``levels``: the served
    model's risk levels, or what stands for one when an asset was not scored, such as ``insufficient data``, shown
    as it is: never as a band), driving sensors and a truth column."""
    order = np.argsort(predicted, kind="stable")
    if levels is None:
        levels = [risk_level(p, bands) for p in predicted]
    rows = []
    for rank, i in enumerate(order[:top], start=1):
        level = levels[i]
        colour = RISK_COLOURS.get(level, UNSCORED_COLOUR)
        value = truth[1][i]
        actual = "-" if np.isnan(value) else f"{value:.0f}" if abs(value) >= 10 else f"{value:.2f}"
        rows.append(
            [
                str(rank),
                assets[i],
                f"{age[1][i]:.0f}",
                "-" if np.isnan(predicted[i]) else f"{predicted[i]:.0f}",
                f"[{colour}]{level}[/]",
                reasons[i],
                actual,
            ]
        )
    names = ("rank", "asset", age[0], "predicted RUL", "risk", "driving sensors", truth[0])
    print_table(  # whole cells at any terminal width: parts of columns rather than cut words
        console,
        [Column(c, "left" if c in ("asset", "risk", "driving sensors") else "right") for c in names],
        rows,
        title=f"{title} (top {min(top, len(order))} of {len(order)})",
        keys=2,
    )
    console.print("fleet: " + fleet_counts(levels))


def fleet_counts(levels: list[str]) -> str:
    """How many assets hold each risk band (every band named), then each other status (not scored).

    >>> fleet_counts(["low", "high", "insufficient data", "low"])
    '0 critical, 1 high, 0 medium, 2 low, 1 insufficient data'
    """
    counts = pd.Series(levels, dtype=object).value_counts()
    others = [name for name in counts.index if name not in RISK_COLOURS]
    return ", ".join(f"{counts.get(name, 0)} {name}" for name in (*RISK_COLOURS, *others))
