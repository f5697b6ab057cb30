"""Fixtures for the dataset-loader tests.

The real benchmark data is read in place from ``FOREWARN_DATA_DIR`` (default ``/work/shared/data``); a test
whose dataset folder is absent is skipped, never failed. Nothing is copied into the repository.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

DATA_DIR = Path(os.environ.get("FOREWARN_DATA_DIR", "/work/shared/data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data directory (skips the test when it does not exist)."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"benchmark data directory {DATA_DIR} is absent (set FOREWARN_DATA_DIR)")
    return DATA_DIR


@pytest.fixture(scope="session")
def dataset_path(data_dir: Path) -> Callable[[str], Path]:
    """``dataset_path("cmapss")`` -> the dataset folder, skipping the test when it is absent."""

    def get(folder: str) -> Path:
        path = data_dir / folder
        if not path.is_dir():
            pytest.skip(f"dataset folder {path} is absent")
        return path

    return get
