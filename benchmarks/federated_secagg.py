"""Issue 15: the cost of secure aggregation (Flower's SecAgg+, :mod:`forewarn.federated.secure`) in accuracy and
time against plain FedAvg on the same sites, seeds and schedule.

The seed task (``noisy`` variant by default), its 7 training factories, the bench's settings for the seed task
(10 rounds of one local epoch); per seed the global model of each run is scored on every training factory's
held-out rows. Prints, per seed and as a mean, accuracy and failure-detection rate (mean of the 7 factories), the
largest parameter difference between the two models, wall time and CPU seconds of each run.
Usage: ``python benchmarks/federated_secagg.py [--seeds 3] [--variant noisy] [--rounds 10]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from forewarn.bench.federated import seed_task_sites, site_metrics
from forewarn.federated import network as net
from forewarn.federated.apps import FedConfig
from forewarn.federated.benchmark import SETTINGS
from forewarn.federated.secure import federate_secure
from forewarn.federated.simulate import SiteRows, simulate


def _score(params: dict[str, np.ndarray], spec: net.NetSpec, sites: list, task) -> tuple[float, float]:
    figures = [site_metrics(task, s.y_test, net.predict(params, spec, s.X_test)) for s in sites]
    return (
        float(np.mean([f["accuracy"] for f in figures])),
        float(np.mean([f["failure_detection_rate"] for f in figures])),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variant", default="noisy")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rows = []
    for seed in range(args.seeds):
        sites, task = seed_task_sites(seed, args.variant)
        taking = [s for s in sites if not s.held_out]
        settings = dict(SETTINGS["seed-task"]) | ({"rounds": args.rounds} if args.rounds else {})
        config = FedConfig(sites=len(taking), kind=task.kind, classes=task.classes, seed=seed, **settings)
        part = [SiteRows(s.name, s.X_train, s.y_train, s.X_test, s.y_test) for s in taking]
        spec = config.net_spec(taking[0].X_train.shape[1])
        wall, cpu = time.perf_counter(), time.process_time()
        plain = simulate(part, config, engine="inprocess").params
        plain_wall, plain_cpu = time.perf_counter() - wall, time.process_time() - cpu
        wall, cpu = time.perf_counter(), time.process_time()
        secure, record = federate_secure(part, config)
        secure_wall, secure_cpu = time.perf_counter() - wall, time.process_time() - cpu
        row = {
            "seed": seed,
            "plain": dict(zip(("accuracy", "failure_detection_rate"), _score(plain, spec, taking, task), strict=True)),
            "secure": dict(
                zip(("accuracy", "failure_detection_rate"), _score(secure, spec, taking, task), strict=True)
            ),
            "max_parameter_difference": float(max(np.abs(plain[k] - secure[k]).max() for k in plain)),
            "plain_wall_s": round(plain_wall, 2),
            "plain_cpu_s": round(plain_cpu, 2),
            "secure_wall_s": round(secure_wall, 2),
            "secure_cpu_s": round(secure_cpu, 2),
            "secure_messages": record["messages"],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    mean = {
        k: round(float(np.mean([r[k] for r in rows])), 4)
        for k in ("max_parameter_difference", "plain_wall_s", "plain_cpu_s", "secure_wall_s", "secure_cpu_s")
    }
    for arm in ("plain", "secure"):
        for k in ("accuracy", "failure_detection_rate"):
            mean[f"{arm}_{k}"] = round(float(np.mean([r[arm][k] for r in rows])), 4)
    print(json.dumps({"variant": args.variant, "seeds": args.seeds, "mean": mean}), flush=True)


if __name__ == "__main__":
    main()
