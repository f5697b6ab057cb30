"""Fixtures of the streaming tests: a synthetic fleet, a saved detector, a real mosquitto on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forewarn.base import save
from forewarn.features.window import window_features
from forewarn.models.anomaly.pca import PCADetector
from forewarn.store import Store
from forewarn.stream.config_file import parse_config
from forewarn.stream.consumer import StreamConsumer

CHANNELS = ("temp", "vib")
UNITS = {"temp": "degC", "vib": "mm/s"}
WINDOW = 8
STATS = ("mean", "std", "last", "slope")
T0_MS = 1_700_000_000_000


def make_fleet(
    assets: int = 4, steps: int = 240, *, seed: int = 0, anomaly: str | None = None, gaps: float = 0.0
) -> pd.DataFrame:
    """Wide readings of ``assets`` machines at 1-minute steps; ``anomaly`` gets a vibration jump near the end."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(assets):
        asset = f"P-{i}"
        temp = 40 + i + np.cumsum(rng.normal(0, 0.05, steps)) + rng.normal(0, 0.2, steps)
        vib = 2.0 + rng.normal(0, 0.1, steps)
        if asset == anomaly:
            vib[-40:] += 6.0
        frame = pd.DataFrame(
            {
                "asset_id": asset,
                "ts": pd.to_datetime(T0_MS + np.arange(steps) * 60_000, unit="ms", utc=True),
                "temp": temp,
                "vib": vib,
            }
        )
        parts.append(frame)
    wide = pd.concat(parts, ignore_index=True)
    if gaps:
        for channel in CHANNELS:
            wide.loc[rng.random(len(wide)) < gaps, channel] = np.nan
    wide["ts"] = wide["ts"].astype("datetime64[us, UTC]")
    return wide


def batch_features(wide: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The batch (offline) features of a wide fleet for a model's feature names."""
    feats = window_features(wide, group="asset_id", order="ts", columns=list(CHANNELS), window=WINDOW, stats=STATS)
    return feats[names]


def assets_config() -> list[dict]:
    return [{"asset_id": f"P-{i}", "asset_class": "pump", "channels": dict(UNITS)} for i in range(6)]


def long_rows(wide: pd.DataFrame) -> list[tuple[str, str, int, float]]:
    """``(asset, channel, ts_us, value)`` of every reading of a wide fleet, in time order."""
    rows = []
    ts_us = (wide["ts"].astype("int64")).to_numpy()
    for channel in CHANNELS:
        values = wide[channel].to_numpy()
        rows += [
            (a, channel, int(t), float(v)) for a, t, v in zip(wide["asset_id"], ts_us, values, strict=True) if v == v
        ]
    rows.sort(key=lambda r: (r[2], r[0], r[1]))
    return rows


def sparkplug(wide: pd.DataFrame, rows_per_message: int = 10) -> list[tuple[str, bytes, int]]:
    """``(asset, payload, readings)`` Sparkplug-style messages, in time order of their first instant."""
    out = []
    for asset, frame in wide.groupby("asset_id", sort=True):
        ms = frame["ts"].astype("int64").to_numpy() // 1000
        for lo in range(0, len(frame), rows_per_message):
            metrics = [
                {"name": c, "timestamp": int(ms[i]), "value": float(frame[c].iloc[i])}
                for i in range(lo, min(lo + rows_per_message, len(frame)))
                for c in CHANNELS
                if frame[c].iloc[i] == frame[c].iloc[i]
            ]
            out.append(
                (
                    int(ms[lo]),
                    str(asset),
                    json.dumps({"timestamp": int(ms[lo]), "metrics": metrics}).encode(),
                    len(metrics),
                )
            )
    out.sort()
    return [(a, p, n) for _, a, p, n in out]


class ConsumerThread:
    """A :class:`StreamConsumer` running in a thread of this process until it has been idle ``idle_exit`` s."""

    def __init__(self, raw: dict, store: Store, *, idle_exit: float = 2.0):
        self.consumer = StreamConsumer(parse_config(raw), store, tick=0.05)
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(idle_exit,), daemon=True)
        self.metrics: dict | None = None
        self.thread.start()
        assert self.ready.wait(30), "the consumer did not connect"

    def _run(self, idle_exit: float) -> None:
        self.metrics = self.consumer.run(idle_exit_s=idle_exit, max_seconds=90, ready=self.ready.set)

    def join(self, timeout: float = 60) -> dict:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the consumer did not stop"
        assert self.metrics is not None
        return self.metrics


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PCA T2/Q detector trained on the window features of a healthy fleet, saved to a folder.

    On the test fleets healthy rows score below 5 and the vibration jump of the ``anomaly`` asset above 100.
    """
    wide = make_fleet(assets=4, steps=400, seed=11)
    names = [f"{c}__{s}" for c in CHANNELS for s in STATS]
    X = batch_features(wide, names)
    model = PCADetector(quantile=0.999).fit(X)
    return save(model, tmp_path_factory.mktemp("model") / "pump-pca")
