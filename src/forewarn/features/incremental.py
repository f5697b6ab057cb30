"""Window features one reading (or micro-batch) at a time: the online twin of :func:`window_features`.

:class:`IncrementalWindowFeatures` keeps, per asset, the last ``window`` readings and the running exponential
mean, so a reading that arrives now gets exactly the features the batch function gives the same row of the
full history (same column names, same definitions; the test suite checks the two agree). State is small
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
from forewarn.features.window import DEFAULT_STATS, check_settings


@dataclass
class _AssetState:
    readings: deque[np.ndarray]
    ewm: np.ndarray
    last_order: Any = None
    seen: int = field(default=0)


class IncrementalWindowFeatures:
    """Per-asset trailing-window features updated reading by reading (same outputs as the batch function)."""

    def __init__(self, columns: Sequence[str], *, window: int = 30, stats: Sequence[str] = DEFAULT_STATS,
                 ewm_span: float = 10):
        check_settings(stats, window)
        if isinstance(columns, str):
            raise SchemaError("columns must be a list of column names, not one string", column=columns)
        self.columns = list(columns)
        self.window = int(window)
        self.stats = tuple(stats)
        self.ewm_span = float(ewm_span)
        self.alpha = 2.0 / (self.ewm_span + 1.0)
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
            raise SchemaError(f"reading has {len(x)} values, expected {len(self.columns)} ({', '.join(self.columns)})",
                              source=f"asset {asset!r}")
        state = self.assets.get(asset)
        if state is None:
            state = _AssetState(deque(maxlen=self.window), np.full(len(x), np.nan))
            self.assets[asset] = state
        if order is not None and state.last_order is not None and not order > state.last_order:
            raise StateError(f"asset {asset!r}: reading at {order!r} is not after the last one at "
                             f"{state.last_order!r}; send each asset's readings in time order")
        state.readings.append(x)
        state.last_order = order if order is not None else state.last_order
        state.seen += 1
        observed = np.isfinite(x)
        first = observed & ~np.isfinite(state.ewm)
        state.ewm = np.where(first, x, state.ewm)
        blend = observed & ~first
        state.ewm[blend] = (1.0 - self.alpha) * state.ewm[blend] + self.alpha * x[blend]
        return self._features(np.vstack(state.readings), state.ewm)

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

    def _features(self, window: np.ndarray, ewm: np.ndarray) -> np.ndarray:
        valid = np.isfinite(window)
        count = valid.sum(axis=0)
        has = count > 0
        filled = np.where(valid, window, 0.0)
        mean = np.divide(filled.sum(axis=0), count, out=np.full(window.shape[1], np.nan), where=has)
        computed: dict[str, np.ndarray] = {"mean": mean, "last": window[-1], "ewm": ewm.copy(),
                                           "diff": window[-1] - window[0]}
        deviation = np.where(valid, window - mean, 0.0)
        computed["std"] = np.sqrt(np.divide((deviation**2).sum(axis=0), count, out=np.full_like(mean, np.nan),
                                            where=has))
        computed["min"] = np.where(has, np.where(valid, window, np.inf).min(axis=0), np.nan)
        computed["max"] = np.where(has, np.where(valid, window, -np.inf).max(axis=0), np.nan)
        t = np.arange(len(window), dtype="float64")[:, None]
        mean_t = np.divide(np.where(valid, t, 0.0).sum(axis=0), count, out=np.zeros_like(mean), where=has)
        t_dev = np.where(valid, t - mean_t, 0.0)
        var_t = (t_dev**2).sum(axis=0)
        slope = np.divide((t_dev * deviation).sum(axis=0), var_t, out=np.zeros_like(mean), where=var_t > 1e-9)
        computed["slope"] = np.where(has, slope, np.nan)
        return np.stack([computed[s] for s in self.stats], axis=1).reshape(-1)

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
                buffers[i, self.window - len(rows):] = np.vstack(rows)
        return {"assets": np.asarray([str(n) for n in names], dtype=str), "buffers": buffers, "lengths": lengths,
                "ewm": np.asarray([self.assets[n].ewm for n in names]).reshape(len(names), width),
                "seen": np.asarray([self.assets[n].seen for n in names], dtype="int64")}

    def set_state(self, state: dict[str, np.ndarray]) -> IncrementalWindowFeatures:
        """Restore :meth:`get_state` output (asset ids come back as strings; the order check restarts)."""
        needed = ("assets", "buffers", "lengths", "ewm", "seen")
        if any(k not in state for k in needed):
            raise StateError(f"incremental feature state needs {', '.join(needed)}")
        self.assets = {}
        for i, name in enumerate(np.asarray(state["assets"]).tolist()):
            length = int(state["lengths"][i])
            rows = deque((np.array(r) for r in state["buffers"][i, self.window - length:]), maxlen=self.window)
            self.assets[name] = _AssetState(rows, np.array(state["ewm"][i], dtype="float64"),
                                            seen=int(state["seen"][i]))
        return self
