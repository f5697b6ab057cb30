"""OPC UA: an asyncua server on 127.0.0.1, the consumer subscribed to its nodes, readings in the store."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path

from asyncua import Server, ua

from forewarn.store import Store
from forewarn.stream.broker import free_port
from testkit import wait_until

from .conftest import ConsumerThread, assets_config

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


class OpcUaServer:
    """An asyncua server in its own thread and event loop with variables P-1.temp and P-1.vib."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"opc.tcp://127.0.0.1:{self.port}/forewarn/"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.variables: dict[str, object] = {}
        self.namespace = 0
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)
        self.thread.start()
        assert self.ready.wait(60), "the OPC UA server did not start"

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        self.namespace = await server.register_namespace("urn:forewarn:test")
        pump = await server.nodes.objects.add_object(self.namespace, "P-1")
        for channel in ("temp", "vib"):
            self.variables[channel] = await pump.add_variable(
                ua.NodeId(f"P-1.{channel}", self.namespace), channel, ua.Variant(0.0, ua.VariantType.Double)
            )
        async with server:
            await self._write("temp", 40.0, T0)
            await self._write("vib", 2.0, T0)
            self.ready.set()
            await self._stop.wait()

    async def _write(self, channel: str, value: float, when: dt.datetime) -> None:
        await self.variables[channel].write_value(
            ua.DataValue(ua.Variant(value, ua.VariantType.Double), SourceTimestamp=when, ServerTimestamp=when)
        )

    def write(self, channel: str, value: float, when: dt.datetime) -> None:
        asyncio.run_coroutine_threadsafe(self._write(channel, value, when), self.loop).result(timeout=10)

    def stop(self) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout=20)
        self.loop.close()


def test_opcua_subscription_to_store(tmp_path: Path) -> None:
    server = OpcUaServer()
    try:
        raw = {
            "pipeline": {"batch_max_wait": "50ms"},
            "assets": assets_config(),
            "opcua": {
                "endpoint": server.endpoint,
                "publishing_interval": "20ms",
                "nodes": [
                    {
                        "node_id": f"ns={server.namespace};s=P-1.{c}",
                        "asset": "P-1",
                        "channel": c,
                        "unit": {"temp": "degC", "vib": "mm/s"}[c],
                    }
                    for c in ("temp", "vib")
                ],
            },
        }
        with Store(tmp_path / "plant.duckdb") as store:
            running = ConsumerThread(raw, store, idle_exit=2.0)
            assert wait_until(lambda: store.count_readings() == 2, timeout=20), "current values on subscribing"
            for step in range(1, 9):
                when = T0 + dt.timedelta(seconds=step)
                server.write("temp", 40.0 + step, when)
                server.write("vib", 2.0 + step / 10 if step != 5 else float("nan"), when)
                assert wait_until(lambda s=step: store.count_readings() == 2 + 2 * s - (s >= 5), timeout=10)
            metrics = running.join()
            got = store.sql("SELECT channel, epoch_us(ts) AS t, value FROM readings WHERE channel = 'temp' ORDER BY t")
        assert got["value"].tolist() == [40.0 + s for s in range(9)]
        assert got["t"].tolist() == [int((T0 + dt.timedelta(seconds=s)).timestamp() * 1e6) for s in range(9)]
        assert metrics["dead_letters"] == {"not_finite": 1}
    finally:
        server.stop()
