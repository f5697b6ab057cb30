"""Shared fixtures: the benchmark data directory (FOREWARN_DATA_DIR, default ../shared/data beside the repo) and
a real mosquitto broker. Shared helper functions live in ``testkit.py``."""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Bytecode on: the tests start a few hundred Pythons (CLI runs, servers, Flower's SuperLink, SuperNodes and a
# ClientApp per message, Ray workers), each importing numpy, pandas, torch or flwr. With PYTHONDONTWRITEBYTECODE
# set (some shells and sandboxes export it) no .pyc is ever written and every one of them compiles those packages
# from source again: 6.5 s instead of 2.9 s for `import flwr, torch, sklearn, pandas` on this machine. The
# subprocesses (and pytest-xdist's workers, started after this file is read) inherit the environment.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The benchmark data directory; tests that need a dataset skip when it is absent."""
    path = Path(os.environ.get("FOREWARN_DATA_DIR", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"benchmark data directory {path} not found (set FOREWARN_DATA_DIR)")
    return path


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator["LocalBroker"]:  # noqa: F821 - imported lazily: most tests need no broker
    """mosquitto on a free 127.0.0.1 port with persistence in a temporary folder, stopped after the test."""
    from forewarn.stream.broker import LocalBroker, mosquitto_path

    if mosquitto_path() is None:
        pytest.skip("the mosquitto binary is not installed (apt-get install -y mosquitto); the Makefile installs it")
    with LocalBroker(tmp_path / "broker") as running:
        yield running


#: test modules that run end to end (real servers, a browser, whole datasets, training on a simulated plant): marked
#: ``slow`` here, in one list, so ``make test-fast`` (``-m "not slow"``) leaves them out; ``make test`` and CI run
#: them. Single slow tests elsewhere carry ``@pytest.mark.slow`` themselves.
SLOW_MODULES = frozenset(
    {
        "tests/bench/test_ai4i.py",
        "tests/bench/test_cwru.py",
        "tests/bench/test_femto.py",
        "tests/bench/test_fleet.py",
        "tests/monitor/test_monitor_plant.py",
        "tests/serve/test_age_serving.py",
        "tests/serve/test_dashboard_a11y.py",
        "tests/serve/test_dashboard_browser.py",
        "tests/serve/test_schemathesis.py",
        "tests/serve/test_security.py",
        "tests/serve/test_serve_cli.py",
        "tests/serve/test_serve_stream.py",
        "tests/stream/test_metrics.py",
        "tests/stream/test_mqtt.py",
        "tests/stream/test_opcua.py",
        "tests/stream/test_replay.py",
        "tests/train/test_baseline_serving.py",
        "tests/train/test_train_backtest_score.py",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of :data:`SLOW_MODULES` as ``slow``."""
    for item in items:
        path = Path(str(item.path)).resolve()
        if path.is_relative_to(REPO) and path.relative_to(REPO).as_posix() in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
