"""Plant changes injected mid-history: a sensor recalibrated, a new ambient regime, a motor replaced.

A plant that changes under a model is the quiet way a model goes wrong: the drift monitor
(:mod:`forewarn.monitor`) must notice it, and say that it is a changed plant rather than a machine wearing out.
These changes post-process a simulated fleet's wide readings (``asset_id, ts`` and one column per channel, as
:attr:`forewarn.twin.fleet.Fleet.readings`), from a time ``at`` on, so the twin's physics and its ground truth
stay as simulated:

* :class:`SensorOffset`: a channel of one asset reads ``offset`` more from ``at`` (a recalibration, a swapped
  transmitter); nothing else about the machine changes.
* :class:`AmbientShift`: the ambient temperature of the given assets rises by ``delta`` kelvin from ``at`` (a new
  season, a new building), and every temperature the twin derives from a lumped heat balance over ambient
  (winding, bearing, discharge) rises by the same amount, as a steady-state balance ``T = T_amb + P_loss * R``
  has it (:mod:`forewarn.twin.thermal`).
* :class:`MotorReplaced`: the asset's motor is replaced by one with ``loss_cut`` lower losses: input current and
  power fall by ``loss_cut * losses_share`` and the winding's rise over ambient by ``loss_cut``; a maintenance
  event (action ``replace``, part ``motor``) is stamped at ``at``.

:func:`feature_sd` gives a channel's standard deviation over a span, to express an offset in standard deviations.

>>> ts = pd.date_range("2024-01-01", periods=4, freq="1h", tz="UTC")
>>> frame = pd.DataFrame({"asset_id": "p1", "ts": ts, "bearing_temp": [50.0, 50, 50, 50]})
>>> apply_changes(frame, [SensorOffset("p1", "bearing_temp", ts[2], 3.0)])["bearing_temp"].tolist()
[50.0, 50.0, 53.0, 53.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError, SchemaError

__all__ = ["AmbientShift", "MotorReplaced", "SensorOffset", "apply_changes", "change_events", "feature_sd"]

#: temperatures that sit on the ambient through a heat balance
HEATED = ("winding_temp", "bearing_temp", "discharge_temp")


def _ts(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@dataclass(frozen=True)
class SensorOffset:
    """``channel`` of ``asset_id`` reads ``offset`` (in the channel's unit) more from ``at``."""

    asset_id: str
    channel: str
    at: Any
    offset: float
    kind: str = "sensor_recalibration"

    def apply(self, frame: pd.DataFrame, rows: np.ndarray) -> None:
        _need(frame, self.channel)
        frame.loc[rows, self.channel] = frame.loc[rows, self.channel] + self.offset


@dataclass(frozen=True)
class AmbientShift:
    """The ambient of ``asset_ids`` rises by ``delta`` K from ``at``; heated temperatures follow one to one."""

    asset_ids: tuple[str, ...]
    at: Any
    delta: float
    kind: str = "ambient_regime"

    def apply(self, frame: pd.DataFrame, rows: np.ndarray) -> None:
        _need(frame, "ambient_temp")
        for column in ("ambient_temp", *HEATED):
            if column in frame:
                frame.loc[rows, column] = frame.loc[rows, column] + self.delta


@dataclass(frozen=True)
class MotorReplaced:
    """A motor with ``loss_cut`` (a share) lower losses on ``asset_id`` from ``at``.

    ``losses_share`` is the share of input power lost in the motor (about 0.08 for a mid-size IE3 motor), so the
    input falls by ``loss_cut * losses_share``; the winding's rise over ambient falls by ``loss_cut``.
    """

    asset_id: str
    at: Any
    loss_cut: float = 0.3
    losses_share: float = 0.08
    kind: str = "motor_replaced"

    def apply(self, frame: pd.DataFrame, rows: np.ndarray) -> None:
        if not 0 <= self.loss_cut < 1 or not 0 <= self.losses_share < 1:
            raise ConfigError(f"MotorReplaced: loss_cut and losses_share must be shares in [0, 1), got {self}")
        scale = 1.0 - self.loss_cut * self.losses_share
        for column in ("current", "power"):
            if column in frame:
                frame.loc[rows, column] = frame.loc[rows, column] * scale
        if "winding_temp" in frame and "ambient_temp" in frame:
            ambient = frame.loc[rows, "ambient_temp"]
            frame.loc[rows, "winding_temp"] = ambient + (frame.loc[rows, "winding_temp"] - ambient) * (
                1.0 - self.loss_cut
            )

    @property
    def asset_ids(self) -> tuple[str, ...]:
        return (self.asset_id,)


Change = SensorOffset | AmbientShift | MotorReplaced


def _need(frame: pd.DataFrame, column: str) -> None:
    if column not in frame:
        raise SchemaError(f"the readings have no channel {column!r} to change", column=column)


def _assets(change: Change) -> tuple[str, ...]:
    return (change.asset_id,) if isinstance(change, SensorOffset) else tuple(change.asset_ids)


def apply_changes(readings: pd.DataFrame, changes: Sequence[Change]) -> pd.DataFrame:
    """A copy of wide ``readings`` with each change applied to its assets' rows at or after its time."""
    for column in ("asset_id", "ts"):
        _need(readings, column)
    out = readings.copy()
    ts = pd.to_datetime(out["ts"], utc=True)
    for change in changes:
        rows = (out["asset_id"].isin(_assets(change)) & (ts >= _ts(change.at))).to_numpy()
        change.apply(out, rows)
    return out


def change_events(changes: Sequence[Change]) -> pd.DataFrame:
    """The maintenance events a change leaves in a plant's records (a replaced motor: ``replace`` of ``motor``),
    in :func:`forewarn.schema.to_events` layout (``asset_id, ts, kind, action, parts``)."""
    rows = [
        {"asset_id": c.asset_id, "ts": _ts(c.at), "kind": "maintenance", "action": "replace", "parts": "motor"}
        for c in changes
        if isinstance(c, MotorReplaced)
    ]
    return pd.DataFrame(rows, columns=["asset_id", "ts", "kind", "action", "parts"])


def feature_sd(readings: pd.DataFrame, asset_id: str, channel: str, end: Any = None) -> float:
    """Standard deviation of ``channel`` of ``asset_id`` over the rows before ``end`` (all rows by default).

    >>> frame = pd.DataFrame({"asset_id": ["a"] * 3, "ts": pd.date_range("2024", periods=3, tz="UTC"),
    ...                       "x": [1.0, 2.0, 3.0]})
    >>> feature_sd(frame, "a", "x")
    1.0
    """
    _need(readings, channel)
    rows = readings["asset_id"] == asset_id
    if end is not None:
        rows &= pd.to_datetime(readings["ts"], utc=True) < _ts(end)
    values = readings.loc[rows, channel].to_numpy(dtype="float64")
    values = values[np.isfinite(values)]
    if len(values) < 2:
        raise SchemaError(
            f"{asset_id!r} has fewer than two readings of {channel!r} to measure a spread", column=channel
        )
    return float(np.std(values, ddof=1))
