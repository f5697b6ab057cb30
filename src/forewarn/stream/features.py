"""Window features for a micro-batch of many assets at once, with the state of the one-reading-at-a-time version.

:class:`~forewarn.features.incremental.IncrementalWindowFeatures` updates one reading at a time (about 150 us a
row with 16 channels), too slow for 50,000 readings a second on two cores. :class:`MicroBatchFeatures` gives
the same numbers for a whole micro-batch with array operations: each new row's trailing window is gathered from
the asset's stored window plus the batch's earlier rows into one ``(rows, window, channels)`` block, and the
statistics are those of the window kernel (:func:`forewarn.features.kernel.window_stats`, shared with the batch,
incremental and serving paths); the exponential mean runs its step (:func:`forewarn.features.kernel.ewm_step`)
once per row rank, vectorised across assets. Its state is, asset by asset, exactly the named-array state of
``IncrementalWindowFeatures`` (``buffers``, ``lengths``, ``ewm``, ``seen``), so either can continue from the other;
the tests check both against :func:`~forewarn.features.window.window_features`.

With ``sequence=True`` the features are a sequence model's input instead of statistics: each row's window of
readings itself (``f"{column}__t{k}"``, :func:`forewarn.features.kernel.sequence_steps`), as a servable bundle's
:meth:`~forewarn.bundles.bundle.ServingSpec.window_frame` gives it. The window then stores each asset's rows with
missing readings carried forward from its earlier rows (the bundle fills them so over the asset's whole history),
so a gap longer than the window still reads the last value seen, and a channel with none yet reads what
``absent`` gives the row's asset (its class's training means, :meth:`~forewarn.bundles.bundle.ServingSpec.absent`;
0 without it, as a bundle without class means reads it).

>>> import numpy as np
>>> online = MicroBatchFeatures(["temp"], window=2, stats=("mean", "slope"))
>>> online.update(np.array(["p1", "p1"]), np.array([[10.0], [12.0]])).tolist()
[[10.0, 0.0], [11.0, 2.0]]
>>> online.update(np.array(["p1", "p2"]), np.array([[17.0], [5.0]])).tolist()
[[14.5, 5.0], [5.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError, StateError
from forewarn.features.kernel import alpha_of, ewm_step, sequence_steps, window_stats
from forewarn.features.window import DEFAULT_STATS, check_settings

CHUNK_ROWS = 4096  # rows per gathered block: bounds memory at rows * window * channels * 8 bytes


def assign_slots(index: dict[str, int], names: Iterable[str]) -> list[int]:
    """The row of each name in per-asset state arrays, new names taking the next free rows (``index`` grows).

    >>> index = {"p1": 0}
    >>> assign_slots(index, ["p2", "p1", "p2"]), index
    ([1, 0, 1], {'p1': 0, 'p2': 1})
    """
    slots = []
    for name in names:
        slot = index.get(name)
        if slot is None:
            slot = index[name] = len(index)
        slots.append(slot)
    return slots


class MicroBatchFeatures:
    """Per-asset trailing-window features of ``columns`` (same names and values as the batch function)."""

    def __init__(
        self,
        columns: Sequence[str],
        *,
        window: int = 30,
        stats: Sequence[str] = DEFAULT_STATS,
        ewm_span: float = 10.0,
        sequence: bool = False,
        absent: Callable[[Sequence[str]], np.ndarray | None] | None = None,
    ):
        self.sequence = bool(sequence)
        #: a sequence model's absent channels: asset ids -> what each reads ``(assets, columns)`` (None: 0)
        self.absent = absent
        check_settings(stats if not self.sequence else DEFAULT_STATS, window)
        self.columns = list(columns)
        self.window = int(window)
        self.stats = () if self.sequence else tuple(stats)
        self.alpha = alpha_of(ewm_span)
        self._index: dict[str, int] = {}
        width = len(self.columns)
        self._buf = np.full((0, self.window, width), np.nan)
        self._len = np.zeros(0, dtype="int64")
        self._ewm = np.full((0, width), np.nan)
        self._seen = np.zeros(0, dtype="int64")

    @property
    def feature_names(self) -> list[str]:
        """``f"{column}__{stat}"``, in the order of the batch function (``f"{column}__t{k}"`` with ``sequence``)."""
        if self.sequence:
            return [f"{col}__t{k}" for col in self.columns for k in range(self.window)]
        return [f"{col}__{stat}" for col in self.columns for stat in self.stats]

    @property
    def assets(self) -> list[str]:
        """Assets with state."""
        return list(self._index)

    def _slots(self, names: Iterable[str]) -> np.ndarray:
        slots = assign_slots(self._index, names)
        grow = len(self._index) - len(self._len)
        if grow > 0:
            extra = max(grow, len(self._len))
            width = len(self.columns)
            self._buf = np.concatenate([self._buf, np.full((extra, self.window, width), np.nan)])
            self._len = np.concatenate([self._len, np.zeros(extra, dtype="int64")])
            self._ewm = np.concatenate([self._ewm, np.full((extra, width), np.nan)])
            self._seen = np.concatenate([self._seen, np.zeros(extra, dtype="int64")])
        return np.asarray(slots, dtype="int64")

    def update(self, assets: np.ndarray | Sequence[str], values: np.ndarray) -> np.ndarray:
        """Add rows (``values[i]`` of ``assets[i]``, taken in the given order per asset); return their features.

        Returns an array ``(rows, len(feature_names))`` aligned with the input rows.
        """
        values = np.asarray(values, dtype="float64")
        if values.ndim != 2 or values.shape[1] != len(self.columns):
            raise SchemaError(
                f"values must be (rows, {len(self.columns)}) for {', '.join(self.columns)}, got shape {values.shape}",
                source="micro-batch",
            )
        n = len(values)
        if n == 0:
            return np.empty((0, len(self.feature_names)))
        codes, uniques = pd.factorize(np.asarray(assets, dtype=object))
        if len(codes) != n:
            raise SchemaError(f"{len(codes)} asset ids for {n} rows", source="micro-batch")
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        counts = np.bincount(codes, minlength=len(uniques))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.arange(n) - starts[sorted_codes]
        slots = self._slots(str(u) for u in uniques)
        lengths = self._len[slots]
        fresh = values[order]
        if self.sequence:
            fresh = self._carried(slots, sorted_codes, fresh)
        # one addressable block: the assets' stored windows, then the batch's rows grouped by asset
        block = np.concatenate([self._buf[slots].reshape(-1, len(self.columns)), fresh])

        def address(code: np.ndarray, pos: np.ndarray) -> np.ndarray:
            """Index in ``block`` of the asset's ``pos``-th row (0 = oldest stored), for pos >= 0."""
            stored = pos < lengths[code]
            return np.where(
                stored,
                code * self.window + self.window - lengths[code] + pos,
                len(slots) * self.window + starts[code] + pos - lengths[code],
            )

        out = np.empty((n, len(self.feature_names)))
        # a sequence model reads no exponential mean: its step loop (one round per row rank) is not run
        ewm = None if self.sequence else self._ewm_steps(slots, fresh, counts)
        fills = self._absent([str(u) for u in uniques]) if self.sequence else None
        places = np.arange(self.window)[:, None] - (self.window - 1)
        for lo in range(0, n, CHUNK_ROWS):
            part = slice(lo, min(n, lo + CHUNK_ROWS))
            code, pos = sorted_codes[part], lengths[sorted_codes[part]] + rank[part]
            wanted = places + pos[None, :]  # window-major (window, rows): the kernel sums whole rows
            absent = wanted < 0
            data = block[address(np.broadcast_to(code[None, :], wanted.shape), np.maximum(wanted, 0))]
            if absent.any():
                data[absent] = np.nan
            if ewm is None:
                fill = None if fills is None else fills[code]
                out[order[part]] = sequence_steps(data.transpose(1, 0, 2), absent.sum(axis=0), fill)
            else:
                out[order[part]] = window_stats(
                    data.transpose(1, 0, 2), self.stats, ewm=ewm[part], pad=absent.sum(axis=0)
                )
        # new state: the last `window` rows of each asset, its exponential mean and count
        total = lengths + counts
        keep = total[:, None] - self.window + np.arange(self.window)[None, :]
        kept = block[address(np.broadcast_to(np.arange(len(slots))[:, None], keep.shape), np.maximum(keep, 0))]
        kept[keep < 0] = np.nan
        self._buf[slots] = kept
        self._len[slots] = np.minimum(total, self.window)
        self._seen[slots] += counts
        return out

    def peek(self, assets: np.ndarray | Sequence[str], values: np.ndarray) -> np.ndarray:
        """The features each row would get as the next row of its asset, every row on its own; the state is unchanged.

        What an open (still-filling) bucket is scored with: the asset's last ``window - 1`` stored rows and this row,
        the exponential mean stepped once with it (:meth:`update` of that one row gives the same numbers).

        >>> online = MicroBatchFeatures(["temp"], window=2, stats=("mean", "last"))
        >>> online.update(np.array(["p1"]), np.array([[10.0]])).tolist()
        [[10.0, 10.0]]
        >>> online.peek(np.array(["p1", "p1", "p2"]), np.array([[12.0], [20.0], [5.0]])).tolist()
        [[11.0, 12.0], [15.0, 20.0], [5.0, 5.0]]
        """
        values = np.asarray(values, dtype="float64")
        width = len(self.columns)
        if values.ndim != 2 or values.shape[1] != width:
            raise SchemaError(
                f"values must be (rows, {width}) for {', '.join(self.columns)}, got shape {values.shape}",
                source="micro-batch",
            )
        n = len(values)
        slots = np.fromiter((self._index.get(str(a), -1) for a in assets), dtype="int64", count=n)
        block = np.full((n, self.window, width), np.nan)
        lengths = np.zeros(n, dtype="int64")
        ewm = np.full((n, width), np.nan)
        known = slots >= 0
        if known.any():
            held = slots[known]
            block[known, :-1] = self._buf[held, 1:]
            lengths[known] = self._len[held]
            ewm[known] = self._ewm[held]
        pad = np.maximum(self.window - 1 - lengths, 0)
        if self.sequence:
            last = np.full((n, width), np.nan)
            last[known] = self._buf[slots[known], -1]
            block[:, -1] = np.where(np.isnan(values), last, values)
            return sequence_steps(block, pad, self._absent([str(a) for a in assets]))
        block[:, -1] = values
        ewm = ewm_step(ewm, values, self.alpha)
        return window_stats(block, self.stats, ewm=ewm, pad=pad)

    def _absent(self, assets: list[str]) -> np.ndarray | None:
        """What the absent channels of each asset read (:attr:`absent`; None: 0)."""
        return None if self.absent is None else self.absent(assets)

    def _carried(self, slots: np.ndarray, sorted_codes: np.ndarray, fresh: np.ndarray) -> np.ndarray:
        """``fresh`` (rows grouped by asset code, in time order) with each missing reading carried forward from the
        asset's earlier rows: the batch's, else the last stored one (missing when the asset has none yet)."""
        stored = self._buf[slots, -1]  # the newest stored row of each asset (NaN rows for a new asset)
        keys = np.concatenate([np.arange(len(slots)), sorted_codes])
        rows = np.concatenate([stored, fresh])
        ordered = np.argsort(keys, kind="stable")  # each asset's stored row first, then its new rows
        filled = pd.DataFrame(rows[ordered]).groupby(keys[ordered]).ffill().to_numpy(dtype="float64")
        out = np.empty_like(rows)
        out[ordered] = filled
        return out[len(slots) :]

    def _ewm_steps(self, slots: np.ndarray, fresh: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Exponential mean of every sorted row: one vectorised step per row rank, across all assets."""
        state = self._ewm[slots].copy()
        out = np.empty_like(fresh)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        for step in range(int(counts.max())):
            code = np.flatnonzero(counts > step)
            rows = starts[code] + step
            state[code] = out[rows] = ewm_step(state[code], fresh[rows], self.alpha)
        self._ewm[slots] = state
        return out

    # -- state ------------------------------------------------------------------------------------------
    def get_state(self, assets: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Named arrays in the layout of ``IncrementalWindowFeatures.get_state`` (all assets, or ``assets``)."""
        names = list(self._index) if assets is None else [a for a in assets if a in self._index]
        slots = np.asarray([self._index[a] for a in names], dtype="int64")
        return {
            "assets": np.asarray(names, dtype=str),
            "buffers": self._buf[slots].copy(),
            "lengths": self._len[slots].copy(),
            "ewm": self._ewm[slots].copy(),
            "seen": self._seen[slots].copy(),
        }

    def set_state(self, state: dict[str, np.ndarray]) -> MicroBatchFeatures:
        """Add or replace assets from :meth:`get_state` (or ``IncrementalWindowFeatures.get_state``) output."""
        needed = ("assets", "buffers", "lengths", "ewm", "seen")
        if any(k not in state for k in needed):
            raise StateError(f"window feature state needs {', '.join(needed)}")
        buffers = np.asarray(state["buffers"], dtype="float64")
        names = [str(a) for a in np.asarray(state["assets"]).tolist()]
        if buffers.shape[1:] != (self.window, len(self.columns)) or len(buffers) != len(names):
            raise StateError(
                f"window feature state has buffers of shape {buffers.shape}; expected "
                f"({len(names)}, {self.window}, {len(self.columns)}) for window={self.window} and "
                f"columns {', '.join(self.columns)}"
            )
        slots = self._slots(names)
        self._buf[slots] = buffers
        self._len[slots] = np.asarray(state["lengths"], dtype="int64")
        self._ewm[slots] = np.asarray(state["ewm"], dtype="float64").reshape(len(names), len(self.columns))
        self._seen[slots] = np.asarray(state["seen"], dtype="int64")
        return self
