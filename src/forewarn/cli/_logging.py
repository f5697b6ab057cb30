"""Forewarn's own log lines on the command line.

``--log-level`` (on ``forewarn`` itself, or on ``serve`` and ``stream``) sets the level of the ``forewarn``
logger, the parent of every ``logging.getLogger(__name__)`` in the package, and sends its records to stderr
as ``time LEVEL logger: message``. Other libraries' loggers keep their own settings (uvicorn has its own
``--log-level`` through ``serve``), and without the option logging is left as Python has it (warnings and
errors still print).

>>> import logging
>>> configure("info")
>>> logging.getLogger("forewarn.stream").getEffectiveLevel() == logging.INFO
True
>>> reset()
"""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LogLevel(StrEnum):
    """The levels ``--log-level`` takes."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"
    critical = "critical"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a record is emitted (a test runner swaps it between commands)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(FORMAT))

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ assigns one; the property answers instead
        pass


#: the level the ``forewarn --log-level`` option chose, for the commands whose own option was left out
_chosen: dict[str, str] = {}


def configure(level: str | LogLevel) -> None:
    """Show the records of Forewarn's loggers at ``level`` and above on stderr (one handler, however often called)."""
    name = level.value if isinstance(level, LogLevel) else str(level).lower()
    logger = logging.getLogger("forewarn")
    logger.setLevel(name.upper())
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        logger.addHandler(_StderrHandler())


def choose(level: LogLevel | None) -> None:
    """The root option: configure now, and remember the level for :func:`level_for`."""
    _chosen.clear()
    if level is not None:
        _chosen["level"] = level.value
        configure(level)


def level_for(given: LogLevel | None, default: str) -> str:
    """A command's level: its own option, else the root ``--log-level``, else the command's default."""
    return given.value if given is not None else _chosen.get("level", default)


def reset() -> None:
    """Undo :func:`configure` (tests call it, so one command's level does not leak into the next test)."""
    _chosen.clear()
    logger = logging.getLogger("forewarn")
    logger.setLevel(logging.NOTSET)
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
