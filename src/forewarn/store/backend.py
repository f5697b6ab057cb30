"""Which store a URL names, and migrating it: DuckDB (a file or ``:memory:``, the default) or PostgreSQL.

``Store(target)`` picks the backend from ``target`` itself: ``postgresql://user@host:port/db`` opens the
server store (:class:`forewarn.store.postgres.PgStore`), anything else is a DuckDB file. Commands take
``--store``, else the ``FOREWARN_STORE`` environment variable, else ``forewarn.duckdb``
(:func:`store_target`). Keep passwords out of the URL: libpq reads ``PGPASSWORD`` and ``~/.pgpass``, and
Forewarn reads ``FOREWARN_STORE_PASSWORD_FILE``.

>>> store_target("plant.duckdb"), store_target(None, env={"FOREWARN_STORE": "postgresql://db/plant"})
('plant.duckdb', 'postgresql://db/plant')
>>> migrate_store(":memory:")["backend"]
'duckdb'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from forewarn.exceptions import ConfigError
from forewarn.store.pg_sql import is_postgres_url, redact
from forewarn.store.store import Store
from forewarn.store.tables import SCHEMA_VERSION as DUCKDB_SCHEMA_VERSION
from forewarn.store.tables import fetch_value

DEFAULT = "forewarn.duckdb"


def store_target(given: str | os.PathLike[str] | None, *, env: Mapping[str, str] | None = None) -> str:
    """The store to open: ``given``, else ``FOREWARN_STORE``, else ``forewarn.duckdb``."""
    if given is not None and str(given):
        return str(given)
    return (os.environ if env is None else env).get("FOREWARN_STORE") or DEFAULT


def migrate_store(target: str | os.PathLike[str]) -> dict[str, object]:
    """Create or upgrade the store's tables; ``{"store", "backend", "from_version", "to_version"}``."""
    text = str(target)
    if is_postgres_url(text):
        import psycopg

        from forewarn.store.pg_sql import migrate, normalise_url, password_from_env

        url = normalise_url(text)
        password = password_from_env()
        kwargs: dict[str, Any] = {"password": password} if password is not None else {}
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10, **kwargs) as con:
                before, after = migrate(con)
        except psycopg.Error as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            for secret in filter(None, [password, url]):
                reason = reason.replace(secret, "***")
            raise ConfigError(f"cannot migrate the store {redact(url)}: {reason}") from None
        return {
            "store": redact(normalise_url(text)),
            "backend": "postgresql",
            "from_version": before,
            "to_version": after,
        }
    with Store(text) as store:
        version = fetch_value(store._db(), "SELECT value FROM store_meta WHERE key = 'schema_version'")
    return {
        "store": store.path,
        "backend": "duckdb",
        "from_version": int(version),
        "to_version": int(DUCKDB_SCHEMA_VERSION),
    }
