"""Values as strict JSON writes them: what a report computed (numpy scalars and arrays, NaN for "no figure") as
plain numbers, lists and ``null``.

Python's :mod:`json` writes ``NaN`` and ``Infinity`` by default, which is not JSON: ``JSON.parse``, ``jq`` and most
parsers refuse the whole file. A figure that does not exist (an F1 for a RUL task, a ratio over nothing) is
``null`` here.

>>> import json
>>> import numpy as np
>>> json.dumps(finite_json({"rmse": np.float32(12.5), "f1": float("nan"), "folds": np.arange(2), "n": np.int64(3)}))
'{"rmse": 12.5, "f1": null, "folds": [0, 1], "n": 3}'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["finite_json"]


def finite_json(value: Any) -> Any:
    """``value`` with numpy scalars and arrays made plain, mappings' keys made text, and every float that is not
    finite made ``None``; other values (text, times for ``default=str``) are left as they are."""
    if isinstance(value, Mapping):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [finite_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
