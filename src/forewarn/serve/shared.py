"""A service on a store other processes write too (PostgreSQL): its cached answers age out.

On a DuckDB file the service is the only writer (readings come through its API or its own stream connector), so
its health cache is told of every change and never expires. On a PostgreSQL store the stream, ``forewarn ingest``
and other services write from their own processes, and nothing tells this one. :class:`SharedStoreRefresh` is a
daemon thread that, every ``shared_refresh_s`` seconds (``ServeSettings.extra``, default
:data:`DEFAULT_REFRESH_S`), drops the cached health answers and the asset table, so an answer is at most that old;
the case book re-reads the open cases of other processes by itself (:data:`forewarn.decide.cases.OPEN_CASES_TTL`).

>>> from forewarn.serve.service import HealthService
>>> from forewarn.serve.settings import ServeSettings
>>> service = HealthService(ServeSettings())
>>> SharedStoreRefresh.start_for(service) is None  # a DuckDB store: the service sees every change itself
True
>>> service.close()
"""

from __future__ import annotations

import threading
from typing import Any

from forewarn.exceptions import ConfigError
from forewarn.store.window_queries import is_postgres

DEFAULT_REFRESH_S = 5.0


class SharedStoreRefresh:
    """Every ``every`` seconds: the service's cached health and asset table are dropped (see the module docstring)."""

    def __init__(self, service: Any, every: float) -> None:
        if not every > 0:
            raise ConfigError(f"shared_refresh_s must be a positive number of seconds, got {every!r}")
        self.service = service
        self.every = float(every)
        self.ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="forewarn-shared-refresh", daemon=True)

    @classmethod
    def start_for(cls, service: Any) -> SharedStoreRefresh | None:
        """A started refresher when the service's store is shared with other processes (PostgreSQL), else None."""
        if not is_postgres(service.store):
            return None
        every = (service.settings.extra or {}).get("shared_refresh_s", DEFAULT_REFRESH_S)
        refresher = cls(service, float(every))
        refresher._thread.start()
        return refresher

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.refresh()

    def refresh(self) -> None:
        """Drop what other processes may have changed: the asset table and every cached health answer."""
        self.service.plant.changed()
        self.service.cache.clear()
        self.ticks += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
