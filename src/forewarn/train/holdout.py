"""What held-out assets say about a fitted model: calibration, RUL intervals, thresholds, and honest figures.

The held-out assets are split in two halves by asset. Each figure reported here is *cross-fitted*: the
calibration map (or the RUL residual bands) is fitted on one half and judged on the other, then the other way
round, and the two judgements are pooled; the map that ships is then fitted on all held-out rows. So ECE and
interval coverage are measured on assets the calibration never saw.

Calibration: Platt (a logistic curve) when the held-out rows hold fewer than :data:`ISOTONIC_MIN_EVENTS`
failure episodes (runs of consecutive positive rows of an asset: the rows before one failure are not independent
evidence), which a handful of failures would turn into a few coarse isotonic steps; else the isotonic map blended
with a Platt curve (``"isotonic-platt"``, :mod:`forewarn.decide.calibration`): isotonic's reliability, and
strictly increasing, so distinct raw outputs keep distinct probabilities (the plain isotonic map was flat beyond
its end knots: on AI4I's training part 5-10 % of the held-out rows shared one value, 0.0 or 1.0). The card's
metrics name the method, the cross-fitted ECE and Brier score, and how many distinct probabilities the held-out
rows got (``calibration_levels``, beside ``raw_levels`` of the model's own outputs).

RUL intervals (:func:`interval_figures`) are judged asset by asset: each held-out asset by the interval fitted on the
other held-out assets (leave one asset out), the interval that ships fitted on all of them
(:func:`~forewarn.bundles.bundle.interval_bands`: every asset one unit of evidence, a band of predicted RUL only
where it holds rows of two assets). The rows of one asset move together, so two halves of a handful of assets
judged one or two assets by one or two others: on an 8-asset validation plant the halves said 0.1 % where new
assets' rows were covered 91 %; over 21 validation plants the card now misses the new assets' coverage by 0.056 on
average, the halves by 0.148 (BENCHMARKS.md, "Own data", 2026-12-06). The upper bound stops at the RUL cap ("the
cap or more"); the card adds the coverage of the rows whose truth lies below the cap (the lives that end within it),
the worst held-out asset's and the number of held-out assets.

Thresholds (:func:`choose_thresholds`) count the same episodes: failure events, or a label column's runs of 1s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forewarn.bundles.bundle import (
    INTERVAL,
    IntervalBands,
    ResidualModel,
    interval_bands,
    residual_bands,
    rul_failure_probability,
)
from forewarn.decide.calibration import ISOTONIC_PLATT, Calibrator, brier_score, expected_calibration_error
from forewarn.decide.thresholds import DEFAULT_CLASS, ThresholdPolicy
from forewarn.evaluate.cases import cost_optimal_threshold
from forewarn.evaluate.classification import alarm_figures, binary_metrics
from forewarn.evaluate.rul import rmse

ISOTONIC_MIN_EVENTS = 50
#: bands of predicted RUL with their own residual quantiles (the failure probability within the horizon)
RUL_BANDS = 4
INTERVAL_LEVELS = INTERVAL


def halves(groups: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two masks splitting the rows by group (asset), groups shuffled with ``seed``."""
    uniques = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(uniques))
    first = np.isin(groups, uniques[order[::2]])
    return first, ~first


def episodes(outcome: np.ndarray, groups: np.ndarray) -> int:
    """Runs of consecutive positive rows within a group (rows in time order per group).

    >>> episodes(np.array([0, 1, 1, 0, 1, 1]), np.array(["a", "a", "a", "a", "a", "b"]))
    3
    """
    positive = np.asarray(outcome) > 0.5
    starts = positive.copy()
    starts[1:] &= ~positive[:-1] | (np.asarray(groups)[1:] != np.asarray(groups)[:-1])
    return int(starts.sum())


def calibration_method(outcome: np.ndarray, groups: np.ndarray) -> str:
    """``"isotonic-platt"`` with :data:`ISOTONIC_MIN_EVENTS` failure episodes or more, else ``"platt"``."""
    return ISOTONIC_PLATT if episodes(outcome, groups) >= ISOTONIC_MIN_EVENTS else "platt"


def calibration_figures(
    shipped: Calibrator | None, judged: np.ndarray, outcome: np.ndarray, raw: np.ndarray, probability: np.ndarray
) -> dict[str, Any]:
    """What the card says of a calibration: the method, ECE and Brier score of the cross-fitted probabilities
    (``judged``, NaN where a half was not calibrated), and the distinct values of the raw outputs and of the
    shipped probabilities over the held-out rows (fewer probabilities than raw values: ties the map made)."""
    known = ~np.isnan(judged)
    p = np.clip(judged[known], 0.0, 1.0)
    return {
        "calibration": None if shipped is None else shipped.method,
        "ece": expected_calibration_error(p, outcome[known]) if known.any() else None,
        "brier": brier_score(p, outcome[known]) if known.any() else None,
        "raw_levels": int(len(np.unique(raw))),
        "calibration_levels": int(len(np.unique(probability))),
    }


def reliability(p: np.ndarray, outcome: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Predicted vs observed frequency per equal-width bin of probability (the reliability diagram's points)."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        rows = which == b
        if rows.any():
            out.append(
                {
                    "bin_low": b / bins,
                    "bin_high": (b + 1) / bins,
                    "predicted": float(p[rows].mean()),
                    "observed": float(outcome[rows].mean()),
                    "count": int(rows.sum()),
                }
            )
    return out


@dataclass
class Holdout:
    """The shipped calibration (and RUL residual model) and the cross-fitted figures of the held-out assets."""

    calibrator: Calibrator | None
    residual_model: ResidualModel | None
    probability: np.ndarray
    metrics: dict[str, Any] = field(default_factory=dict)
    reliability: list[dict[str, float]] = field(default_factory=list)
    #: the cross-fitted probabilities of the held-out rows (each from the map fitted on the other half; NaN where a
    #: half could not be calibrated): what ECE and Brier are measured on
    judged: np.ndarray | None = None

    def probabilities(self, said: np.ndarray, horizon: float) -> np.ndarray:
        """The shipped failure probability within ``horizon`` of a model's outputs (RUL through the residual
        bands, then the calibration), as the bundle computes it."""
        raw = np.asarray(said, dtype="float64")
        if self.residual_model is not None:
            raw = rul_failure_probability(raw, horizon, *self.residual_model)[0]
        return np.clip(_apply(self.calibrator, raw), 0.0, 1.0)


def _fit_calibrator(raw: np.ndarray, outcome: np.ndarray, method: str) -> Calibrator | None:
    if len(np.unique(outcome)) < 2:
        return None
    return Calibrator(method).fit(raw, outcome.astype(float))


def _apply(calibrator: Calibrator | None, raw: np.ndarray) -> np.ndarray:
    return raw if calibrator is None else np.asarray(calibrator.transform(raw), dtype="float64")


def calibrate_probabilities(
    raw: np.ndarray, outcome: np.ndarray, groups: np.ndarray, seed: int, *, method: str | None = None
) -> Holdout:
    """Cross-fitted calibration of raw failure probabilities (or anomaly scores) on held-out assets (``method``:
    a calibration method, or None for :func:`calibration_method`'s choice)."""
    first, second = halves(groups, seed)
    method = method or calibration_method(outcome, groups)
    judged = np.full(len(raw), np.nan)
    for fit, judge in ((first, second), (second, first)):
        if fit.any() and judge.any():
            judged[judge] = _apply(_fit_calibrator(raw[fit], outcome[fit], method), raw[judge])
    shipped = _fit_calibrator(raw, outcome, method)
    known = ~np.isnan(judged)
    probability = np.clip(_apply(shipped, raw), 0.0, 1.0)
    metrics: dict[str, Any] = {
        **calibration_figures(shipped, judged, outcome, raw, probability),
        "positive_rows": int(outcome.sum()),
        "rows": len(outcome),
    }
    return Holdout(
        shipped, None, probability, metrics, reliability(np.clip(judged[known], 0.0, 1.0), outcome[known]), judged
    )


def held_cap(truth: np.ndarray) -> float:
    """The RUL cap the held-out truths were clipped at: their largest value when two rows or more share it (the
    rows of lives that outlast the cap), else inf (no life reached a cap).

    >>> held_cap(np.array([240.0, 240.0, 12.0])), held_cap(np.array([3.0, 2.0, 1.0]))
    (240.0, inf)
    """
    top = float(np.max(truth)) if len(truth) else float("inf")
    return top if np.count_nonzero(truth == top) >= 2 else float("inf")


def interval_figures(
    predicted: np.ndarray, truth: np.ndarray, groups: np.ndarray, *, cap: float = float("inf")
) -> dict[str, Any]:
    """The RUL interval's coverage of held-out truths and its median width, each held-out asset judged by the
    interval fitted on the others (:func:`~forewarn.bundles.bundle.interval_bands`), upper bounds at ``cap``:
    ``interval_coverage`` (all rows), ``interval_coverage_below_cap`` (rows whose truth is below the cap: the
    lives that end within it; None without such rows), ``interval_coverage_worst_asset``, ``interval_width_median``,
    and ``interval_assets`` (held-out assets). None where fewer than two assets are held out.

    >>> p = np.tile(np.arange(10.0, 210.0), 6); g = np.repeat(np.arange(6), 200)
    >>> f = interval_figures(p, p + np.tile([-4.0, 4.0], 600), g)
    >>> f["interval_coverage"], f["interval_width_median"], f["interval_assets"]
    (1.0, 8.0, 6)
    """
    predicted, truth, groups = (
        np.asarray(predicted, dtype="float64"),
        np.asarray(truth, dtype="float64"),
        np.asarray(groups),
    )
    assets = np.unique(groups)
    figures: dict[str, Any] = {
        "interval_coverage": None,
        "interval_coverage_below_cap": None,
        "interval_coverage_worst_asset": None,
        "interval_width_median": None,
        "interval_assets": int(len(assets)),
    }
    if len(assets) < 2:
        return figures
    covered = np.zeros(len(truth), dtype=bool)
    width = np.zeros(len(truth))
    for asset in assets:
        judged = groups == asset
        fitted = interval_bands(predicted[~judged], truth[~judged], groups[~judged])
        low, high = fitted.bounds(predicted[judged], cap)
        covered[judged] = (truth[judged] >= low - 1e-9) & (truth[judged] <= high + 1e-9)
        width[judged] = high - low
    below = truth < cap
    figures.update(
        interval_coverage=float(covered.mean()),
        interval_coverage_below_cap=float(covered[below].mean()) if below.any() else None,
        interval_coverage_worst_asset=float(min(covered[groups == a].mean() for a in assets)),
        interval_width_median=float(np.median(width)),
    )
    return figures


def rul_holdout(
    predicted: np.ndarray,
    truth: np.ndarray,
    groups: np.ndarray,
    horizon: float,
    seed: int,
    *,
    method: str | None = None,
    cap: float | None = None,
) -> Holdout:
    """Residual bands and the calibrated failure probability within ``horizon``, cross-fitted by asset halves
    (``method`` as in :func:`calibrate_probabilities`), and the RUL interval judged asset by asset
    (:func:`interval_figures`; ``cap``: the RUL cap, else :func:`held_cap` of the truths)."""
    first, second = halves(groups, seed)
    outcome = (truth <= horizon).astype(float)
    method = method or calibration_method(outcome, groups)
    judged = np.full(len(truth), np.nan)
    for fit, judge in ((first, second), (second, first)):
        if not (fit.any() and judge.any()):
            continue
        edges, quantiles = residual_bands(predicted[fit], truth[fit], RUL_BANDS)
        # the probability map is fitted on the fitting half's own cross-fitted raw probabilities: halve it again
        raw_fit = rul_failure_probability(predicted[fit], horizon, edges, quantiles)[0]
        raw_judge, _ = rul_failure_probability(predicted[judge], horizon, edges, quantiles)
        judged[judge] = _apply(_fit_calibrator(raw_fit, outcome[fit], method), raw_judge)
    edges, quantiles = residual_bands(predicted, truth, RUL_BANDS)
    interval: IntervalBands = interval_bands(predicted, truth, groups)
    raw = rul_failure_probability(predicted, horizon, edges, quantiles)[0]
    shipped = _fit_calibrator(raw, outcome, method)
    known = ~np.isnan(judged)
    probability = np.clip(_apply(shipped, raw), 0.0, 1.0)
    metrics: dict[str, Any] = {
        "rmse": rmse(truth, predicted),
        "interval": f"{int(INTERVAL_LEVELS[1] * 100 - INTERVAL_LEVELS[0] * 100)} %",
        **interval_figures(predicted, truth, groups, cap=held_cap(truth) if cap is None else float(cap)),
        "interval_bands": len(interval.edges) + 1,
        **calibration_figures(shipped, judged, outcome, raw, probability),
        "positive_rows": int(outcome.sum()),
        "rows": len(outcome),
    }
    return Holdout(
        shipped,
        ResidualModel(edges, quantiles, interval),
        probability,
        metrics,
        reliability(np.clip(judged[known], 0.0, 1.0), outcome[known]),
        judged,
    )


#: failures the held-out assets need for thresholds fitted on their cases (fewer: too noisy, the row costs decide)
EVENT_MIN_FAILURES = 10
#: failures a class needs among the held-out assets for a threshold of its own (else the pooled one)
CLASS_MIN_FAILURES = 5
#: a case-cost threshold that puts more of the held-out rows in alarm than this is not taken (:func:`event_thresholds`)
MAX_ALARM_SHARE = 0.5


def event_thresholds(
    policy: ThresholdPolicy,
    cases: pd.DataFrame,
    failures: pd.DataFrame,
    *,
    horizon_hours: float,
    min_lead_hours: float,
    renewals: pd.DataFrame | None = None,
) -> None:
    """Set the policy's thresholds to those whose *cases* cost least on held-out assets (``cases``: every scored
    row of them, ``asset_id, ts, p, asset_class``), as a planner pays for them: a missed failure, a false case,
    an inspection per case. A class with :data:`CLASS_MIN_FAILURES` failures gets its own; the others the pooled
    one (under their own costs when they have some).

    A case is charged once however long it stays open, so where machines fail every few weeks the cheapest cases
    are one per life: an alarm that never clears catches every failure. A threshold whose held-out rows are in
    alarm more than :data:`MAX_ALARM_SHARE` of the time is such an answer, not a forecast (the backtest's own note
    says so), and is not taken: the pooled one leaves every class its Bayes threshold, a class's own leaves it the
    pooled one. On a generated plant of 40 machines failing every two months the pooled case-cost threshold
    alarmed on every row (FAR 100 %; BENCHMARKS.md, issue 12, 2026-12-06)."""
    common: dict[str, Any] = {"horizon_hours": horizon_hours, "min_lead_hours": min_lead_hours, "renewals": renewals}

    def fitted(scored: pd.DataFrame, known: pd.DataFrame, asset_class: str | None) -> float | None:
        threshold, figures = cost_optimal_threshold(scored, known, costs=policy.costs_for(asset_class), **common)
        share = figures.get("alarm_share")
        return None if share is not None and share > MAX_ALARM_SHARE else threshold

    pooled = fitted(cases, failures, None)
    if pooled is None:  # an always-open case is not a forecast: the Bayes thresholds of the costs stay
        return
    policy.thresholds[DEFAULT_CLASS] = pooled
    for asset_class in sorted(set(cases["asset_class"]) | set(policy.costs)):
        if asset_class == DEFAULT_CLASS:
            continue
        mine = cases[cases["asset_class"] == asset_class]
        own = failures[failures["asset_id"].isin(set(mine["asset_id"]))]
        if len(own) >= CLASS_MIN_FAILURES:
            threshold = fitted(mine, own, asset_class)
        elif asset_class in policy.costs:
            threshold = fitted(cases, failures, asset_class)
        else:
            continue
        if threshold is not None:
            policy.thresholds[asset_class] = threshold


def label_thresholds(
    policy: ThresholdPolicy, p: np.ndarray, outcome: np.ndarray, classes: np.ndarray, groups: np.ndarray | None
) -> None:
    """Thresholds from a stored label column (no failure events): the evidence is counted in label *episodes*
    (runs of positive rows of an asset, :func:`episodes`; the rows before one failure are not independent). With
    :data:`EVENT_MIN_FAILURES` episodes or more among the held-out assets, each class with
    :data:`CLASS_MIN_FAILURES` of its own gets the threshold minimising the cost of its rows; every other class
    keeps the Bayes threshold of its costs. Without ``groups`` (asset ids) the rows are one asset's.

    >>> p = np.array([0.9, 0.8, 0.1, 0.7, 0.05, 0.6])
    >>> y = np.array([1, 1, 0, 1, 0, 1])
    >>> policy = ThresholdPolicy()
    >>> label_thresholds(policy, p, y, np.array(["pump"] * 6), np.array(list("aabbcc")))  # 3 episodes: too few
    >>> policy.thresholds
    {}
    """
    assets = np.zeros(len(outcome), dtype=int) if groups is None else np.asarray(groups)
    if episodes(outcome, assets) < EVENT_MIN_FAILURES:
        return
    enough = [
        c for c in np.unique(classes) if episodes(outcome[classes == c], assets[classes == c]) >= CLASS_MIN_FAILURES
    ]
    fitted = np.isin(classes, enough)
    if fitted.any():
        policy.fit(p[fitted], outcome[fitted], classes[fitted], min_failures=1)


def choose_thresholds(
    p: np.ndarray,
    outcome: np.ndarray,
    classes: np.ndarray,
    costs: Mapping[str, Mapping[str, float]],
    *,
    groups: np.ndarray | None = None,
    cases: pd.DataFrame | None = None,
    failures: pd.DataFrame | None = None,
    horizon_hours: float = 24.0,
    min_lead_hours: float = 24.0,
    renewals: pd.DataFrame | None = None,
) -> tuple[ThresholdPolicy, dict[str, Any]]:
    """A cost threshold per asset class from held-out assets, and the row figures at each row's threshold.

    With the held-out assets' scored rows (``cases``) and their failures (at least :data:`EVENT_MIN_FAILURES`), the
    thresholds are those whose cases cost least (:func:`event_thresholds`); with fewer failure events, every class
    keeps the Bayes threshold of its costs; with none (``failures`` absent or empty: a stored label column, no
    events), :func:`label_thresholds` counts the label's episodes the same way: with few, the Bayes thresholds."""
    policy = ThresholdPolicy.from_mapping(costs) if costs else ThresholdPolicy()
    if cases is not None and failures is not None and len(failures) >= EVENT_MIN_FAILURES:
        event_thresholds(
            policy, cases, failures, horizon_hours=horizon_hours, min_lead_hours=min_lead_hours, renewals=renewals
        )
    elif failures is None or len(failures) == 0:  # no failure events (a stored label column): its episodes
        label_thresholds(policy, p, outcome, classes, groups)
    # else 1 to EVENT_MIN_FAILURES - 1 failure events: every class keeps the Bayes threshold of its costs (the
    # expected-cost optimum of calibrated probabilities); a row fit on the runs of rows of so few failures swung
    # from 0.002 to 0.956 across the site folds of a validation fleet (issue 12, BENCHMARKS.md)
    cut = np.array([policy.threshold_for(c) for c in classes])
    figures = binary_metrics(outcome.astype(int), p) if len(np.unique(outcome)) == 2 else {}
    figures.update(alarm_figures(outcome, p >= cut))
    figures.pop("accuracy", None)
    return policy, {"thresholds": {c: float(policy.threshold_for(c)) for c in np.unique(classes)}, **figures}
