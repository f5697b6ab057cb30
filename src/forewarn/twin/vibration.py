"""Machine vibration: the components a casing accelerometer sees, their summaries, and raw snapshots.

The acceleration signal (in g) at a bearing housing is modelled as the sum of independent parts:

* the 1x shaft harmonic ``a1 * sin(2 pi f_r t)`` (residual unbalance; grows with imbalance, ~ speed^2);
* the 2x harmonic ``a2 * sin(4 pi f_r t)`` (misalignment);
* for each bearing defect, a train of impacts at the defect frequency ``f_d`` (BPFO or BPFI times shaft
  speed), each impact amplitude-modulated by shaft rotation, ``A * (1 + mu * cos(2 pi f_r t_k))`` (an inner-race
  defect passes through the load zone once per revolution: large ``mu``; an outer-race defect sits still: small
  ``mu``), and each ringing a structural resonance ``f_n`` with damping ``zeta``:
  ``h(t) = exp(-alpha t) sin(2 pi f_n t)``, ``alpha = 2 pi zeta f_n``;
* band-limited broadband noise from cavitation (2 to 10 kHz) and white background noise.

**Summaries without waveforms.** Synthesising 25.6 kHz waveforms for every minute of a fleet-year would take
hours, so :func:`summarise` derives each interval's statistics from the component amplitudes. With impacts that
ring out before the next one (``1/alpha << 1/f_d``), the impact train has mean power
``f_d A^2 <m^2> / (4 alpha)`` and fourth moment ``f_d A^4 3 <m^4> / (32 alpha)``, where for the modulation
``<m^2> = 1 + mu^2/2`` and ``<m^4> = 1 + 3 mu^2 + 3 mu^4 / 8``. Independent parts add their powers (so the RMS
is the root of the sum) and their fourth cumulants (a sinusoid of amplitude ``a`` contributes ``-3 a^4 / 8``,
Gaussian noise nothing), which gives the kurtosis ``3 + k4 / var^2``. The peak is the sum of the sinusoid
amplitudes plus the larger of the Gaussian extreme ``sigma * sqrt(2 ln N)`` over the ``N`` samples and the
largest ringing impact; the crest factor is peak / RMS. Band energies split each part's power over the bands:
harmonics fall in the low band, impacts by the energy spectrum of the ringing resonance, cavitation
and white noise by bandwidth. Each summary describes one 1-second acquisition at 25.6 kHz, as online monitors
take them; ``tests/twin`` holds these formulas against statistics of waveforms from :func:`snapshot`.

>>> comp = VibrationComponents(shaft_hz=24.75, a1=0.1, a2=0.03, noise_var=0.03**2)
>>> stats = summarise(comp)
>>> round(float(stats["rms"]), 4), round(float(stats["kurtosis"]), 2)
(0.0797, 2.06)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal

__all__ = [
    "BANDS_HZ",
    "FS_HZ",
    "VibrationComponents",
    "band_fraction_of_resonance",
    "envelope_spectrum",
    "snapshot",
    "summarise",
]

FS_HZ = 25_600.0
ACQUISITION_S = 1.0
#: Frequency bands of the summary band energies (Hz).
BANDS_HZ: dict[str, tuple[float, float]] = {"low": (0.0, 1000.0), "mid": (1000.0, 4000.0), "high": (4000.0, 10000.0)}
_CAVITATION_HZ = (2000.0, 10000.0)


@dataclass(frozen=True)
class VibrationComponents:
    """Amplitudes of the vibration parts (acceleration in g; arrays broadcast against each other).

    ``outer_amp``/``inner_amp`` are impact amplitudes of outer/inner-race defects struck at
    ``outer_hz``/``inner_hz`` with modulation depths ``outer_mod``/``inner_mod``; ``resonance_hz`` and
    ``damping`` describe the structural resonance they excite; ``cavitation_var`` and ``noise_var`` are
    variances (g^2) of the broadband parts.
    """

    shaft_hz: np.ndarray | float
    a1: np.ndarray | float = 0.0
    a2: np.ndarray | float = 0.0
    outer_amp: np.ndarray | float = 0.0
    outer_hz: np.ndarray | float = 0.0
    outer_mod: np.ndarray | float = 0.1
    inner_amp: np.ndarray | float = 0.0
    inner_hz: np.ndarray | float = 0.0
    inner_mod: np.ndarray | float = 0.8
    resonance_hz: np.ndarray | float = 3000.0
    damping: np.ndarray | float = 0.05
    cavitation_var: np.ndarray | float = 0.0
    noise_var: np.ndarray | float = 1e-4


def band_fraction_of_resonance(
    resonance_hz: np.ndarray | float, damping: np.ndarray | float, band: tuple[float, float], fs: float = FS_HZ
) -> np.ndarray:
    """Share of a ringing resonance's energy (0 to ``fs/2``) that falls in ``band``.

    Integrates the exact energy spectrum of ``exp(-alpha t) sin(w_n t)``,
    ``|H(w)|^2 = w_n^2 / ((alpha^2 + w_n^2 - w^2)^2 + 4 alpha^2 w^2)``, on a 5 Hz grid.

    >>> round(float(band_fraction_of_resonance(3000.0, 0.05, (1000.0, 4000.0))), 3)
    0.954
    """
    fn = np.atleast_1d(np.asarray(resonance_hz, dtype=float))
    zeta = np.broadcast_to(np.asarray(damping, dtype=float), fn.shape)
    freqs = np.arange(0.0, fs / 2.0, 5.0) + 2.5
    w = 2 * math.pi * freqs[None, :]
    wn = 2 * math.pi * fn.reshape(-1)[:, None]
    alpha = zeta.reshape(-1)[:, None] * wn
    spectrum = wn**2 / ((alpha**2 + wn**2 - w**2) ** 2 + 4 * alpha**2 * w**2)
    inside = (freqs >= band[0]) & (freqs < band[1])
    share = spectrum[:, inside].sum(axis=1) / spectrum.sum(axis=1)
    return share.reshape(fn.shape) if np.ndim(resonance_hz) else share[0]


def _impact_moments(amp: Any, rate: Any, mod: Any, alpha: Any) -> Any:
    a2 = amp * amp
    mod2 = mod * mod
    m2 = rate * a2 * (1.0 + 0.5 * mod2) / (4.0 * alpha)
    m4 = rate * (a2 * a2) * (1.0 + 3.0 * mod2 + 0.375 * mod2 * mod2) * 3.0 / (32.0 * alpha)
    return m2, m4


def summarise(
    comp: VibrationComponents,
    window_s: float = ACQUISITION_S,
    fs: float = FS_HZ,
    band_shares: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Analytic summary statistics of one acquisition: rms, peak, kurtosis, crest and band energies (g^2).

    ``band_shares`` may carry precomputed :func:`band_fraction_of_resonance` values per band (the fleet
    simulator computes them once per asset); otherwise they are computed here.
    """
    extreme_alone = math.sqrt(2.0 * math.log(window_s * fs))
    extreme_on_crest = math.sqrt(2.0 * math.log(window_s * fs / 20.0))
    alpha = 2.0 * math.pi * np.asarray(comp.damping) * np.asarray(comp.resonance_hz)
    m2o, m4o = _impact_moments(comp.outer_amp, comp.outer_hz, comp.outer_mod, alpha)
    m2i, m4i = _impact_moments(comp.inner_amp, comp.inner_hz, comp.inner_mod, alpha)
    a1sq = comp.a1 * comp.a1
    a2sq = comp.a2 * comp.a2
    harmonic = 0.5 * (a1sq + a2sq)
    impact = m2o + m2i
    gauss_var = comp.cavitation_var + comp.noise_var
    var = harmonic + impact + gauss_var
    k4 = -0.375 * (a1sq * a1sq + a2sq * a2sq) + (m4o - 3.0 * m2o * m2o) + (m4i - 3.0 * m2i * m2i)
    rms = np.sqrt(var)
    kurtosis = np.maximum(3.0 + k4 / (var * var), 1.0)
    sigma = np.sqrt(gauss_var)
    crest_sum = comp.a1 + comp.a2
    # Gaussian extreme over N samples; on top of a sinusoid only the samples near its crests count (N/20)
    mix = crest_sum / (crest_sum + sigma + 1e-12)
    extreme = extreme_alone * (1.0 - mix) + extreme_on_crest * mix
    ring = 0.92 * np.maximum(comp.outer_amp * (1.0 + comp.outer_mod), comp.inner_amp * (1.0 + comp.inner_mod))
    peak = crest_sum + np.maximum(extreme * sigma, ring + sigma)
    if band_shares is None:
        band_shares = {
            name: band_fraction_of_resonance(comp.resonance_hz, comp.damping, edges) for name, edges in BANDS_HZ.items()
        }
    nyquist = fs / 2.0
    cav_lo, cav_hi = _CAVITATION_HZ
    out = {"rms": rms, "peak": peak, "kurtosis": kurtosis, "crest": peak / rms}
    for name, (lo, hi) in BANDS_HZ.items():
        cav_share = max(0.0, min(hi, cav_hi) - max(lo, cav_lo)) / (cav_hi - cav_lo)
        energy = impact * band_shares[name] + comp.noise_var * ((hi - lo) / nyquist) + comp.cavitation_var * cav_share
        if name == "low":
            energy = energy + harmonic
        out[f"band_{name}"] = energy
    return out


def snapshot(
    comp: VibrationComponents,
    duration_s: float = ACQUISITION_S,
    fs: float = FS_HZ,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """A raw acceleration waveform (g) sampled at ``fs`` for scalar components (on-request high-rate data).

    Impacts are placed at the defect period with 1 % random slip (rolling elements slide a little), scaled by the
    shaft-synchronous modulation, and ring the resonance through an impulse-invariant 2nd-order filter.

    >>> comp = VibrationComponents(shaft_hz=25.0, a1=0.1, outer_amp=1.0, outer_hz=89.6)
    >>> x = snapshot(comp, duration_s=0.5, seed=1)
    >>> x.shape, bool(x.max() > 0.5)
    ((12800,), True)
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = int(round(duration_s * fs))
    t = np.arange(n) / fs
    shaft = float(comp.shaft_hz)
    x = float(comp.a1) * np.sin(2 * math.pi * shaft * t + rng.uniform(0, 2 * math.pi))
    x += float(comp.a2) * np.sin(4 * math.pi * shaft * t + rng.uniform(0, 2 * math.pi))
    train = np.zeros(n)
    load_phase = rng.uniform(0, 2 * math.pi)
    for amp, rate, mod in (
        (comp.outer_amp, comp.outer_hz, comp.outer_mod),
        (comp.inner_amp, comp.inner_hz, comp.inner_mod),
    ):
        amp, rate, mod = float(amp), float(rate), float(mod)
        if amp <= 0.0 or rate <= 0.0:
            continue
        count = int(duration_s * rate) + 2
        times = (np.arange(count) + rng.uniform(0, 1)) / rate + rng.normal(0.0, 0.01 / rate, count)
        times = times[(times >= 0) & (times < duration_s)]
        idx = np.round(times * fs).astype(int) % n
        np.add.at(train, idx, amp * (1.0 + mod * np.cos(2 * math.pi * shaft * times + load_phase)))
    if train.any():
        fn, zeta = float(comp.resonance_hz), float(comp.damping)
        decay = math.exp(-2 * math.pi * zeta * fn / fs)
        omega = 2 * math.pi * fn / fs
        x += signal.lfilter([0.0, decay * math.sin(omega)], [1.0, -2 * decay * math.cos(omega), decay * decay], train)
    if float(comp.cavitation_var) > 0:
        sos = signal.butter(6, _CAVITATION_HZ, btype="bandpass", fs=fs, output="sos")
        cav = signal.sosfilt(sos, rng.standard_normal(n))
        x += cav * math.sqrt(float(comp.cavitation_var)) / cav.std()
    x += rng.normal(0.0, math.sqrt(float(comp.noise_var)), n)
    return x


def envelope_spectrum(
    x: np.ndarray,
    fs: float = FS_HZ,
    band: tuple[float, float] = BANDS_HZ["mid"],
) -> tuple[np.ndarray, np.ndarray]:
    """Envelope spectrum: band-pass around the resonance, Hilbert envelope, then its amplitude spectrum.

    Returns ``(freqs_hz, amplitude)``. The classic way to find bearing defect frequencies: the resonance carries
    the impacts, the envelope recovers their repetition rate.

    >>> comp = VibrationComponents(shaft_hz=25.0, outer_amp=1.0, outer_hz=89.6, noise_var=0.01)
    >>> f, a = envelope_spectrum(snapshot(comp, duration_s=2.0, seed=3))
    >>> mask = (f > 5) & (f < 500)
    >>> bool(abs(f[mask][np.argmax(a[mask])] - 89.6) < 1.0)
    True
    """
    sos = signal.butter(4, band, btype="bandpass", fs=fs, output="sos")
    env = np.abs(signal.hilbert(signal.sosfiltfilt(sos, x)))
    env -= env.mean()
    amp = np.abs(np.fft.rfft(env * np.hanning(env.size))) * 2.0 / env.size
    return np.fft.rfftfreq(env.size, 1.0 / fs), amp
