"""NAB-style scoring: windows, sigmoid weighting, profiles, normalisation, threshold optimisation."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.evaluate.nab import (
    PROFILES,
    NABFile,
    centred_windows,
    normalised_score,
    optimise_threshold,
    probation_rows,
    raw_score,
    right_windows,
    scaled_sigmoid,
    skab_curve,
)
from forewarn.exceptions import SchemaError


@st.composite
def nab_files(draw):
    n_rows = draw(st.integers(20, 90))
    cuts = sorted(draw(st.lists(st.integers(0, n_rows - 1), min_size=2, max_size=8, unique=True)))
    windows = tuple((cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2))
    windows = tuple(w for k, w in enumerate(windows) if k == 0 or w[0] > windows[k - 1][1])
    probation = draw(st.integers(0, max(0, windows[0][0])))
    return NABFile(n_rows=n_rows, windows=windows, probation=probation, curve=draw(st.sampled_from(["nab", "skab"])))


profiles = st.sampled_from(list(PROFILES))


def _perfect(file):
    hits = np.zeros(file.n_rows, dtype=bool)
    for start, _ in file.scored_windows:
        hits[max(start, file.probation)] = True
    return hits


@given(st.lists(nab_files(), min_size=1, max_size=3), profiles)
@settings(max_examples=80, deadline=None)
def test_perfect_detector_scores_100_and_null_0(files, profile):
    assert normalised_score([_perfect(f) for f in files], files, profile) == pytest.approx(100.0)
    assert normalised_score([np.zeros(f.n_rows, dtype=bool) for f in files], files, profile) == pytest.approx(0.0)


@given(nab_files(), profiles, st.data())
@settings(max_examples=80, deadline=None)
def test_an_earlier_detection_in_a_window_never_scores_less(file, profile, data):
    start, end = file.scored_windows[0]
    start = max(start, file.probation)
    early = data.draw(st.integers(start, end))
    late = data.draw(st.integers(early, end))
    hits_early, hits_late = np.zeros(file.n_rows, dtype=bool), np.zeros(file.n_rows, dtype=bool)
    hits_early[early], hits_late[late] = True, True
    assert raw_score(hits_early, file, profile=PROFILES[profile]) >= raw_score(hits_late, file, PROFILES[profile])


@given(nab_files(), profiles, st.data())
@settings(max_examples=60, deadline=None)
def test_only_the_first_detection_in_a_window_counts_and_probation_is_ignored(file, profile, data):
    prof = PROFILES[profile]
    start, end = file.scored_windows[0]
    first = max(start, file.probation)
    hits = np.zeros(file.n_rows, dtype=bool)
    hits[first] = True
    once = raw_score(hits, file, prof)
    hits[first : end + 1] = data.draw(st.lists(st.booleans(), min_size=end - first + 1, max_size=end - first + 1))
    hits[first] = True
    assert raw_score(hits, file, prof) == pytest.approx(once)
    noisy = hits.copy()
    noisy[: file.probation] = True
    assert raw_score(noisy, file, prof) == pytest.approx(raw_score(hits, file, prof))


@given(st.lists(nab_files(), min_size=1, max_size=3), profiles, st.data())
@settings(max_examples=60, deadline=None)
def test_optimised_threshold_is_the_best_of_every_threshold(files, profile, data):
    scores = [
        np.asarray(
            data.draw(st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.7, 0.9, 1.0]), min_size=f.n_rows, max_size=f.n_rows))
        )
        for f in files
    ]
    threshold, best = optimise_threshold(scores, files, profile)
    candidates = sorted({float(v) for s in scores for v in s}) + [math.inf]
    brute = max(normalised_score([s >= t for s in scores], files, profile) for t in candidates)
    assert best == pytest.approx(brute)
    assert normalised_score([s >= threshold for s in scores], files, profile) == pytest.approx(best)
    assert best >= 0.0


def test_false_positives_just_after_a_window_cost_less_than_early_ones():
    file = NABFile(n_rows=200, windows=((100, 119),))
    just_after, far_after, before = (np.zeros(200, dtype=bool) for _ in range(3))
    just_after[121], far_after[190], before[10] = True, True, True
    standard = PROFILES["standard"]
    assert raw_score(just_after, file, standard) > raw_score(far_after, file, standard)
    assert raw_score(far_after, file, standard) == pytest.approx(-1 - 0.11)  # 3.5 window lengths after: -1 x fp
    assert raw_score(before, file, standard) == pytest.approx(-1 - 0.11)
    low_fp, low_fn = PROFILES["low_fp"], PROFILES["low_fn"]
    assert raw_score(before, file, low_fp) == pytest.approx(-1 - 0.22)
    assert raw_score(np.zeros(200, dtype=bool), file, low_fn) == pytest.approx(-2.0)


def test_scaled_sigmoid_and_probation():
    values = scaled_sigmoid(np.array([-1.0, -0.5, 0.0, 0.5, 3.5]))
    assert values[0] == pytest.approx(0.98661, abs=1e-5) and values[2] == 0.0 and values[-1] == -1.0
    assert (np.diff(values) < 0).all()
    assert probation_rows(4000) == 600 and probation_rows(10_000) == 750


def test_centred_windows_share_ten_percent_and_merge():
    assert centred_windows(2000, [500, 1500]) == ((450, 549), (1450, 1549))
    assert centred_windows(1000, [500, 520]) == ((475, 544),)  # overlapping windows merge
    assert centred_windows(100, []) == ()
    with pytest.raises(SchemaError):
        centred_windows(100, [100])


def test_right_windows_follow_time_and_cut_overlaps():
    index = pd.date_range("2020-03-09 10:00", periods=200, freq="1s")
    assert right_windows(index, [10, 150]) == ((10, 70), (150, 199))
    assert right_windows(index, [10, 40]) == ((10, 70), (71, 100))
    gappy = index.delete(range(20, 50))  # 30 s missing
    assert right_windows(gappy, [10]) == ((10, 40),)
    with pytest.raises(SchemaError):
        right_windows(index, [500])


def test_bad_files_and_inputs():
    with pytest.raises(SchemaError, match="overlaps"):
        NABFile(n_rows=100, windows=((10, 20), (15, 30)))
    with pytest.raises(SchemaError, match="outside"):
        NABFile(n_rows=100, windows=((90, 120),))
    file = NABFile(n_rows=50, windows=((10, 20),))
    with pytest.raises(SchemaError, match="shape"):
        raw_score(np.zeros(10, dtype=bool), file)
    with pytest.raises(SchemaError, match="no scored anomaly window"):
        normalised_score([np.zeros(50, dtype=bool)], [NABFile(n_rows=50, windows=())])
    with pytest.raises(SchemaError, match="finite"):
        optimise_threshold([np.full(50, np.nan)], [file])
    assert optimise_threshold([np.zeros(50)], [file]) == (math.inf, 0.0)
    assert NABFile(n_rows=50, windows=((5, 8), (20, 30)), probation=10).scored_windows == ((20, 30),)


def test_skab_curve_matches_skab_leaderboard_conventions():
    file = NABFile(n_rows=300, windows=((100, 160),), curve="skab")
    standard = PROFILES["standard"]
    hits = np.zeros(300, dtype=bool)
    hits[100] = True
    assert raw_score(hits, file, standard) == pytest.approx(1.0)  # the left edge earns tp exactly
    hits[100], hits[160] = False, True
    assert raw_score(hits, file, standard) == pytest.approx(-0.11)  # the right edge earns -fp
    early_fp, late_fp = np.zeros(300, dtype=bool), np.zeros(300, dtype=bool)
    early_fp[10], late_fp[162] = True, True
    assert raw_score(early_fp, file, standard) == raw_score(late_fp, file, standard) == pytest.approx(-1.11)
    assert (np.diff(skab_curve(np.linspace(0, 1, 50), PROFILES["low_fn"])) < 0).all()
    with pytest.raises(SchemaError, match="curve"):
        NABFile(n_rows=10, windows=(), curve="other")
