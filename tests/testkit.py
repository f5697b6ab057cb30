"""Helpers shared by the test packages (import as ``from testkit import ...``; pytest puts ``tests/`` on the path).

>>> wait_until(lambda: True, timeout=0.1)
True
>>> 0 < free_port() < 65536
True
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def wait_until(check: Callable[[], bool], *, timeout: float, step: float = 0.05) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds passed; the last answer of ``check``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (a server a test starts binds it next)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
