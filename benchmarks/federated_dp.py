"""Issue 15: the cost of central differential privacy (Flower's server-side fixed clipping) in accuracy and time.

The seed task's ``noisy`` variant, federated arm, 3 seeds, FedAvg with and without DP at a few noise multipliers
(clipping norm 1.0 on each site's update). Prints accuracy and failure-detection rate (mean of the 7 training
factories) and the federated wall time. Usage: ``python benchmarks/federated_dp.py [--seeds 3]``.
"""

from __future__ import annotations

import argparse
import json

from forewarn.federated.benchmark import run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--dataset", default="seed-task:noisy")
    args = parser.parse_args()
    for noise in (0.0, 0.1, 0.5, 1.0):
        payload = run(["federated"], args.seeds, dataset=args.dataset, dp_noise=noise, dp_clip=1.0)
        mean = next(r for r in payload["results"] if r["site"] == "mean")
        walls = [r["wall_s"] for r in payload["federated_runs"]]
        print(
            json.dumps(
                {
                    "dp_noise": noise,
                    "dp_clip": 1.0,
                    "accuracy": round(mean["accuracy"], 3),
                    "accuracy_std": round(mean["accuracy_std"], 3),
                    "failure_detection_rate": round(mean["failure_detection_rate"], 3),
                    "federated_wall_s": round(sum(walls) / len(walls), 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
