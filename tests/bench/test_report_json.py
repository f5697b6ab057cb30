"""A benchmark's JSON is strict JSON: a figure a result does not have (NaN: an F1 for a RUL arm) is null, which
``JSON.parse`` and ``jq`` read, never ``NaN``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from forewarn.bench.report import write_json


def test_missing_figures_are_null(tmp_path: Path) -> None:
    payload = {
        "dataset": "federated",
        "results": [{"arm": "local", "rmse": np.float64(21.5), "f1": float("nan"), "pr_auc": np.float32("inf")}],
        "seeds": np.arange(3),
    }
    text = write_json(tmp_path / "out.json", payload).read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    read = json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    assert read["results"][0] == {"arm": "local", "rmse": 21.5, "f1": None, "pr_auc": None}
    assert read["seeds"] == [0, 1, 2]
