"""The demo's ranking shows an asset the model could not score (``insufficient data``) as such, after the scored
ones, never as a low-risk one (the simulated demo printed ``risk`` None as "low")."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from rich.console import Console

from forewarn.cli.demo_ranking import print_ranking
from forewarn.cli.demo_simulated import served_levels


def test_an_unscored_asset_is_shown_as_such_and_last() -> None:
    ranked = pd.DataFrame(
        {
            "asset_id": ["S1-P004", "S1-M001", "S1-P009"],
            "rul": [30.0, np.nan, 200.0],
            "risk": ["high", None, "low"],
            "status": ["in_service", "insufficient data", "in_service"],
        }
    )
    console = Console(record=True, width=200)
    print_ranking(
        console,
        "fleet",
        ranked["asset_id"].to_numpy(),
        ("hours run", np.array([10.0, 10.0, 10.0])),
        ranked["rul"].to_numpy(),
        ("true health", np.array([0.01, 0.5, 0.3])),
        ["seal_leak", "-", "vib_rms"],
        top=3,
        levels=served_levels(ranked),
    )
    text = console.export_text()
    lines = [line for line in text.splitlines() if "S1-" in line]
    assert [re.findall(r"S1-\w+", line)[0] for line in lines] == ["S1-P004", "S1-P009", "S1-M001"]
    assert "insufficient data" in lines[-1] and "low" not in lines[-1] and " - " in lines[-1]
    assert "fleet: 0 critical, 1 high, 0 medium, 1 low, 1 insufficient data" in text
