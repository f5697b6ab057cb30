"""Time spans as people write them: ``"7d"``, ``"90min"``, ``"1h"``; the one parser every layer uses.

pandas reads ``"7D"`` but warns on the lower-case ``"7d"`` (deprecated in pandas 3, an error in 4), which is how
plant engineers write days; :func:`timespan` accepts both, and ``day``/``days``.

>>> timespan("7d"), timespan("90min"), timespan("2 days")
(Timedelta('7 days 00:00:00'), Timedelta('0 days 01:30:00'), Timedelta('2 days 00:00:00'))
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

_DAYS = re.compile(r"(?<=[0-9.])\s*(d|day|days)$")


def timespan(text: str) -> pd.Timedelta:
    """A pandas-style span, with ``d`` accepted for days (``"7d"``); ``ValueError`` when it is not one.

    >>> timespan(" 1.5d ")
    Timedelta('1 days 12:00:00')
    """
    return pd.to_timedelta(_DAYS.sub("D", str(text).strip()))


def utc_minute(value: Any) -> str:
    """A time as people read it in a sentence (an answer's action, a case note): ``YYYY-MM-DD HH:MM UTC``; naive
    times are taken as UTC.

    >>> utc_minute(pd.Timestamp("2024-01-17T17:00:59+01:00")), utc_minute("2024-01-17 16:00")
    ('2024-01-17 16:00 UTC', '2024-01-17 16:00 UTC')
    """
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return str(stamp.strftime("%Y-%m-%d %H:%M UTC"))
