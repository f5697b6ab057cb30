"""Where Forewarn finds things: the benchmark data directory and the default store.

The data directory holds the public datasets, laid out one folder per dataset (``cmapss/``,
``ai4i2020/``, ``skab/``, ``cwru/``, ``phm2012_femto/``, ``neu_det/``). It comes from, in this order:
an explicit argument (the CLI's ``--data-dir``), the ``FOREWARN_DATA_DIR`` environment variable, or
``./data`` under the current directory when that exists.

>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> resolve_data_dir(d) == __import__("pathlib").Path(d).resolve()
True
"""

from __future__ import annotations

import os
from pathlib import Path

from forewarn.exceptions import DataNotFoundError

DATA_DIR_ENV = "FOREWARN_DATA_DIR"
DEFAULT_DATA_DIR = Path("data")


def find_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the data directory to use, or ``None`` when none is configured or present.

    An explicit path or ``FOREWARN_DATA_DIR`` that does not exist raises :class:`DataNotFoundError`,
    since the user asked for it by name.
    """
    for origin, value in (("--data-dir", explicit), (DATA_DIR_ENV, os.environ.get(DATA_DIR_ENV))):
        if value:
            path = Path(value).expanduser()
            if not path.is_dir():
                raise DataNotFoundError(
                    f"data directory {str(path)!r} (from {origin}) does not exist; "
                    "point it at a folder laid out like cmapss/, ai4i2020/, skab/ ..."
                )
            return path.resolve()
    return DEFAULT_DATA_DIR.resolve() if DEFAULT_DATA_DIR.is_dir() else None


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Like :func:`find_data_dir`, but a missing directory is an error that says how to set one."""
    path = find_data_dir(explicit)
    if path is None:
        raise DataNotFoundError(
            f"no data directory: pass --data-dir DIR or set {DATA_DIR_ENV}=DIR "
            "(a folder laid out like cmapss/, ai4i2020/, skab/ ...)"
        )
    return path


def dataset_dir(name: str, explicit: str | os.PathLike[str] | None = None) -> Path:
    """The folder of one dataset inside the data directory, checked to exist."""
    path = resolve_data_dir(explicit) / name
    if not path.is_dir():
        raise DataNotFoundError(f"dataset folder {str(path)!r} does not exist (expected {name}/ in the data directory)")
    return path
