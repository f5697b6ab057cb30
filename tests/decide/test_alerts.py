"""Hysteresis and de-duplication: one degrading asset raises one alert; state round-trips mid-stream."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.decide.alerts import AlertPolicy
from forewarn.exceptions import ConfigError, StateError

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def _run(policy: AlertPolicy, scores: list[float], asset: str = "p1", step: str = "10min") -> list:
    return [policy.update(asset, T0 + i * pd.Timedelta(step), s) for i, s in enumerate(scores)]


def test_noisy_degradation_raises_one_alert_not_a_storm() -> None:
    rng = np.random.default_rng(0)
    scores = np.clip(np.linspace(0.1, 0.9, 300) + rng.normal(0, 0.08, 300), 0, 1)  # wobbles across 0.5 for hours
    naive = int(((scores[1:] >= 0.5) & (scores[:-1] < 0.5)).sum())
    alerts = [a for a in _run(AlertPolicy(threshold=0.5, clear_threshold=0.35, cooldown="6h"), list(scores)) if a]
    assert naive > 5 and len(alerts) == 1


def test_min_consecutive_ignores_a_single_spike() -> None:
    policy = AlertPolicy(threshold=0.5, min_consecutive=3)
    assert not any(_run(policy, [0.1, 0.9, 0.1, 0.9, 0.9, 0.1]))
    assert sum(a is not None for a in _run(policy, [0.9, 0.9, 0.9], asset="p2")) == 1


def test_new_episode_after_cooldown_alerts_again_and_assets_are_independent() -> None:
    policy = AlertPolicy(threshold=0.5, clear_threshold=0.4, cooldown="1h")
    first = _run(policy, [0.6, 0.2], step="10min")
    assert first[0] is not None and first[0].risk_level == "high"
    inside = policy.update("p1", T0 + pd.Timedelta("30min"), 0.7)
    assert inside is None and policy.is_active("p1")  # same episode, silently re-activated
    policy.update("p1", T0 + pd.Timedelta("40min"), 0.1)
    after = policy.update("p1", T0 + pd.Timedelta("3h"), 0.8)
    assert after is not None
    assert policy.update("p2", T0, 0.8) is not None


def test_alert_carries_explanation_probability_and_critical_level() -> None:
    policy = AlertPolicy(threshold=0.2, critical_threshold=0.6)
    alert = policy.update(
        "m7", "2024-03-01T10:00:00", 0.75, model_id="rul:v3", explanation={"vib": 1.5}, probability=0.75, rul=12.0
    )
    assert alert is not None
    assert (alert.risk_level, alert.model_id, alert.explanation, alert.rul) == (
        "critical",
        "rul:v3",
        {"vib": 1.5},
        12.0,
    )
    assert alert.ts == pd.Timestamp("2024-03-01T10:00:00", tz="UTC")
    assert alert.to_dict()["ts"].startswith("2024-03-01T10:00:00")


def test_late_and_missing_scores_are_ignored() -> None:
    policy = AlertPolicy(threshold=0.5)
    assert policy.update("p1", T0 + pd.Timedelta("1h"), 0.1) is None
    assert policy.update("p1", T0, 0.9) is None  # older than the last update
    assert policy.update("p1", T0 + pd.Timedelta("2h"), float("nan")) is None
    assert policy.update("p1", T0 + pd.Timedelta("3h"), 0.9) is not None


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.floats(0, 1), min_size=2, max_size=60),
    cut=st.integers(0, 59),
    assets=st.lists(st.sampled_from(["a", "b", "c"]), min_size=60, max_size=60),
)
def test_state_round_trip_mid_stream_changes_nothing(scores: list[float], cut: int, assets: list[str]) -> None:
    kwargs = {"threshold": 0.6, "clear_threshold": 0.4, "min_consecutive": 2, "cooldown": "25min"}
    straight = AlertPolicy(**kwargs)
    expected = [straight.update(assets[i], T0 + i * pd.Timedelta("10min"), s) for i, s in enumerate(scores)]
    first = AlertPolicy(**kwargs)
    cut = min(cut, len(scores))
    got = [first.update(assets[i], T0 + i * pd.Timedelta("10min"), s) for i, s in enumerate(scores[:cut])]
    resumed = AlertPolicy(**kwargs).set_state({k: np.array(v) for k, v in first.get_state().items()})
    got += [resumed.update(assets[i], T0 + i * pd.Timedelta("10min"), s) for i, s in enumerate(scores) if i >= cut]
    assert got == expected


def test_bad_settings_and_state_are_refused() -> None:
    with pytest.raises(ConfigError, match="above threshold"):
        AlertPolicy(threshold=0.5, clear_threshold=0.7)
    with pytest.raises(ConfigError, match="not a duration"):
        AlertPolicy(threshold=0.5, cooldown="soon")
    with pytest.raises(ConfigError, match="min_consecutive"):
        AlertPolicy(threshold=0.5, min_consecutive=0)
    with pytest.raises(StateError, match="lacks"):
        AlertPolicy(threshold=0.5).set_state({"asset_id": np.array(["a"])})
