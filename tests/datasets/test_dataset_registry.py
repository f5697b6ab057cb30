"""The DATASETS mapping and the behaviour every loader shares: data-dir resolution and missing folders."""

from __future__ import annotations

import pytest

from forewarn.datasets import DATASET_FOLDERS, DATASETS
from forewarn.exceptions import DataNotFoundError


def test_every_dataset_has_a_loader_and_a_folder():
    assert set(DATASETS) == set(DATASET_FOLDERS) == {"cmapss", "ai4i", "skab", "cwru", "femto", "neu"}
    assert set(DATASET_FOLDERS.values()) == {"cmapss", "ai4i2020", "skab", "cwru", "phm2012_femto", "neu_det"}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_missing_dataset_folder_names_the_layout(tmp_path, name):
    with pytest.raises(DataNotFoundError, match=f"{DATASET_FOLDERS[name]}.*expected layout") as info:
        DATASETS[name](data_dir=tmp_path)
    assert isinstance(info.value, FileNotFoundError)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_no_data_directory_at_all_says_how_to_set_one(tmp_path, monkeypatch, name):
    monkeypatch.delenv("FOREWARN_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./data here
    with pytest.raises(DataNotFoundError, match="FOREWARN_DATA_DIR"):
        DATASETS[name]()


@pytest.mark.needs_data
def test_loaders_read_the_directory_from_the_environment(dataset_path, monkeypatch):
    monkeypatch.setenv("FOREWARN_DATA_DIR", str(dataset_path("ai4i2020").parent))
    assert len(DATASETS["ai4i"]().frame) == 10000
