"""The case book on the server store: its tables in the store's PostgreSQL database, and the roles that share it.

On DuckDB the case book is a file of its own beside the store (one writing process per file). On PostgreSQL it
lives in the store's own database, created by a numbered migration (:data:`MIGRATION`), so the service, the
stream and ``forewarn monitor`` file alerts into one book from separate processes or machines:

* a filing transaction holds the advisory lock :data:`CASES_LOCK` (not the readings' write lock, so filing never
  waits for a bulk ingest), which serialises "find the asset's open case, else open one" across processes;
* a partial unique index allows one open (or acknowledged) case per asset and kind, and a unique index on an
  alert's ``(source, model_id, asset_id, ts)`` keeps idempotent filing idempotent whoever files;
* two group roles (``NOLOGIN``) split the rights: ``forewarn_read`` may read every table (and the tables created
  later by the store's owner, such as new monthly partitions), ``forewarn_casebook`` may read and write the case
  book's tables only. A service that reads readings and files cases logs in as a role granted both
  (``GRANT forewarn_read, forewarn_casebook TO svc``) and opens ``Store(url, read_only=True)``: it cannot change
  a reading even by mistake. Creating roles needs ``CREATEROLE``; without it the migration still creates the
  tables and says so in a notice (grant the rights by hand then).

:class:`CaseConnection` is the case book's own connection: DuckDB's ``?`` parameters, tuples back, one transaction
at a time, reconnecting after a lost server.

>>> CASES_LOCK - WRITE_LOCK
2
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from forewarn.exceptions import ConfigError, StateError
from forewarn.store.pg_cases_schema import CASE_TABLES, CASEBOOK_ROLE, MIGRATION, READ_ROLE
from forewarn.store.pg_sql import (
    WRITE_LOCK,
    PgConnection,
    migrate,
    normalise_url,
    password_from_env,
    placeholders,
    redact,
)

__all__ = ["CASEBOOK_ROLE", "CASES_LOCK", "CASE_TABLES", "MIGRATION", "READ_ROLE", "CaseConnection"]

CASES_LOCK = WRITE_LOCK + 2  # advisory lock key of case-book writes (beside the store's write and migrate locks)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the extra is installed in development
        raise ConfigError(
            "a case book on a postgresql:// store needs psycopg: pip install 'forewarn[postgres]'"
        ) from None
    return psycopg


class CaseConnection:
    """The case book's connection to the store's database, answering like a DuckDB connection does for the SQL of
    :mod:`forewarn.decide.cases` (``?`` parameters, ``execute(...).fetchall()``, ``register``).

    ``BEGIN TRANSACTION`` takes :data:`CASES_LOCK` for the transaction; callers serialise their calls (the case
    book holds a lock), so one connection serves one book."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.path = redact(self.url)
        password = password_from_env()
        self._kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": 10}
        if password is not None:
            self._kwargs["password"] = password
        self._con: Any = None
        self._closed = False
        self._connect()
        missing = (
            self._raw()
            .execute(  # an older store: its migrations, these tables among them, run first
                "SELECT to_regclass('cases') IS NULL OR to_regclass('inspections') IS NULL"
            )
            .fetchone()[0]
        )
        if missing:
            psycopg = _psycopg()
            try:
                migrate(self._raw())  # the store's migrations, the case book's among them (a role that may create)
            except psycopg.Error as err:
                raise ConfigError(
                    f"{self.path} holds no case book and this role cannot create it ({self._reason(err)}); "
                    "run 'forewarn store migrate' as the database's owner"
                ) from None

    def _connect(self) -> None:
        psycopg = _psycopg()
        try:
            self._con = psycopg.connect(self.url, **self._kwargs)
        except psycopg.Error as err:
            raise ConfigError(f"cannot open the case book in {self.path}: {self._reason(err)}") from None
        self._con.execute("SET TIME ZONE 'UTC'")

    def _raw(self) -> Any:
        if self._closed:
            raise StateError(f"the case book in {self.path} is closed")
        if self._con is None or self._con.closed or self._con.broken:
            self._connect()
        return self._con

    def _reason(self, err: Exception) -> str:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        password = self._kwargs.get("password")
        return text.replace(password, "***") if password else text

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        psycopg = _psycopg()
        try:
            yield
        except psycopg.errors.InsufficientPrivilege as err:
            raise ConfigError(
                f"the database role may not use the case book in {self.path}: {self._reason(err)}; "
                f"grant it {CASEBOOK_ROLE} (GRANT {CASEBOOK_ROLE} TO <role>)"
            ) from None
        except psycopg.OperationalError as err:
            raise StateError(f"lost the case book's server {self.path}: {self._reason(err)}") from None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        text = sql.strip().rstrip(";").upper()
        with self._errors():
            con = self._raw()
            if text in ("BEGIN TRANSACTION", "BEGIN"):
                con.execute("BEGIN")
                return con.execute("SELECT pg_advisory_xact_lock(%s)", [CASES_LOCK])
            if params:
                return con.execute(placeholders(sql, list(params)), list(params))
            return con.execute(sql)

    def register(self, name: str, frame: Any) -> None:
        with self._errors():
            PgConnection(self._raw()).register(name, frame)

    def unregister(self, name: str) -> None:
        with self._errors():
            self._raw().execute(f'DROP TABLE IF EXISTS "{name}"')

    def close(self) -> None:
        self._closed = True
        if self._con is not None:
            self._con.close()
