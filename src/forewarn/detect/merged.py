"""Two passes of ``forewarn detect --store --only-new`` put together (:func:`forewarn.detect.detect_store`).

A night scores each asset's new rows after a context (:mod:`forewarn.detect.since`); an asset whose context, even
all the rows read, does not give the previous run's last scores back (``short``) is read whole from the store and
scored again, alone. :func:`merge_passes` puts that second pass's result for those assets in place of the first
pass's: their rows of the scores table (the assets in the order the store gave them), their episodes with their
alert explanations and alarm-row scores (row positions counted again in the merged table), their fits' lines,
marks and how each was scored; the others' stay as the first pass gave them. So the result is that of one pass
that had read those assets whole.

>>> import pandas as pd
>>> from forewarn.detect.scoring import DetectResult
>>> def result(ids, scores):
...     table = pd.DataFrame({"asset_id": ids, "timestamp": range(len(ids)), "anomaly_score": scores, "alarm": 0})
...     return DetectResult(table, "ensemble", "ts", [], 0, 0.5, asset_column="asset_id")
>>> first, second = result(["A", "A", "B", "C"], [0.1, 0.2, 0.9, 0.3]), result(["B", "B"], [0.4, 0.5])
>>> merge_passes(first, second, {"B"}, ["A", "B", "C"]).scores["anomaly_score"].tolist()
[0.1, 0.2, 0.4, 0.5, 0.3]
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd


def merge_passes(first: Any, second: Any, again: Collection[str], order: Sequence[str]) -> Any:
    """``first`` (a :class:`~forewarn.detect.scoring.DetectResult`; that module imports this one) with the assets
    ``again`` as ``second`` (which scored those only) gives them; ``order``: the assets in the order they were read
    (the scores table's order of assets)."""
    again = {str(a) for a in again}
    column = first.asset_column or "asset_id"
    ids_first = first.scores[column].astype(str).to_numpy()
    ids_second = second.scores[column].astype(str).to_numpy()
    take_first = ~np.isin(ids_first, list(again))
    take_second = np.isin(ids_second, list(again))
    rank = {str(a): i for i, a in enumerate(order)}
    ids = np.concatenate([ids_first[take_first], ids_second[take_second]])
    rows = np.argsort([rank.get(a, len(rank)) for a in ids], kind="stable")  # an asset's rows stay in their order
    table = pd.concat([first.scores[take_first], second.scores[take_second]], ignore_index=True)
    table = table.iloc[rows].reset_index(drop=True)
    # where each row of either pass's table lands in the merged one (-1: a row not taken)
    landed = np.full(len(ids_first) + len(ids_second), -1, dtype="int64")
    sources = np.concatenate([np.flatnonzero(take_first), len(ids_first) + np.flatnonzero(take_second)])
    landed[sources[rows]] = np.arange(len(rows))
    found: list[tuple[Any, dict[str, float], float]] = []
    for result, offset, keep in ((first, 0, False), (second, len(ids_first), True)):
        for episode, explanation, score in zip(result.episodes, result.explanations, result.alarm_scores, strict=True):
            if (str(episode.asset_id) in again) != keep:
                continue
            at = [-1 if p < 0 else int(landed[offset + p]) for p in (episode.start, episode.end, episode.peak)]
            found.append((replace(episode, start=at[0], end=at[1], peak=at[2]), explanation, score))
    found.sort(key=lambda item: (item[0].asset_id or "", item[0].start_ts or pd.Timestamp(0), item[0].start))
    fits = _merged_fits(first.fits, second.fits, again)
    marks = None if first.marks is None else {**first.marks, **_only(second.marks or {}, again)}
    return replace(
        first,
        scores=table,
        episodes=[e for e, _, _ in found],
        explanations=[x for _, x, _ in found],
        alarm_scores=[v for _, _, v in found],
        fits=fits,
        n_train=int(fits["n_train"].sum()) if len(fits) else first.n_train,
        notes=[*first.notes, *(n for n in second.notes if n not in first.notes)],
        marks=marks,
        scored_how={**first.scored_how, **_only(second.scored_how, again)},
    )


def _only(by_asset: dict[str, Any], assets: set[str]) -> dict[str, Any]:
    return {a: v for a, v in by_asset.items() if a in assets}


def _merged_fits(first: pd.DataFrame, second: pd.DataFrame, again: set[str]) -> pd.DataFrame:
    """The first pass's fits table with the lines of the assets ``again`` from the second, in the first's order."""
    if "asset_id" not in first.columns or not len(second):
        return first
    named = first["asset_id"].astype(str)
    where = {a: i for i, a in enumerate(named)}
    taken = second[second["asset_id"].astype(str).isin(again)]
    both = pd.concat([first[~named.isin(again)], taken], ignore_index=True)
    at = np.argsort([where.get(str(a), len(where)) for a in both["asset_id"]], kind="stable")
    return both.iloc[at].reset_index(drop=True)
