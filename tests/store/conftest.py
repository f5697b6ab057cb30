"""Fixtures of the store tests: every store test runs on both backends, DuckDB and PostgreSQL.

PostgreSQL comes from Debian's package: one server per test session (initdb and pg_ctl in a temporary
folder on 127.0.0.1, a free port), stopped at the end; each store gets a database of its own, copied
from a migrated template (``CREATE DATABASE ... TEMPLATE``, a few tens of milliseconds). The PostgreSQL
half is marked ``slow`` so ``make test-fast`` runs the DuckDB half; without the binaries it is skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from store_helpers import wipe_pg

from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres, binaries
from forewarn.store.postgres import PgStore

TEMPLATE = "fw_template"
BACKENDS = ["duckdb", pytest.param("postgres", marks=pytest.mark.slow)]
_numbers = itertools.count()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    """One PostgreSQL server for the session, with a migrated template database."""
    if binaries() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    server = LocalPostgres(tmp_path_factory.mktemp("pg"), durable=False)
    server.start()
    try:
        Store(server.create_database(TEMPLATE)).close()
        yield server
    finally:
        server.stop()


def new_pg_store(server: LocalPostgres) -> tuple[Store, str]:
    """A store in a fresh database copied from the template; returns it and the database name."""
    name = f"fw_{next(_numbers)}"
    return Store(server.create_database(name, template=TEMPLATE)), name


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def make_module_store(backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    """A factory of empty stores of the module's backend (PostgreSQL: a database each), closed at the end."""
    made: list[tuple[Store, str | None]] = []
    server = request.getfixturevalue("pg_server") if backend == "postgres" else None

    def make() -> Store:
        if server is None:
            made.append((Store(), None))
        else:
            made.append(new_pg_store(server))
        return made[-1][0]

    yield make
    for store, _ in made:
        store.close()  # the databases go with the server at the end of the session (DROP DATABASE checkpoints)


@pytest.fixture(scope="module")
def scratch(make_module_store: Callable[[], Store]) -> Store:
    """The module's scratch store for tests that want an empty one (on PostgreSQL, wiped for each test)."""
    return make_module_store()


@pytest.fixture
def make_store(backend: str, scratch: Store) -> Iterator[Callable[[], Store]]:
    """A factory of empty stores of the current backend (PostgreSQL: the module's scratch database, wiped)."""
    made: list[Store] = []

    def make() -> Store:
        if backend == "duckdb":
            made.append(Store())
        else:
            assert isinstance(scratch, PgStore)
            wipe_pg(scratch)
            made.append(Store(scratch.url))
        return made[-1]

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store: Callable[[], Store]) -> Store:
    return make_store()
