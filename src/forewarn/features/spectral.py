"""Vibration features of raw segments: time-domain statistics, band energies, envelope and bearing-fault bands.

Every function takes ``segments``, a 2-D array with one segment (a short stretch of one accelerometer
channel) per row, and works on all rows at once. A segment's features depend on that segment only, so the
same call serves batch training and online scoring (:func:`segment_features` for a single segment).

Time domain (per segment ``x`` of ``n`` samples; ``xc = x - mean(x)``):
``mean``, ``std``, ``rms = sqrt(mean(x^2))``, ``peak = max|xc|``, ``peak_to_peak``,
``crest_factor = peak / std``, ``kurtosis = mean(xc^4) / std^4`` (3 for Gaussian noise, high for impacts),
``skewness = mean(xc^3) / std^3``, ``shape_factor = std / mean|xc|``, ``impulse_factor = peak / mean|xc|``.

Frequency domain: the one-sided power spectrum of the Hann-windowed, de-meaned segment; ``band_<k>`` is the
share of power in the k-th of ``n_bands`` equal bands from 0 to Nyquist (shares sum to 1), plus the
``spectral_centroid`` (Hz) and ``spectral_entropy`` (0-1) of that spectrum.

Envelope: a bearing defect excites a structural resonance once per impact, so the *envelope* of the band
around the resonance repeats at the defect's characteristic frequency. The segment is band-passed (FFT
mask, ``envelope_band`` in Hz, default ``[fs/8, 3 fs/8]``), its analytic signal taken with
:func:`scipy.signal.hilbert`, and the magnitude's spectrum is the envelope spectrum.

Bearing characteristic frequencies (shaft frequency ``fr`` in Hz, ``n`` rolling elements of diameter ``d``
on pitch diameter ``D``, contact angle ``phi``; outer race fixed, inner race turning with the shaft)::

    FTF  = fr / 2 * (1 - d/D cos phi)                  cage (fundamental train) frequency
    BPFO = n fr / 2 * (1 - d/D cos phi)                ball pass frequency, outer race
    BPFI = n fr / 2 * (1 + d/D cos phi)                ball pass frequency, inner race
    BSF  = D / (2 d) * fr * (1 - (d/D cos phi)^2)      ball spin frequency

A ball defect strikes both races once per spin turn, so its envelope lines sit at 2 BSF (the second
harmonic, included by ``harmonics >= 2``; some tables, e.g. CWRU's, list 2 BSF as "BSF").
``fault_<name>_h<k>`` is the share of envelope-spectrum power within ``+/- rel_width`` (at least one
frequency bin) of ``k`` times that frequency.

>>> geometry = BearingGeometry(n_elements=9, element_diameter=0.3126, pitch_diameter=1.537)  # SKF 6205
>>> {k: round(v, 3) for k, v in geometry.fault_orders().items()}
{'ftf': 0.398, 'bpfo': 3.585, 'bpfi': 5.415, 'bsf': 2.357}
>>> fs = 12_000.0
>>> t = np.arange(4096) / fs
>>> impacts = (np.sin(2 * np.pi * 107.4 * t) > 0.99) * np.sin(2 * np.pi * 3000 * t)  # outer-race-like bursts
>>> table = spectral_features(impacts[None, :], fs, shaft_hz=29.95, geometry=geometry)
>>> bool(table["fault_bpfo_h1"].iloc[0] > table["fault_bpfi_h1"].iloc[0])
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import hilbert

from forewarn.exceptions import SchemaError

_EPS = 1e-12
TIME_FEATURES = (
    "mean",
    "std",
    "rms",
    "peak",
    "peak_to_peak",
    "crest_factor",
    "kurtosis",
    "skewness",
    "shape_factor",
    "impulse_factor",
)
FAULTS = ("ftf", "bpfo", "bpfi", "bsf")


@dataclass(frozen=True)
class BearingGeometry:
    """Rolling-element bearing geometry (any length unit, the same for both diameters).

    >>> BearingGeometry(13, 3.5, 25.6).fault_frequencies(27.5)["bpfo"].__round__(1)  # FEMTO, 1650 rpm
    154.3
    """

    n_elements: int
    element_diameter: float
    pitch_diameter: float
    contact_angle_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.n_elements < 1 or not 0 < self.element_diameter < self.pitch_diameter:
            raise SchemaError(
                f"bearing geometry {self} is not physical",
                hint="need n_elements >= 1 and 0 < element_diameter < pitch_diameter",
            )

    def fault_orders(self) -> dict[str, float]:
        """Characteristic frequencies as multiples of the shaft frequency (FTF, BPFO, BPFI, BSF)."""
        ratio = self.element_diameter / self.pitch_diameter * float(np.cos(np.radians(self.contact_angle_deg)))
        return {
            "ftf": 0.5 * (1 - ratio),
            "bpfo": 0.5 * self.n_elements * (1 - ratio),
            "bpfi": 0.5 * self.n_elements * (1 + ratio),
            "bsf": self.pitch_diameter / (2 * self.element_diameter) * (1 - ratio**2),
        }

    def fault_frequencies(self, shaft_hz: float) -> dict[str, float]:
        """Characteristic frequencies in Hz at shaft frequency ``shaft_hz``."""
        return {name: float(order * shaft_hz) for name, order in self.fault_orders().items()}


#: drive-end bearing of the CWRU rig (SKF 6205-2RS JEM, inches)
CWRU_DRIVE_END = BearingGeometry(n_elements=9, element_diameter=0.3126, pitch_diameter=1.537)
#: PRONOSTIA / PHM 2012 test bearing (NSK 6804DD, mm; challenge details, appendix A.1)
PRONOSTIA = BearingGeometry(n_elements=13, element_diameter=3.5, pitch_diameter=25.6)


def as_segments(segments: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """``segments`` as a 2-D float64 array (a 1-D input is one segment); rejects empty or non-finite input."""
    array = np.asarray(segments, dtype="float64")
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] < 2:
        raise SchemaError(f"segments must be 2-D (segments x samples) with at least 2 samples, got {array.shape}")
    if not np.isfinite(array).all():
        row, col = (int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise SchemaError(
            f"segment {row} has a non-finite sample at position {col}",
            hint="drop or repair segments with gaps before computing vibration features",
        )
    return array


def time_features(segments: np.ndarray) -> dict[str, np.ndarray]:
    """The time-domain statistics listed in the module docstring, one array per name.

    >>> f = time_features(np.array([[1.0, -1.0, 1.0, -1.0]]))
    >>> float(f["rms"][0]), float(f["crest_factor"][0]), float(f["kurtosis"][0])
    (1.0, 1.0, 1.0)
    """
    x = as_segments(segments)
    mean = x.mean(axis=1)
    centred = x - mean[:, None]
    std = centred.std(axis=1)
    safe_std = np.maximum(std, _EPS)
    peak = np.abs(centred).max(axis=1)
    mean_abs = np.maximum(np.abs(centred).mean(axis=1), _EPS)
    return {
        "mean": mean,
        "std": std,
        "rms": np.sqrt(np.mean(x**2, axis=1)),
        "peak": peak,
        "peak_to_peak": x.max(axis=1) - x.min(axis=1),
        "crest_factor": peak / safe_std,
        "kurtosis": np.where(std > _EPS, np.mean(centred**4, axis=1) / safe_std**4, 0.0),
        "skewness": np.where(std > _EPS, np.mean(centred**3, axis=1) / safe_std**3, 0.0),
        "shape_factor": std / mean_abs,
        "impulse_factor": peak / mean_abs,
    }


def power_spectrum(segments: np.ndarray, sampling_rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in Hz, one-sided power per bin) of the Hann-windowed, de-meaned segments."""
    x = as_segments(segments)
    x = (x - x.mean(axis=1, keepdims=True)) * np.hanning(x.shape[1] + 2)[1:-1]
    power = np.abs(np.fft.rfft(x, axis=1)) ** 2
    return np.fft.rfftfreq(x.shape[1], 1.0 / sampling_rate_hz), power


def band_energies(segments: np.ndarray, sampling_rate_hz: float, n_bands: int = 16) -> np.ndarray:
    """Share of spectral power in ``n_bands`` equal bands from 0 to Nyquist, shape ``(n_segments, n_bands)``.

    >>> t = np.arange(1024) / 1000.0
    >>> shares = band_energies(np.sin(2 * np.pi * 430 * t)[None, :], 1000.0, n_bands=5)
    >>> int(np.argmax(shares[0])), bool(np.isclose(shares.sum(), 1.0))
    (4, True)
    """
    if n_bands < 1:
        raise SchemaError(f"n_bands must be >= 1, got {n_bands}")
    freqs, power = power_spectrum(segments, sampling_rate_hz)
    nyquist = sampling_rate_hz / 2
    index = np.minimum((freqs / nyquist * n_bands).astype(int), n_bands - 1)
    bands = np.zeros((power.shape[0], n_bands))
    np.add.at(bands.T, index, power.T)
    shares: np.ndarray = bands / np.maximum(bands.sum(axis=1, keepdims=True), _EPS)
    return shares


def _default_band(sampling_rate_hz: float) -> tuple[float, float]:
    return sampling_rate_hz / 8, 3 * sampling_rate_hz / 8


def envelope(segments: np.ndarray, sampling_rate_hz: float, band: tuple[float, float] | None = None) -> np.ndarray:
    """Magnitude of the analytic signal (Hilbert transform) of the band-passed segments.

    >>> t = np.arange(2000) / 10_000.0
    >>> carrier = (1 + 0.5 * np.sin(2 * np.pi * 50 * t)) * np.sin(2 * np.pi * 2500 * t)
    >>> env = envelope(carrier[None, :], 10_000.0)[0]
    >>> bool(abs(env[200:-200].max() - 1.5) < 0.05 and abs(env[200:-200].min() - 0.5) < 0.05)
    True
    """
    x = as_segments(segments)
    low, high = band if band is not None else _default_band(sampling_rate_hz)
    if not 0 <= low < high:
        raise SchemaError(f"envelope band ({low}, {high}) Hz must satisfy 0 <= low < high")
    spectrum = np.fft.rfft(x - x.mean(axis=1, keepdims=True), axis=1)
    freqs = np.fft.rfftfreq(x.shape[1], 1.0 / sampling_rate_hz)
    spectrum[:, (freqs < low) | (freqs > high)] = 0.0
    filtered = np.fft.irfft(spectrum, n=x.shape[1], axis=1)
    envelope: np.ndarray = np.abs(hilbert(filtered, axis=1))
    return envelope


def envelope_spectrum(
    segments: np.ndarray, sampling_rate_hz: float, band: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in Hz, power of the de-meaned envelope per bin)."""
    env = envelope(segments, sampling_rate_hz, band)
    return power_spectrum(env, sampling_rate_hz)


def fault_band_energies(
    segments: np.ndarray,
    sampling_rate_hz: float,
    shaft_hz: float,
    geometry: BearingGeometry,
    harmonics: int = 3,
    rel_width: float = 0.03,
    band: tuple[float, float] | None = None,
) -> dict[str, np.ndarray]:
    """Share of envelope power near ``k`` x each characteristic frequency, ``k = 1..harmonics``.

    Names are ``fault_<ftf|bpfo|bpfi|bsf>_h<k>``; a window narrower than one bin widens to one bin.
    """
    if shaft_hz <= 0 or harmonics < 1 or rel_width <= 0:
        raise SchemaError(
            f"need shaft_hz > 0, harmonics >= 1 and rel_width > 0 (got {shaft_hz}, {harmonics}, {rel_width})"
        )
    freqs, power = envelope_spectrum(segments, sampling_rate_hz, band)
    total = np.maximum(power[:, 1:].sum(axis=1), _EPS)
    resolution = freqs[1] - freqs[0]
    out = {}
    for name, centre in geometry.fault_frequencies(shaft_hz).items():
        for k in range(1, harmonics + 1):
            half = max(rel_width * k * centre, resolution)
            mask = np.abs(freqs - k * centre) <= half
            out[f"fault_{name}_h{k}"] = power[:, mask].sum(axis=1) / total
    return out


def spectral_features(
    segments: np.ndarray,
    sampling_rate_hz: float,
    *,
    n_bands: int = 16,
    shaft_hz: float | None = None,
    geometry: BearingGeometry | None = None,
    harmonics: int = 3,
    rel_width: float = 0.03,
    envelope_band: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """All vibration features of each segment as a frame (one row per segment).

    Fault-band columns are added when both ``shaft_hz`` and ``geometry`` are given.

    >>> rng = np.random.default_rng(0)
    >>> spectral_features(rng.normal(size=(3, 256)), 1000.0, n_bands=4).shape
    (3, 19)
    """
    if sampling_rate_hz <= 0:
        raise SchemaError(f"sampling_rate_hz must be positive, got {sampling_rate_hz}")
    x = as_segments(segments)
    columns: dict[str, np.ndarray] = dict(time_features(x))
    freqs, power = power_spectrum(x, sampling_rate_hz)
    share = power / np.maximum(power.sum(axis=1, keepdims=True), _EPS)
    columns["spectral_centroid"] = share @ freqs
    entropy = -np.sum(share * np.log(np.maximum(share, _EPS)), axis=1)
    columns["spectral_entropy"] = entropy / max(np.log(share.shape[1]), _EPS)
    for k, values in enumerate(band_energies(x, sampling_rate_hz, n_bands).T):
        columns[f"band_{k}"] = values
    env = envelope(x, sampling_rate_hz, envelope_band)
    env_stats = time_features(env)
    columns["envelope_rms"] = env_stats["rms"]
    columns["envelope_kurtosis"] = env_stats["kurtosis"]
    columns["envelope_crest_factor"] = env_stats["crest_factor"]
    if shaft_hz is not None and geometry is not None:
        columns.update(
            fault_band_energies(x, sampling_rate_hz, shaft_hz, geometry, harmonics, rel_width, envelope_band)
        )
    return pd.DataFrame(columns)


def segment_features(segment: np.ndarray, sampling_rate_hz: float, **options: object) -> dict[str, float]:
    """The features of one segment as a plain dict (the online, one-reading-at-a-time form).

    >>> sorted(segment_features(np.sin(np.arange(64.0)), 100.0, n_bands=2))[:3]
    ['band_0', 'band_1', 'crest_factor']
    """
    frame = spectral_features(np.asarray(segment, dtype="float64")[None, :], sampling_rate_hz, **options)  # type: ignore[arg-type]
    return {name: float(value) for name, value in frame.iloc[0].items()}
