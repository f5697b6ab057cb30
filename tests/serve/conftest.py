"""Fixtures: a small synthetic plant with two trained model versions, and the app around it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forewarn.serve.sample import SamplePaths, build_sample

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
