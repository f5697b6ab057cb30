"""A stand-in for a ``forewarn train`` bundle in the policy loop, and the planned stops it leads to: shared by the
policy tests that work out the loop's visits by hand (tests/plan/test_policy_*.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from forewarn.bench.policy_model import OBSERVED
from forewarn.bundles.bundle import ServingSpec


class StandInBundle:
    """Stands in for a ``forewarn train`` bundle: probability 0.9 for the first asset, 0 for the others."""

    running_only = False

    def __init__(self) -> None:
        self.spec = ServingSpec(
            channels=tuple(OBSERVED), window=2, stats=("mean",), interval="24h", history_rows=2, horizon=14 * 24.0
        )

    def feature_frame(self, values: np.ndarray) -> np.ndarray:
        return values

    def predict(self, X: np.ndarray) -> Any:
        p = np.zeros(len(X))
        p[0] = 0.9
        return SimpleNamespace(probability=p)


def planned_visits(plan: Any, asset: int) -> list[float]:
    """Start hours of the asset's planned stops (visits and scheduled repairs)."""
    return sorted(begin / 60.0 for a, begin, _end, kind in plan.downtime if a == asset and kind == 2)
