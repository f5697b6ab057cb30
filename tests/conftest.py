"""Shared fixtures: the benchmark data directory (FOREWARN_DATA_DIR, default ../shared/data beside the repo) and
a real mosquitto broker. Shared helper functions live in ``testkit.py``."""

import os
from collections.abc import Iterator
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


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator["LocalBroker"]:  # noqa: F821 - imported lazily: most tests need no broker
    """mosquitto on a free 127.0.0.1 port with persistence in a temporary folder, stopped after the test."""
    from forewarn.stream.broker import LocalBroker, mosquitto_path

    if mosquitto_path() is None:
        pytest.skip("the mosquitto binary is not installed (apt-get install -y mosquitto); the Makefile installs it")
    with LocalBroker(tmp_path / "broker") as running:
        yield running
