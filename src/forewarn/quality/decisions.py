"""Reject / review / pass from a calibrated defect probability, with thresholds derived from costs.

For a unit with defect probability p, the expected cost of each action (Bayes decision rule) is

* pass: ``p * escape`` (a defect shipped: warranty, recall, a line stop downstream);
* reject: ``(1 - p) * scrap`` (a good unit scrapped; a bad unit rejected costs nothing more);
* review: ``review`` (a person looks and decides correctly).

So pass while ``p < review / escape``, reject once ``p > 1 - review / scrap``, and review in between. When
review is too dear for that band to exist (``review / escape >= 1 - review / scrap``), the rule has one
threshold ``scrap / (scrap + escape)`` and never reviews. The manufacturing seed's fixed rule "reject above 0.8,
review above 0.5" is the case ``review = 0.5 escape = 0.2 scrap`` (e.g. escape 2, scrap 5, review 1).

>>> t = thresholds(InspectionCosts(scrap=5.0, review=1.0, escape=2.0))
>>> t.review_above, t.reject_above
(0.5, 0.8)
>>> [decide(p, t) for p in (0.2, 0.6, 0.95)]
['pass', 'review', 'reject']
>>> thresholds(InspectionCosts(scrap=1.0, review=5.0, escape=3.0)).review_above   # review never pays
0.25
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError, SchemaError

DECISIONS = ("pass", "review", "reject")


@dataclass(frozen=True)
class InspectionCosts:
    """Cost of scrapping a good unit, of one manual review, and of a defect that escapes (one currency)."""

    scrap: float = 5.0
    review: float = 1.0
    escape: float = 2.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int | float) or not np.isfinite(value) or value <= 0:
                raise ConfigError(f"inspection cost {name!r} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True)
class DecisionThresholds:
    """Probabilities above ``review_above`` go to review, above ``reject_above`` are rejected."""

    review_above: float
    reject_above: float


def thresholds(costs: InspectionCosts) -> DecisionThresholds:
    """The cost-optimal thresholds (see the module text)."""
    low, high = costs.review / costs.escape, 1.0 - costs.review / costs.scrap
    if low >= high:
        single = costs.scrap / (costs.scrap + costs.escape)
        return DecisionThresholds(round(single, 12), round(single, 12))
    return DecisionThresholds(round(low, 12), round(high, 12))


def decide(probability: float, limits: DecisionThresholds) -> str:
    """``reject``, ``review`` or ``pass`` for one defect probability."""
    if not 0.0 <= probability <= 1.0:
        raise SchemaError(f"defect probability {probability!r} is outside [0, 1]", column="probability")
    if probability > limits.reject_above:
        return "reject"
    if probability > limits.review_above:
        return "review"
    return "pass"


def with_novelty(decision: str, novelty_score: float | None, threshold: float) -> tuple[str, bool | None]:
    """The decision once the unit's novelty is known, and whether it is novel (``None`` without a score).

    A unit whose novelty score (a texture detector's distance from the good images,
    :class:`forewarn.quality.texture.TextureDetector`) is above ``threshold`` looks like nothing the line has
    shown before: the classifier's ``pass`` becomes ``review`` (a person looks); ``review`` and ``reject`` stay.

    >>> with_novelty("pass", 1.7, 1.0), with_novelty("reject", 1.7, 1.0), with_novelty("pass", 0.4, 1.0)
    (('review', True), ('reject', True), ('pass', False))
    >>> with_novelty("pass", None, 1.0)
    ('pass', None)
    """
    if decision not in DECISIONS:
        raise SchemaError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}", column="decision")
    if novelty_score is None:
        return decision, None
    if not np.isfinite(novelty_score) or novelty_score < 0:
        raise SchemaError(f"novelty score {novelty_score!r} is not a finite number >= 0", column="novelty_score")
    novel = bool(novelty_score > threshold)
    return ("review" if novel and decision == "pass" else decision), novel


def expected_cost(probabilities: Sequence[float], defective: Sequence[bool], decisions: Sequence[str],
                  costs: InspectionCosts) -> float:  # fmt: skip
    """Realised cost per unit of ``decisions`` given the true outcomes (reviews are taken as correct)."""
    p = np.asarray(defective, dtype=bool)
    d = np.asarray(decisions)
    if not (len(p) == len(d) == len(probabilities)):
        raise SchemaError("probabilities, outcomes and decisions differ in length")
    cost = np.where(d == "review", costs.review, 0.0)
    cost += np.where((d == "pass") & p, costs.escape, 0.0)
    cost += np.where((d == "reject") & ~p, costs.scrap, 0.0)
    return float(cost.mean()) if len(cost) else 0.0


def line_report(inspections: pd.DataFrame) -> list[dict[str, Any]]:
    """Per line: counts, reject and review rates, mean defect probability, and the Pareto of defect types.

    ``inspections`` has columns ``line``, ``probability``, ``decision`` and ``defect_type`` (the predicted or
    reviewed type; empty for passed units), and optionally ``novel`` (flagged by the novelty detector; empty where
    no score was known): then ``novel`` counts the units flagged. The Pareto counts units not passed by type, most
    frequent first, with the cumulative share.

    >>> frame = pd.DataFrame({"line": ["A", "A", "A", "B"], "probability": [0.1, 0.9, 0.7, 0.2],
    ...                       "decision": ["pass", "reject", "review", "pass"],
    ...                       "defect_type": ["", "scratches", "scratches", ""]})
    >>> report = line_report(frame)
    >>> report[0]["units"], report[0]["reject_rate"], report[0]["pareto"][0]
    (3, 0.3333, {'defect_type': 'scratches', 'count': 2, 'cumulative_share': 1.0})
    """
    missing = {"line", "probability", "decision", "defect_type"} - set(inspections.columns)
    if missing:
        raise SchemaError(f"inspections lack column(s) {', '.join(sorted(missing))}")
    out = []
    for line, group in inspections.groupby("line", sort=True):
        flagged = group[group["decision"] != "pass"]
        counts = flagged["defect_type"].replace("", "unknown").value_counts()
        counts = counts.sort_index().sort_values(ascending=False, kind="stable")
        total = max(int(counts.sum()), 1)
        cumulative = counts.cumsum() / total
        out.append(
            {
                "line": str(line),
                "units": len(group),
                **{decision: int((group["decision"] == decision).sum()) for decision in DECISIONS},
                "reject_rate": round(float((group["decision"] == "reject").mean()), 4),
                "review_rate": round(float((group["decision"] == "review").mean()), 4),
                "mean_probability": round(float(group["probability"].mean()), 4),
                **({"novel": int(group["novel"].fillna(False).astype(bool).sum())} if "novel" in group else {}),
                "pareto": [
                    {"defect_type": str(k), "count": int(v), "cumulative_share": round(float(cumulative[k]), 4)}
                    for k, v in counts.items()
                ],
            }
        )
    return out
