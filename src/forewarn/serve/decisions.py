"""Model outputs turned into decisions: risk level, health, RUL interval, action and the sensors driving it.

One :class:`Decider` serves the health of stored assets and the predictions on data sent in a request, so both
answer the same way for the same row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from forewarn.bundles.bundle import Bundle, Predictions
from forewarn.decide.explain import SensorIndex
from forewarn.decide.risk import health_score, recommended_action, risk_level
from forewarn.decide.thresholds import ThresholdPolicy
from forewarn.features.age import first_sensor
from forewarn.serve.answers import Decision, num


class Decider:
    """Decisions for rows of model features; ``thresholds(bundle)`` gives the threshold policy in force."""

    def __init__(self, thresholds: Callable[[Bundle], ThresholdPolicy]):
        self.thresholds = thresholds

    def decide(self, bundle: Bundle, X: pd.DataFrame, asset_class: str | None, *, top: int = 5) -> Decision:
        """Predictions, decision and explanation for the last row of ``X``."""
        return self.decide_many(bundle, X if len(X) == 1 else X.tail(1), [asset_class], top=top)[0]

    def decide_row(
        self, bundle: Bundle, spec_features: np.ndarray, asset_class: str | None, *, top: int = 5
    ) -> Decision:
        """:meth:`decide` of one row of the spec's features (as :func:`~forewarn.features.last_row.last_row_features`
        makes it), without pandas: the single-prediction hot path."""
        return self.decide_values(bundle, bundle.select(spec_features[None, :]), [asset_class], top=top)[0]

    def decide_values(
        self, bundle: Bundle, values: np.ndarray, asset_classes: list[str | None], *, top: int = 5
    ) -> list[Decision]:
        """:meth:`decide_many` of a matrix of model features (the model's column order)."""
        predictions, contributions, sensors = bundle.explain_values(values)
        return self._decisions(bundle, predictions, contributions, sensors, asset_classes, top)

    def decide_many(
        self, bundle: Bundle, X: pd.DataFrame, asset_classes: list[str | None], *, top: int = 5
    ) -> list[Decision]:
        """Predictions, decisions and explanations for every row of ``X`` (one model call for all)."""
        predictions, contributions = bundle.predict_and_explain(X)
        return self._decisions(
            bundle,
            predictions,
            contributions.to_numpy(dtype="float64"),
            bundle.sensor_index(contributions.columns),
            asset_classes,
            top,
        )

    def _decisions(
        self,
        bundle: Bundle,
        predictions: Predictions,
        contributions: np.ndarray,
        sensors: SensorIndex,
        asset_classes: list[str | None],
        top: int,
    ) -> list[Decision]:
        """Risk, health, RUL interval, action and driving sensors of each row of model outputs."""
        # RUL contributions are in life units (negative = shortens life); show them as risk: positive = raises risk.
        signed = -contributions if bundle.task == "rul" else contributions
        policy = self.thresholds(bundle)
        out: list[Decision] = []
        for k, asset_class in enumerate(asset_classes):
            probability = float(predictions.probability[k])
            threshold = policy.threshold_for(asset_class)
            level = risk_level(probability, threshold)
            drivers = sensors.contributions(signed[k], top=top)
            rising = [name for name, value in drivers.items() if value > 0]
            rul_low = None if predictions.rul_low is None else float(predictions.rul_low[k])
            out.append(
                {
                    "health": num(health_score(probability)),
                    "probability": num(probability),
                    "threshold": num(threshold),
                    "rul": None if predictions.rul is None else num(predictions.rul[k]),
                    "rul_low": num(rul_low),
                    "rul_high": None if predictions.rul_high is None else num(predictions.rul_high[k]),
                    "risk_level": level,
                    "recommended_action": recommended_action(
                        level, rul_low=rul_low, unit=bundle.unit, top_sensor=first_sensor(rising)
                    ),
                    "contributions": [{"sensor": name, "contribution": num(v)} for name, v in drivers.items()],
                }
            )
        return out
