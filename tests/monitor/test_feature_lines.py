"""Each feature's drift line from the reference's own variability (forewarn.train.references), as forewarn monitor
applies it (forewarn.monitor.performance.feature_drift): a month the model was trained on is no drift on a seasonal
plant, a changed plant still is, and a card written before the lines keeps the customary 0.25 and says so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.monitor.performance import feature_drift, lines_note
from forewarn.train.card import reference_distributions
from forewarn.train.references import (
    DECILES,
    PSI_LINE,
    feature_lines,
    line_for,
    psi,
    sampling_psi,
    stretch_psis,
)

HOURS = 24


def seasonal_plant(days: int = 150, seed: int = 0) -> pd.DataFrame:
    """Hourly rows of three assets: an ambient temperature with a season (cold January, warm May) and the day's
    cycle, a vibration that is noise around a level, and a speed that is 0 a third of the time."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-01-01", periods=days * HOURS, freq="1h", tz="UTC")
    frames = []
    for asset in ("a1", "a2", "a3"):
        n = len(ts)
        season = 15.0 * np.arange(n) / (365 * HOURS)  # +15 K a year: January to May warms by ~6 K
        daily = 4.0 * np.sin(2 * np.pi * np.arange(n) / HOURS)
        speed = np.where(rng.random(n) < 1 / 3, 0.0, 1500 + rng.normal(0, 20, n))
        frames.append(
            pd.DataFrame(
                {
                    "asset_id": asset,
                    "ts": ts,
                    "ambient__mean": 2.0 + season + daily + rng.normal(0, 1.0, n),
                    "vib__mean": 2.0 + rng.normal(0, 0.2, n),
                    "speed__min": speed,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def card_of(frame: pd.DataFrame) -> dict:
    X = frame.drop(columns=["asset_id", "ts"])
    reference = reference_distributions(X)
    return {"reference": reference, "reference_lines": feature_lines(reference, X, frame["ts"])}


def last_days(frame: pd.DataFrame, days: int) -> pd.DataFrame:
    return frame[frame["ts"] >= frame["ts"].max() - pd.Timedelta(days=days) + pd.Timedelta("1h")]


def test_a_window_of_the_training_span_is_no_drift_where_the_customary_line_calls_it_drift() -> None:
    plant = seasonal_plant()
    card = card_of(plant)
    may = last_days(plant, 30)
    verdicts = {r["feature"]: r for r in feature_drift(card, may, days=30)}
    ambient = verdicts["ambient__mean"]
    assert ambient["psi"] > 0.5  # May against January-May: far past the customary 0.25 ...
    assert not ambient["drifted"] and ambient["line"] >= ambient["psi"] and ambient["line_basis"] == "reference"
    assert not any(r["drifted"] for r in verdicts.values())  # ... and no feature of a trained-on month is drifted
    assert verdicts["vib__mean"]["line"] == PSI_LINE  # a steady feature keeps the floor
    assert lines_note(card)["basis"] == "reference"


def test_a_changed_plant_is_still_drift() -> None:
    plant = seasonal_plant()
    card = card_of(plant)
    later = seasonal_plant(days=180, seed=1)
    june = later[later["ts"] >= pd.Timestamp("2024-05-30", tz="UTC")].copy()
    june["vib__mean"] += 0.2  # a vibration transmitter recalibrated by 1 SD on every machine
    june["speed__min"] = np.where(june["speed__min"] > 0, june["speed__min"], 1500.0)  # the machines never stop
    verdicts = {r["feature"]: r for r in feature_drift(card, june, days=30)}
    assert verdicts["vib__mean"]["drifted"] and verdicts["speed__min"]["drifted"]
    assert verdicts["vib__mean"]["psi"] > verdicts["vib__mean"]["line"] == PSI_LINE
    unchanged = later[later["ts"] >= pd.Timestamp("2024-05-30", tz="UTC")]
    assert not {r["feature"]: r for r in feature_drift(card, unchanged, days=30)}["vib__mean"]["drifted"]


def test_a_card_without_lines_keeps_the_customary_line_and_says_so() -> None:
    plant = seasonal_plant()
    old = {"reference": card_of(plant)["reference"]}  # a card written before the lines
    verdicts = feature_drift(old, last_days(plant, 30), days=30)
    assert {r["line"] for r in verdicts} == {PSI_LINE} and {r["line_basis"] for r in verdicts} == {"customary"}
    ambient = next(r for r in verdicts if r["feature"] == "ambient__mean")
    assert ambient["drifted"]  # the old rule, as before
    assert verdicts[0]["drifted"]  # the drifted features come first
    note = lines_note(old)
    assert note["basis"] == "customary" and note["line"] == PSI_LINE and "retrain" in note["note"]


def test_the_stretches_psi_is_the_psi_of_each_stretch() -> None:
    """The cumulative-count computation gives what :func:`psi` gives on each stretch's rows."""
    rng = np.random.default_rng(2)
    values = np.r_[rng.normal(0, 1, 240), rng.normal(0.5, 1, 240)]
    values[rng.random(len(values)) < 0.05] = np.nan  # missing values are left out, as psi leaves them
    day = np.repeat(np.arange(20), 24) + 19_000
    deciles = np.nanquantile(values, DECILES)
    psis, rows = stretch_psis(deciles, values, day, 5)
    direct = [psi(deciles, values[(day >= 19_000 + k) & (day < 19_005 + k)]) for k in range(16)]
    assert psis == pytest.approx(direct) and rows == pytest.approx(np.median([np.isfinite(values[:120]).sum()]), abs=8)
    assert len(stretch_psis(deciles, values, day, 21)[0]) == 0  # longer than the span: no stretch


def test_the_line_of_a_window_follows_its_length_and_rows() -> None:
    plant = seasonal_plant()
    card = card_of(plant)
    lines = card["reference_lines"]
    assert lines["window_days"] == [1, 7, 30, 90] and lines["floor"] == PSI_LINE
    deciles = np.asarray(card["reference"]["vib__mean"])
    one_day, _ = line_for(lines, "vib__mean", days=1, rows=3 * HOURS, deciles=deciles)
    month, _ = line_for(lines, "vib__mean", days=30, rows=90 * HOURS, deciles=deciles)
    assert one_day > month  # a day's sample strays further by chance
    thin, _ = line_for(lines, "vib__mean", days=30, rows=HOURS, deciles=deciles)
    assert thin > month  # a window with fewer rows than the stretches: the chance PSI of the rows it lacks
    assert sampling_psi(np.full(10, 0.1), 24) > sampling_psi(np.full(10, 0.1), 2400)
    assert line_for(lines, "no such feature", days=30, rows=100, deciles=deciles) == (PSI_LINE, "customary")
    short = card_of(plant[plant["ts"] < pd.Timestamp("2024-01-20", tz="UTC")])["reference_lines"]
    assert short["lines"]["vib__mean"][2:] == [None, None]  # a 19-day span has no 30- or 90-day stretch
    # a 30-day window on a card with stretches of at most 7 days takes the 7-day line
    assert line_for(short, "vib__mean", days=30, rows=10_000, deciles=deciles)[0] == short["lines"]["vib__mean"][1]


def test_the_rows_mask_reads_the_same_rows_as_a_copy() -> None:
    """The card's lines from the rows the service would score (a mask over every training row, as train passes it)
    are those of the same rows copied out."""
    plant = seasonal_plant(days=40)
    X = plant.drop(columns=["asset_id", "ts"])
    reference = reference_distributions(X)
    down = (plant["asset_id"] == "a2").to_numpy() & (plant["ts"].dt.day < 10).to_numpy()
    masked = feature_lines(reference, X, plant["ts"].to_numpy(), rows=~down)
    copied = feature_lines(reference, X[~down], plant["ts"][~down])
    assert masked == copied and masked["window_rows"][0] == 3 * HOURS
