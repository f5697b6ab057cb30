"""The data model every part of Forewarn shares.

Assets follow the ISA-95 hierarchy plants use: site -> line -> asset -> channel. Readings are keyed by
``(asset_id, ts)``; time is timezone-aware UTC, and irregular sampling and gaps are normal. Events
(failures with a failure mode, maintenance work orders, quality inspections) carry the labels; labels are
never columns mixed into readings.

Readings come in two layouts, both accepted everywhere:

* long: ``asset_id, ts, channel, value`` (one reading per row);
* wide: ``asset_id, ts, <channel>, <channel>, ...`` (one row per instant).

:func:`to_long_readings` turns either into the canonical long frame.

>>> import pandas as pd
>>> wide = pd.DataFrame({"asset_id": ["p1", "p1"], "ts": ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"],
...                      "temp": [40.0, 41.5], "vib": [0.2, None]})
>>> long = to_long_readings(wide)
>>> long[["asset_id", "channel", "value"]].values.tolist()
[['p1', 'temp', 40.0], ['p1', 'temp', 41.5], ['p1', 'vib', 0.2]]
>>> str(long["ts"].dtype)
'datetime64[us, UTC]'
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import SchemaError

TS_DTYPE = "datetime64[us, UTC]"
KEY_COLUMNS = ("asset_id", "ts")
LONG_COLUMNS = ("asset_id", "ts", "channel", "value")


class EventKind(enum.StrEnum):
    """What happened to an asset."""

    FAILURE = "failure"
    MAINTENANCE = "maintenance"
    INSPECTION = "inspection"


EVENT_COLUMNS = ("asset_id", "ts", "kind", "failure_mode", "action", "parts", "result", "note")


@dataclass(frozen=True)
class Site:
    """A factory."""

    site_id: str
    name: str = ""
    timezone: str = "UTC"


@dataclass(frozen=True)
class Line:
    """A production line (or area) inside a site."""

    line_id: str
    site_id: str
    name: str = ""


@dataclass(frozen=True)
class Channel:
    """One measured quantity of an asset, with its unit (``degC``, ``mm/s``, ``bar``...)."""

    name: str
    unit: str = ""
    description: str = ""


@dataclass(frozen=True)
class Asset:
    """A machine: a pump, motor, compressor, fan, bearing, turbofan...

    ``metadata`` holds free-form facts (install date, rated power, serial number).

    >>> Asset("P-101", asset_class="pump", line_id="L1", site_id="S1").asset_class
    'pump'
    """

    asset_id: str
    asset_class: str = "generic"
    line_id: str | None = None
    site_id: str | None = None
    name: str = ""
    install_date: dt.date | None = None
    channels: tuple[Channel, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.asset_id, str) or not self.asset_id.strip():
            raise SchemaError("asset_id must be a non-empty string", column="asset_id")


@dataclass(frozen=True)
class Event:
    """A failure, a maintenance action or an inspection of one asset at one instant.

    >>> Event("P-101", pd.Timestamp("2024-03-01", tz="UTC"), EventKind.FAILURE, failure_mode="bearing_outer_race").kind
    <EventKind.FAILURE: 'failure'>
    """

    asset_id: str
    ts: pd.Timestamp
    kind: EventKind
    failure_mode: str | None = None
    action: str | None = None
    parts: str | None = None
    result: str | None = None
    note: str | None = None


def to_utc(values: pd.Series | Any, *, source: str = "frame", column: str = "ts") -> pd.Series:
    """Parse timestamps to ``datetime64[us, UTC]``.

    Naive timestamps are read as UTC; aware ones are converted. Numbers are rejected (say which epoch
    unit you mean by converting them first). An unparseable value raises :class:`SchemaError` naming
    its row (1-based over the data rows).

    >>> to_utc(pd.Series(["2024-01-01 01:00+01:00"])).iloc[0]
    Timestamp('2024-01-01 00:00:00+0000', tz='UTC')
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        parsed = series
    else:
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            raise SchemaError(
                "timestamps are numbers",
                source=source,
                column=column,
                hint="give ISO 8601 text or datetimes; convert epoch numbers with pandas.to_datetime(unit=...)",
            )
        parsed = pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")
        bad = parsed.isna() & series.notna()
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise SchemaError(
                f"cannot parse timestamp {series.iloc[pos]!r}",
                source=source,
                line=pos + 1,
                column=column,
                hint="use ISO 8601, e.g. 2024-01-31T12:00:00Z",
            )
    if parsed.dt.tz is None:
        parsed = parsed.dt.tz_localize("UTC")
    parsed = parsed.dt.tz_convert("UTC").astype(TS_DTYPE)
    if parsed.isna().any():
        pos = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise SchemaError("missing timestamp", source=source, line=pos + 1, column=column)
    return parsed


def is_long_layout(columns: list[str] | pd.Index) -> bool:
    """True when a frame's columns are the long layout (``channel`` and ``value`` present)."""
    cols = set(columns)
    return {"channel", "value"} <= cols


def _require(columns: list[str] | pd.Index, needed: tuple[str, ...], source: str) -> None:
    missing = [c for c in needed if c not in set(columns)]
    if missing:
        raise SchemaError(
            f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, columns)) or 'none'}",
            source=source,
            line=1,
            hint="readings need asset_id, ts and either channel+value (long) or one column per channel (wide)",
        )


def _numeric(values: pd.Series, *, source: str, column: str, line_of: np.ndarray) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise SchemaError(
            f"value {values.iloc[pos]!r} is not a number",
            source=source,
            line=int(line_of[pos]),
            column=column,
            hint="readings must be numeric; leave the cell empty for a missing value",
        )
    floats: np.ndarray = numbers.to_numpy(dtype="float64")
    return floats


def to_long_readings(frame: pd.DataFrame, *, source: str = "frame", first_line: int = 1) -> pd.DataFrame:
    """Validate a readings frame in long or wide layout and return the canonical long frame.

    Columns of the result: ``asset_id`` (str), ``ts`` (UTC), ``channel`` (str), ``value`` (float64).
    Empty cells (missing readings) are dropped: a gap is normal, not an error. ``first_line`` is the
    file line of the frame's first data row, so errors point at the right line (2 for a CSV with a header).
    """
    columns = list(frame.columns)
    _require(columns, KEY_COLUMNS, source)
    line_of = np.arange(len(frame)) + first_line
    asset = frame["asset_id"]
    if asset.isna().any():
        pos = int(np.flatnonzero(asset.isna().to_numpy())[0])
        raise SchemaError("missing asset_id", source=source, line=int(line_of[pos]), column="asset_id")
    ts = _ts_with_lines(frame["ts"], source=source, line_of=line_of)
    if is_long_layout(columns):
        if frame["channel"].isna().any():
            pos = int(np.flatnonzero(frame["channel"].isna().to_numpy())[0])
            raise SchemaError("missing channel", source=source, line=int(line_of[pos]), column="channel")
        values = _numeric(frame["value"], source=source, column="value", line_of=line_of)
        out = pd.DataFrame(
            {
                "asset_id": asset.astype(str).to_numpy(),
                "ts": ts.to_numpy(),
                "channel": frame["channel"].astype(str).to_numpy(),
                "value": values,
            }
        )
    else:
        channels = [c for c in columns if c not in KEY_COLUMNS]
        if not channels:
            raise SchemaError(
                "no channel columns",
                source=source,
                line=1,
                hint="a wide readings file has asset_id, ts and one column per channel",
            )
        parts = []
        for channel in channels:
            values = _numeric(frame[channel], source=source, column=str(channel), line_of=line_of)
            parts.append(
                pd.DataFrame(
                    {
                        "asset_id": asset.astype(str).to_numpy(),
                        "ts": ts.to_numpy(),
                        "channel": str(channel),
                        "value": values,
                    }
                )
            )
        out = pd.concat(parts, ignore_index=True)
    out = out[~np.isnan(out["value"].to_numpy())].reset_index(drop=True)
    out["ts"] = out["ts"].astype(TS_DTYPE)
    if not np.isfinite(out["value"].to_numpy()).all():
        pos = int(np.flatnonzero(~np.isfinite(out["value"].to_numpy()))[0])
        raise SchemaError("value is infinite", source=source, column=str(out["channel"].iloc[pos]))
    return out


def _ts_with_lines(values: pd.Series, *, source: str, line_of: np.ndarray) -> pd.Series:
    try:
        return to_utc(values, source=source, column="ts")
    except SchemaError as err:
        line = int(line_of[err.line - 1]) if err.line is not None else None
        raise SchemaError(err.reason, source=source, line=line, column="ts", hint=err.hint) from None


def to_events(frame: pd.DataFrame, *, source: str = "frame", first_line: int = 1) -> pd.DataFrame:
    """Validate an events frame and return it with all of :data:`EVENT_COLUMNS` (absent ones empty).

    ``kind`` must be one of ``failure``, ``maintenance``, ``inspection``.

    >>> ev = to_events(pd.DataFrame({"asset_id": ["p1"], "ts": ["2024-02-01"], "kind": ["failure"],
    ...                              "failure_mode": ["seal_leak"]}))
    >>> ev.loc[0, "kind"], ev.loc[0, "failure_mode"], ev.loc[0, "action"] is None
    ('failure', 'seal_leak', True)
    """
    _require(list(frame.columns), ("asset_id", "ts", "kind"), source)
    line_of = np.arange(len(frame)) + first_line
    kinds = frame["kind"].astype("string").str.strip().str.lower()
    allowed = {k.value for k in EventKind}
    bad = ~kinds.isin(allowed) | kinds.isna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise SchemaError(
            f"unknown event kind {frame['kind'].iloc[pos]!r}",
            source=source,
            line=int(line_of[pos]),
            column="kind",
            hint=f"use one of {', '.join(sorted(allowed))}",
        )
    if frame["asset_id"].isna().any():
        pos = int(np.flatnonzero(frame["asset_id"].isna().to_numpy())[0])
        raise SchemaError("missing asset_id", source=source, line=int(line_of[pos]), column="asset_id")
    out = pd.DataFrame(
        {
            "asset_id": frame["asset_id"].astype(str).to_numpy(),
            "ts": _ts_with_lines(frame["ts"], source=source, line_of=line_of).to_numpy(),
            "kind": kinds.astype(str).to_numpy(),
        }
    )
    for column in EVENT_COLUMNS[3:]:
        if column in frame.columns:
            col = frame[column]
            out[column] = [None if pd.isna(v) else str(v) for v in col]
        else:
            out[column] = None
    out["ts"] = out["ts"].astype(TS_DTYPE)
    return out[list(EVENT_COLUMNS)]
