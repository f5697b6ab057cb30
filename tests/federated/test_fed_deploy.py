"""Deployment mode: a SuperLink and three SuperNodes on 127.0.0.1 over TLS with SuperNode authentication, made and
stopped by the test; the run's model equals the in-process simulation's for the same data and seeds."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from forewarn.exceptions import ConfigError
from forewarn.federated import apps
from forewarn.federated.deploy import HOST, Federation, free_port, make_credentials, write_app
from forewarn.federated.simulate import SiteRows, simulate

# a SuperLink, four SuperNodes and a ClientApp process per message: minutes on a loaded machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _sites() -> list[SiteRows]:
    rng = np.random.default_rng(0)
    sites = []
    for i, n in enumerate((150, 250, 200)):
        X = rng.normal(i, 1.0, (n, 4))
        y = (X[:, 1] - i > 0.5).astype(float)
        sites.append(SiteRows(f"s{i}", X[:-30], y[:-30], X[-30:], y[-30:]))
    return sites


def _group_gone(pgid: int) -> bool:
    """No live process (zombies aside: nothing is left to run) is in process group ``pgid``."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return False
    return True


def test_superlink_and_three_supernodes_give_the_simulation_model(tmp_path: Path) -> None:
    sites = _sites()
    config = apps.FedConfig(sites=3, rounds=2, local_epochs=1, hidden=(6,), seed=3, timeout_s=400)
    files = [
        apps.write_site(tmp_path / "sites" / f"site-{i}.npz", s.X_train, s.y_train, s.X_test, s.y_test)
        for i, s in enumerate(sites)
    ]
    out = tmp_path / "server"
    federation = Federation(tmp_path / "federation", files)
    with federation:
        creds = federation.credentials
        assert creds is not None
        # the Fleet API speaks TLS with the certificate the test's CA signed, for 127.0.0.1
        trusted = ssl.create_default_context(cafile=str(creds.ca_cert))
        with (
            socket.create_connection((HOST, federation.ports["fleet"]), timeout=10) as raw,
            trusted.wrap_socket(raw, server_hostname=HOST) as tls,
        ):
            assert dict(x[0] for x in tls.getpeercert()["subject"])["commonName"] == "localhost"
        with (
            socket.create_connection((HOST, federation.ports["fleet"]), timeout=10) as raw,
            pytest.raises(ssl.SSLCertVerificationError),  # a client without the CA does not trust it
        ):
            ssl.create_default_context().wrap_socket(raw, server_hostname=HOST)
        # a SuperNode whose key was not registered is turned away
        stranger = make_credentials(tmp_path / "stranger", 1)
        intruder = federation._spawn(
            "intruder",
            [
                federation._bin("flower-supernode"),
                "--superlink", f"{HOST}:{federation.ports['fleet']}",
                "--root-certificates", str(creds.ca_cert),
                "--auth-supernode-private-key", str(stranger.site_keys[0][0]),
                "--clientappio-api-address", f"{HOST}:{free_port()}",
                "--max-retries", "1",
            ],
        )  # fmt: skip
        assert intruder.wait(timeout=120) != 0
        assert "No SuperNode found with the given public key" in federation.log_tail("intruder", 40)
        del federation.processes["intruder"]

        record = federation.run(config, out)
        pids = [p.pid for p in federation.processes.values()]
    # every process the federation started, and their children, are gone
    assert all(p.poll() is not None for p in federation.processes.values())
    assert all(_group_gone(pid) for pid in pids)
    assert record["status"] == "finished:completed" and len(record["registered_nodes"]) == 3

    with np.load(out / apps.GLOBAL_FILE, allow_pickle=False) as saved:
        deployed = {k: saved[k] for k in saved.files}
    history = json.loads((out / apps.HISTORY_FILE).read_text(encoding="utf-8"))
    # every site answered in every round, training and evaluation, and the moments query once
    assert history["replies"] == {
        "query": {"0": 1, "1": 1, "2": 1},
        "train": {"0": 2, "1": 2, "2": 2},
        "evaluate": {"0": 2, "1": 2, "2": 2},
    }
    simulated = simulate(sites, config, engine="inprocess")
    assert set(deployed) == set(simulated.params)
    for key, value in simulated.params.items():
        assert np.allclose(deployed[key], value, rtol=0, atol=1e-6), key
    assert history["train"] == simulated.history["train"]

    # the server was told settings and an output folder, no data path: the sites' files are named only in the
    # SuperNodes' node config
    text = (tmp_path / "federation" / "app" / "pyproject.toml").read_text(encoding="utf-8")
    assert set(tomllib.loads(text)["tool"]["flwr"]["app"]["config"]) == {"fed-config", "out-folder"}
    assert "site-" not in text and str(tmp_path / "sites") not in text


def test_a_federation_needs_two_sites_and_stops_what_it_started(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least two sites"):
        Federation(tmp_path, [tmp_path / "only.npz"])
    federation = Federation(tmp_path / "f", [tmp_path / "a.npz", tmp_path / "b.npz"])
    federation.work.mkdir(parents=True)
    (federation.work / "logs").mkdir()
    sleeper = federation._spawn("sleeper", ["sleep", "300"])
    federation.close(grace=5)
    assert sleeper.poll() is not None and _group_gone(sleeper.pid)


def test_the_app_names_the_two_apps_and_carries_the_config(tmp_path: Path) -> None:
    config = apps.FedConfig(sites=2, rounds=3, hidden=(5,), seed=7)
    folder = write_app(tmp_path / "app", config, tmp_path / "out")
    project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    flwr = project["tool"]["flwr"]["app"]
    assert flwr["components"] == {
        "serverapp": "forewarn_federation_app:server",
        "clientapp": "forewarn_federation_app:client",
    }
    assert json.loads(flwr["config"]["fed-config"])["rounds"] == 3
    assert flwr["config"]["out-folder"] == str((tmp_path / "out").resolve())
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import forewarn_federation_app as m; print(type(m.server).__name__, type(m.client).__name__)",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=str(folder)),
    )
    assert done.stdout.split() == ["ServerApp", "ClientApp"]


def test_processes_go_when_the_python_that_started_them_dies_without_closing(tmp_path: Path) -> None:
    """A Python killed mid-run (a test's timeout, ``os._exit``) calls no ``close``: the watchdog stops its groups."""
    import time

    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from forewarn.federated.deploy import Federation\n"
        "work = Path(sys.argv[1])\n"
        "f = Federation(work / 'f', [work / 'a.npz', work / 'b.npz'])\n"
        "(f.work / 'logs').mkdir(parents=True)\n"
        "p = f._spawn('sleeper', ['sh', '-c', 'sleep 300 & sleep 300'])\n"
        "print(p.pid, flush=True)\n"
        "os._exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    group = int(done.stdout.split()[0])
    deadline = time.monotonic() + 30
    while not _group_gone(group) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _group_gone(group)  # the sleeper and its own child
