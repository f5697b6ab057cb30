"""Loaders for the public benchmark datasets, read from the data directory (``--data-dir`` / ``FOREWARN_DATA_DIR``).

Each loader takes ``data_dir=None`` (resolved by :func:`forewarn.config.dataset_dir`), raises
:class:`~forewarn.exceptions.DataNotFoundError` naming the missing file and the expected layout, and
:class:`~forewarn.exceptions.SchemaError` naming the file (and line) of a file with the wrong shape.

===========  ===================  ============================================================
name         folder               loader
===========  ===================  ============================================================
``cmapss``   ``cmapss/``          :func:`load_cmapss` (turbofan run-to-failure, RUL)
``ai4i``     ``ai4i2020/``        :func:`load_ai4i` (machine failure classification)
``skab``     ``skab/``            :func:`load_skab` (anomaly and changepoint detection)
``cwru``     ``cwru/``            :func:`load_cwru` (bearing fault classification)
``femto``    ``phm2012_femto/``   :func:`load_femto` (bearing run-to-failure, RUL)
``neu``      ``neu_det/``         :func:`load_neu` (steel surface defect images and boxes)
===========  ===================  ============================================================

>>> sorted(DATASETS) == sorted(DATASET_FOLDERS)
True
>>> DATASET_FOLDERS["femto"]
'phm2012_femto'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from forewarn.datasets import ai4i, cmapss, cwru, femto, neu, skab
from forewarn.datasets.ai4i import AI4IData, load_ai4i
from forewarn.datasets.cmapss import CMAPSSData, available_subsets, last_cycles, load_cmapss, train_rul
from forewarn.datasets.cwru import CWRUData, CWRURecording, load_cwru, segment_by_position
from forewarn.datasets.femto import FEMTOBearing, FEMTOData, load_femto
from forewarn.datasets.neu import NEUBox, NEUData, NEUImage, load_neu
from forewarn.datasets.skab import SKABData, SKABFile, load_skab

DATASETS: dict[str, Callable[..., Any]] = {
    "cmapss": load_cmapss,
    "ai4i": load_ai4i,
    "skab": load_skab,
    "cwru": load_cwru,
    "femto": load_femto,
    "neu": load_neu,
}
DATASET_FOLDERS: dict[str, str] = {
    "cmapss": cmapss.FOLDER,
    "ai4i": ai4i.FOLDER,
    "skab": skab.FOLDER,
    "cwru": cwru.FOLDER,
    "femto": femto.FOLDER,
    "neu": neu.FOLDER,
}

__all__ = [
    "DATASETS",
    "DATASET_FOLDERS",
    "AI4IData",
    "load_ai4i",
    "CMAPSSData",
    "available_subsets",
    "last_cycles",
    "load_cmapss",
    "train_rul",
    "CWRUData",
    "CWRURecording",
    "load_cwru",
    "segment_by_position",
    "FEMTOBearing",
    "FEMTOData",
    "load_femto",
    "NEUBox",
    "NEUData",
    "NEUImage",
    "load_neu",
    "SKABData",
    "SKABFile",
    "load_skab",
]
