"""A throwaway PostgreSQL server on 127.0.0.1 for tests, benchmarks and demos (Debian package ``postgresql``).

:class:`LocalPostgres` runs ``initdb`` in a work folder (trust authentication, loopback only, no
Unix socket outside the folder), starts it with ``pg_ctl`` on a free port and stops it with
``pg_ctl stop -m fast``. PostgreSQL refuses to run as root; started by root, the server runs as the
``postgres`` system user (``runuser``) in a private folder under the system temporary folder (handed to
that user and removed by :meth:`LocalPostgres.stop`). Settings favour a test
machine; ``durable=False`` turns ``fsync`` and ``synchronous_commit`` off, which only matters if the machine
itself (not a client, not the server process) crashes: tests use it, benchmarks do not.

>>> binaries() is None or (binaries() / "pg_ctl").exists()
True
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from forewarn.exceptions import ConfigError

ROOTS = ("/usr/lib/postgresql",)


def binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl`` (newest Debian version first, else ``PATH``), or ``None``."""
    for root in ROOTS:
        base = Path(root)
        if base.is_dir():
            versions = sorted(
                (p for p in base.iterdir() if (p / "bin" / "pg_ctl").exists()),
                key=lambda p: int(p.name) if p.name.isdigit() else 0,
                reverse=True,
            )
            if versions:
                return versions[0] / "bin"
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPostgres:
    """A PostgreSQL server in ``folder`` on ``127.0.0.1:port``; a context manager (start ... stop)."""

    def __init__(
        self, folder: str | os.PathLike[str], *, port: int | None = None, user: str = "forewarn", durable: bool = True
    ) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            raise ConfigError("PostgreSQL is not installed; apt-get install postgresql (or make system-deps)")
        self.bin = bin_dir
        self.folder = Path(folder)
        self.data = self.folder / "data"
        self.port = port or free_port()
        self.user = user
        self.durable = durable
        self.as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        if self.as_root:  # the postgres user must reach the folder: a private one under the system temp folder
            self.folder = Path(tempfile.mkdtemp(prefix="forewarn-pg-"))
            self.data = self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        """The URL of ``database`` on this server (no password: loopback trust)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> LocalPostgres:
        """initdb (first time) and start; returns when the server accepts connections."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            result = self._run(
                "initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--locale=C", check=False
            )
            if result.returncode:
                raise ConfigError(f"initdb failed: {result.stderr.strip()[-500:]}")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.folder} "
            "-c max_connections=100 -c shared_buffers=256MB -c max_wal_size=4GB -c checkpoint_timeout=30min"
            + (
                ""
                if self.durable
                else " -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c wal_level=minimal "
                "-c max_wal_senders=0 -c max_wal_size=256MB -c min_wal_size=32MB"
            )
        )
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
            "-w",
            "start",
            check=False,
        )
        if result.returncode:
            log = (
                (self.folder / "server.log").read_text(errors="replace")[-800:]
                if (self.folder / "server.log").exists()
                else ""
            )
            raise ConfigError(f"pg_ctl start failed: {result.stderr.strip()[-300:]} {log}")
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown; immediate when not ``durable``; safe to call twice)."""
        if (self.data / "postmaster.pid").exists():
            mode = "fast" if self.durable else "immediate"  # a throwaway server skips the shutdown checkpoint
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)
        if self.as_root:
            shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create ``name`` (optionally a copy of ``template``) and return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as con:
            clause = f' TEMPLATE "{template}"' if template else ""
            if template and not self.durable:  # a file copy, not the whole template written to the WAL
                clause += " STRATEGY FILE_COPY"
            con.execute(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, closing whatever connections are left on it."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until_stopped(server: LocalPostgres, timeout: float = 30.0) -> bool:
    """True once the server's pid file is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not (server.data / "postmaster.pid").exists():
            return True
        time.sleep(0.1)
    return False
