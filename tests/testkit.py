"""Helpers shared by the test packages (import as ``from testkit import ...``; pytest puts ``tests/`` on the path).

``free_port`` is the stream package's own (:func:`forewarn.stream.broker.free_port`), re-exported here.

>>> wait_until(lambda: True, timeout=0.1)
True
>>> 0 < free_port() < 65536
True
"""

from __future__ import annotations

import time
from collections.abc import Callable

from forewarn.stream.broker import free_port

__all__ = ["free_port", "wait_until"]


def wait_until(check: Callable[[], bool], *, timeout: float, step: float = 0.05) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds passed; the last answer of ``check``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()
