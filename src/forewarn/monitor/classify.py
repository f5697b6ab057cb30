"""What a drift is: a changed plant (raise a drift alert) or a machine wearing out (the model's own job).

:func:`episodes` reads one asset's day table (:func:`forewarn.monitor.drift.day_drift`) and its events, and
names each *onset*: a judged day with a step in some channel after a day without one. Causes, in order:

* ``equipment replaced``: a maintenance event with a ``replace`` action within a day of the onset (the new part
  behaves differently: a plant change);
* ``maintenance``: another maintenance action within a day (an oil change, a cleaning: expected, no alert);
* ``failure``: a failure within a day (the model's business, no alert);
* ``excursion``: a stepping channel's within-day residual spread is above :data:`SPREAD_MAX` times the
  reference's: a few hours far off (an operating point the reference never saw, a transient), not a shifted
  level. No drift alert (the data-quality and health views see it);
* ``degradation``: every stepping channel was already drifting before the onset (its residual outside the
  reference threshold over the baseline days, or rising over them by at least half the step): wear grows, a
  plant change jumps from a still baseline. No drift alert: the model should flag it;
* ``sensor change``: one sensor's offset explains the day's jumps of every channel (at least
  :data:`SINGLE_SENSOR_SHARE` of them, :func:`forewarn.monitor.drift.single_sensor`), or the one-sensor offset
  test finds the day's jumps to be one stepping channel's offset plus noise
  (:func:`forewarn.monitor.drift.offset_test`): a recalibration, a replaced transmitter (``channels`` names it,
  or the coupled sensors that explain the jumps as well);
* ``unfamiliar operating point``: what would be a ``machine changed`` onset on a day when at least
  :data:`NOVEL_CHANNELS` of the channels that set the operating point (:data:`OPERATING_CHANNELS`: load and
  ambient; a setting, :func:`operating_channels`), or one of them among the stepping channels, have day means
  outside the range of the reference days' means: the machine ran where the reference never did (a heavy-load spell, a hot week), the residual model
  extrapolates there, and its residuals move without the machine having changed. No drift alert (a sensor
  offset that the offset test names is a ``sensor change`` before this rule is asked; condition channels, which
  wear moves, do not count);
* ``machine changed``: several channels stepped together from a still baseline: their relations moved.

:func:`site_wide` then renames onsets shared, on the same day, by at least half of a site's assets (three or
more) as ``operating regime`` (a new ambient, a new product, a new shift pattern); before it,
:func:`add_site_onsets` adds the site-wide test's ``operating regime`` onsets (:mod:`forewarn.monitor.site`: a
site's shared ambient moved in a way the weather does not move it) to every asset of the site. Plant changes (``equipment
replaced``, ``sensor change``, ``machine changed``, ``operating regime``) are drift alerts.

>>> days = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=4, tz="UTC").repeat(2),
...     "channel": ["a", "b"] * 4, "shift_sd": [0, 0, 0, 0, 0, 0, 3.0, 0.2], "threshold_sd": 0.5,
...     "jump_sd": [0, 0, 0, 0, 0, 0, 3.0, 0.2], "jump_threshold_sd": 0.5, "rows": 24,
...     "explained_by": "a", "explained_share": [1, 1, 1, 1, 1, 1, 0.95, 0.95]})
>>> days["step"] = days["jump_sd"].abs() > days["jump_threshold_sd"]
>>> [(e["cause"], e["channels"]) for e in episodes(days, pd.DataFrame(columns=["ts", "kind", "action"]))]
[('sensor change', ['a'])]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from forewarn.exceptions import ConfigError

#: a day's jumps are one sensor's offset when that offset explains this share of them (squared cosine)
SINGLE_SENSOR_SHARE = 0.9
#: a day whose stepping channel's within-day residual spread exceeds this many times the reference's is a burst
#: of odd hours (an excursion of the operating point, a transient fault), not a lasting change of the plant
SPREAD_MAX = 3.0
#: the channels that set a machine's operating point (its load and its surroundings), not its condition: the
#: twin's names, the default of ``forewarn monitor --operating-channels`` (a plant names its own there, or in
#: the ``FOREWARN_OPERATING_CHANNELS`` environment variable: :func:`operating_channels`)
OPERATING_CHANNELS = ("speed", "power", "current", "flow", "ambient_temp")
OPERATING_ENV = "FOREWARN_OPERATING_CHANNELS"
#: an onset that no single sensor explains, on a day with at least this many operating channels outside the
#: reference's range of day means, is an unfamiliar operating point rather than a changed machine
NOVEL_CHANNELS = 2
PLANT_CHANGES = ("equipment replaced", "sensor change", "machine changed", "operating regime")


def _judged(days: pd.DataFrame, min_rows: float) -> pd.DataFrame:
    return days[days["rows"] >= min_rows]


def operating_channels(
    names: str | Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
    *,
    where: str = "operating channels",
    recorded: Sequence[str] = (),
) -> tuple[str, ...]:
    """The channels that set the operating point: ``names`` (a comma-separated string or a sequence), else the
    ``FOREWARN_OPERATING_CHANNELS`` environment variable, else ``recorded`` (the model card's, from ``forewarn
    train --operating-channels``), else :data:`OPERATING_CHANNELS` (the twin's names). Names given by the user
    (argument, variable or card) must be among the model's ``channels`` when those are known; the default is kept
    to the ones the model reads.

    >>> operating_channels("rpm, kw", ["rpm", "kw", "oil_temp"])
    ('rpm', 'kw')
    >>> operating_channels(None, ["speed", "bearing_temp"])
    ('speed',)
    >>> operating_channels(None, ["rpm", "oil_temp"], recorded=["rpm"])  # the card's record, no variable set
    ('rpm',)
    >>> operating_channels("rpm", ["speed"])
    Traceback (most recent call last):
    ...
    forewarn.exceptions.ConfigError: operating channels: 'rpm' is not a channel of the model; its channels are speed
    """
    source = names if names is not None else os.environ.get(OPERATING_ENV) or (list(recorded) or None)
    if source is None:
        return tuple(c for c in OPERATING_CHANNELS if channels is None or c in channels)
    given = [n.strip() for n in source.split(",")] if isinstance(source, str) else [str(n).strip() for n in source]
    given = [n for n in given if n]
    if not given:
        raise ConfigError(f"{where}: no channel named; give comma-separated channel names such as speed,power")
    if channels is not None:
        unknown = [n for n in given if n not in channels]
        if unknown:
            raise ConfigError(
                f"{where}: {', '.join(map(repr, unknown))} "
                f"{'is' if len(unknown) == 1 else 'are'} not a channel of the model; its channels are "
                + ", ".join(channels)
            )
    return tuple(dict.fromkeys(given))


def episodes(
    days: pd.DataFrame,
    events: pd.DataFrame,
    *,
    min_rows: float = 4,
    baseline_days: int = 14,
    operating: Sequence[str] = OPERATING_CHANNELS,
) -> list[dict[str, Any]]:
    """The drift onsets of one asset with their cause (see the module docstring). ``days`` holds the columns of
    :data:`~forewarn.monitor.drift.DAY_COLUMNS`; ``events`` the asset's events (``ts, kind, action``);
    ``operating`` the channels that set the operating point (:func:`operating_channels`)."""
    judged = _judged(days, min_rows)
    if judged.empty:
        return []
    wide_jump = judged.pivot(index="day", columns="channel", values="jump_sd")
    wide_shift = judged.pivot(index="day", columns="channel", values="shift_sd")
    steps = judged.pivot(index="day", columns="channel", values="step").fillna(False).astype(bool)
    if {"offset_z", "offset_z_threshold", "offset_fit"} <= set(judged) and len(events):
        steps = steps | _replaced_offsets(judged, events, steps)
    thresholds = judged.groupby("channel")["threshold_sd"].first()
    any_step = steps.any(axis=1).to_numpy()
    explained = judged.groupby("day")["explained_share"].first().reindex(steps.index)
    sensor = judged.groupby("day")["explained_by"].first().reindex(steps.index)
    burst: pd.DataFrame | None = None
    best: pd.Series | None = None
    fits: pd.Series | None = None
    novel = pd.Series(0, index=steps.index)
    outside: pd.DataFrame | None = None
    if "outside_range" in judged:
        setting = judged[judged["channel"].isin(tuple(operating))]
        novel = setting.groupby("day")["outside_range"].sum().reindex(steps.index).fillna(0)
        outside = setting.pivot(index="day", columns="channel", values="outside_range").reindex(steps.index)
    if "spread_ratio" in judged:
        burst = judged.pivot(index="day", columns="channel", values="spread_ratio").reindex(steps.index)
    if "offset_z" in judged and "offset_fit" in judged:
        strongest = judged.assign(abs_z=judged["offset_z"].abs()).sort_values("abs_z").groupby("day").last()
        best = strongest["channel"].reindex(steps.index)
        fits = strongest["offset_fit"].reindex(steps.index).fillna(False)
    out: list[dict[str, Any]] = []
    event_ts = pd.to_datetime(events["ts"], utc=True) if len(events) else pd.Series([], dtype="datetime64[ns, UTC]")
    for i in (int(k) for k in np.flatnonzero(any_step & ~np.r_[False, any_step[:-1]])):
        day = steps.index[i]
        channels = [c for c in steps.columns if steps.iloc[i][c]]
        jump = wide_jump.iloc[i][channels].abs().sort_values(ascending=False)
        near = events[((event_ts >= day - pd.Timedelta(days=1)) & (event_ts < day + pd.Timedelta(days=1))).to_numpy()]
        actions = [str(a) for a in near.get("action", pd.Series(dtype=object)).dropna()]
        prior = wide_shift.iloc[max(0, i - baseline_days) : i]
        if any("replace" in a for a in actions):
            cause = "equipment replaced"
        elif (near.get("kind", pd.Series(dtype=object)) == "failure").any():
            cause = "failure"
        elif actions:
            cause = "maintenance"
        elif burst is not None and (burst.iloc[i][channels] > SPREAD_MAX).any():
            cause = "excursion"
        elif all(_gradual(prior[c].dropna().to_numpy(), float(jump[c]), float(thresholds[c])) for c in channels):
            cause = "degradation"
        elif explained.iloc[i] >= SINGLE_SENSOR_SHARE:
            cause = "sensor change"
            channels = str(sensor.iloc[i]).split(",")
        elif best is not None and fits is not None and bool(fits.iloc[i]) and str(best.iloc[i]) in channels:
            cause = "sensor change"
            channels = [str(best.iloc[i])]
        elif novel.iloc[i] >= NOVEL_CHANNELS or (
            outside is not None and bool(outside.iloc[i].reindex(channels).eq(True).any())
        ):
            cause = "unfamiliar operating point"
        else:
            cause = "machine changed"
        out.append(
            {
                "day": day,
                "cause": cause,
                "plant_change": cause in PLANT_CHANGES,
                "channels": channels if cause == "sensor change" else list(jump.index),
                "jump_sd": {c: round(float(wide_jump.iloc[i][c]), 3) for c in jump.index},
                "single_sensor_share": round(float(explained.iloc[i]), 3),
                "actions": actions,
            }
        )
    return out


def _replaced_offsets(judged: pd.DataFrame, events: pd.DataFrame, steps: pd.DataFrame) -> pd.DataFrame:
    """On days within a day of a ``replace`` action, the offset test's verdict without the effect floor
    (:data:`~forewarn.monitor.drift.MIN_OFFSET_SD`): the floor keeps a quiet plant's small wanderings from being
    taken for changes, but beside a replaced part a significant one-channel change is that part behaving
    differently (a new motor's lower losses move its current by well under half an SD)."""
    replaced = events[
        events.get("action", pd.Series(index=events.index, dtype=object)).astype(str).str.contains("replace")
    ]
    if replaced.empty:
        return steps & False
    when = np.sort(pd.to_datetime(replaced["ts"], utc=True).to_numpy(dtype="datetime64[ns]"))
    days = pd.DatetimeIndex(steps.index)
    days = (days.tz_convert("UTC") if days.tz is not None else days).tz_localize(None).to_numpy(dtype="datetime64[ns]")
    one = np.timedelta64(1, "D")
    near = np.searchsorted(when, days + one, side="left") > np.searchsorted(when, days - one, side="left")
    if not near.any():  # no replacement within a day of a judged day: nothing to add (the usual case)
        return steps & False
    z = judged.pivot(index="day", columns="channel", values="offset_z").reindex_like(steps).abs()
    limit = judged.pivot(index="day", columns="channel", values="offset_z_threshold").reindex_like(steps)
    fit = judged.groupby("day")["offset_fit"].first().reindex(steps.index).fillna(False).astype(bool)
    jump = judged.pivot(index="day", columns="channel", values="jump_sd").reindex_like(steps)
    best = z.eq(z.max(axis=1), axis=0)
    significant = (z > limit) & best & jump.notna()
    return significant & (fit & pd.Series(near, index=steps.index)).to_numpy()[:, None]


def _gradual(prior: np.ndarray, jump: float, threshold: float) -> bool:
    """Whether a channel was drifting before its step: outside the threshold, or rising by half the step."""
    if len(prior) < 3:
        return False
    if np.median(np.abs(prior)) > threshold:
        return True
    slope = np.polyfit(np.arange(len(prior)), prior, 1)[0]
    return bool(abs(slope) * len(prior) >= 0.5 * abs(jump))


def add_site_onsets(found: dict[str, list[dict[str, Any]]], extra: dict[str, list[dict[str, Any]]]) -> None:
    """Merge, in place, the site-wide onsets of :func:`forewarn.monitor.site.site_onsets` into ``found``: an asset's
    own onset on the same day is replaced by the site's (its steps are the site's shift seen from one machine).

    >>> day = pd.Timestamp("2024-03-01", tz="UTC")
    >>> found = {"p1": [{"day": day, "cause": "sensor change", "channels": ["bearing_temp"]}]}
    >>> add_site_onsets(found, {"p1": [{"day": day, "cause": "operating regime", "channels": ["ambient_temp"]}]})
    >>> [(e["cause"], e["channels"]) for e in found["p1"]]
    [('operating regime', ['ambient_temp'])]
    """
    for asset, items in extra.items():
        mine = found.setdefault(asset, [])
        for item in items:
            mine[:] = [e for e in mine if e["day"] != item["day"]]
            mine.append(item)
        mine.sort(key=lambda e: e["day"])


def site_wide(found: dict[str, list[dict[str, Any]]], sites: dict[str, str]) -> None:
    """Rename, in place, plant-change onsets shared on one day by half or more of a site's assets (at least three)
    as ``operating regime``."""
    per_site: dict[str, int] = {}
    for asset in found:
        per_site[sites.get(asset, "")] = per_site.get(sites.get(asset, ""), 0) + 1
    shared: dict[tuple[str, Any], int] = {}
    for asset, items in found.items():
        for item in items:
            if item["cause"] in PLANT_CHANGES:
                key = (sites.get(asset, ""), item["day"])
                shared[key] = shared.get(key, 0) + 1
    for asset, items in found.items():
        site = sites.get(asset, "")
        for item in items:
            count = shared.get((site, item["day"]), 0)
            if item["cause"] in PLANT_CHANGES and count >= 3 and count >= 0.5 * per_site[site]:
                item["cause"] = "operating regime"
