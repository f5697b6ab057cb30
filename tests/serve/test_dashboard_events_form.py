"""The asset page records what happened to the machine (``POST /api/v1/events`` through the page's form), in Debian's
Chromium: a failure recorded in the page files its case and takes the asset down, a maintenance that renews nothing is
said to leave it down, the repair recorded next (its result corrective) closes that case, and a time the API refuses
is told with its field. Skips only when /usr/bin/chromium is missing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .test_dashboard_browser import _api, _visit, _wait_message, page, server  # noqa: F401 - fixtures


def test_a_planner_records_a_failure_and_its_repair_on_the_asset_page(
    server: str,  # noqa: F811
    page,  # noqa: F811
    token: str,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    api = f"{server}/api/v1"
    last = pd.Timestamp(_api(f"{api}/assets/P-004")["last_ts"])  # type: ignore[index]
    failed, repaired = last + pd.Timedelta(hours=1), last + pd.Timedelta(hours=7)
    _visit(page, f"{server}/assets/P-004", tmp_path / "asset.png")

    page.select_option("#event-kind", "failure")
    page.fill("#event-ts", f"{failed:%Y-%m-%dT%H:%M}")
    page.fill("#event-mode", "bearing")
    page.click("#event-save")
    page.wait_for_selector("#token-form:not([hidden])")
    page.fill("#token-input", token)
    page.click("#token-save")
    message = _wait_message(page, "ok", "Recorded the failure")
    assert "alert(s) filed" in message
    health = _api(f"{api}/assets/P-004/health")
    assert health["status"] == "down"  # type: ignore[index]
    case_id = health["open_case"]  # type: ignore[index]
    assert "bearing" in page.inner_text("#events tbody") and f"#{case_id}" in page.inner_text("#asset-summary")

    page.select_option("#event-kind", "maintenance")  # a maintenance that renews nothing: said, the case stays open
    page.fill("#event-ts", f"{failed + pd.Timedelta(hours=3):%Y-%m-%dT%H:%M}")
    page.fill("#event-mode", "")
    page.fill("#event-action", "balanced rotor")
    page.select_option("#event-result", "planned")  # planned, said: not the repair
    page.click("#event-save")
    assert "the asset stays down: a planned maintenance does not renew it" in _wait_message(page, "ok", "Recorded the")
    assert _api(f"{api}/cases/{case_id}")["status"] == "open"  # type: ignore[index]

    page.fill("#event-ts", f"{repaired:%Y-%m-%dT%H:%M}")  # the repair, said by its result (the new field)
    page.fill("#event-action", "cleaned cooler")
    page.select_option("#event-result", "corrective")
    page.click("#event-save")
    assert f"case #{case_id} closed" in _wait_message(
        page, "ok", f"Recorded the maintenance of {repaired:%Y-%m-%d %H:%M}"
    )
    assert _api(f"{api}/cases/{case_id}")["status"] == "closed"  # type: ignore[index]
    assert "cleaned cooler · corrective" in page.inner_text("#events tbody")  # the result beside the action
    assert [e["result"] for e in _api(f"{api}/assets/P-004/events")][-1] == "corrective"  # type: ignore[index, union-attr]

    page.fill("#event-ts", "9999-01-01T00:00")  # outside what the case book holds: refused, named, nothing stored
    page.click("#event-save")
    assert "ts" in _wait_message(page, "error", "422")
    assert len(_api(f"{api}/assets/P-004/events")) == 3  # type: ignore[arg-type]
    assert f"HTTP 422: {api}/events" in page.problems  # type: ignore[attr-defined]
    assert all("422" in problem for problem in page.problems)  # type: ignore[attr-defined] # nothing else went wrong

    _visit(page, f"{server}/alerts", tmp_path / "alerts.png")  # the case's last alert: the failure recorded
    headers = page.locator("#cases thead th").all_inner_texts()
    row = page.locator(f"#cases tbody tr[data-case-id='{case_id}'] td").all_inner_texts()
    assert row[headers.index("last alert")] == f"{failed:%Y-%m-%d %H:%M}"
