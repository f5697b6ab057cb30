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

:func:`map_groups` is the same seam for a frame whose rows fall into independent groups (one asset's rows): each
group is a unit, and the pieces come back in the frame's own row order and index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from forewarn.exceptions import ConfigError

if TYPE_CHECKING:  # imported where used: a Ray driver that only maps units needs neither
    import pandas as pd

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


def map_groups(
    executor: Executor | None, fn: Callable[[pd.DataFrame], pd.DataFrame], frame: pd.DataFrame, group: str
) -> pd.DataFrame:
    """``fn`` applied to the rows of each value of ``frame[group]`` as one unit of ``executor``; the pieces (each
    with the index of the rows it got) are put back in ``frame``'s row order. ``fn`` must compute each group from
    its own rows alone (a per-asset window): then the result equals ``fn(frame)``.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"g": ["b", "a", "b", "a"], "x": [1.0, 2.0, 3.0, 4.0]}, index=[10, 11, 12, 13])
    >>> map_groups(None, lambda part: part[["x"]].cumsum(), frame, "g")["x"].tolist()
    [1.0, 2.0, 4.0, 6.0]
    """
    import numpy as np
    import pandas as pd

    if frame.empty:
        return fn(frame)
    codes, _ = pd.factorize(frame[group], sort=True)
    order = np.argsort(codes, kind="stable")
    cuts = np.flatnonzero(np.diff(codes[order])) + 1
    parts = [frame.iloc[rows] for rows in np.split(order, cuts)]
    pieces = resolve(executor).map(fn, parts)
    whole = pd.concat(pieces)
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    return whole.iloc[position]
