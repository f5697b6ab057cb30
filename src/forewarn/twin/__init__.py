"""A physics-based digital twin: component models, asset twins, a fleet simulator and what-if scenarios.

Component models (each module documents its equations and parameters): :mod:`~forewarn.twin.thermal`
(lumped heat balance), :mod:`~forewarn.twin.bearing` (defect frequencies, spall initiation and growth),
:mod:`~forewarn.twin.vibration` (analytic summaries and raw snapshots), :mod:`~forewarn.twin.pump`
(centrifugal curves, wear, seal leak, cavitation), :mod:`~forewarn.twin.motor` (losses, current, insulation
ageing), :mod:`~forewarn.twin.lubrication`. They are assembled into pump, motor, compressor and fan twins
(:mod:`~forewarn.twin.assets`, :mod:`~forewarn.twin.machine`), degraded and maintained hour by hour
(:mod:`~forewarn.twin.degradation`, :mod:`~forewarn.twin.engine`, :mod:`~forewarn.twin.maintenance`),
read through imperfect sensors (:mod:`~forewarn.twin.sensors`) and simulated as fleets of differing sites
(:mod:`~forewarn.twin.sites`, :mod:`~forewarn.twin.fleet`, :mod:`~forewarn.twin.simulator`,
:mod:`~forewarn.twin.output`). :mod:`~forewarn.twin.whatif` answers scenario
questions from a twin state or from readings (:mod:`~forewarn.twin.calibrate`).

>>> from forewarn.twin import FleetConfig, simulate_fleet
>>> fleet = simulate_fleet(FleetConfig(sites=2, assets=4, days=1, seed=3, interval="1h"))
>>> {a.asset_class for a in fleet.assets} <= {"compressor", "fan", "motor", "pump"}
True
"""

from forewarn.twin.calibrate import estimate_state
from forewarn.twin.demo import DEMO_CONFIG, demo_fleet
from forewarn.twin.fleet import Fleet, FleetChunk, FleetConfig, simulate_fleet
from forewarn.twin.whatif import Scenario, TwinState, WhatIfResult, what_if

__all__ = [
    "DEMO_CONFIG",
    "Fleet",
    "FleetChunk",
    "FleetConfig",
    "Scenario",
    "TwinState",
    "WhatIfResult",
    "demo_fleet",
    "estimate_state",
    "simulate_fleet",
    "what_if",
]
