"""A small simulated fleet for demos and tests: one site run to failure, so it holds many failure histories.

``forewarn demo --simulated`` ingests it, trains on it and scores it; it renders in a few seconds.

>>> fleet = demo_fleet(seed=0)
>>> len(fleet.assets), fleet.interval_minutes, int((fleet.events["kind"] == "failure").sum()) >= 5
(30, 10, True)
"""

from __future__ import annotations

from forewarn.twin.fleet import Fleet, FleetConfig, simulate_fleet

__all__ = ["DEMO_CONFIG", "demo_fleet"]

#: One site, 30 assets, 60 days of 10-minute summaries; degradation runs 5 times faster than in life and the
#: site runs its machines to failure, so about half of them fail at least once.
DEMO_CONFIG = FleetConfig(
    sites=1,
    assets=30,
    days=60,
    interval="10min",
    degradation_scale=5.0,
    policies=("run_to_failure",),
    start="2024-03-01",
)


def demo_fleet(seed: int = 0) -> Fleet:
    """The demo fleet (see :data:`DEMO_CONFIG`), reproducible from ``seed``."""
    return simulate_fleet(DEMO_CONFIG, seed=seed)
