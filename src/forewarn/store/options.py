"""How to read a plant's export: which columns hold what, how times are written, what to do on conflicts.

Historian exports rarely use Forewarn's column names. :class:`ReadOptions` says where the asset id and the
time are, how to parse the time, which columns are labels (never sensor channels), and what to do when a
reading already stored has a different value. The defaults read Forewarn's own layout, unchanged.

>>> opts = ReadOptions(asset_column="Machine", time_column="Zeit", time_format="%d/%m/%Y %H:%M",
...                    timezone="Europe/Berlin", label_columns=("state",), on_conflict="replace")
>>> opts.renames()
{'Machine': 'asset_id', 'Zeit': 'ts'}
>>> ReadOptions().is_default()
True
>>> ReadOptions(on_conflict="overwrite")
Traceback (most recent call last):
...
forewarn.exceptions.ConfigError: on_conflict='overwrite'; use 'keep', 'replace' or 'error'
"""

from __future__ import annotations

import codecs
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from forewarn.exceptions import ConfigError
from forewarn.store.hold import hold_micros

OnConflict = Literal["keep", "replace", "error"]
#: time formats that are not strptime formats: numbers of seconds (or milliseconds) since 1970-01-01 UTC
EPOCH_DIVISORS = {"epoch": 1, "epoch_ms": 1_000}
CONFLICT_MODES = ("keep", "replace", "error")
EVENT_KINDS = ("failure", "maintenance", "inspection")


@dataclass(frozen=True)
class ReadOptions:
    """Options of :meth:`Store.ingest_file` and :meth:`Store.ingest_readings` (checked on creation).

    * ``asset_column`` / ``time_column``: the columns holding the asset id and the time;
    * ``asset``: one asset id for every row, for a file without an asset column (a one-machine export);
    * ``time_format``: a ``strptime`` format such as ``%d/%m/%Y %H:%M`` (default: ISO 8601), or ``epoch`` /
      ``epoch_ms`` for numbers of seconds / milliseconds since 1970-01-01 UTC (the zone does not apply);
    * ``timezone``: IANA zone of naive times (default UTC); times with an offset keep it;
    * ``label_columns``: columns stored as labels (text as written), never as channels;
    * ``on_conflict``: a stored reading with a different value is kept, replaced, or rejects the batch;
    * ``encoding``: text encoding of CSV / JSON-lines files (default: UTF-8, else Windows-1252);
    * ``na_values``: cell texts of a CSV file that mean "no value" (``n/a``, ``---``, ``#DIV/0!``), read as gaps
      like an empty cell (``"n/a,---"`` or a sequence);
    * ``rename``: other columns under Forewarn's names, ``"Type=kind,Work done=action"`` or pairs (an events
      file's ``kind``, ``failure_mode``, ``action``; a long file's ``channel``, ``value``);
    * ``event_kind``: one kind for every row of an events file without a kind column (a failure log);
    * ``failure_column``: a readings file's failure flag column (1/0, yes/no, true/false): stored as a label, and
      each run of flagged rows of an asset becomes one failure event at its first row; a run that an earlier
      file's flagged last row continues at the next sampling step (at most 1.5 steps apart) stays that file's one
      event (:mod:`forewarn.store.flag_runs`);
    * ``tag_map`` / ``tag_column``: a historian's long export (``tag, timestamp, value``): the CSV file mapping
      each tag to its asset and channel, and the file's tag column (:mod:`forewarn.store.historian`);
    * ``quality_column`` / ``good_quality``: rows whose quality is not one of ``good_quality`` (any case;
      ``Good`` and OPC's ``192`` by default) are skipped and counted, never stored;
    * ``hold``: the batch's channels were recorded on change (a historian's deadband): each value holds until the
      channel's next reading, at most this long (``"8h"``; ``"0"``: not held), stored with each channel and used
      wherever readings are bucketed at an interval (:mod:`forewarn.store.hold`); a tag map's ``hold`` column
      sets it per tag instead.
    """

    asset_column: str = "asset_id"
    time_column: str = "ts"
    time_format: str | None = None
    timezone: str = "UTC"
    asset: str | None = None
    label_columns: tuple[str, ...] = ()
    on_conflict: OnConflict = "keep"
    encoding: str | None = None
    na_values: tuple[str, ...] = ()
    rename: tuple[tuple[str, str], ...] = ()
    event_kind: str | None = None
    failure_column: str | None = None
    tag_map: str | None = None
    tag_column: str = "tag"
    quality_column: str | None = None
    good_quality: tuple[str, ...] = ("Good", "192")
    hold: str | None = None

    def __post_init__(self) -> None:
        flag = () if self.failure_column is None else (self.failure_column,)
        object.__setattr__(self, "label_columns", _names((*_names(self.label_columns), *flag)))
        object.__setattr__(self, "na_values", _names(self.na_values))
        object.__setattr__(self, "good_quality", _names(self.good_quality))
        object.__setattr__(self, "rename", _pairs(self.rename))
        if self.event_kind is not None and self.event_kind not in EVENT_KINDS:
            raise ConfigError(f"event_kind={self.event_kind!r}; use {', '.join(EVENT_KINDS)}")
        if not self.good_quality:
            raise ConfigError("good_quality names no quality; give the texts of a good value, e.g. 'Good,192'")
        if self.hold is not None:
            hold_micros(self.hold)  # refused here, before a file is read
        if self.tag_map is not None and self.asset is not None:
            raise ConfigError("a tag map names each tag's asset; drop --asset")
        if self.on_conflict not in CONFLICT_MODES:
            raise ConfigError(f"on_conflict={self.on_conflict!r}; use 'keep', 'replace' or 'error'")
        for what, name in (("asset_column", self.asset_column), ("time_column", self.time_column)):
            if not isinstance(name, str) or not name.strip():
                raise ConfigError(f"{what} must be a column name, got {name!r}")
        if self.asset_column == self.time_column:
            raise ConfigError(f"asset_column and time_column are both {self.asset_column!r}; name two columns")
        if self.asset is not None and not str(self.asset).strip():
            raise ConfigError("asset must be a non-empty asset id")
        clash = {self.asset_column, self.time_column} & set(self.label_columns)
        if clash:
            raise ConfigError(f"column {sorted(clash)[0]!r} cannot be a label: it holds the asset id or the time")
        if self.time_format is not None and "%" not in self.time_format and not self.is_epoch():
            raise ConfigError(
                f"time_format={self.time_format!r} has no % directive; give a strptime format such as "
                "'%d/%m/%Y %H:%M', or epoch / epoch_ms for seconds / milliseconds since 1970"
            )
        if self.timezone != "UTC":
            try:
                zoneinfo.ZoneInfo(self.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ConfigError(
                    f"unknown time zone {self.timezone!r}; give an IANA name such as "
                    "'Europe/Berlin' or 'America/Chicago'"
                ) from None
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ConfigError(f"unknown encoding {self.encoding!r}; try utf-8, cp1252, latin-1 or utf-16") from None

    def is_default(self) -> bool:
        """True when the options read Forewarn's own layout (the fast path needs no extra step)."""
        return self == ReadOptions(on_conflict=self.on_conflict, encoding=self.encoding)

    def renames(self) -> dict[str, str]:
        """Source column -> Forewarn column, for the columns whose names differ."""
        out = {}
        if self.asset is None and self.asset_column != "asset_id":
            out[self.asset_column] = "asset_id"
        if self.time_column != "ts":
            out[self.time_column] = "ts"
        out.update({src: dst for src, dst in self.rename if src != dst})
        return out

    def display(self, column: str) -> str:
        """The source's name of a Forewarn column, for error messages."""
        if column == "asset_id" and self.asset is None:
            return self.asset_column
        return self.time_column if column == "ts" else column

    def is_epoch(self) -> bool:
        """True when times are numbers of seconds or milliseconds since 1970 (``time_format`` epoch, epoch_ms)."""
        return self.time_format in EPOCH_DIVISORS

    def parses_text_time(self) -> bool:
        """True when the time column must be read as text and parsed by Forewarn (format or zone given)."""
        return self.time_format is not None or self.timezone != "UTC"


def _pairs(value: str | Sequence[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    """:func:`column_pairs` for ingest, where the asset and time columns have options of their own.

    >>> _pairs("Zeit=ts")
    Traceback (most recent call last):
    ...
    forewarn.exceptions.ConfigError: rename Zeit=ts: the asset and time columns are named by --asset-column and --time-column
    """
    pairs = column_pairs(value)
    for src, dst in pairs:
        if dst in ("asset_id", "ts"):
            raise ConfigError(
                f"rename {src}={dst}: the asset and time columns are named by --asset-column and --time-column"
            )
    return pairs


def column_pairs(value: str | Sequence[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    """``(source, target)`` column pairs from ``"Type=kind,Work done=action"`` or pairs, checked.

    >>> column_pairs("Type=kind, Work done = action")
    (('Type', 'kind'), ('Work done', 'action'))
    >>> column_pairs("Type")
    Traceback (most recent call last):
    ...
    forewarn.exceptions.ConfigError: rename 'Type' has no '='; write FILE_COLUMN=FOREWARN_COLUMN, e.g. Type=kind
    """
    if not value:
        return ()
    if isinstance(value, str):
        items = [v for v in value.split(",") if v.strip()]
        pairs = []
        for item in items:
            if "=" not in item:
                raise ConfigError(
                    f"rename {item.strip()!r} has no '='; write FILE_COLUMN=FOREWARN_COLUMN, e.g. Type=kind"
                )
            src, dst = item.split("=", 1)
            pairs.append((src.strip(), dst.strip()))
    else:
        pairs = [(str(a).strip(), str(b).strip()) for a, b in value]
    for src, dst in pairs:
        if not src or not dst:
            raise ConfigError(f"rename {src}={dst} names an empty column")
    return tuple(pairs)


def _names(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Column names from ``"a,b"`` or a sequence; blanks dropped, order kept, repeats removed."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return tuple(dict.fromkeys(v.strip() for v in items if v.strip()))
