"""``forewarn detect --store postgresql://... --cases``: a PostgreSQL store's case book (in its own database, where a
running service files too) gets the cases a DuckDB store's gets from the same readings; a rerun files nothing; the
URL's password is not printed. Slow: it starts a PostgreSQL server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_detect_cases import GAP, _cases, _cli, _fleet, _store

from forewarn.decide.cases import casebook_path_for
from forewarn.schema import Asset
from forewarn.store import Store

pytestmark = pytest.mark.slow


def test_detect_cases_on_postgres(tmp_path: Path) -> None:
    from forewarn.store.pg_local import LocalPostgres, binaries

    if binaries() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    fleet = _fleet()
    duck = _store(tmp_path / "plant.duckdb", fleet)
    argv = ["--out", str(tmp_path / "s.csv"), "--cases", "--close-quiet", GAP]
    _cli(["detect", "--store", str(duck), *argv])
    server = LocalPostgres(tmp_path / "pg", durable=False)
    server.start()
    try:
        url = server.create_database("detect_cases")
        with Store(url) as db:
            db.add_assets([Asset(f"P-{i}", "pump") for i in range(4)])
            db.ingest_readings(fleet)
        # a password in the URL (the local server trusts its socket and ignores it) is never printed
        shown = re.sub(r"://([^:/@]+)@", r"://\1:secret@", url) if "@" in url else url.replace("://", "://u:secret@", 1)
        text = _cli(["detect", "--store", shown, *argv])
        assert "secret" not in text
        assert _cases(url) == _cases(casebook_path_for(duck)) and len(_cases(url)) >= 4
        again = _cli(["detect", "--store", url, *argv])
        assert " 0 new alert(s) filed" in again and "0 case(s) opened" in again
    finally:
        server.stop()
