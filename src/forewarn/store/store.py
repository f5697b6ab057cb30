"""The embedded store: one DuckDB file (or ``":memory:"``) holding the plant, its readings and events.

>>> import pandas as pd
>>> from forewarn.schema import Asset, Channel
>>> with Store() as store:
...     store.add_assets([Asset("P-101", asset_class="pump", channels=(Channel("temp", "degC"),))])
...     report = store.ingest_readings(pd.DataFrame({
...         "asset_id": ["P-101", "P-101"], "ts": ["2024-01-01T00:00Z", "2024-01-01T00:01Z"], "temp": [40.0, 41.5]}))
...     again = store.ingest_readings(pd.DataFrame({"asset_id": ["P-101"], "ts": ["2024-01-01T00:00Z"], "temp": [40.0]}))
...     (report.written, again.written, again.duplicates, store.count_readings())
(2, 0, 1, 2)
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import os
import re
import shlex
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from forewarn.exceptions import ConfigError, DataNotFoundError, IngestError, SchemaError, StateError, UnknownAssetError
from forewarn.schema import Asset, Line, Site, to_events, to_long_readings
from forewarn.store import catalog, flag_runs, labels, queries
from forewarn.store.asset_import import read_asset_file
from forewarn.store.events import ingest_events_frame, parse_event_times, staged_events_frame, validate_events
from forewarn.store.export import export_parquet
from forewarn.store.hold import hold_micros, set_holds
from forewarn.store.ingest import STRICT_HINT, IngestReport, Progress, WriteTarget, ingest_staged_readings, long_arrow
from forewarn.store.options import OnConflict, ReadOptions
from forewarn.store.pg_sql import is_postgres_url
from forewarn.store.readers import Staged, csv_header, drop_staged, file_format, stage_arrow, stage_file
from forewarn.store.tables import create_schema, fetch_value, has_schema, quote_literal
from forewarn.store.validate import renamed

STAGE = "__fw_src"
# Server backends by URL scheme, "module:Class" imported on first use (the lazy-registry pattern of the models):
# a DuckDB store never imports a database driver, and the backend module may subclass Store without a cycle.
SERVER_BACKENDS = {"postgresql": "forewarn.store.postgres:PgStore"}
EventsWriter = Callable[..., IngestReport]


@dataclasses.dataclass(frozen=True)
class AssetImport:
    """What :meth:`Store.import_assets` did: the assets it created and updated, notes on the file."""

    source: str
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def server_backend(scheme: str) -> type[Store]:
    """The Store subclass of a server URL scheme (``postgresql``), imported on first use.

    >>> server_backend("postgresql").__name__
    'PgStore'
    """
    module, _, name = SERVER_BACKENDS[scheme].partition(":")
    found: type[Store] = getattr(importlib.import_module(module), name)
    return found


def readings_types(header: list[str], options: ReadOptions | None = None) -> dict[str, str]:
    """DuckDB types to read a readings CSV with: text keys and labels, UTC times, numbers for values.

    >>> readings_types(["Machine", "Zeit", "temp", "state"], ReadOptions(asset_column="Machine",
    ...                time_column="Zeit", timezone="Europe/Berlin", label_columns=("state",)))
    {'Machine': 'VARCHAR', 'Zeit': 'VARCHAR', 'temp': 'DOUBLE', 'state': 'VARCHAR'}
    """
    opts = options or ReadOptions()
    renames = opts.renames()
    long = bool({"channel", "value"} & {renames.get(name, name) for name in header})
    types = {name: ("VARCHAR" if long else "DOUBLE") for name in header}
    types.update(
        {
            opts.asset_column: "VARCHAR",
            opts.time_column: "VARCHAR" if opts.parses_text_time() else "TIMESTAMPTZ",
            **dict.fromkeys(opts.label_columns, "VARCHAR"),
        }
    )
    if long:
        types.update({name: "DOUBLE" for name in header if renames.get(name, name) == "value"})
    return {name: types[name] for name in header}


def _with_flagged_failures(report: IngestReport, column: str, write_events: Any) -> IngestReport:
    """File the failures a failure flag column marked (:attr:`IngestReport.flagged_failures`) as failure events,
    and say so in the report's notes."""
    note = f"{report.source}: no row flagged in the failure column {column!r}"
    if report.flagged_failures:
        raw = pd.DataFrame(
            [(a, t, "failure", flag_runs.flag_note(column)) for a, t in report.flagged_failures],
            columns=["asset_id", "ts", "kind", "note"],
        )
        events = to_events(raw, source=report.source)
        filed = write_events(events, source=report.source, strict=False, line_of=lambda r: r + 2, progress=None)
        note = (
            f"{report.source}: {len(raw):,} failure(s) marked in the column {column!r} (each run of flagged rows of "
            f"an asset, at its first row): {filed.written:,} failure event(s) filed, {filed.duplicates:,} already stored"
        )
    return dataclasses.replace(report, notes=(*report.notes, note))


def _frame_as_arrow(frame: pd.DataFrame, source: str) -> pa.Table:
    """A pandas frame as an Arrow table for the DuckDB path (mixed-type text columns become text)."""
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        fixed = frame.copy()
        for column in fixed.columns:
            if fixed[column].dtype == object:
                fixed[column] = [
                    None if v is None or (isinstance(v, float) and v != v) else str(v) for v in fixed[column]
                ]
        try:
            return pa.Table.from_pandas(fixed, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError) as err:
            raise IngestError(f"cannot read the frame: {err}", source=source) from None


LOCK_HINT = (
    "a store file is open in one process at a time: stop that process, or run the API and the MQTT / "
    "OPC UA stream together with 'forewarn serve --store {file} --stream CONFIG.toml'"
)


def lock_conflict(path: str, err: BaseException) -> str | None:
    """A one-line message when ``err`` says another process holds the lock of the store ``path``; else ``None``.

    >>> lock_conflict("/data/plant.duckdb", OSError('IO Error: Could not set lock on file "/data/plant.duckdb": '
    ...     'Conflicting lock is held in /usr/bin/python3 (PID 4242) by user ana. See also https://duckdb.org'))
    "store file '/data/plant.duckdb' is in use by another process (PID 4242, /usr/bin/python3); a store file is open in one process at a time: stop that process, or run the API and the MQTT / OPC UA stream together with 'forewarn serve --store /data/plant.duckdb --stream CONFIG.toml'"
    >>> lock_conflict("p.duckdb", OSError("IO Error: disk full")) is None
    True
    """
    text = str(err)
    if "Could not set lock" not in text and "Conflicting lock" not in text:
        return None
    found = re.search(r"Conflicting lock is held in (.+?) \(PID (\d+)\)", text)
    holder = f" (PID {found.group(2)}, {found.group(1)})" if found else ""
    return f"store file {path!r} is in use by another process{holder}; {LOCK_HINT.format(file=shlex.quote(path))}"


#: the bytes a DuckDB database file holds at offset 8
DUCKDB_MAGIC = b"DUCK"


def check_store_file(file: Path) -> None:
    """Refuse, in one line, a file that exists but is no DuckDB database (a CSV export named as the store, an empty
    file): DuckDB's own message says nothing of what the file is.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     export = Path(folder) / "plant.csv"
    ...     _ = export.write_text("asset_id,ts,temp\\n")
    ...     try:
    ...         check_store_file(export)
    ...     except ConfigError as err:
    ...         print(str(err).split(";")[0])
    ...     check_store_file(Path(folder) / "new.duckdb")  # no file yet: a new store
    '.../plant.csv' is not a DuckDB store file
    """
    if not file.is_file():
        return
    with file.open("rb") as handle:
        head = handle.read(12)
    if head[8:12] == DUCKDB_MAGIC:
        return
    kind = {".csv": "a CSV file", ".parquet": "a Parquet file", ".json": "a JSON file", ".jsonl": "a JSON-lines file"}
    what = kind.get(file.suffix.lower(), "empty" if not head else "another kind of file")
    raise ConfigError(
        f"{str(file)!r} is not a DuckDB store file; it is {what}. Give --store a .duckdb file; "
        f"forewarn ingest FILE --store plant.duckdb reads exports into one (and creates it)"
    )


class Store:
    """Sites, lines, assets, channels, readings and events in an embedded DuckDB database.

    ``path`` is a database file (created with its folder when missing) or ``":memory:"``. With
    ``read_only=True`` the file must exist; several processes may then read it at once. A store is safe to
    share between threads (calls are serialised). See the package docstring for the ingest rules.
    """

    def __new__(cls, path: str | os.PathLike[str] = ":memory:", *args: Any, **kwargs: Any) -> Store:
        if cls is Store and is_postgres_url(path):
            return super().__new__(server_backend("postgresql"))
        return super().__new__(cls)

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        if self.path == ":memory:":
            if read_only:
                raise ConfigError("an in-memory store cannot be read-only; give the path of a store file")
        else:
            file = Path(self.path).expanduser()
            if read_only and not file.is_file():
                raise DataNotFoundError(f"store file {str(file)!r} does not exist")
            check_store_file(file)
            file.parent.mkdir(parents=True, exist_ok=True)
            self.path = str(file)
        try:
            con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as err:
            locked = lock_conflict(self.path, err)
            raise ConfigError(locked or f"cannot open store {self.path!r}: {err}") from None
        con.execute("SET TimeZone = 'UTC'")
        if read_only and not has_schema(con):
            con.close()
            raise ConfigError(f"{self.path!r} is a DuckDB file but not a Forewarn store; ingest into it first")
        if not read_only:
            create_schema(con)
        self._con: duckdb.DuckDBPyConnection | None = con
        self._index: queries.SeriesIndex | None = None

    # -- life cycle -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the database (safe to call twice)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._con is None else ("read-only" if self.read_only else "open")
        return f"Store({self.path!r}, {state})"

    def _db(self, *, write: bool = False) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StateError(f"the store {self.path!r} is closed; open it again with Store(path)")
        if write:
            if self.read_only:
                raise ConfigError(
                    f"the store {self.path!r} was opened read-only; open it with read_only=False to write"
                )
            self._index = None  # assets or channels may change
        return self._con

    def _series_index(self) -> queries.SeriesIndex:
        con = self._db()
        if self._index is None or not self._index.is_current(con):  # another Store may share the file
            self._index = queries.SeriesIndex(con)
        return self._index

    # -- the plant --------------------------------------------------------------------------------------
    def add_sites(self, sites: Iterable[Site]) -> None:
        """Insert or update sites."""
        with self._lock:
            catalog.add_sites(self._db(write=True), sites)

    def add_lines(self, lines: Iterable[Line]) -> None:
        """Insert or update production lines."""
        with self._lock:
            catalog.add_lines(self._db(write=True), lines)

    def add_assets(self, assets: Iterable[Asset]) -> None:
        """Insert or update assets and their channels (name, unit, description)."""
        with self._lock:
            catalog.add_assets(self._db(write=True), assets)

    def update_assets(
        self, updates: Iterable[dict[str, Any]], *, source: str | None = None
    ) -> tuple[list[str], list[str]]:
        """Create or update assets field by field (metadata merged): ``(created, updated)`` asset ids.

        Each update is ``{"asset_id": ..., "asset_class"?, "site_id"?, "line_id"?, "name"?, "install_date"?,
        "metadata"?: {...}}``; see :func:`forewarn.store.catalog.update_assets`.
        """
        return self._update_assets(list(updates), source, None)

    def _update_assets(
        self, updates: list[dict[str, Any]], source: str | None, lines: Sequence[int] | None
    ) -> tuple[list[str], list[str]]:
        with self._lock:
            return catalog.update_assets(self._db(write=True), updates, source=source, lines=lines)

    def import_assets(
        self,
        path: str | os.PathLike[str],
        *,
        encoding: str | None = None,
        rename: str | Sequence[tuple[str, str]] = (),
    ) -> AssetImport:
        """Create or update the assets of a CSV asset list (see :mod:`forewarn.store.asset_import`); all or nothing.
        ``rename`` reads the file's own column names as fields (``"Maschine=asset_id,Standort=site"``)."""
        updates, lines, notes = read_asset_file(path, encoding, rename)
        with self._lock:
            try:
                created, updated = self._update_assets(updates, str(path), lines)
            except SchemaError as err:
                raise IngestError(
                    err.reason, source=err.source, line=err.line, column=err.column, hint=err.hint
                ) from None
        return AssetImport(str(path), created=tuple(created), updated=tuple(updated), notes=notes)

    # -- ingest -----------------------------------------------------------------------------------------
    def ingest_readings(
        self,
        data: pd.DataFrame | pa.Table,
        *,
        source: str = "frame",
        strict: bool = False,
        progress: Progress | None = None,
        asset_column: str = "asset_id",
        time_column: str = "ts",
        time_format: str | None = None,
        timezone: str = "UTC",
        asset: str | None = None,
        label_columns: Sequence[str] | str = (),
        on_conflict: OnConflict = "keep",
    ) -> IngestReport:
        """Store readings given as a long or wide pandas frame or Arrow table; all or nothing.

        Pandas frames are validated by :func:`forewarn.schema.to_long_readings` (error lines are 1-based
        rows); Arrow tables, and frames read with any of the options below, take the same vectorised
        DuckDB path as files. The options are those of :meth:`ingest_file` (see
        :class:`~forewarn.store.options.ReadOptions`).
        """
        options = ReadOptions(
            asset_column=asset_column,
            time_column=time_column,
            time_format=time_format,
            timezone=timezone,
            asset=asset,
            label_columns=label_columns,  # type: ignore[arg-type]
            on_conflict=on_conflict,
        )
        with self._lock, self._ingest_session() as (con, target, _):
            if isinstance(data, pa.RecordBatch):
                data = pa.Table.from_batches([data])
            if isinstance(data, pd.DataFrame) and (not options.is_default() or on_conflict == "error"):
                data = _frame_as_arrow(data, source)  # errors then name the frame's own rows and columns
            if isinstance(data, pa.Table):
                table = data
                return self._ingest_staged(
                    con, lambda: stage_arrow(con, table, name=STAGE, source=source), strict, progress, options, target
                )
            if not isinstance(data, pd.DataFrame):
                raise IngestError(
                    f"expected a pandas DataFrame or a pyarrow Table, got {type(data).__name__}", source=source
                )
            try:
                long = to_long_readings(data, source=source)
            except SchemaError as err:
                raise IngestError(err.reason, source=source, line=err.line, column=err.column, hint=err.hint) from None
            if strict:
                self._check_known(data, set(long["asset_id"]), source)
            long_table = long_arrow(long)
            return self._ingest_staged(
                con, lambda: stage_arrow(con, long_table, name=STAGE, source=source), strict, progress, options, target
            )

    @contextlib.contextmanager
    def _ingest_session(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, WriteTarget | None, EventsWriter]]:
        """The DuckDB connection that stages a batch, where the batch goes (``None``: that connection's
        own tables) and the function that writes validated events; a server store swaps all three."""
        con = self._db(write=True)
        yield con, None, functools.partial(ingest_events_frame, con)

    def _asset_ids(self) -> set[str]:
        return {str(r[0]) for r in self._db().execute("SELECT asset_id FROM assets").fetchall()}

    def _check_known(self, raw: pd.DataFrame, asset_ids: set[str], source: str) -> None:
        known = self._asset_ids()
        unknown = asset_ids - known
        if unknown:
            mask = raw["asset_id"].astype(str).isin(unknown).to_numpy()
            first = int(mask.nonzero()[0][0])
            raise UnknownAssetError(
                f"unknown asset {str(raw['asset_id'].iloc[first])!r}",
                source=source,
                line=first + 1,
                column="asset_id",
                hint=STRICT_HINT,
            )

    @staticmethod
    def _ingest_staged(
        con: duckdb.DuckDBPyConnection,
        stage: Callable[[], Any],
        strict: bool,
        progress: Progress | None,
        options: ReadOptions,
        target: WriteTarget | None,
    ) -> IngestReport:
        try:
            return ingest_staged_readings(
                con, stage(), strict=strict, progress=progress, options=options, target=target
            )
        finally:
            drop_staged(con, STAGE)

    def ingest_events(
        self,
        data: pd.DataFrame | pa.Table,
        *,
        source: str = "frame",
        strict: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Store events (failures, maintenance, inspections) from a pandas frame or Arrow table."""
        with self._lock, self._ingest_session() as (_, _target, write_events):
            raw = data.to_pandas() if isinstance(data, pa.Table) else data
            if not isinstance(raw, pd.DataFrame):
                raise IngestError(
                    f"expected a pandas DataFrame or a pyarrow Table, got {type(data).__name__}", source=source
                )
            events = validate_events(raw, source=source, line_of=lambda record: record + 1)
            return write_events(events, source=source, strict=strict, line_of=lambda r: r + 1, progress=progress)

    def ingest_file(
        self,
        path: str | os.PathLike[str],
        *,
        kind: Literal["auto", "readings", "events"] = "auto",
        strict: bool = False,
        progress: Progress | None = None,
        asset_column: str = "asset_id",
        time_column: str = "ts",
        time_format: str | None = None,
        timezone: str = "UTC",
        asset: str | None = None,
        label_columns: Sequence[str] | str = (),
        on_conflict: OnConflict = "keep",
        encoding: str | None = None,
        na_values: Sequence[str] | str = (),
        tag_map: str | os.PathLike[str] | None = None,
        tag_column: str = "tag",
        quality_column: str | None = None,
        good_quality: Sequence[str] | str = ("Good", "192"),
        rename: Sequence[tuple[str, str]] | str = (),
        event_kind: str | None = None,
        failure_column: str | None = None,
        hold: str | None = None,
    ) -> IngestReport:
        """Store a CSV (``.csv``, ``.csv.gz``), Parquet or JSON-lines (``.jsonl``, ``.ndjson``) file.

        ``kind="auto"`` reads events when the file has a ``kind`` column, readings otherwise. A bad file is
        rejected whole; the error names the file, the line (header = line 1; Parquet: 1-based row) and the
        column. ``progress`` is called with the number of records written (at the end).

        For a plant's own export: ``asset_column`` and ``time_column`` name the columns of the asset id and
        the time (``asset`` gives every row one asset id instead), ``time_format`` is a ``strptime`` format,
        ``timezone`` the IANA zone of naive times, ``label_columns`` are stored as labels (see
        :meth:`labels`) and never as channels, ``on_conflict`` (``keep``, ``replace``, ``error``) says what a
        stored reading with a different value becomes, and ``encoding`` is that of a text file (default:
        UTF-8, else Windows-1252, said in ``IngestReport.notes``), ``na_values`` are a CSV file's texts for "no
        value" (``"n/a,---"``), read as gaps. Events files take the column, time format and zone options.
        A historian's long export (``tag, timestamp, value, quality``) takes ``tag_map`` (a CSV of ``tag, asset,
        channel[, unit]``), ``tag_column``, ``quality_column`` and ``good_quality`` (:mod:`forewarn.store.historian`).
        ``rename`` puts other columns under Forewarn's names (``"Type=kind,Work done=action"``), and ``event_kind``
        gives every row of an events file without a kind column one kind (a failure log: ``"failure"``).
        ``failure_column`` names a readings file's failure flag column (1/0, yes/no): stored as a label, and each run
        of flagged rows of an asset is filed as one failure event at its first row (said in ``notes``); a run that
        continues a stored run at the next sampling step (a file cut while the machine was down) is that run's failure,
        not a second one (:mod:`forewarn.store.flag_runs`). ``hold`` (``"8h"``) says the readings were recorded on
        change, a value holding until its channel's next reading, at most that long (a tag map's ``hold`` column
        sets it per tag; :mod:`forewarn.store.hold`).
        """
        if kind not in ("auto", "readings", "events"):
            raise ConfigError(f"kind={kind!r}; use 'auto', 'readings' or 'events'")
        options = ReadOptions(
            asset_column=asset_column,
            time_column=time_column,
            time_format=time_format,
            timezone=timezone,
            asset=asset,
            label_columns=label_columns,  # type: ignore[arg-type]
            on_conflict=on_conflict,
            encoding=encoding,
            na_values=na_values,  # type: ignore[arg-type]
            tag_map=None if tag_map is None else str(tag_map),
            tag_column=tag_column,
            quality_column=quality_column,
            good_quality=good_quality,  # type: ignore[arg-type]
            rename=rename,  # type: ignore[arg-type]
            event_kind=event_kind,
            failure_column=failure_column,
            hold=hold,
        )
        with self._lock, self._ingest_session() as (con, target, write_events):
            file = Path(path)
            if not file.is_file():
                raise DataNotFoundError(f"file {str(file)!r} does not exist")
            if kind == "auto":
                named = {options.renames().get(c, c) for c in self._columns_of(con, file)}
                has_kind = "kind" in named or options.event_kind is not None
                kind = "events" if has_kind and not options.label_columns else "readings"
            staged: Staged | None = None
            try:
                if kind == "readings":
                    staged = stage_file(
                        con,
                        file,
                        name=STAGE,
                        types_for=lambda h: readings_types(h, options),
                        encoding=encoding,
                        na_values=options.na_values,
                    )
                    report = ingest_staged_readings(
                        con, staged, strict=strict, progress=progress, options=options, target=target
                    )
                    if options.failure_column is None:
                        return report
                    return _with_flagged_failures(report, options.failure_column, write_events)
                if options.label_columns or on_conflict != "keep" or tag_map is not None or quality_column or hold:
                    raise ConfigError(
                        "events files take --asset-column, --time-column, --time-format, --timezone, --asset and "
                        "--encoding; labels, --on-conflict, --tag-map, --quality-column and --hold apply to readings"
                    )
                staged = stage_file(con, file, name=STAGE, types_for=lambda header: None, encoding=encoding)
                events_view = parse_event_times(con, renamed(con, staged, options), options)
                events = validate_events(
                    staged_events_frame(con, events_view), source=staged.source, line_of=staged.line_of
                )
                report = write_events(
                    events, source=staged.source, strict=strict, line_of=staged.line_of, progress=progress
                )
                return dataclasses.replace(report, notes=(staged.note,)) if staged.note else report
            finally:
                drop_staged(con, STAGE)
                if staged is not None:
                    staged.release()

    @staticmethod
    def _columns_of(con: duckdb.DuckDBPyConnection, file: Path) -> list[str]:
        fmt = file_format(file)
        try:
            if fmt == "csv":
                try:
                    return csv_header(file)
                except UnicodeDecodeError:
                    return csv_header(file, "cp1252")
            if fmt == "parquet":
                return list(pq.read_schema(file).names)
            rows = con.execute(
                f"DESCRIBE SELECT * FROM read_json({quote_literal(str(file))}, "
                "format='newline_delimited', sample_size=-1)"
            ).fetchall()
            return [str(r[0]) for r in rows]
        except (duckdb.Error, pa.ArrowException, OSError, UnicodeDecodeError):
            return []  # let the reader report what is wrong with the file, with its line

    # -- queries ----------------------------------------------------------------------------------------
    def readings(
        self,
        asset_id: str,
        start: object = None,
        end: object = None,
        *,
        channels: Sequence[str] | None = None,
        resample: str | None = None,
        agg: str = "mean",
        wide: bool = False,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Readings of one asset in ``[start, end)``, the last ``limit`` times only when given; see
        :func:`forewarn.store.queries.readings`."""
        with self._lock:
            return queries.readings(
                self._db(),
                asset_id,
                start,
                end,
                channels=channels,
                resample=resample,
                agg=agg,
                wide=wide,
                index=self._series_index(),
                limit=limit,
            )

    def latest(self, asset_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Last value per asset and channel (``asset_id, channel, ts, value``)."""
        with self._lock:
            return queries.latest(self._db(), asset_ids)

    def events(
        self, asset_id: str | None = None, *, kind: str | None = None, start: object = None, end: object = None
    ) -> pd.DataFrame:
        """Events sorted by time, optionally of one asset, one kind, and in ``[start, end)``."""
        with self._lock:
            return queries.events(self._db(), asset_id, kind=kind, start=start, end=end)

    def assets(self) -> pd.DataFrame:
        """``asset_id, asset_class, site_id, line_id, name, install_date, metadata`` (metadata as dict)."""
        with self._lock:
            return queries.assets(self._db())

    def holds(self) -> pd.DataFrame:
        """``asset_id, channel, hold`` (a ``Timedelta``) of the channels recorded on change
        (:mod:`forewarn.store.hold`), sorted; empty when none is held."""
        with self._lock:
            index = self._series_index()
            rows = sorted(
                (asset, name, pd.Timedelta(microseconds=index.holds[sid]))
                for asset, series in index.series.items()
                for sid, name in series.items()
                if sid in index.holds
            )
        return pd.DataFrame(rows, columns=["asset_id", "channel", "hold"])

    def set_hold(self, asset_id: str, channels: Sequence[str] | None, hold: str | None) -> int:
        """Say that the readings of an asset's ``channels`` (all of its channels: ``None``) are recorded on change
        and hold until the next one, at most ``hold`` (e.g. ``"8h"``; ``None`` or ``"0"``: not held). Returns how
        many channels were set; an unknown asset or channel is refused (:mod:`forewarn.store.hold`)."""
        micros = hold_micros(hold)
        with self._lock:
            con = self._db(write=True)
            series = queries.SeriesIndex(con).of(str(asset_id), channels)
            return set_holds(con, [(str(asset_id), name, micros) for name in series.values()])

    def channels(self, asset_id: str | None = None) -> pd.DataFrame:
        """``asset_id, channel, unit, description`` of one asset or all."""
        with self._lock:
            return queries.channels(self._db(), asset_id)

    def labels(
        self,
        asset_ids: Sequence[str] | None = None,
        *,
        name: str | None = None,
        start: object = None,
        end: object = None,
    ) -> pd.DataFrame:
        """Labels ``asset_id, ts (UTC), name, value (str)`` in ``[start, end)``, sorted by asset_id and ts.

        Labels come from the ``label_columns`` of an ingest; see :mod:`forewarn.store.labels`.
        """
        with self._lock:
            return labels.labels(self._db(), asset_ids, name=name, start=start, end=end)

    def label_names(self) -> list[str]:
        """The names of the stored labels, sorted."""
        with self._lock:
            return labels.label_names(self._db())

    def hierarchy(self) -> dict[str | None, dict[str | None, list[str]]]:
        """``{site_id: {line_id: [asset_id, ...]}}`` with ``None`` keys for unassigned assets."""
        with self._lock:
            return queries.hierarchy(self._db())

    def fleet_summary(self) -> pd.DataFrame:
        """Per asset: class, site, line, n_readings, n_channels, first/last reading, failures, maintenance."""
        with self._lock:
            return queries.fleet_summary(self._db())

    def drop_readings_before(self, cutoff: object) -> int:
        """Retention (:mod:`forewarn.store.retention`): delete the readings before ``cutoff``'s UTC day; the plant,
        events and labels stay. Returns the number deleted.

        >>> with Store() as db:
        ...     _ = db.ingest_readings(pd.DataFrame({"asset_id": "P-1", "ts": ["2024-01-01", "2024-01-03"], "t": [1.0, 2.0]}))
        ...     (db.drop_readings_before("2024-01-02 12:00"), db.count_readings())
        (1, 1)
        """
        from forewarn.store.retention import drop_before_duckdb, retention_cutoff

        day = retention_cutoff(cutoff)
        with self._lock:
            return drop_before_duckdb(self._db(write=True), day)

    def count_readings(self) -> int:
        """Number of readings stored."""
        with self._lock:
            return int(fetch_value(self._db(), "SELECT count(*) FROM reading_values"))

    def export_parquet(
        self, out_dir: str | os.PathLike[str], *, start: object = None, end: object = None
    ) -> list[Path]:
        """Hive-partitioned Parquet export (``site_id=/asset_id=/date=``); see :mod:`forewarn.store.export`."""
        with self._lock:
            return export_parquet(self._db(), out_dir, start=start, end=end)

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run one read-only ``SELECT`` (tables: sites, lines, assets, channels, readings, events, labels).

        Anything else (several statements, writes, DDL) is refused. It can read local files through
        DuckDB's table functions, so do not pass it text from untrusted users.
        """
        try:
            statements = duckdb.extract_statements(query)
        except duckdb.Error as err:
            raise ConfigError(f"cannot parse the query: {err}") from None
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise ConfigError("Store.sql runs exactly one read-only SELECT statement; use the Store methods to write")
        with self._lock:
            con = self._db()
            try:
                return queries.frame(con, query, list(params) if isinstance(params, (list, tuple)) else params)
            except duckdb.Error as err:
                raise ConfigError(f"query failed: {err}") from None
