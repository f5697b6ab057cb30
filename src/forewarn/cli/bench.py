"""``forewarn bench DATASET``: every model of a task side by side on real data, beside published figures.

Each dataset runner (``forewarn.bench.<dataset>``) follows its benchmark's standard protocol; this module
prints the table (fit and predict time, each metric as mean ± standard deviation over seeds, published rows
under ours), and writes the JSON and a PNG chart.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from forewarn.cli.export import EngineOpt, RayAddressOpt, executor
from forewarn.cli.tables import FORMAT_HELP
from forewarn.exceptions import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

#: the names of :data:`forewarn.bench.RUNNERS`, spelled out so that ``--help`` imports no numpy (a test keeps
#: them equal)
DATASETS = ("cmapss", "ai4i", "skab", "cwru", "femto", "fleet", "neu", "federated", "policy")
#: benchmarks whose ``--epochs`` sets the training length of their one network
EPOCH_DATASETS = ("neu",)
#: the runners that take ``--engine ray`` (their models and seeds as units of an executor)
ENGINE_DATASETS = ("cmapss", "ai4i", "skab", "cwru", "femto", "fleet")


def register(app: typer.Typer) -> None:
    """Add ``bench`` to ``app``."""
    app.command()(bench)


def bench(
    dataset: Annotated[str, typer.Argument(help=f"One of: {', '.join(DATASETS)}.")],
    subset: Annotated[str | None, typer.Option(help="C-MAPSS subset (FD001, FD002, FD003, FD004).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory laid out like cmapss/, skab/ ...")] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per model (mean and spread are reported).")] = 5,
    models: Annotated[str, typer.Option(help="Comma-separated model names, or 'all'.")] = "all",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON here.")] = None,
    chart: Annotated[
        Path | None, typer.Option(help="SVG chart path (default: next to --json, or bench-<dataset>.svg).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="Results as a " + FORMAT_HELP)] = "table",
    sites: Annotated[
        str | None,
        typer.Option("--dataset", help="federated: fleet, cmapss or seed-task[:noisy|subtle|scarce|skewed]."),
    ] = None,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
    epochs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="neu: training epochs per seed (default 30, the standing protocol); fewer for a quick look, "
            "recorded in the JSON's params (such figures are not the benchmark's).",
        ),
    ] = None,
) -> None:
    """Run a benchmark under its standard protocol and print our figures beside the published ones.

    With ``--format csv`` or ``json`` the results rows (ours, then the published ones) are the only output on
    stdout; progress goes to stderr.
    """
    from rich.console import Console

    from forewarn.bench import RUNNERS
    from forewarn.bench.report import write_chart, write_json
    from forewarn.cli.tables import check_format, write_records

    fmt = check_format(fmt)
    if dataset not in RUNNERS:
        raise ConfigError(f"unknown dataset {dataset!r}; use one of {', '.join(RUNNERS)}")
    runner = importlib.import_module(RUNNERS[dataset])
    chosen = None if models == "all" else [m.strip() for m in models.split(",") if m.strip()]
    unknown = sorted(set(chosen or ()) - set(runner.MODELS))
    if unknown:
        raise ConfigError(f"unknown model(s) {', '.join(unknown)} for {dataset}; known: {', '.join(runner.MODELS)}")
    console = Console(stderr=fmt != "table")
    options: dict[str, Any] = {"progress": lambda message: console.print(f"[dim]{message}[/]")}
    if subset is not None:
        options["subset"] = subset
    if sites is not None:
        options["dataset"] = sites
    if epochs is not None:
        if dataset not in EPOCH_DATASETS:
            raise ConfigError(f"--epochs: {dataset} takes no epoch count; {', '.join(EPOCH_DATASETS)} does")
        options["epochs"] = epochs
    if engine != "local" or ray_address is not None:
        if dataset not in ENGINE_DATASETS:
            raise ConfigError(
                f"--engine: {dataset} runs in this process; {', '.join(ENGINE_DATASETS)} take --engine ray"
            )
        options["executor"] = executor(engine, ray_address)
    payload = runner.run(chosen, seeds, data_dir, **options)
    if fmt == "table":
        print_results(console, payload)
    else:
        write_records(result_records(payload), fmt)
    if json_path is not None:
        write_json(json_path, payload)
        console.print(f"results: {json_path}")
    chart_path = chart or (json_path.with_suffix(".svg") if json_path else Path(f"bench-{dataset}.svg"))
    title = f"{dataset} {payload.get('subset') or ''}".strip()
    chart_path = write_chart(
        chart_path, payload["results"], payload["primary_metric"], payload.get("published", ()), title
    )
    console.print(f"chart: {chart_path}")


def _fmt(value: float | None) -> str:
    """A figure as the results table shows it; one a result does not have (None, NaN) is empty.

    >>> _fmt(12.345), _fmt(0.01234), _fmt(float("nan")), _fmt(None)
    ('12.35', '0.0123', '', '')
    """
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def print_results(console: Console, payload: dict[str, Any]) -> None:
    """The results table: ours (mean ± std over seeds, timings) then the published rows."""
    from forewarn.bench.report import LOWER_IS_BETTER
    from forewarn.cli.tables import Column, print_table

    metrics = _metric_columns(payload)
    title = f"{payload['dataset']} {payload.get('subset') or ''} - {payload.get('protocol', '')}"
    # the model, then the metrics (the primary one first), then seeds and timings: on a narrow terminal the
    # table comes in parts of whole columns, and the figures to compare come in the first
    columns = [Column("model")]
    columns += [Column(f"{name} {'↓' if name in LOWER_IS_BETTER else '↑'}", "right") for name in metrics]
    columns += [Column("seeds", "right"), Column("fit s", "right"), Column("predict s", "right")]
    rows = []
    for row in payload["results"]:
        cells = [f"[bold]{row['model']}[/]"]
        for name in metrics:
            if name in row:
                spread = row.get(f"{name}_std", 0.0)
                cells.append(f"{_fmt(row[name])} ± {_fmt(spread)}" if row["seeds"] > 1 else _fmt(row[name]))
            else:
                cells.append("")
        rows.append(cells + [str(row["seeds"]), f"{row['fit_s']:.2f}", f"{row['predict_s']:.3f}"])
    for row in payload.get("published", ()):
        cells = [f"[dim]{row['method']}[/]"]
        cells += [_fmt(row[name]) if isinstance(row.get(name), (int, float)) else "" for name in metrics]
        rows.append(cells + ["", "", ""])
    print_table(
        console,
        columns,
        rows,
        title=title.strip(),
        key_width=24,
        sections=[len(payload["results"])],
        continued=f"{payload['dataset']} {payload.get('subset') or ''}".strip() + " (continued)",
    )
    sources = sorted({row["source"] for row in payload.get("published", ())})
    if sources:
        console.print("[dim]under the line: published figures; sources: " + "; ".join(sources) + "[/]")


def _metric_columns(payload: dict[str, Any]) -> list[str]:
    from forewarn.bench.report import metric_names

    metrics = metric_names(payload["results"])
    primary = payload.get("primary_metric")
    if primary in metrics:
        metrics.insert(0, metrics.pop(metrics.index(primary)))
    for row in payload.get("published", ()):
        metrics += [
            k
            for k, v in row.items()
            if k not in metrics and k not in ("method", "source") and isinstance(v, (int, float))
        ]
    return metrics


def result_records(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of :func:`print_results` as flat records (``--format csv|json``): ``kind`` (ours, published),
    ``model``, ``seeds``, ``fit_s``, ``predict_s``, each metric and its ``<metric>_std``, ``source``."""
    metrics = _metric_columns(payload)
    records: list[dict[str, Any]] = []
    for row in payload["results"]:
        record: dict[str, Any] = {
            "kind": "ours",
            "model": row["model"],
            "seeds": row["seeds"],
            "fit_s": row["fit_s"],
            "predict_s": row["predict_s"],
        }
        for name in metrics:
            record[name], record[f"{name}_std"] = row.get(name), row.get(f"{name}_std")
        records.append(record | {"source": "forewarn"})
    for row in payload.get("published", ()):
        record = {"kind": "published", "model": row["method"], "seeds": None, "fit_s": None, "predict_s": None}
        for name in metrics:
            value = row.get(name)
            record[name], record[f"{name}_std"] = (value if isinstance(value, (int, float)) else None), None
        records.append(record | {"source": row.get("source")})
    return records
