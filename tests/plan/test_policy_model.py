"""The predictive policy's model comes out of ``forewarn train`` and is scored in the loop the way ``forewarn score``
scores a store: same buckets, same window kernel, same calibrated probability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import forewarn.bench.policy as policy
from forewarn.bench.policy_model import OBSERVED, BundleScorer, Observer, SealLeakMeter, events_frame, train_bundle
from forewarn.store import Store
from forewarn.twin.assets import CLASS_CHANNELS, SEAL
from forewarn.twin.engine import run_plan
from forewarn.twin.fleet import FleetConfig


def test_observer_reads_each_hour_once_and_averages_buckets() -> None:
    hours = 48
    names = ("vib_rms", "bearing_c", "winding_c", "oil", "seal_leak")
    rec = {k: np.tile(np.arange(hours, dtype=np.float32), (2, 1)) for k in names}
    obs = Observer(np.full((2, hours), 20.0), seed=3)
    obs.observe(rec, 0, 24)
    first = obs.values[:, :, :24].copy()
    assert np.isnan(obs.values[:, :, 24:]).all()
    obs.observe(rec, 24, 48)
    assert np.array_equal(obs.values[:, :, :24], first)  # an hour once read is not read again
    # noise as the twin's sensors: vibration 2 % of the value, temperatures 0.2 degC, oil 0.01
    vib = obs.values[list(OBSERVED).index("vib_rms"), :, 1:]
    assert np.abs(vib / rec["vib_rms"][:, 1:] - 1.0).max() < 0.1
    assert np.abs(obs.values[list(OBSERVED).index("ambient_temp")] - 20.0).max() < 1.0
    frame = obs.frame(["a", "b"], "2024-01-01", 48, rows=3, interval_h=8)
    # the last three 8-hour buckets before hour 48: hours 24-31, 32-39, 40-47, bucket means
    assert frame["ts"].dt.hour.tolist() == [0, 8, 16] * 2
    assert frame["winding_temp"].iloc[:3].to_numpy() == pytest.approx(
        [obs.values[2, 0, 24 + 8 * k : 32 + 8 * k].mean() for k in range(3)], rel=1e-6
    )
    # fewer hours than asked: only whole buckets from the start
    assert len(obs.frame(["a", "b"], "2024-01-01", 20, rows=10, interval_h=8)) == 2 * 2


def test_running_only_observer_reads_the_machine_only_while_it_runs() -> None:
    # one asset, 8 hours: it runs hours 0-2 and 6-7; vibration 10 while running, 1 while stopped
    run = np.array([[1, 1, 1, 0, 0, 0, 1, 1]], np.float32)
    names = ("vib_rms", "bearing_c", "winding_c", "oil", "seal_leak")
    rec = {k: np.where(run > 0, 10.0, 1.0).astype(np.float32) for k in names}
    rec["run"] = run
    obs = Observer(np.full((1, 8), 20.0), seed=0, running_only=True)
    obs.observe(rec, 0, 8)
    vib = obs.values[list(OBSERVED).index("vib_rms"), 0]
    assert np.isnan(vib[3:6]).all() and not np.isnan(vib[[0, 1, 2, 6, 7]]).any()
    assert not np.isnan(obs.values[list(OBSERVED).index("ambient_temp")]).any()  # the room is read always
    frame = obs.frame(["a"], "2024-01-01", 8, rows=2, interval_h=4)
    # bucket 0-3 averages the three running hours only; bucket 4-7 the two (hours 6, 7): both about 10, not 7.75
    assert frame["vib_rms"].to_numpy() == pytest.approx([vib[:3].mean(), vib[6:8].mean()], rel=1e-6)
    assert frame["vib_rms"].to_numpy() == pytest.approx([10.0, 10.0], rel=0.1)
    # a bucket with no running hour is a gap (NaN), as the store has no reading there
    stopped = Observer(np.full((1, 8), 20.0), seed=0, running_only=True)
    stopped.observe(rec | {"run": np.zeros((1, 8), np.float32)}, 0, 8)
    assert stopped.frame(["a"], "2024-01-01", 8, rows=2, interval_h=4)["bearing_temp"].isna().all()
    # the default reads every hour: the stopped hours pull the mean down
    plain = Observer(np.full((1, 8), 20.0), seed=0)
    plain.observe(rec, 0, 8)
    assert plain.frame(["a"], "2024-01-01", 8, rows=1, interval_h=4)["vib_rms"].iloc[0] == pytest.approx(5.5, rel=0.1)


def test_seal_leak_read_in_the_loop_equals_the_history_s_and_grows_with_the_wear() -> None:
    # a small fleet, wear accelerated; the loop's meter (each evening) against the finished run's (the history's)
    f = policy._draw(FleetConfig(sites=1, assets=12, days=40, seed=3, interval="1h", degradation_scale=6.0))
    meter = SealLeakMeter(f.params, f.regime.load, f.classes, f.state.damage[:, SEAL])
    seen: list[np.ndarray] = []

    def evening(h: int, st: object, pol: object, down: object, failed: object, rec: dict[str, np.ndarray]) -> None:
        seen.append(meter.day(rec, st.damage, h)["seal_leak"])  # type: ignore[attr-defined]

    rng = np.random.default_rng([f.config.seed, 1])
    plan = run_plan(
        f.params, f.state, f.regime, policy._policy(f, "run_to_failure"), f.applicable, rng, daily=evening, scale=6.0
    )
    loop, history = seen[-1], SealLeakMeter.of_plan(f, plan)
    assert np.allclose(loop, history, equal_nan=True, rtol=1e-5, atol=1e-6)
    sealed = np.array(["seal_leak" in CLASS_CHANNELS[c] for c in f.classes])
    assert sealed.any() and not sealed.all()
    assert (loop[~sealed] == 0).all() and not np.isnan(loop).any()  # no seal, no leak (one bundle, every asset)
    # no leak while stopped; while running, the leak over the seal's wear squared follows the speed (leak_max * s)
    assert (loop[sealed][plan.run[sealed] == 0] == 0).all()
    a = int(np.flatnonzero(sealed)[0])
    wear = np.repeat(plan.damage[a, SEAL, ::24], 24)[: plan.run.shape[1]]
    on = (plan.run[a] == 1) & (wear > 0.05)
    ratio = loop[a, on] / (f.params.leak_max[a] * wear[on] ** 2)
    assert ratio.min() > 0.3 and ratio.max() <= 1.06


@pytest.mark.slow
def test_policy_bundle_is_trained_from_events_and_scored_like_forewarn_score(tmp_path: Path) -> None:
    from forewarn.train.score import asset_features, asset_history

    f = policy._draw(FleetConfig(sites=2, assets=12, days=90, seed=1000, interval="1h", degradation_scale=8.0))
    plan = policy._simulate(f, "run_to_failure").plan
    bundle = train_bundle([(f, plan)], tmp_path)
    assert bundle.task == "failure" and bundle.spec.interval == "24h" and bundle.spec.window == 30
    assert sorted(bundle.spec.channels) == sorted(OBSERVED)
    with Store(tmp_path / "history.duckdb", read_only=True) as db:
        events = db.events()
        # labels come from the events: the store holds the run's failures, under the history's asset ids
        assert (events["kind"] == "failure").sum() == len(
            events_frame([a.asset_id for a in f.assets], f.config.start, plan, 90).query("kind == 'failure'")
        )
        ids = [f"H1-{a.asset_id}" for a in f.assets]
        # the loop's scorer on the same observations as the store holds (same seed, same hours)
        obs = Observer(f.regime.ambient, seed=f.config.seed)
        hours = plan.run.shape[1]
        record = {k: getattr(plan, k) for k in ("vib_rms", "bearing_c", "winding_c", "oil")}
        obs.observe(record | {"seal_leak": SealLeakMeter.of_plan(f, plan)}, 0, hours)
        loop = BundleScorer(bundle, ids, f.config.start)(obs, hours)
        served = []
        for asset in ids:
            _row, x = asset_features(bundle.spec, ({}, "in_service", asset_history(db, asset, bundle)))
            served.append(x)
    expected = bundle.predict(bundle.feature_frame(np.vstack(served))).probability
    assert loop == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert loop.min() >= 0.0 and loop.max() <= 1.0 and np.ptp(loop) > 0
