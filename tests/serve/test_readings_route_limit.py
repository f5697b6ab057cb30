"""``GET /assets/{id}/readings?limit=n``: the store's query keeps the last ``n`` rows (the route read the whole
history and kept its tail: 0.45 s for 2,000 rows of a 1-minute asset of 60 days); the answer is the same rows."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app
from forewarn.store import Store

from .conftest import TOKEN


def test_the_route_asks_the_store_for_its_last_rows(sample, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    asked: list[dict[str, Any]] = []
    own = Store.readings

    def spy(self: Store, *a: Any, **kw: Any) -> pd.DataFrame:
        asked.append(kw)
        return own(self, *a, **kw)

    with Store(sample.store, read_only=True) as db:
        asset = str(db.assets()["asset_id"].iloc[0])
        whole = db.readings(asset, wide=True)
    monkeypatch.setattr(Store, "readings", spy)
    settings = ServeSettings(store=str(sample.store), models=str(sample.models), token=TOKEN, evaluate_on_start=False)
    with TestClient(create_app(settings)) as client:
        asked.clear()
        got = client.get(f"/api/v1/assets/{asset}/readings", params={"limit": 7}).json()
        assert [kw.get("limit") for kw in asked] == [7]
        hourly = client.get(f"/api/v1/assets/{asset}/readings", params={"limit": 3, "resample": "1h"}).json()
        assert len(hourly["ts"]) == 3 and asked[-1].get("limit") == 3
    tail = whole.tail(7)
    assert got["ts"] == [t.isoformat() for t in tail["ts"]]
    channel = next(iter(got["values"]))
    assert got["values"][channel] == pytest.approx(tail[channel].tolist(), nan_ok=True)
