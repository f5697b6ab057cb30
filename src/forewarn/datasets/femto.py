"""IEEE PHM 2012 challenge / FEMTO-ST PRONOSTIA bearings (Nectoux et al. 2012): run-to-failure vibration.

Layout: ``<data dir>/phm2012_femto/PHM2012_<set>_Bearing<c>_<k>.tar.gz``, each archive holding the original
``<set>/Bearing<c>_<k>/acc_NNNNN.csv`` (2560 rows: hour, minute, second, microsecond, horizontal and vertical
acceleration in g) and, where recorded, ``temp_NNNNN.csv`` (';'-separated: hour, minute, second, tenth of a
second, temperature in deg C). Archives are read in memory with :mod:`tarfile`, never unpacked to disk.

One acceleration snapshot of 0.1 s at 25.6 kHz is taken every 10 s; the last snapshot is the failure
point. ``<c>`` is the operating condition (the two bearings of condition 2 ran at 1650 rpm under 4200 N).
"""

from __future__ import annotations

import os
import re
import tarfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

from forewarn.datasets._io import REPAIR_HINT, dataset_folder
from forewarn.exceptions import DataNotFoundError, SchemaError

FOLDER = "phm2012_femto"
LAYOUT = (
    "phm2012_femto/PHM2012_<set>_Bearing<c>_<k>.tar.gz holding <set>/Bearing<c>_<k>/acc_NNNNN.csv "
    "(and optional temp_NNNNN.csv)"
)
SAMPLING_RATE_HZ = 25_600
SNAPSHOT_LENGTH = 2560
CHANNELS = ("horizontal", "vertical")
_ARCHIVE = re.compile(r"PHM2012_(?P<set>\w+?)_(?P<bearing>Bearing\d+_\d+)\.tar\.gz")
_MEMBER = re.compile(r"(?P<kind>acc|temp)_(?P<index>\d+)\.csv")
_DAY = 86_400.0


@dataclass(frozen=True, eq=False)
class FEMTOBearing:
    """One bearing's run to failure.

    ``acc``: float32 array ``(n_snapshots, 2560, 2)`` (horizontal, vertical, in g); ``snapshot_times``:
    start of each snapshot in seconds from the first one; ``temperature``: frame (``seconds`` from the first
    snapshot, ``temperature_c``) or None when the bearing has no temperature files.
    """

    name: str
    acc: np.ndarray
    snapshot_times: np.ndarray
    temperature: pd.DataFrame | None
    sampling_rate_hz: int = SAMPLING_RATE_HZ

    @property
    def condition(self) -> int:
        """The operating condition, from the name (``Bearing2_1`` -> 2)."""
        return int(self.name.removeprefix("Bearing").split("_")[0])

    @property
    def n_snapshots(self) -> int:
        """How many acceleration snapshots the run has."""
        return int(self.acc.shape[0])

    @property
    def life_seconds(self) -> float:
        """Run length: from the start of the first snapshot to the end of the last (the failure point)."""
        return float(self.snapshot_times[-1] + self.acc.shape[1] / self.sampling_rate_hz)


@dataclass(frozen=True, eq=False)
class FEMTOData:
    """The bearings loaded, in name order."""

    bearings: list[FEMTOBearing]

    def bearing(self, name: str) -> FEMTOBearing:
        """The bearing called ``name`` (e.g. ``"Bearing2_1"``)."""
        for item in self.bearings:
            if item.name == name:
                return item
        raise DataNotFoundError(f"bearing {name!r} not loaded; have {', '.join(b.name for b in self.bearings)}")

    @property
    def life_seconds(self) -> dict[str, float]:
        """Run length in seconds per bearing."""
        return {b.name: b.life_seconds for b in self.bearings}


def _archives(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(folder.glob("PHM2012_*.tar.gz")):
        if match := _ARCHIVE.fullmatch(path.name):
            found.setdefault(match["bearing"], path)
    return found


def _read_members(path: Path) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """All acc and temp CSV members of one archive as (member name, bytes), each list in file-number order."""
    acc: list[tuple[str, bytes]] = []
    temp: list[tuple[str, bytes]] = []
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            for member in archive:
                match = _MEMBER.fullmatch(member.name.rsplit("/", 1)[-1])
                if not member.isfile() or match is None:
                    continue
                handle = archive.extractfile(member)
                data = handle.read() if handle is not None else b""
                (acc if match["kind"] == "acc" else temp).append((member.name, data))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise SchemaError(f"cannot read the archive: {err}", source=path.name, hint=REPAIR_HINT) from None
    return sorted(acc), sorted(temp)


def _bad_line(data: bytes, n_fields: int) -> tuple[int | None, str]:
    """The first line of a member with the wrong field count or a non-number, or (None, "") if none."""
    lines = data.decode("utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines, start=1):
        fields = line.split(",")
        if len(fields) != n_fields:
            return number, f"expected {n_fields} fields, found {len(fields)}"
        for pos, field in enumerate(fields):
            try:
                float(field)
            except ValueError:
                return number, f"field {pos + 1} ({field!r}) is not a number"
    return None, ""


def _normalise(data: bytes) -> bytes:
    """Comma-separated bytes ending with a newline (some upstream files use ';')."""
    data = data.replace(b";", b",") if b";" in data[:200] else data
    return data if data.endswith(b"\n") else data + b"\n"


def _parse(members: list[tuple[str, bytes]], types: list[pa.DataType], source: str, rows: int | None) -> pa.Table:
    """Parse many CSV members at once into one table with columns ``c0, c1...`` of the given types."""
    blobs = []
    for name, data in members:
        data = _normalise(data)
        count = data.count(b"\n")
        if rows is not None and count != rows:
            raise SchemaError(f"has {count} rows, expected {rows}", source=f"{source}:{name}", hint=REPAIR_HINT)
        blobs.append(data)
    names = [f"c{i}" for i in range(len(types))]
    try:
        table = pcsv.read_csv(
            pa.py_buffer(b"".join(blobs)),
            read_options=pcsv.ReadOptions(column_names=names),
            convert_options=pcsv.ConvertOptions(column_types=dict(zip(names, types, strict=True))),
        )
    except pa.ArrowInvalid:
        table = None
    if table is None or any(column.null_count for column in table.columns):  # a parse error or an empty field
        for name, data in members:
            line, reason = _bad_line(_normalise(data), len(types))
            if line is not None:
                raise SchemaError(reason, source=f"{source}:{name}", line=line, hint=REPAIR_HINT)
        raise SchemaError("cannot parse the CSV members", source=source, hint=REPAIR_HINT)
    return table


def _column(table: pa.Table, index: int) -> np.ndarray:
    return table.column(index).to_numpy()


def _unwrap_day(seconds: np.ndarray) -> np.ndarray:
    """Times of day in seconds, made increasing across midnight by adding a day at each wrap."""
    jumps = np.concatenate(([0.0], np.cumsum(np.diff(seconds) < -_DAY / 2) * _DAY))
    return seconds + jumps


def _load_bearing(name: str, path: Path) -> FEMTOBearing:
    acc_members, temp_members = _read_members(path)
    if not acc_members:
        raise SchemaError("archive has no acc_NNNNN.csv members", source=path.name, hint=f"expected {LAYOUT}")
    f64, f32 = pa.float64(), pa.float32()
    table = _parse(acc_members, [f64, f64, f64, f64, f32, f32], path.name, SNAPSHOT_LENGTH)
    starts = table.take(pa.array(np.arange(0, table.num_rows, SNAPSHOT_LENGTH)))
    clock = _unwrap_day(
        _column(starts, 0) * 3600 + _column(starts, 1) * 60 + _column(starts, 2) + _column(starts, 3) / 1e6
    )
    t0 = clock[0]
    acc = np.empty((table.num_rows, 2), dtype="float32")
    acc[:, 0] = _column(table, 4)
    acc[:, 1] = _column(table, 5)
    acc = acc.reshape(len(acc_members), SNAPSHOT_LENGTH, 2)
    temperature = None
    if temp_members:
        temp = _parse(temp_members, [f64] * 5, path.name, None)
        stamp = _column(temp, 0) * 3600 + _column(temp, 1) * 60 + _column(temp, 2) + _column(temp, 3) / 10
        seconds = _unwrap_day(np.concatenate(([t0], stamp)))[1:] - t0
        temperature = pd.DataFrame({"seconds": seconds, "temperature_c": _column(temp, 4)})
    return FEMTOBearing(name=name, acc=acc, snapshot_times=clock - t0, temperature=temperature)


def load_femto(data_dir: str | os.PathLike[str] | None = None, bearings: Iterable[str] | None = None) -> FEMTOData:
    """Load the named ``bearings`` (default: every archive in ``phm2012_femto/``)."""
    folder = dataset_folder(FOLDER, data_dir, LAYOUT)
    archives = _archives(folder)
    if not archives:
        raise DataNotFoundError(f"no PHM2012_*_Bearing*.tar.gz archives in {str(folder)!r}; expected layout: {LAYOUT}")
    wanted = sorted(archives) if bearings is None else list(bearings)
    missing = [b for b in wanted if b not in archives]
    if missing:
        raise DataNotFoundError(
            f"no archive for {', '.join(missing)} in {str(folder)!r} (have "
            f"{', '.join(sorted(archives))}); expected layout: {LAYOUT}"
        )
    return FEMTOData(bearings=[_load_bearing(name, archives[name]) for name in wanted])


def snapshot_frame(bearing: FEMTOBearing) -> pd.DataFrame:
    """One row per snapshot (``snapshot``, ``seconds``, ``rul_seconds``), handy for labelling features.

    ``rul_seconds`` is the time from the snapshot's start to the end of the run.
    """
    times = bearing.snapshot_times
    return pd.DataFrame(
        {"snapshot": np.arange(len(times)), "seconds": times, "rul_seconds": bearing.life_seconds - times}
    )
