"""The service benchmarks' load generator (benchmarks/loadgen.py): how it groups the slow requests of a run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("loadgen", Path(__file__).parents[2] / "benchmarks" / "loadgen.py")
assert _spec is not None and _spec.loader is not None
loadgen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loadgen)


def test_scattered_slow_requests_are_many_short_episodes() -> None:
    latencies = [0.001] * 1000
    for i in range(0, 1000, 100):  # one slow request every half second at 200 requests/s
        latencies[i] = 0.02
    result = loadgen.slow_episodes(latencies, rate=200.0)
    assert result == {"over": 10, "episodes": 10, "longest_episode_ms": 0.0, "slow_in_runs": 0.0}


def test_a_slow_spell_is_one_long_episode() -> None:
    latencies = [0.001] * 1000
    latencies[300:320] = [0.011 + 0.002 * k for k in range(20)]  # requests queueing for 100 ms
    latencies[500] = 0.012
    result = loadgen.slow_episodes(latencies, rate=200.0)
    assert result["over"] == 21 and result["episodes"] == 2
    assert result["longest_episode_ms"] == pytest.approx(95.0)
    assert result["slow_in_runs"] == pytest.approx(20 / 21)


def test_no_slow_request() -> None:
    assert loadgen.slow_episodes([0.001, 0.002], rate=200.0)["episodes"] == 0
