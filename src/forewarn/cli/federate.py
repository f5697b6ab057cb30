"""``forewarn federate``: train one failure or RUL model across plants with Flower; no raw reading leaves a site.

Parses the options, calls :func:`forewarn.federated.federate.federate` and prints what it filed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``federate`` to ``app``."""
    app.command()(federate)


def federate(
    models: Annotated[Path, typer.Option(help="Model registry folder to file the bundle in.")] = Path("models"),
    store: Annotated[
        Path | None, typer.Option(help="One store whose --sites are simulated as separate plants.")
    ] = None,
    sites: Annotated[str | None, typer.Option(help="With --store: the site ids taking part (comma-separated).")] = None,
    site_store: Annotated[
        list[Path] | None, typer.Option("--site-store", help="A plant's own store file (repeat, one per site).")
    ] = None,
    task: Annotated[str, typer.Option(help="failure or rul.")] = "failure",
    horizon: Annotated[str | None, typer.Option(help="Failure horizon, e.g. 24h or 7d (default 24h).")] = None,
    interval: Annotated[str | None, typer.Option(help="Sampling interval (default: from the first site).")] = None,
    max_rul: Annotated[str | None, typer.Option(help="RUL cap (default ten horizons).")] = None,
    asset_class: Annotated[
        str | None, typer.Option("--class", help="Only these asset classes (comma-separated).")
    ] = None,
    channels: Annotated[str | None, typer.Option(help="Only these channels (comma-separated).")] = None,
    model_id: Annotated[str | None, typer.Option(help="Registry model id (default: the task).")] = None,
    model: Annotated[
        str,
        typer.Option(
            help="mlp (a perceptron on window statistics, filed as mlp-failure/mlp-rul) or window (cnn-rul's 1-D CNN "
            "over the last --window rows of every channel; --task rul; filed as cnn-rul)."
        ),
    ] = "mlp",
    window: Annotated[
        int | None,
        typer.Option(min=1, help="Trailing rows: the statistics' window, or the window model's length (default 30)."),
    ] = None,
    rounds: Annotated[int, typer.Option(min=1, help="Federated rounds.")] = 10,
    local_epochs: Annotated[int, typer.Option(min=1, help="Epochs each site trains per round.")] = 2,
    min_local_steps: Annotated[
        int,
        typer.Option(
            min=0,
            help="At least this many optimiser steps per site and round: a small site passes over its rows more "
            "often than --local-epochs (0: off).",
        ),
    ] = 0,
    strategy: Annotated[str, typer.Option(help="fedavg, fedprox, fedadam or fedyogi.")] = "fedavg",
    engine: Annotated[
        str,
        typer.Option(
            help="ray (Flower's simulation engine), inprocess, or deployment (a SuperLink and one SuperNode per "
            "site on this machine, TLS and SuperNode authentication)."
        ),
    ] = "ray",
    seed: Annotated[int, typer.Option(help="Seed of the split and the network.")] = 0,
    dp_noise: Annotated[
        float, typer.Option(min=0.0, help="Central differential privacy: noise multiplier (0: off).")
    ] = 0.0,
    dp_clip: Annotated[
        float, typer.Option(help="Central differential privacy: clipping norm of a site's update.")
    ] = 1.0,
    secure_aggregation: Annotated[
        bool,
        typer.Option(
            help="Flower's SecAgg+: the server learns only the sum of the sites' updates (FedAvg, no DP, "
            "--engine inprocess)."
        ),
    ] = False,
    promote: Annotated[bool, typer.Option(help="Make the new version live.")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the model card here.")] = None,
) -> None:
    """Federated training: each site trains on its own rows, the server averages parameters (Flower)."""
    from forewarn.federated.federate import federate as run

    result = run(
        models,
        stores=list(site_store or []),
        store=store,
        sites=[s.strip() for s in (sites or "").split(",") if s.strip()],
        rounds=rounds,
        local_epochs=local_epochs,
        min_local_steps=min_local_steps,
        strategy=strategy,
        engine=engine,
        dp_noise=dp_noise,
        dp_clip=dp_clip,
        secure_aggregation=secure_aggregation,
        promote=promote,
        progress=lambda message: typer.echo(message, err=True),
        task=task,
        horizon=horizon,
        interval=interval,
        max_rul=max_rul,
        classes=asset_class,
        channels=channels,
        model_id=model_id,
        seed=seed,
        model=model,
        window=window,
    )
    live = "live" if result.promoted else "not live"
    typer.echo(f"filed {result.model_id} {result.version} ({result.card['model']}, {live}) in {result.folder}")
    for site, figures in result.card["metrics"]["sites"].items():
        typer.echo(f"  {site}: {_held_out(figures)}")
    if json_out is not None:
        json_out.write_text(json.dumps(result.card, indent=2, default=str), encoding="utf-8")


def _held_out(figures: dict[str, float]) -> str:
    """One site's held-out line; a failure model's site whose held-out rows hold no failing row (or only those)
    says that there is nothing to judge it by, rather than printing no figure without a word.

    >>> _held_out({"rows": 120.0, "failure_rows": 0.0})
    '120 held-out rows, none within a horizon of a failure: no ROC/PR AUC'
    >>> _held_out({"rows": 120.0, "failure_rows": 6.0, "roc_auc": 0.91, "pr_auc": 0.4})
    '120 held-out rows (6 within a horizon of a failure): roc_auc 0.910, pr_auc 0.400'
    """
    rows, failing = int(figures["rows"]), figures.get("failure_rows")
    shown = ", ".join(f"{k} {v:.3f}" for k, v in figures.items() if k not in ("rows", "failure_rows"))
    if failing is None:
        return f"{rows} held-out rows{': ' + shown if shown else ''}"
    if not 0 < failing < rows:
        which = "none" if not failing else "all"
        return f"{rows} held-out rows, {which} within a horizon of a failure: no ROC/PR AUC"
    return f"{rows} held-out rows ({int(failing)} within a horizon of a failure): {shown}"
