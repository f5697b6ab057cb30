"""The label spans and counts behind the asset page (forewarn.serve.labels) and GET /assets/{id}/labels, without a
browser."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app
from forewarn.serve.labels import label_counts, label_spans
from forewarn.store import Store


def _rows(hours: list[int], values: list[str], name: str = "anomaly") -> pd.DataFrame:
    ts = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(hours, unit="h")
    return pd.DataFrame({"asset_id": "A", "ts": ts, "name": name, "value": values})


def test_a_long_silence_breaks_a_span_and_an_instant_is_a_span_of_its_own() -> None:
    # hourly rows; the value 1 at 02:00-03:00, then nothing stored until 20:00 (empty cells are not stored)
    rows = _rows([0, 1, 2, 3, 20, 21], ["0", "0", "1", "1", "1", "0"])
    spans = [(s["value"], s["start"][11:16], s["end"][11:16], s["rows"]) for s in label_spans(rows)["spans"]]
    assert spans == [
        ("0", "00:00", "02:00", 2),
        ("1", "02:00", "03:00", 2),
        ("1", "20:00", "21:00", 1),
        ("0", "21:00", "21:00", 1),
    ]


def test_state_labels_are_set_off_their_most_frequent_value_and_spans_can_be_capped() -> None:
    rows = pd.concat(
        [
            _rows(list(range(8)), ["run", "run", "fault", "run", "idle", "run", "run", "fault"], "state"),
            _rows(list(range(8)), ["no"] * 6 + ["yes"] * 2, "fails_24h"),
        ]
    )
    counts = {c["name"]: (c["rows"], c["set_rows"]) for c in label_counts(rows)}
    assert counts == {"fails_24h": (8, 2), "state": (8, 3)}
    spans = label_spans(rows)
    assert sorted(s["value"] for s in spans["spans"] if s["set"]) == ["fault", "fault", "idle", "yes"]
    capped = label_spans(rows, limit=3)
    assert capped["truncated"] and len(capped["spans"]) == 3
    assert capped["spans"] == spans["spans"][-3:]  # the newest kept
    assert label_counts(rows.iloc[:0]) == [] and label_spans(rows.iloc[:0]) == {"spans": [], "truncated": False}


def test_the_labels_route(tmp_path: Path) -> None:
    store = tmp_path / "plant.duckdb"
    ts = pd.date_range("2024-01-01", periods=6, freq="h", tz="UTC")
    frame = pd.DataFrame(
        {"asset_id": "P/1", "ts": ts, "temp": range(6), "fault": ["", "", "E12", "E12", "", ""], "type": "L"}
    )
    with Store(store) as db:
        db.ingest_readings(frame, label_columns=["fault", "type"], source="test")
    with TestClient(create_app(ServeSettings(store=str(store), evaluate_on_start=False))) as client:
        body = client.get("/api/v1/assets/P%2F1/labels").json()
        shaded = client.get("/api/v1/assets/P%2F1/labels", params={"set_only": True}).json()
        later = client.get("/api/v1/assets/P%2F1/labels", params={"start": "2024-01-01T03:00:00Z"}).json()
        info = client.get("/api/v1/assets/P%2F1").json()
        missing = client.get("/api/v1/assets/nope/labels")
        bad = client.get("/api/v1/assets/P%2F1/labels", params={"limit": 0})
    # a fault code stored where it was set sets its label; a machine type written on every row is an attribute
    assert body["names"] == [
        {"name": "fault", "rows": 2, "set_rows": 2, "values": [{"value": "E12", "rows": 2}]},
        {"name": "type", "rows": 6, "set_rows": 0, "values": [{"value": "L", "rows": 6}]},
    ]
    assert [(s["name"], s["value"], s["rows"], s["set"]) for s in body["spans"]] == [
        ("type", "L", 6, False),
        ("fault", "E12", 2, True),
    ]
    assert [(s["name"], s["value"]) for s in shaded["spans"]] == [("fault", "E12")]
    assert later["names"][0]["rows"] == 1
    assert info["labels"] == [{"name": "fault", "rows": 2, "set_rows": 2}, {"name": "type", "rows": 6, "set_rows": 0}]
    assert missing.status_code == 404 and bad.status_code == 422
