"""Ordering readings per asset before they are scored: out-of-order, late and repeated readings.

Online features need each asset's readings in time order. :class:`ReorderBuffer` keeps, per asset, a
*watermark*: the time up to which readings have been released for scoring. A micro-batch goes through it so:

1. readings at or before their asset's watermark are **late**: the window they belong to has been scored. They
   are still stored (nothing is lost, and batch jobs see them) but not scored online; :meth:`split_late` finds them;
2. the others are held; a held reading is **released** once its asset has a reading at least
   ``lateness_us`` newer (so readings up to that much out of order are scored in order), or once the asset has
   been quiet for ``idle_release_s`` of wall-clock time. With ``lateness_us = 0`` everything is released at once
   and only the order inside a micro-batch is fixed;
3. released readings are de-duplicated on ``(asset, channel, ts)``, keeping the first to arrive (the store keeps
   the first value too), and sorted by asset and time.

>>> buf = ReorderBuffer(lateness_us=10, idle_release_s=60)
>>> buf.add(np.array(["p1", "p1", "p1"], dtype=object), np.array(["t", "t", "t"], dtype=object),
...         np.array([30, 10, 20]), np.array([3.0, 1.0, 2.0]), now=0.0)
>>> out = buf.release(now=0.0)
>>> out.ts.tolist(), out.value.tolist(), buf.released_until["p1"]
([10, 20], [1.0, 2.0], 20)
>>> buf.split_late(np.array(["p1", "p2"], dtype=object), np.array([15, 15])).tolist()
[True, False]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

_EMPTY_OBJ = np.empty(0, dtype=object)


@dataclass
class Readings:
    """Readings as parallel arrays (``ts`` in epoch microseconds)."""

    asset: np.ndarray
    channel: np.ndarray
    ts: np.ndarray
    value: np.ndarray

    @classmethod
    def empty(cls) -> Readings:
        return cls(_EMPTY_OBJ.copy(), _EMPTY_OBJ.copy(), np.empty(0, dtype="int64"), np.empty(0))

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, index: np.ndarray) -> Readings:
        """The readings at ``index`` (an integer or boolean array)."""
        return Readings(self.asset[index], self.channel[index], self.ts[index], self.value[index])

    @staticmethod
    def concat(parts: list[Readings]) -> Readings:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Readings.empty()
        return Readings(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("asset", "channel", "ts", "value")))


class ReorderBuffer:
    """Per-asset hold-and-release of readings (see the module docstring)."""

    def __init__(self, *, lateness_us: int = 0, idle_release_s: float = 2.0):
        self.lateness_us = int(lateness_us)
        self.idle_release_s = float(idle_release_s)
        self.pending = Readings.empty()
        self.max_seen: dict[str, int] = {}
        self.last_arrival: dict[str, float] = {}
        self.released_until: dict[str, int] = {}
        self.first_seen: dict[str, int] = {}
        self.changed: set[str] = set()  # assets whose watermark moved since the last checkpoint

    def restore(self, watermarks: dict[str, tuple[int, int | None]]) -> None:
        """Start from saved ``{asset: (first_seen_us, released_until_us)}``."""
        for asset, (first, released) in watermarks.items():
            self.first_seen[asset] = first
            if released is not None:
                self.released_until[asset] = released

    def split_late(self, asset: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Boolean mask of readings at or before their asset's watermark."""
        if len(ts) == 0:
            return np.zeros(0, dtype=bool)
        codes, uniques = pd.factorize(asset)
        limit = np.asarray([self.released_until.get(a, np.iinfo("int64").min) for a in uniques], dtype="int64")
        return ts <= limit[codes]

    def behind(self, asset: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Microseconds each reading lies before its asset's watermark (0 or less: on time, or an asset not yet
        released). A late reading would have been scored with an ``allowed_lateness`` above this (while its asset
        kept sending).

        >>> buf = ReorderBuffer()
        >>> buf.released_until["p1"] = 100
        >>> buf.behind(np.array(["p1", "p1", "p2"], dtype=object), np.array([40, 100, 5])).tolist()
        [60, 0, 0]
        """
        if len(ts) == 0:
            return np.zeros(0, dtype="int64")
        codes, uniques = pd.factorize(asset)
        limit = np.asarray([self.released_until.get(a, np.iinfo("int64").min) for a in uniques], dtype="int64")
        known = limit[codes] != np.iinfo("int64").min
        return np.where(known, limit[codes] - np.where(known, ts, 0), 0)

    def quiet(self, asset: np.ndarray, now: float) -> float:
        """The longest wall-clock time any of ``asset`` sent nothing before ``now`` (0 for assets not seen).

        >>> buf = ReorderBuffer()
        >>> buf.last_arrival.update({"p1": 10.0, "p2": 14.0})
        >>> buf.quiet(np.array(["p1", "p2", "p3"], dtype=object), now=15.0)
        5.0
        """
        seen = [now - self.last_arrival[a] for a in pd.unique(asset) if a in self.last_arrival]
        return max(seen, default=0.0)

    def add(self, asset: np.ndarray, channel: np.ndarray, ts: np.ndarray, value: np.ndarray, *, now: float) -> None:
        """Hold on-time readings (call :meth:`split_late` first)."""
        if len(ts) == 0:
            return
        codes, uniques = pd.factorize(asset)
        newest = np.full(len(uniques), np.iinfo("int64").min, dtype="int64")
        oldest = np.full(len(uniques), np.iinfo("int64").max, dtype="int64")
        np.maximum.at(newest, codes, ts)
        np.minimum.at(oldest, codes, ts)
        for a, hi, lo in zip(uniques.tolist(), newest.tolist(), oldest.tolist(), strict=True):
            self.max_seen[a] = max(self.max_seen.get(a, hi), hi)
            self.last_arrival[a] = now
            if a not in self.first_seen:
                self.first_seen[a] = lo
                self.changed.add(a)
        self.pending = Readings.concat([self.pending, Readings(asset, channel, ts, value)])

    def release(self, *, now: float, everything: bool = False) -> Readings:
        """Readings ready to score, de-duplicated and sorted by (asset, ts); they leave the buffer."""
        pending = self.pending
        if len(pending) == 0:
            return Readings.empty()
        codes, uniques = pd.factorize(pending.asset)
        limit = np.asarray(
            [
                np.iinfo("int64").max
                if everything or now - self.last_arrival.get(a, now) >= self.idle_release_s
                else self.max_seen[a] - self.lateness_us
                for a in uniques
            ],
            dtype="int64",
        )
        ready = pending.ts <= limit[codes]
        if not ready.any():
            return Readings.empty()
        self.pending = pending.take(~ready)
        out = pending.take(ready)
        out_codes = codes[ready]
        channel_codes, _ = pd.factorize(out.channel)
        arrival = np.arange(len(out))
        order = np.lexsort((arrival, channel_codes, out.ts, out_codes))
        key_a, key_t, key_c = out_codes[order], out.ts[order], channel_codes[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = (key_a[1:] != key_a[:-1]) | (key_t[1:] != key_t[:-1]) | (key_c[1:] != key_c[:-1])
        out = out.take(order[first])
        newest = np.full(len(uniques), np.iinfo("int64").min, dtype="int64")
        np.maximum.at(newest, out_codes[order[first]], out.ts)
        for a, hi in zip(uniques.tolist(), newest.tolist(), strict=True):
            if hi != np.iinfo("int64").min:
                self.released_until[a] = max(self.released_until.get(a, hi), hi)
                self.changed.add(a)
        return out

    def watermarks(self, assets: set[str] | None = None) -> dict[str, tuple[int, int | None]]:
        """``{asset: (first_seen_us, released_until_us)}`` of ``assets`` (default: the changed ones)."""
        names = self.changed if assets is None else assets
        return {a: (self.first_seen[a], self.released_until.get(a)) for a in names if a in self.first_seen}
