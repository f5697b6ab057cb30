"""The inspection log and review queue: every inspected unit, its decision, and a reviewer's verdict.

One DuckDB table (a file, or ``":memory:"``): each :meth:`ReviewQueue.add` writes a unit with its line, image
reference, predicted defect type, defect probability and decision; units decided ``review`` wait in the queue
(:meth:`ReviewQueue.pending`) until someone gives a verdict (:meth:`ReviewQueue.verdict`: ``defect`` with a
defect type, or ``good``). :meth:`ReviewQueue.labelled` returns the reviewed units as training labels (the
verdict wins over the model), and :meth:`ReviewQueue.report` the per-line report of
:func:`forewarn.quality.decisions.line_report`. Given a ``postgresql://`` URL, the table lives in that store's
database (migration 5 of :mod:`forewarn.store.pg_sql`), shared by every process that inspects or reviews.

>>> queue = ReviewQueue()
>>> a = queue.add(line="L1", unit="u1", image="u1.jpg", defect_type="scratches", probability=0.6,
...               decision="review")
>>> _ = queue.add(line="L1", unit="u2", image="u2.jpg", defect_type="", probability=0.1, decision="pass")
>>> [row["unit"] for row in queue.pending()]
['u1']
>>> queue.verdict(a, "good", by="ana")["status"], queue.pending()
('reviewed', [])
>>> queue.labelled()[["unit", "label"]].values.tolist()
[['u1', 'good']]
"""

from __future__ import annotations

import datetime as dt
import math
import os
import threading
from typing import Any

import duckdb
import pandas as pd

from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError, StateError
from forewarn.quality.decisions import DECISIONS, line_report
from forewarn.store.pg_sql import is_postgres_url

VERDICTS = ("defect", "good")
DDL = """
CREATE SEQUENCE IF NOT EXISTS inspection_ids START 1;
CREATE TABLE IF NOT EXISTS inspections (
    inspection_id BIGINT PRIMARY KEY,
    ts TIMESTAMPTZ NOT NULL,
    line VARCHAR NOT NULL,
    unit VARCHAR NOT NULL,
    image VARCHAR NOT NULL,
    defect_type VARCHAR NOT NULL,
    probability DOUBLE NOT NULL,
    decision VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    verdict VARCHAR,
    verdict_type VARCHAR,
    reviewer VARCHAR,
    reviewed_ts TIMESTAMPTZ,
    novelty_score DOUBLE,
    novel BOOLEAN
);
"""
#: a log written before the novelty score was stored gains its columns (empty for the units logged then)
NOVELTY_COLUMNS = """
ALTER TABLE inspections ADD COLUMN IF NOT EXISTS novelty_score DOUBLE;
ALTER TABLE inspections ADD COLUMN IF NOT EXISTS novel BOOLEAN;
"""
COLUMNS = (
    "inspection_id",
    "ts",
    "line",
    "unit",
    "image",
    "defect_type",
    "probability",
    "decision",
    "status",
    "verdict",
    "verdict_type",
    "reviewer",
    "reviewed_ts",
    "novelty_score",
    "novel",
)


class ReviewQueue:
    """Inspections and their review (see the module text); thread-safe (one lock around the connection)."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._con: Any
        if is_postgres_url(self.path):
            from forewarn.store.pg_cases import CaseConnection  # the case book's connection: ? parameters, tuples

            self._con = CaseConnection(self.path)
            self.path = self._con.path  # without a password
        else:
            try:
                self._con = duckdb.connect(self.path)
            except duckdb.Error as err:  # a missing folder, a file in use or not DuckDB's: one line, no traceback
                raise ConfigError(f"cannot open the review queue {self.path!r}: {err}") from None
            self._con.execute(DDL)
            self._con.execute(NOVELTY_COLUMNS)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._con.close()

    def add(
        self,
        *,
        line: str,
        unit: str,
        image: str,
        defect_type: str,
        probability: float,
        decision: str,
        ts: dt.datetime | None = None,
        novelty_score: float | None = None,
        novel: bool | None = None,
    ) -> int:
        """Log one inspected unit; a ``review`` decision puts it in the queue. Returns its id. ``novelty_score``
        and ``novel``: the texture detector's score and flag (:func:`forewarn.quality.decisions.with_novelty`),
        when one was computed."""
        if decision not in DECISIONS:
            raise SchemaError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}", column="decision")
        if not 0.0 <= float(probability) <= 1.0:
            raise SchemaError(f"probability {probability!r} is outside [0, 1]", column="probability")
        if not str(line) or not str(unit):
            raise SchemaError("line and unit must not be empty", column="line/unit")
        if novelty_score is not None and not (math.isfinite(float(novelty_score)) and float(novelty_score) >= 0):
            raise SchemaError(f"novelty score {novelty_score!r} is not a finite number >= 0", column="novelty_score")
        status = "pending" if decision == "review" else "decided"
        when = ts or dt.datetime.now(dt.UTC)
        with self._lock:
            row = self._con.execute(
                "INSERT INTO inspections (inspection_id, ts, line, unit, image, defect_type, probability, decision,"
                " status, novelty_score, novel) VALUES (nextval('inspection_ids'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " RETURNING inspection_id",
                [
                    when,
                    str(line),
                    str(unit),
                    str(image),
                    str(defect_type),
                    float(probability),
                    decision,
                    status,
                    None if novelty_score is None else float(novelty_score),
                    None if novel is None else bool(novel),
                ],
            ).fetchone()
        assert row is not None
        return int(row[0])

    def _rows(self, where: str = "", params: list[Any] | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._con.execute(
                f"SELECT {', '.join(COLUMNS)} FROM inspections {where} ORDER BY inspection_id LIMIT {int(limit)}",
                params or [],
            ).fetchall()
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows]

    def get(self, inspection_id: int) -> dict[str, Any]:
        """One inspection; an unknown id is a DataNotFoundError."""
        rows = self._rows("WHERE inspection_id = ?", [int(inspection_id)])
        if not rows:
            raise DataNotFoundError(f"no inspection {inspection_id}")
        return rows[0]

    def pending(self, line: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Units waiting for a verdict, oldest first."""
        if line is None:
            return self._rows("WHERE status = 'pending'", limit=limit)
        return self._rows("WHERE status = 'pending' AND line = ?", [line], limit=limit)

    def inspections(self, line: str | None = None, limit: int = 100_000) -> list[dict[str, Any]]:
        """All logged units (of one line), oldest first."""
        if line is None:
            return self._rows(limit=limit)
        return self._rows("WHERE line = ?", [line], limit=limit)

    def verdict(
        self, inspection_id: int, verdict: str, *, by: str = "", defect_type: str | None = None
    ) -> dict[str, Any]:
        """Store a reviewer's verdict (``defect`` or ``good``) on a pending unit; returns the updated row."""
        if verdict not in VERDICTS:
            raise SchemaError(f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}", column="verdict")
        row = self.get(inspection_id)
        if row["status"] != "pending":
            raise StateError(f"inspection {inspection_id} is not waiting for review (status {row['status']!r})")
        kind = (defect_type or row["defect_type"] or "unknown") if verdict == "defect" else ""
        with self._lock:
            self._con.execute(
                "UPDATE inspections SET status = 'reviewed', verdict = ?, verdict_type = ?, reviewer = ?,"
                " reviewed_ts = ? WHERE inspection_id = ? AND status = 'pending'",  # a verdict given meanwhile stays
                [verdict, kind, by, dt.datetime.now(dt.UTC), int(inspection_id)],
            )
        return self.get(inspection_id)

    def labelled(self) -> pd.DataFrame:
        """Reviewed units as training labels: ``image``, ``unit``, ``line`` and ``label`` (``good`` or the
        reviewer's defect type)."""
        rows = self._rows("WHERE status = 'reviewed'", limit=10_000_000)
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        frame["label"] = frame["verdict_type"].where(frame["verdict"] == "defect", "good")
        return frame[["inspection_id", "line", "unit", "image", "label"]]

    def report(self) -> list[dict[str, Any]]:
        """Per-line counts, rates, mean probability and Pareto (reviewed units count by their verdict)."""
        frame = pd.DataFrame(self.inspections(), columns=list(COLUMNS))
        if frame.empty:
            return []
        reviewed = frame["status"] == "reviewed"
        frame.loc[reviewed, "defect_type"] = frame.loc[reviewed, "verdict_type"]
        return line_report(frame)
