"""SKAB, the Skoltech Anomaly Benchmark (Katser & Kozitsin 2020): a water-circulation test rig, 1 Hz.

Layout: ``<data dir>/skab/data/{valve1,valve2,other}/<n>.csv`` (34 labelled files) and
``skab/data/anomaly-free/anomaly-free.csv``. Files are semicolon-separated with a header: ``datetime``,
eight sensors (:data:`SENSORS`), then ``anomaly`` and ``changepoint`` (0/1) in labelled files.

The benchmark's split (its leaderboard's ``preprocess_skab``): in each labelled file, the first 400 rows
are training data and the rest is test data (:func:`split`); the anomaly-free file is not part of it.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp()); (root / "skab/data/valve1").mkdir(parents=True)
>>> (root / "skab/data/anomaly-free").mkdir()
>>> header = ";".join(("datetime",) + SENSORS)
>>> lines = [f"2020-03-09 10:14:{s:02d};" + ";".join(["1.0"] * 8) for s in range(6)]
>>> _ = (root / "skab/data/anomaly-free/anomaly-free.csv").write_text("\\n".join([header] + lines) + "\\n")
>>> labelled = [line + f";{int(i >= 4)}.0;{int(i == 4)}.0" for i, line in enumerate(lines)]
>>> _ = (root / "skab/data/valve1/0.csv").write_text(
...     "\\n".join([header + ";anomaly;changepoint"] + labelled) + "\\n")
>>> data = load_skab(root)
>>> [f.name for f in data.files], [len(part) for part in split(data.files[0], n_train=4)]
(['valve1/0'], [4, 2])
>>> data.files[0].frame["anomaly"].tolist(), str(data.files[0].frame.index.dtype)
([0, 0, 0, 0, 1, 1], 'datetime64[us, UTC]')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forewarn.datasets._io import check_binary, dataset_folder, read_delimited, require_file
from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError
from forewarn.schema import TS_DTYPE

FOLDER = "skab"
LAYOUT = "skab/data/{valve1,valve2,other}/<n>.csv and skab/data/anomaly-free/anomaly-free.csv (';'-separated)"
SENSORS = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)
LABELS = ("anomaly", "changepoint")
N_TRAIN = 400
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, eq=False)
class SKABFile:
    """One labelled experiment: ``name`` like ``"valve1/0"``; ``frame`` indexed by UTC ``datetime``."""

    name: str
    frame: pd.DataFrame


@dataclass(frozen=True, eq=False)
class SKABData:
    """All labelled files (in folder, then numeric order) and the anomaly-free recording."""

    files: list[SKABFile]
    anomaly_free: pd.DataFrame
    SENSORS: tuple[str, ...] = SENSORS

    def file(self, name: str) -> SKABFile:
        """The labelled file called ``name`` (e.g. ``"valve2/3"``)."""
        for item in self.files:
            if item.name == name:
                return item
        raise DataNotFoundError(f"no SKAB file {name!r}; have {', '.join(f.name for f in self.files)}")


def _read(path: Path, source: str, labelled: bool) -> pd.DataFrame:
    names = ("datetime",) + SENSORS + (LABELS if labelled else ())
    dtypes = {name: "float64" for name in names}
    dtypes["datetime"] = "str"
    frame = read_delimited(path, names=names, sep=";", dtype=dtypes, header=names, source=source)
    stamps = pd.to_datetime(frame["datetime"], format=_TIME_FORMAT, utc=True, errors="coerce")
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise SchemaError(
            f"cannot parse datetime {frame['datetime'].iloc[row]!r}",
            source=source,
            line=row + 2,
            column="datetime",
            hint="expected YYYY-MM-DD hh:mm:ss",
        )
    if labelled:
        frame = check_binary(frame, LABELS, source=source, first_line=2)
    frame.index = pd.DatetimeIndex(stamps.astype(TS_DTYPE), name="datetime")
    return frame.drop(columns="datetime")


def _sort_key(path: Path) -> tuple[str, int, str]:
    return (path.parent.name, int(path.stem) if path.stem.isdigit() else -1, path.stem)


def load_skab(data_dir: str | os.PathLike[str] | None = None) -> SKABData:
    """Load every labelled SKAB file and the anomaly-free recording."""
    root = dataset_folder(FOLDER, data_dir, LAYOUT) / "data"
    free_path = require_file(root / "anomaly-free" / "anomaly-free.csv", LAYOUT)
    paths = sorted((p for p in root.glob("*/*.csv") if p.parent.name != "anomaly-free"), key=_sort_key)
    if not paths:
        raise DataNotFoundError(f"no labelled SKAB files under {str(root)!r}; expected layout: {LAYOUT}")
    files = []
    for path in paths:
        name = f"{path.parent.name}/{path.stem}"
        files.append(SKABFile(name=name, frame=_read(path, f"skab/data/{name}.csv", labelled=True)))
    free = _read(free_path, "skab/data/anomaly-free/anomaly-free.csv", labelled=False)
    return SKABData(files=files, anomaly_free=free)


def split(file: SKABFile | pd.DataFrame, n_train: int = N_TRAIN) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The benchmark split of one file: its first ``n_train`` rows (train) and the remaining rows (test).

    >>> frame = pd.DataFrame({"Current": range(10)})
    >>> train, test = split(frame, n_train=3)
    >>> train["Current"].tolist(), test["Current"].tolist()[:2]
    ([0, 1, 2], [3, 4])
    """
    frame = file.frame if isinstance(file, SKABFile) else file
    if not 0 < n_train < len(frame):
        raise ConfigError(f"n_train={n_train} must be between 1 and {len(frame) - 1} for a file of {len(frame)} rows")
    return frame.iloc[:n_train], frame.iloc[n_train:]
