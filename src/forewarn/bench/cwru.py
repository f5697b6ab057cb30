"""CWRU bearing benchmark: 10 classes at 0 HP (1797 rpm), 12 kHz drive end, split by position in each recording.

Protocol: every recording is cut at 70 % of its length (:func:`forewarn.datasets.cwru.segment_by_position`).
Training segments (2048 samples, step 512: overlapping *within* the early part only) come from the first
70 %, test segments (2048 samples, no overlap) from the last 30 %; no segment crosses the cut, so no test
sample was ever seen in training, yet every class is represented in both parts. Reported over seeds (the
split is fixed; the seed drives the models): ``accuracy`` and ``macro_f1`` on the test segments.

Sampling-rate decision for the normal baseline: the fault files are 12 kHz recordings; the normal
recording (CWRU file 97, 243,938 samples) is treated as **48 kHz** and resampled to 12 kHz with
``scipy.signal.resample_poly(x, 1, 4)`` (anti-alias FIR, then decimation) before segmentation. Evidence we
measured: read at 12 kHz, its spectrum shows a comb of lines at k x 7.48 Hz (k = 1..12, each 8.9 to 117
times the local median), a fundamental no part of a 1797 rpm motor turns at; read at 48 kHz the comb becomes the
shaft frequency 29.9 Hz and its harmonics, as in the fault files. Keeping it at a wrong 12 kHz would let a
classifier tell "normal" apart by a time-scale artefact instead of bearing condition. ``normal_rate_hz=12000``
restores the as-is reading.

Models: ``spectral-gbm`` (spectral and envelope features with the drive-end bearing's fault frequencies at the
nominal 1797 rpm, then LightGBM) and ``cnn-fault`` (1-D CNN on the raw segments).

Run: ``forewarn bench cwru --seeds 5`` (or :func:`run`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import resample_poly

from forewarn.base.executor import resolve
from forewarn.bench.anchors import anchor_protocol, anchor_rows
from forewarn.bench.report import ModelRun, summarise
from forewarn.datasets.cwru import SAMPLING_RATE_HZ, CWRURecording, load_cwru, segment_by_position
from forewarn.evaluate.classification import confusion, multiclass_metrics
from forewarn.exceptions import ConfigError
from forewarn.features.spectral import CWRU_DRIVE_END
from forewarn.models.deep.cnn_fault import CNNFault
from forewarn.models.fault.spectral_gbm import SpectralGBM

SEGMENT = 2048
TRAIN_STEP = 512
TRAIN_FRACTION = 0.7
RPM = 1797
NORMAL_RATE_HZ = 48_000

MODELS: dict[str, Callable[[int], Any]] = {
    "spectral-gbm": lambda seed: SpectralGBM(
        sampling_rate_hz=SAMPLING_RATE_HZ,
        shaft_hz=RPM / 60,
        n_elements=CWRU_DRIVE_END.n_elements,
        element_diameter=CWRU_DRIVE_END.element_diameter,
        pitch_diameter=CWRU_DRIVE_END.pitch_diameter,
        seed=seed,
    ),
    "cnn-fault": lambda seed: CNNFault(seed=seed),
}


def signal_at_12k(recording: CWRURecording, normal_rate_hz: int = NORMAL_RATE_HZ) -> np.ndarray:
    """The drive-end signal at 12 kHz: the normal baseline is resampled from ``normal_rate_hz`` (see above)."""
    if recording.label != "normal" or normal_rate_hz == SAMPLING_RATE_HZ:
        return recording.signal
    if normal_rate_hz % SAMPLING_RATE_HZ:
        raise ConfigError(f"normal_rate_hz={normal_rate_hz} must be a multiple of {SAMPLING_RATE_HZ}")
    return resample_poly(recording.signal, 1, normal_rate_hz // SAMPLING_RATE_HZ)


def position_split(
    recordings: Sequence[CWRURecording],
    *,
    segment: int = SEGMENT,
    train_step: int = TRAIN_STEP,
    train_fraction: float = TRAIN_FRACTION,
    normal_rate_hz: int = NORMAL_RATE_HZ,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    """(X_train, y_train, X_test, y_test): segment frames with columns ``s0..s{segment-1}`` and labels."""
    parts: dict[str, list[Any]] = {"xtr": [], "ytr": [], "xte": [], "yte": []}
    for recording in recordings:
        signal = signal_at_12k(recording, normal_rate_hz)
        train, _ = segment_by_position(signal, segment, train_fraction, step=train_step)
        _, test = segment_by_position(signal, segment, train_fraction, step=segment)
        parts["xtr"].append(train)
        parts["xte"].append(test)
        parts["ytr"] += [recording.label] * len(train)
        parts["yte"] += [recording.label] * len(test)
    columns = [f"s{i}" for i in range(segment)]
    return (
        pd.DataFrame(np.vstack(parts["xtr"]), columns=columns),
        np.asarray(parts["ytr"]),
        pd.DataFrame(np.vstack(parts["xte"]), columns=columns),
        np.asarray(parts["yte"]),
    )


def _fit_unit(split: tuple[Any, ...], say: Callable[[str], None] | None, unit: tuple[str, int]) -> ModelRun:
    """One model and seed: fit on the training segments, predict the test ones (a unit of the executor)."""
    X_train, y_train, X_test, y_test = split
    name, seed = unit
    if say is not None:
        say(f"cwru {name} seed {seed}")
    start = time.perf_counter()
    model = MODELS[name](seed).fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model.predict(X_test)
    predict_s = time.perf_counter() - start
    matrix = confusion(y_test, predicted)
    extra = {"confusion": {"labels": [str(c) for c in matrix.index], "matrix": matrix.to_numpy().tolist()}}
    return ModelRun(name, seed, multiclass_metrics(y_test, predicted), fit_s, predict_s, extra=extra)


def run(
    models: Sequence[str] | None = None,
    seeds: int = 5,
    data_dir: Any = None,
    *,
    progress: Callable[[str], None] | None = None,
    normal_rate_hz: int = NORMAL_RATE_HZ,
    **options: Any,
) -> dict[str, Any]:
    """Run the CWRU benchmark; returns the payload of ``forewarn bench cwru`` (see :mod:`forewarn.bench`).

    ``executor`` (:mod:`forewarn.base.executor`) runs each model and seed as one unit, e.g. on Ray (the figures do
    not depend on it, the timings do)."""
    executor = options.pop("executor", None)
    if options:
        raise ConfigError(f"cwru takes no options {sorted(options)} (cwru has no subsets)")
    chosen = list(MODELS) if models is None else list(models)
    unknown = [m for m in chosen if m not in MODELS]
    if unknown or seeds < 1:
        raise ConfigError(f"unknown model(s) {unknown} (known: {', '.join(MODELS)}) or seeds={seeds} < 1")
    say = progress or (lambda message: None)
    recordings = [r for r in load_cwru(data_dir).recordings if r.rpm == RPM]
    X_train, y_train, X_test, y_test = position_split(recordings, normal_rate_hz=normal_rate_hz)
    say(f"cwru: {len(recordings)} recordings, {len(X_train)} train / {len(X_test)} test segments")
    units = [(name, seed) for name in chosen for seed in range(seeds)]
    split = (X_train, y_train, X_test, y_test)
    runs = resolve(executor).map(partial(_fit_unit, split, say if executor is None else None), units)
    return {
        "dataset": "cwru",
        "subset": None,
        "protocol": f"{anchor_protocol('cwru')}; first {TRAIN_FRACTION:.0%} of each recording trains "
        f"({SEGMENT}-sample segments, step {TRAIN_STEP}), the rest tests (non-overlapping); normal "
        f"baseline resampled from {normal_rate_hz} Hz to 12 kHz",
        "primary_metric": "accuracy",
        "results": summarise(runs),
        "published": anchor_rows("cwru"),
        "segments": {"train": len(X_train), "test": len(X_test)},
    }
