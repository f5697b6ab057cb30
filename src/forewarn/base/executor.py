"""The engine seam: how a use case maps a function over independent units (assets, folds, seeds).

A use case that has independent units takes an ``executor`` and calls ``executor.map(fn, units)``; the
result is the list of ``fn(unit)`` in the order of ``units``, whatever runs them. :class:`LocalExecutor` runs
them one after the other in this process (the default); the Ray implementation lives in
:mod:`forewarn.distributed` (the only package that imports ray) and is chosen by a face (``--engine ray``).
Results do not depend on the engine: ``fn`` must be a picklable function of its unit alone (a module-level
function, or a :func:`functools.partial` of one), seeded from the unit, never from the order units run in.

>>> from functools import partial
>>> LocalExecutor().map(partial(pow, 2), [1, 2, 3])
[2, 4, 8]
>>> resolve(None).name
'local'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar, runtime_checkable

from forewarn.exceptions import ConfigError

T = TypeVar("T")
R = TypeVar("R")


@runtime_checkable
class Executor(Protocol):
    """Maps a function over independent units; ``map`` returns results in the order of the units."""

    name: str

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(item) for item in items]``, run wherever the executor runs work."""
        ...


class LocalExecutor:
    """Runs every unit in this process, in order."""

    name = "local"

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        return [fn(item) for item in items]

    def __repr__(self) -> str:
        return "LocalExecutor()"


def resolve(executor: Executor | None) -> Executor:
    """``executor``, or a :class:`LocalExecutor` when it is ``None``; anything without ``map`` is refused."""
    if executor is None:
        return LocalExecutor()
    if not isinstance(executor, Executor):
        raise ConfigError(
            f"executor {executor!r} has no map(fn, items) method; pass forewarn.base.executor.LocalExecutor() "
            "or forewarn.distributed.RayExecutor()"
        )
    return executor
