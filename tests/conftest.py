"""Shared fixtures: the benchmark data directory (FOREWARN_DATA_DIR, default ../shared/data beside the repo)."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The benchmark data directory; tests that need a dataset skip when it is absent."""
    path = Path(os.environ.get("FOREWARN_DATA_DIR", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"benchmark data directory {path} not found (set FOREWARN_DATA_DIR)")
    return path
