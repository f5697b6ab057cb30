"""Vibration fault diagnosis from raw segments: spectral features, then gradient boosting.

Input: one row per segment of a single accelerometer channel, one column per sample in time order
(``s0 .. s{n-1}``, any names; the fitted column order is the time order). Inside, each row becomes the
features of :func:`forewarn.features.spectral.spectral_features` (time statistics, band energies, envelope
statistics and, given the shaft speed and the bearing geometry, envelope energy at the bearing's fault
frequencies and their harmonics), and a :class:`~forewarn.models.fault.lightgbm_fault.LightGBMFault` booster
learns from them. Features are a fixed function of the segment and the parameters, so the state is the
booster alone and the model can score one segment at a time.

Why features inside the estimator: a saved model then carries the exact feature recipe it was trained with
(sampling rate, bands, geometry in its manifest), so nobody can feed it features computed differently.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> fs, n = 12_000.0, 1024
>>> t = np.arange(n) / fs
>>> def segment(fault):
...     noise = rng.normal(0, 0.3, n)
...     return noise + (fault * (np.sin(2 * np.pi * 107.4 * t + rng.uniform(0, 6)) > 0.98) * np.sin(2 * np.pi * 3000 * t))
>>> X = pd.DataFrame([segment(f) for f in [0, 1] * 40], columns=[f"s{i}" for i in range(n)])
>>> y = np.array(["normal", "outer_race"] * 40)
>>> model = SpectralGBM(sampling_rate_hz=fs, n_estimators=50, seed=0).fit(X, y)
>>> model.predict(pd.DataFrame([segment(1), segment(0)], columns=X.columns)).tolist()
['outer_race', 'normal']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forewarn.base.params import Interval
from forewarn.base.registry import register
from forewarn.features.spectral import BearingGeometry, spectral_features
from forewarn.models.fault.lightgbm_fault import LightGBMFault

_POSITIVE = Interval(float, 0, None, closed="right")


@register("spectral-gbm")
class SpectralGBM(LightGBMFault):
    """Spectral/envelope features of raw segments -> LightGBM.

    ``sampling_rate_hz``: samples per second of the segments. ``n_bands``: equal spectral bands.
    ``shaft_hz`` with ``n_elements``, ``element_diameter``, ``pitch_diameter`` (same unit) and
    ``contact_angle_deg``: adds the bearing fault-frequency bands (``harmonics`` of each, ``rel_width`` wide).
    ``envelope_low_hz``/``envelope_high_hz``: band demodulated for the envelope (default ``fs/8 .. 3 fs/8``).
    The remaining parameters are LightGBM's (see :class:`LightGBMFault`).
    """

    tags = {"nan_allowed": False}
    parameter_constraints = LightGBMFault.parameter_constraints | {
        "sampling_rate_hz": [_POSITIVE],
        "n_bands": [Interval(int, 1)],
        "shaft_hz": [_POSITIVE, None],
        "n_elements": [Interval(int, 1), None],
        "element_diameter": [_POSITIVE, None],
        "pitch_diameter": [_POSITIVE, None],
        "contact_angle_deg": [Interval(float, 0, 90, closed="left")],
        "harmonics": [Interval(int, 1)],
        "rel_width": [Interval(float, 0, 1, closed="neither")],
        "envelope_low_hz": [_POSITIVE, None],
        "envelope_high_hz": [_POSITIVE, None],
    }

    def __init__(
        self,
        *,
        sampling_rate_hz: float = 12_000.0,
        n_bands: int = 16,
        shaft_hz: float | None = None,
        n_elements: int | None = None,
        element_diameter: float | None = None,
        pitch_diameter: float | None = None,
        contact_angle_deg: float = 0.0,
        harmonics: int = 3,
        rel_width: float = 0.03,
        envelope_low_hz: float | None = None,
        envelope_high_hz: float | None = None,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 10,
        subsample: float = 0.8,
        colsample: float = 0.8,
        reg_lambda: float = 1.0,
        max_bin: int = 1023,
        class_weight: str | None = "sqrt",
        n_jobs: int = 1,
        seed: int = 0,
    ):
        super().__init__(
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            min_child_samples=min_child_samples,
            subsample=subsample,
            colsample=colsample,
            reg_lambda=reg_lambda,
            max_bin=max_bin,
            class_weight=class_weight,
            n_jobs=n_jobs,
            seed=seed,
        )
        self.sampling_rate_hz = sampling_rate_hz
        self.n_bands = n_bands
        self.shaft_hz = shaft_hz
        self.n_elements = n_elements
        self.element_diameter = element_diameter
        self.pitch_diameter = pitch_diameter
        self.contact_angle_deg = contact_angle_deg
        self.harmonics = harmonics
        self.rel_width = rel_width
        self.envelope_low_hz = envelope_low_hz
        self.envelope_high_hz = envelope_high_hz

    def geometry(self) -> BearingGeometry | None:
        """The bearing geometry given by the parameters, or None when incomplete."""
        if None in (self.n_elements, self.element_diameter, self.pitch_diameter):
            return None
        return BearingGeometry(
            int(self.n_elements),  # type: ignore[arg-type]
            float(self.element_diameter),  # type: ignore[arg-type]
            float(self.pitch_diameter),  # type: ignore[arg-type]
            float(self.contact_angle_deg),
        )

    def _envelope_band(self) -> tuple[float, float] | None:
        if self.envelope_low_hz is None and self.envelope_high_hz is None:
            return None
        fs = float(self.sampling_rate_hz)
        return (
            fs / 8 if self.envelope_low_hz is None else float(self.envelope_low_hz),
            3 * fs / 8 if self.envelope_high_hz is None else float(self.envelope_high_hz),
        )

    def _design(self, X: pd.DataFrame) -> pd.DataFrame:
        return spectral_features(
            X.to_numpy(dtype="float64"),
            float(self.sampling_rate_hz),
            n_bands=self.n_bands,
            shaft_hz=self.shaft_hz,
            geometry=self.geometry(),
            harmonics=self.harmonics,
            rel_width=self.rel_width,
            envelope_band=self._envelope_band(),
        )

    def _design_names(self) -> list[str]:
        """The spectral features' names: the booster's own (they are names LightGBM keeps as they are)."""
        return [str(n) for n in self.booster_.feature_name()]

    def features(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """The spectral features this model computes for ``X`` (for inspection and explanations)."""
        return self._design(self._validate_input(X))
