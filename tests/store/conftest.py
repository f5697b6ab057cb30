"""Fixtures of the store tests."""

from __future__ import annotations

import pytest

from forewarn.store import Store


@pytest.fixture
def store():
    with Store() as opened:
        yield opened
