"""``forewarn stream`` (consume MQTT / OPC UA into the store with online scoring) and ``forewarn replay``.

Also runnable on its own: ``python -m forewarn.cli.stream stream --config stream.toml --store plant.duckdb``.

>>> from typer.testing import CliRunner
>>> app = typer.Typer()
>>> register(app)
>>> "--speedup" in CliRunner().invoke(app, ["replay", "--help"]).output
True
"""

from __future__ import annotations

import json
import os
import signal
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from forewarn._optional import require
from forewarn.cli._logging import LogLevel, configure, level_for
from forewarn.exceptions import ConfigError


def register(app: typer.Typer) -> None:
    """Add ``stream`` and ``replay`` to ``app``."""
    app.command("stream")(stream)
    app.command("replay")(replay)


def stream(
    config: Annotated[
        Path,
        typer.Option(
            help="TOML mapping config (sources, assets, models, alert policies, the case rule). Alerts are filed into "
            "the case book beside the store (plant.cases.duckdb; a PostgreSQL store's own database), which forewarn "
            "serve on the same store lists. A case with no alarm for the gap and no failure closes, quiet counted "
            "from an alarm episode's last alarming row; the gap is the config's \\[cases] close_quiet (e.g. '7d', "
            "'36h'; '0' = never), by default the horizon in hours of the first \\[\\[models]] bundle that has one, "
            "else 7 days (as serve --close-quiet). A case whose asset sent no reading for longer than the gap stays "
            "open with the note 'no readings since ...'."
        ),
    ],
    store: Annotated[
        str | None,
        typer.Option(
            help="Store: a DuckDB file or postgresql://user@host/db (default: the config's `store`, else "
            "FOREWARN_STORE)."
        ),
    ] = None,
    max_seconds: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    idle_exit: Annotated[float | None, typer.Option(help="Stop after this many seconds without a message.")] = None,
    progress: Annotated[bool, typer.Option(help="Print one JSON line per micro-batch on stdout.")] = False,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(
            case_sensitive=False,
            help="Level of Forewarn's log lines on stderr (default: forewarn's --log-level, else warning).",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Serve the stream's Prometheus metrics on this port (0: a free one, printed when ready).",
        ),
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Address the metrics endpoint listens on.")] = "127.0.0.1",
) -> None:
    """Consume readings (MQTT, OPC UA) into the store, score them online, raise alerts. Stop with Ctrl-C."""
    require("paho.mqtt.client", extra="stream", by="forewarn stream")  # a missing extra: one line that says so
    from forewarn.store import Store
    from forewarn.stream.config_file import load_config
    from forewarn.stream.consumer import StreamConsumer

    configure(level_for(log_level, "warning"))
    _one_blas_thread()
    cfg = load_config(config)
    path = store or cfg.store or os.environ.get("FOREWARN_STORE")
    if not path:
        raise ConfigError(
            "no store: pass --store FILE (or postgresql://...), set store = 'FILE' in the config, or FOREWARN_STORE"
        )
    totals = {"batches": 0, "written": 0, "duplicates": 0, "late": 0, "dead_letters": 0, "scored": 0, "alerts": 0}

    def on_batch(result) -> None:  # noqa: ANN001 - a BatchResult
        totals["batches"] += 1
        for key, value in (
            ("written", result.written),
            ("duplicates", result.duplicates),
            ("late", result.late),
            ("dead_letters", result.dead_letters),
            ("scored", result.rows_scored),
            ("alerts", len(result.alerts)),
        ):
            totals[key] += value
        if progress:
            typer.echo(
                json.dumps(
                    {
                        "event": "batch",
                        "readings": result.readings,
                        "written": result.written,
                        "scored": result.rows_scored,
                        "late": result.late,
                        "late_rows": result.late_rows,
                        "alerts": len(result.alerts),
                        "seconds": round(result.seconds, 4),
                        "total_written": totals["written"],
                    }
                )
            )
            sys.stdout.flush()

    with Store(path) as db, ExitStack() as cleanup:
        consumer = StreamConsumer(cfg, db, on_batch=on_batch)
        server = None
        if metrics_port is not None:
            from forewarn.stream.metrics import serve_metrics

            server = cleanup.enter_context(
                serve_metrics(consumer.metrics.registry, host=metrics_host, port=metrics_port)
            )
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: consumer.stop())

        def ready() -> None:
            if progress:  # db.path: a PostgreSQL URL without its password
                typer.echo(json.dumps({"event": "ready", **({"metrics": server.url} if server else {})}))
                sys.stdout.flush()
            else:
                typer.echo(
                    f"streaming into {db.path} (Ctrl-C to stop)" + (f"; metrics at {server.url}" if server else ""),
                    err=True,
                )

        metrics = consumer.run(max_seconds=max_seconds, idle_exit_s=idle_exit, ready=ready)
    summary = {"event": "stopped", **metrics}
    typer.echo(
        json.dumps(summary)
        if progress
        else f"stopped: {metrics['readings_written']:,} readings written, {metrics['rows_scored']:,} rows scored, "
        f"{metrics['alerts_opened']} alerts, dead letters {metrics['dead_letters'] or 'none'}" + _kept_out(metrics)
    )


def _kept_out(metrics: dict) -> str:
    """The summary's tail for late readings and unmapped fields ('' when there were none).

    >>> _kept_out({"readings_late": 12, "rows_late": 4, "fields_unmapped": {"Vib RMS": 3}})
    "; 12 late readings in 4 rows stored but not scored (see allowed_lateness, idle_release); unmapped json fields dropped {'Vib RMS': 3}"
    """
    out = ""
    if metrics.get("readings_late"):
        out += (
            f"; {metrics['readings_late']:,} late readings in {metrics['rows_late']:,} rows stored but not scored "
            "(see allowed_lateness, idle_release)"
        )
    if metrics.get("fields_unmapped"):
        out += f"; unmapped json fields dropped {metrics['fields_unmapped']}"
    return out


def _one_blas_thread() -> None:
    """Micro-batch matrix products are small; BLAS threads would only spin against the consumer's own threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        return
    threadpool_limits(1)


def replay(
    store: Annotated[
        str | None,
        typer.Option(help="Replay the readings of this store (read-only): a DuckDB file or postgresql://..."),
    ] = None,
    simulate: Annotated[bool, typer.Option(help="Replay a simulated fleet (forewarn.twin) instead.")] = False,
    sites: Annotated[int, typer.Option(help="Simulated fleet: sites.")] = 2,
    assets: Annotated[int, typer.Option(help="Simulated fleet: assets.")] = 10,
    days: Annotated[int, typer.Option(help="Simulated fleet: days.")] = 1,
    interval: Annotated[str, typer.Option(help="Simulated fleet: sampling interval.")] = "1min",
    seed: Annotated[int, typer.Option(help="Simulated fleet: seed.")] = 0,
    asset: Annotated[list[str] | None, typer.Option(help="Stored fleet: only these assets (repeatable).")] = None,
    start: Annotated[str | None, typer.Option(help="Stored fleet: first time (ISO 8601).")] = None,
    end: Annotated[str | None, typer.Option(help="Stored fleet: end time, exclusive (ISO 8601).")] = None,
    host: Annotated[str, typer.Option(help="MQTT broker host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="MQTT broker port.")] = 1883,
    speedup: Annotated[
        float | None,
        typer.Option(help="Time compression (60 = an hour per minute); omit to publish as fast as possible."),
    ] = None,
    layout: Annotated[
        str, typer.Option(help="sparkplug (many readings per message) or value (one per message).")
    ] = "sparkplug",
    prefix: Annotated[
        str | None, typer.Option(help="Topic prefix (asset id, and channel for value, appended).")
    ] = None,
    rows_per_message: Annotated[int, typer.Option(min=1, help="Sparkplug: instants per message.")] = 50,
    write_config: Annotated[
        Path | None,
        typer.Option(help="Also write a stream config (TOML) that consumes this replay, declaring its assets."),
    ] = None,
    client_id: Annotated[str, typer.Option(help="MQTT client id of the publisher.")] = "forewarn-replay",
    dry_run: Annotated[bool, typer.Option(help="Build the messages (and --write-config) but publish nothing.")] = False,
) -> None:
    """Publish a stored or simulated fleet to an MQTT broker at a chosen speed-up (demos, tests, benchmarks)."""
    require("paho.mqtt.client", extra="stream", by="forewarn replay")
    from forewarn.stream.replay import DEFAULT_PREFIX, Publisher, sparkplug_messages, stored_fleet, value_messages

    if (store is None) == (not simulate):
        raise typer.BadParameter("give exactly one of --store FILE or --simulate", param_hint="--store/--simulate")
    if layout not in ("sparkplug", "value"):
        raise typer.BadParameter("use sparkplug or value", param_hint="--layout")
    if speedup is not None and speedup <= 0:
        raise typer.BadParameter("must be above 0", param_hint="--speedup")
    declared: dict[str, dict[str, str]] = {}
    classes: dict[str, str] = {}
    if simulate:
        from forewarn.twin.fleet import FleetConfig, simulate_fleet

        fleet = simulate_fleet(FleetConfig(sites=sites, assets=assets, days=days, seed=seed, interval=interval))
        wide = fleet.readings
        for a in fleet.assets:
            declared[a.asset_id] = {c.name: c.unit for c in a.channels}
            classes[a.asset_id] = a.asset_class
    else:
        assert store is not None
        wide = stored_fleet(str(store), assets=asset or None, start=start, end=end)
        from forewarn.store import Store

        with Store(store, read_only=True) as db:
            for row in db.channels().itertuples(index=False):
                declared.setdefault(str(row.asset_id), {})[str(row.channel)] = str(row.unit or "")
            classes = dict(
                zip(db.assets()["asset_id"].astype(str), db.assets()["asset_class"].astype(str), strict=True)
            )
        declared = {a: c for a, c in declared.items() if a in set(wide["asset_id"].astype(str))}
    topic_prefix = prefix or (DEFAULT_PREFIX if layout == "sparkplug" else "forewarn/replay")
    if write_config is not None:
        write_config.write_text(
            stream_config_text(declared, classes, host=host, port=port, prefix=topic_prefix, layout=layout),
            encoding="utf-8",
        )
        typer.echo(f"wrote {write_config}", err=True)
    messages = (
        sparkplug_messages(wide, prefix=topic_prefix, rows_per_message=rows_per_message)
        if layout == "sparkplug"
        else value_messages(wide, prefix=topic_prefix)
    )
    if dry_run:
        count = readings = 0
        for _, n, _, _ in messages:
            count, readings = count + 1, readings + n
        typer.echo(f"would publish {readings:,} readings in {count:,} messages")
        return
    publisher = Publisher(host, port, client_id=client_id)
    try:
        report = publisher.send(messages, speedup=speedup)
    finally:
        publisher.close()
    typer.echo(
        f"published {report.readings:,} readings in {report.messages:,} messages in {report.seconds:.1f} s "
        f"({report.readings_per_s:,.0f} readings/s)"
    )


def stream_config_text(
    declared: dict[str, dict[str, str]], classes: dict[str, str], *, host: str, port: int, prefix: str, layout: str
) -> str:
    """A stream config (TOML) that consumes a replay: one subscription and every asset with its channels.

    >>> print(stream_config_text({"P-1": {"temp": "degC"}}, {"P-1": "pump"}, host="127.0.0.1", port=1883,
    ...                          prefix="a/b", layout="value").splitlines()[10])
    topic = "a/b/+/+"
    """
    level = len(prefix.split("/"))
    # one value per message: hold each instant until the asset's next one arrives, so its channels come together
    lateness = "0s" if layout == "sparkplug" else "1ms"
    lines = [
        "[pipeline]",
        'batch_max_wait = "100ms"',
        f'allowed_lateness = "{lateness}"',
        "",
        "[mqtt]",
        f'host = "{host}"',
        f"port = {port}",
        'client_id = "forewarn-stream"',
        "",
        "[[mqtt.subscriptions]]",
    ]
    if layout == "sparkplug":
        lines += [f'topic = "{prefix}/+"', 'layout = "sparkplug"', f'asset = "{{{level}}}"']
    else:
        lines += [
            f'topic = "{prefix}/+/+"',
            'layout = "value"',
            f'asset = "{{{level}}}"',
            f'channel = "{{{level + 1}}}"',
        ]
    for asset_id, channels in declared.items():
        body = ", ".join(f"{json.dumps(c)} = {json.dumps(u)}" for c, u in channels.items())
        lines += [
            "",
            "[[assets]]",
            f"asset_id = {json.dumps(asset_id)}",
            f"asset_class = {json.dumps(classes.get(asset_id, 'generic'))}",
            f"channels = {{ {body} }}",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - ``python -m forewarn.cli.stream``
    _app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(_app)
    try:
        _app()
    except ConfigError as err:
        typer.echo(f"forewarn: error: {err}", err=True)
        sys.exit(2)
