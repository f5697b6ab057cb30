"""What the channel coverage rule costs the stream's online scoring (``ModelRunner.run``, issue 12).

A servable bundle (the service's sample: 3 channels, window 12, LightGBM RUL) scores micro-batches of
``--rows`` rows (``--assets`` assets, each with ``rows / assets`` consecutive hourly rows): a third of the assets
are fans (their class sends 2 of the 3 channels: every fan row is "partial" and goes through the rule), one pump
sends 1 channel (insufficient data). Prints the median and range over ``--runs`` runs of the time of ``--batches``
batches, in milliseconds, as JSON. Run it on the code before and after to compare (``PYTHONPATH=<old>/src``).

    .venv/bin/python benchmarks/stream_coverage.py --rows 5000 --assets 50 --batches 10 --runs 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forewarn.schema import Asset
from forewarn.serve.sample import CHANNELS, build_sample
from forewarn.store import Store
from forewarn.stream.config import ModelConfig
from forewarn.stream.scoring import ModelRunner


def one_run(models: Path, store: Store, assets: list[str], rows: int, batches: int) -> float:
    """Milliseconds to score ``batches`` micro-batches with a fresh runner, after one batch not timed."""
    runner = ModelRunner(ModelConfig(path=models, model_id="rul"), store)
    per = rows // len(assets)
    names = np.repeat(np.asarray(assets), per)
    rng = np.random.default_rng(0)
    began = time.perf_counter()
    for b in range(-1, batches):  # batch -1 warms the runner up (its first read of the store's classes)
        if b == 0:
            began = time.perf_counter()
        ts = (np.tile(np.arange(per), len(assets)) + b * per) * 3_600_000_000 + 1_700_000_000_000_000
        values = 40.0 + rng.normal(0, 1, (len(names), len(CHANNELS)))
        values[np.char.startswith(names.astype(str), "F-"), 2] = np.nan  # fans: no suction pressure
        values[names == "P-000", 1:] = np.nan  # one pump sends bearing_temp only
        runner.run(names, ts, values, now_us=int(time.time() * 1e6))
    return 1000 * (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--assets", type=int, default=50)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        models = build_sample(Path(folder), n_assets=2, n_train=12, versions=1).models / "rul" / "v1"
        fans = args.assets // 3
        assets = [f"F-{i:03d}" for i in range(fans)] + [f"P-{i:03d}" for i in range(args.assets - fans)]
        with Store(Path(folder) / "s.duckdb") as store:
            store.add_assets([Asset(a, asset_class="fan" if a.startswith("F-") else "pump") for a in assets])
            frame = pd.DataFrame({"asset_id": assets, "ts": pd.Timestamp("2023-01-01", tz="UTC")})
            for k, channel in enumerate(CHANNELS):  # each class's channels, as the store knows them
                sends = frame if k < 2 else frame[~frame["asset_id"].str.startswith("F-")]
                store.ingest_readings(sends.assign(**{channel: 1.0}))
            one_run(models, store, assets, args.rows, 1)  # warm-up
            times = [one_run(models, store, assets, args.rows, args.batches) for _ in range(args.runs)]
    out = {
        "median_ms": round(statistics.median(times), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
    }
    print(json.dumps({"rows": args.rows, "assets": args.assets, "batches": args.batches, "runs": args.runs, **out}))


if __name__ == "__main__":
    main()
