"""Forewarn on a Ray cluster: the same pipelines when a fleet outgrows one machine.

The only package that imports ``ray`` (lazily, on first use: importing it costs nothing).

* :mod:`~forewarn.distributed.engine`: :class:`RayExecutor`, the Ray side of the engine seam
  (:mod:`forewarn.base.executor`) that ``train``, ``backtest``, ``score``, ``bench`` and ``detect`` take with
  ``--engine ray [--ray-address ADDR]``.
* :mod:`~forewarn.distributed.lake`: the store's scale-out form, a hive-partitioned Parquet lake
  (``forewarn export``) with the asset registry and events beside it, and readers that push filters down.
* :mod:`~forewarn.distributed.fleet`: the fleet scored from the lake in batches of assets (a bundle loaded once
  per plain Ray actor, or by the warm pool's actors that outlive jobs: ``forewarn ray-pool``), streaming, written
  back as Parquet and into the store (DuckDB or PostgreSQL); locally the same functions run in-process.
* :mod:`~forewarn.distributed.qc`: QC images scored in batches (``forewarn qc-score``) with the quality package's
  classifier, the same records locally and on Ray.
"""

from forewarn.distributed.engine import ENGINES, RayExecutor, connect, executor_for

__all__ = ["ENGINES", "RayExecutor", "connect", "executor_for"]
