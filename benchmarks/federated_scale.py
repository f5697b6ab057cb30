"""Issue 15 target: 10 simulated sites x 20 rounds of the window model in Flower's simulation engine.

The sites are C-MAPSS engines dealt as in ``forewarn bench federated --dataset cmapss`` (four parts per subset,
the first ten parts); ``--model window`` (the issue's window model: ``cnn-rul``'s 1-D CNN over the last 30
cycles, :data:`forewarn.federated.benchmark.WINDOW_SETTINGS`, every second training cycle) or ``--model mlp`` (the
MLP on trailing-window statistics), 1 local epoch per round, FedAvg. Prints the wall time of the federated run
(Ray engine started and stopped inside it).
Usage: ``python benchmarks/federated_scale.py [--data-dir DIR] [--engine ray|inprocess] [--model window|mlp]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from forewarn.bench.federated import cmapss_sites
from forewarn.federated.apps import FedConfig
from forewarn.federated.benchmark import SETTINGS, WINDOW_SETTINGS, WINDOW_TRAIN_EVERY
from forewarn.federated.simulate import SiteRows, simulate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--engine", default="ray")
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--model", choices=("mlp", "window"), default="window")
    args = parser.parse_args()
    if args.model == "window":
        sites, task = cmapss_sites(args.data_dir, parts=4, features="window", train_every=WINDOW_TRAIN_EVERY)
        settings = dict(WINDOW_SETTINGS["cmapss"]) | {"rounds": args.rounds, "local_epochs": 1}
        settings["window_channels"], settings["window_length"] = task.window
    else:
        sites, task = cmapss_sites(args.data_dir, parts=4)
        settings = dict(SETTINGS["cmapss"]) | {"rounds": args.rounds, "local_epochs": 1}
    chosen = [SiteRows(s.name, s.X_train, s.y_train, s.X_test, s.y_test) for s in sites[: args.sites]]
    config = FedConfig(sites=len(chosen), kind=task.kind, target_scale=task.target_scale, **settings)
    cpu = time.process_time()
    started = time.perf_counter()
    outcome = simulate(chosen, config, engine=args.engine, actors=2)
    wall = time.perf_counter() - started
    rows = sum(len(s.X_train) for s in chosen)
    print(
        json.dumps(
            {
                "engine": args.engine,
                "model": args.model,
                # this process and the engine's child Python; Ray's workers are not reaped by it, so not counted
                "cpu_s_without_ray_workers": round(
                    time.process_time()
                    - cpu
                    + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
                    + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime,
                    1,
                ),  # fmt: skip
                "sites": len(chosen),
                "rounds": args.rounds,
                "training_rows": rows,
                "wall_s": round(wall, 1),
                "server_s": outcome.history["server_seconds"],
                "bytes_per_round": outcome.history["bytes_per_round"],
                "last_eval_loss": outcome.history["evaluate"][str(args.rounds)]["eval-loss"],
            }
        )
    )


if __name__ == "__main__":
    main()
