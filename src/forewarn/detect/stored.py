"""Scoring assets already in the store: ``forewarn detect --store DB`` (:func:`detect_store`), with ``--only-new``
each asset from its mark's context on (:mod:`forewarn.detect.since`); the scoring itself is
:func:`forewarn.detect.scoring.detect_frame`'s."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from forewarn.decide.alarms import fitted_rule
from forewarn.detect.merged import merge_passes
from forewarn.detect.scoring import DetectResult, detect_frame
from forewarn.detect.since import (
    CHANGED,
    Mark,
    carried_in,
    changed_since,
    check_rule,
    check_stored,
    history_prints,
    rewrites_after,
    rewrites_seen,
    sealed,
)
from forewarn.exceptions import DataNotFoundError

log = logging.getLogger(__name__)


def detect_store(
    store: Any,
    *,
    sites: Sequence[str] = (),
    lines: Sequence[str] = (),
    classes: Sequence[str] = (),
    assets: Sequence[str] = (),
    interval: str | None = None,
    **options: Any,
) -> DetectResult:
    """Score the selected assets already in ``store`` (a path or an open :class:`~forewarn.store.Store`).

    The selection is ``forewarn train``'s (:func:`forewarn.train.dataset.select_assets`); each asset's
    readings are read wide (``interval``: averaged at that spacing, e.g. ``"10min"``; default: as stored) and
    scored as its own series, pooled per asset class where it has too few rows (:func:`detect_frame`). With
    ``since`` (``--only-new``), marks taken under another alarm rule than ``rule`` are refused before anything is
    read (:func:`~forewarn.detect.since.check_rule`).
    """
    from forewarn.train.dataset import opened, select_assets
    from forewarn.train.spec import TrainSpec

    spec = TrainSpec(sites=tuple(sites), lines=tuple(lines), classes=tuple(classes), assets=tuple(assets))
    since: dict[str, Mark] | None = options.pop("since", None)
    kept = options.get("kept")
    marked = {} if since is None or kept is None else {a: m for a, m in since.items() if kept.fit_number(a) is not None}
    with opened(store) as db:
        chosen = select_assets(db, spec)
        order = chosen["asset_id"].astype(str).tolist()
        check_rule(marked, order, options.get("rule") or fitted_rule())  # before reading: refused in one line
        parts, read = _read_store(db, order, marked, set(), interval, since is not None)
    result = _detect_read(store, parts, chosen, since, marked, options)
    short = {a for a, how in result.scored_how.items() if how == "short"}
    _say_uncarried(kept, marked, short)
    if short:  # a second pass reads whole, and scores again, only the assets whose context read fell short
        with opened(store) as db:
            parts, again = _read_store(db, [a for a in order if a in short], marked, short, interval, True)
        result = merge_passes(result, _detect_read(store, parts, chosen, since, marked, options), short, order)
        read.update(again)
    if result.marks is not None:  # what the next run checks and carries, from the readings as stored
        result.previous = dict(since or {})
        result.marks = {a: sealed(m, *read[a]) if a in read else m for a, m in result.marks.items()}
    return result


def _say_uncarried(kept: Any, marked: dict[str, Mark], short: set[str]) -> None:
    """One line naming the assets read whole because their marks were taken before the ``recurrence`` cap's state
    was kept in them (:attr:`~forewarn.detect.since.Mark.recurrence`): their fits cap, so only the whole history
    gives the scores of one run."""
    fit_for = getattr(kept, "fit_for", None)
    if not callable(fit_for):
        return
    names = []
    for asset in sorted(short):
        mark, fit = marked.get(asset), fit_for(asset)
        capping = fit is not None and getattr(fit.model, "recurrence", None) is not None
        if mark is not None and mark.digest != CHANGED and mark.recurrence is None and capping:
            names.append(asset)
    if names:
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        log.warning(
            "%d asset(s) (%s%s) read whole: their marks were taken before the recurrence cap's state was kept, "
            "which counts recurring excursions from the first row",
            len(names),
            ", ".join(names[:5]),
            more,
        )


def _read_store(
    db: Any,
    chosen: list[str],
    marked: dict[str, Mark],
    whole_read: set[str],
    interval: str | None,
    fingerprint: bool,
) -> tuple[list[pd.DataFrame], dict[str, tuple[pd.DataFrame, dict[str, float], str | None, int | None]]]:
    """Each chosen asset's readings, wide: an asset with a mark (``marked``, not in ``whole_read``) from its
    context on, a channel missing on that first row at its carried reading; the others all of them. A mark whose
    rows changed in the store (a rewrite recorded since, :func:`~forewarn.detect.since.changed_since`; in a store
    without that record, a fingerprint of its readings that differs) is set to
    :data:`~forewarn.detect.since.CHANGED` in ``marked`` (and the asset read whole). Returns the parts to score and,
    per asset, the readings as stored, the carry before them, the fingerprint of all its stored readings (a store
    without the record only) and the store's last rewrite number before reading
    (:func:`~forewarn.detect.since.sealed` reads them; taken only with ``fingerprint``, a run that keeps marks)."""
    parts, read = [], {}
    seq = rewrites_seen(db) if fingerprint else None  # before reading: a later write has a larger number
    numbers = [m.rewrites for m in marked.values() if m.rewrites is not None]
    changes = rewrites_after(db, min(numbers)) if seq is not None and numbers else {}
    for asset_id in chosen:
        mark = marked.get(asset_id) if interval is None and asset_id not in whole_read else None
        since_ts = None if mark is None else pd.Timestamp(mark.from_ns, tz="UTC")
        part = db.readings(asset_id, since_ts, resample=interval, wide=True)
        upto, whole, old = None, None, marked.get(asset_id)
        if fingerprint and (seq is None or (old is not None and old.rewrites is None and old.history is not None)):
            upto, whole = history_prints(db, asset_id, None if old is None else old.last_ns)  # no record to read
        moved = mark is not None and (
            changed_since(mark, seq, changes.get(asset_id, []))
            if seq is not None
            else mark.rewrites is not None and mark.history is None  # a store that lost its record: cannot tell
        )
        if mark is not None and (moved or not check_stored(part, mark, upto)):  # rows up to the mark changed
            part = db.readings(asset_id, wide=True)
            marked[asset_id] = replace(mark, digest=CHANGED)
            mark = None
        if len(part):
            read[asset_id] = (part, {} if mark is None else mark.carry, None if seq is not None else whole, seq)
            parts.append(part if mark is None else carried_in(part, mark.carry))
    return parts, read


def _detect_read(
    store: Any,
    parts: list[pd.DataFrame],
    chosen: pd.DataFrame,
    since: dict[str, Mark] | None,
    marked: dict[str, Mark],
    options: dict[str, Any],
) -> DetectResult:
    """:func:`detect_frame` on the readings :func:`_read_store` read (``detect_store``'s scoring)."""
    from forewarn.store.pg_sql import redact

    if not parts:
        raise DataNotFoundError(f"no readings for the {len(chosen)} selected asset(s)")
    frame = pd.concat(parts, ignore_index=True)
    frame["asset_id"] = frame["asset_id"].astype(str)
    frame["ts"] = pd.DatetimeIndex(pd.to_datetime(frame["ts"], utc=True)).strftime("%Y-%m-%dT%H:%M:%S.%f%z")
    classes_of = dict(zip(chosen["asset_id"].astype(str), chosen["asset_class"].astype(str), strict=True))
    return detect_frame(
        frame,
        timestamp_column="ts",
        asset_column="asset_id",
        asset_classes=classes_of,
        source=redact(str(store)) if not hasattr(store, "sql") else "store",
        since=None if since is None else {**since, **marked},
        **options,
    )
