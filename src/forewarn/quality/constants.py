"""Control-chart constants for subgroups of size 2 to 25 (normal theory).

``d2`` (mean of the relative range W = R/sigma) and ``d3`` (its standard deviation) are the tabulated values of
Montgomery, *Introduction to Statistical Quality Control* (6th ed., Appendix Table VI), to three decimals;
``c4`` (mean of s/sigma) is exact, ``c4 = sqrt(2/(n-1)) * Gamma(n/2) / Gamma((n-1)/2)``. The chart factors are
derived from them exactly as the textbook defines them:

* X-bar/R: ``A2 = 3 / (d2 sqrt(n))``, ``D3 = max(0, 1 - 3 d3/d2)``, ``D4 = 1 + 3 d3/d2``;
* X-bar/S: ``A3 = 3 / (c4 sqrt(n))``, ``B3 = max(0, 1 - 3 sqrt(1 - c4^2)/c4)``, ``B4 = 1 + 3 sqrt(1 - c4^2)/c4``.

>>> round(A2(5), 3), round(D4(5), 3), round(c4(5), 4), round(A3(5), 3), round(B4(5), 3)
(0.577, 2.114, 0.94, 1.427, 2.089)
"""

from __future__ import annotations

import math

from forewarn.exceptions import ConfigError

#: subgroup size -> (d2, d3), Montgomery Appendix Table VI
_D2_D3 = {
    2: (1.128, 0.853),
    3: (1.693, 0.888),
    4: (2.059, 0.880),
    5: (2.326, 0.864),
    6: (2.534, 0.848),
    7: (2.704, 0.833),
    8: (2.847, 0.820),
    9: (2.970, 0.808),
    10: (3.078, 0.797),
    11: (3.173, 0.787),
    12: (3.258, 0.778),
    13: (3.336, 0.770),
    14: (3.407, 0.763),
    15: (3.472, 0.756),
    16: (3.532, 0.750),
    17: (3.588, 0.744),
    18: (3.640, 0.739),
    19: (3.689, 0.734),
    20: (3.735, 0.729),
    21: (3.778, 0.724),
    22: (3.819, 0.720),
    23: (3.858, 0.716),
    24: (3.895, 0.712),
    25: (3.931, 0.708),
}
MAX_SUBGROUP = max(_D2_D3)


def _check(n: int) -> int:
    if int(n) != n or not 2 <= n <= MAX_SUBGROUP:
        raise ConfigError(f"subgroup size {n!r} is outside the tabulated range 2..{MAX_SUBGROUP}")
    return int(n)


def d2(n: int) -> float:
    """Mean of the relative range of ``n`` normal observations."""
    return _D2_D3[_check(n)][0]


def d3(n: int) -> float:
    """Standard deviation of the relative range of ``n`` normal observations."""
    return _D2_D3[_check(n)][1]


def c4(n: int) -> float:
    """Mean of s/sigma for ``n`` normal observations (exact, via the gamma function)."""
    n = _check(n)
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


def A2(n: int) -> float:  # noqa: N802 - the textbook's name
    """X-bar limits from the mean range: x-double-bar +/- A2 R-bar."""
    return 3.0 / (d2(n) * math.sqrt(n))


def D3(n: int) -> float:  # noqa: N802
    """Lower R-chart factor."""
    return max(0.0, 1.0 - 3.0 * d3(n) / d2(n))


def D4(n: int) -> float:  # noqa: N802
    """Upper R-chart factor."""
    return 1.0 + 3.0 * d3(n) / d2(n)


def A3(n: int) -> float:  # noqa: N802
    """X-bar limits from the mean standard deviation: x-double-bar +/- A3 s-bar."""
    return 3.0 / (c4(n) * math.sqrt(n))


def B3(n: int) -> float:  # noqa: N802
    """Lower S-chart factor."""
    c = c4(n)
    return max(0.0, 1.0 - 3.0 * math.sqrt(1.0 - c * c) / c)


def B4(n: int) -> float:  # noqa: N802
    """Upper S-chart factor."""
    c = c4(n)
    return 1.0 + 3.0 * math.sqrt(1.0 - c * c) / c
