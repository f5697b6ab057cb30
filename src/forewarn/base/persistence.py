"""Save a fitted estimator to a folder and load it back, without pickle.

The folder holds ``manifest.json`` (registry name, Forewarn version, parameters, feature names, metrics, a
hash of the training data) and the state: numeric arrays in ``state.npz`` (read with
``allow_pickle=False``) and text blobs (e.g. a LightGBM model) as ``<name>.txt``.

>>> import tempfile, numpy as np
>>> from forewarn.models.anomaly.pca import PCADetector
>>> X = np.random.default_rng(0).normal(size=(50, 3))
>>> model = PCADetector().fit(X)
>>> folder = save(model, tempfile.mkdtemp(), metrics={"auc": 0.9})
>>> again = load(folder)
>>> bool(np.allclose(again.score(X), model.score(X)))
True
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forewarn._version import installed_version
from forewarn.base.estimator import Estimator
from forewarn.base.registry import get
from forewarn.exceptions import StateError

MANIFEST = "manifest.json"
ARRAYS = "state.npz"
FORMAT_VERSION = 1


def data_hash(X: Any) -> str:
    """A short, stable SHA-256 of a frame or array (used to record what a model was trained on)."""
    if isinstance(X, pd.DataFrame):
        digest = hashlib.sha256(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
        digest.update(",".join(map(str, X.columns)).encode())
    else:
        digest = hashlib.sha256(np.ascontiguousarray(np.asarray(X)).tobytes())
    return digest.hexdigest()[:16]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise StateError(f"parameter value {value!r} cannot be written to {MANIFEST}; use plain numbers and strings")


def save(
    model: Estimator,
    folder: str | os.PathLike[str],
    *,
    metrics: Mapping[str, float] | None = None,
    training_data: Any = None,
) -> Path:
    """Write ``model`` to ``folder`` (created if needed) and return the folder's path."""
    if not model.registry_name:
        raise StateError(f"{type(model).__name__} is not registered; only registered models can be saved")
    state = model.get_state()
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    arrays = {k: v for k, v in state.items() if not isinstance(v, str)}
    texts = {k: v for k, v in state.items() if isinstance(v, str)}
    for name in arrays:
        if np.asarray(arrays[name]).dtype == object:
            raise StateError(f"state entry {name!r} is an object array; state must be plain numbers or text")
    np.savez(path / ARRAYS, **arrays)  # type: ignore[arg-type]
    for name, text in texts.items():
        (path / f"{name}.txt").write_text(text, encoding="utf-8")
    manifest = {
        "format": FORMAT_VERSION,
        "model": model.registry_name,
        "class": type(model).__qualname__,
        "task": model.task,
        "forewarn_version": installed_version(),
        "params": _jsonable(model.get_params()),
        "feature_names": [str(n) for n in model.feature_names_in_],
        "arrays": sorted(arrays),
        "texts": sorted(texts),
        "metrics": _jsonable(dict(metrics or {})),
        "data_hash": data_hash(training_data) if training_data is not None else None,
    }
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return path


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a saved model folder."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise StateError(f"{str(path)!r} not found: {str(folder)!r} is not a saved Forewarn model folder")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return manifest
    except json.JSONDecodeError as err:
        raise StateError(f"{str(path)!r} is not valid JSON (line {err.lineno}): {err.msg}") from None


def load(folder: str | os.PathLike[str]) -> Estimator:
    """Rebuild the model saved in ``folder``: a fresh estimator from the registry, then its state."""
    manifest = read_manifest(folder)
    if manifest.get("format") != FORMAT_VERSION:
        raise StateError(
            f"model folder {str(folder)!r} has format {manifest.get('format')!r}; "
            f"this Forewarn reads format {FORMAT_VERSION}"
        )
    model = get(manifest["model"])(**manifest["params"])
    state: dict[str, np.ndarray | str] = {}
    path = Path(folder)
    with np.load(path / ARRAYS, allow_pickle=False) as arrays:
        for name in manifest["arrays"]:
            if name not in arrays:
                raise StateError(f"{ARRAYS} in {str(folder)!r} lacks array {name!r}")
            try:
                state[name] = arrays[name]
            except ValueError as err:  # an object array: loading it would need pickle
                raise StateError(
                    f"array {name!r} in {str(folder)!r} needs pickle to load ({err}); "
                    "Forewarn never unpickles model files"
                ) from None
    for name in manifest["texts"]:
        text_path = path / f"{name}.txt"
        if not text_path.is_file():
            raise StateError(f"state file {str(text_path)!r} is missing")
        state[name] = text_path.read_text(encoding="utf-8")
    restored: Estimator = model.set_state(state)
    return restored
