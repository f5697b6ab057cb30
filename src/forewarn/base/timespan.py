"""Time spans as people write them: ``"7d"``, ``"90min"``, ``"1h"``; the one parser every layer uses.

pandas reads ``"7D"`` but warns on the lower-case ``"7d"`` (deprecated in pandas 3, an error in 4), which is how
plant engineers write days; :func:`timespan` accepts both, and ``day``/``days``.

>>> timespan("7d"), timespan("90min"), timespan("2 days")
(Timedelta('7 days 00:00:00'), Timedelta('0 days 01:30:00'), Timedelta('2 days 00:00:00'))
"""

from __future__ import annotations

import re

import pandas as pd

_DAYS = re.compile(r"(?<=[0-9.])\s*(d|day|days)$")


def timespan(text: str) -> pd.Timedelta:
    """A pandas-style span, with ``d`` accepted for days (``"7d"``); ``ValueError`` when it is not one.

    >>> timespan(" 1.5d ")
    Timedelta('1 days 12:00:00')
    """
    return pd.to_timedelta(_DAYS.sub("D", str(text).strip()))
