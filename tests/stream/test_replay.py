"""``forewarn replay`` (stored and simulated fleets) into a running consumer, through a real broker."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pandas as pd
import typer
from typer.testing import CliRunner

from forewarn.cli.stream import register
from forewarn.schema import Asset, Channel
from forewarn.store import Store
from forewarn.stream.broker import LocalBroker

from .conftest import UNITS, ConsumerThread, make_fleet


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _readings(store: Store) -> pd.DataFrame:
    frame = store.sql("SELECT asset_id, channel, epoch_us(ts) AS t, value FROM readings ORDER BY 1, 2, 3")
    return frame.reset_index(drop=True)


def test_replay_a_stored_fleet(tmp_path: Path, broker: LocalBroker) -> None:
    source = tmp_path / "source.duckdb"
    with Store(source) as db:
        db.add_assets(
            [
                Asset(f"P-{i}", asset_class="pump", channels=tuple(Channel(c, u) for c, u in UNITS.items()))
                for i in range(3)
            ]
        )
        db.ingest_readings(make_fleet(3, 60, gaps=0.05, seed=2))
    runner = CliRunner()
    config = tmp_path / "stream.toml"
    dry = runner.invoke(
        _app(),
        ["replay", "--store", str(source), "--port", str(broker.port), "--write-config", str(config), "--dry-run"],
    )
    assert dry.exit_code == 0, dry.output
    assert "would publish" in dry.output
    raw = tomllib.loads(config.read_text())
    assert {a["asset_id"] for a in raw["assets"]} == {"P-0", "P-1", "P-2"}
    with Store(tmp_path / "target.duckdb") as target:
        running = ConsumerThread(raw, target)
        result = runner.invoke(
            _app(),
            [
                "replay",
                "--store",
                str(source),
                "--port",
                str(broker.port),
                "--speedup",
                "36000",
                "--rows-per-message",
                "7",
            ],
        )
        assert result.exit_code == 0, result.output
        running.join()
        with Store(source, read_only=True) as db:
            pd.testing.assert_frame_equal(_readings(target), _readings(db))


def test_replay_a_simulated_fleet_one_value_per_message(tmp_path: Path, broker: LocalBroker) -> None:
    runner = CliRunner()
    config = tmp_path / "stream.toml"
    args = [
        "replay",
        "--simulate",
        "--sites",
        "1",
        "--assets",
        "2",
        "--days",
        "1",
        "--interval",
        "30min",
        "--port",
        str(broker.port),
        "--layout",
        "value",
    ]
    dry = runner.invoke(_app(), [*args, "--write-config", str(config), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    found = re.search(r"would publish ([\d,]+) readings", dry.output)
    assert found, dry.output
    expected = int(found.group(1).replace(",", ""))
    raw = tomllib.loads(config.read_text())
    assert raw["mqtt"]["subscriptions"][0]["layout"] == "value" and len(raw["assets"]) == 2
    with Store(tmp_path / "target.duckdb") as target:
        running = ConsumerThread(raw, target)
        result = runner.invoke(_app(), args)
        assert result.exit_code == 0, result.output
        metrics = running.join()
        assert target.count_readings() == expected > 0
    assert metrics["dead_letters"] == {}


def test_replay_refuses_bad_options(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(_app(), ["replay"]).exit_code != 0
    assert "exactly one" in runner.invoke(_app(), ["replay", "--simulate", "--store", "x.duckdb"]).output
    assert runner.invoke(_app(), ["replay", "--simulate", "--speedup", "0"]).exit_code != 0
