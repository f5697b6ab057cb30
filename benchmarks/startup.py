"""Start-up time of the command line and of the package: the median wall time of N fresh processes each.

What is timed, each in a new interpreter (nothing is cached between runs but the operating system's file cache):

* ``forewarn --version`` and ``forewarn detect --help`` (the console script next to this Python, else
  ``python -m forewarn``): targets 0.3 s and 0.5 s, on an idle machine;
* ``python -m forewarn --version``;
* ``import forewarn``, ``registry.names()`` (no model module imported) and ``registry.get("pca-t2q")`` (one
  model module, no torch or LightGBM), for the library side.

One warm-up run of each comes first and is not counted. The load average is printed before and after: on a
busy 2-core machine the figures can double, so compare runs made on a quiet one.

Run: ``.venv/bin/python benchmarks/startup.py`` (``--runs 5`` by default, ``--json FILE`` to keep the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: median targets (seconds) from issue 13, on an idle machine
TARGETS = {"forewarn --version": 0.3, "forewarn detect --help": 0.5}


def _script() -> list[str]:
    """The ``forewarn`` console script of this environment, else ``python -m forewarn``."""
    beside = Path(sys.executable).with_name("forewarn")
    found = str(beside) if beside.is_file() else shutil.which("forewarn")
    return [found] if found else [sys.executable, "-m", "forewarn"]


def commands() -> dict[str, list[str]]:
    """What to time: a label and the command line of each."""
    script, python = _script(), sys.executable
    return {
        "forewarn --version": [*script, "--version"],
        "forewarn detect --help": [*script, "detect", "--help"],
        "python -m forewarn --version": [python, "-m", "forewarn", "--version"],
        "import forewarn": [python, "-c", "import forewarn"],
        "registry.names()": [python, "-c", "from forewarn.base import registry; registry.names()"],
        'registry.get("pca-t2q")': [python, "-c", "from forewarn.base import registry; registry.get('pca-t2q')"],
    }


def time_once(argv: list[str]) -> float:
    """Wall seconds of one run of ``argv`` (its output discarded; a failure stops the benchmark)."""
    began = time.perf_counter()
    subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True, env={**os.environ, "COLUMNS": "100"}
    )
    return time.perf_counter() - began


def measure(runs: int, only: list[str] | None = None) -> list[dict[str, object]]:
    """Median, minimum and maximum of ``runs`` timed runs of each command, after one warm-up run."""
    rows = []
    for label, argv in commands().items():
        if only and not any(word in label for word in only):
            continue
        time_once(argv)
        times = [time_once(argv) for _ in range(runs)]
        rows.append(
            {
                "command": label,
                "runs": runs,
                "median_s": round(statistics.median(times), 3),
                "min_s": round(min(times), 3),
                "max_s": round(max(times), 3),
                "target_s": TARGETS.get(label),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each command (default 5)")
    parser.add_argument("--only", nargs="*", help="time only the commands whose label contains one of these words")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()

    load_before = os.getloadavg()
    rows = measure(args.runs, args.only)
    load_after = os.getloadavg()
    print(f"{'command':<30} {'median s':>9} {'min s':>7} {'max s':>7} {'target s':>9}")
    for row in rows:
        target = "" if row["target_s"] is None else f"{row['target_s']:.1f}"
        flag = " over" if row["target_s"] is not None and row["median_s"] > row["target_s"] else ""  # type: ignore[operator]
        print(
            f"{row['command']:<30} {row['median_s']:>9.3f} {row['min_s']:>7.3f} {row['max_s']:>7.3f} {target:>9}{flag}"
        )
    print(
        f"median of {args.runs} runs each; load average (1 min) {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after, on {os.cpu_count()} CPUs; Python {platform.python_version()}"
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "rows": rows,
                    "load_before": load_before,
                    "load_after": load_after,
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "command": _script(),
                },
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"figures: {args.json}")


if __name__ == "__main__":
    main()
