"""AI4I 2020 loader: counts from ai4i2020/MANIFEST.md, leakage-safe feature list, folds, and bad files."""

from __future__ import annotations

import numpy as np
import pytest

from forewarn.datasets.ai4i import COLUMNS, FEATURES, MODE_COLUMNS, RAW_HEADER, load_ai4i
from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError


@pytest.fixture(scope="module")
def ai4i(dataset_path):
    return load_ai4i(dataset_path("ai4i2020").parent)


@pytest.mark.needs_data
def test_counts_match_manifest(ai4i):
    frame = ai4i.frame
    assert frame.shape == (10000, 14) and tuple(frame.columns) == COLUMNS
    assert int(frame["machine_failure"].sum()) == 339
    assert {c: int(frame[c].sum()) for c in MODE_COLUMNS} == {"twf": 46, "hdf": 115, "pwf": 95, "osf": 98, "rnf": 19}
    assert frame["type"].value_counts().to_dict() == {"L": 6000, "M": 2997, "H": 1003}
    assert frame["udi"].tolist() == list(range(1, 10001)) and frame["product_id"].is_unique
    any_mode = frame[list(MODE_COLUMNS)].max(axis=1)
    assert int(((frame["machine_failure"] == 1) & (any_mode == 0)).sum()) == 9  # the published file's quirk
    assert int(((frame["machine_failure"] == 0) & (any_mode == 1)).sum()) == 18


@pytest.mark.needs_data
def test_first_row_and_types(ai4i):
    row = ai4i.frame.iloc[0]
    assert (row["udi"], row["product_id"], row["type"]) == (1, "M14860", "M")
    assert (row["air_temperature_k"], row["rotational_speed_rpm"], row["torque_nm"]) == (298.1, 1551, 42.8)
    assert list(ai4i.frame["type"].cat.categories) == ["L", "M", "H"]


@pytest.mark.needs_data
def test_features_never_include_labels(ai4i):
    assert ai4i.features == list(FEATURES) and len(ai4i.features) == 6
    assert ai4i.target == "machine_failure" and ai4i.mode_columns == list(MODE_COLUMNS)
    assert not set(ai4i.features) & {ai4i.target, *ai4i.mode_columns, "udi", "product_id"}
    assert list(ai4i.X.columns) == ai4i.features and ai4i.y.sum() == 339


@pytest.mark.needs_data
def test_stratified_folds_partition_and_balance(ai4i):
    folds = ai4i.stratified_folds(n_splits=5, seed=0)
    assert len(folds) == 5
    tests = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tests), np.arange(10000))
    for train, test in folds:
        assert not np.intersect1d(train, test).size and len(train) + len(test) == 10000
        assert ai4i.y[test].sum() in (67, 68)
    again = ai4i.stratified_folds(n_splits=5, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    other = ai4i.stratified_folds(n_splits=5, seed=1)
    assert not np.array_equal(folds[0][1], other[0][1])
    with pytest.raises(ConfigError, match="n_splits=1"):
        ai4i.stratified_folds(n_splits=1)


# ---------------------------------------------------------------- bad or missing files

GOOD = ["1,M14860,M,298.1,308.6,1551,42.8,0,0,0,0,0,0,0", "2,L47181,L,298.2,308.7,1408,46.3,3,1,0,1,0,0,0"]


def _write(tmp_path, header=RAW_HEADER, rows=GOOD):
    folder = tmp_path / "ai4i2020"
    folder.mkdir()
    text = "\ufeff" + ",".join(header) + "\r\n" + "".join(r + "\r\n" for r in rows)
    (folder / "ai4i2020.csv").write_bytes(text.encode("utf-8"))
    return tmp_path


def test_small_valid_file(tmp_path):
    data = load_ai4i(_write(tmp_path))
    assert data.frame["machine_failure"].tolist() == [0, 1] and data.frame["hdf"].tolist() == [0, 1]


def test_missing_file_names_it(tmp_path):
    (tmp_path / "ai4i2020").mkdir()
    with pytest.raises(DataNotFoundError, match=r"ai4i2020\.csv.*expected layout"):
        load_ai4i(tmp_path)


def test_renamed_header_is_rejected_at_line_1(tmp_path):
    header = tuple("Machine_failure" if h == "Machine failure" else h for h in RAW_HEADER)
    with pytest.raises(SchemaError, match="ai4i2020.csv, line 1: header is") as info:
        load_ai4i(_write(tmp_path, header=header))
    assert info.value.line == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("3,H1,H,298.1,308.6,1551,42.8,0,0,0", "line 4: expected 14 fields, found 10"),
        ("3,H1,H,298.1,308.6,fast,42.8,0,0,0,0,0,0,0", r"line 4: field 6 \('fast'\) is not a number"),
        ("3,H1,H,298.1,308.6,1551,42.8,0,2,0,0,0,0,0", "line 4, column 'Machine failure': value 2 is not 0 or 1"),
        ("3,X1,X,298.1,308.6,1551,42.8,0,0,0,0,0,0,0", "line 4, column 'Type': type 'X' is not one of L, M, H"),
        ("2,H1,H,298.1,308.6,1551,42.8,0,0,0,0,0,0,0", "line 4, column 'UDI': UDI 2 appears twice"),
    ],
)
def test_bad_rows_are_reported_with_their_line(tmp_path, row, message):
    with pytest.raises(SchemaError, match=message):
        load_ai4i(_write(tmp_path, rows=[*GOOD, row]))
