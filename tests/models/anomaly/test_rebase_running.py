"""``rebase_rows`` rebases a member only on a history the series kept running through: a row with a stop, a start
or a switch of regime among the ``rebase_rows`` rows before it keeps its surprises
(:func:`forewarn.models.anomaly.adjust.rebase`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forewarn.models.anomaly.adjust import rebase
from forewarn.models.anomaly.ensemble import EnsembleDetector


def test_a_row_with_an_interruption_in_its_history_keeps_its_surprise() -> None:
    hot = np.r_[np.full(40, 3.3), np.full(10, 9.0)]  # a member running warm, then a deviation
    members = np.c_[hot, hot]
    stopped = np.zeros(50, dtype=bool)
    plain = rebase(members, rows=20)
    assert plain[40].round(2).tolist() == [7.0, 7.0]  # its recent 95th percentile 3.3, 2 above training's 1.3: minus 2
    stopped[30] = True  # a stop at row 30: rows 31-50 have it among their 20 rows before
    gated = rebase(members, rows=20, interrupted=stopped)
    assert np.array_equal(gated[31:], members[31:])  # the deviation keeps 9.0
    assert np.array_equal(gated[:31], plain[:31])  # before it: rebased as without the gate (causal)
    assert np.array_equal(rebase(members, rows=20, interrupted=np.zeros(50, dtype=bool)), plain)


def test_the_ensemble_does_not_rebase_across_a_stop() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 4))
    x[:, 0] += np.linspace(0.0, 4.0, 3000)  # a slow drift the fit on the first rows does not know
    x[1800:1830] = -20.0  # the machine stands still for 30 rows (all channels jump: a transition)
    frame = pd.DataFrame(x, columns=list("abcd"), index=pd.date_range("2024-01-01", periods=3000, freq="h"))
    default = EnsembleDetector().fit(frame.iloc[:450]).score(frame)
    option = EnsembleDetector(rebase_rows=600).fit(frame.iloc[:450])
    assert option.transitions(frame)[[1800, 1830]].all()
    scores = option.score(frame)
    # the stop is among their 600 rows before; from two days after it (settling reads 48 h) as the default
    assert np.array_equal(scores[1880:2400], default[1880:2400])
    assert (scores[1200:1800] < default[1200:1800] - 1e-9).any()  # before it, the drift is rebased
