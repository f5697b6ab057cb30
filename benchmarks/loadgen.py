"""The open-loop HTTP load generator of the service benchmarks (``serve.py``, ``serve_stream.py``), and starting
the service for them.

Request *i* is due at ``t0 + i / rate`` and its latency runs from that due time to the last byte of the answer,
so a slow answer delays the ones behind it and is counted (no coordinated omission). Pre-encoded HTTP/1.1
requests go out on a few kept-alive connections through a small raw client (a full client library costs more CPU
per request than the service itself, and shares the same cores), on uvloop when it is installed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

TOKEN = "benchmark-token-0123456789"  # the write token the benchmark services are started with


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_client(coroutine: Any) -> Any:
    """Run the load generator on uvloop where installed (less client CPU on the cores the server uses too)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def percentiles(latencies_s: list[float]) -> dict[str, float]:
    ms = np.asarray(latencies_s) * 1000
    return {
        "n": len(ms),
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def slow_episodes(
    latencies_s: list[float], rate: float, over_ms: float = 10.0, gap_ms: float = 50.0
) -> dict[str, float]:
    """How the requests slower than ``over_ms`` are spread over a run (``latencies_s`` in the order the requests
    were due, one every ``1 / rate`` s): ``episodes`` is the number of groups they form when those due within
    ``gap_ms`` of each other are one group, ``longest_episode_ms`` the longest group's span of due times, and
    ``slow_in_runs`` the share of them whose neighbour (by due time) was slow too. Scattered slow requests (a
    service that is sometimes slow on its own) give many one-request episodes; a machine that slows down for a
    while gives a few long ones, in which requests queue behind each other.

    >>> slow_episodes([0.001, 0.012, 0.015, 0.002, 0.001, 0.011], rate=100.0, gap_ms=20.0)
    {'over': 3, 'episodes': 2, 'longest_episode_ms': 10.0, 'slow_in_runs': 0.6666666666666666}
    """
    ms = np.asarray(latencies_s) * 1000
    slow = np.flatnonzero(ms > over_ms)
    if len(slow) == 0:
        return {"over": 0, "episodes": 0, "longest_episode_ms": 0.0, "slow_in_runs": 0.0}
    step_ms = 1000.0 / rate
    breaks = np.flatnonzero(np.diff(slow) * step_ms > gap_ms)
    firsts = slow[np.r_[0, breaks + 1]]
    lasts = slow[np.r_[breaks, len(slow) - 1]]
    neighbours = np.isin(slow - 1, slow) | np.isin(slow + 1, slow)
    return {
        "over": int(len(slow)),
        "episodes": int(len(firsts)),
        "longest_episode_ms": float((lasts - firsts).max() * step_ms),
        "slow_in_runs": float(neighbours.mean()),
    }


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one pre-encoded HTTP/1.1 request on a kept-alive connection; read the whole answer; its status."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


def encode(method: str, path: str, port: int, body: bytes = b"", content_type: str = "application/json") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if body:
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def open_loop(
    port: int, rate: float, seconds: float, requests: list[bytes], connections: int = 8
) -> dict[str, float]:
    """Open-loop load: request *i* is due at ``t0 + i / rate``; latency runs from its due time to its full answer.

    A small raw HTTP/1.1 client on kept-alive connections (a full client library costs more CPU per request
    than the service itself, and shares the same cores). A request waits when every connection is busy,
    and that wait counts in its latency.
    """
    total = int(rate * seconds)
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]
    for i in range(min(50, total)):  # warm-up, not timed
        await _exchange(*streams[0], requests[i % len(requests)])
    latencies = [0.0] * total  # by due time
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    start = time.perf_counter() + 0.05

    async def producer() -> None:
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(i)
        for _ in streams:
            queue.put_nowait(-1)

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal errors
        while (i := await queue.get()) >= 0:
            status = await _exchange(reader, writer, requests[i % len(requests)])
            latencies[i] = time.perf_counter() - (start + i / rate)
            errors += status != 200

    began = time.perf_counter()
    await asyncio.gather(producer(), *(worker(r, w) for r, w in streams))
    elapsed = time.perf_counter() - began
    for _, writer in streams:
        writer.close()
    return {
        **percentiles(latencies),
        "errors": errors,
        "rate": rate,
        "achieved_rate": total / elapsed,
        **slow_episodes(latencies, rate),
    }


def start_server(store: Path, models: Path, port: int, log: Path, *extra: str) -> subprocess.Popen:
    """``python -m forewarn serve`` on 127.0.0.1 and ``port`` (``extra``: more options), once it answers /healthz."""
    env = {**os.environ, "FOREWARN_API_TOKEN": TOKEN}
    command = [
        "-m",
        "forewarn",
        "serve",
        "--store",
        str(store),
        "--models",
        str(models),
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--max-body-mb",
        "256",
        *extra,
    ]
    return started(command, env, port, log, "/healthz")


def started(command: list[str], env: dict[str, str], port: int, log: Path, probe: str) -> subprocess.Popen:
    """Start ``python COMMAND`` (output to ``log``) and wait until ``probe`` answers 200 (two minutes at most)."""
    out = log.open("w")
    process = subprocess.Popen([sys.executable, *command], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"the server exited:\n{log.read_text()}") from None
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start within 120 s")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux ``/proc``; ``None`` elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
