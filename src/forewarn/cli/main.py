"""``forewarn``: the command line.

User errors (bad file, missing data, wrong flag) print one clear line to stderr and exit non-zero with no
traceback; a bug still shows its traceback, because hiding it would help nobody.

>>> from typer.testing import CliRunner
>>> CliRunner().invoke(app, ["--version"]).output.startswith("forewarn ")
True
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

import forewarn
from forewarn.cli import _logging, bench, detect, serve, store_commands, stream, twin
from forewarn.cli import export as export_commands
from forewarn.cli import federate as federate_commands
from forewarn.cli import kpi as kpi_commands
from forewarn.cli import monitor as monitor_commands
from forewarn.cli import plan as plan_commands
from forewarn.cli import quality as quality_commands
from forewarn.cli import train as train_commands
from forewarn.exceptions import ForewarnError

# Start-up stays quick (``forewarn --version``, ``--help``): the command modules import only typer at the top,
# and numpy, pandas, LightGBM, torch and FastAPI inside the commands that use them (a test checks it).

app = typer.Typer(
    name="forewarn",
    help="Predictive maintenance: which machine will fail, why, and how soon.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"forewarn {forewarn.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    log_level: Annotated[
        _logging.LogLevel | None,
        typer.Option(
            envvar="FOREWARN_LOG_LEVEL",
            case_sensitive=False,
            help="Show Forewarn's own log lines (the forewarn.* loggers) at this level and above on stderr "
            "(default: warnings and errors only).",
        ),
    ] = None,
) -> None:
    """Forewarn command line."""
    _logging.choose(log_level)


store_commands.register(app)
bench.register(app)
twin.register(app)
detect.register(app)
serve.register(app)
stream.register(app)
train_commands.register(app)
export_commands.register(app)
kpi_commands.register(app)
plan_commands.register(app)
federate_commands.register(app)
monitor_commands.register(app)
quality_commands.register(app)


@app.command()
def demo(
    store: Annotated[
        Path | None,
        typer.Option(
            help="DuckDB file the demo writes (re-running reuses it; default "
            "forewarn-demo.duckdb, or forewarn-demo-simulated.duckdb for the "
            "simulated fleet)."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Benchmark data directory (default: $FOREWARN_DATA_DIR, then ./data).")
    ] = None,
    subset: Annotated[str, typer.Option(help="C-MAPSS subset to run on.")] = "FD001",
    top: Annotated[int, typer.Option(min=1, help="How many engines to list by risk.")] = 15,
    seed: Annotated[int, typer.Option(help="Seed of the model (and of the simulated fleet).")] = 0,
    simulated: Annotated[
        bool, typer.Option("--simulated", help="Run on a digital-twin fleet even when C-MAPSS is available.")
    ] = False,
    serve: Annotated[bool, typer.Option("--serve", help="End by serving the dashboard on the demo's store.")] = False,
    host: Annotated[str, typer.Option(help="Address the dashboard listens on with --serve.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the dashboard with --serve.")] = 8000,
) -> None:
    """The main job: load a fleet into DuckDB, train the RUL model, rank the fleet by risk.

    On NASA C-MAPSS when the data directory has it, otherwise on a simulated fleet from the digital twin.
    """
    from forewarn.cli.demo import models_folder, run_demo

    store = Path(
        str(run_demo(store=store, data_dir=data_dir, subset=subset, top=top, seed=seed, simulated=simulated)["store"])
    )
    if serve:
        from forewarn.serve.server import run_server, url_of
        from forewarn.serve.settings import ServeSettings

        settings = ServeSettings.from_env(store=str(store), models=str(models_folder(store)))
        level = _logging.level_for(None, "warning")
        _logging.configure(level)
        run_server(
            settings,
            host=host,
            port=port,
            log_level=level,
            on_ready=f"Forewarn is serving the demo's dashboard at {url_of(host, port)} (Ctrl-C stops it)",
        )


def run(argv: list[str] | None = None) -> None:
    """Entry point of the ``forewarn`` script: runs the app and turns user errors into one stderr line.

    Usage errors are Typer's own (exit 2 with its usage text); a :class:`ForewarnError` or an ``OSError``
    (a file that cannot be read or written) prints ``forewarn: error: ...`` and exits 2.
    """
    try:
        app(args=argv, prog_name="forewarn")
    except (ForewarnError, OSError) as err:
        typer.echo(f"forewarn: error: {err}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    run()
