"""The health cache: one answer per asset, valid while its :class:`HealthKey` is the current one.

An asset's health depends on its readings and events, on its open case, on the live model version and on the
cost table. Each of these has a counter here, bumped by whoever changes it (:meth:`HealthCache.readings_changed`,
:meth:`HealthCache.case_changed`, :meth:`HealthCache.clear`). A computation takes its key *before* it reads
anything; an answer is served only while the stored key equals the current one, so a change that lands while an
answer is being computed makes that answer stale at once, whichever thread finishes first. Nothing outside the
service has to invalidate anything: the modules that change readings, events and cases bump the counters
themselves.

>>> cache = HealthCache()
>>> key = cache.key("P-1", "rul", "v2")          # taken before the asset is read
>>> cache.put("P-1", key, {"asset_id": "P-1"})
>>> cache.get("P-1", "rul", "v2")
{'asset_id': 'P-1'}
>>> cache.case_changed("P-1")                    # a case filed: the answer above is stale
>>> cache.get("P-1", "rul", "v2") is None, cache.get("P-1", "rul", "v1") is None
(True, True)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import NamedTuple

from forewarn.serve.answers import HealthAnswer


class HealthKey(NamedTuple):
    """What a cached health answer was computed from (a tuple: compared in one C call on the hot path)."""

    readings: int  # generation of the asset's readings and events
    cases: int  # generation of the asset's cases
    epoch: int  # generation of the whole cache (cost table changed)
    model_id: str
    version: str


class HealthCache:
    """Health answers and their JSON bytes per asset, and the generation counters they are checked against
    (thread-safe: counters are bumped under a lock of their own, never one a long computation holds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readings: dict[str, int] = {}
        self._cases: dict[str, int] = {}
        self._epoch = 0
        self._answers: dict[str, tuple[HealthKey, HealthAnswer]] = {}
        self._json: dict[str, tuple[HealthKey, bytes]] = {}

    def key(self, asset_id: str, model_id: str, version: str) -> HealthKey:
        """The current key of an asset's health under a model version: take it before reading anything."""
        return HealthKey(self._readings.get(asset_id, 0), self._cases.get(asset_id, 0), self._epoch, model_id, version)

    def get(self, asset_id: str, model_id: str, version: str) -> HealthAnswer | None:
        """The cached answer, when nothing it depends on changed since it was computed."""
        entry = self._answers.get(asset_id)
        if entry is not None and entry[0] == self.key(asset_id, model_id, version):
            return entry[1]
        return None

    def put(self, asset_id: str, key: HealthKey, answer: HealthAnswer) -> None:
        """Keep ``answer``, computed under ``key`` (not kept when something changed meanwhile)."""
        if key == self.key(asset_id, key.model_id, key.version):
            self._answers[asset_id] = (key, answer)

    def json(self, asset_id: str, active_version: Callable[[str], str]) -> bytes | None:
        """The cached answer as JSON bytes, or ``None`` when it must be computed (no blocking work here).

        ``active_version(model_id)``: the live version of a model now (a promotion or roll-back since makes the
        answer stale)."""
        entry = self._answers.get(asset_id)
        if entry is None:
            return None
        key, answer = entry
        if key != self.key(asset_id, key.model_id, active_version(key.model_id)):
            return None
        body = self._json.get(asset_id)
        if body is None or body[0] != key:
            body = (key, json.dumps(answer, separators=(",", ":")).encode())
            self._json[asset_id] = body
        return body[1]

    def readings_changed(self, asset_ids: Iterable[str]) -> None:
        """Readings or events of these assets changed: their next health is computed afresh."""
        with self._lock:
            for asset_id in asset_ids:
                self._readings[asset_id] = self._readings.get(asset_id, 0) + 1

    def case_changed(self, asset_id: str) -> None:
        """A case of this asset was opened, added to, acknowledged or closed."""
        with self._lock:
            self._cases[asset_id] = self._cases.get(asset_id, 0) + 1

    def clear(self) -> None:
        """Every answer is stale (the cost table, hence every threshold, changed)."""
        with self._lock:
            self._epoch += 1
            self._answers.clear()
            self._json.clear()
