"""The case rule's gap: a case ends when its asset has had no alert for ``quiet`` (the model's horizon).

One rule for the backtest and the service. :func:`forewarn.evaluate.cases.cases` folds alarm rows into cases with
it (a case takes in the asset's later alarms until ``horizon`` passes without one, or a failure or renewal closes
it), and the case book (:mod:`forewarn.decide.case_filing`, :meth:`forewarn.decide.cases.CaseBook.close_quiet`)
closes an open case by it, so a later alert opens a new case, as the backtest counts it.

The boundary: an alert exactly ``quiet`` after the last one still joins the case; only a longer silence ends it.
``quiet`` ``None`` means never (a case then stays open until a person, a failure's repair, closes it).

>>> t = pd.Timestamp("2024-05-01 08:00", tz="UTC")
>>> went_quiet(t, t + pd.Timedelta("7D"), DEFAULT_CLOSE_QUIET), went_quiet(t, t + pd.Timedelta("7D1min"), DEFAULT_CLOSE_QUIET)
(False, True)
>>> went_quiet(t, t + pd.Timedelta("700D"), None)
False
>>> close_quiet_setting("7d"), close_quiet_setting("36h"), close_quiet_setting("0")
(Timedelta('7 days 00:00:00'), Timedelta('1 days 12:00:00'), None)
>>> quiet_note(pd.Timedelta("7D"), t)
'quiet for 7 d after its last alarm at 2024-05-01 08:00 UTC, no failure: closed by the case rule'

The default gap where nobody set one (``serve --close-quiet``, the stream's ``[cases] close_quiet``): the horizon of
the model that scores health when it is in hours, else :data:`DEFAULT_CLOSE_QUIET`:

>>> default_close_quiet("hours", 72), default_close_quiet("cycles", 30), default_close_quiet(None, None)
(Timedelta('3 days 00:00:00'), Timedelta('7 days 00:00:00'), Timedelta('7 days 00:00:00'))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forewarn.base.timespan import timespan, utc_minute
from forewarn.exceptions import ConfigError

#: how long an asset's case may go without an alert before it closes, for a model that has no horizon of its own
#: (``forewarn detect``'s fits): the backtest's horizon for a failure within 7 days
DEFAULT_CLOSE_QUIET = pd.Timedelta(days=7)
#: who closes a case that went quiet (the case's ``closed_by``)
QUIET_CLOSER = "forewarn"
#: the units of a model's horizon that are hours (``forewarn train`` writes ``"hours"``)
HOUR_UNITS = ("hours", "hour", "h")


def horizon_span(unit: Any, horizon: Any) -> pd.Timedelta | None:
    """A model's horizon as a time span when its unit is hours (``None``: no horizon, or one in cycles, days of
    use...)."""
    if unit is not None and horizon is not None and str(unit).strip().lower() in HOUR_UNITS:
        return pd.Timedelta(hours=float(horizon))
    return None


def default_close_quiet(unit: Any, horizon: Any) -> pd.Timedelta:
    """The gap where none is set: ``horizon`` hours when ``unit`` is hours (a failure model of ``forewarn train``:
    the window its forewarning counts in), else :data:`DEFAULT_CLOSE_QUIET` (a model without such a horizon)."""
    span = horizon_span(unit, horizon)
    return DEFAULT_CLOSE_QUIET if span is None else span


def went_quiet(last: Any, ts: Any, quiet: pd.Timedelta | np.timedelta64 | None) -> bool:
    """Whether ``ts`` comes more than ``quiet`` after ``last`` (the case of ``last`` has ended by then; ``None``:
    never). Times as pandas timestamps or numpy datetimes, alike."""
    if quiet is None:
        return False
    return bool(ts - last > quiet)


def close_quiet_setting(value: str | pd.Timedelta | None) -> pd.Timedelta | None:
    """The setting as people write it (``"7d"``, ``"36h"``; ``"0"``, ``"never"`` or ``None``: never close)."""
    if value is None or isinstance(value, pd.Timedelta):
        span = value
    elif str(value).strip().lower() in ("0", "never", "off", "none"):
        return None
    else:
        try:
            span = timespan(str(value))
        except (TypeError, ValueError):
            raise ConfigError(
                f"close-quiet {value!r} is not a time span; write e.g. '7d' or '36h', or '0' to never close a case "
                "that went quiet"
            ) from None
    if span is not None and span < pd.Timedelta(0):
        raise ConfigError(f"close-quiet must not be negative, got {value!r}")
    return None if span is None or span == pd.Timedelta(0) else span


def quiet_text(quiet: pd.Timedelta) -> str:
    """A span as a note says it: whole days as ``7 d``, else hours (``36 h``), else minutes.

    >>> quiet_text(pd.Timedelta("14D")), quiet_text(pd.Timedelta("36h")), quiet_text(pd.Timedelta("90min"))
    ('14 d', '36 h', '90 min')
    """
    minutes = quiet / pd.Timedelta(minutes=1)
    if minutes % (24 * 60) == 0:
        return f"{minutes / (24 * 60):g} d"
    if minutes % 60 == 0:
        return f"{minutes / 60:g} h"
    return f"{minutes:g} min"


def quiet_note(quiet: pd.Timedelta, last: Any) -> str:
    """The note of a case closed because it went quiet after its last alert at ``last``."""
    return (
        f"quiet for {quiet_text(quiet)} after its last alarm at {utc_minute(last)}, no failure: closed by the case rule"
    )


#: how the note of an open case whose asset sent no reading for longer than the gap begins
SILENT_PREFIX = "no readings since "


def silent_note(since: Any) -> str:
    """The note of an open case whose asset's readings stopped at ``since`` for longer than the gap: the case stays
    open (no reading is no evidence that the asset went quiet), and says so.

    >>> silent_note(pd.Timestamp("2024-05-01 08:00", tz="UTC"))
    'no readings since 2024-05-01 08:00 UTC: kept open, the case rule cannot tell whether the asset went quiet'
    """
    return f"{SILENT_PREFIX}{utc_minute(since)}: kept open, the case rule cannot tell whether the asset went quiet"


def resumed_note(since: Any, back: Any) -> str:
    """The note of such a case once its asset's readings came back at ``back``.

    >>> t = pd.Timestamp("2024-05-01 08:00", tz="UTC")
    >>> resumed_note(t, t + pd.Timedelta("9D"))
    'no readings from 2024-05-01 08:00 UTC to 2024-05-10 08:00 UTC'
    """
    return f"no readings from {utc_minute(since)} to {utc_minute(back)}"
