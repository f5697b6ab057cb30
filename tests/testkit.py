"""Helpers shared by the test packages (import as ``from testkit import ...``; pytest puts ``tests/`` on the path).

``free_port`` is the stream package's own (:func:`forewarn.stream.broker.free_port`), re-exported here.

>>> wait_until(lambda: True, timeout=0.1)
True
>>> 0 < free_port() < 65536
True
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from forewarn.stream.broker import free_port

__all__ = ["forewarn_process", "free_port", "run_cli", "serving", "wait_until"]


def run_cli(argv: list[str]) -> int:
    """Run ``forewarn ARGV`` in this process (what it prints goes to pytest's capture); its exit status."""
    from forewarn.cli.main import run

    try:
        run(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def forewarn_process(*args: str, cwd: Path | None = None, columns: int = 200) -> subprocess.CompletedProcess:
    """Run ``forewarn ARGS`` in a process of its own, as a user would (output captured as text, ``columns`` wide)."""
    code = "import sys; from forewarn.cli.main import run; sys.argv[0] = 'forewarn'; run()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": str(columns)},
        timeout=120,
    )


def wait_until(check: Callable[[], bool], *, timeout: float, step: float = 0.05) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds passed; the last answer of ``check``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


@contextmanager
def serving(app: Any) -> Iterator[int]:
    """``app`` (an ASGI app) served by uvicorn on 127.0.0.1 in a thread; yields the free port it listens on and
    stops the server when the block ends, even on failure."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-test", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
    assert not thread.is_alive()
