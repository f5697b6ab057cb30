"""The container images and the compose stack, end to end, with Debian's podman (``make test-deploy``).

The images are built once for the module (deploy/build-image.sh). One test walks the life of a plant's stack:
start the stack with podman-compose on a store and models seeded from the sample plant, post readings through the
API and through MQTT (the connector inside the service), see health, cases and the per-asset gauges through the
API, see Prometheus scrape the service (``up == 1``), stop the service container while readings keep arriving by
MQTT (the broker queues them for its persistent session), take the whole stack down and up again and find every
reading and case where it was, and finally remove everything: no container or volume of the test's project is
left behind. The same walk runs on the PostgreSQL variant (deploy/compose.postgres.yaml), where the store is a
database in the stack's own PostgreSQL container; a third test checks that container alone: the cluster made on
the first start, logins only with the secret's password (and the new one after it changes), the data kept
across ``down`` and ``up``, the password in no log. Marked ``deploy`` (``make test`` leaves them out) and
``slow``; skipped without podman.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from forewarn.serve.sample import build_sample
from testkit import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
TOKEN = "deploy-test-token-0123456789"
CHANNELS = ("bearing_temp", "vibration", "suction_pressure")
pytestmark = [
    pytest.mark.deploy,
    pytest.mark.slow,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(
        shutil.which("podman") is None or shutil.which("mmdebstrap") is None or os.geteuid() != 0,
        reason="needs Debian's podman and mmdebstrap, run as root (make system-deps)",
    ),
]


def _http(url: str, *, body: Any = None, token: bool = False, timeout: float = 10) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {TOKEN}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw = answer.read()
            status = answer.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


class Stack:
    """podman-compose on deploy/compose.yaml (and ``extra`` files on top) under a project name of the test's own."""

    def __init__(self, env: dict[str, str], project: str, extra: tuple[str, ...] = (), seed: Path | None = None):
        self.env = env
        self.project = project
        self.seed = seed  # a store file to copy into the stack's database (the PostgreSQL variant)
        self.files = ("deploy/compose.yaml", *extra)
        self.api = f"http://127.0.0.1:{env['FOREWARN_PORT']}"

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).parent / "podman-compose"), "-p", self.project]
        for file in self.files:
            command += ["-f", file]
        done = subprocess.run(
            [*command, *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=300, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"podman-compose {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def podman(self, *args: str) -> str:
        done = subprocess.run(["podman", *args], env=self.env, capture_output=True, text=True, timeout=120, check=False)
        return done.stdout

    def containers(self) -> list[str]:
        out = self.podman(
            "ps", "-a", "--filter", f"label=io.podman.compose.project={self.project}", "--format", "{{.Names}}"
        )
        return out.split()

    def volumes(self) -> list[str]:
        return [v for v in self.podman("volume", "ls", "--format", "{{.Name}}").split() if v.startswith(self.project)]

    def up_healthy(self, timeout: float = 60) -> float:
        """``up -d`` and the seconds until /healthz answers 200 with the stream connector running."""
        start = time.monotonic()
        self.compose("up", "-d")

        def healthy() -> bool:
            try:
                status, body = _http(f"{self.api}/healthz", timeout=2)
            except OSError:
                return False
            return status == 200 and bool(body.get("stream", {}).get("running"))

        assert wait_until(healthy, timeout=timeout, step=0.25), self.logs()
        return time.monotonic() - start

    def logs(self, tail: int = 40) -> str:
        return "\n".join(self._logs(name, tail) for name in self.containers())

    def _logs(self, name: str, tail: int) -> str:
        done = subprocess.run(
            ["podman", "logs", *(["--tail", str(tail)] if tail else []), name],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return f"--- {name}\n{done.stdout}{done.stderr}"

    def down(self) -> None:
        """``down -v`` and anything compose left (it should not): no container or volume of the project stays."""
        self.compose("down", "-v", check=False)
        for name in self.containers():
            self.podman("rm", "-f", name)
        for volume in self.volumes():
            self.podman("volume", "rm", "-f", volume)

    def readings(self) -> int:
        return int(_http(f"{self.api}/healthz", token=True)[1]["readings"])


def _publish(port: int, messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Publish each (topic, payload) with QoS 1 and wait for the broker's acknowledgements."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="forewarn-deploy-test")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, json.dumps(payload), qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=30)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def _hourly(asset_id: str, start: pd.Timestamp, hours: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"plant/{asset_id}/{channel}", {"value": base + h * 0.1, "ts": (start + pd.Timedelta(hours=h)).isoformat()})
        for h in range(hours)
        for channel, base in zip(CHANNELS, (60.0, 3.0, 1.5), strict=True)
    ]


@pytest.fixture(scope="module")
def images() -> float:
    """Build the stack's images once for the module; the seconds it took."""
    env = {**os.environ, "CONTAINERS_CONF": str(REPO / "deploy" / "containers.conf")}
    started = time.monotonic()
    built = subprocess.run(
        [str(REPO / "deploy" / "build-image.sh"), sys.executable],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    seconds = time.monotonic() - started
    print(f"images built in {seconds:.1f} s\n{built.stdout}")
    return seconds


def _owned(path: Path, text: str) -> Path:
    """``text`` in a file of mode 600 owned by the image's user ``forewarn`` (uid 10001), as a secret is."""
    path.write_text(text + "\n")
    os.chown(path, 10001, 10001)
    path.chmod(0o600)
    return path


def _plant(tmp_path: Path, *, with_store: bool) -> tuple[Path, Path]:
    """The sample plant's store file and a data folder for the service's volume (its models; its store too when
    ``with_store``), owned by the image's user."""
    sample = build_sample(tmp_path / "sample", n_assets=8, n_train=20, seed=0, versions=1)
    data = tmp_path / "data"
    data.mkdir()
    if with_store:
        shutil.copy(sample.store, data / "store.duckdb")
    shutil.copytree(sample.models, data / "models")
    for path in [data, *data.rglob("*")]:
        os.chown(path, 10001, 10001)  # the image's user `forewarn`
    return Path(sample.store), data


def _env(data: Path, token: Path, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "CONTAINERS_CONF": str(REPO / "deploy" / "containers.conf"),
        "FOREWARN_PORT": str(free_port()),
        "MQTT_PORT": str(free_port()),
        "PROM_PORT": str(free_port()),
        "FOREWARN_DATA_VOLUME": str(data),
        "FOREWARN_TOKEN_FILE": str(token),
        **more,
    }


@pytest.fixture
def stack(images: float, tmp_path: Path) -> Any:
    """The stack's environment on a data folder seeded with the sample plant; everything of the test's project
    removed afterwards."""
    _, data = _plant(tmp_path, with_store=True)
    s = Stack(_env(data, _owned(tmp_path / "token", TOKEN)), f"fwtest{os.getpid()}")
    try:
        yield s
    finally:
        s.down()


PG_PASSWORD = "pg-" + secrets.token_urlsafe(18)


@pytest.fixture
def pg_stack(images: float, tmp_path: Path) -> Any:
    """The PostgreSQL variant's environment (deploy/compose.postgres.yaml on top), its database password in a
    secret file; the sample plant's store file beside (copied into the database by the test) and its models on
    the service's volume. Everything of the test's project removed afterwards."""
    store, data = _plant(tmp_path, with_store=False)
    env = _env(
        data,
        _owned(tmp_path / "token", TOKEN),
        PG_PORT=str(free_port()),
        FOREWARN_DB_PASSWORD_FILE=str(_owned(tmp_path / "db_password", PG_PASSWORD)),
    )
    s = Stack(env, f"fwpgtest{os.getpid()}", extra=("deploy/compose.postgres.yaml",), seed=store)
    try:
        yield s
    finally:
        s.down()


def _pg_url(stack: Stack) -> str:
    return f"postgresql://forewarn@127.0.0.1:{stack.env['PG_PORT']}/forewarn"


def _pg_login(stack: Stack, password: str | None) -> str | None:
    """None when the role logs in over TCP with ``password`` (or none), else the server's reason."""
    import psycopg

    kwargs = {} if password is None else {"password": password}
    try:
        psycopg.connect(_pg_url(stack), connect_timeout=3, **kwargs).close()
    except psycopg.Error as err:
        return str(err) or type(err).__name__
    return None


def _pg_up(stack: Stack, password: str = PG_PASSWORD, timeout: float = 60) -> float:
    """``up -d postgres`` and the seconds until the role logs in with ``password``."""
    start = time.monotonic()
    stack.compose("up", "-d", "postgres")
    assert wait_until(lambda: _pg_login(stack, password) is None, timeout=timeout, step=0.25), stack.logs()
    return time.monotonic() - start


def _pg_readings(stack: Stack, password: str = PG_PASSWORD) -> int:
    import psycopg

    with psycopg.connect(_pg_url(stack), password=password, connect_timeout=5) as con:
        row = con.execute("SELECT count(*) FROM reading_values").fetchone()
        assert row is not None
        return int(row[0])


def _pg_seed(stack: Stack) -> int:
    """Copy the sample plant's store into the stack's database with ``forewarn store copy`` (the password from
    the secret file, as the service reads it); the number of readings copied."""
    env = {**stack.env, "FOREWARN_STORE_PASSWORD_FILE": stack.env["FOREWARN_DB_PASSWORD_FILE"]}
    command = [sys.executable, "-m", "forewarn", "store", "copy", "--from", str(stack.seed), "--to", _pg_url(stack)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return int(json.loads(done.stdout)["readings"])


def test_stack_keeps_readings_and_cases_across_restarts(stack: Stack) -> None:
    _walk(stack, ("forewarn", "mosquitto", "prometheus"))
    stack.compose("down", "-v")
    assert stack.containers() == [] and stack.volumes() == []


def _walk(stack: Stack, services: tuple[str, ...], stored: Any = None) -> int:
    """The life of a stack (the module docstring); ``stored()`` counts the readings in the store itself, after
    each step. The number of readings at the end."""
    api = f"{stack.api}/api/v1"
    seconds = stack.up_healthy()
    print(f"stack up to a healthy /healthz in {seconds:.1f} s")
    assert sorted(stack.containers()) == sorted(f"{stack.project}_{s}_1" for s in services)
    # the service runs as the unprivileged user of the image
    service = f"{stack.project}_forewarn_1"
    assert stack.podman("exec", service, "id", "-u").strip() == "10001"
    assert stack.podman("healthcheck", "run", service).strip() in ("", "healthy")

    # the start-up evaluation scored the sample plant and opened cases for the pumps near failure
    status, cases = _http(f"{api}/cases?status=open")
    assert status == 200 and len(cases) >= 1, cases
    fleet = {a["asset_id"]: a for a in _http(f"{api}/fleet/health")[1]}
    assert len(fleet) == 8 and all(a["status"] == "in_service" for a in fleet.values())
    before = stack.readings()

    # readings through the API (the token comes from the secret file)
    start = max(pd.Timestamp(a["ts"]) for a in fleet.values()) + pd.Timedelta(hours=1)
    rows = [
        {"asset_id": "P-000", "ts": ts, "channel": topic.rsplit("/", 1)[1], "value": payload["value"]}
        for topic, payload in _hourly("P-000", start, 12)
        for ts in [payload["ts"]]
    ]
    assert _http(f"{api}/readings", body={"readings": rows})[0] == 401  # no token: refused
    status, report = _http(f"{api}/readings", body={"readings": rows}, token=True)
    assert status == 200, report
    # readings through MQTT, stored by the connector inside the service
    messages = _hourly("P-001", start, 10)
    _publish(int(stack.env["MQTT_PORT"]), messages)
    expected = before + len(rows) + len(messages)
    assert wait_until(lambda: stack.readings() == expected, timeout=30), (stack.readings(), expected)
    assert stored is None or stored() == expected
    last = (start + pd.Timedelta(hours=9)).isoformat()

    def health_at(asset_id: str, ts: pd.Timestamp) -> bool:
        # the connector refreshes health just after its commit, so a read in between may still be the old one
        health = _http(f"{api}/assets/{asset_id}/health")[1]
        return pd.Timestamp(health["ts"]) == ts and health["health"] is not None

    assert wait_until(lambda: health_at("P-001", pd.Timestamp(last)), timeout=10)
    assert health_at("P-000", start + pd.Timedelta(hours=11))

    # the per-asset gauges, and Prometheus (Debian's, in the stack) scraping them with up == 1
    metrics = _http(f"{stack.api}/metrics")[1]
    assert 'forewarn_asset_health_score{asset_class="pump",asset_id="P-001"' in metrics
    prom = f"http://127.0.0.1:{stack.env['PROM_PORT']}/api/v1/query?query="

    def scraped() -> bool:
        try:
            result = _http(prom + "up%7Bjob%3D%22forewarn%22%7D", timeout=3)[1]["data"]["result"]
            gauges = _http(prom + "count(forewarn_asset_open_cases)", timeout=3)[1]["data"]["result"]
        except (OSError, KeyError, TypeError):
            return False
        return [r["value"][1] for r in result] == ["1"] and [g["value"][1] for g in gauges] == ["8"]

    assert wait_until(scraped, timeout=45, step=1), stack.logs()

    # the service stops while readings keep coming: the broker queues them for its session, none is lost
    stack.podman("stop", "-t", "10", service)
    late = _hourly("P-002", start, 20)
    _publish(int(stack.env["MQTT_PORT"]), late)
    stack.podman("start", service)
    expected += len(late)
    assert wait_until(lambda: _safe(stack.readings) == expected, timeout=60), (_safe(stack.readings), expected)

    # the whole stack down (containers removed, volumes kept) and up again: the store and the cases are intact
    cases_before = _http(f"{api}/cases?limit=500")[1]
    alerts_before = _http(f"{api}/alerts?limit=5000")[1]
    stack.compose("down")
    assert stack.containers() == []
    seconds = stack.up_healthy()
    print(f"stack up again in {seconds:.1f} s")
    assert stack.readings() == expected
    print(
        f"after the restart: {expected} readings ({len(rows)} by the API, {len(messages) + len(late)} by MQTT, "
        f"{len(late)} of them while the service was stopped), {len(cases_before)} cases, {len(alerts_before)} alerts"
    )
    assert _http(f"{api}/cases?limit=500")[1] == cases_before
    assert _http(f"{api}/alerts?limit=5000")[1] == alerts_before
    assert pd.Timestamp(_http(f"{api}/assets/P-001/health")[1]["ts"]) == pd.Timestamp(last)

    assert stored is None or stored() == expected
    return expected


def _safe(read: Any) -> int | None:
    try:
        return int(read())
    except (OSError, KeyError, TypeError, ValueError):
        return None


PG_SERVICES = ("forewarn", "mosquitto", "prometheus", "postgres")


def test_postgres_container_makes_its_cluster_and_keeps_it(pg_stack: Stack) -> None:
    stack = pg_stack
    seconds = _pg_up(stack)
    print(f"postgres up to the role's first login in {seconds:.1f} s (initdb included)")
    name = f"{stack.project}_postgres_1"
    assert stack.containers() == [name]
    # the server runs as `postgres`, not root, and its health check answers
    assert stack.podman("exec", name, "stat", "-c", "%U", "/proc/1").strip() == "postgres"
    assert stack.podman("healthcheck", "run", name).strip() in ("", "healthy")
    # TCP logins need the secret's password; the superuser has none (peer authentication on the socket only)
    assert "no password supplied" in (_pg_login(stack, None) or "")
    assert "password authentication failed" in (_pg_login(stack, "not-the-password") or "")
    assert "password authentication failed" in (_login_as(stack, "postgres", PG_PASSWORD) or "")

    copied = _pg_seed(stack)
    assert copied > 0 and _pg_readings(stack) == copied

    # down (the volume stays), a new password in the secret file, up: the cluster is kept, the new password
    # logs in and the old one no longer does
    stack.compose("down")
    assert stack.containers() == [] and f"{stack.project}_postgres-data" in stack.volumes()
    rotated = "pg-" + secrets.token_urlsafe(18)
    _owned(Path(stack.env["FOREWARN_DB_PASSWORD_FILE"]), rotated)
    seconds = _pg_up(stack, rotated)
    print(f"postgres up again in {seconds:.1f} s")
    assert _pg_readings(stack, rotated) == copied
    assert "password authentication failed" in (_pg_login(stack, PG_PASSWORD) or "")

    logs = stack.logs(tail=0)
    assert "role forewarn and database forewarn ready" in logs, logs
    assert PG_PASSWORD not in logs and rotated not in logs

    stack.compose("down", "-v")
    assert stack.containers() == [] and stack.volumes() == []


def _login_as(stack: Stack, user: str, password: str) -> str | None:
    import psycopg

    url = f"postgresql://{user}@127.0.0.1:{stack.env['PG_PORT']}/postgres"
    try:
        psycopg.connect(url, password=password, connect_timeout=3).close()
    except psycopg.Error as err:
        return str(err)
    return None


def test_postgres_stack_keeps_readings_and_cases_across_restarts(pg_stack: Stack) -> None:
    stack = pg_stack
    _pg_up(stack)
    copied = _pg_seed(stack)
    print(f"{copied} readings of the sample plant copied into the stack's PostgreSQL")
    _walk(stack, PG_SERVICES, stored=lambda: _pg_readings(stack))
    # the store and its case book live in the database: nothing but the models on the service's volume
    data = Path(stack.env["FOREWARN_DATA_VOLUME"])
    assert sorted(p.name for p in data.iterdir()) == ["models"], sorted(data.iterdir())
    logs = stack.logs(tail=0)
    assert PG_PASSWORD not in logs and TOKEN not in logs
    stack.compose("down", "-v")
    assert stack.containers() == [] and stack.volumes() == []
