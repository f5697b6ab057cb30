"""Benchmark of streaming: sustained readings/s from publish to store with scoring on, and publish-to-alert latency.

Everything runs on this machine, as three processes: mosquitto (Debian's, on 127.0.0.1, persistence on), the
consumer (``python -m forewarn.cli.stream stream``: decode, store, online window features, a saved detector,
alert policy, one commit per micro-batch, acknowledgements after the commit) and this script, which publishes
and listens for alerts. Readings are batched many per MQTT message: Sparkplug-B-style JSON, one message per asset
holding ``--rows-per-message`` instants of ``--channels`` channels (160 readings per message by default), QoS 1.

The fleet is synthetic: ``--assets`` assets x ``--channels`` channels at 1-minute steps. The detector (``pca-t2q``
by default, or ``isolation-forest``) is trained on window features (window 30: mean, std, last, slope) of a healthy
stretch of the same fleet. Every asset gets a one-reading spike on one channel every ``--spike-every`` instants;
each spike makes the detector cross its threshold and opens one alert (cooldown 0), which the consumer publishes
on ``forewarn/alerts/<asset>``.

Two phases, each with a fresh store:

1. **capacity**: ``--capacity-readings`` readings published as fast as the broker takes them; sustained
   throughput = readings / (first publish -> last reading committed and scored);
2. **latency at rate**: readings paced at ``--rate`` readings/s for ``--seconds`` (event time compressed so each
   message goes out when its last instant is due); the throughput is measured the same way, and for every alert
   the latency is (alert received here) - (publish time of the message holding the row that triggered it).

``--store postgresql`` streams into a PostgreSQL store instead (Debian's server started here on 127.0.0.1 with
its durable defaults: fsync and synchronous commit on, a database per phase; each micro-batch is one transaction
holding its readings, scores, alerts and checkpoint), ``--store both`` runs the phases on each backend in turn.

Run: ``.venv/bin/python benchmarks/stream.py`` (about two minutes) or ``--quick``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forewarn.base import create, save
from forewarn.features.window import window_features
from forewarn.store.pg_local import LocalPostgres
from forewarn.stream.broker import LocalBroker
from forewarn.stream.mqtt import new_client
from forewarn.stream.replay import DEFAULT_PREFIX, Publisher, sparkplug_messages

WINDOW = 30
STATS = ("mean", "std", "last", "slope")
T0 = pd.Timestamp("2024-01-01", tz="UTC")


def fleet(assets: int, channels: int, steps: int, *, seed: int, spike_every: int | None) -> pd.DataFrame:
    """Wide readings: slow random walks plus noise; optional one-reading spikes, one per ``spike_every`` steps."""
    rng = np.random.default_rng(seed)
    base = rng.normal(50, 2, size=(assets, 1, channels))
    walk = np.cumsum(rng.normal(0, 0.02, size=(assets, steps, channels)), axis=1)
    values = base + walk + rng.normal(0, 0.5, size=(assets, steps, channels))
    if spike_every:
        for a in range(assets):
            for start in range(WINDOW + int(rng.integers(0, spike_every)), steps, spike_every):
                values[a, start, int(rng.integers(channels))] += 60.0
    ts = T0 + pd.to_timedelta(np.arange(steps), unit="min")
    frame = pd.DataFrame(values.reshape(assets * steps, channels), columns=[f"c{j:02d}" for j in range(channels)])
    frame.insert(0, "ts", np.tile(ts.to_numpy(), assets))
    frame.insert(0, "asset_id", np.repeat([f"A-{a:04d}" for a in range(assets)], steps))
    frame["ts"] = frame["ts"].astype("datetime64[us, UTC]")
    return frame


def train(folder: Path, wide: pd.DataFrame, model: str) -> tuple[Path, float]:
    """Fit the detector on window features of a healthy fleet; return its folder and an alert threshold."""
    channels = [c for c in wide.columns if c not in ("asset_id", "ts")]
    X = window_features(wide, group="asset_id", order="ts", columns=channels, window=WINDOW, stats=STATS)
    params = {"seed": 0} if model == "isolation-forest" else {"quantile": 0.999}
    detector = create(model, **params).fit(X)
    scores = detector.score(X)
    threshold = float(np.quantile(scores, 0.9999) * (1.5 if model == "pca-t2q" else 1.05))
    return save(detector, folder / model), threshold


def config_text(
    port: int,
    assets: list[str],
    channels: list[str],
    model_dir: Path,
    threshold: float,
    client_id: str,
    lateness: str = "0s",
) -> str:
    body = ", ".join(f'"{c}" = "u"' for c in channels)
    lines = [
        "[pipeline]",
        'batch_max_wait = "100ms"',
        "batch_max_readings = 50000",
        f'allowed_lateness = "{lateness}"',
        "",
        "[mqtt]",
        f"port = {port}",
        f'client_id = "{client_id}"',
        'alert_topic = "forewarn/alerts"',
        "",
        "[[mqtt.subscriptions]]",
        f'topic = "{DEFAULT_PREFIX}/+"',
        'layout = "sparkplug"',
        f'asset = "{{{len(DEFAULT_PREFIX.split("/"))}}}"',
        "",
        "[[models]]",
        f'path = "{model_dir}"',
        f"window = {WINDOW}",
        f'alert = {{ threshold = {threshold}, clear_threshold = {threshold}, min_consecutive = 1, cooldown = "0s" }}',
    ]
    for asset in assets:
        lines += ["", "[[assets]]", f'asset_id = "{asset}"', f"channels = {{ {body} }}"]
    return "\n".join(lines) + "\n"


def cpu_seconds_of(stat: Path) -> float:
    """CPU seconds (user + system) in a /proc ``stat`` file."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` used so far, from /proc."""
    return cpu_seconds_of(Path(f"/proc/{pid}/stat"))


def server_cpu_seconds(pid: int) -> float:
    """CPU seconds of a PostgreSQL server: the postmaster with its reaped children, and its live children (one
    backend per connection); 0 for a pid of 0 (no server)."""
    if not pid:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(f) for f in fields[11:15]) / ticks
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            child = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        if int(child[1]) == pid:
            total += (int(child[11]) + int(child[12])) / ticks
    return total


def load_average() -> float:
    """The 1-minute load average (other work on the machine slows every figure here)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


class Consumer:
    """The consumer process; progress lines arrive on a queue stamped with the time they were read."""

    def __init__(self, config: Path, store: Path | str, log: Path):
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "forewarn.cli.stream",
                "stream",
                "--config",
                str(config),
                "--store",
                str(store),
                "--progress",
            ],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.events: queue.Queue = queue.Queue()
        self.batches: list[tuple[int, float]] = []  # (readings, seconds) of each micro-batch
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = json.loads(line)
            if event.get("event") == "batch":
                self.batches.append((event["readings"], event["seconds"]))
            self.events.put((time.time(), event))

    def wait(self, check, timeout: float) -> tuple[float, dict]:  # noqa: ANN001 - predicate on events
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                stamp, event = self.events.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise RuntimeError("the consumer exited early; see its log") from None
                continue
            if check(event):
                return stamp, event
        raise TimeoutError("the consumer did not get there in time")

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system) the consumer used so far."""
        return cpu_seconds(self.proc.pid)

    def stop(self) -> tuple[dict, float]:
        """SIGTERM, wait; return the final metrics and the consumer's total CPU seconds (user + system)."""
        self.proc.terminate()
        _, stopped = self.wait(lambda e: e["event"] == "stopped", timeout=60)
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.log.close()
        return stopped, usage.ru_utime + usage.ru_stime


def run_phase(
    name: str,
    work: Path,
    broker: LocalBroker,
    wide: pd.DataFrame,
    model_dir: Path,
    threshold: float,
    *,
    rows_per_message: int,
    rate: float | None,
    store: str | None = None,
    server_pid: int = 0,
    lateness: str = "0s",
) -> dict:
    """One phase on a fresh store (``store``: a PostgreSQL URL; default a DuckDB file in ``work``)."""
    assets = sorted(wide["asset_id"].unique())
    channels = [c for c in wide.columns if c not in ("asset_id", "ts")]
    config = work / f"{name}.toml"
    config.write_text(config_text(broker.port, assets, channels, model_dir, threshold, f"bench-{name}", lateness))
    sent_at: dict[tuple[str, int], float] = {}
    stamp = {}

    def remember(message: tuple, when: float) -> None:  # row (asset, ms) -> publish time of its message
        asset, ms = stamp[id(message[3])]
        for t in ms:
            sent_at[(asset, int(t))] = when

    messages = []
    for topic, n, last, payload in sparkplug_messages(wide, rows_per_message=rows_per_message):
        asset = topic.rsplit("/", 1)[1]
        stamp[id(payload)] = (asset, [m["timestamp"] for m in json.loads(payload)["metrics"][:: len(channels)]])
        messages.append((topic, n, last, payload))
    total = sum(m[1] for m in messages)
    alerts: list[tuple[float, dict]] = []
    listener = new_client(f"bench-listener-{name}")
    listener.on_message = lambda c, u, m: alerts.append((time.time(), json.loads(m.payload)))
    listener.connect("127.0.0.1", broker.port)
    listener.subscribe("forewarn/alerts/#", qos=1)
    listener.loop_start()
    consumer = Consumer(config, store or work / f"{name}.duckdb", work / f"{name}.log")
    consumer.wait(lambda e: e["event"] == "ready", timeout=120)
    cpu_at_start = consumer.cpu_seconds()  # start-up (imports, model load) is not part of the figure
    publisher = Publisher("127.0.0.1", broker.port, client_id=f"bench-pub-{name}", max_inflight=200)
    speedup = None if rate is None else rate / (len(assets) * len(channels)) * 60.0
    assert broker.process is not None
    broker_cpu, own_cpu, load_before = cpu_seconds(broker.process.pid), time.process_time(), load_average()
    database_cpu = server_cpu_seconds(server_pid)
    started = time.time()
    report = publisher.send(messages, speedup=speedup, on_sent=remember, flush_timeout=600)
    done_at, _ = consumer.wait(lambda e: e.get("total_written", 0) >= total, timeout=600)
    broker_cpu, own_cpu = cpu_seconds(broker.process.pid) - broker_cpu, time.process_time() - own_cpu
    database_cpu = server_cpu_seconds(server_pid) - database_cpu
    cpu = consumer.cpu_seconds() - cpu_at_start  # up to the last commit (not the final checkpoint at exit)
    time.sleep(1.0)  # let the last alerts arrive
    stopped, _ = consumer.stop()
    listener.disconnect()
    listener.loop_stop()
    publisher.close()
    latencies = []
    for received, alert in alerts:
        ms = int(pd.Timestamp(alert["ts"]).value // 1_000_000)
        if (alert["asset_id"], ms) in sent_at:
            latencies.append(received - sent_at[(alert["asset_id"], ms)])
    elapsed = done_at - started
    result = {
        "phase": name,
        "store": "postgresql" if store else "duckdb",
        "allowed_lateness": lateness,
        "readings": total,
        "messages": len(messages),
        "readings_per_message": total / len(messages),
        "publish_seconds": round(report.seconds, 2),
        "seconds_to_last_commit": round(elapsed, 2),
        "sustained_readings_per_s": round(total / elapsed),
        "rows_scored": stopped["rows_scored"],
        "batches": stopped["batches"],
        "batch_readings_median": int(np.median([b[0] for b in consumer.batches])),
        "batch_seconds_median_max": [
            round(float(np.median([b[1] for b in consumer.batches])), 3),
            round(max(b[1] for b in consumer.batches), 3),
        ],
        "consumer_cpu_s": round(cpu, 2),
        "consumer_cpu_per_s": round(cpu / elapsed, 2),
        "broker_cpu_s": round(broker_cpu, 2),
        "publisher_cpu_s": round(own_cpu, 2),
        "database_server_cpu_s": round(database_cpu, 2),
        "cpu_us_per_reading_all": round((cpu + broker_cpu + own_cpu + database_cpu) / total * 1e6, 2),
        "load_average_before_after": [load_before, load_average()],
        "alerts": len(alerts),
        "dead_letters": stopped["dead_letters"],
    }
    if latencies and rate is not None:  # flooding the broker (capacity) measures queueing, not latency
        lat = np.asarray(latencies)
        result.update(
            {
                f"alert_latency_{k}_ms": round(float(np.quantile(lat, q)) * 1000, 1)
                for k, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
            }
        )
    return result


def postmaster_pid(server: LocalPostgres) -> int:
    """The pid of a running server's postmaster (first line of its ``postmaster.pid``)."""
    return int((server.data / "postmaster.pid").read_text().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--rows-per-message", type=int, default=10)
    parser.add_argument("--capacity-readings", type=int, default=1_500_000)
    parser.add_argument("--rate", type=float, default=50_000, help="readings/s of the latency phase")
    parser.add_argument("--seconds", type=float, default=30, help="length of the latency phase")
    parser.add_argument("--spike-every", type=int, default=100)
    parser.add_argument("--model", choices=("pca-t2q", "isolation-forest"), default="pca-t2q")
    parser.add_argument("--quick", action="store_true", help="a short run (smaller phases)")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--store", choices=("duckdb", "postgresql", "both"), default="duckdb", help="the store's backend"
    )
    parser.add_argument(
        "--allowed-lateness",
        default="0s",
        help="the consumer's allowed_lateness, event time (the fleet's readings are 1 min apart); comma-separated: "
        "the latency phase once per value",
    )
    parser.add_argument("--phases", default="capacity,latency", help="which phases to run (comma-separated)")
    args = parser.parse_args()
    if args.quick:
        args.capacity_readings, args.seconds = 300_000, 8
    with tempfile.TemporaryDirectory(prefix="forewarn-stream-bench-") as tmp:
        work = Path(tmp)
        healthy = fleet(args.assets, args.channels, 300, seed=1, spike_every=None)
        model_dir, threshold = train(work, healthy, args.model)
        results = {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            "model": args.model,
            "threshold": round(threshold, 3),
            "phases": [],
        }
        backends = ["duckdb", "postgresql"] if args.store == "both" else [args.store]
        with contextlib.ExitStack() as stack:
            broker = stack.enter_context(LocalBroker(work / "broker"))
            server = stack.enter_context(LocalPostgres(work / "pg")) if "postgresql" in backends else None
            runs = [("capacity", "0s")] if "capacity" in args.phases.split(",") else []
            if "latency" in args.phases.split(","):
                runs += [("latency", lateness) for lateness in args.allowed_lateness.split(",")]
            for backend in backends:
                for phase, lateness in runs:
                    if phase == "capacity":
                        steps = args.capacity_readings // (args.assets * args.channels)
                        wide = fleet(args.assets, args.channels, steps, seed=2, spike_every=args.spike_every)
                    else:
                        steps = int(args.rate * args.seconds) // (args.assets * args.channels)
                        wide = fleet(args.assets, args.channels, steps, seed=3, spike_every=args.spike_every)
                    name = f"{phase}-{backend}" + ("" if phase == "capacity" else f"-{lateness.replace('.', 'p')}")
                    url = server.create_database(name.replace("-", "_")) if server and backend != "duckdb" else None
                    results["phases"].append(
                        run_phase(
                            name,
                            work,
                            broker,
                            wide,
                            model_dir,
                            threshold,
                            rows_per_message=args.rows_per_message,
                            rate=None if phase == "capacity" else args.rate,
                            store=url,
                            server_pid=postmaster_pid(server) if url and server else 0,
                            lateness=lateness,
                        )
                    )
                    print(json.dumps(results["phases"][-1]), flush=True)
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
