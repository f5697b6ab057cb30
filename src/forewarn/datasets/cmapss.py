"""NASA C-MAPSS turbofan engine degradation (Saxena et al., PHM08): train, test and true RUL per subset.

Layout: ``<data dir>/cmapss/`` holds ``train_FD00x.txt.gz``, ``test_FD00x.txt.gz`` and ``RUL_FD00x.txt.gz``
(plain ``.txt`` is accepted too). Each text file is whitespace-separated without header: unit, cycle,
three operational settings, 21 sensors. A ``RUL`` file has one integer per test unit: the true remaining
cycles after that unit's last test cycle.

The standard protocol: train on ``train`` with the RUL target capped at 125 cycles (:func:`train_rul`),
predict at each test unit's last cycle (:func:`last_cycles`) and score against the *uncapped* ``test_rul``.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp()); (root / "cmapss").mkdir()
>>> row = " ".join(["0.1"] * 24)
>>> _ = (root / "cmapss" / "train_FD001.txt").write_text("".join(f"1 {c} {row}\\n" for c in (1, 2, 3)))
>>> _ = (root / "cmapss" / "test_FD001.txt").write_text(f"1 1 {row}\\n")
>>> _ = (root / "cmapss" / "RUL_FD001.txt").write_text("42\\n")
>>> data = load_cmapss("FD001", data_dir=root)
>>> len(data.train), data.test_rul["rul"].tolist(), available_subsets(root)
(3, [42], ['FD001'])
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forewarn.datasets._io import dataset_folder, first_existing, read_delimited
from forewarn.exceptions import ConfigError, SchemaError
from forewarn.schema import TS_DTYPE

FOLDER = "cmapss"
LAYOUT = "cmapss/train_FD00x.txt.gz, cmapss/test_FD00x.txt.gz, cmapss/RUL_FD00x.txt.gz (or uncompressed .txt)"
KEYS = ("unit", "cycle")
SETTINGS = tuple(f"setting_{i}" for i in range(1, 4))
SENSORS = tuple(f"sensor_{i}" for i in range(1, 22))
COLUMNS = KEYS + SETTINGS + SENSORS
DTYPES = {name: ("int64" if name in KEYS else "float64") for name in COLUMNS}
RUL_CAP = 125
# One cycle is one flight; readings get a timestamp of this arbitrary origin + cycle hours (only order matters).
ORIGIN = pd.Timestamp("2000-01-01T00:00:00Z")
_SUBSET = re.compile(r"FD\d{3}")


@dataclass(frozen=True, eq=False)
class CMAPSSData:
    """One C-MAPSS subset: ``train`` and ``test`` (columns :data:`COLUMNS`), ``test_rul`` (unit, rul)."""

    subset: str
    train: pd.DataFrame
    test: pd.DataFrame
    test_rul: pd.DataFrame


def _stems(kind: str, subset: str) -> tuple[str, str]:
    return f"{kind}_{subset}.txt.gz", f"{kind}_{subset}.txt"


def available_subsets(data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The subsets (``FD001``...) whose train, test and RUL files are all present, sorted."""
    folder = dataset_folder(FOLDER, data_dir, LAYOUT)
    found = set()
    for path in folder.glob("train_FD*.txt*"):
        match = _SUBSET.search(path.name)
        if match and all(
            any((folder / s).is_file() for s in _stems(kind, match.group())) for kind in ("train", "test", "RUL")
        ):
            found.add(match.group())
    return sorted(found)


def _check_trajectories(frame: pd.DataFrame, source: str) -> None:
    """Units must be 1..N in file order and each unit's cycles must run 1, 2, 3... without gaps."""
    units = frame["unit"].to_numpy()
    cycles = frame["cycle"].to_numpy()
    if len(frame) == 0:
        raise SchemaError("file has no rows", source=source, hint="restore it from the original dataset")
    step = np.diff(units)
    new_unit = np.concatenate(([True], step != 0))
    bad_unit = np.concatenate(([units[0] != 1], (step != 0) & (step != 1)))
    expected = np.arange(len(frame)) - np.maximum.accumulate(np.where(new_unit, np.arange(len(frame)), 0)) + 1
    bad = bad_unit | (cycles != expected)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SchemaError(
            f"unit {units[row]} cycle {cycles[row]} breaks the order (units 1..N, cycles 1, 2, 3... per unit)",
            source=source,
            line=row + 1,
            hint="the rows were reordered or cut; restore the original file",
        )


def _read_trajectories(folder: Path, kind: str, subset: str) -> pd.DataFrame:
    path = first_existing(folder, _stems(kind, subset), LAYOUT)
    frame = read_delimited(path, names=COLUMNS, sep=None, dtype=DTYPES)
    _check_trajectories(frame, path.name)
    return frame


def load_cmapss(subset: str = "FD001", data_dir: str | os.PathLike[str] | None = None) -> CMAPSSData:
    """Load one C-MAPSS subset (``FD001``, ``FD002``, ``FD003`` or ``FD004``, as far as present)."""
    subset = str(subset).upper()
    if not _SUBSET.fullmatch(subset):
        raise ConfigError(f"subset {subset!r} is not a C-MAPSS subset name; use FD001, FD002, FD003 or FD004")
    folder = dataset_folder(FOLDER, data_dir, LAYOUT)
    train = _read_trajectories(folder, "train", subset)
    test = _read_trajectories(folder, "test", subset)
    rul_path = first_existing(folder, _stems("RUL", subset), LAYOUT)
    rul = read_delimited(rul_path, names=["rul"], sep=None, dtype="int64")
    n_test_units = int(test["unit"].iloc[-1])
    if len(rul) != n_test_units:
        raise SchemaError(
            f"has {len(rul)} values but {subset} test has {n_test_units} units",
            source=rul_path.name,
            hint="RUL and test files must come from the same subset",
        )
    if (rul["rul"] < 0).any():
        row = int(np.flatnonzero(rul["rul"].to_numpy() < 0)[0])
        raise SchemaError("negative RUL", source=rul_path.name, line=row + 1)
    test_rul = pd.DataFrame({"unit": np.arange(1, n_test_units + 1, dtype="int64"), "rul": rul["rul"].to_numpy()})
    return CMAPSSData(subset=subset, train=train, test=test, test_rul=test_rul)


def train_rul(train: pd.DataFrame, cap: int | None = RUL_CAP) -> pd.DataFrame:
    """A copy of ``train`` with ``rul`` = cycles left to the unit's last cycle, clipped at ``cap`` (None: no cap).

    >>> frame = pd.DataFrame({"unit": [1, 1, 1, 2, 2], "cycle": [1, 2, 3, 1, 2]})
    >>> train_rul(frame, cap=1)["rul"].tolist(), train_rul(frame, cap=None)["rul"].tolist()
    ([1, 1, 0, 1, 0], [2, 1, 0, 1, 0])
    """
    out = train.copy()
    rul = out.groupby("unit")["cycle"].transform("max") - out["cycle"]
    out["rul"] = (rul if cap is None else rul.clip(upper=cap)).astype("int64")
    return out


def last_cycles(test: pd.DataFrame) -> pd.DataFrame:
    """Each unit's last row (its highest cycle), one row per unit, in unit order.

    >>> frame = pd.DataFrame({"unit": [1, 1, 2], "cycle": [1, 2, 1], "sensor_1": [5.0, 6.0, 7.0]})
    >>> last_cycles(frame).values.tolist()
    [[1.0, 2.0, 6.0], [2.0, 1.0, 7.0]]
    """
    rows = test.groupby("unit")["cycle"].idxmax().to_numpy()
    return test.loc[rows].reset_index(drop=True)


def to_readings(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Wide readings for the store: ``asset_id`` = f"{prefix}-{unit:03d}", ``ts``, one column per setting/sensor.

    One cycle is one flight; ``ts`` = 2000-01-01T00:00Z + ``cycle`` hours. The origin is arbitrary: only the
    order of cycles carries meaning. Label columns (``rul``) are left out: labels never travel with readings.

    >>> frame = pd.DataFrame({"unit": [7], "cycle": [3], **{c: [0.0] for c in SETTINGS + SENSORS}})
    >>> out = to_readings(frame, "FD001-train")
    >>> out.loc[0, "asset_id"], str(out.loc[0, "ts"]), out.shape
    ('FD001-train-007', '2000-01-01 03:00:00+00:00', (1, 26))
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"missing column(s) {', '.join(missing)}",
            source="C-MAPSS frame",
            hint="pass a train or test frame from load_cmapss",
        )
    units = frame["unit"].to_numpy()
    ts = (ORIGIN + pd.to_timedelta(frame["cycle"].to_numpy(), unit="h")).astype(TS_DTYPE)
    columns = {"asset_id": [f"{prefix}-{int(u):03d}" for u in units], "ts": ts}
    columns.update({c: frame[c].to_numpy(dtype="float64") for c in SETTINGS + SENSORS})
    return pd.DataFrame(columns)
