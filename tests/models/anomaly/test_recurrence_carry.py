"""The ``recurrence`` cap carried between runs that score only a series' last rows (issue 14 items 1 and 4): its
state after some rows (:func:`~forewarn.models.anomaly.recurrence.capped_after`,
:class:`~forewarn.models.anomaly.recurrence.Carry`) makes pieces equal one run, and the stream in micro-batches,
restarted from its checkpoint midway too, equal one batch run over the whole series where the cap acts; without the
carry they do not."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from forewarn.detect.since import TOLERANCE
from forewarn.models.anomaly.ensemble import EnsembleDetector
from forewarn.models.anomaly.recurrence import Carry, capped, capped_after
from forewarn.stream.sequential import SeriesContext

CONTEXT = 512
TRAIN = 1200


def _queue(n: int, seed: int) -> pd.DataFrame:
    """A queue that fills over 60-400 rows and empties at once, plus noise (5-minute rows): it empties about 30
    times in 6,000 rows, so the cap acts (as ``test_recurrence``'s queue)."""
    rng = np.random.default_rng(seed)
    ramp, at = np.zeros(n), 0
    while at < n:
        length = int(rng.integers(60, 400))
        ramp[at : at + length] = 20.0 * np.arange(min(length, n - at)) / length
        at += length
    times = pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC")
    return pd.DataFrame({"queue": ramp + rng.normal(0, 0.5, n)}, index=times)


@pytest.mark.parametrize("seed", range(40))
def test_pieces_with_the_state_carried_equal_one_run(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, gap = int(rng.integers(50, 3000)), int(rng.integers(1, 30))
    e = np.where(rng.random(n) < 0.05, rng.uniform(2, 40, n), rng.uniform(0, 1.5, n))
    e[rng.random(n) < 0.01] = np.nan
    stopped = rng.random(n) < 0.01 if seed % 2 else None  # transitions: an excursion holding one is not counted
    whole = capped(e, 3, gap=gap, interrupted=stopped)
    cuts = np.sort(rng.choice(np.arange(1, n), size=int(rng.integers(1, 15)), replace=False))
    pieces, state = [], None
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, n], strict=True):
        part = None if stopped is None else stopped[lo:hi]
        out, state = capped_after(e[lo:hi], 3, state, int(lo), gap=gap, interrupted=part)
        pieces.append(out)
    assert np.array_equal(np.concatenate(pieces), whole, equal_nan=True)


@pytest.fixture(scope="module")
def queue() -> dict:
    X = _queue(6000, seed=2)
    fit = EnsembleDetector(recurrence=8).fit(X.iloc[:TRAIN])
    off = EnsembleDetector(recurrence=None).fit(X.iloc[:TRAIN])
    return {"X": X, "fit": fit, "whole": fit.score(X), "uncapped": off.score(X)}


def _stream(fit: EnsembleDetector, X: pd.DataFrame, k: int, restart: int | None = None, old: bool = False):
    """The stream's scores of ``X`` fed ``k`` rows a batch; at row ``restart`` a new context continues from the
    old one's checkpoint (``old``: as saved before the carry was kept, without it)."""
    context = SeriesContext(list(X.columns), CONTEXT)
    assets, us, values = np.array(["q"], dtype=object), X.index.as_unit("us").asi8, X.to_numpy()
    out = []
    for lo in range(0, len(X), k):
        hi = min(lo + k, len(X))
        if lo == restart:
            saved = dict(context.get_state(["q"]))
            if old:
                n = int(np.frombuffer(saved["q"][:8], "int64")[0])
                saved = {"q": saved["q"][: 8 + 16 * n]}  # times and one channel's values only
            context = SeriesContext(list(X.columns), CONTEXT)
            context.set_state(saved)
        out.append(context.score(fit, np.repeat(assets, hi - lo), us[lo:hi], values[lo:hi]))
    return np.concatenate(out)


def test_the_cap_acts_on_the_queue(queue: dict) -> None:
    lowered = queue["uncapped"] - queue["whole"]
    assert (lowered[CONTEXT + TRAIN :] > 0.05).sum() >= 5  # capped rows far beyond any context


@pytest.mark.parametrize(("k", "restart"), [(250, None), (250, 3000), (97, 2910)])
def test_the_stream_equals_one_batch_run(queue: dict, k: int, restart: int | None) -> None:
    scores = _stream(queue["fit"], queue["X"], k, restart)
    assert np.nanmax(np.abs(scores - queue["whole"])) <= TOLERANCE


def test_without_the_carry_the_stream_caps_less(queue: dict, caplog: pytest.LogCaptureFixture) -> None:
    """A checkpoint saved without the carry continues, said in the log, counting from the context's first row:
    what every batch did before the carry (its scores differ from the batch run's, higher where it caps less)."""
    with caplog.at_level(logging.WARNING, logger="forewarn.stream.sequential"):
        scores = _stream(queue["fit"], queue["X"], 250, restart=3000, old=True)
    assert "saved without the recurrence cap's carry" in caplog.text
    assert np.abs(scores[:3000] - queue["whole"][:3000]).max() <= TOLERANCE
    assert (scores - queue["whole"])[3000:].max() > 0.05


def test_a_state_for_other_rows_or_settings_is_not_used() -> None:
    e = np.zeros((400, 1))
    e[[50, 150, 250, 350], 0] = 30.0
    ns = np.arange(400, dtype="int64") * 10**9
    carry = Carry()
    carry.cap(e[:200], 2, None, ns[:200], ["m"])
    assert carry.exact and carry.seen == 200
    carry.cap(e[250:], 2, None, ns[250:], ["m"])  # rows 200-249 missing: the state's row is not in the series
    assert not carry.exact
    other = Carry.from_json(Carry().to_json())
    other.cap(e[:200], 2, None, ns[:200], ["m"])
    other.cap(e[150:], 3, None, ns[150:], ["m"])  # another number of visits
    assert not other.exact
