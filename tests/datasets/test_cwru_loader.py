"""CWRU loader: recordings and sample counts from cwru/MANIFEST.md, the split-by-position protocol, bad files."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forewarn.datasets import cwru
from forewarn.datasets.cwru import LABELS, load_cwru, segment_by_position, segment_starts
from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError

# label: file stem, samples, DE RMS (cwru/MANIFEST.md)
MANIFEST = {
    "normal": ("1797_Normal", 243938, 0.0738),
    "IR_007": ("1797_IR_7_DE12", 121265, 0.2915),
    "IR_014": ("1797_IR_14_DE12", 121846, 0.1978),
    "IR_021": ("1797_IR_21_DE12", 122136, 0.5254),
    "B_007": ("1797_B_7_DE12", 122571, 0.1392),
    "B_014": ("1797_B_14_DE12", 121846, 0.1527),
    "B_021": ("1797_B_21_DE12", 121991, 0.1356),
    "OR_007": ("1797_OR@6_7_DE12", 121991, 0.6695),
    "OR_014": ("1797_OR@6_14_DE12", 121846, 0.1007),
    "OR_021": ("1797_OR@6_21_DE12", 122426, 0.5832),
}


@pytest.fixture(scope="module")
def data(dataset_path):
    return load_cwru(dataset_path("cwru").parent)


@pytest.mark.needs_data
def test_ten_recordings_match_manifest(data):
    assert data.labels == list(LABELS) == list(MANIFEST)
    for rec in data.recordings:
        stem, samples, rms = MANIFEST[rec.label]
        assert rec.name == stem and rec.rpm == 1797
        assert rec.signal.shape == (samples,) and rec.signal.dtype == np.float64
        assert rec.fe is not None and rec.fe.shape == (samples,)
        assert round(float(np.sqrt(np.mean(rec.signal**2))), 4) == rms


@pytest.mark.needs_data
def test_fault_descriptions_and_the_rate_caveat(data):
    by_label = {r.label: r for r in data.recordings}
    assert (by_label["IR_007"].fault_type, by_label["IR_007"].fault_size_in) == ("inner_race", 0.007)
    assert (by_label["OR_021"].fault_type, by_label["OR_021"].fault_size_in) == ("outer_race", 0.021)
    assert (by_label["B_014"].fault_type, by_label["B_014"].fault_size_in) == ("ball", 0.014)
    normal = by_label["normal"]
    assert (normal.fault_type, normal.fault_size_in, normal.sampling_rate_hz) == ("normal", None, 12000)
    assert normal.rate_verified is False and all(r.rate_verified for r in data.recordings[1:])
    assert "48 kHz" in cwru.__doc__
    assert by_label["IR_007"].duration_s == pytest.approx(121265 / 12000)


@pytest.mark.needs_data
def test_split_by_position_has_no_overlap(data):
    for rec in data.recordings:
        n = len(rec.signal)
        train, test = segment_by_position(rec, length=2048, train_fraction=0.7)
        starts_train, starts_test = segment_starts(n, 2048, 0.7)
        cut = int(n * 0.7)
        assert train.shape == (len(starts_train), 2048) and test.shape == (len(starts_test), 2048)
        assert starts_train[-1] + 2048 <= cut <= starts_test[0] and starts_test[-1] + 2048 <= n
        assert np.array_equal(train[-1], rec.signal[starts_train[-1] : starts_train[-1] + 2048])
        assert np.array_equal(test[0], rec.signal[cut : cut + 2048])
    normal_train, normal_test = segment_by_position(data.recordings[0], length=2048, train_fraction=0.7)
    assert (len(normal_train), len(normal_test)) == (83, 35)  # 170756 // 2048, 73182 // 2048


@given(n=st.integers(0, 5000), length=st.integers(1, 600), fraction=st.floats(0.01, 0.99), step=st.integers(1, 700))
def test_segment_starts_never_cross_the_cut(n, length, fraction, step):
    train, test = segment_starts(n, length, fraction, step)
    cut = int(n * fraction)
    assert np.all(train + length <= cut) and np.all(test >= cut) and np.all(test + length <= n)
    assert np.all(np.diff(train) == step) and np.all(np.diff(test) == step)
    # maximal: one more step would not fit
    assert (train[-1] if len(train) else -step) + step + length > cut
    assert (test[-1] if len(test) else cut - step) + step + length > n


def test_overlapping_step_and_bad_arguments():
    train, test = segment_by_position(np.arange(20.0), length=4, train_fraction=0.5, step=2)
    assert train[:, 0].tolist() == [0.0, 2.0, 4.0, 6.0] and test[:, 0].tolist() == [10.0, 12.0, 14.0, 16.0]
    with pytest.raises(ConfigError, match="train_fraction"):
        segment_by_position(np.arange(10.0), length=2, train_fraction=1.0)
    with pytest.raises(ConfigError, match="length=0"):
        segment_by_position(np.arange(10.0), length=0)
    with pytest.raises(ConfigError, match="1-D"):
        segment_by_position(np.zeros((3, 3)), length=2)


# ---------------------------------------------------------------- bad or missing files


def test_missing_and_corrupt_files(tmp_path):
    folder = tmp_path / "cwru"
    folder.mkdir()
    with pytest.raises(DataNotFoundError, match="no CWRU recordings.*expected layout"):
        load_cwru(tmp_path)
    np.savez(folder / "1797_IR_7_DE12.npz", DE=np.ones((10, 1)), FE=np.ones((10, 1)))
    np.savez(folder / "notes.npz", x=np.ones(3))  # not a recording name: ignored
    data = load_cwru(tmp_path)
    assert data.labels == ["IR_007"] and data.recordings[0].signal.shape == (10,)
    good = (folder / "1797_IR_7_DE12.npz").read_bytes()
    (folder / "1797_B_7_DE12.npz").write_bytes(good[: len(good) // 2])
    with pytest.raises(SchemaError, match=r"1797_B_7_DE12\.npz: cannot read the \.npz"):
        load_cwru(tmp_path)
    np.savez(folder / "1797_B_7_DE12.npz", FE=np.ones(10))
    with pytest.raises(SchemaError, match=r"1797_B_7_DE12\.npz: no DE array \(has FE\)"):
        load_cwru(tmp_path)
    np.savez(folder / "1797_B_7_DE12.npz", DE=np.array([1.0, np.nan]))
    with pytest.raises(SchemaError, match="non-finite values at sample 1"):
        load_cwru(tmp_path)
    np.savez(folder / "1797_B_7_DE12.npz", DE=np.ones(4), FE=np.ones(5))
    with pytest.raises(SchemaError, match="FE has 5 samples but DE has 4"):
        load_cwru(tmp_path)


def test_pickled_npz_is_refused(tmp_path):
    folder = tmp_path / "cwru"
    folder.mkdir()
    np.savez(folder / "1797_Normal.npz", DE=np.array([{"a": 1}], dtype=object))
    with pytest.raises(SchemaError, match="1797_Normal.npz"):
        load_cwru(tmp_path)
