"""``forewarn train``, ``forewarn backtest`` and ``forewarn score``: a plant's own data, end to end, no Python.

Each parses its options, calls the use case below (:mod:`forewarn.train`, :mod:`forewarn.backtest`) and formats
what comes back; the recipe lives there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from forewarn.cli.export import EngineOpt, RayAddressOpt, executor

TaskOpt = Annotated[str | None, typer.Option(help="failure, rul, anomaly or failure-mode (default failure).")]
HorizonOpt = Annotated[str | None, typer.Option(help="Failure horizon, e.g. 24h or 7d (default 24h).")]
STORE_HELP = "DuckDB store with readings and events, or postgresql://user@host/db (opened read-only)."
LabelOpt = Annotated[str | None, typer.Option(help="A stored label column to learn instead of the events.")]
ModelOpt = Annotated[str | None, typer.Option(help="A registered model name, or auto (compare the zoo).")]
SiteOpt = Annotated[str | None, typer.Option("--site", help="Only these sites (comma-separated).")]
LineOpt = Annotated[str | None, typer.Option("--line", help="Only these lines (comma-separated).")]
ClassOpt = Annotated[str | None, typer.Option("--class", help="Only these asset classes (comma-separated).")]
AssetsOpt = Annotated[str | None, typer.Option("--assets", help="Only these assets (comma-separated).")]
SpecOpt = Annotated[Path | None, typer.Option("--spec", help="A TOML file with \\[train] and \\[costs.CLASS] tables.")]
IntervalOpt = Annotated[str | None, typer.Option(help="Sampling interval to train at (default: from the data).")]


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command()(backtest)
    app.command()(score)


def _spec(spec_file: Path | None, **options: Any) -> Any:
    from forewarn.train.spec import TrainSpec

    base = TrainSpec.from_toml(spec_file) if spec_file is not None else TrainSpec()
    renamed = {
        "sites": options.pop("site"),
        "lines": options.pop("line"),
        "classes": options.pop("asset_class"),
        "assets": options.pop("assets"),
    }
    return base.with_options(**options, **renamed)


def train(
    store: Annotated[Path, typer.Option(help=STORE_HELP)],
    models: Annotated[Path, typer.Option(help="Models folder (the registry forewarn serve reads).")],
    task: TaskOpt = None,
    horizon: HorizonOpt = None,
    label: LabelOpt = None,
    model: ModelOpt = None,
    site: SiteOpt = None,
    line: LineOpt = None,
    asset_class: ClassOpt = None,
    assets: AssetsOpt = None,
    spec: SpecOpt = None,
    interval: IntervalOpt = None,
    model_id: Annotated[str | None, typer.Option(help="Registry name of the model (default: the task).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the split and the model.")] = None,
    age: Annotated[
        str | None,
        typer.Option(
            help="Hours since each asset's last renewal (install, replacement, overhaul) as a feature: on, off, "
            "or auto (default: when the events hold a renewal)."
        ),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Also read each row against its asset life's own first weeks, e.g. 14d: z per channel, PCA T2 and "
            "Q of that baseline (default off; forewarn score computes them, the service and the stream refuse such "
            "a model)."
        ),
    ] = None,
    promote: Annotated[bool, typer.Option("--promote", help="Make the new version live.")] = False,
    operating_channels: Annotated[
        str | None,
        typer.Option(
            help="Channels that set the operating point (load, speed, ambient: not the machine's condition), "
            "comma-separated; recorded in the model card so that `forewarn monitor` tells a new operating point "
            "from a changed machine (default: none recorded; monitor then uses its own default)."
        ),
    ] = None,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Train a model on the store's history and file it as a new version in the models folder."""
    from rich.console import Console
    from rich.table import Table

    from forewarn.train import train as run_train

    chosen = _spec(
        spec,
        task=task,
        horizon=horizon,
        label=label,
        model=model,
        site=site,
        line=line,
        asset_class=asset_class,
        assets=assets,
        interval=interval,
        model_id=model_id,
        seed=seed,
        age=age,
        baseline=baseline,
        operating_channels=operating_channels,
    )
    console = Console(stderr=True)
    with console.status("training") as status:
        result = run_train(
            store,
            models,
            spec=chosen,
            promote=promote,
            progress=lambda message: (console.print(message), status.update(message)),
            executor=executor(engine, ray_address),
        )
    metrics = result.metrics
    table = Table(title=f"{result.model_id} {result.version} ({metrics.get('model')})")
    table.add_column("figure")
    table.add_column("held-out assets", justify="right")
    for key in (
        "roc_auc",
        "pr_auc",
        "f1",
        "precision",
        "recall",
        "far",
        "ece",
        "rmse",
        "interval_coverage",
        "interval_coverage_below_cap",
        "interval_coverage_worst_asset",
        "interval_width_median",
        "interval_assets",
        "macro_f1",
    ):
        value = metrics.get(key)
        if value is not None:
            table.add_row(key, str(value) if isinstance(value, int) else f"{value:.3f}")
    Console().print(table)
    zoo = result.card.get("zoo") or []
    if zoo:
        from forewarn.cli.tables import Column, print_table

        print_table(
            Console(),
            [Column("model"), Column("metric"), Column("score", "right"), Column("fit_s", "right"), Column("status")],
            [
                [
                    row["model"],
                    row["metric"],
                    "-" if row["score"] != row["score"] else f"{row['score']:.3f}",
                    f"{row['fit_s']:.1f}",
                    zoo_status(row),
                ]
                for row in zoo
            ],
            title="zoo, by-asset validation on the training assets",
        )
        for line in zoo_failures(zoo):
            typer.echo(line)
    live = (
        "saved, not served (the service scores failure, RUL and anomaly models; load it with forewarn.base.load)"
        if result.card.get("task") == "failure-mode"
        else "live"
        if result.promoted
        else "not live (train again with --promote, or POST /api/v1/models/{id}/promote)"
    )
    typer.echo(f"filed {result.model_id} {result.version} in {result.folder}: {live}")
    for warning in result.card.get("warnings") or []:  # on stderr, after the verdict, where it is read
        Console(stderr=True).print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


BacktestModelOpt = Annotated[
    str | None,
    typer.Option(help="A registered model name (default auto: the task's first zoo model, LightGBM, in every fold)."),
]


def backtest(
    store: Annotated[Path, typer.Option(help=STORE_HELP)],
    task: TaskOpt = None,
    horizon: HorizonOpt = None,
    label: LabelOpt = None,
    model: BacktestModelOpt = None,
    site: SiteOpt = None,
    line: LineOpt = None,
    asset_class: ClassOpt = None,
    assets: AssetsOpt = None,
    spec: SpecOpt = None,
    interval: IntervalOpt = None,
    by: Annotated[str, typer.Option(help="time (walk-forward), asset or site (leave a group out).")] = "time",
    folds: Annotated[int, typer.Option(min=2, help="Number of folds.")] = 5,
    min_lead: Annotated[
        str | None,
        typer.Option(
            help="A failure counts as caught when a case was open this long "
            "before it (default 24h, or half the horizon when shorter)."
        ),
    ] = None,
    features: Annotated[str | None, typer.Option(help="ml (window statistics), physics or hybrid.")] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Also read each row against its asset life's own first weeks, e.g. 14d: z per channel, PCA T2 and "
            "Q of that baseline (default off; forewarn train --baseline files such a model for forewarn score)."
        ),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON here.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report (index.html) into this folder.")] = None,
    models: Annotated[
        Path | None, typer.Option(help="Also file the result under MODELS/backtests/ (the dashboard lists it).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the splits and the model.")] = None,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Replay the history: train before each fold, score it as the service would, count what was caught."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from forewarn.backtest import backtest as run_backtest

    chosen = _spec(
        spec,
        task=task,
        horizon=horizon,
        label=label,
        model=model,
        site=site,
        line=line,
        asset_class=asset_class,
        assets=assets,
        interval=interval,
        features=features,
        seed=seed,
        baseline=baseline,
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        job = bar.add_task("folds", total=folds)

        def advance(done: int, total: int, label: str) -> None:
            bar.update(job, completed=done, total=total, description=f"fold {min(done + 1, total)}: {label}")

        result = run_backtest(
            store,
            spec=chosen,
            by=by,
            folds=folds,
            min_lead=min_lead,
            models=models,
            json_path=json_out,
            report_dir=report,
            progress=advance,
            executor=executor(engine, ray_address),
        )
    rows, events = result["rows"], result["events"]
    table = Table(title=f"backtest {result['id']}: {result['model']}, by {result['by']}, {result['folds']} folds")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in [*rows.items(), *events.items()]:
        table.add_row(key, "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value))
    Console().print(table)
    if result.get("events_note"):
        typer.echo(f"note: {result['events_note']}", err=True)
    if json_out is None:
        typer.echo(json.dumps({"rows": rows, "events": events}, default=str))


def score(
    store: Annotated[Path, typer.Option(help=STORE_HELP)],
    models: Annotated[Path, typer.Option(help="Models folder.")],
    model_id: Annotated[str | None, typer.Option(help="Which model id (default: the only one).")] = None,
    site: SiteOpt = None,
    line: LineOpt = None,
    asset_class: ClassOpt = None,
    assets: AssetsOpt = None,
    top: Annotated[int | None, typer.Option(min=1, help="Only the riskiest N.")] = None,
    output: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of standard output.")] = None,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Rank the fleet by risk now with the live model (no server needed)."""
    from rich.console import Console

    from forewarn.train.score import score as run_score

    if output not in ("table", "csv", "json"):
        raise typer.BadParameter("use table, csv or json", param_hint="--format")
    ranked = run_score(
        store,
        models,
        model_id=model_id,
        top=top,
        sites=site,
        lines=line,
        classes=asset_class,
        assets=assets,
        executor=executor(engine, ray_address),
    )
    if output == "csv":
        text = ranked.to_csv(index=False)
    elif output == "json":
        text = ranked.to_json(orient="records", date_format="iso", indent=1)
    else:
        from forewarn.cli.tables import Column, print_table

        shown = ["rank", "asset_id", "asset_class", "status", "probability", "risk", "rul", "drivers", "action"]
        cells = [
            [
                "-" if value is None or value != value else f"{value:.3f}" if isinstance(value, float) else str(value)
                for value in (getattr(row, column) for column in shown)
            ]
            for row in ranked.itertuples()
        ]
        numeric = {"rank", "probability", "rul"}
        console = Console(file=out.open("w", encoding="utf-8") if out else None, width=200 if out else None)
        print_table(
            console,
            [Column(c, "right" if c in numeric else "left") for c in shown],
            cells,
            title=f"fleet ranked by risk ({len(ranked)} assets)",
            keys=2,
        )
        return
    if out is not None:
        out.write_text(text, encoding="utf-8")
    else:
        typer.echo(text)


def zoo_status(row: dict[str, Any]) -> str:
    """A zoo row's last cell: whether the model can be served, and why it has no score when its fit failed (the
    error was shown only for models that cannot be served: LightGBM's failure read "yes" beside a score of "-").

    >>> zoo_status({"servable": True, "error": None}), zoo_status({"servable": False, "error": None})
    ('servable', 'not servable')
    >>> zoo_status({"servable": True, "error": "Do not support special JSON characters in feature name."})
    'failed (below)'

    The error itself is printed under the table (:func:`zoo_failures`): in the cell, a long one squeezed the
    table out of an 80-column terminal (rich split it in two, the second with an empty first column).
    """
    if row.get("error"):
        return "failed (below)"
    return "servable" if row["servable"] else "not servable"


def zoo_failures(zoo: list[dict[str, Any]]) -> list[str]:
    """One line per zoo model whose fit failed, naming the model and the error.

    >>> zoo_failures([{"model": "lightgbm-failure", "error": "column 'T [K]': brackets"}, {"model": "knn-failure"}])
    ["lightgbm-failure failed: column 'T [K]': brackets"]
    """
    return [f"{row['model']} failed: {row['error']}" for row in zoo if row.get("error")]
