"""The component models held to analytic results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from forewarn.twin.bearing import BEARINGS, paris_growth_rate, time_to_failure_hours, weibull_eta, weibull_hazard
from forewarn.twin.lubrication import oil_decay_per_hour
from forewarn.twin.motor import current_a, efficiency, insulation_life_hours, loss_split_kw, rated_current_a
from forewarn.twin.pump import cavitation_severity, npsh_available_m, operating_point, seal_leak_lpm
from forewarn.twin.thermal import LumpedThermal, first_order_lag, first_order_lag_blocked
from forewarn.twin.vibration import BANDS_HZ, FS_HZ, VibrationComponents, envelope_spectrum, snapshot, summarise

NODE = LumpedThermal(mass_kg=120.0, specific_heat=450.0, h=30.0, area_m2=1.5)  # tau = 1200 s


def test_thermal_steady_state_is_losses_over_conductance() -> None:
    losses, ambient = 2500.0, 22.0
    temps = NODE.response(np.full(20 * 1200, losses), ambient_c=ambient, dt_s=1.0, temp0_c=ambient)
    expected = ambient + losses / (NODE.h * NODE.area_m2)
    assert temps[-1] == pytest.approx(expected, abs=1e-6)
    assert float(NODE.steady_state(losses, ambient)) == pytest.approx(expected)


@pytest.mark.parametrize("dt_s", [1.0, 60.0, 600.0])
def test_thermal_step_response_reaches_63_percent_at_tau(dt_s: float) -> None:
    tau = NODE.time_constant_s
    assert tau == pytest.approx(120.0 * 450.0 / (30.0 * 1.5))
    steps = int(3 * tau / dt_s)
    temps = NODE.response(np.full(steps, 1000.0), ambient_c=20.0, dt_s=dt_s, temp0_c=20.0)
    at_tau = temps[int(round(tau / dt_s)) - 1]
    fraction = (at_tau - 20.0) / (float(NODE.steady_state(1000.0, 20.0)) - 20.0)
    assert fraction == pytest.approx(1 - math.exp(-1), abs=1e-9)  # exact for held inputs, whatever the step


def test_blocked_solver_matches_the_loop_with_varying_inputs() -> None:
    rng = np.random.default_rng(0)
    target = (40 + 30 * rng.random((3, 2000))).astype(np.float32)
    log_decay = (-rng.uniform(0.01, 0.2, (3, 2000))).astype(np.float32)
    x0 = np.array([20.0, 60.0, -5.0], dtype=np.float32)
    loop = first_order_lag(target.T.astype(float), np.exp(log_decay.T.astype(float)), x0.astype(float)).T
    blocked = first_order_lag_blocked(target, log_decay, x0)
    assert np.abs(blocked - loop).max() < 1e-3


def test_bearing_orders_match_the_published_6205_values() -> None:
    bpfo, bpfi, bsf, ftf = BEARINGS["6205"].orders()  # CWRU bearing data centre: 3.5848, 5.4152, 2.357, 0.3983
    assert (bpfo, bpfi, bsf, ftf) == pytest.approx((3.5848, 5.4152, 2.357, 0.39828), abs=6e-4)
    f = BEARINGS["6309"].frequencies(24.75)
    assert f.bpfo + f.bpfi == pytest.approx(8 * 24.75)  # n * f_r


@pytest.mark.parametrize(("race", "order_index"), [("outer", 0), ("inner", 1)])
def test_envelope_spectrum_peaks_at_the_defect_frequency(race: str, order_index: int) -> None:
    shaft = 1480.0 / 60.0
    defect_hz = BEARINGS["6309"].orders()[order_index] * shaft
    comp = VibrationComponents(
        shaft_hz=shaft,
        a1=0.05,
        a2=0.02,
        noise_var=0.05**2,
        resonance_hz=3000.0,
        **{f"{race}_amp": 0.8, f"{race}_hz": defect_hz},
    )
    freqs, amp = envelope_spectrum(snapshot(comp, duration_s=4.0, seed=7))
    window = (freqs > 0.5 * shaft) & (freqs < 12 * shaft)
    peak = freqs[window][np.argmax(amp[window])]
    assert abs(peak - defect_hz) / defect_hz < 0.01


CASES = [
    VibrationComponents(shaft_hz=24.75, a1=0.1, a2=0.03, noise_var=0.03**2),
    VibrationComponents(shaft_hz=49.5, a1=0.03, a2=0.01, outer_amp=0.4, outer_hz=3.58 * 49.5, noise_var=0.05**2),
    VibrationComponents(shaft_hz=49.5, a1=0.07, a2=0.02, outer_amp=2.0, outer_hz=3.58 * 49.5, noise_var=0.02**2),
    VibrationComponents(shaft_hz=24.75, a1=0.07, inner_amp=1.0, inner_hz=5.42 * 24.75, noise_var=0.03**2),
    VibrationComponents(
        shaft_hz=24.75, a1=0.07, inner_amp=0.2, inner_hz=5.42 * 24.75, noise_var=0.03**2, cavitation_var=0.1**2
    ),
]


@pytest.mark.parametrize("comp", CASES)
def test_analytic_summaries_agree_with_synthesised_waveforms(comp: VibrationComponents) -> None:
    analytic = summarise(comp)
    waves = [snapshot(comp, seed=s) for s in range(4)]
    rms = np.mean([np.sqrt(np.mean(x**2)) for x in waves])
    kurt = np.mean([stats.kurtosis(x, fisher=False) for x in waves])
    peak = np.mean([np.abs(x).max() for x in waves])
    assert float(analytic["rms"]) == pytest.approx(rms, rel=0.03)
    assert float(analytic["kurtosis"]) == pytest.approx(kurt, rel=0.06)
    assert float(analytic["peak"]) == pytest.approx(peak, rel=0.15)
    freqs = np.fft.rfftfreq(waves[0].size, 1 / FS_HZ)
    power = np.abs(np.fft.rfft(waves[0])) ** 2
    power *= np.mean(waves[0] ** 2) / power.sum()
    for name, (lo, hi) in BANDS_HZ.items():
        measured = power[(freqs >= lo) & (freqs < hi)].sum()
        assert float(analytic[f"band_{name}"]) == pytest.approx(measured, rel=0.25, abs=2e-5)


def test_kurtosis_rises_with_an_early_spall_and_falls_with_imbalance() -> None:
    base = dict(shaft_hz=49.5, a1=0.03, a2=0.01, noise_var=0.06**2)
    healthy = float(summarise(VibrationComponents(**base))["kurtosis"])
    spall = float(summarise(VibrationComponents(**base, outer_amp=0.3, outer_hz=177.0))["kurtosis"])
    unbalanced = float(summarise(VibrationComponents(**{**base, "a1": 0.4}))["kurtosis"])
    assert unbalanced < healthy < spall
    assert healthy == pytest.approx(3.0, abs=0.2)


def test_paris_law_growth_reaches_failure_in_the_closed_form_time() -> None:
    d, t, dt = 0.03, 0.0, 0.05
    while d < 1.0:
        d += dt * float(paris_growth_rate(d, 0.01))
        t += dt
    assert t == pytest.approx(time_to_failure_hours(0.03, 0.01), rel=0.01)
    eta = float(weibull_eta(40_000.0, 1.5))
    assert 1 - math.exp(-((40_000.0 / eta) ** 1.5)) == pytest.approx(0.10)  # L10: 10 % fail by then
    assert float(weibull_hazard(2 * 40_000.0, eta, 1.5)) > float(weibull_hazard(40_000.0, eta, 1.5))


def test_centrifugal_curve_wear_seal_and_cavitation() -> None:
    q, h, eta = operating_point(1.0, 50.0, 120.0, 0.8, 0.3)
    assert (float(q), float(h), float(eta)) == pytest.approx((120.0, 50.0, 0.8))
    q2, h2, eta2 = operating_point(1.0, 50.0, 120.0, 0.8, 0.3, wear=0.2)
    assert q2 < q and h2 < h and eta2 < eta
    q_slow, _, _ = operating_point(0.8, 50.0, 120.0, 0.8, 0.3)
    assert q_slow < q
    assert float(seal_leak_lpm(2.0, 0.5, 1.0)) == pytest.approx(0.5)
    npsha = float(npsh_available_m(-40.0))
    levels = [float(cavitation_severity(npsha, 4.0, flow, 120.0)) for flow in (80.0, 120.0, 160.0)]
    assert levels[0] == 0.0 and levels == sorted(levels) and levels[-1] > 0


def test_motor_losses_current_efficiency_and_insulation() -> None:
    rated_i = float(rated_current_a(55.0, 0.95))
    fixed, copper = loss_split_kw(55.0, 55.0, 0.95)
    assert float(current_a(55.0 + fixed + copper, 55.0, 0.95, rated_i)) == pytest.approx(rated_i)
    assert float(efficiency(55.0, 55.0, 0.95)) == pytest.approx(0.95)
    assert efficiency(55.0, 55.0, 0.95, insulation_damage=0.9) < efficiency(55.0, 55.0, 0.95, insulation_damage=0.1)
    assert float(insulation_life_hours(140.0) / insulation_life_hours(130.0)) == pytest.approx(0.5)
    assert float(oil_decay_per_hour(70.0, 8000.0) / oil_decay_per_hour(60.0, 8000.0)) == pytest.approx(2.0)
