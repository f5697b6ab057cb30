"""The order of a model's monitoring runs: by the window they judged, not by when they ran.

``forewarn monitor --end 2024-03-01`` looks back at a past window; appended after today's run, it must not become
what the gauges and the model page call the model's current state. Runs are ordered by their window's end, then by
when they ran (a rerun of the same window replaces the earlier one as the latest).

>>> runs = [{"at": "2024-06-02T08:00", "window": {"end": "2024-06-01 00:00:00+00:00"}},
...         {"at": "2024-06-03T08:00", "window": {"end": "2024-03-01 00:00:00+00:00"}}]  # a look back, run later
>>> [r["window"]["end"][:10] for r in by_window(runs)], latest(runs)["at"]
(['2024-03-01', '2024-06-01'], '2024-06-02T08:00')
>>> latest([]) is None
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

__all__ = ["by_window", "latest"]

_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


def _when(text: Any) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return _NEVER
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def by_window(runs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``runs`` ordered by their window's end, then by when they ran (a run without either comes first)."""
    return sorted(runs, key=lambda r: (_when((r.get("window") or {}).get("end")), _when(r.get("at"))))


def latest(runs: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The run of the latest window (the model's current state), or None."""
    ordered = by_window(runs)
    return ordered[-1] if ordered else None
