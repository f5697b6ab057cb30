"""Readings averaged into buckets of a fixed interval, online: each asset's open (still-filling) bucket.

A servable bundle trained at an interval (``ServingSpec.interval``, e.g. ``"1h"``) computes its features over
bucket means, aligned on the Unix epoch and labelled by their start: exactly what
``Store.readings(asset_id, resample=interval, wide=True)`` returns (a channel's bucket value is the mean of its
readings in the bucket; a bucket with no reading of a channel has NaN there; a bucket without any reading is no
row at all). :class:`OpenBuckets` keeps, per asset, the bucket that is still filling (its start, and per channel
the sum and count of the readings so far) and folds rows sorted by (asset, time) into it:

* every row gets the running mean of its bucket after the row (what the bucket "stands at" then);
* a row in a later bucket closes the asset's open bucket: its final mean is handed back as a closed bucket, in
  order, and a new bucket opens.

Rows must arrive in time order per asset, as the :class:`~forewarn.stream.reorder.ReorderBuffer` releases them;
a late reading (at or before the asset's watermark) never reaches this class (see
:class:`~forewarn.stream.scoring.ModelRunner` for what that means for a bucket).

>>> import numpy as np
>>> hour = 3_600_000_000
>>> buckets = OpenBuckets(1, hour)
>>> step = buckets.fold(np.array(["p", "p", "p"]), np.array([0, hour // 2, hour + 1]), np.array([[1.0], [3.0], [7.0]]))
>>> step.means.tolist(), step.rank.tolist()
([[1.0], [2.0], [7.0]], [0, 0, 1])
>>> [(names.tolist(), starts.tolist(), means.tolist()) for names, starts, means in step.closed]
[([], [], []), (['p'], [0], [[2.0]])]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError, StateError
from forewarn.stream.features import assign_slots

NO_BUCKET = np.iinfo("int64").min  # an asset with no open bucket


@dataclass
class Folded:
    """What :meth:`OpenBuckets.fold` did with a batch of rows.

    ``means[i]``: row ``i``'s bucket mean after the row; ``rank[i]``: how many of its asset's buckets closed
    in this batch before row ``i``'s bucket (0 for the bucket that was open before the batch or the first new
    one). ``closed[k]`` lists the buckets that closed before rank ``k``: ``(assets, starts, means)``, at most one
    per asset, in time order per asset (a bucket closed before rank 0 is the one left open by the last batch).
    """

    means: np.ndarray
    rank: np.ndarray
    closed: list[tuple[np.ndarray, np.ndarray, np.ndarray]]


class OpenBuckets:
    """Each asset's still-filling bucket of ``channels`` readings, ``width_us`` wide (see the module docstring)."""

    def __init__(self, channels: int, width_us: int):
        if int(width_us) <= 0:
            raise SchemaError(f"a bucket must be at least 1 us wide, got {width_us}", column="interval")
        self.width = int(width_us)
        self.channels = int(channels)
        self._index: dict[str, int] = {}
        self._start = np.zeros(0, dtype="int64")
        self._sum = np.zeros((0, self.channels))
        self._count = np.zeros((0, self.channels), dtype="int64")

    @property
    def assets(self) -> list[str]:
        """Assets with an open bucket."""
        return [a for a, s in self._index.items() if self._start[s] != NO_BUCKET]

    def _slots(self, names: Sequence[str]) -> np.ndarray:
        slots = assign_slots(self._index, names)
        grow = len(self._index) - len(self._start)
        if grow > 0:
            extra = max(grow, len(self._start))
            self._start = np.concatenate([self._start, np.full(extra, NO_BUCKET, dtype="int64")])
            self._sum = np.concatenate([self._sum, np.zeros((extra, self.channels))])
            self._count = np.concatenate([self._count, np.zeros((extra, self.channels), dtype="int64")])
        return np.asarray(slots, dtype="int64")

    def bucket_of(self, ts_us: np.ndarray) -> np.ndarray:
        """The start of each instant's bucket (epoch microseconds, aligned on the Unix epoch)."""
        return np.floor_divide(np.asarray(ts_us, dtype="int64"), self.width) * self.width

    def fold(self, assets: np.ndarray | Sequence[str], ts_us: np.ndarray, values: np.ndarray) -> Folded:
        """Fold rows sorted by (asset, time) into the open buckets (see :class:`Folded`)."""
        values = np.asarray(values, dtype="float64")
        ts_us = np.asarray(ts_us, dtype="int64")
        n = len(values)
        if values.shape != (n, self.channels) or len(ts_us) != n:
            raise SchemaError(
                f"values must be (rows, {self.channels}) with one time per row, got {values.shape} "
                f"and {len(ts_us)} times",
                source="bucket",
            )
        if n == 0:
            return Folded(np.empty((0, self.channels)), np.empty(0, dtype="int64"), [])
        codes, uniques = pd.factorize(np.asarray(assets, dtype=object))
        slots = self._slots([str(u) for u in uniques])[codes]
        bucket = self.bucket_of(ts_us)
        new_asset = np.ones(n, dtype=bool)
        new_asset[1:] = codes[1:] != codes[:-1]
        if np.any(np.bincount(codes[new_asset], minlength=len(uniques)) != 1):
            raise SchemaError("rows must be grouped by asset", source="bucket")
        if np.any(~new_asset[1:] & (ts_us[1:] < ts_us[:-1])):
            raise SchemaError("rows must be in time order per asset", source="bucket")
        first = np.flatnonzero(new_asset)
        stored = self._start[slots[first]]
        if np.any((stored != NO_BUCKET) & (bucket[first] < stored)):
            raise SchemaError(
                "a row is older than its asset's open bucket; late rows must not reach it", source="bucket"
            )
        new_segment = new_asset.copy()
        new_segment[1:] |= bucket[1:] != bucket[:-1]
        segment = np.cumsum(new_segment) - 1
        starts = np.flatnonzero(new_segment)
        # rank of each segment within its asset, plus one when the first segment closes the stored bucket
        continues = (stored != NO_BUCKET) & (bucket[first] == stored)
        asset_of_segment = codes[starts]
        first_segment = np.searchsorted(starts, first)
        seg_rank = np.arange(len(starts)) - first_segment[asset_of_segment]
        # running sums per segment, started from the stored bucket where the batch continues it
        finite = np.isfinite(values)
        zeroed = np.where(finite, values, 0.0)
        base_sum = np.zeros((len(starts), self.channels))
        base_count = np.zeros((len(starts), self.channels), dtype="int64")
        cont_segments = first_segment[continues]
        base_sum[cont_segments] = self._sum[slots[first[continues]]]
        base_count[cont_segments] = self._count[slots[first[continues]]]
        sums = self._segment_cumsum(zeroed, new_segment, segment, base_sum)
        counts = self._segment_cumsum(finite.astype("int64"), new_segment, segment, base_count)
        means = np.divide(sums, counts, out=np.full(sums.shape, np.nan), where=counts > 0)
        ends = np.concatenate([starts[1:], [n]]) - 1  # last row of each segment
        closed: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        leaving = (stored != NO_BUCKET) & ~continues  # the stored bucket closes before the batch's first bucket
        rank_of_segment = seg_rank.copy()
        for k in range(int(seg_rank.max()) + 1):
            if k == 0:
                held = slots[first[leaving]]
                closed.append(
                    (
                        np.asarray(uniques[leaving], dtype=object),
                        self._start[held].copy(),
                        self._mean(self._sum[held], self._count[held]),
                    )
                )
            else:
                done = np.flatnonzero(seg_rank == k - 1)
                done = done[np.isin(done + 1, np.flatnonzero(seg_rank == k))]  # segments followed by a later one
                closed.append(
                    (np.asarray(uniques[asset_of_segment[done]], dtype=object), bucket[starts[done]], means[ends[done]])
                )
        # the new open buckets: each asset's last segment
        last = np.concatenate([first_segment[1:], [len(starts)]]) - 1
        held = slots[first]
        self._start[held] = bucket[starts[last]]
        self._sum[held] = sums[ends[last]]
        self._count[held] = counts[ends[last]]
        return Folded(means, rank_of_segment[segment], closed)

    @staticmethod
    def _segment_cumsum(
        values: np.ndarray, new_segment: np.ndarray, segment: np.ndarray, base: np.ndarray
    ) -> np.ndarray:
        """Cumulative sums of ``values`` within each segment, each starting from its ``base`` row: sequential sums,
        oldest reading first (pandas' grouped cumsum), so no segment's sum carries the rounding of another's."""
        out = values.astype(base.dtype, copy=True)
        out[new_segment] += base
        return pd.DataFrame(out).groupby(segment, sort=False).cumsum().to_numpy(dtype=base.dtype)

    @staticmethod
    def _mean(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        return np.divide(sums, counts, out=np.full(sums.shape, np.nan), where=counts > 0)

    # -- state ------------------------------------------------------------------------------------------
    def get_state(self, assets: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Named arrays: ``assets``, ``starts`` (epoch us), ``sums`` and ``counts`` of their open buckets."""
        names = (
            self.assets
            if assets is None
            else [a for a in assets if a in self._index and self._start[self._index[a]] != NO_BUCKET]
        )
        slots = np.asarray([self._index[a] for a in names], dtype="int64")
        return {
            "assets": np.asarray(names, dtype=str),
            "starts": self._start[slots].copy(),
            "sums": self._sum[slots].copy(),
            "counts": self._count[slots].copy(),
        }

    def set_state(self, state: dict[str, np.ndarray]) -> OpenBuckets:
        """Add or replace assets' open buckets from :meth:`get_state` output."""
        needed = ("assets", "starts", "sums", "counts")
        if any(k not in state for k in needed):
            raise StateError(f"open bucket state needs {', '.join(needed)}")
        names = [str(a) for a in np.asarray(state["assets"]).tolist()]
        sums = np.asarray(state["sums"], dtype="float64").reshape(len(names), -1)
        if sums.shape[1] != self.channels:
            raise StateError(f"open bucket state has {sums.shape[1]} channels; expected {self.channels}")
        slots = self._slots(names)
        self._start[slots] = np.asarray(state["starts"], dtype="int64")
        self._sum[slots] = sums
        self._count[slots] = np.asarray(state["counts"], dtype="int64").reshape(len(names), -1)
        return self
