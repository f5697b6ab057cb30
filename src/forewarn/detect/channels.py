"""What ``forewarn detect`` reads off one asset's rows besides the detector (:mod:`forewarn.detect`, steps 4 and 6):
its raw scores on its rows indexed by their times, each channel's standardised deviation on a row, an episode's
top channels and the explanation of its alert; shared by the whole-history scoring (:mod:`forewarn.detect.scoring`)
and the nightly one (:mod:`forewarn.detect.since`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from forewarn.decide.alarms import Episode
from forewarn.decide.explain import standardised_deviation
from forewarn.models.anomaly.series import trailing_mean

#: channels named per episode (``top_channels``)
TOP_CHANNELS = 3


def with_times(frame: pd.DataFrame, stamps: np.ndarray) -> pd.DataFrame:
    """``frame`` indexed by its rows' times (``stamps``: int64 nanoseconds since the epoch, UTC).

    >>> with_times(pd.DataFrame({"x": [1.0, 2.0]}), np.array([0, 3_600_000_000_000])).index.hour.tolist()
    [0, 1]
    """
    return frame.set_axis(pd.DatetimeIndex(pd.to_datetime(np.asarray(stamps, dtype="int64"), unit="ns", utc=True)))


def channel_deviations(values: np.ndarray, centre: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Each channel's standardised deviation on one row, ``|value - centre| / scale``; -1 where the value is
    missing (so it ranks last). An episode's top channels are the largest on its peak row (package text, step 6).

    >>> channel_deviations(np.array([52.0, np.nan, 1.0]), np.array([50.0, 0.0, 1.0]), np.array([1.0, 1.0, 0.5]))
    array([ 2., -1.,  0.])
    """
    return np.nan_to_num(standardised_deviation(values, centre, scale), nan=-1.0)


def ranked(deviation: np.ndarray, columns: Sequence[str]) -> list[int]:
    """The positions of the (up to) :data:`TOP_CHANNELS` largest deviations, largest first (ties in column order)."""
    return [int(i) for i in np.argsort(-deviation, kind="stable")[:TOP_CHANNELS]]


def raw_scores(
    score: Any, frame: pd.DataFrame, stamps: np.ndarray, columns: list[str], fill: pd.Series, smooth: int
) -> np.ndarray:
    """``score`` of one series' rows (gaps carried forward already; a channel before its first reading at ``fill``),
    indexed by their times, smoothed by a trailing mean of ``smooth`` rows."""
    return trailing_mean(score(with_times(frame[columns].fillna(fill), stamps)), smooth)


def episode_channels(
    values: np.ndarray, episode: Episode, columns: list[str], centre: np.ndarray, scale: np.ndarray
) -> tuple[tuple[str, ...], dict[str, float]]:
    """An episode's top channels (on its peak row) and the explanation of its alert (its alarm row's channels)."""
    peak = channel_deviations(values[episode.peak], centre, scale)
    top = tuple(columns[i] for i in ranked(peak, columns))
    start = channel_deviations(values[episode.start], centre, scale)
    return top, {columns[i]: float(start[i]) for i in ranked(start, columns) if start[i] >= 0}


def episode_rows(episode: Episode) -> dict[str, int]:
    """An episode's rows by name (``start``, ``end``, ``peak``), to count them again in another frame."""
    return {"start": episode.start, "end": episode.end, "peak": episode.peak}
