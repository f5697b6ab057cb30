"""``forewarn ingest`` and ``forewarn assets``: files into the store, and what the store holds.

``forewarn assets --store DB`` lists the assets; ``forewarn assets import FILE`` and ``forewarn assets set ID``
declare them (class, site, line, name, metadata) without writing Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forewarn.cli.tables import FORMAT_HELP
from forewarn.exceptions import DataNotFoundError

KINDS = ("auto", "readings", "events")
CONFLICTS = ("keep", "replace", "error")
STORE_HELP = "DuckDB file (created if missing), :memory:, or postgresql://user@host/db (env FOREWARN_STORE)."

assets_app = typer.Typer(
    help="List the assets in the store, or declare them (import, set).",
    invoke_without_command=True,
    no_args_is_help=False,
)


def is_postgres_url(target: str) -> bool:
    """True for a ``postgresql://`` store (checked here without importing the store package, to start fast)."""
    return str(target).startswith(("postgresql:", "postgres:"))


#: ``--time-format`` and ``--timezone`` of ``ingest`` and ``detect FILE``: one meaning, one parser
#: (:func:`forewarn.store.validate.ts_sql`)
TIME_FORMAT_HELP = (
    "strptime format of the time, e.g. '%d/%m/%Y %H:%M' (default: ISO 8601), or epoch / epoch_ms for "
    "seconds / milliseconds since 1970 (UTC)."
)
TIMEZONE_HELP = "IANA zone of times without an offset, e.g. Europe/Berlin."

READ_HELP = "DuckDB file to read, or postgresql://user@host/db (env FOREWARN_STORE)."

store_app = typer.Typer(
    help="Manage a store: migrate its schema, copy it between DuckDB and PostgreSQL, drop old readings (retain)."
)


def register(app: typer.Typer) -> None:
    """Add the store commands to ``app``."""
    app.command()(ingest)
    app.add_typer(assets_app, name="assets")
    app.add_typer(store_app, name="store")


@store_app.command("migrate")
def migrate(
    store: Annotated[str, typer.Option(help=STORE_HELP, envvar="FOREWARN_STORE")] = "forewarn.duckdb",
) -> None:
    """Bring a store's schema to this version (PostgreSQL: numbered migrations); prints JSON."""
    import json

    from forewarn.store.backend import migrate_store

    typer.echo(json.dumps(migrate_store(store)))


@store_app.command("copy")
def copy(
    source: Annotated[str, typer.Option("--from", help="Store to read: DuckDB file or postgresql:// URL.")],
    target: Annotated[str, typer.Option("--to", help="Store to write (created or migrated): file or URL.")],
    slice_days: Annotated[int, typer.Option(min=1, help="Days of one asset's readings moved per batch.")] = 31,
) -> None:
    """Copy a whole store into another, either way; idempotent (a second run writes nothing). The case book, holds
    and the record of rewrites (so the marks of detect --only-new hold on the copy) go too. Prints JSON."""
    import json
    import time

    from forewarn.store import Store
    from forewarn.store.copy import copy_store

    if not is_postgres_url(source) and source != ":memory:" and not Path(source).is_file():
        raise DataNotFoundError(f"no store at {source!r}")
    started = time.perf_counter()
    with Store(source, read_only=source != ":memory:") as src, Store(target) as dst:
        report = copy_store(src, dst, slice_days=slice_days)
        shown = {"from": src.path, "to": dst.path}
        cases = _copy_cases(src, dst)
    typer.echo(json.dumps({**shown, **report.as_dict(), **cases, "seconds": round(time.perf_counter() - started, 3)}))


def _copy_cases(source: object, target: object) -> dict[str, int]:
    """The case book goes with its store: a DuckDB store's ``*.cases.duckdb`` beside it (when there is one), a
    PostgreSQL store's tables in its database."""
    from forewarn.decide.casebook_copy import copy_casebook
    from forewarn.decide.cases import CaseBook, casebook_path_for

    book = casebook_path_for(source)
    if book == ":memory:" or (not is_postgres_url(book) and not Path(book).is_file()):
        return {"cases": 0, "alerts": 0}
    into = casebook_path_for(target)
    if into == ":memory:":
        return {"cases": 0, "alerts": 0}
    old, new = CaseBook(book), CaseBook(into)
    try:
        return copy_casebook(old, new)
    finally:
        old.close()
        new.close()


@store_app.command("retain")
def retain(
    store: Annotated[
        str,
        typer.Option(help="DuckDB file or postgresql://user@host/db (env FOREWARN_STORE).", envvar="FOREWARN_STORE"),
    ],
    keep: Annotated[
        str | None, typer.Option(help="History of raw readings to keep before the newest one, e.g. 400d.")
    ] = None,
    before: Annotated[str | None, typer.Option(help="Drop the readings before this UTC day (ISO time).")] = None,
) -> None:
    """Retention: drop raw readings older than a cutoff (a whole UTC day); the plant, events, labels and, on
    PostgreSQL, the hourly and daily rollups stay. The record of rewrites before the cutoff is coalesced to a row per
    series. Prints JSON (cutoff, readings dropped, rows of the record of rewrites coalesced and left)."""
    import json

    from forewarn.store import Store
    from forewarn.store.retention import retention_cutoff

    if not is_postgres_url(store) and not Path(store).is_file():
        raise DataNotFoundError(f"no store at {store!r}")
    with Store(store) as db:
        newest = db.latest()["ts"].max() if keep is not None else None
        cutoff = retention_cutoff(before, keep=keep, newest=newest)
        count = "SELECT count(*) AS n FROM reading_rewrites"
        rewrites = int(db.sql(count).iloc[0, 0])
        dropped = db.drop_readings_before(cutoff)
        left = int(db.sql(count).iloc[0, 0])
        shown = {"store": db.path, "cutoff": cutoff.isoformat(), "dropped": dropped}
        typer.echo(json.dumps({**shown, "rewrites_coalesced": rewrites - left, "rewrites": left}))


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="CSV, Parquet or JSON-lines files of readings or events.")],
    store: Annotated[str, typer.Option(help=STORE_HELP, envvar="FOREWARN_STORE")] = "forewarn.duckdb",
    kind: Annotated[str, typer.Option(help="auto, readings or events.")] = "auto",
    strict: Annotated[bool, typer.Option(help="Reject files that name assets the store does not know.")] = False,
    asset_column: Annotated[str, typer.Option(help="Column holding the asset id.")] = "asset_id",
    time_column: Annotated[str, typer.Option(help="Column holding the time.")] = "ts",
    time_format: Annotated[str | None, typer.Option(help=TIME_FORMAT_HELP)] = None,
    timezone: Annotated[str, typer.Option(help=TIMEZONE_HELP)] = "UTC",
    asset: Annotated[str | None, typer.Option(help="One asset id for every row (a file without asset column).")] = None,
    label_columns: Annotated[
        str, typer.Option(help="Comma-separated columns stored as labels (text or numbers), never as sensor channels.")
    ] = "",
    on_conflict: Annotated[
        str,
        typer.Option(help="A stored reading with a different value: keep it, replace it, or reject the file (error)."),
    ] = "keep",
    encoding: Annotated[
        str | None,
        typer.Option(
            help="Text encoding of CSV / JSON-lines files (default: a byte order mark's, else UTF-8, else "
            "Windows-1252)."
        ),
    ] = None,
    na_values: Annotated[
        str,
        typer.Option(
            help="Comma-separated cell texts of a CSV file that mean no value, e.g. 'n/a,---,#DIV/0!' (read "
            "as gaps, like an empty cell)."
        ),
    ] = "",
    rename: Annotated[
        str,
        typer.Option(
            help="Other columns under Forewarn's names, FILE_COLUMN=NAME comma-separated, e.g. 'Type=kind,Failure "
            "mode=failure_mode,Work done=action' (events) or 'Tag=channel,Wert=value' (long readings)."
        ),
    ] = "",
    event_kind: Annotated[
        str | None,
        typer.Option(help="One kind for every row of an events file without a kind column: failure, maintenance."),
    ] = None,
    failure_column: Annotated[
        str | None,
        typer.Option(
            help="A failure flag column (1/0, yes/no): stored as a label, and each run of flagged rows of an asset "
            "filed as one failure event (a run continuing the previous file's at the next sampling step is the same "
            "failure)."
        ),
    ] = None,
    tag_map: Annotated[
        Path | None,
        typer.Option(
            help="A historian's long export (tag, time, value): CSV of tag, asset, channel (and unit) naming each "
            "tag's asset and channel; rows of other tags are skipped and counted."
        ),
    ] = None,
    tag_column: Annotated[str, typer.Option(help="Column holding the historian's tag (with --tag-map).")] = "tag",
    quality_column: Annotated[
        str | None,
        typer.Option(help="Column holding each value's quality; rows not of --good-quality are skipped and counted."),
    ] = None,
    good_quality: Annotated[
        str, typer.Option(help="Comma-separated qualities of a good value (any case), with --quality-column.")
    ] = "Good,192",
    hold: Annotated[
        str | None,
        typer.Option(
            help="The readings were recorded on change (a historian's deadband, e.g. PI's exception and "
            "compression): a value holds until the channel's next reading, at most this long (e.g. 8h; 0: not "
            "held). Stored with each channel; bucketing at an interval (train, backtest, score, serve, detect "
            "--interval) then weighs the held values by time. A tag map's hold column sets it per tag."
        ),
    ] = None,
) -> None:
    """Ingest files into the store. Each file goes in whole or not at all; re-ingesting adds no duplicates."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from forewarn.store import Store

    if kind not in KINDS:
        raise typer.BadParameter(f"use one of {', '.join(KINDS)}", param_hint="--kind")
    if on_conflict not in CONFLICTS:
        raise typer.BadParameter(f"use one of {', '.join(CONFLICTS)}", param_hint="--on-conflict")
    options = {
        "asset_column": asset_column,
        "time_column": time_column,
        "time_format": time_format,
        "timezone": timezone,
        "asset": asset,
        "label_columns": label_columns,
        "on_conflict": on_conflict,
        "encoding": encoding,
        "na_values": na_values,
        "rename": rename,
        "event_kind": event_kind,
        "failure_column": failure_column,
        "tag_map": tag_map,
        "tag_column": tag_column,
        "quality_column": quality_column,
        "good_quality": good_quality,
        "hold": hold,
    }
    missing = [str(p) for p in [*paths, *([tag_map] if tag_map is not None else [])] if not p.is_file()]
    if missing:
        raise DataNotFoundError(f"no such file: {', '.join(missing)}")
    console = Console(stderr=True)
    total_rows = total_written = total_dupes = 0
    with (
        Store(store) as db,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[n]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        overall = progress.add_task("files", total=len(paths), n="")
        for path in paths:
            task = progress.add_task(f"{path.name}", total=None, n="")
            report = db.ingest_file(
                path,
                kind=kind,  # type: ignore[arg-type]
                strict=strict,
                progress=lambda n, t=task: progress.update(t, n=f"{n:,} rows"),
                **options,  # type: ignore[arg-type]
            )
            progress.remove_task(task)
            progress.advance(overall)
            total_rows += report.rows_read if report.file_rows is None else report.file_rows
            total_written += report.written
            total_dupes += report.duplicates
            for note in report.notes:
                console.print(note, markup=False, highlight=False, soft_wrap=True)
            created = f", {len(report.assets_created)} new asset(s)" if report.assets_created else ""
            labelled = f", {report.labels_written:,} label(s) written" if report.labels_written else ""
            console.print(
                f"{path}: {report.counts_line()}{created}{labelled}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            if report.conflicts:
                console.print(
                    f"{path}: {conflict_line(report.conflicts, report.replaced)}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
        shown = db.path  # a server URL without its password
    typer.echo(
        f"ingested {len(paths)} file(s) into {shown}: {total_rows:,} rows read, {total_written:,} readings and "
        f"events written, {total_dupes:,} duplicates skipped"
    )


def conflict_line(conflicts: int, replaced: int) -> str:
    """The line ``forewarn ingest`` prints when stored values differed from the file's.

    >>> conflict_line(12, 0)
    '12 stored values differed (kept the stored ones; --on-conflict replace to take the new ones)'
    >>> conflict_line(1, 1)
    '1 stored value differed (replaced it with the new one)'
    """
    many = conflicts != 1
    head = f"{conflicts:,} stored value{'s' if many else ''} differed"
    if replaced:
        return f"{head} (replaced {'them' if many else 'it'} with the new one{'s' if many else ''})"
    return (
        f"{head} (kept the stored one{'s' if many else ''}; --on-conflict replace to take the new one"
        f"{'s' if many else ''})"
    )


@assets_app.callback()
def assets(
    ctx: typer.Context,
    store: Annotated[str, typer.Option(help=READ_HELP, envvar="FOREWARN_STORE")] = "forewarn.duckdb",
    fmt: Annotated[str, typer.Option("--format", help="The list as a " + FORMAT_HELP)] = "table",
) -> None:
    """List the assets in the store with their readings, time span and failures (or run a subcommand)."""
    if ctx.invoked_subcommand is None:
        list_assets(store, fmt)


@assets_app.command("list")
def list_assets(
    store: Annotated[str, typer.Option(help=READ_HELP, envvar="FOREWARN_STORE")] = "forewarn.duckdb",
    fmt: Annotated[str, typer.Option("--format", help="The list as a " + FORMAT_HELP)] = "table",
) -> None:
    """List the assets in the store with their readings, time span and failures."""
    from rich.console import Console

    from forewarn.cli.tables import Column, check_format, print_table, write_records
    from forewarn.store import Store

    if str(store) != ":memory:" and not is_postgres_url(store) and not Path(store).is_file():
        raise DataNotFoundError(f"no store at {str(store)!r}; create one with 'forewarn ingest FILE --store {store}'")
    with Store(store, read_only=True) as db:
        summary = db.fleet_summary()
        shown = db.path
    names = (
        "asset_id",
        "asset_class",
        "site_id",
        "line_id",
        "n_readings",
        "n_channels",
        "n_failures",
        "first_ts",
        "last_ts",
    )
    if check_format(fmt) != "table":
        write_records(summary[list(names)].to_dict("records"), fmt, fields=names)
        return
    columns = [Column(c, "right" if c.startswith("n_") else "left") for c in names]
    rows = [[_cell(getattr(row, c)) for c in names] for row in summary.itertuples(index=False)]
    print_table(Console(), columns, rows, title=f"{len(summary)} asset(s) in {shown}")


@assets_app.command("import")
def import_assets(
    path: Annotated[
        Path, typer.Argument(help="CSV: asset_id, site, line, class, name, install_date, other columns as metadata.")
    ],
    store: Annotated[str, typer.Option(help=STORE_HELP, envvar="FOREWARN_STORE")] = "forewarn.duckdb",
    encoding: Annotated[str | None, typer.Option(help="Text encoding (default: UTF-8, else Windows-1252).")] = None,
    rename: Annotated[
        str,
        typer.Option(
            help="The file's own column names as fields, FILE_COLUMN=FIELD comma-separated, e.g. "
            "'Maschine=asset_id,Standort=site,Linie=line,Klasse=class'."
        ),
    ] = "",
) -> None:
    """Create or update assets from a CSV asset list; sites and lines are created as needed."""
    from forewarn.store import Store

    with Store(store) as db:
        report = db.import_assets(path, encoding=encoding, rename=rename)
        shown = db.path
    for note in report.notes:
        typer.echo(note, err=True)
    typer.echo(f"{path}: {len(report.created)} asset(s) created, {len(report.updated)} updated in {shown}")


@assets_app.command("set")
def set_asset(
    asset_id: Annotated[str, typer.Argument(help="The asset to create or update.")],
    store: Annotated[str, typer.Option(help=STORE_HELP, envvar="FOREWARN_STORE")] = "forewarn.duckdb",
    asset_class: Annotated[str | None, typer.Option("--class", help="Asset class: pump, motor, fan...")] = None,
    site: Annotated[str | None, typer.Option(help="Site id (created if new).")] = None,
    line: Annotated[str | None, typer.Option(help="Line id (created if new; the asset takes its site).")] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    meta: Annotated[list[str] | None, typer.Option(help="Metadata key=value (repeat the option).")] = None,
) -> None:
    """Create or update one asset: only the fields given change; metadata is merged."""
    from forewarn.store import Store
    from forewarn.store.asset_import import meta_pairs

    update = {
        "asset_id": asset_id,
        "asset_class": asset_class,
        "site_id": site,
        "line_id": line,
        "name": name,
        "metadata": meta_pairs(meta or []),
    }
    with Store(store) as db:
        created, _ = db.update_assets([update], source="forewarn assets set")
        shown = db.path
    typer.echo(f"{'created' if created else 'updated'} asset {asset_id} in {shown}")


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
