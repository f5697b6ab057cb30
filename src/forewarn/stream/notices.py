"""What the stream drops or cannot score, said in the log: late readings and JSON fields no mapping names.

Both are counted in the stream's metrics (``rows_late`` / ``readings_late``, ``fields_unmapped``); these classes
also say it in a log line (``forewarn.stream`` warnings, on stderr under ``forewarn stream``), with the setting
that changes it, without flooding the log:

* :class:`LateNotes`: readings that come after newer readings of their asset were released for scoring (a
  broker or gateway outage, a gateway that resends its buffer) are stored but not scored online. The first
  batch that has some is said at once, later ones at most every :data:`LATE_EVERY_S` seconds as totals since
  the last line, with the settings that would have held them: ``allowed_lateness`` at least as far behind as
  the furthest one was (rounded up), and ``idle_release`` longer than the asset's quiet spell before them (held
  readings of an asset quiet that long are released whatever the lateness, so an outage longer than
  ``idle_release`` makes what comes after it late);
* :class:`UnmappedFields`: a ``json``-layout message's fields that no ``fields`` entry maps are dropped; each new
  field name is said once (the first :data:`UNMAPPED_NAMES` names, then one line that there are more) and counted
  by name (names past the first :data:`UNMAPPED_NAMES` under ``"(other)"``, so a gateway that sends a new key in
  every message cannot grow the metrics without end).

>>> friendly_duration(1_500_000), friendly_duration(150 * 60_000_000), friendly_duration(900)
('2s', '3h', '1ms')
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from forewarn.stream.reorder import Readings

log = logging.getLogger("forewarn.stream")
LATE_EVERY_S = 60.0
UNMAPPED_NAMES = 20
OTHER = "(other)"
_UNITS = (("h", 3_600_000_000, 7_200_000_000), ("min", 60_000_000, 120_000_000), ("s", 1_000_000, 1_000_000))


def friendly_duration(micros: int) -> str:
    """A duration at least ``micros`` long, rounded up to a whole unit a config reads (``"2s"``, ``"3h"``)."""
    for unit, size, least in _UNITS:
        if micros >= least:
            return f"{math.ceil(micros / size)}{unit}"
    return f"{max(1, math.ceil(micros / 1000))}ms"


def distinct_rows(part: Readings) -> int:
    """How many (asset, time) rows ``part`` touches.

    >>> distinct_rows(Readings(np.array(["a", "a", "b"], dtype=object), np.array(["t", "v", "t"], dtype=object),
    ...                        np.array([1, 1, 1]), np.zeros(3)))
    2
    """
    if len(part) == 0:
        return 0
    return len(pd.DataFrame({"a": part.asset, "t": part.ts}).drop_duplicates())


class LateNotes:
    """Late readings' log lines (see the module docstring) under the configured ``allowed_lateness`` and
    ``idle_release`` (seconds)."""

    def __init__(self, lateness_s: float, idle_release_s: float, *, clock: Callable[[], float] = time.monotonic):
        self.lateness_s = float(lateness_s)
        self.idle_release_s = float(idle_release_s)
        self.clock = clock
        self._last: float | None = None
        self._readings = self._rows = self._behind = 0
        self._quiet = 0.0

    def add(self, part: Readings, behind_us: np.ndarray, written: int, quiet_s: float = 0.0) -> int:
        """Note a batch's newly stored late readings (``part``, each ``behind_us`` its asset's watermark;
        ``written`` of them stored; their assets quiet up to ``quiet_s`` wall-clock seconds before them) and
        return the (asset, time) rows they touch."""
        rows = distinct_rows(part)
        self._readings += written
        self._rows += rows
        self._behind = max(self._behind, int(behind_us.max()) if len(behind_us) else 0)
        self._quiet = max(self._quiet, float(quiet_s))
        now = self.clock()
        if self._last is None or now - self._last >= LATE_EVERY_S:
            self._say()
            self._last = now
        return rows

    def _say(self) -> None:
        needed = friendly_duration(self._behind + 1)
        hold = [] if needed_s(needed) <= self.lateness_s else [f'allowed_lateness = "{needed}"']
        if self._quiet >= self.idle_release_s:
            hold.append(f"idle_release above {self._quiet:.1f}s (the quiet spell before them)")
        log.warning(
            "%d readings of %d (asset, time) rows came up to %s behind newer readings of their asset that were "
            "released for scoring already (after an outage, a gateway's buffer?): stored, not scored online "
            "(readings_late, rows_late). To score readings that late: %s (now allowed_lateness = %s, "
            "idle_release = %s); a score then waits up to allowed_lateness of event time while an asset sends, "
            "and idle_release of wall time after its last reading",
            self._readings,
            self._rows,
            friendly_duration(self._behind),
            " and ".join(hold) or "nothing held them that the settings say (readings redelivered out of order)",
            f'"{self.lateness_s:g}s"',
            f'"{self.idle_release_s:g}s"',
        )
        self._readings = self._rows = self._behind = 0
        self._quiet = 0.0


def needed_s(text: str) -> float:
    """Seconds in a :func:`friendly_duration` text.

    >>> needed_s("20min"), needed_s("2ms")
    (1200.0, 0.002)
    """
    return float(pd.Timedelta(text).total_seconds())


class UnmappedFields:
    """Names of dropped ``json`` fields, said once each (see the module docstring)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._more_said = False

    def add(self, counts: Mapping[tuple[str, str], int]) -> dict[str, int]:
        """Note ``{(subscription topic, field): messages}`` and return the counts to add by metric label."""
        out: dict[str, int] = {}
        for (topic, name), n in counts.items():
            if name not in self.seen and len(self.seen) < UNMAPPED_NAMES:
                self.seen.add(name)
                log.warning(
                    "json field %r of subscription %r is mapped to no channel and dropped (fields_unmapped counts "
                    "it); add it to that subscription's fields = { ... } to store it",
                    name,
                    topic,
                )
            elif name not in self.seen and not self._more_said:
                self._more_said = True
                log.warning(
                    "more than %d json field names are mapped to no channel; the rest are counted under %r",
                    UNMAPPED_NAMES,
                    OTHER,
                )
            label = name if name in self.seen else OTHER
            out[label] = out.get(label, 0) + n
        return out
