"""What held-out assets say about a fitted model: calibration, RUL intervals, thresholds, and honest figures.

The held-out assets are split in two halves by asset. Each figure reported here is *cross-fitted*: the
calibration map (or the RUL residual bands) is fitted on one half and judged on the other, then the other way
round, and the two judgements are pooled; the map that ships is then fitted on all held-out rows. So ECE and
interval coverage are measured on assets the calibration never saw.

Calibration: Platt (a logistic curve) when the held-out rows hold fewer than :data:`ISOTONIC_MIN_EVENTS`
positive rows, else isotonic, which a handful of failures turns into a few coarse steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forewarn.bundles.bundle import QUANTILE_LEVELS, residual_bands, rul_failure_probability
from forewarn.decide.calibration import Calibrator, expected_calibration_error
from forewarn.decide.thresholds import ThresholdPolicy
from forewarn.evaluate.classification import binary_metrics
from forewarn.evaluate.rul import rmse

ISOTONIC_MIN_EVENTS = 200
#: bands of predicted RUL with their own residual quantiles (intervals conditional on the prediction)
RUL_BANDS = 4
INTERVAL_LEVELS = (0.05, 0.95)


def halves(groups: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two masks splitting the rows by group (asset), groups shuffled with ``seed``."""
    uniques = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(uniques))
    first = np.isin(groups, uniques[order[::2]])
    return first, ~first


def calibration_method(outcome: np.ndarray) -> str:
    return "isotonic" if int(np.sum(outcome)) >= ISOTONIC_MIN_EVENTS else "platt"


def reliability(p: np.ndarray, outcome: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Predicted vs observed frequency per equal-width bin of probability (the reliability diagram's points)."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        rows = which == b
        if rows.any():
            out.append({"bin_low": b / bins, "bin_high": (b + 1) / bins, "predicted": float(p[rows].mean()),
                        "observed": float(outcome[rows].mean()), "count": int(rows.sum())})
    return out


@dataclass
class Holdout:
    """The shipped calibration (and RUL residual model) and the cross-fitted figures of the held-out assets."""

    calibrator: Calibrator | None
    residual_model: tuple[np.ndarray, np.ndarray] | None
    probability: np.ndarray
    metrics: dict[str, Any] = field(default_factory=dict)
    reliability: list[dict[str, float]] = field(default_factory=list)


def _fit_calibrator(raw: np.ndarray, outcome: np.ndarray) -> Calibrator | None:
    if len(np.unique(outcome)) < 2:
        return None
    return Calibrator(calibration_method(outcome)).fit(raw, outcome.astype(float))


def _apply(calibrator: Calibrator | None, raw: np.ndarray) -> np.ndarray:
    return raw if calibrator is None else np.asarray(calibrator.transform(raw), dtype="float64")


def calibrate_probabilities(raw: np.ndarray, outcome: np.ndarray, groups: np.ndarray, seed: int) -> Holdout:
    """Cross-fitted calibration of raw failure probabilities (or anomaly scores) on held-out assets."""
    first, second = halves(groups, seed)
    judged = np.full(len(raw), np.nan)
    for fit, judge in ((first, second), (second, first)):
        if fit.any() and judge.any():
            judged[judge] = _apply(_fit_calibrator(raw[fit], outcome[fit]), raw[judge])
    shipped = _fit_calibrator(raw, outcome)
    known = ~np.isnan(judged)
    p = np.clip(judged[known], 0.0, 1.0)
    metrics: dict[str, Any] = {"calibration": None if shipped is None else shipped.method,
                               "ece": expected_calibration_error(p, outcome[known]) if known.any() else None,
                               "positive_rows": int(outcome.sum()), "rows": len(outcome)}
    return Holdout(shipped, None, np.clip(_apply(shipped, raw), 0.0, 1.0), metrics, reliability(p, outcome[known]))


def rul_holdout(predicted: np.ndarray, truth: np.ndarray, groups: np.ndarray, horizon: float, seed: int) -> Holdout:
    """Residual bands (intervals) and the calibrated failure probability within ``horizon``, cross-fitted."""
    first, second = halves(groups, seed)
    outcome = (truth <= horizon).astype(float)
    covered = np.zeros(len(truth), dtype=bool)
    width = np.full(len(truth), np.nan)
    judged = np.full(len(truth), np.nan)
    low_at = [int(round(level * (len(QUANTILE_LEVELS) - 1))) for level in INTERVAL_LEVELS]
    for fit, judge in ((first, second), (second, first)):
        if not (fit.any() and judge.any()):
            continue
        edges, quantiles = residual_bands(predicted[fit], truth[fit], RUL_BANDS)
        # the probability map is fitted on the fitting half's own cross-fitted raw probabilities: halve it again
        raw_fit = rul_failure_probability(predicted[fit], horizon, edges, quantiles)[0]
        raw_judge, band = rul_failure_probability(predicted[judge], horizon, edges, quantiles)
        judged[judge] = _apply(_fit_calibrator(raw_fit, outcome[fit]), raw_judge)
        low = np.maximum(predicted[judge] + quantiles[band, low_at[0]], 0.0)
        high = np.maximum(predicted[judge] + quantiles[band, low_at[1]], 0.0)
        covered[judge] = (truth[judge] >= low) & (truth[judge] <= high)
        width[judge] = high - low
    edges, quantiles = residual_bands(predicted, truth, RUL_BANDS)
    raw = rul_failure_probability(predicted, horizon, edges, quantiles)[0]
    shipped = _fit_calibrator(raw, outcome)
    known = ~np.isnan(judged)
    p = np.clip(judged[known], 0.0, 1.0)
    metrics: dict[str, Any] = {
        "rmse": rmse(truth, predicted), "interval": f"{int(INTERVAL_LEVELS[1] * 100 - INTERVAL_LEVELS[0] * 100)} %",
        "interval_coverage": float(covered[known].mean()) if known.any() else None,
        "interval_width_median": float(np.nanmedian(width)) if np.isfinite(width).any() else None,
        "calibration": None if shipped is None else shipped.method,
        "ece": expected_calibration_error(p, outcome[known]) if known.any() else None,
        "positive_rows": int(outcome.sum()), "rows": len(outcome)}
    return Holdout(shipped, (edges, quantiles), np.clip(_apply(shipped, raw), 0.0, 1.0), metrics,
                   reliability(p, outcome[known]))


def choose_thresholds(p: np.ndarray, outcome: np.ndarray, classes: np.ndarray,
                      costs: dict[str, dict[str, float]]) -> tuple[ThresholdPolicy, dict[str, Any]]:
    """A cost threshold per asset class from held-out probabilities (classes with few failures keep the Bayes
    threshold of their costs), and the row figures at each row's threshold."""
    policy = ThresholdPolicy.from_mapping(costs) if costs else ThresholdPolicy()
    policy.fit(p, outcome, classes)
    cut = np.array([policy.threshold_for(c) for c in classes])
    alarm = p >= cut
    truth = outcome.astype(bool)
    figures = binary_metrics(outcome.astype(int), p) if len(np.unique(outcome)) == 2 else {}
    tp, fp = int((alarm & truth).sum()), int((alarm & ~truth).sum())
    tn, fn = int((~alarm & ~truth).sum()), int((~alarm & truth).sum())
    figures.update({"precision": tp / (tp + fp) if tp + fp else 0.0, "recall": tp / (tp + fn) if tp + fn else 0.0,
                    "far": fp / (fp + tn) if fp + tn else 0.0})
    figures["f1"] = (2 * figures["precision"] * figures["recall"] / (figures["precision"] + figures["recall"])
                     if figures["precision"] + figures["recall"] else 0.0)
    figures.pop("accuracy", None)
    return policy, {"thresholds": {c: float(policy.threshold_for(c)) for c in np.unique(classes)}, **figures}
