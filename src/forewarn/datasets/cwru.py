"""CWRU bearing data (Case Western Reserve University Bearing Data Center): drive-end vibration, 10 classes.

Layout: ``<data dir>/cwru/<rpm>_Normal.npz`` and ``cwru/<rpm>_<IR|B|OR@6>_<7|14|21>_DE12.npz``
(plain ``.npz`` with arrays ``DE``, ``FE`` and, for fault files, ``BA``; read without pickle).
Labels: ``normal`` and ``<IR|B|OR>_<size in mils, 3 digits>``, e.g. ``IR_007`` = inner-race fault of 0.007 in.

**Sampling-rate caveat.** Fault files are the 12 kHz drive-end recordings. The normal baseline (CWRU file 97)
is declared here at 12 kHz too, as most papers do, but it is commonly reported to have been recorded at
48 kHz (e.g. Smith & Randall 2015). That is not verified; its ``sampling_rate_hz`` stays 12000 and
``rate_verified`` is False, so a user can resample on purpose instead of by accident.

**Honest protocol.** Segments cut from one recording are strongly correlated, so a random split of
overlapping segments leaks. :func:`segment_by_position` puts every training segment in the early part of a
recording and every test segment in the later part, with no segment crossing the split point.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forewarn.datasets._io import REPAIR_HINT, dataset_folder
from forewarn.exceptions import ConfigError, DataNotFoundError, SchemaError

FOLDER = "cwru"
LAYOUT = "cwru/<rpm>_Normal.npz and cwru/<rpm>_<IR|B|OR@6>_<7|14|21>_DE12.npz (arrays DE, FE)"
LABELS = ("normal", "IR_007", "IR_014", "IR_021", "B_007", "B_014", "B_021", "OR_007", "OR_014", "OR_021")
FAULT_TYPES = {"IR": "inner_race", "B": "ball", "OR": "outer_race"}
SAMPLING_RATE_HZ = 12_000
_FAULT_FILE = re.compile(r"(?P<rpm>\d+)_(?P<code>IR|B|OR)(?:@\d+)?_(?P<size>\d+)_DE12")
_NORMAL_FILE = re.compile(r"(?P<rpm>\d+)_Normal")


@dataclass(frozen=True, eq=False)
class CWRURecording:
    """One recording: drive-end ``signal`` (1-D float64), fan-end ``fe`` (or None) and what it shows.

    ``rate_verified`` is False for the normal baseline: its 12 kHz ``sampling_rate_hz`` is the declared
    value, but the recording is commonly reported to be 48 kHz (see the module docstring).
    """

    name: str
    label: str
    fault_type: str
    fault_size_in: float | None
    rpm: int
    sampling_rate_hz: int
    signal: np.ndarray
    fe: np.ndarray | None
    rate_verified: bool = True

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds at the declared sampling rate."""
        return len(self.signal) / self.sampling_rate_hz


@dataclass(frozen=True, eq=False)
class CWRUData:
    """All recordings found, in :data:`LABELS` order."""

    recordings: list[CWRURecording]

    @property
    def labels(self) -> list[str]:
        """The label of each recording."""
        return [r.label for r in self.recordings]


def _channel(array: np.ndarray, key: str, source: str) -> np.ndarray:
    values = np.asarray(array, dtype="float64")
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or len(values) == 0:
        raise SchemaError(f"array {key} has shape {values.shape}, expected (n,) or (n, 1)", source=source)
    if not np.isfinite(values).all():
        raise SchemaError(
            f"array {key} has non-finite values at sample {int(np.flatnonzero(~np.isfinite(values))[0])}", source=source
        )
    return np.ascontiguousarray(values)


def _describe(path: Path) -> tuple[str, str, float | None, int] | None:
    """(label, fault type, fault size in inches, rpm) from a file name, or None for a file that is not data."""
    if match := _NORMAL_FILE.fullmatch(path.stem):
        return "normal", "normal", None, int(match["rpm"])
    if match := _FAULT_FILE.fullmatch(path.stem):
        size = int(match["size"])
        return f"{match['code']}_{size:03d}", FAULT_TYPES[match["code"]], size / 1000, int(match["rpm"])
    return None


def _read(path: Path) -> CWRURecording | None:
    described = _describe(path)
    if described is None:
        return None
    label, fault_type, size, rpm = described
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as npz:  # our handle: closed on error
            arrays = {key: npz[key] for key in ("DE", "FE") if key in npz.files}
            keys = list(npz.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise SchemaError(f"cannot read the .npz: {err}", source=path.name, hint=REPAIR_HINT) from None
    if "DE" not in arrays:
        raise SchemaError(
            f"no DE array (has {', '.join(keys) or 'none'})",
            source=path.name,
            hint="expected the drive-end channel under key DE",
        )
    signal = _channel(arrays["DE"], "DE", path.name)
    fe = _channel(arrays["FE"], "FE", path.name) if "FE" in arrays else None
    if fe is not None and len(fe) != len(signal):
        raise SchemaError(f"FE has {len(fe)} samples but DE has {len(signal)}", source=path.name)
    return CWRURecording(
        name=path.stem,
        label=label,
        fault_type=fault_type,
        fault_size_in=size,
        rpm=rpm,
        sampling_rate_hz=SAMPLING_RATE_HZ,
        signal=signal,
        fe=fe,
        rate_verified=label != "normal",
    )


def load_cwru(data_dir: str | os.PathLike[str] | None = None) -> CWRUData:
    """Load every recognised ``.npz`` recording of ``cwru/`` (other files there are ignored)."""
    folder = dataset_folder(FOLDER, data_dir, LAYOUT)
    recordings = [r for r in (_read(p) for p in sorted(folder.glob("*.npz"))) if r is not None]
    if not recordings:
        raise DataNotFoundError(f"no CWRU recordings in {str(folder)!r}; expected layout: {LAYOUT}")
    recordings.sort(key=lambda r: (LABELS.index(r.label), r.rpm))
    return CWRUData(recordings=recordings)


def segment_starts(
    n_samples: int, length: int = 2048, train_fraction: float = 0.7, step: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Start indices of train and test segments; every train segment ends at or before the split point.

    The split point is ``floor(n_samples * train_fraction)``; test segments start at it. ``step`` defaults to
    ``length`` (no overlap); a smaller step overlaps segments *within* each part only.

    >>> train, test = segment_starts(10, length=3, train_fraction=0.5)
    >>> train.tolist(), test.tolist()
    ([0], [5])
    """
    step = length if step is None else step
    if length < 1 or step < 1:
        raise ConfigError(f"length={length} and step={step} must be positive")
    if not 0.0 < train_fraction < 1.0:
        raise ConfigError(f"train_fraction={train_fraction} must be strictly between 0 and 1")
    cut = int(n_samples * train_fraction)
    train = np.arange(0, cut - length + 1, step, dtype="int64")
    test = np.arange(cut, n_samples - length + 1, step, dtype="int64")
    return train, test


def segment_by_position(
    recording: CWRURecording | np.ndarray, length: int = 2048, train_fraction: float = 0.7, step: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a recording into (train segments, test segments), arrays of shape ``(n, length)``.

    Train segments come from the first ``train_fraction`` of the signal, test segments from the rest; none
    crosses the split point (see :func:`segment_starts`).

    >>> train, test = segment_by_position(np.arange(10.0), length=2, train_fraction=0.5)
    >>> train.tolist(), test.tolist()
    ([[0.0, 1.0], [2.0, 3.0]], [[5.0, 6.0], [7.0, 8.0]])
    """
    signal = recording.signal if isinstance(recording, CWRURecording) else np.asarray(recording, dtype="float64")
    if signal.ndim != 1:
        raise ConfigError(f"expected a 1-D signal, got shape {signal.shape}")
    train, test = segment_starts(len(signal), length, train_fraction, step)
    offsets = np.arange(length)
    return signal[train[:, None] + offsets], signal[test[:, None] + offsets]
