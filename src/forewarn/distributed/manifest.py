"""A lake's manifest (``lake.json``), read with the standard library only: a job's driver checks the lake before
importing anything heavy.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> check_lake(folder)
Traceback (most recent call last):
...
forewarn.exceptions.DataNotFoundError: '...' is not a lake (no lake.json); write one with forewarn export
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from forewarn.exceptions import ConfigError, DataNotFoundError

#: the lake format this Forewarn writes and reads (``lake.json``'s ``format``)
FORMAT = "forewarn-lake/1"


def check_lake(lake: str | os.PathLike[str]) -> Path:
    """``lake`` as a path, after checking it holds a lake (its ``lake.json``, of format :data:`FORMAT`)."""
    path = Path(lake)
    manifest = path / "lake.json"
    if not manifest.is_file():
        raise DataNotFoundError(f"{str(path)!r} is not a lake (no lake.json); write one with forewarn export")
    found = json.loads(manifest.read_text()).get("format")
    if found != FORMAT:
        raise ConfigError(f"{str(manifest)!r} has format {found!r}; this Forewarn reads {FORMAT!r}")
    return path
