"""Deployment mode: a Flower SuperLink and one SuperNode per site, over TLS, with SuperNode authentication.

The same ``ServerApp`` and ``ClientApp`` as simulation (:mod:`~forewarn.federated.apps`), run by Flower's own
long-running processes (flwr 1.32):

* ``flower-superlink`` with a TLS certificate for its Fleet and Control APIs (``--ssl-certfile``,
  ``--ssl-keyfile``, ``--ssl-ca-certfile``) and ``--enable-supernode-auth``: only SuperNodes whose public key was
  registered (``flwr supernode register``, over the TLS Control API) may connect;
* one ``flower-supernode`` per site, that trusts the federation's CA (``--root-certificates``), signs its
  requests with its own private key (``--auth-supernode-private-key``) and names its site's rows in its node
  config (``data-file``, ``partition-id``): the rows file is read by that site's ``ClientApp`` only;
* ``flwr run``: the Flower App (a FAB built from :func:`write_app`: a ``pyproject.toml`` and a module naming the
  two apps) goes to the SuperLink, which starts the ``ServerApp``; the server's settings travel in the run
  config (the :class:`~forewarn.federated.apps.FedConfig` as JSON and an output folder): no data path.

:func:`make_credentials` makes what a test or a trial federation needs: a CA, the SuperLink's certificate for
``127.0.0.1``/``localhost`` signed by it, and an EC P-384 key pair per site (OpenSSH format, as Flower reads
them). :class:`Federation` starts the SuperLink and SuperNodes on free loopback ports and stops every process it
started (and the processes they started) when it closes, whether the run worked or not. The server's replies
are taken in site order (:func:`~forewarn.federated.apps.serve`), so a deployment run gives the model the
simulation engines give for the same data and seeds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forewarn.exceptions import ConfigError, ForewarnError
from forewarn.federated import apps

#: the module the Flower App names as its components (written into the app folder)
APP_MODULE = "forewarn_federation_app"
CONNECTION = "forewarn"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Credentials:
    """Where the federation's TLS files and the sites' key pairs are."""

    folder: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    site_keys: tuple[tuple[Path, Path], ...]  # (private, public) per site


def make_credentials(folder: str | os.PathLike[str], sites: int, days: int = 2) -> Credentials:
    """A CA, the SuperLink's certificate for 127.0.0.1 and localhost signed by it, and one EC P-384 key pair per
    site (OpenSSH private and public key files): what a trial federation on this machine needs.

    >>> import tempfile
    >>> made = make_credentials(tempfile.mkdtemp(), sites=2)
    >>> made.ca_cert.read_text().startswith("-----BEGIN CERTIFICATE-----"), made.site_keys[1][1].read_text()[:19]
    (True, 'ecdsa-sha2-nistp384')
    """
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Forewarn federation CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # key_cert_sign, crl_sign
        .sign(ca_key, hashes.SHA384())
    )
    key = ec.generate_private_key(ec.SECP384R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA384())
    )
    pem = serialization.Encoding.PEM
    ca_path, cert_path, key_path = out / "ca.crt", out / "server.pem", out / "server.key"
    ca_path.write_bytes(ca.public_bytes(pem))
    cert_path.write_bytes(cert.public_bytes(pem))
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_path.chmod(0o600)
    pairs = []
    for i in range(sites):
        site_key = ec.generate_private_key(ec.SECP384R1())
        private, public = out / f"site-{i}.key", out / f"site-{i}.pub"
        private.write_bytes(
            site_key.private_bytes(pem, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
        )
        private.chmod(0o600)
        public.write_bytes(
            site_key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        )
        pairs.append((private, public))
    return Credentials(out, ca_path, cert_path, key_path, tuple(pairs))


# -- the Flower App -------------------------------------------------------------------------------------------
def deployed_server_app() -> Any:
    """The ``ServerApp`` a SuperLink runs: its settings and output folder come from the run config."""
    from flwr.app import Context
    from flwr.serverapp import Grid, ServerApp

    app = ServerApp()

    @app.main()  # type: ignore[untyped-decorator,unused-ignore]
    def main(grid: Grid, context: Context) -> None:
        raw = json.loads(str(context.run_config["fed-config"]))
        raw["hidden"] = tuple(raw["hidden"])
        apps.serve(grid, apps.FedConfig(**raw), str(context.run_config["out-folder"]))

    return app


def write_app(folder: str | os.PathLike[str], config: apps.FedConfig, out_folder: str | os.PathLike[str]) -> Path:
    """The Flower App ``flwr run`` sends: ``pyproject.toml`` (components and run config) and a module that
    names the two apps; the code itself is the installed ``forewarn`` package."""
    import tomli_w

    app = Path(folder)
    app.mkdir(parents=True, exist_ok=True)
    (app / f"{APP_MODULE}.py").write_text(
        '"""Forewarn\'s federated apps, as Flower names them."""\n\n'
        "from forewarn.federated.apps import client_app\n"
        "from forewarn.federated.deploy import deployed_server_app\n\n"
        "server = deployed_server_app()\n"
        "client = client_app()\n",
        encoding="utf-8",
    )
    project = {
        "project": {
            "name": "forewarn-federation",
            "version": "1.0.0",
            "description": "Forewarn: one failure or RUL model from many plants",
            "license": "Apache-2.0",
            "dependencies": [],
        },
        "tool": {
            "flwr": {
                "app": {
                    "publisher": "forewarn",
                    "components": {"serverapp": f"{APP_MODULE}:server", "clientapp": f"{APP_MODULE}:client"},
                    "config": {
                        "fed-config": json.dumps(asdict(config)),
                        "out-folder": str(Path(out_folder).resolve()),
                    },
                }
            }
        },
    }
    (app / "pyproject.toml").write_text(tomli_w.dumps(project), encoding="utf-8")
    return app


# -- processes ------------------------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port nothing listens on at the moment (the OS's pick on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((HOST, port)) == 0


class Federation:
    """A SuperLink and ``sites`` SuperNodes on free loopback ports, over TLS with SuperNode authentication.

    Use it as a context manager: :meth:`start` on entry, :meth:`close` (every process started, and their
    children, stopped) on exit, also when the body raised. ``site_files[i]`` is the rows file SuperNode ``i``
    names in its node config.
    """

    def __init__(self, work: str | os.PathLike[str], site_files: Sequence[str | os.PathLike[str]]):
        if len(site_files) < 2:
            raise ConfigError("a federation needs at least two sites")
        self.work = Path(work)
        self.site_files = [Path(p).resolve() for p in site_files]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.credentials: Credentials | None = None
        self.registered: list[int] = []
        #: seconds each step took: SuperLink up, keys registered, the run
        self.timings: dict[str, float] = {}
        self._watchdog: subprocess.Popen[bytes] | None = None
        self.env = dict(os.environ)
        bin_dir = str(Path(sys.executable).parent)
        self.env["PATH"] = bin_dir + os.pathsep + self.env.get("PATH", "")
        self.env["FLWR_HOME"] = str(self.work / "flwr-home")
        for key in ("FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION", "FLWR_DISABLE_UPDATE_CHECK"):
            self.env[key] = "1"
        self.env["PYTHONUNBUFFERED"] = "1"

    # context manager
    def __enter__(self) -> Federation:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _bin(self, name: str) -> str:
        path = Path(sys.executable).parent / name
        if not path.exists():
            raise ForewarnError(f"{name} is not installed next to {sys.executable}: install forewarn[federated]")
        return str(path)

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        if self._watchdog is None:
            self._start_watchdog()
        log = (self.work / "logs" / f"{name}.log").open("wb")
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.work, start_new_session=True
        )
        log.close()
        self.processes[name] = process
        with (self.work / "logs" / "groups").open("a", encoding="utf-8") as groups:
            groups.write(f"{process.pid}\n")
        return process

    def _start_watchdog(self) -> None:
        """A shell that outlives this Python: if it ends without :meth:`close` (killed, ``os._exit``, a test's
        timeout), the watchdog kills the process groups started here, their children included."""
        logs = self.work / "logs"
        stop, groups = logs / "closed", logs / "groups"
        script = (
            f'while kill -0 {os.getpid()} 2>/dev/null && [ ! -e "{stop}" ]; do sleep 1; done; '
            f'if [ ! -e "{stop}" ]; then for g in $(cat "{groups}" 2>/dev/null); do kill -9 -$g 2>/dev/null; done; fi'
        )
        self._watchdog = subprocess.Popen(
            ["sh", "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.work / "logs" / f"{name}.log"
        if not path.is_file():
            return ""
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def _wait_port(self, name: str, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not _listening(port):
            process = self.processes[name]
            if process.poll() is not None:
                raise ForewarnError(f"{name} ended (exit {process.returncode}):\n{self.log_tail(name)}")
            if time.monotonic() > deadline:
                raise ForewarnError(f"{name} did not listen on {HOST}:{port} within {timeout:.0f} s")
            time.sleep(0.1)

    def start(self, timeout: float = 60.0) -> None:
        """Credentials, the SuperLink, the sites' keys registered, one SuperNode per site."""
        begun = time.monotonic()
        (self.work / "logs").mkdir(parents=True, exist_ok=True)
        (self.work / "flwr-home").mkdir(parents=True, exist_ok=True)
        creds = self.credentials = make_credentials(self.work / "credentials", len(self.site_files))
        for name in ("fleet", "control", "serverappio"):
            self.ports[name] = free_port()
        self._spawn(
            "superlink",
            [
                self._bin("flower-superlink"),
                "--ssl-certfile", str(creds.server_cert),
                "--ssl-keyfile", str(creds.server_key),
                "--ssl-ca-certfile", str(creds.ca_cert),
                "--enable-supernode-auth",
                "--disable-runtime-dependency-installation",
                "--fleet-api-address", f"{HOST}:{self.ports['fleet']}",
                "--control-api-address", f"{HOST}:{self.ports['control']}",
                "--serverappio-api-address", f"{HOST}:{self.ports['serverappio']}",
            ],
        )  # fmt: skip
        self._wait_port("superlink", self.ports["fleet"], timeout)
        self._wait_port("superlink", self.ports["control"], timeout)
        self._write_connection()
        self.timings["superlink_s"] = round(time.monotonic() - begun, 2)
        for _private, public in creds.site_keys:
            self.registered.append(self._register(public))
        self.timings["register_s"] = round(time.monotonic() - begun - self.timings["superlink_s"], 2)
        for i, site_file in enumerate(self.site_files):
            port = self.ports[f"clientappio-{i}"] = free_port()
            node_config = f'data-file="{site_file}" partition-id={i} num-partitions={len(self.site_files)}'
            self._spawn(
                f"supernode-{i}",
                [
                    self._bin("flower-supernode"),
                    "--superlink", f"{HOST}:{self.ports['fleet']}",
                    "--root-certificates", str(creds.ca_cert),
                    "--auth-supernode-private-key", str(creds.site_keys[i][0]),
                    "--clientappio-api-address", f"{HOST}:{port}",
                    "--node-config", node_config,
                    "--max-retries", "20",
                ],
            )  # fmt: skip

    def _write_connection(self) -> None:
        import tomli_w

        assert self.credentials is not None
        connection = {
            "address": f"{HOST}:{self.ports['control']}",
            "root-certificates": str(self.credentials.ca_cert),
        }
        config = {"superlink": {"default": CONNECTION, CONNECTION: connection}}
        (self.work / "flwr-home" / "config.toml").write_text(tomli_w.dumps(config), encoding="utf-8")

    def flwr(self, *args: str, timeout: float = 60.0) -> dict[str, Any]:
        """One ``flwr`` CLI command against this federation's SuperLink (JSON output parsed)."""
        done = subprocess.run(
            [self._bin("flwr"), *args, "--format", "json"],
            capture_output=True,
            env=self.env,
            cwd=self.work,
            timeout=timeout,
            check=False,
            text=True,
        )
        text = done.stdout.strip()
        start = text.find("{")
        try:
            answer: dict[str, Any] = json.loads(text[start:]) if start >= 0 else {}
        except json.JSONDecodeError:
            answer = {}
        if done.returncode != 0 or not answer.get("success", False):
            raise ForewarnError(f"flwr {' '.join(args)} failed (exit {done.returncode}): {text or done.stderr}")
        return answer

    def _register(self, public_key: Path) -> int:
        return int(self.flwr("supernode", "register", str(public_key), CONNECTION)["node-id"])

    def run(self, config: apps.FedConfig, out: str | os.PathLike[str]) -> dict[str, Any]:
        """``flwr run`` of the Flower App with ``config``; waits for the server's output in ``out``; returns
        the run's record (``run_id`` and the SuperLink's run status included)."""
        out = Path(out)
        app = write_app(self.work / "app", config, out)
        started = time.monotonic()
        answer = self.flwr("run", str(app), CONNECTION, timeout=120.0)
        run_id = int(answer["run-id"])
        deadline = started + config.timeout_s
        status, asked = "", time.monotonic()
        while not (out / apps.GLOBAL_FILE).is_file():
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise ForewarnError(
                        f"{name} ended during the run (exit {process.returncode}):\n{self.log_tail(name)}"
                    )
            if time.monotonic() - asked > 15.0:  # the flwr CLI costs a Python start: ask now and then
                status, asked = self._status(run_id), time.monotonic()
                if status.startswith("finished") and not (out / apps.GLOBAL_FILE).is_file():
                    raise ForewarnError(
                        f"run {run_id} ended as {status!r} without a model:\n{self.log_tail('superlink')}"
                    )
            if time.monotonic() > deadline:
                raise ForewarnError(f"run {run_id} gave no model within {config.timeout_s:.0f} s (status {status!r})")
            time.sleep(0.2)
        self.timings["run_s"] = round(time.monotonic() - started, 2)
        # the ServerApp writes the model, then returns: the SuperLink says the run finished a moment later
        status, settle = self._status(run_id), time.monotonic() + 60.0
        while not status.startswith("finished") and time.monotonic() < settle:
            time.sleep(0.5)
            status = self._status(run_id)
        return {
            "run_id": run_id,
            "status": status,
            "registered_nodes": list(self.registered),
            "timings": dict(self.timings),
        }

    def _status(self, run_id: int) -> str:
        try:
            runs = self.flwr("ls", CONNECTION, "--run-id", str(run_id)).get("runs", [])
        except (ForewarnError, subprocess.TimeoutExpired):
            return ""
        return str(runs[0].get("status", "")) if runs else ""

    def close(self, grace: float = 10.0) -> None:
        """Stop every process started here and their children (SIGTERM to each process group, then SIGKILL)."""
        for process in self.processes.values():
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.processes.values():
            _signal_group(process, signal.SIGKILL)  # the group's children (ServerApp, ClientApps) too
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        if self._watchdog is not None:
            (self.work / "logs" / "closed").touch()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._watchdog.wait(timeout=5)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)  # the process leads its own session (start_new_session)


def deploy_run(
    sites: Sequence[Any], config: apps.FedConfig, *, keep: str | os.PathLike[str] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Federated training of ``config`` over ``sites`` (:class:`~forewarn.federated.simulate.SiteRows`) in
    deployment mode on this machine: each site's rows in its own file, a :class:`Federation` of a SuperLink and
    one SuperNode per site, one ``flwr run``. Returns the global parameters and the server's record.
    ``keep`` keeps the work folder (logs, credentials) there instead of removing it."""
    work = Path(keep) if keep is not None else Path(tempfile.mkdtemp(prefix="fwdep-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        files = apps.write_sites(work / "sites", sites)
        out = work / "server"
        with Federation(work / "federation", files) as federation:
            record = federation.run(config, out)
        with np.load(out / apps.GLOBAL_FILE, allow_pickle=False) as saved:
            params = {k: saved[k] for k in saved.files}
        history = json.loads((out / apps.HISTORY_FILE).read_text(encoding="utf-8"))
        history["deployment"] = record
        return params, history
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
