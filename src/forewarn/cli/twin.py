"""``forewarn simulate`` and ``forewarn twin whatif``: simulated fleets, and what-if questions to a twin.

>>> import typer
>>> from typer.testing import CliRunner
>>> app = typer.Typer()
>>> register(app)
>>> "whatif" in CliRunner().invoke(app, ["twin", "--help"]).output
True
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from forewarn.exceptions import ConfigError, DataNotFoundError, UnknownAssetError

twin_app = typer.Typer(help="Ask an asset's digital twin what-if questions.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``simulate`` and the ``twin`` sub-app to ``app``."""
    app.command()(simulate)
    app.add_typer(twin_app, name="twin")


def simulate(
    sites: Annotated[int, typer.Option(min=1, help="Number of sites (factories); they differ on purpose.")] = 4,
    assets: Annotated[int, typer.Option(min=1, help="Number of assets over all sites.")] = 100,
    days: Annotated[int, typer.Option(min=1, help="Days to simulate.")] = 365,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same data.")] = 0,
    store: Annotated[Path | None, typer.Option(help="DuckDB store to write readings, events and assets into.")] = None,
    parquet: Annotated[Path | None, typer.Option(help="Folder for readings/truth/events Parquet files.")] = None,
    interval: Annotated[str, typer.Option(help="Summary interval, a divisor of 1 h (1min, 10min, 1h...).")] = "1min",
    start: Annotated[str, typer.Option(help="First day (UTC).")] = "2024-01-01",
    degradation_scale: Annotated[float, typer.Option(min=0.0, help="Multiply every degradation rate.")] = 1.0,
    snapshots: Annotated[
        bool, typer.Option(help="Also write raw 25.6 kHz vibration snapshots (npz per asset).")
    ] = False,
    snapshot_every_days: Annotated[float, typer.Option(min=0.1, help="Days between snapshots of an asset.")] = 7.0,
) -> None:
    """Simulate a fleet with the physics-based twin and write it to a store and/or Parquet.

    The simulation itself takes seconds; writing is what takes time (a year of 100 assets at 1-minute steps is
    about 840 million readings for the store, so consider --interval 10min or --parquet for quick looks).
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from forewarn.twin.fleet import FleetConfig, simulate_fleet

    if store is None and parquet is None:
        raise ConfigError("give --store FILE and/or --parquet DIR to say where the simulated fleet goes")
    began = time.perf_counter()
    fleet = simulate_fleet(
        FleetConfig(
            sites=sites,
            assets=assets,
            days=days,
            seed=seed,
            interval=interval,
            start=start,
            degradation_scale=degradation_scale,
        )
    )
    db = None
    if store is not None:
        from forewarn.store import Store

        db = Store(store)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f} %"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("rendering and writing", total=fleet.asset_minutes)
            result = fleet.write(store=db, parquet_dir=parquet, progress=lambda done: bar.update(task, completed=done))
    finally:
        if db is not None:
            db.close()
    elapsed = time.perf_counter() - began
    events = fleet.events
    failures = int((events["kind"] == "failure").sum())
    written = sum(r.written for r in result["reports"] if getattr(r, "kind", "readings") == "readings")
    where = " and ".join(str(x) for x in (store, parquet) if x is not None)
    typer.echo(
        f"simulated {len(fleet.assets)} assets at {len(fleet.sites)} sites for {days} days "
        f"({result['asset_minutes']:,} asset-minutes, {failures} failures, "
        f"{int((events['kind'] == 'maintenance').sum())} maintenance actions) in {elapsed:.1f} s -> {where}"
    )
    if db is not None:
        typer.echo(f"store: {written:,} readings written")
    if snapshots:
        folder = parquet if parquet is not None else Path(f"{Path(str(store)).with_suffix('')}_snapshots")
        count = write_snapshots(fleet, folder / "snapshots" if parquet is not None else folder, snapshot_every_days)
        typer.echo(f"snapshots: {count} raw vibration snapshots")


def write_snapshots(fleet: Any, folder: Path, every_days: float) -> int:
    """One 1-second 25.6 kHz snapshot per asset every ``every_days`` (at noon UTC); ``<asset_id>.npz`` each."""
    import numpy as np
    import pandas as pd

    from forewarn.twin.vibration import FS_HZ

    folder.mkdir(parents=True, exist_ok=True)
    times = pd.date_range(
        fleet.start + pd.Timedelta(hours=12),
        periods=max(1, int(fleet.config.days // every_days)),
        freq=pd.Timedelta(days=every_days),
    )
    count = 0
    for asset_id in fleet.asset_ids:
        signals = np.stack([fleet.snapshot(asset_id, ts).astype(np.float32) for ts in times])
        np.savez_compressed(folder / f"{asset_id}.npz", ts=times.asi8 // 1000, signal=signals, fs=FS_HZ)
        count += len(times)
    return count


def _format_days(value: float, horizon: float) -> str:
    return f"> {horizon:g}" if not math.isfinite(value) else f"{value:.1f}"


@twin_app.command()
def whatif(
    asset: Annotated[str, typer.Option(help="Asset id in the store.")],
    store: Annotated[Path, typer.Option(help="DuckDB store holding the asset's readings.")] = Path("forewarn.duckdb"),
    load: Annotated[float, typer.Option(help="Load factor, 1.1 = 110 % of the usual load.")] = 1.0,
    ambient: Annotated[float | None, typer.Option(help="Ambient temperature (degC) instead of the usual.")] = None,
    cooling: Annotated[float, typer.Option(help="Cooling factor, 0.7 = 30 % less cooling.")] = 1.0,
    maintenance_in_days: Annotated[
        float | None, typer.Option(help="Schedule a full service in this many days.")
    ] = None,
    runs: Annotated[int, typer.Option(min=1, help="Monte Carlo runs.")] = 200,
    horizon_days: Annotated[float, typer.Option(min=1.0, help="Days to look ahead.")] = 90.0,
    history_days: Annotated[float, typer.Option(min=1.0, help="Days of recent readings to calibrate on.")] = 14.0,
    seed: Annotated[int, typer.Option(help="Seed of the Monte Carlo runs.")] = 0,
) -> None:
    """Run Monte Carlo scenarios for one asset, calibrated to its recent readings, and print the outcome."""
    import numpy as np
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from forewarn.store import Store
    from forewarn.twin.calibrate import estimate_state
    from forewarn.twin.whatif import Scenario, what_if

    scenario = Scenario(load=load, ambient_c=ambient, cooling=cooling, maintenance_in_days=maintenance_in_days)
    scenario.validate()
    if not store.is_file():
        raise DataNotFoundError(f"no store at {str(store)!r}; create one with 'forewarn simulate --store {store}'")
    with Store(store, read_only=True) as db:
        catalog = db.assets()
        match = catalog[catalog["asset_id"] == asset]
        if match.empty:
            known = ", ".join(catalog["asset_id"].head(5))
            raise UnknownAssetError(
                f"asset {asset!r} is not in {store}",
                column="asset_id",
                hint=f"known assets include {known}" if known else "the store has no assets",
            )
        row = match.iloc[0].to_dict()
        latest = db.latest([asset])
        if latest.empty:
            raise DataNotFoundError(f"asset {asset!r} has no readings in {store}")
        end = pd.Timestamp(latest["ts"].max()) + pd.Timedelta(minutes=1)
        readings = db.readings(asset, start=end - pd.Timedelta(days=history_days), end=end, resample="10min", wide=True)
    twin = estimate_state(readings, row, now=end)
    result = what_if(twin, scenario, runs=runs, horizon_days=horizon_days, seed=seed)
    console = Console()
    fit = twin.fit
    console.print(
        f"[bold]{asset}[/bold] ({twin.asset_class}) calibrated on {history_days:g} days to {end:%Y-%m-%d %H:%M}: "
        f"health {twin.health:.2f}, cooling factor {fit.get('cooling_factor', float('nan')):.2f}"
        + (f", bearing defect on {fit['bearing_race']}" if "bearing_race" in fit else "")
    )
    console.print(
        f"scenario: load x{load:g}, ambient {'usual' if ambient is None else f'{ambient:g} degC'}, "
        f"cooling x{cooling:g}, maintenance "
        f"{'none' if maintenance_in_days is None else f'in {maintenance_in_days:g} days'}; "
        f"{runs} runs over {horizon_days:g} days"
    )
    table = Table(title="time to failure (days)")
    for column in ("fail within horizon", "p10", "median", "p90", "modes"):
        table.add_column(column, justify="left" if column == "modes" else "right")
    modes = ", ".join(f"{m} {c}" for m, c in result.mode_counts().items()) or "-"
    table.add_row(
        f"{100 * result.fail_fraction:.0f} %",
        *(_format_days(v, horizon_days) for v in (result.p10_days, result.median_days, result.p90_days)),
        modes,
    )
    console.print(table)
    traj = Table(title="signals (median, p10-p90 over runs)")
    traj.add_column("day", justify="right")
    for name in ("health", "winding_temp", "bearing_temp", "vib_rms"):
        traj.add_column(name, justify="right")
    last = int(result.days[-1])
    for day in sorted({0, 7, 14, 30, 60, 90, last} & set(range(last + 1))):
        cells = []
        for name in ("health", "winding_temp", "bearing_temp", "vib_rms"):
            q = result.trajectories[name][day]
            digits = 3 if name in ("health", "vib_rms") else 1
            cells.append("-" if np.isnan(q[1]) else f"{q[1]:.{digits}f} ({q[0]:.{digits}f}-{q[2]:.{digits}f})")
        traj.add_row(str(day), *cells)
    console.print(traj)
