"""C-MAPSS loader: counts from cmapss/MANIFEST.md, the standard protocol helpers, and bad files."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.datasets.cmapss import (
    COLUMNS,
    SENSORS,
    SETTINGS,
    available_subsets,
    last_cycles,
    load_cmapss,
    to_readings,
    train_rul,
)
from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError
from forewarn.schema import to_long_readings

# subset: train rows, train units, life min/max, test rows, test units, test length min/max, RUL min/max
MANIFEST = {
    "FD001": (20631, 100, (128, 362), 13096, 100, (31, 303), (7, 145)),
    "FD002": (53759, 260, (128, 378), 33991, 259, (21, 367), (6, 194)),
    "FD004": (61249, 249, (128, 543), 41214, 248, (19, 486), (6, 195)),
}


@pytest.fixture(scope="module")
def subsets(dataset_path):
    root = dataset_path("cmapss").parent
    return {name: load_cmapss(name, data_dir=root) for name in MANIFEST}


@pytest.mark.needs_data
def test_available_subsets_are_the_three_shipped(dataset_path):
    assert available_subsets(dataset_path("cmapss").parent) == ["FD001", "FD002", "FD004"]


@pytest.mark.needs_data
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_counts_match_manifest(subsets, name):
    train_rows, train_units, life, test_rows, test_units, test_len, rul_range = MANIFEST[name]
    data = subsets[name]
    assert data.subset == name
    assert len(data.train) == train_rows and data.train["unit"].nunique() == train_units
    lives = data.train.groupby("unit")["cycle"].max()
    assert (int(lives.min()), int(lives.max())) == life
    assert len(data.test) == test_rows and data.test["unit"].nunique() == test_units
    lengths = data.test.groupby("unit")["cycle"].max()
    assert (int(lengths.min()), int(lengths.max())) == test_len
    assert len(data.test_rul) == test_units
    assert (int(data.test_rul["rul"].min()), int(data.test_rul["rul"].max())) == rul_range
    assert data.test_rul["unit"].tolist() == list(range(1, test_units + 1))


@pytest.mark.needs_data
def test_columns_and_dtypes(subsets):
    train = subsets["FD001"].train
    assert tuple(train.columns) == COLUMNS == ("unit", "cycle", *SETTINGS, *SENSORS)
    assert len(SENSORS) == 21 and len(SETTINGS) == 3
    assert str(train["unit"].dtype) == "int64" and str(train["cycle"].dtype) == "int64"
    assert all(str(train[c].dtype) == "float64" for c in SETTINGS + SENSORS)
    # first row of train_FD001.txt: "1 1 -0.0007 -0.0004 100.0 518.67 641.82 ..."
    assert train.iloc[0][["setting_1", "setting_2", "sensor_1", "sensor_2"]].tolist() == [
        -0.0007,
        -0.0004,
        518.67,
        641.82,
    ]


@pytest.mark.needs_data
def test_train_rul_cap_125_and_uncapped(subsets):
    train = subsets["FD001"].train
    capped, raw = train_rul(train), train_rul(train, cap=None)
    assert capped["rul"].max() == 125 and raw["rul"].max() == 361  # longest life 362 cycles
    last = raw.groupby("unit").tail(1)
    assert (last["rul"] == 0).all()
    assert (capped["rul"] == raw["rul"].clip(upper=125)).all()
    assert "rul" not in train.columns  # the input is not mutated


@pytest.mark.needs_data
def test_last_cycles_pair_with_true_rul(subsets):
    data = subsets["FD001"]
    last = last_cycles(data.test)
    assert len(last) == 100 and last["unit"].tolist() == list(range(1, 101))
    assert (last["cycle"].to_numpy() == data.test.groupby("unit")["cycle"].max().to_numpy()).all()
    assert (int(last["cycle"].min()), int(last["cycle"].max())) == (31, 303)


@pytest.mark.needs_data
def test_to_readings_wide_frame_for_the_store(subsets):
    test = subsets["FD001"].test
    readings = to_readings(train_rul(test), "FD001-test")
    assert len(readings) == len(test) and "rul" not in readings.columns
    assert readings["asset_id"].nunique() == 100 and readings["asset_id"].iloc[0] == "FD001-test-001"
    assert str(readings["ts"].dtype) == "datetime64[us, UTC]"
    assert readings["ts"].iloc[0] == pd.Timestamp("2000-01-01T01:00:00Z")
    assert readings.groupby("asset_id")["ts"].apply(lambda s: s.is_monotonic_increasing).all()
    unit = readings[readings["asset_id"] == "FD001-test-007"]
    long = to_long_readings(unit)
    assert len(long) == len(unit) * 24 and set(long["channel"]) == set(SETTINGS + SENSORS)


# ---------------------------------------------------------------- bad or missing files (tmp dirs, no real data)

ROW = " ".join(["0.5"] * 24)


def _write_subset(root: Path, *, train: str, test: str, rul: str | None, compress: bool = False) -> Path:
    folder = root / "cmapss"
    folder.mkdir(parents=True, exist_ok=True)
    for kind, text in (("train", train), ("test", test), ("RUL", rul)):
        if text is None:
            continue
        if compress:
            (folder / f"{kind}_FD001.txt.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (folder / f"{kind}_FD001.txt").write_text(text)
    return root


def _trajectories(units: dict[int, int]) -> str:
    return "".join(f"{u} {c} {ROW}  \n" for u, n in units.items() for c in range(1, n + 1))


def test_gzip_and_plain_files_are_both_read(tmp_path):
    gz = load_cmapss(
        "fd001",
        _write_subset(
            tmp_path / "gz", train=_trajectories({1: 3, 2: 2}), test=_trajectories({1: 1}), rul="5\n", compress=True
        ),
    )
    plain = load_cmapss(
        "FD001",
        _write_subset(tmp_path / "plain", train=_trajectories({1: 3, 2: 2}), test=_trajectories({1: 1}), rul="5\n"),
    )
    pd.testing.assert_frame_equal(gz.train, plain.train)
    assert gz.test_rul["rul"].tolist() == [5]


def test_missing_rul_file_names_it_and_the_layout(tmp_path):
    root = _write_subset(tmp_path, train=_trajectories({1: 3}), test=_trajectories({1: 1}), rul=None)
    with pytest.raises(DataNotFoundError, match=r"RUL_FD001\.txt\.gz.*expected layout"):
        load_cmapss("FD001", root)
    assert available_subsets(root) == []


def test_missing_folder_and_bad_subset(tmp_path):
    with pytest.raises(DataNotFoundError, match="cmapss"):
        load_cmapss("FD001", tmp_path)
    with pytest.raises(ConfigError, match="FD005X"):
        load_cmapss("FD005x", tmp_path)


def test_short_line_is_reported_with_its_line_number(tmp_path):
    text = _trajectories({1: 4})
    lines = text.splitlines(keepends=True)
    lines[2] = "1 3 0.5 0.5\n"
    root = _write_subset(tmp_path, train="".join(lines), test=_trajectories({1: 1}), rul="1\n")
    with pytest.raises(SchemaError, match="line 3: expected 26 fields, found 4") as info:
        load_cmapss("FD001", root)
    assert info.value.source == "train_FD001.txt" and info.value.line == 3


def test_text_in_a_numeric_column(tmp_path):
    text = _trajectories({1: 2}).replace(" 0.5 ", " n/a ", 1)
    root = _write_subset(tmp_path, train=_trajectories({1: 2}), test=text, rul="1\n")
    with pytest.raises(SchemaError, match=r"test_FD001\.txt, line 1: field 3 \('n/a'\) is not a number"):
        load_cmapss("FD001", root)


def test_reordered_cycles_and_wrong_rul_count(tmp_path):
    root = _write_subset(
        tmp_path / "a", train=_trajectories({1: 2}) + f"1 5 {ROW}\n", test=_trajectories({1: 1}), rul="1\n"
    )
    with pytest.raises(SchemaError, match="line 3: unit 1 cycle 5 breaks the order"):
        load_cmapss("FD001", root)
    root = _write_subset(tmp_path / "b", train=_trajectories({1: 2}), test=_trajectories({1: 1, 2: 1}), rul="1\n")
    with pytest.raises(SchemaError, match="RUL_FD001.txt: has 1 values but FD001 test has 2 units"):
        load_cmapss("FD001", root)


@pytest.mark.needs_data
def test_truncated_gzip_of_the_real_file(dataset_path, tmp_path):
    source = dataset_path("cmapss")
    folder = tmp_path / "cmapss"
    folder.mkdir()
    for name in ("test_FD001.txt.gz", "RUL_FD001.txt.gz"):
        shutil.copy(source / name, folder / name)
    data = (source / "train_FD001.txt.gz").read_bytes()
    (folder / "train_FD001.txt.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(SchemaError, match=r"train_FD001\.txt\.gz") as info:
        load_cmapss("FD001", tmp_path)
    assert "restore it" in str(info.value)


def test_data_dir_from_environment(tmp_path, monkeypatch):
    root = _write_subset(tmp_path, train=_trajectories({1: 3}), test=_trajectories({1: 2}), rul="9\n")
    monkeypatch.setenv("FOREWARN_DATA_DIR", str(root))
    data = load_cmapss()
    assert len(data.train) == 3 and np.array_equal(last_cycles(data.test)["cycle"], [2])
