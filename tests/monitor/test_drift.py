"""Drift statistics, thresholds, causes and injected plant changes, on hand-made data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError
from forewarn.monitor.classify import OPERATING_ENV, episodes, operating_channels, site_wide
from forewarn.monitor.drift import (
    bootstrap_threshold,
    day_drift,
    fit_reference,
    ks_distance,
    psi,
    running,
    two_day,
)
from forewarn.monitor.quality import stuck_runs
from forewarn.twin.changes import AmbientShift, MotorReplaced, SensorOffset, apply_changes, change_events

HOURS = 24


def plant(days: int, seed: int = 0) -> pd.DataFrame:
    """Hourly readings of a machine whose three sensors follow one load: a = load, b = 2 load, c = load + 10."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-01-01", periods=days * HOURS, freq="1h", tz="UTC")
    load = rng.normal(size=len(ts))
    return pd.DataFrame(
        {
            "ts": ts,
            "speed": 1000 + 10 * rng.normal(size=len(ts)),
            "a": load + rng.normal(0, 0.05, len(ts)),
            "b": 2 * load + rng.normal(0, 0.1, len(ts)),
            "c": load + 10 + rng.normal(0, 0.05, len(ts)),
        }
    )


CHANNELS = ["speed", "a", "b", "c"]


def test_psi_and_ks_worked_examples() -> None:
    deciles = np.linspace(0, 10, 11)
    assert psi(deciles, np.arange(0.5, 10, 1.0)) == pytest.approx(0.0, abs=1e-12)
    # half the values in the first bin, half in the last: 2 x (0.5 - 0.1) ln 5 + 8 x (0.001 - 0.1) ln 0.01
    expected = 2 * 0.4 * np.log(5) + 8 * (0.001 - 0.1) * np.log(0.01)
    assert psi(deciles, np.r_[np.full(5, 0.5), np.full(5, 9.5)]) == pytest.approx(expected)
    assert ks_distance(np.arange(10.0), np.arange(10.0)) == 0.0
    assert ks_distance(np.arange(10.0), np.arange(10.0) + 100) == 1.0


def test_psi_of_an_unchanged_distribution_with_a_point_mass_is_zero() -> None:
    """A stopped machine's zero speed fills five deciles; the same plant again is no drift (was PSI 4.0: a zero
    counted in the bin above the tied deciles), and a model's tied probabilities likewise."""
    from forewarn.monitor.performance import psi_values

    rng = np.random.default_rng(3)
    reference = np.r_[np.zeros(5500), rng.uniform(100, 3000, 4500)]
    deciles = np.quantile(reference, np.linspace(0, 1, 11))
    same = np.r_[np.zeros(550), rng.uniform(100, 3000, 450)]
    assert psi(deciles, same) < 0.1 and psi_values(reference, same) < 0.02  # 0.1: the customary "no change"
    probabilities = np.r_[np.zeros(700), np.full(200, 0.01), rng.uniform(0.02, 1, 100)]
    assert psi_values(probabilities, probabilities[::3]) < 0.01
    assert psi(deciles, rng.uniform(100, 3000, 1000)) > 1.0  # the machine never stops any more: drift


def test_bootstrap_threshold_is_margin_times_the_reference_tail_with_a_floor() -> None:
    stats = np.c_[np.full(30, 0.1), np.full(30, 0.6)]
    assert bootstrap_threshold(stats, 50, 2.0, 0.5, 0).tolist() == [0.5, pytest.approx(1.2)]


def test_a_one_sd_offset_is_flagged_on_its_first_day_and_a_healthy_month_is_not() -> None:
    frame = plant(60)
    reference = fit_reference(frame.iloc[: 30 * HOURS], CHANNELS)
    healthy = day_drift(reference, frame.iloc[30 * HOURS :])
    assert not healthy["drifted"].any() and not healthy["step"].any()
    changed = apply_changes(
        frame.assign(asset_id="p1"), [SensorOffset("p1", "b", frame["ts"].iloc[50 * HOURS], frame["b"].std())]
    )
    days = day_drift(reference, changed.iloc[30 * HOURS :])
    stepped = days[days["step"]]
    assert stepped["day"].min() == frame["ts"].iloc[50 * HOURS]  # flagged on the first day of the change
    first = stepped[stepped["day"] == stepped["day"].min()]
    assert first.loc[first["jump_sd"].abs().idxmax(), "channel"] == "b"  # the offset sensor carries the step
    found = episodes(days, pd.DataFrame(columns=["ts", "kind", "action"]))
    assert [(e["day"], e["cause"], e["channels"][0]) for e in found] == [
        (frame["ts"].iloc[50 * HOURS], "sensor change", "b")
    ]


def test_a_replacement_that_day_names_the_cause_and_routine_maintenance_raises_no_alert() -> None:
    frame = plant(60)
    reference = fit_reference(frame.iloc[: 30 * HOURS], CHANNELS)
    at = frame["ts"].iloc[45 * HOURS]
    changed = apply_changes(frame.assign(asset_id="p1"), [SensorOffset("p1", "c", at, 2.0)])
    days = day_drift(reference, changed.iloc[30 * HOURS :])
    replaced = pd.DataFrame({"ts": [at + pd.Timedelta("2h")], "kind": ["maintenance"], "action": ["replace"]})
    assert [(e["cause"], e["plant_change"]) for e in episodes(days, replaced)] == [("equipment replaced", True)]
    oiled = replaced.assign(action="oil_change")
    assert [(e["cause"], e["plant_change"]) for e in episodes(days, oiled)] == [("maintenance", False)]


def test_a_drift_that_grew_before_its_step_is_degradation() -> None:
    day = pd.date_range("2024-03-01", periods=20, tz="UTC")
    shift = np.r_[np.zeros(5), np.linspace(0.1, 1.4, 14), 2.5]  # a rising residual, then a larger day
    days = pd.DataFrame(
        {"day": day, "channel": "vib", "shift_sd": shift, "threshold_sd": 0.5, "jump_sd": np.r_[np.zeros(19), 1.5]}
    ).assign(jump_threshold_sd=0.5, rows=24, explained_by="vib", explained_share=1.0)
    days["step"] = days["jump_sd"].abs() > days["jump_threshold_sd"]
    assert [e["cause"] for e in episodes(days, pd.DataFrame(columns=["ts", "kind", "action"]))] == ["degradation"]


def test_the_same_step_on_most_of_a_site_is_an_operating_regime() -> None:
    day = pd.Timestamp("2024-05-01", tz="UTC")
    found = {a: [{"day": day, "cause": "sensor change", "plant_change": True}] for a in ("p1", "p2", "p3")} | {"p4": []}
    site_wide(found, {"p1": "S1", "p2": "S1", "p3": "S1", "p4": "S1"})
    assert {a: [e["cause"] for e in v] for a, v in found.items()} == {
        "p1": ["operating regime"],
        "p2": ["operating regime"],
        "p3": ["operating regime"],
        "p4": [],
    }


def test_stopped_rows_are_not_judged_and_stuck_sensors_are_found() -> None:
    ref = pd.DataFrame({"speed": [1000.0, 1000.0, 0.0]})
    assert running(pd.DataFrame({"speed": [990.0, 100.0, np.nan]}), ref).tolist() == [True, False, False]
    assert running(pd.DataFrame({"x": [1.0]}), pd.DataFrame({"x": [1.0]})).tolist() == [True]  # no run channel
    assert stuck_runs(np.array([5.0] * 6), 6) and not stuck_runs(np.array([5.0] * 5 + [5.1]), 6)


def test_a_reference_needs_days_and_live_channels() -> None:
    frame = plant(2)
    with pytest.raises(DataNotFoundError, match="at least 3 days"):
        fit_reference(frame, CHANNELS)
    with pytest.raises(DataNotFoundError, match="2 live channels"):
        fit_reference(plant(5).assign(a=np.nan, b=1.0, c=np.nan), CHANNELS)


def test_injected_changes_worked_examples() -> None:
    ts = pd.date_range("2024-01-01", periods=4, freq="1h", tz="UTC")
    frame = pd.DataFrame(
        {
            "asset_id": ["m1", "m1", "m1", "m1"],
            "ts": ts,
            "ambient_temp": 20.0,
            "winding_temp": 80.0,
            "current": 100.0,
            "power": 50.0,
        }
    )
    warmer = apply_changes(frame, [AmbientShift(("m1",), ts[1], 5.0)])
    assert warmer["ambient_temp"].tolist() == [20, 25, 25, 25] and warmer["winding_temp"].tolist() == [80, 85, 85, 85]
    motor = MotorReplaced("m1", ts[2], loss_cut=0.5, losses_share=0.1)
    new = apply_changes(frame, [motor])
    # input falls by 0.5 x 0.1 = 5 %; the winding's 60 K rise over ambient by half
    assert new["current"].tolist() == [100, 100, 95, 95] and new["winding_temp"].tolist() == [80, 80, 50, 50]
    assert change_events([motor])[["asset_id", "kind", "action", "parts"]].values.tolist() == [
        ["m1", "maintenance", "replace", "motor"]
    ]
    assert frame["current"].tolist() == [100.0] * 4  # the input is not changed
    with pytest.raises(SchemaError, match="no channel 'flow'"):
        apply_changes(frame, [SensorOffset("m1", "flow", ts[0], 1.0)])


def test_drift_cases_stay_apart_from_the_assets_health_case() -> None:
    from forewarn.decide.alerts import Alert
    from forewarn.decide.cases import CaseBook

    book = CaseBook()
    t = pd.Timestamp("2024-05-01", tz="UTC")
    health = book.record_alert(Alert("p1", t, "failure-v1", 0.8, "high", {"temp": 1.0}))
    drift = book.record_alert(Alert("p1", t, "failure-v1", 3.0, "medium", {"temp": 3.0}, source="drift"))
    again = book.record_alert(Alert("p1", t + pd.Timedelta("1D"), "failure-v1", 2.0, "medium", {}, source="drift"))
    assert drift != health and again == drift
    assert (book.case(health)["kind"], book.case(drift)["kind"]) == ("health", "drift")
    assert book.open_case_id("p1") == health
    book.close_case(drift, note="transmitter recalibrated; reference refitted")
    assert book.open_case_id("p1") == health  # closing the drift case leaves the health case open


def test_offset_test_worked_example() -> None:
    """Two independent channels (no cross-prediction), day-jump SDs 0.2 and 0.1: a jump of 1.0 in the first is an
    offset of 1.0 SD with z = 1.0 / 0.2 = 5 and nothing left over; a jump in both leaves the second's z^2 = 4."""
    from forewarn.monitor.drift import Reference, critical_z, gaussian_max, offset_test

    k = 2
    ref = Reference(
        channels=["a", "b"],
        mean=np.zeros(k),
        sd=np.ones(k),
        coef=np.zeros((k + 1, k)),
        deciles=np.zeros((k, 11)),
        sample=np.zeros((1, k)),
        threshold=np.ones(k),
        jump_threshold=np.ones(k),
        day_residual=np.zeros((0, k)),
        rows_per_day=24,
        days=30,
        jump_cov=np.diag([0.04, 0.01]),
    )
    offset, z, rest = offset_test(ref, np.array([[1.0, 0.0], [1.0, 0.2]]))
    assert offset[0].tolist() == pytest.approx([1.0, 0.0]) and z[0].tolist() == pytest.approx([5.0, 0.0])
    assert rest.tolist() == pytest.approx([0.0, 4.0])
    # 0.01 false flags per asset-year over 2 channels: two-sided level 0.01 / 730 per test
    from scipy.stats import norm

    assert critical_z(0.01, 2) == pytest.approx(norm.isf(0.01 / 730 / 2))
    assert gaussian_max(1) == pytest.approx(norm.isf(0.25))  # the median of one |N(0, 1)| draw


def test_a_pure_noise_sensor_offset_is_sized_and_named_by_the_offset_test() -> None:
    """A channel that nothing predicts (noise of SD 1 per hour): its day mean has SD 1 / sqrt(24) = 0.2, so a
    1.5-SD offset is a z of about 7, above the 4.8 of the theory for 5 channels at 0.01 false flags a year."""
    frame = plant(90, seed=3)
    frame["n"] = np.random.default_rng(7).normal(size=len(frame))
    channels = [*CHANNELS, "n"]
    reference = fit_reference(frame.iloc[: 60 * HOURS], channels)
    at = frame["ts"].iloc[75 * HOURS]
    changed = apply_changes(frame.assign(asset_id="p1"), [SensorOffset("p1", "n", at, 1.5)])
    days = day_drift(reference, changed.iloc[60 * HOURS :])
    first = days[(days["day"] == at) & (days["channel"] == "n")].iloc[0]
    assert first["step"] and first["offset_fit"] and first["offset_z"] > first["offset_z_threshold"]
    assert first["offset_sd"] == pytest.approx(1.5, abs=0.65)  # three SEs of a day's mean (0.21)
    assert not days[days["day"] < at]["step"].any()
    found = episodes(days, pd.DataFrame(columns=["ts", "kind", "action"]))
    assert [(e["day"], e["cause"], e["channels"]) for e in found] == [(at, "sensor change", ["n"])]


def test_a_lasting_offset_that_one_day_leaves_under_the_threshold_is_caught_on_its_second_day() -> None:
    """The pure-noise channel again, offset by 0.9 SD: its first day's z (5.3) stays under the one-day threshold
    (5.4: 4.8 scaled by the channel's reference tail), and so does the second day's alone (4.7); the two days
    together halve the noise variance (z about 5.0 * sqrt(2)), and the two-day test flags the second day: a
    sensor change, one day late. Nothing before the change."""
    frame = plant(90, seed=3)
    frame["n"] = np.random.default_rng(0).normal(size=len(frame))
    reference = fit_reference(frame.iloc[: 60 * HOURS], [*CHANNELS, "n"])
    at = frame["ts"].iloc[75 * HOURS]
    changed = apply_changes(frame.assign(asset_id="p1"), [SensorOffset("p1", "n", at, 0.9)])
    days = day_drift(reference, changed.iloc[60 * HOURS :])
    n = days[(days["channel"] == "n") & (days["day"] >= at)].head(2)
    assert (n["offset_z"].abs() < n["offset_z_threshold"]).all()  # the one-day test misses both days
    assert n["step"].tolist() == [False, True]
    jump = days.pivot(index="day", columns="channel", values="jump_sd")[reference.channels].to_numpy()
    residual = days.pivot(index="day", columns="channel", values="shift_sd")[reference.channels].to_numpy()
    pair = two_day(jump, residual)[list(days["day"].unique()).index(at + pd.Timedelta(days=1))]
    assert pair[reference.channels.index("n")] == pytest.approx(n["jump_sd"].mean(), abs=0.15)
    assert not days[days["day"] < at]["step"].any()
    found = episodes(days, pd.DataFrame(columns=["ts", "kind", "action"]))
    assert [(e["day"], e["cause"], e["channels"]) for e in found] == [
        (at + pd.Timedelta(days=1), "sensor change", ["n"])
    ]


def test_a_burst_of_odd_hours_is_an_excursion_not_a_plant_change() -> None:
    frame = plant(60)
    reference = fit_reference(frame.iloc[: 30 * HOURS], CHANNELS)
    later = frame.iloc[30 * HOURS :].copy()
    day = later["ts"].iloc[20 * HOURS]
    hours = later.index[20 * HOURS + 8 : 20 * HOURS + 12]
    later.loc[hours, "c"] += 40.0  # four hours forty SDs off, then back
    days = day_drift(reference, later)
    row = days[(days["day"] == day) & (days["channel"] == "c")].iloc[0]
    assert row["step"] and row["spread_ratio"] > 3
    found = episodes(days, pd.DataFrame(columns=["ts", "kind", "action"]))
    assert [(e["day"], e["cause"], e["plant_change"]) for e in found] == [(day, "excursion", False)]


def test_mmd_sees_a_joint_change_that_leaves_every_channel_as_it_was() -> None:
    """Two independent standard-normal channels in the reference; in the window the second copies the first: each
    channel's distribution is unchanged (PSI and KS see nothing), their joint one is not."""
    from forewarn.monitor.multivariate import mmd2, mmd_test

    rng = np.random.default_rng(0)
    ref = rng.normal(size=(1200, 2))
    days = np.repeat(np.arange(120), 10)
    x = rng.normal(size=300)
    coupled = np.c_[x, x]
    same = mmd_test(ref, days, rng.normal(size=(300, 2)), window_days=30, seed=0)
    moved = mmd_test(ref, days, coupled, window_days=30, seed=0)
    assert not same["drifted"] and same["p_permutation"] > 0.05
    assert moved["drifted"] and moved["p_permutation"] < 0.01 and moved["p_reference"] == pytest.approx(1 / 8, abs=1e-4)
    assert moved["reference_windows"] == 7  # windows of 30 days every 14 days over 120 days: days 0, 14, ..., 84
    assert ks_distance(np.sort(ref[:, 1]), coupled[:, 1]) < 0.1  # the second channel alone looks the same
    # unbiased MMD^2 of two one-row-apart samples, by hand: k = exp(-d^2 / 2) with width 1
    a, b = np.array([[0.0], [2.0]]), np.array([[1.0], [3.0]])
    kxx = kyy = np.exp(-2.0)
    kxy = (np.exp(-0.5) * 3 + np.exp(-4.5)) / 4
    assert mmd2(a, b, 1.0) == pytest.approx(kxx + kyy - 2 * kxy)
    assert mmd_test(ref[:5], days[:5], coupled)["mmd2"] is None  # too few rows to test


def test_an_offset_too_small_to_matter_is_not_flagged_however_sure_the_test_is() -> None:
    """Two independent channels whose day-to-day jumps have SD 0.01 (variance 1e-4): an offset of 0.3 SD on the
    last day is z = 30, far above the Gaussian threshold for two channels (4.6), but below MIN_OFFSET_SD (0.5)
    it is no plant change; 0.6 is."""
    from forewarn.monitor.drift import MIN_OFFSET_SD, Reference, critical_z

    k = 2
    ref = Reference(
        channels=["a", "b"],
        mean=np.zeros(k),
        sd=np.ones(k),
        coef=np.zeros((k + 1, k)),
        deciles=np.zeros((k, 11)),
        sample=np.zeros((1, k)),
        threshold=np.ones(k),
        jump_threshold=np.ones(k),
        day_residual=np.zeros((14, k)),
        rows_per_day=24,
        days=30,
        jump_cov=np.diag([1e-4, 1e-4]),
    )
    ts = pd.date_range("2024-01-01", periods=5 * HOURS, freq="1h", tz="UTC")
    for size, flagged in ((0.3, False), (0.6, True)):
        frame = pd.DataFrame({"ts": ts, "a": np.r_[np.zeros(4 * HOURS), np.full(HOURS, size)], "b": 0.0})
        days = day_drift(ref, frame)
        row = days[(days["day"] == ts[-1].floor("1D")) & (days["channel"] == "a")].iloc[0]
        assert row["offset_sd"] == pytest.approx(size) and row["offset_z"] == pytest.approx(100 * size)
        assert row["offset_z_threshold"] == pytest.approx(critical_z(0.01, 2)) and row["offset_fit"]
        assert bool(row["step"]) is flagged and (size >= MIN_OFFSET_SD) is flagged
        assert not days["step"].iloc[:-2].any()


def test_a_day_outside_the_references_operating_range_is_marked_per_channel() -> None:
    """The load's day mean has SD 1 / sqrt(24) = 0.2 over the reference, so a day at three times the load's SD
    above its mean puts a, b and c (which follow the load) outside the reference days' range; speed stays in."""
    frame = plant(40)
    reference = fit_reference(frame.iloc[: 30 * HOURS], CHANNELS)
    later = frame.iloc[30 * HOURS :].copy()
    day = later["ts"].iloc[5 * HOURS]
    hours = later.index[5 * HOURS : 6 * HOURS]
    later.loc[hours, ["a", "c"]] += 3.0
    later.loc[hours, "b"] += 6.0
    days = day_drift(reference, later)
    outside = days[days["outside_range"]]
    assert set(outside["day"]) == {day} and sorted(outside["channel"]) == ["a", "b", "c"]


def test_an_unexplained_onset_on_an_unfamiliar_operating_point_is_no_plant_change() -> None:
    """Two channels step together and no one sensor explains it: a changed machine, unless two of the channels
    that set the operating point (load, ambient) have day means outside the reference's range that day, or a
    stepping one does (the residual model extrapolates there); condition channels outside the range (wear moves
    them) do not count."""
    days = pd.DataFrame(
        {
            "day": pd.date_range("2024-01-01", periods=4, tz="UTC").repeat(4),
            "channel": ["speed", "power", "vib_rms", "seal_leak"] * 4,
            "shift_sd": 0.0,
            "threshold_sd": 0.5,
            "jump_sd": [0.0] * 12 + [0.9, -0.8, 0.1, 0.0],
            "jump_threshold_sd": 0.5,
            "rows": 24,
            "explained_by": "speed",
            "explained_share": 0.5,
        }
    )
    days["step"] = days["jump_sd"].abs() > days["jump_threshold_sd"]
    none = pd.DataFrame(columns=["ts", "kind", "action"])
    assert [e["cause"] for e in episodes(days, none)] == ["machine changed"]
    worn = days.assign(outside_range=[False] * 12 + [False, False, True, True])
    assert [e["cause"] for e in episodes(worn, none)] == ["machine changed"]
    slow = days.assign(outside_range=[False] * 12 + [True, False, False, False])  # speed stepped, outside
    assert [e["cause"] for e in episodes(slow, none)] == ["unfamiliar operating point"]
    loaded = days.assign(outside_range=[False] * 12 + [True, True, False, False])
    assert [(e["cause"], e["plant_change"]) for e in episodes(loaded, none)] == [("unfamiliar operating point", False)]


def test_a_plants_own_operating_channels_are_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plant whose load channels are called rpm and kw: with the twin's names (the default) its day with both
    outside the reference's range is a changed machine (neither counts); named as operating channels, by argument
    or by FOREWARN_OPERATING_CHANNELS, it is an unfamiliar operating point. A name the model does not read is a
    clear error."""
    days = pd.DataFrame(
        {
            "day": pd.date_range("2024-01-01", periods=4, tz="UTC").repeat(4),
            "channel": ["rpm", "kw", "vib_rms", "oil_temp"] * 4,
            "shift_sd": 0.0,
            "threshold_sd": 0.5,
            "jump_sd": [0.0] * 12 + [0.1, 0.2, 0.9, -0.8],
            "jump_threshold_sd": 0.5,
            "rows": 24,
            "explained_by": "vib_rms",
            "explained_share": 0.5,
            "outside_range": [False] * 12 + [True, True, False, False],
        }
    )
    days["step"] = days["jump_sd"].abs() > days["jump_threshold_sd"]
    none = pd.DataFrame(columns=["ts", "kind", "action"])
    channels = ["rpm", "kw", "vib_rms", "oil_temp"]
    monkeypatch.delenv(OPERATING_ENV, raising=False)
    assert operating_channels(None, channels) == ()
    assert [e["cause"] for e in episodes(days, none, operating=operating_channels(None, channels))] == [
        "machine changed"
    ]
    assert [e["cause"] for e in episodes(days, none, operating=operating_channels("rpm,kw", channels))] == [
        "unfamiliar operating point"
    ]
    monkeypatch.setenv(OPERATING_ENV, "kw, rpm")
    assert operating_channels(None, channels) == ("kw", "rpm")
    with pytest.raises(ConfigError, match="'speed' is not a channel of the model; its channels are rpm, kw"):
        operating_channels("speed", channels)


def test_beside_a_replaced_part_a_significant_offset_below_the_floor_is_the_new_part() -> None:
    """Day 4's best channel, a, has z = 8 above its threshold of 5 and the day fits one offset, but its offset
    (0.2 SD) is below the floor, so it did not step: beside a replace action it is the new part (an alert);
    beside an oil change, or with no event, nothing."""
    days = pd.DataFrame(
        {
            "day": pd.date_range("2024-01-01", periods=4, tz="UTC").repeat(2),
            "channel": ["a", "b"] * 4,
            "shift_sd": 0.0,
            "threshold_sd": 0.5,
            "jump_sd": [0.0] * 6 + [0.2, 0.01],
            "jump_threshold_sd": 0.5,
            "rows": 24,
            "explained_by": "a",
            "explained_share": 0.95,
            "offset_sd": [0.0] * 6 + [0.2, 0.0],
            "offset_z": [0.0] * 6 + [8.0, 0.5],
            "offset_z_threshold": 5.0,
            "offset_fit": True,
            "step": False,
        }
    )
    at = pd.Timestamp("2024-01-04 09:00", tz="UTC")
    replaced = pd.DataFrame({"ts": [at], "kind": ["maintenance"], "action": ["replace"]})
    found = episodes(days, replaced)
    assert [(e["day"], e["cause"], e["plant_change"]) for e in found] == [(at.floor("1D"), "equipment replaced", True)]
    assert episodes(days, replaced.assign(action="oil_change")) == []
    assert episodes(days, pd.DataFrame(columns=["ts", "kind", "action"])) == []
    assert episodes(days.assign(offset_fit=False), replaced) == []


def test_maintenance_in_the_reference_does_not_raise_the_offset_threshold_for_good() -> None:
    """A noise channel n whose level an oil change on reference day 20 lifts by 3 (its hourly noise has SD 1):
    without the maintenance's time, the week after it (its baseline still the days before) enters the reference's
    day jumps, n's jump SD more than doubles and with it the offset threshold; with it, those days are left out
    and restart their baseline, and a 1.5-SD offset after the reference is flagged. A maintenance after the reference: that day is judged (its
    event names it), the next three are not, and the level after is the new baseline."""
    frame = plant(90, seed=3)
    noise = np.random.default_rng(7).normal(size=len(frame))
    oiled = frame["ts"].iloc[20 * HOURS + 6]
    frame["n"] = noise + np.where(frame["ts"] >= oiled, 3.0, 0.0)
    channels = [*CHANNELS, "n"]
    blind = fit_reference(frame.iloc[: 60 * HOURS], channels)
    aware = fit_reference(frame.iloc[: 60 * HOURS], channels, renewed_at=[oiled])
    j = channels.index("n")
    assert np.sqrt(blind.jump_cov[j, j]) > 2 * np.sqrt(aware.jump_cov[j, j])
    at = frame["ts"].iloc[75 * HOURS]
    sd = float(frame["n"].iloc[: 60 * HOURS].std())
    changed = apply_changes(frame.assign(asset_id="p1"), [SensorOffset("p1", "n", at, 1.5 * sd)])
    for reference, flagged in ((blind, False), (aware, True)):
        days = day_drift(reference, changed.iloc[60 * HOURS :], renewed_at=[oiled])
        first = days[(days["day"] == at) & (days["channel"] == "n")].iloc[0]
        assert bool(first["step"]) is flagged, (first["offset_z"], first["offset_z_threshold"])
    later = frame["ts"].iloc[70 * HOURS + 6]
    days = day_drift(aware, changed.iloc[60 * HOURS :], renewed_at=[later]).query("channel == 'n'")
    after = days.set_index("day")["jump_sd"]
    day = later.floor("1D")
    assert np.isfinite(after[day]) and after[day + pd.Timedelta(days=1) : day + pd.Timedelta(days=3)].isna().all()
    assert np.isfinite(after[day + pd.Timedelta(days=4)])
