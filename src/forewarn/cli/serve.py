"""``forewarn serve``: the REST API and the dashboard on a store and a models folder.

The lead wires :func:`register` into the main app; ``python -m forewarn.serve`` runs the same command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from forewarn.cli._logging import LogLevel, configure, level_for
from forewarn.exceptions import ConfigError


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""

    @app.command()
    def serve(
        store: Annotated[
            str,
            typer.Option(
                help="DuckDB store file to serve (':memory:' for a throw-away one; it "
                "must exist unless --create is given), or postgresql://user@host/db (env FOREWARN_STORE).",
                envvar="FOREWARN_STORE",
            ),
        ] = "forewarn.duckdb",
        read_only: Annotated[
            bool,
            typer.Option(
                "--read-only",
                help="Open the store read-only (a PostgreSQL role with SELECT on readings and the case-book "
                "rights is enough); readings then arrive by other processes, and POST readings answers 400.",
            ),
        ] = False,
        create: Annotated[
            bool,
            typer.Option(
                "--create",
                help="Start an empty store when the --store file does not "
                "exist (without it, a missing file is an error).",
            ),
        ] = False,
        models: Annotated[Path | None, typer.Option(help="Models folder: <model_id>/<version>/ bundles.")] = None,
        host: Annotated[str, typer.Option(help="Address to listen on (keep 127.0.0.1 unless behind a proxy).")] = (
            "127.0.0.1"
        ),
        port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
        model_id: Annotated[str | None, typer.Option(help="Model id that scores health (default: the first).")] = None,
        costs: Annotated[
            Path | None,
            typer.Option(
                help="TOML cost table: one table per asset class (e.g. pump) "
                "with missed_failure, inspection, false_alarm."
            ),
        ] = None,
        cases: Annotated[
            Path | None,
            typer.Option(help="Case-book DuckDB file (default: beside the store; a PostgreSQL store's own database)."),
        ] = None,
        max_body_mb: Annotated[float, typer.Option(min=0.01, help="Largest request body accepted, in MiB.")] = 8.0,
        no_evaluate: Annotated[bool, typer.Option("--no-evaluate", help="Do not score the fleet at start-up.")] = False,
        what_if_concurrency: Annotated[
            int,
            typer.Option(min=1, help="What-if runs of the twin (seconds of CPU each) allowed at once; more get 429."),
        ] = 1,
        stream: Annotated[
            Path | None,
            typer.Option(
                help="Also run the MQTT / OPC UA connector of this 'forewarn stream' TOML config in this process, "
                "on the same store (a store file is open in one process at a time)."
            ),
        ] = None,
        log_level: Annotated[
            LogLevel | None,
            typer.Option(
                case_sensitive=False,
                help="Level of the log lines of Forewarn and uvicorn (default: forewarn's --log-level, else info).",
            ),
        ] = None,
        otel: Annotated[
            bool,
            typer.Option(
                "--otel",
                help="Report FastAPI's OpenTelemetry spans and metrics to the "
                "providers this process configures (e.g. under "
                "opentelemetry-instrument).",
            ),
        ] = False,
        close_quiet: Annotated[
            str | None,
            typer.Option(
                help="Close an asset's case that had no alarm for this long and holds no failure (e.g. 7d, 36h; "
                "0 = never), as the backtest counts cases; a later alert opens a new case. Default: the horizon "
                "of the model that scores health when it is in hours, else 7d."
            ),
        ] = None,
        retrain_every: Annotated[
            str | None,
            typer.Option(help="Retrain each model in the background this often (e.g. 7d): challenger vs champion."),
        ] = None,
        retrain_on_drift: Annotated[
            bool, typer.Option("--retrain-on-drift", help="Monitor daily; retrain a model when it drifts.")
        ] = False,
        quality_model: Annotated[
            Path | None,
            typer.Option(help="Defect model folder (forewarn quality train) for /quality's defect maps and novelty."),
        ] = None,
        quality_reviews: Annotated[
            Path | None,
            typer.Option(help="Inspection log and review queue (DuckDB file, created when missing; default: memory)."),
        ] = None,
        quality_images: Annotated[
            str | None,
            typer.Option(
                help="Folders the server reads units' images from (joined by the path separator; default: the "
                "review queue file's folder). An inspection naming an image elsewhere is refused."
            ),
        ] = None,
    ) -> None:
        """Serve the REST API (/api/v1, docs at /docs) and the dashboard (/).

        Write endpoints need a token from FOREWARN_API_TOKEN; without it they answer 403. CORS is closed
        unless FOREWARN_CORS_ORIGINS lists origins. With --stream, readings that arrive by MQTT / OPC UA are
        stored, scored by the stream's models, and show in the API and dashboard at once.
        """
        from forewarn.serve.server import run_server, url_of  # FastAPI is imported only when serving
        from forewarn.serve.settings import TOKEN_ENV, ServeSettings, read_costs

        level = level_for(log_level, "info")
        configure(level)
        from forewarn.store.pg_sql import is_postgres_url, normalise_url

        if is_postgres_url(store):
            store = normalise_url(store)
        elif store != ":memory:" and not Path(store).exists() and not create:  # a typo would serve an empty plant
            raise ConfigError(f"store {store!r} does not exist; pass --create to start an empty one")
        if models is not None and not models.is_dir():
            raise ConfigError(f"models folder {str(models)!r} does not exist")
        quality = quality_extra(quality_model, quality_reviews, quality_images)
        if stream is not None:  # a bad config fails here, before the store is opened
            from forewarn.stream.config_file import load_config
            from forewarn.stream.runner import same_store

            same_store(load_config(stream), store, source=f"stream config {str(stream)!r}")
        settings = ServeSettings.from_env(
            store=store,
            models=None if models is None else str(models),
            model_id=model_id,
            costs=None if costs is None else read_costs(costs),
            cases=None if cases is None else str(cases),
            max_body_bytes=int(max_body_mb * 1024 * 1024),
            evaluate_on_start=not no_evaluate,
            stream=None if stream is None else str(stream),
            otel=otel,
            what_if_concurrency=what_if_concurrency,
            close_quiet=close_quiet,
            extra={
                "retrain_every": retrain_every,
                "retrain_on_drift": retrain_on_drift,
                "read_only": read_only,
                **quality,
            },
        )
        if settings.token is None:
            typer.echo(f"note: {TOKEN_ENV} is not set, so write endpoints are disabled (403)", err=True)
        run_server(
            settings,
            host=host,
            port=port,
            log_level=level,
            on_ready=f"Forewarn is serving the dashboard at {url_of(host, port)} (API docs: {url_of(host, port)}docs)",
        )


def quality_extra(model: Path | None, reviews: Path | None, images: str | None) -> dict[str, str]:
    """The quality settings of ``serve`` as the API reads them (``ServeSettings.extra``), each checked first: a
    model folder that is not there, a review queue in a missing folder, an image folder that is not there.

    >>> quality_extra(None, None, None)
    {}
    """
    extra: dict[str, str] = {}
    if model is not None:
        if not model.is_dir():
            raise ConfigError(f"--quality-model {str(model)!r} is not a folder; train one with forewarn quality train")
        extra["quality_model"] = str(model)
    if reviews is not None:
        if not reviews.parent.is_dir():
            raise ConfigError(f"--quality-reviews {str(reviews)!r}: its folder does not exist")
        extra["quality_reviews"] = str(reviews)
    if images:
        missing = [f for f in images.split(os.pathsep) if f and not Path(f).is_dir()]
        if missing:
            raise ConfigError(f"--quality-images: {missing[0]!r} is not a folder")
        extra["quality_images"] = images
    return extra
