"""Window features one reading (or micro-batch) at a time: the online twin of :func:`window_features`.

:class:`IncrementalWindowFeatures` keeps, per asset, the last ``window`` readings and the running exponential
mean, so a reading that arrives now gets exactly the features the batch function gives the same row of the
full history (same column names; the statistics come from the same kernel,
:func:`forewarn.features.kernel.window_stats`, and the exponential mean from its step,
:func:`forewarn.features.kernel.ewm_step`; the test suite checks the two agree). State is small
(``window`` rows per asset) and can be exported as named arrays for persistence.

>>> import pandas as pd
>>> online = IncrementalWindowFeatures(["temp"], window=2, stats=("mean", "slope"))
>>> online.update("pump-1", [10.0]).tolist(), online.update("pump-1", [12.0]).tolist()
([10.0, 0.0], [11.0, 2.0])
>>> batch = pd.DataFrame({"asset": ["pump-1", "pump-2"], "ts": [3, 1], "temp": [17.0, 5.0]})
>>> online.update_frame(batch, group="asset", order="ts").values.tolist()
[[14.5, 5.0], [5.0, 0.0]]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError, StateError
from forewarn.features.kernel import alpha_of, ewm_step, window_stats
from forewarn.features.window import DEFAULT_STATS, check_settings


@dataclass
class _AssetState:
    readings: deque[np.ndarray]
    ewm: np.ndarray
    last_order: Any = None
    seen: int = field(default=0)


class IncrementalWindowFeatures:
    """Per-asset trailing-window features updated reading by reading (same outputs as the batch function)."""

    def __init__(
        self, columns: Sequence[str], *, window: int = 30, stats: Sequence[str] = DEFAULT_STATS, ewm_span: float = 10
    ):
        check_settings(stats, window)
        if isinstance(columns, str):
            raise SchemaError("columns must be a list of column names, not one string", column=columns)
        self.columns = list(columns)
        self.window = int(window)
        self.stats = tuple(stats)
        self.ewm_span = float(ewm_span)
        self.alpha = alpha_of(self.ewm_span)
        self.assets: dict[Hashable, _AssetState] = {}

    @property
    def feature_names(self) -> list[str]:
        """Output column names, ``f"{col}__{stat}"`` in the batch function's order."""
        return [f"{col}__{stat}" for col in self.columns for stat in self.stats]

    def reset(self, asset: Hashable | None = None) -> None:
        """Forget one asset's history (after a repair, say) or every asset's (``None``)."""
        if asset is None:
            self.assets.clear()
        else:
            self.assets.pop(asset, None)

    def update(self, asset: Hashable, reading: Sequence[float] | np.ndarray, order: Any = None) -> np.ndarray:
        """Add one reading (values of ``columns``) of ``asset``; return its feature vector.

        ``order`` (a timestamp or cycle), when given, must increase per asset: a late reading cannot be
        inserted into a window that has already been scored.
        """
        x = np.asarray(reading, dtype="float64").reshape(-1)
        if len(x) != len(self.columns):
            raise SchemaError(
                f"reading has {len(x)} values, expected {len(self.columns)} ({', '.join(self.columns)})",
                source=f"asset {asset!r}",
            )
        state = self.assets.get(asset)
        if state is None:
            state = _AssetState(deque(maxlen=self.window), np.full(len(x), np.nan))
            self.assets[asset] = state
        if order is not None and state.last_order is not None and not order > state.last_order:
            raise StateError(
                f"asset {asset!r}: reading at {order!r} is not after the last one at "
                f"{state.last_order!r}; send each asset's readings in time order"
            )
        state.readings.append(x)
        state.last_order = order if order is not None else state.last_order
        state.seen += 1
        ewm_step(state.ewm, x, self.alpha)
        row: np.ndarray = window_stats(np.vstack(state.readings)[None], self.stats, ewm=state.ewm[None])[0]
        return row

    def update_frame(self, frame: pd.DataFrame, *, group: str, order: str) -> pd.DataFrame:
        """A micro-batch of readings (any assets); rows are taken in ``order`` per asset. Same index as ``frame``."""
        missing = [c for c in (group, order, *self.columns) if c not in frame.columns]
        if missing:
            raise SchemaError(f"missing column(s) {', '.join(map(repr, missing))}", source="micro-batch")
        values = frame[self.columns].to_numpy(dtype="float64", na_value=np.nan)
        sequence = np.argsort(frame[order].to_numpy(), kind="stable")
        out = np.empty((len(frame), len(self.feature_names)))
        assets = frame[group].to_numpy()
        orders = frame[order].to_numpy()
        for row in sequence:
            out[row] = self.update(assets[row], values[row], orders[row])
        return pd.DataFrame(out, index=frame.index, columns=self.feature_names)

    # -- state as named arrays --------------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """Every asset's buffer, exponential mean and reading count as named arrays (asset ids as text)."""
        names = list(self.assets)
        width = len(self.columns)
        buffers = np.full((len(names), self.window, width), np.nan)
        lengths = np.zeros(len(names), dtype="int64")
        for i, name in enumerate(names):
            rows = list(self.assets[name].readings)
            lengths[i] = len(rows)
            if rows:
                buffers[i, self.window - len(rows) :] = np.vstack(rows)
        return {
            "assets": np.asarray([str(n) for n in names], dtype=str),
            "buffers": buffers,
            "lengths": lengths,
            "ewm": np.asarray([self.assets[n].ewm for n in names]).reshape(len(names), width),
            "seen": np.asarray([self.assets[n].seen for n in names], dtype="int64"),
        }

    def set_state(self, state: dict[str, np.ndarray]) -> IncrementalWindowFeatures:
        """Restore :meth:`get_state` output (asset ids come back as strings; the order check restarts)."""
        needed = ("assets", "buffers", "lengths", "ewm", "seen")
        if any(k not in state for k in needed):
            raise StateError(f"incremental feature state needs {', '.join(needed)}")
        self.assets = {}
        for i, name in enumerate(np.asarray(state["assets"]).tolist()):
            length = int(state["lengths"][i])
            rows = deque((np.array(r) for r in state["buffers"][i, self.window - length :]), maxlen=self.window)
            self.assets[name] = _AssetState(
                rows, np.array(state["ewm"][i], dtype="float64"), seen=int(state["seen"][i])
            )
        return self
