"""Vibration features: formulas, invariances, and the physics on real CWRU recordings."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.exceptions import SchemaError
from forewarn.features.spectral import (
    CWRU_DRIVE_END,
    PRONOSTIA,
    BearingGeometry,
    band_energies,
    envelope_spectrum,
    fault_band_energies,
    segment_features,
    spectral_features,
    time_features,
)

FS = 12_000.0


def test_cwru_fault_orders_match_the_published_table():
    # CWRU bearing data centre, 6205-2RS JEM SKF: BPFI 5.4152, BPFO 3.5848, FTF 0.39828, "BSF" 4.7135 (= 2 x spin)
    orders = CWRU_DRIVE_END.fault_orders()
    assert orders["bpfi"] == pytest.approx(5.4152, abs=2e-4)
    assert orders["bpfo"] == pytest.approx(3.5848, abs=2e-4)
    assert orders["ftf"] == pytest.approx(0.39828, abs=5e-5)
    assert 2 * orders["bsf"] == pytest.approx(4.7135, abs=2e-3)


def test_contact_angle_moves_the_frequencies_apart_less():
    straight = BearingGeometry(13, 3.5, 25.6).fault_orders()
    angled = BearingGeometry(13, 3.5, 25.6, contact_angle_deg=40).fault_orders()
    assert angled["bpfi"] < straight["bpfi"] and angled["bpfo"] > straight["bpfo"]
    assert PRONOSTIA.fault_frequencies(27.5)["bpfi"] == pytest.approx(13 * 27.5 / 2 * (1 + 3.5 / 25.6))


@pytest.mark.parametrize(
    "bad",
    [
        dict(n_elements=0, element_diameter=1, pitch_diameter=5),
        dict(n_elements=9, element_diameter=5, pitch_diameter=5),
    ],
)
def test_impossible_geometry_is_rejected(bad):
    with pytest.raises(SchemaError, match="not physical"):
        BearingGeometry(**bad)


def test_time_features_of_known_signals():
    rng = np.random.default_rng(0)
    t = np.arange(12_000) / FS
    sine = np.sin(2 * np.pi * 50 * t)
    feats = time_features(np.vstack([sine, rng.normal(size=t.size)]))
    assert feats["rms"][0] == pytest.approx(1 / np.sqrt(2), rel=1e-3)
    assert feats["crest_factor"][0] == pytest.approx(np.sqrt(2), rel=1e-3)
    assert feats["kurtosis"][0] == pytest.approx(1.5, rel=1e-3)
    assert feats["kurtosis"][1] == pytest.approx(3.0, abs=0.15)
    assert abs(feats["skewness"][1]) < 0.1
    flat = time_features(np.ones((1, 8)))
    assert flat["kurtosis"][0] == 0.0 and np.isfinite(flat["crest_factor"][0])


@settings(max_examples=30, deadline=None)
@given(st.floats(min_value=1e-3, max_value=1e3), st.integers(min_value=0, max_value=2**31))
def test_shape_features_ignore_the_amplitude(scale, seed):
    x = np.random.default_rng(seed).standard_t(df=4, size=(2, 256))
    a, b = spectral_features(x, FS, n_bands=8), spectral_features(x * scale, FS, n_bands=8)
    for name in (
        "kurtosis",
        "crest_factor",
        "skewness",
        "shape_factor",
        "spectral_centroid",
        "band_3",
        "envelope_kurtosis",
    ):
        np.testing.assert_allclose(a[name], b[name], rtol=1e-6, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(b["rms"], a["rms"] * scale, rtol=1e-9)
    np.testing.assert_allclose(b[[f"band_{k}" for k in range(8)]].sum(axis=1), 1.0)


def test_band_energy_finds_the_tone():
    t = np.arange(2048) / FS
    shares = band_energies(np.sin(2 * np.pi * 4_100 * t)[None, :], FS, n_bands=6)
    assert int(np.argmax(shares[0])) == 4  # 4.0-5.0 kHz
    with pytest.raises(SchemaError):
        band_energies(np.ones((1, 8)), FS, n_bands=0)


def test_envelope_spectrum_recovers_the_modulation():
    t = np.arange(8192) / FS
    signal = (1 + 0.8 * np.sin(2 * np.pi * 120 * t)) * np.sin(2 * np.pi * 3_000 * t)
    freqs, power = envelope_spectrum(signal[None, :], FS)
    assert freqs[np.argmax(power[0])] == pytest.approx(120, abs=2 * (freqs[1] - freqs[0]))


def _bursts(rate_hz, n=8192, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FS
    gate = np.zeros(n)
    gate[(np.arange(0, t[-1], 1 / rate_hz) * FS).astype(int)] = 1.0
    ringing = np.exp(-np.arange(60) / 10.0) * np.sin(2 * np.pi * 3_000 * np.arange(60) / FS)
    return np.convolve(gate, ringing)[:n] + rng.normal(0, 0.05, n)


@pytest.mark.parametrize("fault", ["bpfo", "bpfi"])
def test_fault_band_energy_points_at_the_fault(fault):
    shaft = 29.95
    rate = CWRU_DRIVE_END.fault_frequencies(shaft)[fault]
    energies = fault_band_energies(_bursts(rate)[None, :], FS, shaft, CWRU_DRIVE_END)
    other = "bpfi" if fault == "bpfo" else "bpfo"
    assert energies[f"fault_{fault}_h1"][0] > 5 * energies[f"fault_{other}_h1"][0]
    assert energies[f"fault_{fault}_h2"][0] > energies[f"fault_{other}_h2"][0]


def test_inputs_are_checked():
    with pytest.raises(SchemaError, match="non-finite"):
        spectral_features(np.array([[0.0, np.nan, 1.0]]), FS)
    with pytest.raises(SchemaError, match="at least 2 samples"):
        spectral_features(np.ones((3, 1)), FS)
    with pytest.raises(SchemaError, match="sampling_rate_hz"):
        spectral_features(np.ones((1, 16)), 0.0)
    with pytest.raises(SchemaError, match="shaft_hz"):
        fault_band_energies(np.ones((1, 16)), FS, 0.0, CWRU_DRIVE_END)


def test_one_segment_online_matches_the_batch():
    x = np.random.default_rng(3).normal(size=(4, 512))
    batch = spectral_features(x, FS, shaft_hz=29.95, geometry=CWRU_DRIVE_END)
    one = segment_features(x[2], FS, shaft_hz=29.95, geometry=CWRU_DRIVE_END)
    assert list(one) == list(batch.columns)
    np.testing.assert_allclose(list(one.values()), batch.iloc[2].to_numpy())


def test_cwru_recordings_show_their_fault_frequency(shared_data_dir):
    """Real data: the outer-race recording's envelope is richer at BPFO, the inner-race one at BPFI."""
    from forewarn.datasets.cwru import load_cwru

    recordings = {r.label: r for r in load_cwru(shared_data_dir).recordings}
    for label, strong, weak in (("OR_021", "bpfo", "bpfi"), ("IR_021", "bpfi", "bpfo")):
        segments = recordings[label].signal[: 20 * 4096].reshape(20, 4096)
        table = spectral_features(segments, FS, shaft_hz=1797 / 60, geometry=CWRU_DRIVE_END)
        assert table[f"fault_{strong}_h1"].median() > 2 * table[f"fault_{weak}_h1"].median(), label
