"""Run ``forewarn serve`` in the service container once the stack's broker and database answer.

``python3 launch.py ARGS...`` is ``forewarn serve ARGS...`` with two things first:

1. the service's modules are imported (about 11 s on a loaded 2-core machine: the image holds no bytecode, so
   Python compiles what it imports at every start) while the database makes its cluster or the broker starts,
   instead of after them;
2. then it waits for the MQTT broker (``FOREWARN_MQTT_HOST``/``_PORT``, up to ``FOREWARN_MQTT_WAIT``, 30 s) to
   accept a connection, and for a ``postgresql://`` store (``FOREWARN_STORE``, up to ``FOREWARN_STORE_WAIT``,
   60 s) to let its role log in with the password of ``FOREWARN_STORE_PASSWORD_FILE``.

Either wait that runs out ends the process with one line naming what did not answer (the password never
appears in it). Run by the image's virtual environment (deploy/entrypoint.sh); not part of the package.
"""

import os
import socket
import sys
import time
from collections.abc import Callable

Attempt = Callable[[], "str | None"]  # None: ready; else the reason it is not


def _wait(what: str, attempt: Attempt, seconds: float) -> None:
    """Call ``attempt()`` until it returns None (ready) or ``seconds`` pass; exit with its last reason."""
    end = time.monotonic() + seconds
    while True:
        reason = attempt()
        if reason is None:
            return
        if time.monotonic() > end:
            sys.exit(f"forewarn: error: {what} did not answer in {seconds:g} s: {reason}")
        time.sleep(0.25)


def _broker(host: str, port: int) -> Attempt:
    def attempt() -> str | None:
        try:
            socket.create_connection((host, port), timeout=1).close()
        except OSError as err:
            return err.strerror or type(err).__name__
        return None

    return attempt


def _database(url: str) -> Attempt:
    import psycopg

    from forewarn.store.pg_sql import password_from_env

    password = password_from_env()
    kwargs = {} if password is None else {"password": password}

    def attempt() -> str | None:
        try:
            psycopg.connect(url, connect_timeout=2, **kwargs).close()
        except psycopg.Error as err:
            lines = str(err).strip().splitlines()
            return lines[-1] if lines else type(err).__name__
        return None

    return attempt


def _say(started: float, what: str) -> None:
    sys.stderr.write(f"launch: {what} after {time.monotonic() - started:.1f} s\n")  # one write: one log line


def main(argv: list[str]) -> None:
    started = time.monotonic()
    # the modules `forewarn serve` imports, compiled now, while the broker and the database start
    import forewarn.serve.api.app  # noqa: F401
    import forewarn.stream.runner  # noqa: F401
    from forewarn.cli.main import run

    _say(started, "modules imported")

    mqtt = os.environ.get("FOREWARN_MQTT_HOST")
    if mqtt:
        port = int(os.environ.get("FOREWARN_MQTT_PORT", "1883"))
        _wait(f"the MQTT broker {mqtt}:{port}", _broker(mqtt, port), float(os.environ.get("FOREWARN_MQTT_WAIT", "30")))
    from forewarn.store.pg_sql import is_postgres_url, normalise_url, redact

    store = os.environ.get("FOREWARN_STORE", "")
    if is_postgres_url(store):
        url = normalise_url(store)
        wait = float(os.environ.get("FOREWARN_STORE_WAIT", "60"))
        _wait(f"the store database {redact(url)}", _database(url), wait)
    _say(started, "broker and store answer; forewarn serve")
    run(["serve", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
