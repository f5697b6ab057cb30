"""Benchmarks on real data under each public benchmark's standard protocol.

Each dataset runner lives in its own module (``bench/cmapss.py``, ``bench/skab.py`` ...) and exposes
``run(models, seeds, data_dir, **options) -> BenchOutcome``; :data:`RUNNERS` maps ``forewarn bench``'s
dataset names to those modules.
"""

from forewarn.bench.report import ModelRun, summarise

#: dataset name -> module implementing ``run``; imported lazily by the CLI
RUNNERS = {
    "cmapss": "forewarn.bench.cmapss",
    "ai4i": "forewarn.bench.ai4i",
    "skab": "forewarn.bench.skab",
    "cwru": "forewarn.bench.cwru",
    "femto": "forewarn.bench.femto",
    "fleet": "forewarn.bench.fleet",
    "neu": "forewarn.bench.neu",
    "federated": "forewarn.federated.benchmark",  # the runner lives with Flower (federated/); its sites in bench/federated.py
    "policy": "forewarn.bench.policy",
}

__all__ = ["RUNNERS", "ModelRun", "summarise"]
