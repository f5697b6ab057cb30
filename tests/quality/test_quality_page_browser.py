"""The ``/quality`` page in Debian's Chromium: with a unit in the review queue and a tiny defect model on the
server, the page draws the queue (the unit's image and its defect map both load), the per-line report and the
control chart, shows no error banner, logs no console error, makes no outside request, and axe-core finds no
serious or critical accessibility problem (the same check as ``tests/serve/test_dashboard_a11y.py``; it skips
only when ``node_modules/axe-core`` is missing). The service runs in a thread on 127.0.0.1 (a free port) with the
quality settings the API tests use (``extra['quality_model']``), stopped when the test ends."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from serve import test_dashboard_browser as browser
from serve.test_dashboard_a11y import AXE, _axe, _blocking
from serve.test_dashboard_browser import CHROMIUM, _visit
from testkit import serving

page = browser.page  # the same Chromium page fixture (console errors, failed and outside requests recorded)

TOKEN = "quality-browser-token-12345"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium (make test installs it: apt-get install chromium)",
    ),
]


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_quality_page_renders_its_review_images_and_passes_axe(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from forewarn.quality.vision import DefectClassifier
    from forewarn.serve import ServeSettings, create_app

    rng = np.random.default_rng(0)
    X = rng.random((8, 1, 16, 16), dtype=np.float32) * 0.2
    X[4:, :, 2:6, 2:6] += 0.8  # a bright square on the "defect" images
    DefectClassifier(size=16, width=4, epochs=1, seed=0).fit(X, ["good"] * 4 + ["spot"] * 4).save(tmp_path / "model")
    Image.fromarray((np.kron(X[5, 0], np.ones((3, 3))) * 255).astype(np.uint8)).save(tmp_path / "unit.png")
    settings = ServeSettings(
        token=TOKEN,
        extra={"quality_model": str(tmp_path / "model"), "quality_reviews": str(tmp_path / "q.duckdb")},
    )
    with serving(create_app(settings)) as port:
        url = f"http://127.0.0.1:{port}"
        unit = {"line": "L1", "unit": "u-17", "defect_type": "spot", "image": str(tmp_path / "unit.png")}
        review = _post(f"{url}/api/v1/quality/inspections", {**unit, "probability": 0.6})
        assert review["decision"] == "review"
        _post(f"{url}/api/v1/quality/inspections", {**unit, "unit": "u-18", "probability": 0.95})  # a reject
        novel = {**unit, "unit": "u-19", "probability": 0.05, "novelty_score": 2.5}  # would pass; novel: review
        assert _post(f"{url}/api/v1/quality/inspections", novel)["decision"] == "review"

        _visit(page, f"{url}/quality", tmp_path / "quality.png")  # data-ready='1': no error banner
        assert page.locator("#error").is_hidden()
        rows = page.locator("#review-table tbody tr")
        assert rows.count() == 2 and "u-17" in rows.first.inner_text() and "u-19" in rows.nth(1).inner_text()
        assert "2.50 (novel)" in rows.nth(1).inner_text() and "-" in rows.first.locator("td").nth(6).inner_text()
        page.wait_for_function(
            "() => [...document.querySelectorAll('#review-table img')].every(i => i.complete)", timeout=30_000
        )
        # the unit's image (48 px) and the model's map over it (the same size), both decoded by the browser
        sizes = page.locator("#review-table img").evaluate_all(
            "imgs => imgs.map(i => [i.getAttribute('src').split('/').pop(), i.naturalWidth])"
        )
        assert sizes == [["image", 48], ["map", 48]] * 2, sizes
        (line,) = page.locator("#report-table tbody tr").all_inner_texts()
        assert line.startswith("L1") and "spot 3" in line  # 3 units, none passed, all 'spot'
        assert page.locator("#report-table tbody td").nth(5).inner_text() == "1"  # one novel unit
        assert page.locator("#spc-chart-plot svg circle").count() == 12  # the default values' points
        problems = _blocking(_axe(page)) if AXE.exists() else []
    assert problems == [], json.dumps(problems, indent=1)
    assert page.problems == []
