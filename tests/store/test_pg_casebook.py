"""The case book in a PostgreSQL store's database (issue 20): processes filing at once, idempotent filing, and a
service role that reads readings and files cases but cannot write a reading. One server per session
(``pg_server`` in conftest); the module is ``slow``."""

from __future__ import annotations

import subprocess
import sys
import time

import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient

from forewarn.decide.alerts import Alert
from forewarn.decide.cases import CaseBook, casebook_path_for
from forewarn.exceptions import ConfigError, StateError
from forewarn.serve import ServeSettings, create_app
from forewarn.store import Store
from forewarn.store.pg_cases import CASEBOOK_ROLE, READ_ROLE
from forewarn.store.pg_local import LocalPostgres

pytestmark = pytest.mark.slow
T0 = pd.Timestamp("2024-05-01T00:00:00Z")
_names = iter(range(10_000))

FILER = """
import sys, time, pandas as pd
from forewarn.decide.alerts import Alert
from forewarn.decide.cases import CaseBook
url, me, hours, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
t0 = pd.Timestamp("2024-05-01T00:00:00Z")
book = CaseBook(url)
time.sleep(max(0.0, start - time.time()))  # every filer starts at once
for h in range(hours):
    batch = [Alert(f"A-{a}", t0 + pd.Timedelta(hours=h, minutes=int(me)), "m", 0.9, "high", {"temp": 1.0},
                   source=f"filer-{me}") for a in range(6)]
    book.file_alerts(batch)
    if h == 3:
        book.file_alerts(batch)  # filed twice (a restart's redelivery): stored once
book.close()
print("done")
"""


def _url(server: LocalPostgres) -> str:
    url = server.create_database(f"cb_{next(_names)}")
    Store(url).close()  # migrated
    return url


def test_processes_filing_at_once_keep_one_open_case_per_asset(pg_server: LocalPostgres) -> None:
    url = _url(pg_server)
    hours, filers = 20, 3
    start = str(time.time() + 6)  # python and the connection start in well under that, even on a loaded machine
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", FILER, url, str(i), str(hours), start], stdout=subprocess.PIPE, text=True
        )
        for i in range(filers)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * filers and all("done" in o for o in outputs)
    book = CaseBook(url)
    try:
        cases = book.cases()
        assert sorted(c["asset_id"] for c in cases) == [f"A-{a}" for a in range(6)]  # one case each, none twice
        assert {c["n_alerts"] for c in cases} == {hours * filers}  # every alert on it, the refiled ones once
        assert book.counts() == {"open": 6, "acknowledged": 0, "closed": 0, "alerts": 6 * hours * filers}
        first = cases[0]
        assert first["opened_ts"] in {T0 + pd.Timedelta(minutes=m) for m in range(filers)}  # whoever filed first
        assert first["last_alert_ts"] == T0 + pd.Timedelta(hours=hours - 1, minutes=filers - 1)  # the latest
        assert book.open_case_id(first["asset_id"]) == first["case_id"]
        other = CaseBook(url)  # another process closes the case: this book's memory follows within a second
        other.close_case(first["case_id"], note="replaced the seal", by="ana")
        with pytest.raises(StateError, match="already closed"):
            book.close_case(first["case_id"], note="again")
        other.close()
        book._open_read = 0.0  # as if a second had passed
        assert book.open_case_id(first["asset_id"]) is None
    finally:
        book.close()


def test_the_service_role_reads_readings_and_files_cases_but_cannot_write_readings(pg_server: LocalPostgres) -> None:
    url = _url(pg_server)
    readings = pd.DataFrame(
        {"asset_id": "P-1", "ts": T0 + pd.to_timedelta(range(60), unit="min"), "channel": "temp", "value": 1.0}
    )
    with Store(url) as owner:
        owner.ingest_readings(readings)
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("DO $$ BEGIN CREATE ROLE svc LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        con.execute("DO $$ BEGIN CREATE ROLE nobody LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        con.execute(f"GRANT {READ_ROLE}, {CASEBOOK_ROLE} TO svc")  # the two roles migration 4 made
    svc_url = url.replace("forewarn@", "svc@")
    with Store(svc_url, read_only=True) as store:
        assert len(store.readings("P-1")) == 60
        book = CaseBook(casebook_path_for(store))
        case_id = book.record_alert(Alert("P-1", T0, "m", 0.9, "high", {"temp": 2.0}))
        assert book.acknowledge(case_id, by="svc")["status"] == "acknowledged"
        book.close()
    with Store(svc_url) as writer, pytest.raises(ConfigError, match="may not do this"):
        writer.ingest_readings(readings.assign(ts=readings["ts"] + pd.Timedelta(days=1)))
    with psycopg.connect(svc_url) as con, pytest.raises(psycopg.errors.InsufficientPrivilege):
        con.execute("DELETE FROM reading_values")
    with pytest.raises(ConfigError, match=f"may not use the case book.*GRANT {CASEBOOK_ROLE}"):
        CaseBook(url.replace("forewarn@", "nobody@"))  # a role without the case book's rights

    settings = ServeSettings(store=svc_url, token="t" * 20, extra={"read_only": True})
    with TestClient(create_app(settings)) as client:  # forewarn serve --read-only as that role
        assert client.get("/healthz").json()["readings"] == 60
        assert [c["case_id"] for c in client.get("/api/v1/cases").json()] == [case_id]
        refused = client.post(
            "/api/v1/readings",
            json={"readings": [{"asset_id": "P-1", "ts": "2024-05-03T00:00:00Z", "channel": "temp", "value": 2.0}]},
            headers={"Authorization": "Bearer " + "t" * 20},
        )
        assert refused.status_code == 400 and "read-only" in refused.json()["detail"]
        closed = client.post(
            f"/api/v1/cases/{case_id}/close", json={"note": "ok"}, headers={"Authorization": "Bearer " + "t" * 20}
        )
        assert closed.status_code == 200 and closed.json()["status"] == "closed"


def test_the_quality_review_queue_in_the_database_answers_as_the_duckdb_file(pg_server: LocalPostgres) -> None:
    from forewarn.quality.review import ReviewQueue

    url = _url(pg_server)
    queues = [ReviewQueue(), ReviewQueue(url)]
    try:
        when = T0.to_pydatetime()
        for queue in queues:
            for i, (decision, p) in enumerate((("review", 0.6), ("pass", 0.1), ("review", 0.7), ("reject", 0.95))):
                queue.add(
                    line="L1" if i < 3 else "L2",
                    unit=f"u{i}",
                    image=f"u{i}.jpg",
                    defect_type="scratches",
                    probability=p,
                    decision=decision,
                    ts=when,
                    novelty_score=2.5 if i == 0 else None,  # the texture detector's score, when one ran
                    novel=True if i == 0 else None,
                )
        reviewer = ReviewQueue(url)  # another process gives the verdicts
        for queue in (queues[0], reviewer):
            assert [r["unit"] for r in queue.pending()] == ["u0", "u2"]
            assert queue.verdict(1, "defect", by="ana", defect_type="inclusion")["verdict_type"] == "inclusion"
            assert queue.verdict(3, "good", by="ana")["status"] == "reviewed"
            with pytest.raises(StateError, match="not waiting for review"):
                queue.verdict(3, "defect", by="bo")
        reviewer.close()
        duck, server = queues
        assert server.pending() == [] and server.get(1)["reviewer"] == "ana"
        assert [(r["novelty_score"], r["novel"]) for r in server.inspections()] == [(2.5, True)] + [(None, None)] * 3
        pd.testing.assert_frame_equal(server.labelled(), duck.labelled())
        assert server.labelled()["label"].tolist() == ["inclusion", "good"]
        assert server.report() == duck.report()
    finally:
        for queue in queues:
            queue.close()
