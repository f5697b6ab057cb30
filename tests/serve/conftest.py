"""Fixtures: a small synthetic plant with two trained model versions, and the app around it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from forewarn.serve.sample import SamplePaths, build_sample
from forewarn.store import Store
from forewarn.stream.tables import BatchWrite, StreamTables

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="session")
def token() -> str:
    """The write token the test apps are configured with."""
    return TOKEN


@pytest.fixture(scope="session")
def auth() -> dict[str, str]:
    """Headers that carry the write token."""
    return dict(AUTH)


@pytest.fixture(scope="session")
def sample_template(tmp_path_factory: pytest.TempPathFactory) -> SamplePaths:
    """Built once per test session (about 2 s): 24 in-service pumps, models/rul/v1 and v2."""
    return build_sample(tmp_path_factory.mktemp("sample"), n_assets=24, n_train=30, seed=0)


@pytest.fixture
def sample(sample_template: SamplePaths, tmp_path: Path) -> SamplePaths:
    """A private copy, so tests that write (ingest, cases, promote) do not see each other."""
    root = tmp_path / "plant"
    shutil.copytree(sample_template.store.parent, root)
    return SamplePaths(root / sample_template.store.name, root / "models")


def write_stream_alerts(store_path: Path) -> list[dict]:
    """Three alerts of a stream's own models in ``stream_alerts`` of the store file (as ``forewarn stream`` writes
    them); the file is closed again before returning."""
    raised = pd.Timestamp("2026-01-05T12:00:00Z")
    alerts = [
        {
            "asset_id": "P-001",
            "ts": pd.Timestamp("2026-01-05T10:00:00Z"),
            "model_id": "pca-t2q",
            "score": 7.5,
            "risk_level": "high",
            "explanation": {"vibration": 4.0, "bearing_temp": 1.5},
            "probability": 0.62,
            "rul": None,
            "raised_at": raised,
        },
        {
            "asset_id": "P-002",
            "ts": pd.Timestamp("2026-01-05T11:00:00Z"),
            "model_id": "pca-t2q",
            "score": 9.25,
            "risk_level": "critical",
            "explanation": {"bearing_temp": 3.0},
            "probability": None,
            "rul": None,
            "raised_at": raised,
        },
        {
            "asset_id": "P-001",
            "ts": pd.Timestamp("2026-01-05T11:30:00Z"),
            "model_id": "iforest",
            "score": 0.8,
            "risk_level": "medium",
            "explanation": {"suction_pressure": 0.5},
            "probability": 0.3,
            "rul": 120.0,
            "raised_at": raised,
        },
    ]
    with Store(store_path) as store:
        tables = StreamTables(store)
        try:
            tables.commit(BatchWrite(alerts=alerts))
        finally:
            tables.close()
    return alerts
