"""The site-wide test of a shared channel (a new ambient regime), on hand-made sites with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forewarn.monitor.runner import assess_frames
from forewarn.monitor.site import fit_site, site_days, site_onsets
from forewarn.twin.changes import AmbientShift, SensorOffset, apply_changes

HOURS = 24
COUPLING = (0.3, 0.5, 0.7, 0.9)


def site(days: int = 90, seed: int = 0) -> pd.DataFrame:
    """Four machines in one hall: each one's ambient is 20 C plus its share (``COUPLING``) of one outdoor weather
    (an AR(1) of the day, SD 3 K, and a 5 K daily swing); its bearing runs 25 K over ambient plus a load term."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-01-01", periods=days * HOURS, freq="1h", tz="UTC")
    weather = np.zeros(days)
    for d in range(1, days):
        weather[d] = 0.75 * weather[d - 1] + rng.normal(0, 3.0 * np.sqrt(1 - 0.75**2))
    outdoor = np.repeat(weather, HOURS) - 5.0 * np.cos(2 * np.pi * (np.arange(len(ts)) % HOURS - 3) / HOURS)
    frames = []
    for i, c in enumerate(COUPLING):
        load = rng.normal(size=len(ts))
        ambient = 20 + c * outdoor + rng.normal(0, 0.2, len(ts))
        frames.append(
            pd.DataFrame(
                {
                    "asset_id": f"m{i}",
                    "ts": ts,
                    "speed": 1000 + 10 * load,
                    "ambient_temp": ambient,
                    "bearing_temp": ambient + 25 + 2 * load + rng.normal(0, 0.2, len(ts)),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def judge(readings: pd.DataFrame) -> dict[str, list[dict[str, object]]]:
    ts = readings["ts"]
    found, _ = assess_frames(
        readings,
        pd.DataFrame(columns=["asset_id", "ts", "kind", "action"]),
        {f"m{i}": "s1" for i in range(len(COUPLING))},
        ["speed", "ambient_temp", "bearing_temp"],
        reference=(ts.min(), ts.min() + pd.Timedelta(days=60)),
        window=(ts.min() + pd.Timedelta(days=60), ts.max() + pd.Timedelta(hours=1)),
    )
    return found


def test_a_new_ambient_regime_of_the_whole_site_is_an_operating_regime_on_its_first_day() -> None:
    """The hall warms by 5 K at midnight of day 75 (about 1.5 SD of the ambient): every machine's ambient and
    bearing move by 5 K, their relations hold, so no machine's own test sees it; the site's lines do (the weather
    moves each machine by its coupling, this moves them all alike). Weather alone raises nothing."""
    healthy = site()
    assert not any(e["plant_change"] for items in judge(healthy).values() for e in items)
    at = healthy["ts"].min() + pd.Timedelta(days=75)
    changed = apply_changes(healthy, [AmbientShift(tuple(f"m{i}" for i in range(4)), at, 5.0)])
    found = judge(changed)
    for asset in ("m0", "m1", "m2", "m3"):
        alerts = [e for e in found[asset] if e["plant_change"]]
        assert [(e["day"], e["cause"], e["channels"]) for e in alerts] == [
            (at, "operating regime", ["ambient_temp"])
        ], asset
        assert abs(float(alerts[0]["site_shift"]) - 5.0) < 0.3  # type: ignore[arg-type]


def test_one_machines_ambient_sensor_is_its_own_sensor_change_not_the_sites() -> None:
    """A +5 K offset of one machine's ambient sensor alone: the site's common pattern does not explain it (one
    asset's residual moves, not the coupling pattern), so no site onset; that machine's own test names the
    sensor (with the sensors coupled to it that explain the day as well), and the other machines have nothing."""
    healthy = site()
    at = healthy["ts"].min() + pd.Timedelta(days=75)
    found = judge(apply_changes(healthy, [SensorOffset("m1", "ambient_temp", at, 5.0)]))
    alerts = [e for e in found["m1"] if e["plant_change"]]
    assert [(e["day"], e["cause"]) for e in alerts] == [(at, "sensor change")]
    assert "ambient_temp" in alerts[0]["channels"]  # type: ignore[operator]
    assert not any(e["plant_change"] for a in ("m0", "m2", "m3") for e in found[a])


def test_the_common_shift_is_estimated_by_hand() -> None:
    """Three assets, lines a_i = 10 i + beta_i f with beta = (0.5, 1.0, 1.5) exactly (plus tiny noise): a common
    shift d = 2 on the last day moves f by 2 and the residuals by d (1 - beta_i) = (1, 0, -1); the estimate is 2 and
    explains all of the day's jumps. Equal couplings make the shift invisible: no site model."""
    rng = np.random.default_rng(1)
    f = np.cumsum(rng.normal(0, 1, 60))
    beta = np.array([0.5, 1.0, 1.5])
    means = np.array([0.0, 10.0, 20.0]) + f[:, None] * beta + rng.normal(0, 0.01, (60, 3))
    model = fit_site(np.arange(50), means[:50], spread=np.full(3, 4.0))
    assert model is not None and np.allclose(model.beta, beta, atol=0.01)
    means[-1] += 2.0
    found = site_days(model, np.arange(50, 60), means[50:])
    last = found.iloc[-1]
    assert bool(last["onset"]) and abs(last["shift"] - 2.0) < 0.05 and last["share"] > 0.99
    assert not found["flagged"].iloc[:-1].any()
    assert fit_site(np.arange(50), means[:50, :2], spread=np.full(2, 4.0)) is None  # two assets: no test
    levels = {a: (np.arange(50), means[:50, i], 4.0, np.arange(50, 60), means[50:, i]) for i, a in enumerate("xyz")}
    onsets = site_onsets(levels, {"x": "s", "y": "s", "z": "s"}, "ambient_temp", since=50)
    assert sorted(onsets) == ["x", "y", "z"] and [e["cause"] for e in onsets["x"]] == ["operating regime"]
