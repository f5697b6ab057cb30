"""Assembling a fleet: sites, assets, regimes, the degradation plan, sensor faults and calibration.

:func:`build_fleet` lives in :mod:`forewarn.twin.fleet` beside the :class:`~forewarn.twin.fleet.Fleet` it
builds (the two modules imported each other); this name stays for code that imports it from here.

Every random part draws from its own stream of one :class:`numpy.random.SeedSequence`, so a seed fixes the
whole fleet, and switching one part off (sensor faults, say) leaves the others unchanged.

>>> fleet = build_fleet(FleetConfig(sites=2, assets=4, days=1, seed=9, interval="1h"))
>>> [s.site_id for s in fleet.sites], len(fleet.lines)
(['S1', 'S2'], 2)
"""

from forewarn.twin.fleet import FleetConfig, build_fleet

__all__ = ["FleetConfig", "build_fleet"]
