"""The Ray engine: :class:`RayExecutor` runs a use case's independent units as Ray tasks.

``executor_for("local")`` is the in-process :class:`~forewarn.base.executor.LocalExecutor`;
``executor_for("ray", address)`` connects to a running cluster (``ray start --head`` and ``ray start
--address``, see ``docs/scale-out.md``), or starts a private one on this machine when ``address`` is ``None``.
Each unit runs as a task that is retried when its worker dies (``max_retries``), so a worker killed mid-job does
not change the result: a unit is a pure function of its inputs. The function and its bound arguments (a fold's
data, a bundle's serving spec) are put in the object store once and shared by every task.

>>> executor_for("local").map(abs, [-1, 2])
[1, 2]
>>> executor_for("spark")
Traceback (most recent call last):
...
forewarn.exceptions.ConfigError: engine 'spark' is not one of local, ray
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from forewarn.base.executor import Executor, LocalExecutor
from forewarn.exceptions import ConfigError, ForewarnError

ENGINES = ("local", "ray")
T = TypeVar("T")
R = TypeVar("R")


def _quiet_environment() -> None:
    """Ray's environment defaults for Forewarn (set before ray is imported: Ray reads them at import): nodes and
    drivers on this machine use the loopback address, no usage reporting, no accelerator warning. A driver that
    joins a cluster of several machines sets ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=1`` itself (docs/scale-out.md)."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")


_quiet_environment()


def connect(address: str | None = None, *, num_cpus: int | None = None) -> Any:
    """Connect this process to the Ray cluster at ``address`` (``host:port`` of a head started with ``ray
    start --head``), or start a private local one (dashboard off) when ``address`` is ``None``; returns the
    ``ray`` module. Connecting twice is harmless."""
    _quiet_environment()
    import ray

    if ray.is_initialized():
        return ray
    try:
        if address is None:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except ConnectionError as error:
        raise ForewarnError(
            f"no Ray cluster answers at --ray-address {address!r} ({error}); start one with "
            "`ray start --head --node-ip-address 127.0.0.1 --port 6379 --include-dashboard false`"
        ) from error
    return ray


def _apply(fn: Callable[[Any], Any], item: Any) -> Any:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return fn(item)


class RayExecutor:
    """Runs each unit as a Ray task (one CPU each) on the cluster at ``address``; results in unit order.

    ``max_retries``: how many times a unit is run again when the process running it dies.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, max_retries: int = 3, num_cpus: int | None = None):
        self.address = address
        self.max_retries = int(max_retries)
        self.num_cpus = num_cpus

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        ray = connect(self.address, num_cpus=self.num_cpus)
        units = list(items)
        if not units:
            return []
        remote = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(_apply)
        shared = ray.put(fn)
        return list(ray.get([remote.remote(shared, unit) for unit in units]))

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, max_retries={self.max_retries})"


def executor_for(engine: str, address: str | None = None) -> Executor:
    """The executor of ``--engine`` (``local`` or ``ray``) and ``--ray-address``."""
    if engine not in ENGINES:
        raise ConfigError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
    if engine == "local":
        if address is not None:
            raise ConfigError("--ray-address is only for --engine ray")
        return LocalExecutor()
    return RayExecutor(address)
