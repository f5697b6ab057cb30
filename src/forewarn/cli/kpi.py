"""``forewarn kpi``: OEE (ISO 22400-2), the six big losses, MTBF, MTTR, energy per good unit, the downtime
Pareto and the ranked improvement opportunities, from production records or from a simulated fleet.

>>> import typer
>>> from typer.testing import CliRunner
>>> app = typer.Typer()
>>> register(app)
>>> "--records" in CliRunner().invoke(app, ["--help"]).output
True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from forewarn.exceptions import ConfigError, DataNotFoundError


def register(app: typer.Typer) -> None:
    """Add ``kpi`` to ``app``."""
    app.command()(kpi)


def read_table(path: Path) -> Any:
    """A table file as a frame, read by its content (not its name): Parquet (its ``PAR1`` magic), JSON (a list
    of objects, as ``forewarn score --format json`` writes, or an object of columns) or CSV.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "score.out").write_text('[{"asset_id": "P1", "probability": 0.5}]')
    40
    >>> read_table(folder / "score.out").to_dict("records")
    [{'asset_id': 'P1', 'probability': 0.5}]
    >>> (folder / "bad.json").write_text('[{"asset_id": "P1",')
    19
    >>> read_table(folder / "bad.json")
    Traceback (most recent call last):
    ...
    forewarn.exceptions.SchemaError: ...bad.json, line 1: not valid JSON: Expecting property name enclosed in double quotes (column 20)
    """
    import pandas as pd

    from forewarn.exceptions import SchemaError

    if not path.is_file():
        raise DataNotFoundError(f"{path}: no such file")
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PAR1"):
        return pd.read_parquet(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise SchemaError(
            f"not UTF-8 text (byte {err.start})", source=str(path), hint="save it as UTF-8 CSV or JSON, or as Parquet"
        ) from None
    if text.lstrip()[:1] in ("[", "{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise SchemaError(
                f"not valid JSON: {err.msg} (column {err.colno})", source=str(path), line=err.lineno
            ) from None
        if isinstance(data, list) and all(isinstance(row, dict) for row in data):
            return pd.DataFrame.from_records(data)
        if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
            return pd.DataFrame(data)
        raise SchemaError(
            "JSON that is not a table",
            source=str(path),
            hint="give a list of objects, one per row (as forewarn score --format json writes)",
        )
    from io import StringIO

    try:
        return pd.read_csv(StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise SchemaError(f"not a CSV table: {str(err).strip()}", source=str(path)) from None


def kpi(
    records: Annotated[
        Path | None,
        typer.Option(
            help="Production records (CSV, JSON or Parquet), one row per asset and period; see forewarn.kpi.oee."
        ),
    ] = None,
    events: Annotated[
        Path | None, typer.Option(help="Downtime events (CSV, JSON or Parquet): asset_id, start, end, reason.")
    ] = None,
    store: Annotated[
        Path | None, typer.Option(help="Store: read its production records (with --records: write them into it first).")
    ] = None,
    start_day: Annotated[str | None, typer.Option(help="--store: first day (YYYY-MM-DD).")] = None,
    end_day: Annotated[str | None, typer.Option(help="--store: last day (YYYY-MM-DD).")] = None,
    simulate: Annotated[bool, typer.Option(help="Use production data of a simulated fleet instead of files.")] = False,
    assets: Annotated[int, typer.Option(min=1, help="--simulate: assets.")] = 20,
    sites: Annotated[int, typer.Option(min=1, help="--simulate: sites.")] = 2,
    days: Annotated[int, typer.Option(min=1, help="--simulate: days.")] = 30,
    seed: Annotated[int, typer.Option(help="--simulate: seed.")] = 0,
    by: Annotated[str, typer.Option(help="Group by asset, line, site, shift or day.")] = "line",
    top: Annotated[int, typer.Option(min=1, help="Opportunities kept per line.")] = 3,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the whole report as JSON here.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, or json (the report on stdout).")] = "table",
) -> None:
    """OEE = availability x performance x quality per group, losses, MTBF/MTTR, Pareto and opportunities."""
    from forewarn.kpi import kpi_report

    if fmt not in ("table", "json"):
        raise ConfigError(f"--format {fmt!r}: use table or json")
    if simulate:
        from forewarn.twin.fleet import build_fleet

        if assets < sites:
            raise ConfigError(f"--assets {assets} cannot fill --sites {sites}: give at least one asset per site")
        from forewarn.twin.production import production_data

        data = production_data(build_fleet(sites=sites, assets=assets, days=days, seed=seed, interval="1h"))
        frame, downtime = data.records, data.events
    elif store is not None:
        from forewarn.store import Store
        from forewarn.store.production import read_production, write_production

        with Store(store) as db:
            if records is not None:
                write_production(
                    db, read_table(records), read_table(events) if events is not None else None, source=str(records)
                )
            frame, downtime = read_production(db, start_day, end_day)
        if frame.empty:
            raise ConfigError(f"the store {store} holds no production records in that period; ingest with --records")
    else:
        if records is None:
            raise ConfigError("give --records FILE (and --events FILE), --store PATH, or --simulate")
        frame = read_table(records)
        downtime = read_table(events) if events is not None else None
    report = kpi_report(frame, downtime, by=by, top=top)
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=1))
    if fmt == "json":
        typer.echo(json.dumps(report, indent=1))
        return
    _print(report)


def _pct(value: Any) -> str:
    return "" if value is None else f"{100 * value:.1f} %"


def _print(report: dict[str, Any]) -> None:
    from rich.console import Console

    from forewarn.cli.tables import Column, print_table
    from forewarn.kpi.oee import GROUPS

    console = Console()
    key = GROUPS[report["by"]]
    columns = [
        Column(report["by"]),
        *(Column(n, "right") for n in ("OEE", "avail.", "perf.", "quality", "kWh/good", "MTBF h", "MTTR h")),
    ]
    rows = []
    for g in [*report["groups"], report["total"] | {key: "all"}]:
        rows.append(
            [
                str(g.get(key, "all")),
                _pct(g["oee"]),
                _pct(g["availability"]),
                _pct(g["performance"]),
                _pct(g["quality"]),
                "" if g["energy_per_good_kwh"] is None else f"{g['energy_per_good_kwh']:.3f}",
                "" if g.get("mtbf_h") is None else f"{g['mtbf_h']:.0f}",
                "" if g.get("mttr_h") is None else f"{g['mttr_h']:.1f}",
            ]
        )
    print_table(console, columns, rows, title=f"OEE by {report['by']} ({report['definitions']})", key_width=14)
    if report["pareto"]:
        print_table(
            console,
            [Column("reason"), Column("hours", "right"), Column("stops", "right"), Column("cumulative", "right")],
            [
                [p["reason"], f"{p['hours']:.1f}", str(p["stops"]), _pct(p["cumulative_share"])]
                for p in report["pareto"]
            ],
            title="Downtime Pareto",
            key_width=20,
        )
    print_table(
        console,
        [
            Column("line"),
            Column("loss"),
            Column("hours", "right"),
            Column("OEE points if halved", "right"),
            Column("good units", "right"),
        ],
        [
            [
                str(o.get("line_id", o.get(key))),
                o["loss"],
                f"{o['loss_h']:.1f}",
                f"{o['oee_gain_points']:.2f}",
                f"{o['extra_good_units']:.0f}",
            ]
            for o in report["opportunities"][:10]
        ],
        title="Improvement opportunities (largest losses, gain if halved)",
        key_width=12,
    )
