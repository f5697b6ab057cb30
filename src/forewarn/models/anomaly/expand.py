"""The embedding member's references grown with the history it has scored (``expand_references``, an option of
:class:`~forewarn.models.anomaly.ensemble.EnsembleDetector`; the measurements are in BENCHMARKS.md, issue 14,
2026-12-05 18:32).

A fit on the first part of a long series knows only that part; the embedding member's false episode starts
grow with the rows scored after it. Here, once the rows scored reach twice the training rows, and again at every
doubling (4x, 8x, ...), the member's reference embeddings are drawn afresh from *every* row seen so far, evenly
spaced, their number growing with the rows (``references * rows / training rows``, at most
:data:`MAX_GROWTH` times the fit's), so their density in time stays that of the fit. Rows within the longest
window of a row where any member's surprise reached ``level`` are left out of the new references, so an
episode the detector flagged never becomes normal. The feature scaling and the tail fit stay those of the
training rows: a row is judged as before, against more of what the series has shown.

This is not a rolling adaptation: the references keep the training rows and every calm row after them, so a state
never seen before (a slow failure that keeps getting worse, a trend that leaves everything before it) stays as far
from them as before. The risk: a slow change that stays under ``level`` until a doubling enters the references and
is then normal. So only a series that has kept running grows them: once a row before a doubling is a transition of
the ensemble (a switch of regime, a jump of several channels: a stop, a start, a repair), the references stay the
fit's from there on (validation, BENCHMARKS.md, issue 14, 2026-12-06 10:07: SKAB's cost gone, F1 0.827 -> 0.832 and
FAR 11.66 -> 11.45 %, the default's; the healthy fleet 0.190 -> 0.184 % of rows starting an episode (the default
0.179 %); the standard corpus at 4,000 / 16,000 rows 60.8 -> 61.1 / 56.2 -> 56.8). Causal: the rows from each
doubling on are scored with references drawn from the rows before it only.

>>> import numpy as np
>>> from forewarn.models.anomaly import embedding
>>> rng = np.random.default_rng(0)
>>> z = rng.normal(size=(2000, 1)); z[600:] += 1.5               # the level moves on after the training rows
>>> state = embedding.fit(z[:300], (4, 32), 64)
>>> hot = np.zeros(2000, dtype=bool)
>>> fixed, grown = embedding.score(state, z, (4, 32)), expanded(state, z, (4, 32), 300, hot, 64)
>>> bool(np.nanmedian(grown[1200:]) < np.nanmedian(fixed[1200:]) / 2)     # rows after 1,200 are judged nearer
True
>>> np.array_equal(grown[:600], fixed[:600], equal_nan=True)              # before the first doubling: as fitted
True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from forewarn.models.anomaly import embedding

#: the references at most grow to this many times the fit's
MAX_GROWTH = 4
#: the first refit once the rows scored reach this many times the training rows (then at each doubling)
FIRST = 2


def calm_rows(hot: np.ndarray, margin: int) -> np.ndarray:
    """Indices of the rows farther than ``margin`` rows from every ``hot`` row.

    >>> calm_rows(np.array([False, False, False, True, False, False, False, False]), 2).tolist()
    [0, 6, 7]
    """
    near = np.zeros(len(hot) + 1, dtype="int64")
    at = np.flatnonzero(hot)
    np.add.at(near, np.maximum(at - margin, 0), 1)
    np.add.at(near, np.minimum(at + margin + 1, len(hot)), -1)
    return np.flatnonzero(np.cumsum(near[:-1]) == 0)


def expanded(
    state: dict[str, np.ndarray],
    z: np.ndarray,
    windows: tuple[int, ...],
    n_train: int,
    hot: np.ndarray,
    references: int,
    surprise: Callable[[np.ndarray], np.ndarray] | None = None,
    level: float = np.inf,
    interrupted: np.ndarray | None = None,
) -> np.ndarray:
    """The embedding member's raw score of every row of ``z`` (:func:`~forewarn.models.anomaly.embedding.score`),
    the rows from ``FIRST * n_train`` on scored against references redrawn at each doubling from the calm rows
    before it (module text). ``hot``: the rows where another member's surprise reached the level; with
    ``surprise`` (the member's raw score to its surprise) the rows where its own reached ``level`` are hot too.
    ``interrupted`` (one bool a row: the series did not keep running there): no doubling after such a row redraws
    the references (a machine that stops and starts keeps its fit's)."""
    widest = max(windows)
    start = min(len(z), FIRST * n_train)
    out = embedding.score(state, z[:start], windows)
    while start < len(z):
        end = min(2 * start, len(z))
        own = surprise(out) >= level if surprise is not None else np.zeros(start, dtype=bool)
        calm = calm_rows(hot[:start] | own, widest)
        calm = calm[calm >= widest - 1]
        wanted = int(min(MAX_GROWTH, start / max(n_train, 1)) * references)
        lo = max(0, start - widest)
        current = state
        if interrupted is not None and interrupted[:start].any():
            current = state  # the series stopped, started or switched: not a history to learn from (module text)
        elif len(calm) >= len(state["index"]) and len(calm) > 4 * widest:
            pick = calm[np.unique(np.linspace(0, len(calm) - 1, min(wanted, len(calm))).round().astype("int64"))]
            f = embedding.features(z[:start], windows, state["noise"])[pick]
            current = {**state, "reference": (f - state["center"]) / state["spread"], "index": pick}
        out = np.concatenate([out, embedding.score(current, z[lo:end], windows)[start - lo :]])
        start = end
    return out
