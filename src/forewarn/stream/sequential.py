"""Sequential detectors in the stream: each asset's rows scored in time order, with its last rows as context.

A *sequential* anomaly detector (tag ``sequential``, e.g. the default ``ensemble`` of ``forewarn detect``) scores
one series of raw channel values in time order: a row's score depends on the rows before it (forecast lags,
trailing windows, change points, settling). The stream scores many assets' rows per micro-batch, so for such a
model it keeps, per asset, the last ``context`` rows it has scored (values and times) and scores
``context + new rows`` as one series, keeping the new rows' scores. With a context at least as long as an asset's
history the scores equal the detector's on the whole series; with a shorter one they equal it as long as what the
detector remembers lies inside the context (the ensemble's windows reach 32 rows; its settling looks back
``settle_hours`` and ``recover`` over a whole excursion, so after a long episode the stream can differ from
``forewarn detect``; ``forewarn detect --only-new``, which scores a store's new rows after the same context rule,
:func:`forewarn.detect.since.context_start`, checks the context's last rows against the scores it gave them and
lengthens it where they differ). The context is checkpointed per asset with the batch (``context:<model_id>``), so a restart
continues the series. The cost is one ``score`` call of up to ``context + new`` rows per asset and batch; a
detector that keeps its member scores in a :class:`~forewarn.models.anomaly.memo.SeriesMemo` (the ensemble does)
gets one per asset, so each call computes its members for the new rows and the context's first rows only (the rows
its windows start afresh on), not for the whole context: 2.6-2.8x less time per asset and batch on a twin fleet
(about 2x through a folder of saved fits), the same scores and alarms to the rounding of the members' running sums
(BENCHMARKS.md, issue 14, 2026-12-06). The memo is not checkpointed: after a restart the first batch computes the
whole context again. The ensemble's ``recurrence`` cap counts recurring excursions from the series' first row;
what it keeps of the rows before the context (:class:`~forewarn.models.anomaly.recurrence.Carry`, per asset, from
the asset's first batch on) is checkpointed with the context (JSON after the values), so the stream, restarted
too, caps as one batch run over the whole series; a context saved before it was kept continues with the cap
counting from the context's first row (said once in the log).

The model is fitted beforehand and saved (``forewarn.base.save``); one ``[[models]]`` entry per fit (``assets`` or
``asset_class`` say which assets it scores). Its feature names are the channels it reads. Or the entry names a folder
of ``forewarn detect --save-models`` (:class:`forewarn.detect.saved.SavedFits`): each asset is scored by its own fit
(the one ``detect`` scored it with, reading that fit's channels, gaps filled as ``detect`` fills them), and the rows
of an asset the folder has no fit for are not scored (counted in ``rows_unscored``, the asset named once in the log).

>>> import numpy as np
>>> class Cumulative:  # a toy sequential detector: each row scores the running sum of the series so far
...     def score(self, X):
...         return X.to_numpy().sum(axis=1).cumsum()
>>> ctx = SeriesContext(["x"], rows=10)
>>> a = np.array(["p1", "p1", "p2"], dtype=object)
>>> ctx.score(Cumulative(), a, np.array([1, 2, 1]), np.array([[1.0], [2.0], [5.0]])).tolist()
[1.0, 3.0, 5.0]
>>> ctx.score(Cumulative(), np.array(["p1"], dtype=object), np.array([3]), np.array([[4.0]])).tolist()
[7.0]
"""

from __future__ import annotations

import json
import logging
from contextlib import nullcontext
from typing import Any

import numpy as np
import pandas as pd

from forewarn.decide.explain import sensor_contributions, standardised_deviation
from forewarn.detect.since import context_start
from forewarn.models.anomaly.memo import SeriesMemo, remembering
from forewarn.models.anomaly.recurrence import Carry, carrying

log = logging.getLogger(__name__)


class SeriesContext:
    """Per asset, the last ``rows`` rows (times in epoch microseconds, values in ``columns`` order)."""

    def __init__(self, columns: list[str], rows: int):
        self.columns = list(columns)
        self.rows = int(rows)
        self.held: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        #: per asset, what the detector computed for its last series (:mod:`forewarn.models.anomaly.memo`)
        self.memos: dict[str, SeriesMemo] = {}
        #: per asset, what the ensemble's ``recurrence`` cap keeps of the rows before its context
        #: (:class:`~forewarn.models.anomaly.recurrence.Carry`); an asset restored without one has none
        self.carries: dict[str, Carry] = {}

    def score(self, model: Any, assets: np.ndarray, ts_us: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Scores of rows sorted by (asset, ts): each asset's rows after its context, as one series.

        ``model`` scores every asset, or (with a ``fit_for(asset)`` method, as
        :class:`~forewarn.detect.saved.SavedFits`) picks each asset's own model; an asset without one scores NaN.
        """
        per_asset = hasattr(model, "fit_for")
        out = np.empty(len(ts_us))
        if len(ts_us) == 0:
            return out
        starts = np.flatnonzero(np.r_[True, assets[1:] != assets[:-1]])
        for lo, hi in zip(starts.tolist(), np.r_[starts[1:], len(ts_us)].tolist(), strict=True):
            asset = str(assets[lo])
            scorer = model.fit_for(asset) if per_asset else model
            if scorer is None:
                out[lo:hi] = np.nan
                continue
            old_ts, old_values = self.held.get(asset, (np.empty(0, "int64"), np.empty((0, len(self.columns)))))
            ts = np.concatenate([old_ts, ts_us[lo:hi]])
            block = np.vstack([old_values, values[lo:hi]])
            # the times as pd.to_datetime(ts, unit="us", utc=True) gives them, built at a tenth of its cost
            index = pd.DatetimeIndex(ts.astype("datetime64[us]")).tz_localize("UTC")
            X = pd.DataFrame(block, columns=self.columns, index=index)
            if asset not in self.held and asset not in self.carries:  # its series starts with these rows
                self.carries[asset] = Carry()
            carry = self.carries.get(asset)
            counting = carrying(carry) if carry is not None else nullcontext()
            with remembering(self.memos.setdefault(asset, SeriesMemo())), counting:
                out[lo:hi] = np.asarray(scorer.score(X), dtype="float64").reshape(-1)[len(old_ts) :]
            keep = context_start(ts, len(ts), self.rows)  # the context rule of detect --only-new too
            self.held[asset] = (ts[keep:], block[keep:])
        return out

    def get_state(self, assets: list[str]) -> list[tuple[str, bytes]]:
        """``(asset, blob)`` of each held asset in ``assets``: the row count, the times, the values, and the
        ``recurrence`` cap's carry as JSON (UTF-8, after the values; a blob saved before it has none)."""
        items = []
        for asset in assets:
            if asset in self.held:
                ts, values = self.held[asset]
                blob = np.asarray([len(ts)], "int64").tobytes() + ts.astype("int64").tobytes()
                blob += values.astype("float64").tobytes()
                if asset in self.carries and self.carries[asset].exact:
                    blob += json.dumps(self.carries[asset].to_json()).encode("utf-8")
                items.append((asset, blob))
        return items

    def set_state(self, saved: dict[str, bytes]) -> None:
        """Continue from :meth:`get_state`'s blobs (a saved context longer than ``rows`` is cut to its last rows).
        A blob without the cap's carry (saved before it was kept) continues with the ``recurrence`` cap counting
        from the context's first row, as before 2026-12-06 (said once in the log)."""
        width = len(self.columns)
        without = []
        for asset, blob in saved.items():
            n = int(np.frombuffer(blob[:8], "int64")[0])
            ts = np.frombuffer(blob[8 : 8 + 8 * n], "int64").copy()
            end = 8 + 8 * n + 8 * n * width
            values = np.frombuffer(blob[8 + 8 * n : end], "float64").reshape(n, width).copy()
            keep = context_start(ts, n, self.rows)
            self.held[asset] = (ts[keep:], values[keep:])
            self.carries.pop(asset, None)
            if len(blob) > end:  # a carry that never capped (a detector without the cap) is not restored
                carry = Carry.from_json(json.loads(blob[end:].decode("utf-8")))
                if carry.members is not None:
                    self.carries[asset] = carry
            else:
                without.append(asset)
        if without:
            log.warning(
                "%d asset(s) (%s) continue from a context saved without the recurrence cap's carry: their scores "
                "count recurring excursions from the context's first row only, not the whole series",
                len(without),
                ", ".join(sorted(without)[:3]) + (" ..." if len(without) > 3 else ""),
            )


def deviations(model: Any, values: np.ndarray, columns: list[str], *, top: int = 5) -> list[dict[str, float]]:
    """Each row's channels by ``|value - centre| / spread`` under the model's robust scaling (``center_``,
    ``spread_``, as the default detector keeps them), largest first; empty where the model keeps none.

    >>> class Fitted:
    ...     center_, spread_ = np.array([50.0, 2.0]), np.array([1.0, 0.1])
    >>> deviations(Fitted(), np.array([[51.0, 3.0]]), ["temp", "vib"])
    [{'vib': 10.0, 'temp': 1.0}]
    """
    center, spread = getattr(model, "center_", None), getattr(model, "spread_", None)
    if center is None or spread is None or len(center) != len(columns):
        return [{} for _ in range(len(values))]
    scaled = standardised_deviation(values, center, spread)
    return [
        sensor_contributions({c: float(v) for c, v in zip(columns, row, strict=True) if np.isfinite(v)}, top=top)
        for row in scaled
    ]
