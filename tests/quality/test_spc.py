"""SPC against textbook worked examples and hand-computed series.

"Montgomery" is D. C. Montgomery, *Introduction to Statistical Quality Control*, 6th ed. (Wiley, 2009). The data
of his examples are public figures (sample counts and measurements); the expected limits are his printed values
(3 decimals) and were re-derived by hand from the formulas in the comments.
"""

import numpy as np
import pytest

from forewarn.exceptions import SchemaError
from forewarn.quality import constants as K
from forewarn.quality.capability import capability
from forewarn.quality.charts import c_chart, cusum, cusum_signals, ewma, imr, np_chart, p_chart, u_chart, xbar_r, xbar_s
from forewarn.quality.rules import nelson, western_electric

# Montgomery Example 7.1 (orange-juice cans, 30 samples of n = 50; defectives per sample)
CANS = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22, 8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6]
# Montgomery Example 7.3 (printed-circuit boards, 26 samples of 100 boards; nonconformities per sample)
BOARDS = [21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16, 19, 10, 17, 13, 22, 18, 39, 30, 24, 16, 19, 17, 15]
# Montgomery Example 9.1/9.2 (Table 9.1: 20 observations from N(10, 1), then 10 from N(11, 1))
TABLE_9_1 = [
    9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34,
    9.03, 11.47, 10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84,
    10.90, 9.33, 12.29, 11.50, 10.60, 11.08, 10.38, 11.62, 11.31, 10.52,
]  # fmt: skip


def test_constants_equal_montgomery_appendix_vi():
    # Appendix VI factors (3 decimals), derived here from d2, d3 and c4
    assert round(K.A2(5), 3) == 0.577 and round(K.D3(5), 3) == 0 and round(K.D4(5), 3) == 2.114
    assert round(K.D3(7), 3) == 0.076 and round(K.D4(7), 3) == 1.924
    assert round(K.A3(5), 3) == 1.427 and round(K.B3(6), 3) == 0.030 and round(K.B4(6), 3) == 1.970
    assert round(K.c4(5), 4) == 0.9400 and round(K.c4(10), 4) == 0.9727 and round(K.c4(25), 4) == 0.9896
    with pytest.raises(ValueError, match="outside the tabulated range"):
        K.d2(26)


def test_p_chart_example_7_1():
    chart = p_chart(CANS, 50)
    # p-bar = 347 / 1500 = 0.2313; limits 0.2313 +/- 3 sqrt(0.2313 * 0.7687 / 50) = 0.2313 +/- 0.1789
    assert sum(CANS) == 347
    assert chart.center == pytest.approx(0.2313, abs=5e-5)
    assert chart.ucl[0] == pytest.approx(0.4102, abs=5e-5) and chart.lcl[0] == pytest.approx(0.0524, abs=5e-5)
    # samples 15 (22/50 = 0.44) and 23 (24/50 = 0.48) are above the UCL, as in the book
    assert chart.beyond_limits() == [14, 22]


def test_np_chart_is_the_p_chart_times_n():
    chart = np_chart(CANS, 50)
    # n p-bar = 11.567; 3 sqrt(50 * 0.2313 * 0.7687) = 8.945
    assert chart.center == pytest.approx(11.5667, abs=1e-4)
    assert chart.ucl[0] == pytest.approx(20.512, abs=1e-3) and chart.lcl[0] == pytest.approx(2.621, abs=1e-3)
    assert chart.beyond_limits() == [14, 22]


def test_c_chart_example_7_3():
    chart = c_chart(BOARDS)
    # c-bar = 516 / 26 = 19.85; 19.85 +/- 3 sqrt(19.85) = 19.85 +/- 13.37 (the book rounds c-bar first: 33.22, 6.48;
    # unrounded 33.211, 6.481)
    assert chart.center == pytest.approx(19.85, abs=5e-3)
    assert chart.ucl[0] == pytest.approx(33.22, abs=1e-2) and chart.lcl[0] == pytest.approx(6.48, abs=1e-2)
    assert chart.beyond_limits() == [5, 19]  # samples 6 (5) and 20 (39)


def test_u_chart_varying_units_by_hand():
    # 3 samples: 4 defects on 2 units, 6 on 4, 2 on 2 -> u-bar = 12/8 = 1.5; half-width 3 sqrt(1.5/n)
    chart = u_chart([4, 6, 2], [2, 4, 2])
    assert chart.center == 1.5
    assert list(chart.statistic) == [2.0, 1.5, 1.0]
    assert chart.ucl == pytest.approx([1.5 + 3 * np.sqrt(0.75), 1.5 + 3 * np.sqrt(0.375), 1.5 + 3 * np.sqrt(0.75)])
    assert list(chart.lcl) == [0.0, 0.0, 0.0]  # 1.5 - 2.60 and 1.5 - 1.84 are negative: cut at zero


def test_xbar_r_and_xbar_s_by_hand():
    samples = [[10, 12, 11, 13, 14], [11, 11, 12, 12, 14], [9, 13, 12, 11, 10]]
    # means 12, 12, 11 -> 11.6667; ranges 4, 3, 4 -> R-bar 3.6667; A2(5) = 0.5768
    xbar, r = xbar_r(samples)
    assert xbar.center == pytest.approx(35 / 3)
    assert xbar.ucl[0] == pytest.approx(35 / 3 + 3 / (2.326 * np.sqrt(5)) * 11 / 3)
    assert r.center == pytest.approx(11 / 3) and r.ucl[0] == pytest.approx(11 / 3 * (1 + 3 * 0.864 / 2.326))
    assert r.lcl[0] == 0.0
    # sample sds: sqrt(2.5), sqrt(1.5), sqrt(2.5); A3(5) = 3 / (0.9400 sqrt 5)
    xbar2, s = xbar_s(samples)
    sbar = (2 * np.sqrt(2.5) + np.sqrt(1.5)) / 3
    assert s.center == pytest.approx(sbar)
    assert xbar2.ucl[0] == pytest.approx(35 / 3 + K.A3(5) * sbar)
    assert s.ucl[0] == pytest.approx(K.B4(5) * sbar) and s.lcl[0] == 0.0


def test_imr_by_hand_and_phase_two_baseline():
    x = [10, 12, 11, 13, 12, 30]
    ind, mr = imr(x, baseline=5)
    # baseline: mean 11.6, moving ranges 2, 1, 2, 1 -> MR-bar 1.5; sigma 1.5 / 1.128 = 1.3298
    assert ind.center == pytest.approx(11.6)
    assert ind.ucl[0] == pytest.approx(11.6 + 3 * 1.5 / 1.128)
    assert mr.center == pytest.approx(1.5) and mr.ucl[0] == pytest.approx(1.5 * (1 + 3 * 0.853 / 1.128))
    assert ind.beyond_limits() == [5] and mr.beyond_limits() == [4]  # 30 and its moving range 18


def test_cusum_example_9_1():
    chart = cusum(TABLE_9_1, k=0.5, h=5, target=10, sigma=1)
    # C+ rises from period 23 on; C+_29 = 5.28 > H = 5 is the first signal (Montgomery)
    assert chart.statistic[28] == pytest.approx(5.28, abs=5e-3)
    assert chart.statistic[:28].max() < 5
    assert cusum_signals(chart) == [28, 29]
    # C+_1 = max(0, 9.45 - 10.5) = 0; C-_1 = max(0, 9.5 - 9.45) = 0.05; C-_2 = 9.5 - 7.99 + 0.05 = 1.56
    assert chart.extra["lower"][:2] == pytest.approx([0.05, 1.56])


def test_ewma_example_9_2():
    chart = ewma(TABLE_9_1, lam=0.1, L=2.7, target=10, sigma=1)
    # z1 = 0.1 * 9.45 + 0.9 * 10 = 9.945; z2 = 0.1 * 7.99 + 0.9 * 9.945 = 9.7495
    assert chart.statistic[:2] == pytest.approx([9.945, 9.7495])
    # UCL_1 = 10 + 2.7 sqrt(0.1/1.9 (1 - 0.9^2)) = 10.27, UCL_2 = 10.36, steady state 10 + 2.7 sqrt(0.1/1.9) = 10.62
    assert chart.ucl[:2] == pytest.approx([10.27, 10.3632], abs=5e-4)
    assert chart.ucl[-1] == pytest.approx(10.6194, abs=2e-3)
    # z28 = 10.5731 < 10.6186; z29 = 0.1 * 11.31 + 0.9 * 10.5731 = 10.6468 > 10.6187: first signal at period 29
    assert chart.beyond_limits() == [28, 29]


def test_western_electric_rules_by_hand():
    z = [0.5, -0.5, 2.5, 0.3, 2.2, 1.2, 1.5, 0.1, 1.1, 1.3, 0.2, 0.4, -3.5]
    hits = [(v.rule, v.index) for v in western_electric(z)]
    # rule 2 at 4 (2.5, 0.3, 2.2: two beyond 2). Rule 3 (4 of 5 beyond 1, the last one of them): at 5 the window
    # 1..5 holds 3 (2.5, 2.2, 1.2): no; at 6 window 2..6 holds 2.5, 2.2, 1.2, 1.5; at 8 window 4..8 holds 2.2, 1.2,
    # 1.5, 1.1; at 9 window 5..9 holds 1.2, 1.5, 1.1, 1.3. Rule 4: indices 2..11 positive (10 in a row) -> fires
    # at 9, 10, 11. Rule 1 at 12.
    assert hits == [(2, 4), (3, 6), (3, 8), (3, 9), (4, 9), (4, 10), (4, 11), (1, 12)]


def test_nelson_rules_by_hand():
    alternating = [0.5, -0.5] * 7  # 14 points alternating, all within 1 sigma
    hits = {(v.rule, v.index) for v in nelson(alternating)}
    assert hits == {(4, 13)}
    within = [0.1 * ((-1) ** i) * (1 + i % 3) for i in range(15)]  # 15 within 1 sigma, also alternating
    assert (7, 14) in {(v.rule, v.index) for v in nelson(within)}
    mixture = [1.5, -1.5] * 4  # 8 beyond 1 sigma on alternating sides: rule 8 at index 7, never rule 6
    rules = {(v.rule, v.index) for v in nelson(mixture)}
    assert (8, 7) in rules and not any(rule == 6 for rule, _ in rules)
    trend = [-1.0, -0.8, -0.2, 0.1, 0.3, 0.9, 0.5]
    assert [(v.rule, v.index) for v in nelson(trend)] == [(3, 5)]
    nine = [0.2] * 9
    assert [(v.rule, v.index) for v in nelson(nine)] == [(2, 8)]


def test_capability_by_hand():
    data = [[9, 10, 11], [10, 11, 12]]
    out = capability(data, lsl=4, usl=16)
    # R-bar = 2, sigma_within = 2 / 1.693; Cp = 12 / (6 * 1.1813) = 1.693; Cpk = 5.5 / 3.544 = 1.5519
    # overall s = sqrt(5.5 / 5) = 1.0488; Pp = 12 / 6.2929 = 1.9069; Ppk = 5.5 / 3.1464 = 1.748
    assert out["cp"] == 1.693 and out["cpk"] == 1.5519 and out["pp"] == 1.9069 and out["ppk"] == 1.748
    one_sided = capability([10, 11, 10, 12], usl=14)
    # MR-bar = (1 + 1 + 2) / 3, sigma = 1.3333 / 1.128 = 1.182; Cpk = (14 - 10.75) / 3.546 = 0.9165
    assert one_sided["cp"] is None and one_sided["cpk"] == pytest.approx(0.9165, abs=1e-4)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: p_chart([5, 60], 50), "more defectives"),
        (lambda: c_chart([1, -2, 3]), "negative"),
        (lambda: imr([1.0, float("nan"), 2.0]), "finite"),
        (lambda: xbar_r([1, 2, 3]), "2-D"),
        (lambda: imr([1, 2, 3], baseline=9), "baseline"),
        (lambda: capability([1, 2, 3], lsl=5, usl=1), "below usl"),
        (lambda: ewma([1, 2, 3], lam=0), "lam"),
    ],
)
def test_bad_input_is_a_schema_error(call, match):
    with pytest.raises(SchemaError, match=match):
        call()
