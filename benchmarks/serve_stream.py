"""API latency of ``forewarn serve --stream`` while MQTT readings stream in, against the same service idle.

Under ``serve --stream`` the API and the MQTT connector share one process and one DuckDB store (DuckDB has one
writer per file): streamed batches are written and evaluated by the service's alert policy while the API answers.
This measures what that costs a dashboard or a client:

1. builds the synthetic plant of :mod:`forewarn.serve.sample` (``--assets`` pumps with history, a LightGBM RUL
   model), starts mosquitto (Debian's, 127.0.0.1) and ``python -m forewarn serve --stream CONFIG`` with a stream
   config that maps Sparkplug-style messages of every pump's three channels (no models of its own: the service's
   alert policy evaluates streamed readings);
2. **idle**: open-loop ``GET /api/v1/assets/{id}/health`` over every asset at ``--rate`` requests/s for
   ``--seconds`` (the load generator of ``serve.py``: latency from each request's due time to its full answer);
3. **streaming**: the same load while a publisher sends new readings of every pump at ``--readings-per-s``
   (paced, QoS 1, ``--rows-per-message`` instants per message); each batch the service commits invalidates the
   cached health of its assets, so health requests are computed again (store query, features, model, explanation)
   as readings arrive, as a live dashboard sees them.

Reported per phase: health p50/p90/p99, the server's CPU per second, readings ingested per second (the
stream's ``readings_written`` in ``/healthz``), and cases opened. Everything shares this machine's cores.

    .venv/bin/python benchmarks/serve_stream.py             # about a minute and a half
    .venv/bin/python benchmarks/serve_stream.py --readings-per-s 20000 --rate 100
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
from loadgen import cpu_seconds, encode, free_port, open_loop, run_client, start_server

from forewarn.serve.sample import CHANNELS, build_sample
from forewarn.store import Store
from forewarn.stream.broker import LocalBroker
from forewarn.stream.replay import DEFAULT_PREFIX, Publisher, sparkplug_messages


def stream_config(port: int, assets: list[str]) -> str:
    """A ``forewarn stream`` config: Sparkplug-style messages on ``DEFAULT_PREFIX/<asset>``, no models."""
    channels = ", ".join(f'"{c}" = "u"' for c in CHANNELS)
    lines = [
        "[pipeline]",
        'batch_max_wait = "200ms"',
        "",
        "[mqtt]",
        f"port = {port}",
        'client_id = "bench-serve-stream"',
        "",
        "[[mqtt.subscriptions]]",
        f'topic = "{DEFAULT_PREFIX}/+"',
        'layout = "sparkplug"',
        f'asset = "{{{len(DEFAULT_PREFIX.split("/"))}}}"',
    ]
    for asset in assets:
        lines += ["", "[[assets]]", f'asset_id = "{asset}"', f"channels = {{ {channels} }}"]
    return "\n".join(lines) + "\n"


def new_readings(store_path: Path, assets: list[str], steps: int, seed: int = 0) -> pd.DataFrame:
    """Wide readings of every asset for ``steps`` hours after its last stored reading, near its recent values."""
    with Store(store_path, read_only=True) as store:
        last = store.sql(
            "SELECT asset_id, channel, max(ts) AS ts, arg_max(value, ts) AS value FROM readings "
            "GROUP BY asset_id, channel"
        )
    rng = np.random.default_rng(seed)
    frames = []
    for asset in assets:
        mine = last[last["asset_id"] == asset].set_index("channel")
        start = pd.Timestamp(mine["ts"].max()) + pd.Timedelta(hours=1)
        frame = pd.DataFrame({"asset_id": asset, "ts": start + pd.to_timedelta(np.arange(steps), unit="h")})
        for channel in CHANNELS:
            level = float(mine["value"].get(channel, 1.0))
            frame[channel] = level + rng.normal(0, 0.02 * abs(level) + 1e-3, steps)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def streamed(port: int) -> int:
    """Readings the service's stream connector has written so far (``/healthz``)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        return int(json.loads(response.read())["stream"]["readings_written"])


def cases_opened(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/cases?limit=5000", timeout=10) as response:
        return len(json.loads(response.read()))


def phase(
    server_pid: int,
    port: int,
    requests: list[bytes],
    rate: float,
    seconds: float,
    publish: Publisher | None = None,
    messages: list | None = None,
    speedup: float | None = None,
) -> dict:
    """One open-loop health run, with the publisher sending ``messages`` alongside when given."""
    ingested0, cpu0, cases0 = streamed(port), cpu_seconds(server_pid), cases_opened(port)
    sender = None
    if publish is not None:
        sender = threading.Thread(target=publish.send, args=(messages,), kwargs={"speedup": speedup}, daemon=True)
        sender.start()
    began = time.perf_counter()
    result: dict = dict(run_client(open_loop(port, rate, seconds, requests)))
    if sender is not None:
        sender.join(timeout=600)
        time.sleep(1.0)  # the last micro-batch
    elapsed = time.perf_counter() - began  # CPU and readings per second over the whole window, publishing included
    result["server_cpu_per_s"] = ((cpu_seconds(server_pid) or 0.0) - (cpu0 or 0.0)) / elapsed
    result["readings_ingested_per_s"] = (streamed(port) - ingested0) / elapsed
    result["cases_opened"] = cases_opened(port) - cases0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100, help="pumps in the plant (all of them stream)")
    parser.add_argument("--rate", type=float, default=50.0, help="health requests per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--readings-per-s", type=float, default=10_000.0, help="streamed readings per second")
    parser.add_argument("--rows-per-message", type=int, default=10, help="instants per MQTT message")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    results: dict = {
        "cpus": os.cpu_count(),
        "assets": args.assets,
        "rate": args.rate,
        "seconds": args.seconds,
        "readings_per_s": args.readings_per_s,
        "load_before": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp, LocalBroker(Path(tmp) / "broker") as broker:
        paths = build_sample(tmp, n_assets=args.assets, n_train=30, seed=0)
        with Store(paths.store, read_only=True) as store:
            assets = sorted(store.assets()["asset_id"])
        config = Path(tmp) / "stream.toml"
        config.write_text(stream_config(broker.port, assets))
        per_instant = len(assets) * len(CHANNELS)  # readings of one hour of the fleet
        steps = int(np.ceil(args.readings_per_s * args.seconds * 1.1 / per_instant))
        wide = new_readings(paths.store, assets, steps)
        messages = list(sparkplug_messages(wide, rows_per_message=args.rows_per_message))
        speedup = args.readings_per_s / per_instant * 3600.0  # event hours per wall second, in seconds
        port = free_port()
        server = start_server(paths.store, paths.models, port, Path(tmp) / "server.log", "--stream", str(config))
        publisher = Publisher("127.0.0.1", broker.port, client_id="bench-serve-stream-pub", max_inflight=200)
        try:
            requests = [encode("GET", f"/api/v1/assets/{a}/health", port) for a in assets]
            run_client(open_loop(port, args.rate, 3.0, requests))  # warm-up: every asset scored once
            results["idle"] = phase(server.pid, port, requests, args.rate, args.seconds)
            print("idle     ", json.dumps(results["idle"]))
            results["streaming"] = phase(
                server.pid, port, requests, args.rate, args.seconds, publisher, messages, speedup
            )
            print("streaming", json.dumps(results["streaming"]))
        finally:
            publisher.close()
            server.terminate()
            server.wait(timeout=30)
    results["load_after"] = os.getloadavg()
    print(
        f"\nsummary ({results['cpus']} CPUs, {args.assets} assets, health at {args.rate:.0f} req/s, "
        f"{args.seconds:.0f} s per phase; load average {results['load_before'][0]:.1f} before, "
        f"{results['load_after'][0]:.1f} after):"
    )
    for name in ("idle", "streaming"):
        r = results[name]
        print(
            f"  {name:9s} health p50 {r['p50_ms']:.2f} ms  p90 {r['p90_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  "
            f"errors {r['errors']}; readings ingested {r['readings_ingested_per_s']:,.0f}/s; server "
            f"{r['server_cpu_per_s']:.2f} CPU-s/s; cases opened {r['cases_opened']}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
