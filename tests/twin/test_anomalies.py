"""The labelled anomaly corpus: each shape changes only its window and channels, labels line up, seeds repeat."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forewarn.evaluate.nab import normalised_score, probation_rows
from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError
from forewarn.twin.anomalies import (
    KINDS,
    SeriesConfig,
    channel_scale,
    inject,
    make_corpus,
    read_corpus,
    synthetic_series,
    twin_series,
    write_corpus,
)


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(seed=7, n_synthetic=6, n_twin=2, n_rows=1500)


@pytest.mark.parametrize("kind", KINDS)
def test_each_shape_changes_only_its_window_and_channels(kind: str) -> None:
    frame = synthetic_series(SeriesConfig(n_rows=600, n_channels=3), seed=1)
    out = inject(frame, kind, 300, 340 if kind != "spike" else 301, ["value_1"], 5.0, seed=2)
    changed = ~np.isclose(
        out[["value_0", "value_1", "value_2"]].to_numpy(), frame[["value_0", "value_1", "value_2"]].to_numpy()
    )
    rows, columns = np.nonzero(changed)
    assert set(columns) == {1}
    assert rows.min() >= 300 and rows.max() <= (340 if kind != "spike" else 301)
    assert out["timestamp"].equals(frame["timestamp"])
    window = out["value_1"].iloc[300:341].to_numpy()
    end = 340 if kind != "spike" else 301
    scale = channel_scale(np.delete(frame["value_1"].to_numpy(), np.arange(300, end + 1)))  # healthy rows only
    if kind == "stuck":
        assert np.all(window == window[0])
    elif kind == "spike":
        assert np.allclose(np.abs(out["value_1"].iloc[300:302] - frame["value_1"].iloc[300:302]), 5 * scale)
    else:  # a visible change: several scales away from the healthy values somewhere in the window
        assert np.abs(window - frame["value_1"].iloc[300:341].to_numpy()).max() > 2 * scale


def test_inject_refuses_bad_requests() -> None:
    frame = pd.DataFrame({"a": np.zeros(10)})
    with pytest.raises(ConfigError, match="unknown anomaly kind"):
        inject(frame, "wobble", 1, 2, ["a"], 1.0)
    with pytest.raises(SchemaError, match="outside rows"):
        inject(frame, "spike", 5, 10, ["a"], 1.0)
    with pytest.raises(SchemaError, match="no channel"):
        inject(frame, "spike", 1, 1, ["b"], 1.0)


def test_labels_line_up_with_the_rows_that_changed(corpus) -> None:
    kinds = set()
    for series in corpus:
        mask = series.label_mask()
        probation = probation_rows(len(series.frame))
        for label in series.labels:
            kinds.add(label.kind)
            assert 0 <= label.start <= label.end < len(series.frame)
            assert set(label.channels) <= set(series.channels)
        file = series.nab_file()
        assert file.scored_windows, series.name
        for label in series.labels:  # every scored injection lies inside a scoring window
            if label.end >= probation:
                assert any(s <= label.start and label.end <= e for s, e in file.windows)
        assert mask.sum() == sum(label.end - label.start + 1 for label in series.labels)  # no overlaps
    assert kinds == set(KINDS)
    assert {s.source for s in corpus} == {"synthetic", "twin"}


def test_contaminated_series_hold_anomalies_in_their_first_15_percent(corpus) -> None:
    contaminated = [s for s in corpus if any(label.end < probation_rows(len(s.frame)) for label in s.labels)]
    assert len(contaminated) == 3  # the last two synthetic series and the first twin
    for series in contaminated:
        share = series.label_mask()[: probation_rows(len(series.frame))].mean()
        assert 0.15 <= share <= 0.25
    clean = [s for s in corpus if s not in contaminated]
    assert all(label.start >= probation_rows(len(s.frame)) for s in clean for label in s.labels)


def test_the_nab_score_of_the_labels_themselves_is_perfect(corpus) -> None:
    files = [s.nab_file() for s in corpus]
    detections = []
    for file in files:
        hits = np.zeros(file.n_rows, dtype=bool)
        hits[[max(start, file.probation) for start, _ in file.scored_windows]] = True
        detections.append(hits)
    assert normalised_score(detections, files) == pytest.approx(100.0)


def test_seeds_make_it_reproducible() -> None:
    one = make_corpus(seed=3, n_synthetic=2, n_twin=1, n_rows=800)
    two = make_corpus(seed=3, n_synthetic=2, n_twin=1, n_rows=800)
    other = make_corpus(seed=4, n_synthetic=2, n_twin=1, n_rows=800)
    for a, b in zip(one, two, strict=True):
        assert a.labels == b.labels
        pd.testing.assert_frame_equal(a.frame, b.frame)
    assert [a.labels for a in one] != [c.labels for c in other]


def test_synthetic_options_shape_the_series() -> None:
    regular = synthetic_series(SeriesConfig(n_rows=400, n_channels=1, freq="10min"), seed=0)
    assert regular["timestamp"].diff().dropna().eq(pd.Timedelta("10min")).all()
    assert str(regular["timestamp"].dt.tz) == "UTC"
    gappy = synthetic_series(SeriesConfig(n_rows=400, n_channels=2, freq="10min", irregular=True, gaps=True), seed=0)
    steps = gappy["timestamp"].diff().dropna()
    assert len(gappy) == 400 and steps.max() > pd.Timedelta("40min") and steps.min() > pd.Timedelta(0)
    assert steps.nunique() > 100
    with pytest.raises(ConfigError):
        SeriesConfig(n_rows=10)


def test_twin_series_are_healthy_machines_with_their_own_channels() -> None:
    machines = twin_series(seed=5, assets=2, days=2, max_channels=4)
    assert len(machines) == 2
    for _, frame in machines:
        assert frame.columns[0] == "timestamp" and 1 <= frame.shape[1] - 1 <= 4 and len(frame) == 288
        assert frame.drop(columns="timestamp").notna().all().all()


def test_files_round_trip_in_nab_layout(corpus, tmp_path) -> None:
    root = write_corpus(corpus[:3], tmp_path / "corpus")
    windows = json.loads((root / "labels.json").read_text())
    first = corpus[0]
    stamps = first.frame["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S.%f").tolist()
    assert windows[f"{first.name}.csv"] == [[stamps[s], stamps[e]] for s, e in first.windows()]
    text = (root / "data" / f"{first.name}.csv").read_text().splitlines()
    assert text[0].split(",")[0] == "timestamp"
    again = read_corpus(root)
    assert [s.name for s in again] == [s.name for s in corpus[:3]]
    for a, b in zip(again, corpus[:3], strict=True):
        assert a.labels == b.labels and a.source == b.source
        pd.testing.assert_frame_equal(a.frame, b.frame, check_dtype=False, rtol=1e-8)
    with pytest.raises(DataNotFoundError, match="injections.json"):
        read_corpus(tmp_path / "nothing")
