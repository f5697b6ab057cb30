"""Channel coverage: is there enough of an asset's data in its scoring window to trust a model's answer?

A model trained on 24 channels and given one still answers, and its answer is confidently low: the missing
channels' window statistics are blank, and blank reads as "nothing unusual". The rule, one for ``forewarn score``,
the service's health and fleet answers and ``POST /api/v1/predict``: the **coverage** of an asset is the share of
the channels it is expected to send that have at least one reading in its scoring window (the last ``window`` rows
the model's window statistics read). Expected: the model's channels that the asset's class reports anywhere in the
store (a motor is not expected to send a compressor's discharge temperature that a fleet-wide model also reads), or
all the model's channels when the class reports none of them or is not known.

- coverage below the minimum share: the asset is ``insufficient data``: no probability, risk or RUL, the missing
  channels listed (``channels_missing``); never ranked as low risk;
- at or above the minimum but below 1: scored, with the missing channels listed as a warning;
- complete: scored, ``channels_missing`` empty.

The minimum share is :data:`DEFAULT_MIN_SHARE` (0.75), or the ``FOREWARN_MIN_CHANNEL_SHARE`` environment variable
(a number from 0 to 1; 0 turns the rule off), or an explicit argument. Why 0.75: on the twin (validation seeds 11
and 12, a 7-day LightGBM failure model scoring an unseen site with random channels blanked,
``benchmarks/channel_coverage.py``, BENCHMARKS.md "Own data", issue 12), the rows a failure follows keep a
quarter of their mean probability (seed 11: 0.31 -> 0.08; seed 12: 0.14 -> 0.02) with 75 % of the channels, and
fall to the healthy rows' plateau (0.003-0.016) from 60 % down; seed 11's ROC-AUC goes 0.94 -> 0.87 at 75 %, 0.76
at 60 %, 0.64 at half. A missing channel silences alarms long before that: with 90 % of the channels, 20-52 % of
the rows that alarm with all of them read "low" (71-78 % at 75 %). So the share stops answers that are noise,
and the warning below 100 % says what a low risk is worth; 0.9 or 1 is the strict setting.

>>> window = np.array([[1.0, np.nan, np.nan, np.nan], [1.2, np.nan, 0.3, np.nan]])
>>> cover = channel_coverage(window, ["temp", "vib", "flow", "seal_leak"], window=24, min_share=0.75)
>>> cover.share, cover.sufficient, cover.missing
(0.5, False, ('vib', 'seal_leak'))
>>> cover.action()
'insufficient data: 2 of 4 channels read in the scoring window (missing vib, seal_leak)'
>>> motor = channel_coverage(window, ["temp", "vib", "flow", "seal_leak"], window=24, expected=["temp", "flow"])
>>> motor.share, motor.sufficient, motor.missing
(1.0, True, ())
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError, SchemaError

#: the environment variable that sets the minimum share of channels (0 to 1)
MIN_SHARE_ENV = "FOREWARN_MIN_CHANNEL_SHARE"
#: the minimum share of an asset's expected channels with readings in its window (chosen on the twin, see above)
DEFAULT_MIN_SHARE = 0.75
#: the status of an asset whose coverage is below the minimum
INSUFFICIENT = "insufficient data"


def min_channel_share(value: float | str | None = None) -> float:
    """The minimum share: ``value`` when given, else ``FOREWARN_MIN_CHANNEL_SHARE``, else the default.

    >>> min_channel_share(), min_channel_share(0.5), min_channel_share("1")
    (0.75, 0.5, 1.0)
    >>> min_channel_share(1.5)
    Traceback (most recent call last):
    ...
    forewarn.exceptions.ConfigError: the minimum share of channels must be a number from 0 to 1, got 1.5 (the argument); e.g. FOREWARN_MIN_CHANNEL_SHARE=0.75 (0 turns the rule off)
    """
    origin = "the argument"
    if value is None:
        value, origin = os.environ.get(MIN_SHARE_ENV), MIN_SHARE_ENV
    if value is None or value == "":
        return DEFAULT_MIN_SHARE
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = math.nan
    if not 0.0 <= share <= 1.0:
        raise ConfigError(
            f"the minimum share of channels must be a number from 0 to 1, got {value!r} ({origin}); "
            f"e.g. {MIN_SHARE_ENV}=0.75 (0 turns the rule off)"
        )
    return share


def short_list(names: Sequence[str], shown: int = 2) -> str:
    """Names for a table's line: the first ``shown``, then how many more.

    >>> short_list(["a", "b"]), short_list([f"s{i}" for i in range(24)])
    ('a, b', 's0, s1 +22')
    """
    names = list(names)
    return ", ".join(names[:shown]) + (f" +{len(names) - shown}" if len(names) > shown else "")


@dataclass(frozen=True)
class Coverage:
    """Which of the ``expected`` channels had no reading in the window (``missing``), against ``min_share``."""

    expected: tuple[str, ...]
    missing: tuple[str, ...]
    min_share: float

    @property
    def share(self) -> float:
        """The share of the expected channels read in the window (1 when none is expected)."""
        return 1.0 - len(self.missing) / len(self.expected) if self.expected else 1.0

    @property
    def sufficient(self) -> bool:
        """Whether the asset may be scored (its share reaches the minimum)."""
        return self.share >= self.min_share - 1e-12

    def action(self) -> str:
        """What an asset below the minimum is told (short enough for a table's line)."""
        read = len(self.expected) - len(self.missing)
        return (
            f"{INSUFFICIENT}: {read} of {len(self.expected)} channels read in the scoring window "
            f"(missing {short_list(self.missing)})"
        )


def expected_channels(channels: Sequence[str], reported: Iterable[str] | None) -> tuple[str, ...]:
    """The model's ``channels`` that an asset is expected to send: those its class ``reported`` (any asset of the
    class, anywhere in the store); all of them when ``reported`` is None or holds none of them.

    >>> expected_channels(["temp", "vib", "flow"], {"temp", "flow", "other"}), expected_channels(["temp"], {"x"})
    (('temp', 'flow'), ('temp',))
    """
    if reported is None:
        return tuple(channels)
    known = set(reported)
    kept = tuple(c for c in channels if c in known)
    return kept or tuple(channels)


def channel_coverage(
    values: np.ndarray,
    channels: Sequence[str],
    *,
    window: int,
    expected: Iterable[str] | None = None,
    min_share: float | None = None,
) -> Coverage:
    """The coverage of an asset from its rows (``values``: time order, one column per model channel in
    ``channels`` order; the last ``window`` rows are its scoring window); ``expected``: the channels it should send
    (see :func:`expected_channels`; all by default); ``min_share``: see :func:`min_channel_share`."""
    matrix = np.asarray(values, dtype="float64")
    if matrix.ndim != 2 or matrix.shape[1] != len(channels):
        raise SchemaError(f"coverage needs rows x {len(channels)} channels, got an array of shape {matrix.shape}")
    matrix = matrix[-max(int(window), 1) :]
    read = ~np.isnan(matrix).all(axis=0) if len(matrix) else np.zeros(len(channels), dtype=bool)
    wanted = tuple(channels) if expected is None else tuple(expected)
    has = {name for name, ok in zip(channels, read.tolist(), strict=True) if ok}
    return Coverage(wanted, tuple(c for c in wanted if c not in has), min_channel_share(min_share))


def class_channels(pairs: pd.DataFrame) -> dict[str, frozenset[str]]:
    """``{asset_class: channels}`` from rows of ``asset_class, channel`` (e.g. the store's channels of each asset
    joined with the asset's class).

    >>> found = class_channels(pd.DataFrame({"asset_class": ["motor", "motor", "pump"], "channel": ["t", "v", "t"]}))
    >>> {k: sorted(v) for k, v in found.items()}
    {'motor': ['t', 'v'], 'pump': ['t']}
    """
    out: dict[str, set[str]] = {}
    for asset_class, channel in zip(pairs["asset_class"].astype(str), pairs["channel"].astype(str), strict=True):
        out.setdefault(asset_class, set()).add(channel)
    return {k: frozenset(v) for k, v in sorted(out.items())}


#: the query of :func:`class_channels`' rows in a store (DuckDB or PostgreSQL)
CLASS_CHANNELS_SQL = "SELECT DISTINCT a.asset_class, c.channel FROM channels c JOIN assets a ON a.asset_id = c.asset_id"


def store_class_channels(store: Any) -> dict[str, frozenset[str]]:
    """:func:`class_channels` of a :class:`~forewarn.store.Store` (one query)."""
    return class_channels(store.sql(CLASS_CHANNELS_SQL))


def coverage_of(
    values: np.ndarray,
    channels: Sequence[str],
    window: int,
    asset_class: str | None,
    reported: Mapping[str, frozenset[str]] | None,
    min_share: float | None = None,
) -> Coverage:
    """:func:`channel_coverage` of an asset of ``asset_class`` given the channels each class ``reported``."""
    known = None if reported is None or asset_class is None else reported.get(str(asset_class))
    return channel_coverage(
        values, channels, window=window, expected=expected_channels(channels, known), min_share=min_share
    )
