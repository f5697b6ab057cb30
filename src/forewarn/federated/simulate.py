"""Simulation mode: every site's ``ClientApp`` on this machine, in Flower's simulation engine (Ray actors).

:func:`simulate` writes each site's rows to its own file in a private folder (a site's ``ClientApp`` opens only
its own), starts the engine with ``actors`` Ray workers on loopback with Ray's temporary files in a fresh
folder (removed afterwards), runs the ``ServerApp`` and returns what it wrote: the global parameters and the
per-round record (bytes per round, losses, wall time).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forewarn.exceptions import ConfigError, ForewarnError
from forewarn.federated import apps

#: set before Flower or Ray are imported (DESIGN.md: "Real parts, and how they start")
ENVIRONMENT = {
    "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
    "FLWR_DISABLE_UPDATE_CHECK": "1",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DEDUP_LOGS": "0",
}


@dataclass(frozen=True)
class SiteRows:
    """One site's training rows and held-out rows (features as columns, one target per row)."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    y_test: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __post_init__(self) -> None:
        if len(self.X_train) != len(self.y_train) or len(self.X_train) == 0:
            raise ConfigError(f"site {self.name!r}: {len(self.X_train)} training rows, {len(self.y_train)} targets")


@dataclass
class Outcome:
    """What a federated run made: the global parameters and the server's per-round record."""

    params: dict[str, np.ndarray]
    history: dict[str, Any]
    wall_seconds: float


ENGINES = ("ray", "inprocess", "deployment")


def simulate(sites: Sequence[SiteRows], config: apps.FedConfig, *, engine: str = "ray", actors: int = 2) -> Outcome:
    """Federated training of ``config`` over ``sites``: ``engine="ray"`` runs Flower's simulation engine (see the
    module text), ``"inprocess"`` the same apps through :class:`~forewarn.federated.inprocess.LocalGrid`,
    ``"deployment"`` a SuperLink and one SuperNode per site on this machine over TLS with SuperNode
    authentication (:func:`forewarn.federated.deploy.deploy_run`)."""
    if engine not in ENGINES:
        raise ConfigError(f"engine={engine!r} is not one of {', '.join(ENGINES)}")
    if len(sites) != config.sites:
        raise ConfigError(f"config.sites={config.sites} but {len(sites)} sites were given")
    widths = {s.X_train.shape[1] for s in sites}
    if len(widths) != 1:
        raise ConfigError(f"the sites' feature counts differ: {sorted(widths)}; every site needs the same columns")
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    if engine == "deployment":
        from forewarn.federated.deploy import deploy_run

        started = time.perf_counter()
        params, history = deploy_run(sites, config)
        wall = time.perf_counter() - started
        history["wall_seconds"], history["engine"] = round(wall, 3), engine
        return Outcome(params, history, wall)
    work = Path(tempfile.mkdtemp(prefix="fw-fed-"))
    ray_tmp = Path(tempfile.mkdtemp(prefix="fwray-", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    try:
        data = work / "sites"
        apps.write_sites(data, sites)
        out = work / "server"
        started = time.perf_counter()
        server, client = apps.server_app(config, str(out)), apps.client_app(str(data))
        flower_log = logging.getLogger("flwr")
        level = flower_log.level
        flower_log.setLevel(logging.WARNING)  # Flower logs every round at INFO; the caller reports progress
        try:
            if engine == "ray":
                _run_in_child(config, data, out, actors, ray_tmp)
            else:
                from forewarn.federated.inprocess import run_local

                run_local(server, client, config.sites)
        finally:
            flower_log.setLevel(level)
        wall = time.perf_counter() - started
        if not (out / apps.GLOBAL_FILE).is_file():
            raise ForewarnError("the federated run ended without a global model; see the Flower log above")
        with np.load(out / apps.GLOBAL_FILE, allow_pickle=False) as saved:
            params = {k: saved[k] for k in saved.files}
        history = json.loads((out / apps.HISTORY_FILE).read_text(encoding="utf-8"))
        history["wall_seconds"] = round(wall, 3)
        history["engine"] = engine
        history["engine_tmp"] = str(ray_tmp)  # removed below
        return Outcome(params, history, wall)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(ray_tmp, ignore_errors=True)


def _run_in_child(config: apps.FedConfig, data: Path, out: Path, actors: int, ray_tmp: Path) -> None:
    """Run the engine in a child Python: Ray's processes belong to it and end with it (a Ray started in the
    caller outlives ``ray.shutdown`` as un-waited subprocesses), and the caller's logging stays its own."""
    import subprocess
    import sys
    from dataclasses import asdict

    settings = out.parent / "config.json"
    settings.write_text(json.dumps(asdict(config)), encoding="utf-8")
    command = [sys.executable, "-m", "forewarn.federated.simulate", str(settings), str(data), str(out)]
    command += [str(actors), str(ray_tmp)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=config.timeout_s + 120, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise ForewarnError(f"the Flower simulation engine failed (exit {done.returncode}):\n{tail}")


def _main(argv: Sequence[str]) -> None:
    """``python -m forewarn.federated.simulate CONFIG DATA OUT ACTORS RAY_TMP`` (what :func:`_run_in_child` runs)."""
    settings, data, out, actors, ray_tmp = argv
    raw = json.loads(Path(settings).read_text(encoding="utf-8"))
    raw["hidden"] = tuple(raw["hidden"])
    config = apps.FedConfig(**raw)
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    logging.getLogger("flwr").setLevel(logging.WARNING)
    _run(apps.server_app(config, out), apps.client_app(data), config.sites, int(actors), Path(ray_tmp))


def _run(server: Any, client: Any, sites: int, actors: int, ray_tmp: Path) -> None:
    import ray
    from flwr.simulation import run_simulation

    backend = {
        "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
        "init_args": {
            "num_cpus": max(1, int(actors)),
            "num_gpus": 0,
            "_temp_dir": str(ray_tmp),
            "include_dashboard": False,
            "logging_level": logging.ERROR,
            "log_to_driver": False,
        },
    }
    try:
        run_simulation(server_app=server, client_app=client, num_supernodes=sites, backend_config=backend)  # type: ignore[arg-type]
    finally:
        if ray.is_initialized():
            ray.shutdown()


if __name__ == "__main__":
    import sys

    _main(sys.argv[1:])
