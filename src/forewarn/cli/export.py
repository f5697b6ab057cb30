"""``forewarn export`` (the store as a Parquet lake) and ``forewarn lake-score`` (the fleet scored from a lake,
locally or on a Ray cluster). The options ``--engine local|ray`` and ``--ray-address`` that other commands take
are defined here too (:data:`EngineOpt`, :data:`RayAddressOpt`, :func:`executor`), so that the CLI turns them
into an executor in one place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine", help="local (this process) or ray (a Ray cluster: --ray-address, or a private local one)."
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option("--ray-address", help="host:port of a Ray head (ray start --head); only with --engine ray."),
]


def executor(engine: str, ray_address: str | None) -> Any:
    """The executor of ``--engine`` and ``--ray-address`` (Ray is imported only for ``--engine ray``)."""
    if engine == "local" and ray_address is None:
        from forewarn.base.executor import LocalExecutor

        return LocalExecutor()
    from forewarn.distributed.engine import executor_for

    return executor_for(engine, ray_address)


pool_app = typer.Typer(
    help="The warm pool: scoring actors on a Ray cluster that outlive jobs (lake-score --engine ray uses them).",
    no_args_is_help=True,
)
PoolAddressOpt = Annotated[
    str, typer.Option("--ray-address", help="host:port of the Ray head (ray start --head) the pool lives on.")
]


def register(app: typer.Typer) -> None:
    app.command()(export)
    app.command("lake-score")(lake_score)
    app.add_typer(pool_app, name="ray-pool")
    app.command("qc-score")(qc_score)


def qc_score(
    images: Annotated[list[Path], typer.Argument(help="Image files (JPEG, PNG) of inspected units.")],
    model: Annotated[Path, typer.Option(help="Model folder written by `forewarn quality train`.")],
    good_class: Annotated[
        str | None, typer.Option(help="The model's class meaning 'no defect' (probability of defect = 1 - its).")
    ] = None,
    scrap: Annotated[float, typer.Option(help="Cost of scrapping a good unit.")] = 5.0,
    review: Annotated[float, typer.Option(help="Cost of one manual review.")] = 1.0,
    escape: Annotated[float, typer.Option(help="Cost of a defect that escapes.")] = 2.0,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per batch (one unit of the engine).")] = 64,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
    out: Annotated[Path | None, typer.Option(help="Write the JSON lines here instead of printing them.")] = None,
    novelty_threshold: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Novelty score above which a unit is novel (goes to review instead of passing); used when the "
            "model folder holds a texture detector, as in `forewarn quality inspect`.",
        ),
    ] = 1.0,
) -> None:
    """Score many QC images in batches, in this process or on Ray: one JSON line per image, in order, with the
    fields of `forewarn quality inspect` (image, predicted, defect_type, defect_probability, decision,
    probabilities, cam_peak; novelty_score and novel when the folder holds a texture detector); the same lines
    whatever the engine."""
    from forewarn.distributed.qc import score_images

    records = score_images(
        images,
        model,
        good_class=good_class,
        costs=(scrap, review, escape),
        batch_size=batch_size,
        executor=executor(engine, ray_address),
        novelty_threshold=novelty_threshold,
    )
    if out is None:
        for record in records:
            typer.echo(json.dumps(record))
        return
    partial = out.with_name(out.name + ".tmp")
    with partial.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    partial.replace(out)


@pool_app.command("start")
def pool_start(
    ray_address: PoolAddressOpt,
    workers: Annotated[int | None, typer.Option(min=1, help="Actors (default: one per cluster CPU).")] = None,
) -> None:
    """Start the warm pool: named, detached actors that import the scoring code once and keep the bundles they
    load; returns when they are ready. Prints JSON: actors (name, pid, node, import_seconds, kept, loads), seconds."""
    from forewarn.distributed.fleet import start_pool

    typer.echo(json.dumps(start_pool(ray_address, workers), indent=2))


@pool_app.command("status")
def pool_status(ray_address: PoolAddressOpt) -> None:
    """The warm pool's actors as JSON: actors (name, pid, node, import_seconds, kept: the scorers each keeps,
    loads: the bundles each has loaded)."""
    from forewarn.distributed.fleet import pool_status as status

    typer.echo(json.dumps(status(ray_address), indent=2))


@pool_app.command("stop")
def pool_stop(ray_address: PoolAddressOpt) -> None:
    """Stop the warm pool's actors. Prints JSON: stopped (their names)."""
    from forewarn.distributed.fleet import stop_pool

    typer.echo(json.dumps(stop_pool(ray_address), indent=2))


def export(
    store: Annotated[str, typer.Option(help="The store to export: a DuckDB file or a postgresql:// URL.")],
    out: Annotated[Path, typer.Option(help="The lake folder to write (new or empty).")],
    start: Annotated[str | None, typer.Option(help="First reading time (ISO, UTC) to export.")] = None,
    end: Annotated[str | None, typer.Option(help="Export readings before this time (ISO, UTC).")] = None,
) -> None:
    """Write the store as a Parquet lake: readings by site, asset and day, the asset registry and events beside.

    Prints the lake's manifest (lake.json) as JSON: format, readings, files, assets, events, start, end.
    """
    from forewarn.distributed.fleet import store_is_postgres
    from forewarn.distributed.lake import export_lake
    from forewarn.exceptions import DataNotFoundError

    if not store_is_postgres(store) and not Path(store).is_file():
        raise DataNotFoundError(f"store {str(store)!r} does not exist")
    typer.echo(json.dumps(export_lake(store, out, start=start, end=end), indent=2))


def lake_score(
    lake: Annotated[Path, typer.Option(help="A lake written by forewarn export.")],
    models: Annotated[Path, typer.Option(help="Models folder (the live version of --model-id scores).")],
    out: Annotated[Path, typer.Option(help="Folder for the scored rows (Parquet, new or empty).")],
    model_id: Annotated[str | None, typer.Option(help="Model id (default: the only one).")] = None,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Assets per batch (one Parquet file each).")] = 64,
    workers: Annotated[int | None, typer.Option(min=1, help="Ray actors (default: one per cluster CPU).")] = None,
    top: Annotated[int, typer.Option(min=0, help="Also print the top N assets by risk (0: none).")] = 0,
    store: Annotated[
        str | None,
        typer.Option(
            help="Also append the rows to this store's table fleet_scores: a DuckDB file or a postgresql:// URL."
        ),
    ] = None,
    pool: Annotated[
        str,
        typer.Option(
            help="Ray actors: auto (the warm pool when the cluster has one, else the job's own), warm (require "
            "it: forewarn ray-pool start), job (the job's own, stopped at its end)."
        ),
    ] = "auto",
) -> None:
    """Score every asset of a lake with the live model, in batches of assets, locally or on Ray.

    Prints a JSON summary: engine, actors (warm, job or local), assets, readings (read from the lake), batches, busy_seconds, cpu_seconds,
    seconds, out; with --store also stored (rows added to fleet_scores) and scored_at (their time stamp).
    """
    from forewarn.distributed.fleet import fleet_score, ranked
    from forewarn.exceptions import ConfigError

    if engine == "local" and ray_address is not None:
        raise ConfigError("--ray-address is only for --engine ray")
    summary = fleet_score(
        lake,
        models,
        out,
        model_id=model_id,
        engine=engine,
        address=ray_address,
        batch_size=batch_size,
        workers=workers,
        store=store,
        pool=pool,
    )
    typer.echo(json.dumps(summary, indent=2))
    if top:
        table = ranked(out, top)
        typer.echo(table[["rank", "asset_id", "status", "probability", "risk", "action"]].to_string(index=False))
