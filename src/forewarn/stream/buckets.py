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

**Channels recorded on change** (a *hold*, :mod:`forewarn.store.hold`: a historian's deadband, a report by
exception; :meth:`OpenBuckets.set_holds`, which :class:`~forewarn.stream.scoring.ModelRunner` reads from the store
the stream writes to). The store weighs a held channel's bucket by time: each reading's value holds from its time
until the channel's next reading, at most ``hold`` later, and never past the asset's newest reading (of any
channel); the bucket's value is the time-weighted mean of the values holding in it. :class:`OpenBuckets` keeps the
same account online, per asset and held channel: the last value and its time, and the value-time and the time
covered so far in the open bucket, up to the asset's newest row (its *mark*). A row at a later time first extends
every held value from the mark to the row (at most to its hold's end), bucket by bucket, then takes the row's
readings. So:

* a **closed** bucket's held value is the time-weighted mean over the bucket, as
  ``Store.readings(asset, resample=interval, wide=True)`` gives it once the asset has a later reading;
* a row's **open** bucket value of a held channel is the time-weighted mean over the part of the bucket covered
  up to the row, its own instant counted as one microsecond (the store's rule for the asset's newest reading: the
  offline value of the history up to that row);
* a held value that carries into a bucket with no reading of the asset closes that bucket too (a row of the
  store's wide frame, NaN for the other channels); a bucket that nothing covers is no row, as in the store.

Unheld channels keep the plain mean of their readings. With no held channel the fold is the vectorised one above;
with one it is vectorised too (:meth:`OpenBuckets._fold_held`: between two rows of an asset each held channel holds
one value, so the carry is one piece per row and channel, cut at the buckets it crosses), about 2x the plain fold's
cost (``benchmarks/held_stream_fold.py``: 1.5 against 0.7 us a row of 10 channels at load 2; 42 us row by row before).

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError, StateError
from forewarn.stream.features import assign_slots

NO_BUCKET = np.iinfo("int64").min  # an asset with no open bucket
#: the state of held channels (:meth:`OpenBuckets.get_state` name -> attribute without its underscore)
HELD_STATE = {
    "last_values": "last_value",
    "last_times": "last_time",
    "held_sums": "held_sum",
    "held_times": "held_time",
    "marks": "mark",
}


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
        # channels recorded on change (module text): each asset's holds (us, 0: not held), each held channel's last
        # value and its time, the value-time and time covered in the open bucket, and the asset's newest row
        self._hold = np.zeros((0, self.channels), dtype="int64")
        self._last_value = np.full((0, self.channels), np.nan)
        self._last_time = np.zeros((0, self.channels), dtype="int64")
        self._held_sum = np.zeros((0, self.channels))
        self._held_time = np.zeros((0, self.channels), dtype="int64")
        self._mark = np.zeros(0, dtype="int64")

    @property
    def assets(self) -> list[str]:
        """Assets with an open bucket."""
        return [a for a, s in self._index.items() if self._start[s] != NO_BUCKET]

    def _slots(self, names: Sequence[str]) -> np.ndarray:
        slots = assign_slots(self._index, names)
        grow = len(self._index) - len(self._start)
        if grow > 0:
            extra = max(grow, len(self._start))
            wide = (extra, self.channels)
            self._start = np.concatenate([self._start, np.full(extra, NO_BUCKET, dtype="int64")])
            self._sum = np.concatenate([self._sum, np.zeros(wide)])
            self._count = np.concatenate([self._count, np.zeros(wide, dtype="int64")])
            self._hold = np.concatenate([self._hold, np.zeros(wide, dtype="int64")])
            self._last_value = np.concatenate([self._last_value, np.full(wide, np.nan)])
            self._last_time = np.concatenate([self._last_time, np.zeros(wide, dtype="int64")])
            self._held_sum = np.concatenate([self._held_sum, np.zeros(wide)])
            self._held_time = np.concatenate([self._held_time, np.zeros(wide, dtype="int64")])
            self._mark = np.concatenate([self._mark, np.full(extra, NO_BUCKET, dtype="int64")])
        return np.asarray(slots, dtype="int64")

    def set_holds(self, holds: Mapping[str, Sequence[int] | np.ndarray]) -> None:
        """Each asset's channels' holds in microseconds (0: not held; an asset not named holds none): its readings
        of a held channel are weighed by time (module text). A hold set while the stream runs counts from the
        channel's next reading."""
        self._hold[:] = 0
        for asset, micros in holds.items():
            row = np.asarray(micros, dtype="int64").reshape(-1)
            if row.shape != (self.channels,) or np.any(row < 0):
                raise SchemaError(
                    f"asset {asset!r}: holds must be {self.channels} non-negative microseconds, one per channel",
                    source="bucket",
                )
            slot = self._slots([str(asset)])[0]  # first: it may grow the arrays
            self._hold[slot] = row

    @property
    def held(self) -> bool:
        """Whether any channel of any asset is held."""
        return bool(self._hold.any())

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
        if self.held:
            return self._fold_held(np.asarray(uniques, dtype=object), codes, slots, ts_us, values)
        self._mark[slots[first]] = ts_us[np.concatenate([first[1:], [n]]) - 1]
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

    def _fold_held(
        self, uniques: np.ndarray, codes: np.ndarray, slots: np.ndarray, ts_us: np.ndarray, values: np.ndarray
    ) -> Folded:
        """:meth:`fold` with held channels weighed by time (module text), vectorised over the batch.

        Between two rows of an asset (or its mark and its first row) each held channel holds one value, the last
        one read, so the *gap* before row ``i`` is one piece per channel, ``[previous row, min(row, hold's end))``.
        When row ``i`` opens a later bucket, the gap closes the open bucket (its part up to that bucket's end), then
        every bucket after it that a held value reaches before row ``i``'s bucket (*carried* buckets: one piece
        each), and its part from its own bucket's start to the row starts that bucket. Sums within a bucket run
        oldest piece first (:meth:`_segment_cumsum`), continuing the stored bucket's account. Ranks
        and closed buckets as :class:`Folded` says: an asset's ``j``-th closed bucket in the batch (0-based, the
        one left open by the last batch included) goes to ``closed[j + 1 - s]``, ``s`` 1 when that stored bucket
        closes before the asset's first row, and a row's rank is the number of buckets closed before it, less
        ``s``."""
        n, w = len(values), self.width
        rows = np.arange(n)
        new_asset = np.ones(n, dtype=bool)
        new_asset[1:] = codes[1:] != codes[:-1]
        first = np.flatnonzero(new_asset)
        asset_of_row = np.cumsum(new_asset) - 1
        last = np.r_[first[1:], n] - 1
        own_slots = slots[first]
        hold = self._hold[slots]
        held = hold > 0
        bucket = self.bucket_of(ts_us)
        # each row's open bucket and mark before it: the previous row's, or the stored ones for an asset's first row
        before_bucket = np.r_[NO_BUCKET, bucket[:-1]]
        before_bucket[first] = self._start[own_slots]
        before_mark = np.r_[NO_BUCKET, ts_us[:-1]]
        before_mark[first] = self._mark[own_slots]
        # each held channel's last value and its time after each row (the stored ones until the asset reads it)
        renewed = held & np.isfinite(values)
        latest = np.maximum.accumulate(np.where(renewed, rows[:, None], -1), axis=0)
        read = latest >= first[asset_of_row][:, None]
        latest = np.maximum(latest, 0)
        after_value = np.where(read, values[latest, np.arange(self.channels)], self._last_value[slots])
        after_time = np.where(read, ts_us[latest], self._last_time[slots])
        gap_value = np.r_[after_value[:1], after_value[:-1]]
        gap_value[first] = self._last_value[own_slots]
        gap_time = np.r_[after_time[:1], after_time[:-1]]
        gap_time[first] = self._last_time[own_slots]
        # the gap before each row: held values carried from the mark, each to its hold's end (or the row)
        carry = (before_bucket != NO_BUCKET) & (before_mark != NO_BUCKET) & (ts_us > before_mark)
        active = held & np.isfinite(gap_value) & carry[:, None]
        reach = np.where(active, gap_time + hold, before_mark[:, None])
        closes = (before_bucket != NO_BUCKET) & (bucket != before_bucket)
        # buckets after the open one that a held value reaches before the row's: those at open + k * width < reach
        opened = np.where(closes, before_bucket, bucket)
        carried = np.where(closes & carry, np.maximum((np.minimum(bucket, reach.max(axis=1)) - opened - 1) // w, 0), 0)
        # the gap's piece in the row's own bucket, summed per (asset, bucket) segment from the stored bucket's account
        into_row = self._covered(active, reach, np.maximum(before_mark, bucket), ts_us)
        new_segment = new_asset | closes
        segment = np.cumsum(new_segment) - 1
        continues = first[(before_bucket[first] != NO_BUCKET) & ~closes[first]]
        cont_segments = segment[continues]
        plain = np.isfinite(values) & ~held

        def run(parts: list[np.ndarray], stored: list[np.ndarray]) -> list[np.ndarray]:
            """Running sums per segment of several (rows, channels) parts side by side (one grouped cumsum)."""
            base = np.zeros((int(segment[-1]) + 1, self.channels * len(parts)), dtype=stored[0].dtype)
            base[cont_segments] = np.hstack([state[slots[continues]] for state in stored])
            return np.hsplit(self._segment_cumsum(np.hstack(parts), new_segment, segment, base), len(parts))

        sums, held_sums = run(
            [np.where(plain, values, 0.0), self._value_time(gap_value, into_row)],
            [self._sum, self._held_sum],
        )
        counts, held_times = run([plain.astype("int64"), into_row], [self._count, self._held_time])
        holding = held & np.isfinite(after_value) & (ts_us[:, None] < after_time + hold)
        means = self._held_mean(
            sums, counts, held, held_sums + np.where(holding, after_value, 0.0), held_times + holding.astype("float64")
        )
        # closed buckets: each closing row's open bucket (its account before the row, plus the gap's piece up to
        # the bucket's end), then the buckets the gap carries into
        events = np.where(closes, 1 + carried, 0)
        counted = np.cumsum(events)
        counted -= (counted - events)[first][asset_of_row]  # per asset, the row's events included
        shift = closes[first].astype("int64")
        rank = counted - shift[asset_of_row]
        ending = np.flatnonzero(closes)
        stored_end = new_asset[ending]
        previous = np.maximum(ending - 1, 0)

        def before(rows_of: np.ndarray, stored: np.ndarray) -> np.ndarray:
            return np.where(stored_end[:, None], stored[slots[ending]], rows_of[previous])

        up_to_end = self._covered(active[ending], reach[ending], before_mark[ending], before_bucket[ending] + w)
        end_means = self._held_mean(
            before(sums, self._sum),
            before(counts, self._count),
            held[ending],
            before(held_sums, self._held_sum) + self._value_time(gap_value[ending], up_to_end),
            (before(held_times, self._held_time) + up_to_end).astype("float64"),
        )
        gapped = np.repeat(ending, carried[ending])
        step = np.arange(len(gapped)) - np.repeat(np.cumsum(carried[ending]) - carried[ending], carried[ending]) + 1
        carry_starts = before_bucket[gapped] + step * w
        in_carried = self._covered(active[gapped], reach[gapped], carry_starts, carry_starts + w)
        nothing = np.zeros((len(gapped), self.channels))
        carry_means = self._held_mean(
            nothing,
            nothing,
            held[gapped],
            0.0 + self._value_time(gap_value[gapped], in_carried),
            in_carried.astype("float64"),
        )
        order_of = np.r_[counted[ending] - events[ending] + 1, counted[gapped] - events[gapped] + 1 + step]
        order_of -= shift[asset_of_row[np.r_[ending, gapped]]]
        asset_of_event = asset_of_row[np.r_[ending, gapped]]
        ordered = np.lexsort((asset_of_event, order_of))
        names = np.asarray(uniques, dtype=object)[asset_of_event][ordered]
        starts = np.r_[before_bucket[ending], carry_starts][ordered]
        closed_means = np.concatenate([end_means, carry_means])[ordered]
        cuts = np.searchsorted(order_of[ordered], np.arange(1, int(rank.max()) + 1))
        closed = list(zip(np.split(names, cuts), np.split(starts, cuts), np.split(closed_means, cuts), strict=True))
        # the new open buckets: each asset's last row's account
        self._start[own_slots] = bucket[last]
        self._sum[own_slots] = sums[last]
        self._count[own_slots] = counts[last]
        self._held_sum[own_slots] = held_sums[last]
        self._held_time[own_slots] = held_times[last]
        self._last_value[own_slots] = after_value[last]
        self._last_time[own_slots] = after_time[last]
        self._mark[own_slots] = ts_us[last]
        return Folded(means, rank, closed)

    @staticmethod
    def _covered(active: np.ndarray, reach: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Microseconds of ``[lo, hi)`` (per row) that each active held value covers (it holds until ``reach``)."""
        return np.where(
            active, np.clip(np.minimum(reach, np.asarray(hi)[:, None]) - np.asarray(lo)[:, None], 0, None), 0
        )

    @staticmethod
    def _held_mean(
        sums: np.ndarray, counts: np.ndarray, held: np.ndarray, held_sums: np.ndarray, held_weights: np.ndarray
    ) -> np.ndarray:
        """A bucket's value per row: plain channels' means; held channels' value-time over the time covered."""
        return np.where(held, OpenBuckets._mean(held_sums, held_weights), OpenBuckets._mean(sums, counts))

    @staticmethod
    def _value_time(values: np.ndarray, covered: np.ndarray) -> np.ndarray:
        """Value x microseconds of held values over the time each covers (0 where it covers none)."""
        return np.where(covered > 0, values, 0.0) * covered

    @staticmethod
    def _segment_cumsum(
        values: np.ndarray, new_segment: np.ndarray, segment: np.ndarray, base: np.ndarray
    ) -> np.ndarray:
        """Cumulative sums of ``values`` within each segment, each starting from its ``base`` row: sequential sums,
        oldest reading first (pandas' grouped cumsum), so no segment's sum carries the rounding of another's;
        integers (exact) as one running sum less each segment's start."""
        out = values.astype(base.dtype, copy=True)
        out[new_segment] += base
        if base.dtype.kind != "i":
            return pd.DataFrame(out).groupby(segment, sort=False).cumsum().to_numpy(dtype=base.dtype)
        running = np.cumsum(out, axis=0)
        starts = np.flatnonzero(new_segment)
        return running - (running[starts] - out[starts])[segment]

    @staticmethod
    def _mean(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        return np.divide(sums, counts, out=np.full(sums.shape, np.nan), where=counts > 0)

    # -- state ------------------------------------------------------------------------------------------
    def get_state(self, assets: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Named arrays: ``assets``, ``starts`` (epoch us), ``sums`` and ``counts`` of their open buckets, and what
        held channels need (module text): ``last_values``, ``last_times``, ``held_sums``, ``held_times`` and
        ``marks`` (each asset's newest row, epoch us)."""
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
            **{name: getattr(self, f"_{key}")[slots].copy() for name, key in HELD_STATE.items()},
        }

    def set_state(self, state: dict[str, np.ndarray]) -> OpenBuckets:
        """Add or replace assets' open buckets from :meth:`get_state` output."""
        needed = ("assets", "starts", "sums", "counts")
        if any(k not in state for k in needed):
            raise StateError(f"open bucket state needs {', '.join(needed)}")
        names = [str(a) for a in np.asarray(state["assets"]).tolist()]
        if not names:  # the state of buckets none of which is open yet
            return self
        sums = np.asarray(state["sums"], dtype="float64").reshape(len(names), -1)
        if sums.shape[1] != self.channels:
            raise StateError(f"open bucket state has {sums.shape[1]} channels; expected {self.channels}")
        slots = self._slots(names)
        self._start[slots] = np.asarray(state["starts"], dtype="int64")
        self._sum[slots] = sums
        self._count[slots] = np.asarray(state["counts"], dtype="int64").reshape(len(names), -1)
        # a state saved before holds were kept: no held value carries over (it counts from the next reading)
        for name, key in HELD_STATE.items():
            target = getattr(self, f"_{key}")
            if name in state:
                target[slots] = np.asarray(state[name], dtype=target.dtype).reshape(target[slots].shape)
            else:
                target[slots] = np.nan if key == "last_value" else (NO_BUCKET if key == "mark" else 0)
        return self
