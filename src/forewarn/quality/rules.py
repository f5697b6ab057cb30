"""Run rules on a control chart: the Western Electric rules and Nelson's eight tests.

A rule reads the chart's points as zone scores ``z = (x - center) / sigma`` (sigma of the plotted statistic, so
the control limits sit at z = +/-3) and fires at the point that completes its pattern; a run that goes on fires
again at each further point (so a run of 10 on one side fires rule "9 in a row" at points 9 and 10). For the
window rules (2 of 3, 4 of 5) the completing point must itself be one of the points beyond the zone, so one
pattern is reported once per new point in it. A point exactly on the center line is on neither side.

Western Electric (Western Electric *Statistical Quality Control Handbook*, 1956; as listed by Montgomery,
*Introduction to Statistical Quality Control*, 6th ed., section 5.3.6):

1. one point beyond 3 sigma; 2. two of three successive points beyond 2 sigma, same side; 3. four of five beyond
1 sigma, same side; 4. eight successive points on one side of the center line.

Nelson (L. S. Nelson, "The Shewhart control chart: tests for special causes", J. Quality Technology 16(4), 1984):

1. one point beyond 3 sigma; 2. nine in a row on one side; 3. six in a row steadily increasing or decreasing;
4. fourteen in a row alternating up and down; 5. two of three beyond 2 sigma, same side; 6. four of five beyond
1 sigma, same side; 7. fifteen in a row within 1 sigma (either side); 8. eight in a row beyond 1 sigma (either
side, none within).

>>> z = [0.5, 0.2, 2.5, 2.4, -0.1, 3.2]
>>> [(v.rule, v.index) for v in western_electric(z)]
[(2, 3), (1, 5), (2, 5)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forewarn.exceptions import SchemaError

WESTERN_ELECTRIC = {
    1: "one point beyond 3 sigma",
    2: "2 of 3 beyond 2 sigma, same side",
    3: "4 of 5 beyond 1 sigma, same side",
    4: "8 in a row on one side of the center",
}
NELSON = {
    1: "one point beyond 3 sigma",
    2: "9 in a row on one side of the center",
    3: "6 in a row steadily increasing or decreasing",
    4: "14 in a row alternating up and down",
    5: "2 of 3 beyond 2 sigma, same side",
    6: "4 of 5 beyond 1 sigma, same side",
    7: "15 in a row within 1 sigma",
    8: "8 in a row beyond 1 sigma, either side",
}
RULESETS = {"western-electric": WESTERN_ELECTRIC, "nelson": NELSON}


@dataclass(frozen=True)
class Violation:
    """A rule hit: the rule set, the rule's number and text, and the 0-based index of the completing point."""

    ruleset: str
    rule: int
    index: int
    description: str

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready fields."""
        return {"ruleset": self.ruleset, "rule": self.rule, "index": self.index, "description": self.description}


def zone_scores(x: Sequence[float] | np.ndarray, center: float | np.ndarray, sigma: float | np.ndarray) -> np.ndarray:
    """``(x - center) / sigma``, checked: a finite series and a positive sigma."""
    values = np.asarray(x, dtype=float)
    sig = np.broadcast_to(np.asarray(sigma, dtype=float), values.shape)
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise SchemaError("chart points must be a 1-D series of finite numbers", column="x")
    if not np.all(sig > 0):
        raise SchemaError("the statistic's sigma must be positive at every point", column="sigma")
    return (values - np.asarray(center, dtype=float)) / sig


def _runs(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True ending at each point."""
    out = np.zeros(len(flags), dtype=int)
    run = 0
    for i, flag in enumerate(flags):
        run = run + 1 if flag else 0
        out[i] = run
    return out


def _k_of_m(beyond: np.ndarray, k: int, m: int) -> np.ndarray:
    """Points where at least ``k`` of the last ``m`` (ending here) are beyond, this one included."""
    hits = np.zeros(len(beyond), dtype=bool)
    for i in range(len(beyond)):
        if beyond[i] and i + 1 >= k:
            hits[i] = beyond[max(0, i - m + 1) : i + 1].sum() >= k
    return hits


def _one_side(z: np.ndarray, n: int) -> np.ndarray:
    return (_runs(z > 0) >= n) | (_runs(z < 0) >= n)


def _same_side(z: np.ndarray, level: float, k: int, m: int) -> np.ndarray:
    return _k_of_m(z > level, k, m) | _k_of_m(z < -level, k, m)


def _trend(x: np.ndarray, n: int) -> np.ndarray:
    diff = np.diff(x)
    up, down = _runs(diff > 0), _runs(diff < 0)
    return np.concatenate([[False], (up >= n - 1) | (down >= n - 1)])


def _alternating(x: np.ndarray, n: int) -> np.ndarray:
    sign = np.sign(np.diff(x))
    alternate = np.concatenate([[False], (sign[1:] * sign[:-1]) < 0])
    # a run of r alternations spans r + 2 points
    runs = _runs(alternate)
    return np.concatenate([[False], runs >= n - 2])


def _violations(ruleset: str, hits: dict[int, np.ndarray]) -> list[Violation]:
    names = RULESETS[ruleset]
    found = [Violation(ruleset, rule, int(i), names[rule]) for rule, mask in hits.items() for i in np.flatnonzero(mask)]
    return sorted(found, key=lambda v: (v.index, v.rule))


def western_electric(z: Sequence[float] | np.ndarray) -> list[Violation]:
    """The four Western Electric rules on zone scores ``z`` (see the module text)."""
    z = zone_scores(z, 0.0, 1.0)
    hits = {
        1: np.abs(z) > 3,
        2: _same_side(z, 2, 2, 3),
        3: _same_side(z, 1, 4, 5),
        4: _one_side(z, 8),
    }
    return _violations("western-electric", hits)


def nelson(z: Sequence[float] | np.ndarray) -> list[Violation]:
    """Nelson's eight tests on zone scores ``z`` (see the module text).

    >>> [(v.rule, v.index) for v in nelson([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])]   # six in a row increasing
    [(3, 5)]
    """
    z = zone_scores(z, 0.0, 1.0)
    hits = {
        1: np.abs(z) > 3,
        2: _one_side(z, 9),
        3: _trend(z, 6),
        4: _alternating(z, 14),
        5: _same_side(z, 2, 2, 3),
        6: _same_side(z, 1, 4, 5),
        7: _runs(np.abs(z) < 1) >= 15,
        8: _runs(np.abs(z) > 1) >= 8,
    }
    return _violations("nelson", hits)


def apply_rules(z: Sequence[float] | np.ndarray, ruleset: str = "western-electric") -> list[Violation]:
    """The rules of ``ruleset`` (``western-electric`` or ``nelson``) on zone scores ``z``."""
    if ruleset == "western-electric":
        return western_electric(z)
    if ruleset == "nelson":
        return nelson(z)
    raise SchemaError(f"unknown rule set {ruleset!r}; use one of {', '.join(RULESETS)}", column="ruleset")
