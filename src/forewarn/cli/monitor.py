"""``forewarn monitor`` and ``forewarn retrain``: is the live model still right, and a challenger when it is not.

Each parses its options, calls the use case (:mod:`forewarn.monitor.runner`, :mod:`forewarn.monitor.retrain`)
and formats what comes back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

StoreOpt = Annotated[Path, typer.Option(help="DuckDB store with readings and events.")]
ModelsOpt = Annotated[Path, typer.Option(help="Models folder (the registry forewarn serve reads).")]


def register(app: typer.Typer) -> None:
    app.command()(monitor)
    app.command()(retrain)


def monitor(
    store: StoreOpt,
    models: ModelsOpt,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the whole report to this JSON file.")] = None,
    model_id: Annotated[str | None, typer.Option(help="Only this model id (default: every live model).")] = None,
    days: Annotated[int, typer.Option(help="Days monitored, up to the store's last reading.")] = 30,
    end: Annotated[str | None, typer.Option(help="End of the window (default: after the last reading).")] = None,
    reference_days: Annotated[int, typer.Option(help="Days at the end of the training span used as reference.")] = 365,
    refresh: Annotated[bool, typer.Option("--refresh", help="Fit the drift references again.")] = False,
    cases: Annotated[
        Path | None, typer.Option(help="File drift alerts as cases of kind drift in this case book (DuckDB file).")
    ] = None,
    operating_channels: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated channels that set the operating point (load, surroundings): a day that no one "
            "sensor explains, with these outside the reference's range, is an unfamiliar operating point, not a "
            "changed machine. Default: $FOREWARN_OPERATING_CHANNELS, else the model card's (forewarn train "
            "--operating-channels), else speed,power,current,flow,ambient_temp."
        ),
    ] = None,
) -> None:
    """Drift per sensor against the model card's training span, data quality, score drift, and the model's realised
    record against its promise, for each live model."""
    from rich.console import Console

    from forewarn.monitor.runner import file_drift_cases
    from forewarn.monitor.runner import monitor as run_monitor

    _writable(json_path, cases)
    console = Console(stderr=True)
    report = run_monitor(
        store,
        models,
        model_id=model_id,
        days=days,
        end=end,
        reference_days=reference_days,
        refresh=refresh,
        progress=console.print,
        operating_channels=operating_channels,
    )
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    if cases is not None:
        from forewarn.decide.cases import CaseBook

        book = CaseBook(cases)
        try:
            filed = file_drift_cases(book, report)
        finally:
            book.close()
        console.print(f"{len(set(filed))} drift case(s) in {cases}")
    _print(report)


def _writable(*paths: Path | None) -> None:
    """Refuse an output file whose folder is missing before the work, not after it (a PostgreSQL case book's URL
    is no file)."""
    from forewarn.exceptions import ConfigError
    from forewarn.store.pg_sql import is_postgres_url

    for path in paths:
        if path is not None and not is_postgres_url(str(path)) and not path.parent.is_dir():
            raise ConfigError(f"cannot write {str(path)!r}: its folder {str(path.parent)!r} does not exist")


def _print(report: dict[str, Any]) -> None:
    from rich.console import Console

    from forewarn.cli.tables import Column, print_table

    out = Console()
    for model in report["models"]:
        real = model["performance"].get("realised") or {}
        out.print(
            f"[bold]{model['model_id']} {model['version']}[/bold]: {model['status']}, {model['assets']} assets, "
            f"{model['window']['start'][:10]} to {model['window']['end'][:10]}; "
            f"{len(model['drift_alerts'])} drift alert(s); score PSI {model['score'].get('psi')} "
            f"(threshold {model['score'].get('threshold')}); failures {real.get('failures')}, "
            f"caught {real.get('caught')}"
        )
        if model["drift_alerts"]:
            print_table(
                out,
                [Column("day"), Column("asset"), Column("cause"), Column("sensors")],
                [[a["day"][:10], a["asset_id"], a["cause"], ", ".join(a["channels"])] for a in model["drift_alerts"]],
            )
        joint = model.get("multivariate") or {}
        moved = [a["asset_id"] for a in joint.get("assets", []) if a.get("drifted")]
        out.print(
            f"multivariate drift (MMD): {len(moved)} of {len(joint.get('assets', []))} assets"
            + (f": {', '.join(moved[:20])}" if moved else "")
        )
        drifted = [f"{f['feature']} {f['psi']} > {f['line']}" for f in model.get("features", []) if f.get("drifted")]
        basis = (model.get("feature_lines") or {}).get("basis")
        count = (model.get("feature_lines") or {}).get("drifted", len(drifted))
        out.print(
            f"feature drift (PSI over each feature's line): {count} feature(s)"
            + (f": {', '.join(drifted[:10])}" if drifted else "")
            + (
                "; lines: the customary 0.25 (the model card predates its own lines: retrain to get them)"
                if basis == "customary"
                else ""
            )
        )
        by_class = (model.get("features_by_class") or {}).get("by_class", [])
        own = [
            f"{e['asset_class']} {e['drifted']} ({', '.join(f['feature'] for f in e['features'][:3])})"
            for e in by_class
            if e.get("basis") == "class" and e.get("drifted")
        ]
        with_fleet = [str(e["asset_class"]) for e in by_class if e.get("basis") == "pooled"]
        out.print(
            "feature drift per asset class (own reference): "
            + (", ".join(own) or "none")
            + (f"; judged with the fleet: {', '.join(with_fleet)}" if with_fleet else "")
        )
        problems = [(q["asset_id"], p) for q in model["quality"] for p in q.get("problems", [])]
        for asset, problem in problems[:20]:
            out.print(f"quality {asset}: {problem}")


def retrain(
    store: StoreOpt,
    models: ModelsOpt,
    model_id: Annotated[str, typer.Option(help="The model id to retrain (its live version is the champion).")],
    judge_days: Annotated[int, typer.Option(help="Recent days both models are judged on.")] = 30,
    train_days: Annotated[int, typer.Option(help="Days before the judging window the challenger learns from.")] = 180,
    metric: Annotated[str, typer.Option(help="roc_auc, brier or catch_rate.")] = "roc_auc",
    margin: Annotated[float, typer.Option(help="How much better the challenger must be to be promoted.")] = 0.02,
    promote: Annotated[bool, typer.Option(help="Promote a better challenger (--no-promote: only judge).")] = True,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Instead: go back to the version live before the last promotion.")
    ] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the decision to this JSON file.")] = None,
) -> None:
    """Train a challenger on recent data, judge it beside the champion on the same recent window, promote it only
    if better by the margin; the decision and its evidence go to <models>/<id>/decisions.json."""
    from forewarn.monitor import retrain as retraining

    _writable(json_path)
    if rollback:
        described = retraining.rollback(models, model_id)
        typer.echo(f"{model_id}: {described['active']} is live again")
        return
    decision = retraining.retrain(
        store,
        models,
        model_id,
        judge_days=judge_days,
        train_days=train_days,
        metric=metric,
        margin=margin,
        promote=promote,
    )
    if json_path is not None:
        json_path.write_text(json.dumps(decision, indent=1, default=str), encoding="utf-8")
    figures = decision["figures"]
    typer.echo(
        f"{model_id}: challenger {decision['challenger']} {metric} {figures['challenger'].get(metric)} vs champion "
        f"{decision['champion']} {figures['champion'].get(metric)}: "
        + (f"promoted, {decision['live']} live" if decision["promoted"] else f"not promoted, {decision['live']} live")
        + f" ({decision['reason']})"
    )
