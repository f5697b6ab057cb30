"""Too few channels on the dashboard, in Debian's Chromium: an asset whose scoring window holds readings of too few
of its model's channels (:mod:`forewarn.features.coverage`) says "insufficient data" and how many channels sent
nothing, on the fleet page and on its own page, instead of a health or risk; a scored asset lacking a channel
names it. axe-core finds no serious or critical problem on either page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forewarn.features.coverage import MIN_SHARE_ENV
from forewarn.serve.sample import SamplePaths
from forewarn.store import Store

from . import test_dashboard_browser as browser
from .test_dashboard_a11y import AXE, _api, _axe, _blocking
from .test_dashboard_browser import CHROMIUM, _visit, serving

page = browser.page

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")


def _send_only(store: Path, asset_id: str, channels: tuple[str, ...], hours: int = 14) -> None:
    """``hours`` more hourly readings of ``asset_id`` (after its last one), of ``channels`` only."""
    with Store(store) as db:
        last = db.fleet_summary().set_index("asset_id").loc[asset_id, "last_ts"]
        ts = pd.date_range(last + pd.Timedelta("1h"), periods=hours, freq="1h")
        db.ingest_readings(pd.DataFrame({"asset_id": asset_id, "ts": ts, **dict.fromkeys(channels, 50.0)}))


def test_too_few_channels_is_said_not_scored(sample: SamplePaths, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _send_only(sample.store, "P-001", ("bearing_temp",))  # 1 of 3: insufficient at any share above a third
    _send_only(sample.store, "P-002", ("bearing_temp", "vibration"))  # 2 of 3: scored at a minimum share of 0.5
    with serving(sample.store, sample.models, tmp_path / "server.log", env={MIN_SHARE_ENV: "0.5"}) as url:
        assert _api(f"{url}/api/v1/assets/P-001/health")["status"] == "insufficient data"
        _visit(page, f"{url}/", tmp_path / "fleet.png")
        short = page.inner_text("#fleet-grid .cell[data-asset-id='P-001']")
        assert "insufficient data: 2 channels without readings" in short and "health" not in short, short
        assert page.get_attribute("#fleet-grid .cell[data-asset-id='P-001']", "data-risk") == "unknown"
        partial = page.inner_text("#fleet-grid .cell[data-asset-id='P-002']")
        assert "missing: suction_pressure" in partial and "health" in partial, partial
        assert "missing:" not in page.inner_text("#fleet-grid .cell[data-asset-id='P-003']")
        if AXE.exists():
            assert _blocking(_axe(page)) == []

        _visit(page, f"{url}/assets/P-001", tmp_path / "asset.png")
        card = page.inner_text("#channels-missing")
        assert "insufficient data" in card and "vibration, suction_pressure" in card, card
        if AXE.exists():
            assert _blocking(_axe(page)) == []
        _visit(page, f"{url}/assets/P-003", tmp_path / "complete.png")
        assert page.locator("#channels-missing").count() == 0
        # the sample model's 48 h horizon reads as a planner says it
        assert "Failure probability within 2 days" in page.inner_text("#risk-trend")
        assert "(horizon 2 days)" in page.inner_text("#asset-summary")
    assert page.problems == []
