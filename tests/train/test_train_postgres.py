"""``forewarn train``, ``backtest`` and ``score`` on a PostgreSQL store read the same rows as on DuckDB (issue 20).

A small run-to-failure twin fleet (16 pumps, 45 days of hourly summaries) is written into a DuckDB file and into a
database of a PostgreSQL server the module starts (Debian's initdb and pg_ctl on 127.0.0.1) and stops. The
training rows (interval chosen from the data, resampled readings, labels from the events, renewals) must be the
same on both, and the commands run on a ``postgresql://`` URL with the figures they give on the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forewarn.cli.main import app
from forewarn.store import Store
from forewarn.store.pg_local import LocalPostgres, binaries
from forewarn.train.card import fingerprint
from forewarn.train.dataset import load_dataset
from forewarn.train.spec import TrainSpec
from forewarn.twin.fleet import FleetConfig, simulate_fleet

pytestmark = pytest.mark.slow
runner = CliRunner()
FLEET = FleetConfig(
    sites=1,
    assets=16,
    days=45,
    interval="1h",
    degradation_scale=5.0,
    policies=("run_to_failure",),
    start="2024-03-01",
)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The same fleet in a DuckDB file and in a PostgreSQL database: ``(path, url)``."""
    if binaries() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    folder = tmp_path_factory.mktemp("plant")
    fleet = simulate_fleet(FLEET, seed=3)
    path = str(folder / "plant.duckdb")
    with Store(path) as db:
        fleet.to_store(db)
    server = LocalPostgres(folder / "pg", durable=False)
    server.start()
    try:
        url = server.create_database("plant")
        with Store(url) as db:
            fleet.to_store(db)
        yield path, url
    finally:
        server.stop()


@pytest.mark.parametrize(
    "spec", [TrainSpec(task="failure", horizon="72h"), TrainSpec(task="rul", horizon="24h", max_rul="120h")]
)
def test_training_rows_and_labels_are_the_same_on_both_backends(stores: tuple[str, str], spec: TrainSpec) -> None:
    path, url = stores
    with Store(path, read_only=True) as duck, Store(url, read_only=True) as server:
        want, got = load_dataset(duck, spec), load_dataset(server, spec)
    assert got.interval == want.interval == ("3h" if spec.task == "failure" else "1h")  # chosen from the spacing
    assert got.channels == want.channels
    pd.testing.assert_frame_equal(got.frame, want.frame, check_exact=False, rtol=1e-12, atol=1e-12)
    assert fingerprint(got.frame) == fingerprint(want.frame)
    np.testing.assert_array_equal(got.y, want.y)
    np.testing.assert_array_equal(got.down, want.down)
    pd.testing.assert_frame_equal(got.events, want.events)
    pd.testing.assert_frame_equal(got.renewed, want.renewed)
    assert int(np.isfinite(want.y.astype("float64")).sum()) > 100 and want.events["kind"].eq("failure").sum() >= 3


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_train_score_and_backtest_take_a_postgres_url(stores: tuple[str, str], tmp_path: Path) -> None:
    path, url = stores
    options = ("--task", "failure", "--horizon", "72h", "--model", "logistic-failure", "--seed", "1")
    cards, ranked = [], []
    for name, store in (("duck", path), ("pg", url)):
        models = tmp_path / name
        _cli("train", "--store", store, "--models", str(models), *options)
        cards.append(json.loads((models / "failure" / "v1" / "card.json").read_text()))
        out = tmp_path / f"{name}.json"
        _cli("score", "--store", store, "--models", str(models), "--format", "json", "--out", str(out))
        ranked.append(pd.DataFrame(json.loads(out.read_text())))
    duck_card, pg_card = cards
    assert pg_card["data"] == duck_card["data"]  # span, rows, assets, failures and the data's fingerprint
    for key, value in duck_card["metrics"].items():
        if isinstance(value, float):
            assert pg_card["metrics"][key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    assert ranked[1]["asset_id"].tolist() == ranked[0]["asset_id"].tolist()
    np.testing.assert_allclose(ranked[1]["probability"], ranked[0]["probability"], rtol=1e-6, atol=1e-9)

    monitored = []  # forewarn monitor (issue 18) on the same store, drift cases filed in the store's database
    for name, store in (("duck", path), ("pg", url)):
        out = tmp_path / f"monitor-{name}.json"
        book = str(tmp_path / "cases.duckdb") if name == "duck" else url
        _cli(
            "monitor",
            "--store",
            store,
            "--models",
            str(tmp_path / name),
            "--days",
            "10",
            "--json",
            str(out),
            "--cases",
            book,
        )
        report = json.loads(out.read_text())
        monitored.append({k: v for k, v in report.items() if not k.endswith("seconds")})  # all but the timing
    assert len(monitored[0]["models"]) == 1
    assert json.dumps(monitored[1], sort_keys=True) == json.dumps(monitored[0], sort_keys=True)

    retrained = _cli("retrain", "--store", url, "--models", str(tmp_path / "pg"), "--model-id", "failure")
    assert "challenger v2" in retrained  # forewarn retrain (issue 18): a challenger trained on the server store

    out = tmp_path / "backtest.json"  # on DuckDB the same rows give the same folds (the rows are compared above)
    _cli("backtest", "--store", url, *options, "--by", "asset", "--folds", "2", "--json", str(out))
    backtest = json.loads(out.read_text())
    assert backtest["events"]["failures"] == pg_card["data"]["failures"] > 0
    assert 0.0 <= backtest["rows"]["roc_auc"] <= 1.0
