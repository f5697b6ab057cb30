"""Physics features: residuals explain load and ambient, grow before failures, use only the past."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.features.physics import PHYSICS_CLASSES, physics_feature_names, physics_features
from forewarn.twin import FleetConfig, simulate_fleet


@pytest.fixture(scope="module")
def healthy_fleet():  # type: ignore[no-untyped-def]
    """Two sites whose machines neither degrade nor suffer sensor faults: only load and ambient vary."""
    return simulate_fleet(
        FleetConfig(sites=2, assets=12, days=30, seed=3, interval="1h", degradation=False, sensor_faults=False)
    )


@pytest.fixture(scope="module")
def failing_fleet():  # type: ignore[no-untyped-def]
    return simulate_fleet(
        FleetConfig(
            sites=2, assets=24, days=90, seed=5, interval="1h", degradation_scale=5.0, policies=("run_to_failure",)
        )
    )


def _classes(fleet) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {a.asset_id: a.asset_class for a in fleet.assets}


def test_residuals_remove_load_and_ambient_variation(healthy_fleet) -> None:  # type: ignore[no-untyped-def]
    r = healthy_fleet.readings
    feats = physics_features(r, asset_class=_classes(healthy_fleet))
    both = pd.concat([r, feats], axis=1).dropna(subset=["phys__winding_residual"])
    g = both.groupby("asset_id", observed=True)
    winding = g["phys__winding_residual"].std() / g["winding_temp"].std()
    bearing = g["phys__bearing_residual"].std() / g["bearing_temp"].std()
    mid = g["phys__vib_mid_excess"].std() / g["vib_band_mid"].apply(lambda x: np.log(x).std())
    assert winding.median() < 0.3 and bearing.median() < 0.3 and mid.median() < 0.3
    # near zero relative to the temperature swings: typical healthy residuals are within a few kelvin
    assert both["phys__winding_residual"].abs().median() < 1.5
    assert both["phys__vib_mid_excess"].abs().median() < 0.1


def test_residuals_grow_before_failures(failing_fleet) -> None:  # type: ignore[no-untyped-def]
    r = failing_fleet.readings
    feats = physics_features(r, asset_class=_classes(failing_fleet))
    both = pd.concat([r[["asset_id", "ts"]], feats], axis=1)
    cols = ["phys__thermal_wear", "phys__bearing_wear", "phys__vib_wear"]
    failures = failing_fleet.events[failing_fleet.events["kind"] == "failure"]
    grew = checked = 0
    for asset, group in both.groupby("asset_id", observed=True):
        first = failures[failures["asset_id"] == asset]["ts"].min()
        start = group["ts"].iloc[0]
        if pd.isna(first) or first - start < pd.Timedelta(days=12):
            continue
        early = group[(group["ts"] >= start + pd.Timedelta(days=7)) & (group["ts"] < start + pd.Timedelta(days=9))]
        late = group[(group["ts"] < first) & (group["ts"] >= first - pd.Timedelta(days=2))]
        checked += 1
        grew += bool((late[cols].max() > early[cols].max() + 1.0).any())
    assert checked >= 5
    assert grew / checked >= 0.7


def test_no_look_ahead(failing_fleet) -> None:  # type: ignore[no-untyped-def]
    r = failing_fleet.readings
    classes = _classes(failing_fleet)
    full = physics_features(r, asset_class=classes)
    cut = r["ts"] < r["ts"].min() + pd.Timedelta(days=20)
    part = physics_features(r[cut], asset_class=classes)
    pd.testing.assert_frame_equal(part, full[cut.to_numpy()])
    shuffled = r[cut].sample(frac=1.0, random_state=0)  # row order does not matter, the index is kept
    pd.testing.assert_frame_equal(physics_features(shuffled, asset_class=classes).loc[part.index], part)


def test_unsupported_classes_and_missing_channels_give_nan(healthy_fleet) -> None:  # type: ignore[no-untyped-def]
    r = healthy_fleet.readings
    classes = _classes(healthy_fleet)
    odd = next(iter(classes))
    classes[odd] = "turbofan"
    feats = physics_features(r, asset_class=classes)
    assert list(feats.columns) == physics_feature_names(classes.values())
    assert feats[r["asset_id"] == odd].isna().all().all()
    assert feats[r["asset_id"] != odd].notna().any().all()
    no_temp = physics_features(r.drop(columns=["winding_temp"]), asset_class=classes)
    assert no_temp["phys__winding_residual"].isna().all() and no_temp["phys__vib_mid_excess"].notna().any()
    assert physics_features(r, asset_class="turbofan").shape == (len(r), 0)


def test_names() -> None:
    assert set(PHYSICS_CLASSES) == {"pump", "motor", "compressor", "fan"}
    assert "phys__seal_wear" not in physics_feature_names(["motor", "fan"])
    assert physics_feature_names(["pump"]) == physics_feature_names(["compressor", "turbofan"])
