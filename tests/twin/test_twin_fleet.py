"""The fleet simulator: layout, reproducibility, degradation, maintenance, sensor faults, differing sites."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from forewarn.exceptions import ConfigError
from forewarn.schema import EVENT_COLUMNS, to_events
from forewarn.twin import FleetConfig, demo_fleet, simulate_fleet
from forewarn.twin.assets import CHANNEL_NAMES, CLASS_CHANNELS, MODES, OUTER
from forewarn.twin.bearing import BEARINGS
from forewarn.twin.vibration import envelope_spectrum

CONFIG = FleetConfig(sites=4, assets=24, days=30, seed=11, interval="10min", degradation_scale=5.0)


@pytest.fixture(scope="module")
def fleet():
    return simulate_fleet(CONFIG)


def test_layout_of_readings_truth_events_and_assets(fleet) -> None:
    readings, truth = fleet.readings, fleet.truth
    steps = CONFIG.days * 144
    assert list(readings.columns) == ["asset_id", "ts", *CHANNEL_NAMES]
    assert len(readings) == len(truth) == CONFIG.assets * steps
    assert str(readings["ts"].dtype) == "datetime64[us, UTC]"
    one = readings[readings["asset_id"] == fleet.asset_ids[0]]
    assert (one["ts"].diff().dropna() == pd.Timedelta(minutes=10)).all()
    assert {readings[c].dtype for c in CHANNEL_NAMES} == {np.dtype("float32")}
    for asset in fleet.assets:
        rows = readings[readings["asset_id"] == asset.asset_id]
        names = [c.name for c in asset.channels]
        assert names == list(CLASS_CHANNELS[asset.asset_class]) and all(c.unit for c in asset.channels)
        lacking = [c for c in CHANNEL_NAMES if c not in names]
        assert rows[lacking].isna().all().all() and rows[names].notna().mean().min() > 0.9
        assert asset.site_id in {s.site_id for s in fleet.sites} and asset.line_id in {x.line_id for x in fleet.lines}
    assert truth["health"].between(0.0, 1.0).all()
    assert ((truth["rul_minutes"] >= 0) | truth["rul_minutes"].isna()).all()
    assert set(truth["active_fault"].cat.categories) == {"none", *MODES}
    events = fleet.events
    assert list(events.columns) == list(EVENT_COLUMNS)
    pd.testing.assert_frame_equal(to_events(events), events)
    failures = events[events["kind"] == "failure"]
    assert len(failures) >= 3 and failures["failure_mode"].isin(MODES).all()
    assert events.loc[events["kind"] == "maintenance", "action"].notna().all()


def test_rul_counts_down_to_each_failure(fleet) -> None:
    truth = fleet.truth
    for row in fleet.events[fleet.events["kind"] == "failure"].itertuples():
        before = truth[(truth["asset_id"] == row.asset_id) & (truth["ts"] < row.ts)].tail(6)
        minutes_left = (row.ts - before["ts"]).dt.total_seconds().to_numpy() / 60
        assert before["rul_minutes"].to_numpy() == pytest.approx(minutes_left)
        after = truth[(truth["asset_id"] == row.asset_id) & (truth["ts"] > row.ts)].head(1)
        assert after["health"].iloc[0] == 0.0 and after["active_fault"].iloc[0] == row.failure_mode


def test_same_seed_gives_identical_data_and_another_seed_does_not(fleet) -> None:
    again = simulate_fleet(CONFIG)
    pd.testing.assert_frame_equal(again.readings, fleet.readings)
    pd.testing.assert_frame_equal(again.truth, fleet.truth)
    pd.testing.assert_frame_equal(again.events, fleet.events)
    other = simulate_fleet(replace(CONFIG, seed=12, days=2))
    assert not np.allclose(
        other.readings["winding_temp"].to_numpy()[:100], fleet.readings["winding_temp"].to_numpy()[:100], equal_nan=True
    )


def test_without_degradation_no_asset_fails() -> None:
    config = FleetConfig(sites=4, assets=40, days=90, seed=5, interval="1h", degradation_scale=5.0)
    degrading = simulate_fleet(config)
    frozen = simulate_fleet(replace(config, degradation=False))
    assert (degrading.events["kind"] == "failure").sum() >= 5  # the same fleet does fail when it degrades
    assert (frozen.events["kind"] == "failure").sum() == 0
    assert frozen.plan.damage.max() < 1.0 and frozen.truth["health"].min() > 0.0
    assert frozen.truth["rul_minutes"].isna().all()


def test_maintenance_restores_health(fleet) -> None:
    truth = fleet.truth.set_index(["asset_id", "ts"])["health"]
    repairs = fleet.events[(fleet.events["kind"] == "maintenance") & (fleet.events["result"] == "corrective")]
    assert len(repairs) >= 3
    step = pd.Timedelta(minutes=10)
    for row in repairs.drop_duplicates(["asset_id", "ts"]).itertuples():
        during = truth.get((row.asset_id, row.ts.floor("10min") - step))
        after = truth.get((row.asset_id, row.ts.ceil("10min") + step))
        if during is None or after is None:  # the repair ends at the very edge of the simulated period
            continue
        assert during == 0.0 and after > 0.3
    visits = fleet.plan.maintenance
    i, minute = next((a, m) for a, m, action, _, _ in visits if action == "replace_bearing")
    hour = minute // 60
    assert fleet.plan.damage[i, OUTER, min(hour + 1, fleet.plan.damage.shape[2] - 1)] == 0.0


def test_sensor_faults_change_readings_but_never_the_truth() -> None:
    config = FleetConfig(
        sites=2, assets=8, days=20, seed=3, interval="10min", degradation_scale=5.0, sensor_fault_scale=20.0
    )
    faulty = simulate_fleet(config)
    clean = simulate_fleet(replace(config, sensor_faults=False))
    assert len(faulty.sensor_faults) > 50 and len(clean.sensor_faults) == 0
    assert set(faulty.sensor_faults["kind"]) == {"drift", "stuck", "dropout", "spike"}
    pd.testing.assert_frame_equal(faulty.truth, clean.truth)
    pd.testing.assert_frame_equal(faulty.events, clean.events)
    values_faulty = faulty.readings[list(CHANNEL_NAMES)].to_numpy()
    values_clean = clean.readings[list(CHANNEL_NAMES)].to_numpy()
    assert np.isnan(values_faulty).sum() > np.isnan(values_clean).sum()
    differs = ~np.isclose(values_faulty, values_clean, equal_nan=True)
    assert 0.001 < differs.mean() < 0.5


def test_sites_differ_in_climate_load_mix_and_policy() -> None:
    fleet = simulate_fleet(FleetConfig(sites=4, assets=80, days=14, seed=2, interval="1h"))
    readings = fleet.readings.assign(site=[a.split("-")[0] for a in fleet.readings["asset_id"].astype(str)])
    ambient = readings.groupby("site")["ambient_temp"].mean()
    assert ambient.max() - ambient.min() > 8.0
    running = readings[readings["speed"] > 0]
    load = (
        (
            running["power"]
            / running["asset_id"].map({a.asset_id: a.metadata["rated_kw"] for a in fleet.assets}).astype(float)
        )
        .groupby(running["site"])
        .median()
    )
    hours_run = (readings["speed"] > 0).groupby(readings["site"]).mean()
    assert hours_run.max() - hours_run.min() > 0.3  # one shift versus continuous operation
    assert load.max() / load.min() > 1.1
    mixes = {s.site_id: sorted(a.asset_class for a in fleet.assets if a.site_id == s.site_id) for s in fleet.sites}
    assert len({tuple(m) for m in mixes.values()}) == 4
    assert len({a.metadata["maintenance_policy"] for a in fleet.assets}) == 3


def test_outer_race_snapshot_from_the_fleet_shows_bpfo(fleet) -> None:
    i = next(a for a in range(len(fleet.assets)) if fleet.plan.run[a, 30:60].min() > 0.99)
    fleet.plan.damage[i, OUTER, 30:60] = 0.5  # plant an outer-race spall in the twin's state
    asset_id = fleet.asset_ids[i]
    wave = fleet.snapshot(asset_id, fleet.start + pd.Timedelta(hours=40), duration_s=4.0)
    shaft = fleet.params.rated_rpm[i] * fleet.regime.load[i, 40] / 60.0
    if fleet.params.variable_speed[i] == 0:
        shaft = fleet.params.rated_rpm[i] * (1 - fleet.params.slip[i] * fleet.regime.load[i, 40]) / 60.0
    bpfo = BEARINGS[fleet.assets[i].metadata["bearing"]].orders().bpfo * shaft
    freqs, amp = envelope_spectrum(wave)
    window = (freqs > 0.5 * shaft) & (freqs < 12 * shaft)
    assert abs(freqs[window][np.argmax(amp[window])] - bpfo) / bpfo < 0.01


def test_parquet_and_store_outputs(tmp_path) -> None:
    from forewarn.store import Store

    fleet = simulate_fleet(FleetConfig(sites=2, assets=4, days=3, seed=1, interval="10min"))
    paths = fleet.to_parquet(tmp_path / "out")
    assert pq.read_metadata(paths["readings"]).num_rows == len(fleet.readings)
    stored = pq.read_table(paths["truth"]).to_pandas()
    stored["asset_id"] = stored["asset_id"].astype(str)
    stored = stored.sort_values(["asset_id", "ts"], kind="stable")
    memory = fleet.truth.assign(asset_id=fleet.truth["asset_id"].astype(str)).sort_values(["asset_id", "ts"])
    assert stored["health"].to_numpy() == pytest.approx(memory["health"].to_numpy())
    assert len(pd.read_parquet(paths["events"])) == len(fleet.events)
    with Store(":memory:") as store:
        reports = fleet.to_store(store)
        cells = int(fleet.readings[list(CHANNEL_NAMES)].notna().sum().sum())
        assert store.count_readings() == cells == sum(r.written for r in reports[:-1])
        assert sorted(store.assets()["asset_id"]) == sorted(fleet.asset_ids)
        assert len(store.events()) == len(fleet.events)


def test_one_minute_fleet_and_chunk_streaming() -> None:
    fleet = simulate_fleet(FleetConfig(sites=1, assets=3, days=2, seed=4))
    chunks = list(fleet.iter_chunks())
    assert len(chunks) == 2 and sum(c.asset_minutes for c in chunks) == 3 * 2 * 1440
    table = chunks[0].readings_table()
    assert table.num_rows == 3 * 1440 and table.schema.field("ts").type.tz == "UTC"


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(ConfigError, match="interval"):
        simulate_fleet(FleetConfig(interval="7min", days=1, assets=2, sites=1))
    with pytest.raises(ConfigError, match="at least one asset per site"):
        simulate_fleet(FleetConfig(sites=5, assets=3, days=1))
    with pytest.raises(ConfigError, match="policy"):
        simulate_fleet(FleetConfig(days=1, assets=2, sites=1, policies=("sometimes",)))


def test_demo_fleet_holds_run_to_failure_histories() -> None:
    fleet = demo_fleet(seed=0)
    failures = fleet.events[fleet.events["kind"] == "failure"]
    assert len(fleet.assets) == 30 and fleet.interval_minutes == 10 and fleet.config.days == 60
    assert len(failures) >= 8 and failures["failure_mode"].nunique() >= 3
    assert {a.metadata["maintenance_policy"] for a in fleet.assets} == {"run_to_failure"}
