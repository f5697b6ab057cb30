"""The model registry: versions of each servable model, which one is live, promote and roll back.

Layout of the models folder (``forewarn serve --models DIR``)::

    DIR/
      registry.json            # {"active": {model_id: version}, "history": {model_id: [earlier active versions]}}
      <model_id>/<version>/    # a bundle: manifest.json, state files, serving.json (see forewarn.bundles.bundle)

A model id with no entry in ``registry.json`` serves its newest version (versions sort naturally:
``v2`` before ``v10``). ``promote`` makes a version live and remembers the one it replaces; ``rollback``
goes back to that one. ``registry.json`` is written atomically (temporary file, then rename). Changes made
through this class take effect at once; folders or ``registry.json`` edited by hand are noticed within
:data:`RESCAN_S` seconds.

>>> import tempfile
>>> registry = ModelRegistry(tempfile.mkdtemp())
>>> registry.model_ids()
[]
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from forewarn.base.persistence import read_manifest
from forewarn.bundles.bundle import SPEC_FILE, Bundle
from forewarn.exceptions import ConfigError, DataNotFoundError, StateError

REGISTRY_FILE = "registry.json"
#: how often (seconds) the folder and registry.json are checked for changes made outside this process
RESCAN_S = 1.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _natural(version: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", version)]


def check_name(value: str, what: str) -> str:
    """Model ids and versions are folder names: letters, digits, ``.``, ``_``, ``-`` (no path tricks)."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(
            f"{what} {value!r} is not valid; use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


class ModelRegistry:
    """Bundles under one folder, with the live version of each model id (thread-safe)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataNotFoundError(
                f"models folder {str(self.root)!r} does not exist; create it and put bundles "
                "in <model_id>/<version>/ (see forewarn.bundles.registry)"
            )
        self._lock = threading.RLock()
        self._loaded: dict[tuple[str, str], Bundle] = {}
        # the live bundle of each model id, with the time the older of the listing and registry.json caches it was
        # read from was checked: while both are fresh (RESCAN_S) it is the answer, with no lookup
        self._live: dict[str, tuple[float, Bundle]] = {}
        self._listing_cache: tuple[tuple[Any, ...], dict[str, list[str]]] | None = None
        self._listing_checked = 0.0
        self._file_checked = 0.0
        self._file_cache: tuple[int, str] | None = None

    # -- the registry file --------------------------------------------------------------------------------
    def _read(self) -> dict[str, dict[str, Any]]:
        path = self.root / REGISTRY_FILE
        now = time.monotonic()
        if self._file_cache is not None and now - self._file_checked < RESCAN_S:
            return json.loads(self._file_cache[1])
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            self._file_cache, self._file_checked = (0, json.dumps({"active": {}, "history": {}})), now
            return {"active": {}, "history": {}}
        self._file_checked = now
        if self._file_cache is not None and self._file_cache[0] == stamp:
            return json.loads(self._file_cache[1])
        text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise StateError(f"{str(path)!r} is not valid JSON (line {err.lineno}): {err.msg}") from None
        data = {"active": dict(data.get("active", {})), "history": dict(data.get("history", {}))}
        self._file_cache = (stamp, json.dumps(data))
        return data

    def _write(self, data: dict[str, Any]) -> None:
        path = self.root / REGISTRY_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
        self._file_cache, self._file_checked = (path.stat().st_mtime_ns, json.dumps(data)), time.monotonic()
        self._live.clear()  # a promotion or a roll-back: the live versions change now

    # -- listing ------------------------------------------------------------------------------------------
    def _listing(self) -> dict[str, list[str]]:
        """``{model_id: [versions]}``, rescanned when a folder's modification time changes (checked at most every
        :data:`RESCAN_S` seconds: this runs on every request)."""
        now = time.monotonic()
        if self._listing_cache is not None and now - self._listing_checked < RESCAN_S:
            return self._listing_cache[1]
        self._listing_checked = now
        folders = sorted(p for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))
        key = (self.root.stat().st_mtime_ns, *((p.name, p.stat().st_mtime_ns) for p in folders))
        if self._listing_cache is None or self._listing_cache[0] != key:
            listing = {p.name: self._versions(p) for p in folders}
            self._listing_cache = (key, {k: v for k, v in listing.items() if v})
        return self._listing_cache[1]

    def model_ids(self) -> list[str]:
        """Model ids with at least one servable version."""
        return sorted(self._listing())

    @staticmethod
    def _versions(folder: Path) -> list[str]:
        found = [p.name for p in folder.iterdir() if p.is_dir() and (p / SPEC_FILE).is_file() and _NAME.match(p.name)]
        return sorted(found, key=_natural)

    def versions(self, model_id: str) -> list[str]:
        """Servable versions of ``model_id``, oldest first."""
        versions = list(self._listing().get(check_name(model_id, "model id"), []))
        if not versions:
            raise DataNotFoundError(
                f"no model {model_id!r} in {str(self.root)!r}; known: {', '.join(self.model_ids()) or 'none'}"
            )
        return versions

    def active_version(self, model_id: str) -> str:
        """The live version: the promoted one, else the newest."""
        versions = self.versions(model_id)
        chosen = self._read()["active"].get(model_id)
        return chosen if chosen in versions else versions[-1]

    def describe(self, model_id: str) -> dict[str, Any]:
        """Versions of a model with their metrics, the live one, and the roll-back history."""
        active = self.active_version(model_id)
        rows = []
        for version in self.versions(model_id):
            folder = self.root / model_id / version
            manifest = read_manifest(folder)
            rows.append(
                {
                    "version": version,
                    "active": version == active,
                    "model": manifest.get("model"),
                    "task": manifest.get("task"),
                    "metrics": manifest.get("metrics", {}),
                    "n_features": len(manifest.get("feature_names", [])),
                    "data_hash": manifest.get("data_hash"),
                    "saved": os.path.getmtime(folder / "manifest.json"),
                }
            )
        history = self._read()["history"].get(model_id, [])
        return {"model_id": model_id, "active": active, "versions": rows, "history": list(history)}

    # -- serving ------------------------------------------------------------------------------------------
    def bundle(self, model_id: str, version: str | None = None) -> Bundle:
        """The loaded bundle of a version (the live one by default); loaded once, then cached.

        The live bundle is remembered until the listing or ``registry.json`` is due for a rescan, or until
        :meth:`promote` or :meth:`rollback` changes it: the same answer as looking it up, without the lookup.
        """
        if version is None:
            live = self._live.get(model_id)
            if live is not None and time.monotonic() - live[0] < RESCAN_S:
                return live[1]
        with self._lock:
            live_version = version is None
            version = check_name(version, "version") if version is not None else self.active_version(model_id)
            if version not in self.versions(model_id):
                raise DataNotFoundError(
                    f"model {model_id!r} has no version {version!r}; it has {', '.join(self.versions(model_id))}"
                )
            key = (model_id, version)
            if key not in self._loaded:
                self._loaded[key] = Bundle(self.root / model_id / version, model_id=model_id, version=version)
            if live_version:
                self._live[model_id] = (min(self._listing_checked, self._file_checked), self._loaded[key])
            return self._loaded[key]

    # -- changing what is live ------------------------------------------------------------------------------
    def promote(self, model_id: str, version: str) -> dict[str, Any]:
        """Make ``version`` live (loading it first, so a broken bundle is refused before it serves)."""
        with self._lock:
            current = self.active_version(model_id)
            self.bundle(model_id, version)
            if version != current:
                data = self._read()
                data["active"][model_id] = version
                data["history"].setdefault(model_id, []).append(current)
                self._write(data)
            return self.describe(model_id)

    def pin(self, model_id: str) -> str:
        """Record the version serving now as live, so a version added later does not go live as the newest
        (``forewarn train`` without ``--promote``). Returns the pinned version."""
        with self._lock:
            current = self.active_version(model_id)
            data = self._read()
            if data["active"].get(model_id) != current:
                data["active"][model_id] = current
                self._write(data)
            return current

    def rollback(self, model_id: str) -> dict[str, Any]:
        """Go back to the version that was live before the last promotion."""
        with self._lock:
            data = self._read()
            history = [v for v in data["history"].get(model_id, []) if v in self.versions(model_id)]
            if not history:
                raise StateError(f"model {model_id!r} has no earlier version to roll back to; promote one instead")
            data["active"][model_id] = history.pop()
            data["history"][model_id] = history
            self._write(data)
            return self.describe(model_id)


def chosen_model(models: str | os.PathLike[str], model_id: str | None = None) -> tuple[ModelRegistry, str]:
    """``(registry, model_id)``: the registry of the folder ``models`` and ``model_id``, or the only model id it
    holds (what ``forewarn score`` and ``lake-score`` serve when no ``--model-id`` is given)."""
    if not Path(models).is_dir():
        raise DataNotFoundError(f"models folder {str(models)!r} does not exist; train one with forewarn train")
    registry = ModelRegistry(models)
    ids = registry.model_ids()
    if model_id is None:
        if not ids:
            raise DataNotFoundError(f"no model in {str(models)!r}; train one with forewarn train")
        if len(ids) > 1:
            raise DataNotFoundError(f"{str(models)!r} holds models {', '.join(ids)}; choose one with --model-id")
        model_id = ids[0]
    return registry, model_id
