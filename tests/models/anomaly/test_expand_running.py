"""``expand_references`` grows the embedding member's references only while the series has kept running: once a
row before a doubling is a transition (a stop, a start, a switch of regime), the fit's references stay
(:func:`forewarn.models.anomaly.expand.expanded`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forewarn.models.anomaly import embedding
from forewarn.models.anomaly.ensemble import EnsembleDetector
from forewarn.models.anomaly.expand import expanded


def _moving(n: int = 2000) -> np.ndarray:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n, 1))
    z[600:] += 1.5  # the level moves on after the training rows
    return z


def test_no_growth_after_an_interruption() -> None:
    z = _moving()
    state = embedding.fit(z[:300], (4, 32), 64)
    hot = np.zeros(len(z), dtype=bool)
    fixed = embedding.score(state, z, (4, 32))
    grown = expanded(state, z, (4, 32), 300, hot, 64)
    stopped = np.zeros(len(z), dtype=bool)
    stopped[100] = True  # before the first doubling (row 600): never grows
    assert np.array_equal(expanded(state, z, (4, 32), 300, hot, 64, interrupted=stopped), fixed, equal_nan=True)
    stopped[:] = False
    stopped[1000] = True  # after the first doubling: grown once (rows 600-1199), then kept
    late = expanded(state, z, (4, 32), 300, hot, 64, interrupted=stopped)
    assert np.array_equal(late[:1200], grown[:1200], equal_nan=True)
    assert not np.array_equal(late[1200:], grown[1200:], equal_nan=True)
    none = np.zeros(len(z), dtype=bool)
    assert np.array_equal(expanded(state, z, (4, 32), 300, hot, 64, interrupted=none), grown, equal_nan=True)


def test_the_ensemble_keeps_its_references_on_a_series_that_stops() -> None:
    x = np.hstack([_moving(3000)] * 4) + np.random.default_rng(1).normal(0, 0.3, (3000, 4))
    x[500:520] = -20.0  # a stop of every channel before the first doubling (rows 900 on)
    frame = pd.DataFrame(x, columns=list("abcd"))
    fit = EnsembleDetector(expand_references=True, members=("embedding",)).fit(frame.iloc[:450])
    assert fit.transitions(frame)[[500, 520]].all()
    plain = EnsembleDetector(members=("embedding",)).fit(frame.iloc[:450])
    assert np.array_equal(fit.member_scores(frame), plain.member_scores(frame), equal_nan=True)
