"""CWRU runner: the position split never lets a test sample into training; the 48 kHz normal-baseline decision."""

import numpy as np
import pytest

from forewarn.bench import cwru
from forewarn.datasets.cwru import CWRURecording, load_cwru
from forewarn.exceptions import ConfigError
from forewarn.features.spectral import CWRU_DRIVE_END
from forewarn.models.fault import SpectralGBM


def _recording(label, n):
    return CWRURecording(
        name=label,
        label=label,
        fault_type=label,
        fault_size_in=None,
        rpm=1797,
        sampling_rate_hz=12_000,
        signal=np.arange(float(n)),
        fe=None,
    )


def test_position_split_keeps_test_samples_out_of_training():
    recordings = [_recording("IR_007", 50_000), _recording("B_007", 30_001)]
    X_train, y_train, X_test, y_test = cwru.position_split(
        recordings, segment=1000, train_step=250, normal_rate_hz=12_000
    )
    for label, n in (("IR_007", 50_000), ("B_007", 30_001)):
        cut = int(n * cwru.TRAIN_FRACTION)
        train, test = X_train[y_train == label].to_numpy(), X_test[y_test == label].to_numpy()
        assert train.max() < cut <= test.min()  # the signal is its own sample index
        assert len(np.unique(test[:, 0])) == len(test) and np.all(np.diff(test[:, 0]) == 1000)  # no test overlap
        assert np.all(np.diff(train[:, 0]) == 250)
    assert list(X_train.columns[:2]) == ["s0", "s1"] and X_train.shape[1] == 1000


def test_normal_baseline_is_resampled_from_48k():
    normal = _recording("normal", 48_000)
    assert len(cwru.signal_at_12k(normal)) == 12_000
    assert len(cwru.signal_at_12k(normal, normal_rate_hz=12_000)) == 48_000
    assert len(cwru.signal_at_12k(_recording("OR_007", 48_000))) == 48_000  # fault files are 12 kHz already
    with pytest.raises(ConfigError, match="multiple"):
        cwru.signal_at_12k(normal, normal_rate_hz=30_000)


def _line_prominence(signal, frequency, rate=12_000.0):
    spectrum = np.abs(np.fft.rfft((signal - signal.mean()) * np.hanning(len(signal))))
    freqs = np.fft.rfftfreq(len(signal), 1 / rate)
    near = np.abs(freqs - frequency) < 0.3
    around = (np.abs(freqs - frequency) < 3) & ~near
    return spectrum[near].max() / np.median(spectrum[around])


def test_evidence_for_the_48k_decision(shared_data_dir):
    """Read at 12 kHz, the normal recording has a line at 7.48 Hz (a quarter of the shaft speed, which no
    1797 rpm part turns at); read at 48 kHz that line is the shaft at 29.9 Hz. Fault files have no such line."""
    recordings = {r.label: r for r in load_cwru(shared_data_dir).recordings}
    normal = recordings["normal"].signal
    assert _line_prominence(normal, 7.48) > 8
    assert _line_prominence(normal, 4 * 7.48, rate=48_000.0) > 8  # the same line, read at 48 kHz: 29.9 Hz
    for label in ("IR_007", "B_014", "OR_021"):
        assert _line_prominence(recordings[label].signal, 7.48) < 3, label
        assert _line_prominence(recordings[label].signal, 29.9) > 5, label  # their shaft line


def test_small_real_run(shared_data_dir, monkeypatch):
    monkeypatch.setattr(
        cwru,
        "MODELS",
        {
            "spectral-gbm": lambda seed: SpectralGBM(
                sampling_rate_hz=12_000.0,
                shaft_hz=1797 / 60,
                n_elements=CWRU_DRIVE_END.n_elements,
                element_diameter=CWRU_DRIVE_END.element_diameter,
                pitch_diameter=CWRU_DRIVE_END.pitch_diameter,
                n_estimators=20,
                seed=seed,
            )
        },
    )
    payload = cwru.run(None, seeds=1, data_dir=shared_data_dir)
    (row,) = payload["results"]
    assert payload["segments"] == {"train": 1548, "test": 161}
    assert row["accuracy"] >= 0.9 and row["macro_f1"] >= 0.9
    matrix = np.asarray(row["confusion"]["matrix"])
    assert matrix.sum() == 161 and len(row["confusion"]["labels"]) == 10
    assert payload["primary_metric"] == "accuracy" and payload["published"]
    with pytest.raises(ConfigError, match="unknown model"):
        cwru.run(["wdcnn"], seeds=1, data_dir=shared_data_dir)
