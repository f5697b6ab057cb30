"""AI4I 2020 predictive maintenance (UCI; Matzka 2020): 10,000 synthetic milling-machine process records.

Layout: ``<data dir>/ai4i2020/ai4i2020.csv`` (UTF-8 with BOM, CRLF, comma-separated, one header row).
The target is ``machine_failure``; the five failure-mode flags (``twf``, ``hdf``, ``pwf``, ``osf``, ``rnf``)
describe *why* a machine failed and must never be used as features (they leak the label). The published
file's failure flag is not exactly the OR of the mode flags; that quirk is kept as is.

There is no standard split: use :meth:`AI4IData.stratified_folds` (stratified k-fold on the target).

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp()); (root / "ai4i2020").mkdir()
>>> rows = [f"{i},L{i},L,298.1,308.6,1551,42.8,{i},{i % 2},0,0,0,0,0" for i in range(1, 11)]
>>> _ = (root / "ai4i2020" / "ai4i2020.csv").write_bytes(
...     ("\\ufeff" + ",".join(RAW_HEADER) + "\\r\\n" + "\\r\\n".join(rows) + "\\r\\n").encode("utf-8"))
>>> data = load_ai4i(root)
>>> data.frame.shape, int(data.frame[data.target].sum()), [len(test) for _, test in data.stratified_folds(2)]
((10, 14), 5, [5, 5])
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forewarn.datasets._io import check_binary, dataset_folder, read_delimited, require_file
from forewarn.exceptions import ConfigError, SchemaError

FOLDER = "ai4i2020"
FILE = "ai4i2020.csv"
LAYOUT = "ai4i2020/ai4i2020.csv (UCI AI4I 2020, comma-separated, header row)"
RAW_HEADER = (
    "UDI",
    "Product ID",
    "Type",
    "Air temperature [K]",
    "Process temperature [K]",
    "Rotational speed [rpm]",
    "Torque [Nm]",
    "Tool wear [min]",
    "Machine failure",
    "TWF",
    "HDF",
    "PWF",
    "OSF",
    "RNF",
)
COLUMNS = (
    "udi",
    "product_id",
    "type",
    "air_temperature_k",
    "process_temperature_k",
    "rotational_speed_rpm",
    "torque_nm",
    "tool_wear_min",
    "machine_failure",
    "twf",
    "hdf",
    "pwf",
    "osf",
    "rnf",
)
FEATURES = ("type", "air_temperature_k", "process_temperature_k", "rotational_speed_rpm", "torque_nm", "tool_wear_min")
TARGET = "machine_failure"
MODE_COLUMNS = ("twf", "hdf", "pwf", "osf", "rnf")
# Product quality variant: low, medium, high (the letter that starts each product id).
TYPES = ("L", "M", "H")
DTYPES = {
    "udi": "int64",
    "product_id": "str",
    "type": "str",
    "air_temperature_k": "float64",
    "process_temperature_k": "float64",
    "rotational_speed_rpm": "int64",
    "torque_nm": "float64",
    "tool_wear_min": "int64",
    "machine_failure": "int64",
    "twf": "int64",
    "hdf": "int64",
    "pwf": "int64",
    "osf": "int64",
    "rnf": "int64",
}


@dataclass(frozen=True, eq=False)
class AI4IData:
    """The AI4I frame with cleaned column names, the process ``features``, the ``target`` and ``mode_columns``.

    ``type`` is a categorical column with categories ``L``, ``M``, ``H``.
    """

    frame: pd.DataFrame
    features: list[str]
    target: str
    mode_columns: list[str]

    @property
    def X(self) -> pd.DataFrame:  # noqa: N802 - the scikit-learn name
        """The feature columns only (no target, no failure-mode flags)."""
        return self.frame[self.features]

    @property
    def y(self) -> np.ndarray:
        """The target as an int64 array."""
        return self.frame[self.target].to_numpy(dtype="int64")

    def stratified_folds(self, n_splits: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        """``n_splits`` (train index, test index) pairs of a shuffled k-fold stratified on the target."""
        if not 2 <= n_splits <= int(np.bincount(self.y).min()):
            raise ConfigError(
                f"n_splits={n_splits} needs 2 <= n_splits <= the count of the rarer class "
                f"({int(np.bincount(self.y).min())})"
            )
        from sklearn.model_selection import StratifiedKFold  # imported here: keeps `import forewarn` light

        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return [(train, test) for train, test in folds.split(np.zeros(len(self.frame)), self.y)]


def load_ai4i(data_dir: str | os.PathLike[str] | None = None) -> AI4IData:
    """Load ``ai4i2020/ai4i2020.csv``, check its header, types and flags, and return :class:`AI4IData`."""
    path = require_file(dataset_folder(FOLDER, data_dir, LAYOUT) / FILE, LAYOUT)
    frame = read_delimited(path, names=COLUMNS, sep=",", dtype=DTYPES, header=RAW_HEADER, encoding="utf-8-sig")
    frame = check_binary(
        frame,
        (TARGET, *MODE_COLUMNS),
        source=FILE,
        first_line=2,
        file_names=dict(zip(COLUMNS, RAW_HEADER, strict=True)),
    )
    bad = ~frame["type"].isin(TYPES).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SchemaError(
            f"type {frame['type'].iloc[row]!r} is not one of {', '.join(TYPES)}",
            source=FILE,
            line=row + 2,
            column="Type",
            hint="restore the file from the original dataset",
        )
    duplicated = frame["udi"].duplicated().to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise SchemaError(f"UDI {frame['udi'].iloc[row]} appears twice", source=FILE, line=row + 2, column="UDI")
    frame["type"] = pd.Categorical(frame["type"], categories=list(TYPES))
    return AI4IData(frame=frame, features=list(FEATURES), target=TARGET, mode_columns=list(MODE_COLUMNS))
