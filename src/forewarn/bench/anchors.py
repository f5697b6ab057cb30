"""Published figures shipped with Forewarn (``forewarn/data/anchors.toml``), with their sources.

>>> rows = anchor_rows("cmapss", subset="FD001")
>>> rows[0]["method"], rows[0]["rmse"]
('CNN, Babu et al. (2016)', 18.45)
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

from forewarn.exceptions import ConfigError


@cache
def _anchors() -> dict[str, Any]:
    text = resources.files("forewarn").joinpath("data/anchors.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def anchor_protocol(dataset: str) -> str:
    """The benchmark protocol the published figures of ``dataset`` were measured under."""
    return str(_section(dataset).get("protocol", ""))


def anchor_rows(dataset: str, *, subset: str | None = None) -> list[dict[str, Any]]:
    """Published rows of ``dataset``: ``method``, ``source`` and metric values (of ``subset`` if given)."""
    rows = []
    for row in _section(dataset)["rows"]:
        flat = {"method": row["method"], "source": row["source"]}
        if subset is not None:
            if subset not in row:
                continue
            flat.update(row[subset])
        else:
            flat.update({k: v for k, v in row.items() if k not in ("method", "source") and not isinstance(v, dict)})
        rows.append(flat)
    return rows


def _section(dataset: str) -> dict[str, Any]:
    anchors = _anchors()
    if dataset not in anchors:
        raise ConfigError(f"no published figures for {dataset!r}; known: {', '.join(sorted(anchors))}")
    return anchors[dataset]
