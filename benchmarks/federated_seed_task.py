"""Issue 15: the seed's factory task and its harder variants, local / federated / personalised / pooled.

For each variant of :data:`forewarn.bench.federated.VARIANTS`, ``forewarn bench federated --dataset seed-task:<v>``
with 3 seeds (in-process Grid); prints the mean over the seven training factories and the held-out factory of
accuracy and failure-detection rate per arm, and the federated run's wall time.
Usage: ``python benchmarks/federated_seed_task.py [--seeds 3] [--first-seed 0] [--variants a,b] [--min-local-steps N]
[--json FILE]`` (``--min-local-steps`` overrides the seed task's setting, 20; ``--first-seed 10``: validation seeds).
"""

from __future__ import annotations

import argparse
import json

from forewarn.bench.federated import VARIANTS
from forewarn.federated.benchmark import run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--min-local-steps", type=int, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    table = []
    for variant in args.variants.split(","):
        payload = run(
            None,
            args.seeds,
            dataset=f"seed-task:{variant}",
            first_seed=args.first_seed,
            min_local_steps=args.min_local_steps,
        )
        walls = [r["wall_s"] for r in payload["federated_runs"]]
        for row in payload["results"]:
            if row["site"] == "mean" or row["held_out"]:
                table.append(
                    {
                        "variant": variant,
                        "min_local_steps": payload["settings"]["min_local_steps"],
                        "arm": row["arm"],
                        "site": "held-out" if row["held_out"] else "mean of 7",
                        "accuracy": round(row["accuracy"], 3),
                        "accuracy_std": round(row["accuracy_std"], 3),
                        "failure_detection_rate": round(row["failure_detection_rate"], 3),
                        "fdr_std": round(row["failure_detection_rate_std"], 3),
                        "federated_wall_s": round(sum(walls) / len(walls), 1),
                    }
                )
                print(json.dumps(table[-1]), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(table, out, indent=2)


if __name__ == "__main__":
    main()
