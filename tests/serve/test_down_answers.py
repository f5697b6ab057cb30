"""What a down or just repaired asset is told reads like the rest of the service (a time as 'YYYY-MM-DD HH:MM UTC',
the maintenance named), and a service with no model files the failure case of a down asset at start-up, not only at
the first POST /alerts/evaluate (issue 12)."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from forewarn.serve import ServeSettings, create_app
from forewarn.serve.api import app as app_module
from forewarn.serve.sample import SamplePaths
from forewarn.serve.service import HealthService
from forewarn.store import Store

from .test_api import API, TOKEN


def _event(path: Path, asset_id: str, ts: pd.Timestamp, kind: str, **extra: str) -> None:
    with Store(path) as store:
        store.ingest_events(pd.DataFrame([{"asset_id": asset_id, "ts": ts, "kind": kind, **extra}]), source="test")


def _last_reading(path: Path, asset_id: str) -> pd.Timestamp:
    with Store(path) as store:
        return pd.Timestamp(store.readings(asset_id, wide=True)["ts"].max())


def _client(sample: SamplePaths, **overrides: object) -> TestClient:
    values: dict[str, object] = {"store": str(sample.store), "models": str(sample.models), "token": TOKEN}
    values.update(overrides)
    return TestClient(create_app(ServeSettings(**values)))  # type: ignore[arg-type]


def test_down_and_repaired_assets_are_told_what_to_do_in_plain_words(sample: SamplePaths) -> None:
    failed = (_last_reading(sample.store, "P-004") + pd.Timedelta(hours=1)).floor("h")
    _event(sample.store, "P-004", failed, "failure", failure_mode="bearing")
    with _client(sample, evaluate_on_start=False) as client:
        down = client.get(f"{API}/assets/P-004/health").json()
    assert down["status"] == "down"
    assert down["recommended_action"] == (
        f"down since {failed:%Y-%m-%d %H:%M} UTC: repair it, then record the maintenance"
    )
    repaired = failed + pd.Timedelta(hours=5)
    _event(sample.store, "P-004", repaired, "maintenance", action="replaced bearing")
    with _client(sample, evaluate_on_start=False) as client:
        health = client.get(f"{API}/assets/P-004/health").json()
        fleet = {a["asset_id"]: a for a in client.get(f"{API}/fleet/health").json()}
    said = f"not scored: no reading of the model's channels since the maintenance of {repaired:%Y-%m-%d %H:%M} UTC"
    assert health["status"] is None and health["probability"] is None and health["risk_level"] == "unknown"
    assert health["recommended_action"] == said and fleet["P-004"]["recommended_action"] == said


def test_the_trend_of_a_down_asset_has_no_figures_from_its_failure_on(sample: SamplePaths) -> None:
    with Store(sample.store) as store:
        ts = store.readings("P-003", wide=True)["ts"]
    failed = pd.Timestamp(ts.iloc[len(ts) * 2 // 3])  # readings go on after it: a broken machine's
    _event(sample.store, "P-003", failed, "failure", failure_mode="seal")
    with _client(sample, evaluate_on_start=False) as client:
        trend = client.get(f"{API}/assets/P-003/trend").json()
        health = client.get(f"{API}/assets/P-003/health").json()
    after = [pd.Timestamp(t) >= failed for t in trend["ts"]]
    assert health["status"] == "down" and any(after) and not all(after)
    for i, broken in enumerate(after):
        assert (trend["status"][i] == "down") == broken
        assert (trend["probability"][i] is None) == broken and (trend["health"][i] is None) == broken


def test_a_service_without_a_model_files_failure_cases_at_start_up(sample: SamplePaths, tmp_path: Path) -> None:
    failed = _last_reading(sample.store, "P-003") + pd.Timedelta(hours=1)
    _event(sample.store, "P-003", failed, "failure")
    empty = tmp_path / "no-models"
    empty.mkdir()
    for models in (None, str(empty)):
        with _client(sample, models=models) as client:
            cases = client.get(f"{API}/cases", params={"asset_id": "P-003"}).json()
        assert [(c["kind"], c["status"]) for c in cases] == [("failure", "open")], models


def test_a_long_start_up_evaluation_goes_on_while_the_api_answers(
    sample: SamplePaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "STARTUP_WAIT_SECONDS", 0.05)
    release, finished = threading.Event(), threading.Event()

    def slow_evaluate(self, asset_ids=None):  # type: ignore[no-untyped-def]
        release.wait(10)
        finished.set()
        return []

    monkeypatch.setattr(HealthService, "evaluate", slow_evaluate)
    with _client(sample) as client:
        assert client.get("/healthz").status_code == 200 and not finished.is_set()  # answered while it runs
        release.set()
    assert finished.is_set()  # the shutdown waited for it before closing the case book

    def broken(self, asset_ids=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(HealthService, "evaluate", broken)
    monkeypatch.setattr(app_module, "STARTUP_WAIT_SECONDS", 5.0)
    with pytest.raises(RuntimeError, match="disk on fire"), _client(sample):
        pass  # an error within the wait stops the start, as when the evaluation ran inline
