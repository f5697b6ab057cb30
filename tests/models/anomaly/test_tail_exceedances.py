"""``EnsembleDetector(tail_exceedances=N)``: a short fit's tail fits rest on at least N of its training rows' scores
(at most half), so their scales are less noisy; fits of ``10 * N`` rows or more do not change."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from forewarn.models.anomaly.ensemble import MEMBERS, EnsembleDetector


def _noise(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, 3)) @ (np.eye(3) + 0.3)
    return pd.DataFrame(values, columns=["a", "b", "c"])


def _fit(frame: pd.DataFrame, **params: object) -> EnsembleDetector:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FewRowsWarning
        return EnsembleDetector(**params).fit(frame)


def test_a_short_fit_reads_its_tails_from_more_rows() -> None:
    frame = _noise(90, 0)
    default, wider = _fit(frame), _fit(frame, tail_exceedances=40)
    assert np.allclose(default.tails_[:, 2], 1.0)  # the training 90th percentile
    scored = [MEMBERS.index(m) for m in wider._scored()]
    assert np.allclose(wider.tails_[scored, 2], -np.log10(40 / 90))  # the top 40 of 90 rows
    capped = _fit(frame, tail_exceedances=80)
    assert np.allclose(capped.tails_[scored, 2], -np.log10(0.5))  # never more than half of them


def test_fits_of_ten_times_as_many_rows_are_unchanged() -> None:
    frame = _noise(400, 1)
    assert np.array_equal(_fit(frame).tails_, _fit(frame, tail_exceedances=40).tails_)
    assert _fit(frame, tail_exceedances=40).get_params()["tail_exceedances"] == 40


def test_short_fits_scales_vary_less_from_series_to_series() -> None:
    """The forecast member's tail scale over 16 healthy 90-row fits: from 9 exceedances its spread (log units) is
    far wider than from 40."""
    at = MEMBERS.index("residual")
    default, wider = [], []
    for seed in range(16):
        frame = _noise(90, 10 + seed)
        default.append(np.log(_fit(frame).tails_[at, 1]))
        wider.append(np.log(_fit(frame, tail_exceedances=40).tails_[at, 1]))
    assert np.std(wider) < 0.75 * np.std(default)
