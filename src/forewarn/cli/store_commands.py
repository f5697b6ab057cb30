"""``forewarn ingest`` and ``forewarn assets``: files into the store, and what the store holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from forewarn.exceptions import DataNotFoundError

KINDS = ("auto", "readings", "events")


def register(app: typer.Typer) -> None:
    """Add the store commands to ``app``."""
    app.command()(ingest)
    app.command()(assets)


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="CSV, Parquet or JSON-lines files of readings or events.")],
    store: Annotated[Path, typer.Option(help="DuckDB file (created if missing) or :memory:.")] = Path(
        "forewarn.duckdb"),
    kind: Annotated[str, typer.Option(help="auto, readings or events.")] = "auto",
    strict: Annotated[bool, typer.Option(help="Reject files that name assets the store does not know.")] = False,
) -> None:
    """Ingest files into the store. Each file goes in whole or not at all; re-ingesting adds no duplicates."""
    from forewarn.store import Store

    if kind not in KINDS:
        raise typer.BadParameter(f"use one of {', '.join(KINDS)}", param_hint="--kind")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DataNotFoundError(f"no such file: {', '.join(missing)}")
    console = Console(stderr=True)
    total_written = total_dupes = 0
    with Store(store) as db, Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[n]}"),
                                      TimeElapsedColumn(), console=console, transient=True) as progress:
        overall = progress.add_task("files", total=len(paths), n="")
        for path in paths:
            task = progress.add_task(f"{path.name}", total=None, n="")
            report = db.ingest_file(path, kind=kind, strict=strict,  # type: ignore[arg-type]
                                    progress=lambda n, t=task: progress.update(t, n=f"{n:,} rows"))
            progress.remove_task(task)
            progress.advance(overall)
            total_written += report.written
            total_dupes += report.duplicates
            created = f", {len(report.assets_created)} new asset(s)" if report.assets_created else ""
            console.print(f"{path}: {report.rows_read:,} rows read, {report.written:,} written, "
                          f"{report.duplicates:,} already stored{created}")
    typer.echo(f"ingested {len(paths)} file(s) into {store}: {total_written:,} written, "
               f"{total_dupes:,} duplicates skipped")


def assets(
    store: Annotated[Path, typer.Option(help="DuckDB file to read.")] = Path("forewarn.duckdb"),
) -> None:
    """List the assets in the store with their readings, time span and failures."""
    from forewarn.store import Store

    if str(store) != ":memory:" and not store.is_file():
        raise DataNotFoundError(f"no store at {str(store)!r}; create one with 'forewarn ingest FILE --store {store}'")
    with Store(store, read_only=True) as db:
        summary = db.fleet_summary()
    table = Table(title=f"{len(summary)} asset(s) in {store}")
    for column in ("asset_id", "asset_class", "site_id", "line_id", "n_readings", "n_channels", "first_ts",
                   "last_ts", "n_failures"):
        table.add_column(column, justify="right" if column.startswith("n_") else "left")
    for row in summary.itertuples(index=False):
        table.add_row(*[_cell(getattr(row, c)) for c in (
            "asset_id", "asset_class", "site_id", "line_id", "n_readings", "n_channels", "first_ts", "last_ts",
            "n_failures")])
    Console().print(table)


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
