"""How many readings a ``forewarn stream`` consumer loses with mosquitto's defaults, and with the lossless settings.

Everything runs on this machine: mosquitto (Debian's, on 127.0.0.1), the consumer as a subprocess
(``python -m forewarn.cli.stream stream``, QoS 1, a fixed client id: a persistent session) and this script, which
publishes ``--rate`` readings/s for ``--seconds`` s, one reading per message (layout ``value``, QoS 1), every
reading a distinct (asset, time). After ``--after`` s one of these happens:

* ``outage``: the consumer is stopped (SIGTERM: it finishes and acknowledges the batch in hand), stays down
  ``--outage`` s and starts again;
* ``restart``: the broker is stopped (SIGTERM) and started again after ``--down`` s; the consumer reconnects by
  itself;
* ``none``: nothing (the control).

Lost = published - stored (the store keeps one row per reading). The consumer's own count of readings that came
late (``readings_late``: behind newer readings of their asset that were released for scoring, so stored but not
scored online) and of their (asset, time) rows (``rows_late``) is reported beside it, for each
``--allowed-lateness`` (a comma-separated list: one run per value). Event time is compressed (each asset's readings
1 s apart, published at ``--rate``) unless ``--live``: then each asset's readings are ``10 / rate`` s apart in event
time and published at that pace (event time = wall time, as a plant's gateway sends). Broker configurations:

* ``defaults``: only a listener (mosquitto keeps at most 1000 queued messages per client, in memory, and sends
  at most 20 unacknowledged ones at a time);
* ``inflight``: the defaults with ``max_inflight_messages 1000``;
* ``lossless``: ``persistence true`` and ``max_queued_messages 0`` (what ``forewarn.stream.broker.LocalBroker``
  writes, and what the README asks of a production broker).

Run: ``.venv/bin/python benchmarks/mqtt_loss.py`` (about three minutes).
"""

from __future__ import annotations

import argparse
import getpass
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from forewarn.store import Store
from forewarn.stream.broker import LocalBroker
from forewarn.stream.replay import Publisher

ASSETS = 10
T0_MS = 1_700_000_000_000


class DefaultsBroker(LocalBroker):
    """mosquitto with its own defaults: a listener on 127.0.0.1, nothing else (``extra``: more lines)."""

    extra: tuple[str, ...] = ()

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"user {getpass.getuser()}",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            *self.extra,
        ]
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.config_path


class InflightBroker(DefaultsBroker):
    """mosquitto's defaults but ``max_inflight_messages 1000``: the consumer acknowledges a message only after
    its micro-batch is committed, so the default window of 20 unacknowledged messages caps its throughput."""

    extra = ("max_inflight_messages 1000",)


BROKERS = {"defaults": DefaultsBroker, "inflight": InflightBroker, "lossless": LocalBroker}


def config_text(port: int, lateness: str = "0s") -> str:
    lines = [
        "[pipeline]",
        'batch_max_wait = "50ms"',
        f'allowed_lateness = "{lateness}"',
        "[mqtt]",
        f"port = {port}",
        'client_id = "loss-consumer"',
        "[[mqtt.subscriptions]]",
        'topic = "loss/+/temp"',
        'layout = "value"',
        'asset = "{1}"',
        'channel = "temp"',
    ]
    for i in range(ASSETS):
        lines += ["[[assets]]", f'asset_id = "A-{i}"', 'channels = { temp = "degC" }']
    return "\n".join(lines) + "\n"


class Consumer:
    """``forewarn stream`` as a subprocess; ``start`` returns once it is subscribed."""

    def __init__(self, config: Path, store: Path, log: Path):
        self.args = [
            sys.executable,
            "-m",
            "forewarn.cli.stream",
            "stream",
            "--config",
            str(config),
            "--store",
            str(store),
            "--progress",
            "--idle-exit",
            "6",
            "--max-seconds",
            "300",
        ]
        self.log = log
        self.proc: subprocess.Popen[str] | None = None
        self.last: dict = {}

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.log.open("a"), text=True)
        assert self.proc.stdout is not None
        event = json.loads(self.proc.stdout.readline() or "{}")
        if event.get("event") != "ready":
            raise RuntimeError(f"the consumer did not start: {self.log.read_text()[-2000:]}")
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.last = json.loads(line)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)

    def wait(self, timeout: float) -> None:
        assert self.proc is not None
        self.proc.wait(timeout=timeout)


def run(kind: str, scenario: str, args: argparse.Namespace, work: Path, lateness: str = "0s") -> dict:
    folder = work / f"{kind}-{scenario}-{lateness}"
    broker = BROKERS[kind](folder / "broker").start()
    config = folder / "stream.toml"
    config.write_text(config_text(broker.port, lateness), encoding="utf-8")
    store = folder / "plant.duckdb"
    consumer = Consumer(config, store, folder / "consumer.log")
    total = int(args.rate * args.seconds)
    # message i: asset i % 10 at step i // 10 of event time (1 s, or 10 / rate s when live); speedup paces them at
    # --rate messages/s
    step_ms = 1000.0 * ASSETS / args.rate if args.live else 1000.0
    messages = [
        (
            f"loss/A-{i % ASSETS}/temp",
            1,
            T0_MS + round((i // ASSETS) * step_ms),
            json.dumps({"value": 40.0 + (i % 13) / 10, "ts": T0_MS + round((i // ASSETS) * step_ms)}).encode(),
        )
        for i in range(total)
    ]
    speedup = 1.0 if args.live else args.rate / ASSETS
    try:
        consumer.start()
        publisher = Publisher("127.0.0.1", broker.port, client_id=f"loss-publisher-{kind}-{scenario}")
        sender = threading.Thread(
            target=publisher.send, args=(messages,), kwargs={"speedup": speedup, "flush_timeout": 120.0}
        )
        started = time.monotonic()
        sender.start()
        time.sleep(args.after)
        if scenario == "outage":
            consumer.stop()
            time.sleep(args.outage)
            consumer.start()
        elif scenario == "restart":
            broker.restart(down_s=args.down)
        sender.join(timeout=300)
        publish_s = time.monotonic() - started
        publisher.close()
        consumer.wait(timeout=300)  # --idle-exit: it stops once nothing came for a while
    finally:
        if consumer.proc is not None and consumer.proc.poll() is None:
            consumer.stop(signal.SIGKILL)
        broker.stop()
    with Store(store, read_only=True) as db:
        stored = int(db.count_readings())
    return {
        "broker": kind,
        "scenario": scenario,
        "allowed_lateness": lateness,
        "live": bool(args.live),
        "readings_late": consumer.last.get("readings_late"),  # the last consumer's summary line
        "rows_late": consumer.last.get("rows_late"),
        "published": total,
        "stored": stored,
        "lost": total - stored,
        "lost_pct": round(100 * (total - stored) / total, 2),
        "publish_s": round(publish_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=2000, help="readings (= messages) per second")
    parser.add_argument("--seconds", type=float, default=12, help="how long the publisher runs")
    parser.add_argument("--after", type=float, default=3, help="seconds before the outage or the restart")
    parser.add_argument("--outage", type=float, default=5, help="seconds the consumer is down")
    parser.add_argument("--down", type=float, default=2, help="seconds the broker is down")
    parser.add_argument("--brokers", default="defaults,inflight,lossless")
    parser.add_argument("--scenarios", default="none,outage,restart")
    parser.add_argument("--allowed-lateness", default="0s", help="the consumer's allowed_lateness (comma-separated)")
    parser.add_argument("--live", action="store_true", help="event time = wall time (see the module text)")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="forewarn-mqtt-loss-") as tmp:
        for kind in args.brokers.split(","):
            for scenario in args.scenarios.split(","):
                for lateness in args.allowed_lateness.split(","):
                    row = run(kind, scenario, args, Path(tmp), lateness)
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    if args.out is not None:
        args.out.write_text(json.dumps({"args": vars(args) | {"out": str(args.out)}, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
