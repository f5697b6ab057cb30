"""The service applies the backtest's case rule (issues 12 and 14): an asset's case that had no alarm for the gap and
holds no failure is closed by ``forewarn`` with a note the API and the dashboard show, and the asset's next alert
opens a new case. The gap: ``serve --close-quiet``, else the served model's horizon in hours, else 7 days."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from forewarn.decide.alerts import Alert
from forewarn.serve import ServeSettings, create_app
from forewarn.serve.sample import SamplePaths
from forewarn.store import Store
from testkit import run_cli

from .test_down_answers import _last_reading

API = "/api/v1"
TOKEN = "test-token-0123456789"  # conftest.TOKEN


def _stream_alarm(asset_id: str, ts: pd.Timestamp) -> Alert:
    return Alert(asset_id, ts, "detect", 0.9, "high", {"vibration": 2.0}, source="stream")


def test_a_quiet_case_is_closed_with_its_note_and_the_next_alarm_opens_a_new_one(sample: SamplePaths) -> None:
    end, end_2 = _last_reading(sample.store, "P-001"), _last_reading(sample.store, "P-002")
    settings = ServeSettings(
        store=str(sample.store), models=str(sample.models), token=TOKEN, evaluate_on_start=False, close_quiet="7d"
    )
    with TestClient(create_app(settings)) as client:
        desk = client.app.state.service.cases  # type: ignore[attr-defined]
        stale = desk.file([_stream_alarm("P-001", end - pd.Timedelta("7D") - pd.Timedelta("1h"))])[0]
        edge = desk.file([_stream_alarm("P-002", end_2 - pd.Timedelta("7D"))])[0]  # exactly the gap: still open
        assert client.get(f"{API}/assets/P-001/health").json()["open_case"] == stale
        listed = client.get(f"{API}/cases").json()  # listing closes the open cases that went quiet first
        closed = client.get(f"{API}/cases/{stale}").json()
        health = client.get(f"{API}/assets/P-001/health").json()
        fresh = desk.file([_stream_alarm("P-001", end)])[0]
        page = client.get("/alerts")
    by_id = {c["case_id"]: c for c in listed}
    assert by_id[stale]["status"] == "closed" and by_id[edge]["status"] == "open"
    assert closed["closed_by"] == "forewarn"
    assert pd.Timestamp(closed["closed_ts"]) == end - pd.Timedelta("1h")
    assert closed["note"] == (
        f"quiet for 7 d after its last alarm at {end - pd.Timedelta('7D1h'):%Y-%m-%d %H:%M} UTC, no failure: "
        "closed by the case rule"
    )
    assert health["open_case"] is None  # the asset's answer follows at once
    assert fresh != stale
    assert page.status_code == 200 and "--close-quiet" in page.text  # the alerts page says what closes a case


def test_the_asset_asked_about_is_swept_and_zero_never_closes(sample: SamplePaths) -> None:
    end = _last_reading(sample.store, "P-003")
    for quiet, status in (("0", "open"), ("3d", "closed")):
        settings = ServeSettings(store=str(sample.store), token=TOKEN, evaluate_on_start=False, close_quiet=quiet)
        with TestClient(create_app(settings)) as client:
            desk = client.app.state.service.cases  # type: ignore[attr-defined]
            case_id = desk.file([_stream_alarm("P-003", end - pd.Timedelta("5D"))])[0]
            mine = client.get(f"{API}/cases", params={"asset_id": "P-003"}).json()
        assert [(c["case_id"], c["status"]) for c in mine if c["case_id"] == case_id] == [(case_id, status)]


def test_the_gap_defaults_to_the_models_horizon_in_hours_else_7_days(sample: SamplePaths) -> None:
    def quiet(**values: object) -> pd.Timedelta | None:
        settings = ServeSettings(store=str(sample.store), token=TOKEN, evaluate_on_start=False, **values)  # type: ignore[arg-type]
        with TestClient(create_app(settings)) as client:
            return client.app.state.service.cases.quiet()  # type: ignore[attr-defined,no-any-return]

    assert quiet(models=str(sample.models)) == pd.Timedelta(hours=48)  # the sample's failure horizon: 48 hours
    assert quiet() == pd.Timedelta("7D")  # no model: stream models alone
    assert quiet(models=str(sample.models), close_quiet="36h") == pd.Timedelta("36h")
    assert quiet(models=str(sample.models), close_quiet="never") is None


def test_serve_takes_close_quiet_and_refuses_a_bad_one_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import forewarn.serve.server as server
    from forewarn.cli.main import app

    seen: dict[str, object] = {}
    monkeypatch.setattr(server, "run_server", lambda settings, **kwargs: seen.update(settings=settings))
    store = str(tmp_path / "s.duckdb")
    result = CliRunner().invoke(app, ["serve", "--store", store, "--create", "--close-quiet", "36h"])
    assert result.exit_code == 0, result.output
    assert seen["settings"].close_quiet == "36h"  # type: ignore[attr-defined]
    assert run_cli(["serve", "--store", store, "--create", "--close-quiet", "a week"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "forewarn: error: close-quiet 'a week' is not a time span; write e.g. '7d' or '36h', or '0' to never close "
        "a case that went quiet"
    ]


def test_a_case_whose_asset_stopped_sending_stays_open_and_says_so(sample: SamplePaths) -> None:
    """Silence is no evidence that an asset went quiet: its case stays open, its note says since when (shown in the
    case table's note column), while an asset that kept sending without an alarm has its case closed."""
    end = _last_reading(sample.store, "P-001")
    with Store(sample.store) as store:  # P-002 sends on, ten days past P-001's last reading
        last = store.readings("P-002", wide=True).iloc[-1]
        channel = next(c for c in last.index if c not in ("asset_id", "ts") and pd.notna(last[c]))
        later = pd.DataFrame(
            {"asset_id": ["P-002"], "ts": [end + pd.Timedelta("10D")], channel: [float(last[channel])]}
        )
        store.ingest_readings(later)
    settings = ServeSettings(store=str(sample.store), token=TOKEN, evaluate_on_start=False, close_quiet="7d")
    with TestClient(create_app(settings)) as client:
        desk = client.app.state.service.cases  # type: ignore[attr-defined]
        silent = desk.file([_stream_alarm("P-001", end)])[0]
        quiet = desk.file([_stream_alarm("P-002", end)])[0]
        listed = {c["case_id"]: c for c in client.get(f"{API}/cases").json()}
        page = client.get("/alerts")
    assert listed[quiet]["status"] == "closed" and listed[quiet]["note"].startswith("quiet for 7 d")
    assert listed[silent]["status"] == "open"
    assert listed[silent]["note"] == (
        f"no readings since {end:%Y-%m-%d %H:%M} UTC: kept open, the case rule cannot tell whether the asset went quiet"
    )
    assert page.status_code == 200 and "<th>note</th>" in page.text  # the case table shows it
