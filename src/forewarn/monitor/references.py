"""Drift references kept between monitoring runs: one ``.npz`` per model version (plain arrays, no pickle).

Fitting the references reads a year of each asset's readings; a model version's reference never changes, so
it is fitted once and read back (``forewarn monitor --refresh`` fits it again).

>>> import tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "v1.npz"
>>> ts = pd.date_range("2024-01-01", periods=24 * 5, freq="1h", tz="UTC")
>>> frame = pd.DataFrame({"ts": ts, "a": np.sin(np.arange(120.0)), "b": np.cos(np.arange(120.0))})
>>> save_references(path, {"p1": fit_reference(frame, ["a", "b"])})
>>> loaded = load_references(path)
>>> list(loaded), loaded["p1"].channels
(['p1'], ['a', 'b'])
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd  # noqa: F401  (the docstring example)

from forewarn.exceptions import StateError
from forewarn.monitor.drift import Reference, fit_reference  # noqa: F401  (fit_reference: the docstring example)

_ARRAYS = [
    f.name for f in fields(Reference) if f.name not in ("channels", "rows_per_day", "days", "run_level", "raw_rate")
]


def save_references(path: str | os.PathLike[str], references: dict[str, Reference]) -> None:
    """Write ``references`` (asset id -> :class:`Reference`) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        asset: {
            "channels": ref.channels,
            "rows_per_day": ref.rows_per_day,
            "days": ref.days,
            "run_level": list(ref.run_level),
            "raw_rate": ref.raw_rate,
        }
        for asset, ref in references.items()
    }
    arrays = {
        f"{i}/{name}": np.asarray(getattr(ref, name)) for i, ref in enumerate(references.values()) for name in _ARRAYS
    }
    tmp = path.with_name(path.name + ".tmp.npz")
    arrays["meta"] = np.array(json.dumps({"assets": list(references), "meta": meta}))
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def load_references(path: str | os.PathLike[str]) -> dict[str, Reference] | None:
    """The references saved at ``path``, or ``None`` when there are none yet (or they lack a statistic this
    version of the monitor keeps: they are fitted again)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["meta"]))
            if any(f"{i}/{name}" not in data.files for i in range(len(header["assets"])) for name in _ARRAYS):
                return None  # written before a statistic was added: fit again
            out = {}
            for i, asset in enumerate(header["assets"]):
                meta = header["meta"][asset]
                out[asset] = Reference(
                    channels=list(meta["channels"]),
                    rows_per_day=float(meta["rows_per_day"]),
                    days=int(meta["days"]),
                    run_level=(str(meta["run_level"][0]), float(meta["run_level"][1])),
                    raw_rate=float(meta["raw_rate"]),
                    **{name: data[f"{i}/{name}"] for name in _ARRAYS},
                )
            return out
    except (OSError, KeyError, ValueError) as err:
        raise StateError(
            f"drift references {str(path)!r} cannot be read ({err}); run forewarn monitor --refresh"
        ) from None
