"""A local mosquitto broker on 127.0.0.1 for tests, demos and benchmarks (Debian package ``mosquitto``).

:class:`LocalBroker` writes a config into a work folder, starts ``mosquitto -c``, waits until the port
accepts connections, and stops it with SIGTERM (mosquitto then saves its persistence file, so sessions and
queued QoS 1 messages survive a :meth:`LocalBroker.restart`). Settings that matter for a lossless stream:

* ``persistence true``: sessions and queued messages are kept on disk across broker restarts;
* ``max_queued_messages``: how many messages the broker queues for a disconnected persistent client (mosquitto's
  default, 1000, would drop the rest while a consumer is down); 0 here means no limit;
* ``max_inflight_messages`` only applies to MQTT 3 clients; MQTT 5 clients (Forewarn's) set Receive Maximum.

>>> import shutil
>>> mosquitto_path() is None or mosquitto_path().endswith("mosquitto")
True
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from forewarn.exceptions import ConfigError

CANDIDATES = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto")


def mosquitto_path() -> str | None:
    """The ``mosquitto`` executable, or ``None`` when it is not installed (``apt-get install mosquitto``)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((c for c in CANDIDATES if os.access(c, os.X_OK)), None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, timeout: float, host: str = "127.0.0.1") -> bool:
    """True once ``host:port`` accepts TCP connections, False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class LocalBroker:
    """mosquitto on ``127.0.0.1:port`` with persistence in ``workdir`` (see the module docstring)."""

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        *,
        port: int | None = None,
        persistence: bool = True,
        max_queued_messages: int = 0,
    ):
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.persistence = persistence
        self.max_queued_messages = max_queued_messages
        self.process: subprocess.Popen[bytes] | None = None
        exe = mosquitto_path()
        if exe is None:
            raise ConfigError("mosquitto is not installed; install it with: apt-get install -y mosquitto")
        self.executable = exe

    @property
    def config_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def write_config(self) -> Path:
        """Write ``mosquitto.conf`` into the work folder."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        # mosquitto started as root switches to the user "mosquitto", which cannot write a private work folder
        lines = [
            f"user {getpass.getuser()}",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"max_queued_messages {self.max_queued_messages}",
            "max_inflight_messages 1000",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.persistence:
            lines += ["persistence true", f"persistence_location {self.workdir}/", "autosave_interval 60"]
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.config_path

    def start(self, *, timeout: float = 10.0) -> LocalBroker:
        """Start mosquitto and wait until it accepts connections."""
        if self.process is not None and self.process.poll() is None:
            return self
        self.write_config()
        self.process = subprocess.Popen(
            [self.executable, "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        if not wait_for_port(self.port, timeout=timeout):
            self.stop()
            log = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise ConfigError(f"mosquitto did not start on 127.0.0.1:{self.port} within {timeout:.0f} s: {log}")
        return self

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop mosquitto with SIGTERM (it saves sessions and queued messages first); SIGKILL if it hangs."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def restart(self, *, down_s: float = 0.0) -> None:
        """Stop, optionally stay down for ``down_s`` seconds, start again on the same port."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
