"""Variants of the default ensemble tried for issue 14 (third session), as ``benchmarks/detect.py`` detectors.

Each is a ``(frame, n_train) -> anomaly_score`` function (``--detector detect_variants:NAME`` with
``PYTHONPATH=benchmarks``); none is the default, each was measured and not adopted (BENCHMARKS.md, issue 14,
2026-12-04 night). Settings come from the environment so one function covers a sweep:

The first three fit and score without the rows' times (so nothing settles: they were measured against the
default of before ``settle_hours``); ``with_params`` and ``settled`` pass them.

* ``min_adapted``: the smaller of two ensembles' scores, one fitted as usual, one with ``adaptation`` =
  ``D14_ADAPTATION`` (default 0.002 per row): a row alarms only when it is new against the training rows *and*
  against the recent past, so a lasting changed state stops alarming while a return to normal raises nothing.
* ``adapted``: the ensemble with ``adaptation`` = ``D14_ADAPTATION`` alone.
* ``debiased``: the forecast member's errors minus their own exponentially weighted mean of the rows before
  (``D14_DEBIAS_ROWS`` rows, default 128), so a channel that drifts slowly out of its training range stops
  feeding the per-row member (the embedding member still sees the level). With ``D14_DEBIAS_MODE=min`` each
  channel's error is the smaller (in size) of the raw and the debiased one, so a return to normal after a long
  change does not look like a new change.
* ``with_params``: the ensemble with the keyword parameters in ``D14_PARAMS`` (JSON, lists become tuples), e.g.
  ``D14_PARAMS='{"windows": [8, 32]}'``.

Tried in the fifth session (BENCHMARKS.md, issue 14, 2026-12-05 06:00), none adopted; each goes through
``member_scores`` of the default fit (the rows' times passed, so the scores match ``with_params`` without
parameters), then ``settle`` and ``recover`` as the default does, then its own step:

* ``persistent``: an alarm needs persistence: each row's surprise becomes the ``k``-th largest of its own and
  the ``n - 1`` before it (``D14_KN="k,n"``, default ``3,3``); with ``D14_BIG=B`` a row at or above ``B`` times
  the level keeps its own surprise (a large spike still alarms at once).
* ``trend``: a fifth, slow member: per channel the trailing mean of the regime-standardised values over
  ``D14_TREND_ROWS`` rows (default 72), against the training rows' median and MAD of that mean; the largest
  deviation over channels (``D14_TREND_HOW=max``) or their root mean square (``rms``), tail-normalised against
  its own training rows as the other members are.
* ``lagged_settle``: settling against the median surprise of ``D14_SETTLE_ROWS`` rows (default 48) that ended
  ``D14_SETTLE_LAG`` rows ago (default 96; the smaller of that and the last 48 rows' median), divided as
  ``settle`` does with ``D14_FACTOR`` (default 8): a deviation must have grown against days ago, not hours.
* ``relaxed_regimes``: regimes accepted with ``regimes.MIN_SHARE`` and ``regimes.MIN_VISITS`` from
  ``D14_REGIMES`` (JSON, default ``{"MIN_SHARE": 0.005, "MIN_VISITS": 2}``), so a machine that stopped only once
  or twice in its training rows gets a stopped regime.

Sixth session (BENCHMARKS.md, issue 14, 2026-12-05 11:05):

* ``reference_rows``: ``detect_frame``'s default with the small-sample corrections on (``small_sample``, off by
  default), relative to ``D14_REFERENCE_ROWS`` training rows (default 600, the option as it is; 10**9: absolute).

Seventh session (BENCHMARKS.md, issue 14, 2026-12-05 12:18: why the corpus score falls on short series), none
adopted:

* ``window_share``: windows and discord subsequences at most ``1 / D14_WINDOW_SHARE`` of the training rows.
* ``train_rows``: the default fitted on the first ``D14_TRAIN_ROWS`` rows whatever the series' length (separates
  a short fit from a short series).
* ``honest_forecast``: ``small_sample``'s honest forecast errors without its tail widening.
* ``tail_exceedances``: tail fits on at least ``D14_EXCEEDANCES`` training scores (the tail share raised for
  short fits, capped at ``D14_TAIL_CAP``).

Eighth session (BENCHMARKS.md, issue 14, 2026-12-05 18:32: a default that holds at every series length), none
adopted as the default:

* ``expanding``: the embedding member's references redrawn at doublings of the rows seen (``D14_EXPAND_FIRST``,
  ``D14_EXPAND_EXCL``, ``D14_EXPAND_REFS``, ``D14_EXPAND_TAIL``); with ``D14_EXPAND_REFS=grow`` and
  ``D14_EXPAND_TAIL=keep`` it scores as the product's option ``expand_references`` (checked on two seeds); with
  ``D14_EXPAND_GATE=regimes`` only where the fit found one operating regime.
* ``rebased_embedding``: ``rebase`` on the embedding member alone, over ``D14_REBASE_ROWS`` rows.
* ``gated_rebase``: ``rebase`` of every member, read from ``D14_REBASE_MIN`` rows, left off where the fit found
  more than one operating regime (``D14_REBASE_GATE=regimes``).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pandas as pd

from forewarn.models.anomaly import residual
from forewarn.models.anomaly.ensemble import TRAIN_FRACTION, EnsembleDetector, _numeric, score_frame


def _fit_score(frame: pd.DataFrame, n_train: int | None, **params: Any) -> np.ndarray:
    values = _numeric(frame)
    if n_train is None:
        n_train = max(10, int(TRAIN_FRACTION * len(values)))
    return EnsembleDetector(**params).fit(values.iloc[:n_train]).score(values)


def _adaptation() -> float:
    return float(os.environ.get("D14_ADAPTATION", "0.002"))


def _params() -> dict[str, Any]:
    params = json.loads(os.environ.get("D14_PARAMS", "{}"))
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def min_adapted(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """min(plain ensemble, ensemble with adaptation) per row (module text)."""
    return np.minimum(_fit_score(frame, n_train), _fit_score(frame, n_train, adaptation=_adaptation()))


def adapted(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The ensemble with ``adaptation`` (module text)."""
    return _fit_score(frame, n_train, adaptation=_adaptation())


def with_params(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The ensemble with ``D14_PARAMS`` (module text), through :func:`~forewarn.models.anomaly.ensemble.score_frame`
    (the rows' times passed, so lasting deviations settle as in ``forewarn detect``)."""
    return score_frame(frame, n_train, **_params())


_innovations = residual.innovations


def _debiased_innovations(state: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    errors = _innovations(state, z)
    rows = float(os.environ.get("D14_DEBIAS_ROWS", "128"))
    level = pd.DataFrame(errors).ewm(alpha=1.0 / rows, adjust=False, ignore_na=True).mean().to_numpy()
    before = np.vstack([np.full((1, errors.shape[1]), np.nan), level[:-1]])
    out: np.ndarray = errors - np.nan_to_num(before)
    if os.environ.get("D14_DEBIAS_MODE") == "min":  # per channel, the smaller of the raw and the debiased error
        out = np.where(np.abs(errors) <= np.abs(out), errors, out)
    return out


def debiased(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The ensemble whose forecast member reads debiased errors (module text); patched for this call only."""
    residual.innovations = _debiased_innovations
    try:
        return _fit_score(frame, n_train, **_params())
    finally:
        residual.innovations = _innovations


def settled(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """A lasting deviation stops alarming: each row's combined surprise ``e`` is divided by how far above the alarm
    level the surprises of the rows in the ``D14_SETTLE`` before it (a duration, default ``2D``) already were
    (``D14_FACTOR`` times their median, default 2), so after days at one deviation a new alarm needs the
    deviation to grow by that factor; rows whose recent past was normal keep their score."""
    from forewarn.models.anomaly.ensemble import combine, to_unit

    values = _numeric(frame)
    if n_train is None:
        n_train = max(10, int(TRAIN_FRACTION * len(values)))
    detector = EnsembleDetector(**_params()).fit(values.iloc[:n_train])
    e = combine(detector.member_scores(values).to_numpy())
    times = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True))
    recent = (
        pd.Series(e, index=times)
        .rolling(os.environ.get("D14_SETTLE", "2D"), closed="left", min_periods=1)
        .median()
        .to_numpy()
    )
    factor = float(os.environ.get("D14_FACTOR", "2"))
    level = float(detector.level)
    damp = np.maximum(level, factor * np.nan_to_num(recent, nan=0.0)) / level
    return to_unit(e / damp, level)


def _default_fit(frame: pd.DataFrame, n_train: int | None) -> tuple[EnsembleDetector, pd.DataFrame, pd.DataFrame]:
    values = _numeric(frame)
    if n_train is None:
        n_train = max(10, int(TRAIN_FRACTION * len(values)))
    detector = EnsembleDetector()
    detector.fit(values.iloc[:n_train])
    return detector, values, detector.member_scores(values)


def _settled(detector: EnsembleDetector, frame: pd.DataFrame, combined: np.ndarray) -> np.ndarray:
    from forewarn.models.anomaly.ensemble import recover, settle

    level = float(detector.level)
    if "timestamp" in frame.columns:
        times = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True))
        combined = settle(combined, times, float(detector.settle_hours or 48.0), detector.settle_factor, level)
    out: np.ndarray = recover(combined, float(detector.recover or 20.0), level)
    return out


def persistent(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The default's surprise, then the ``k``-th largest of the last ``n`` rows (module text)."""
    from forewarn.models.anomaly.ensemble import combine, to_unit

    k, n = (int(v) for v in os.environ.get("D14_KN", "3,3").split(","))
    big = float(os.environ.get("D14_BIG", "0"))
    detector, _, members = _default_fit(frame, n_train)
    surprise = _settled(detector, frame, combine(members.to_numpy()))
    padded = np.r_[np.zeros(n - 1), surprise]
    held = np.sort(np.lib.stride_tricks.sliding_window_view(padded, n), axis=1)[:, n - k]
    if big:
        held = np.where(surprise >= big * detector.level, surprise, held)
    return to_unit(held, float(detector.level))


def trend(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The default with a slow trend member beside the four (module text)."""
    from forewarn.models.anomaly.ensemble import combine, to_unit
    from forewarn.models.anomaly.robust import robust_location_scale, tail_fit, tail_normalise

    rows = int(os.environ.get("D14_TREND_ROWS", "72"))
    detector, values, members = _default_fit(frame, n_train)
    n = max(10, int(TRAIN_FRACTION * len(values))) if n_train is None else n_train
    z = detector._prepare(values.to_numpy(dtype="float64", na_value=np.nan))
    mean = pd.DataFrame(np.where(np.isfinite(z), z, 0.0)).rolling(rows, min_periods=max(2, rows // 2)).mean()
    m = mean.to_numpy()
    seen = m[:n][np.isfinite(m[:n]).all(axis=1)]
    center, spread = robust_location_scale(seen) if len(seen) else (np.zeros(m.shape[1]), np.ones(m.shape[1]))
    d = np.abs((m - center) / spread)
    with np.errstate(invalid="ignore"):
        if os.environ.get("D14_TREND_HOW", "max") == "rms":
            seen_d = np.isfinite(d)
            raw = np.sqrt(np.where(seen_d, d**2, 0.0).sum(axis=1) / seen_d.sum(axis=1))  # NaN where none is seen
        else:
            raw = np.max(np.where(np.isfinite(d), d, -np.inf), axis=1)
    raw = np.where(np.isfinite(raw), raw, np.nan)
    slow = tail_normalise(raw, tail_fit(raw[:n], 0.1))
    combined = combine(np.column_stack([members.to_numpy(), slow]))
    return to_unit(_settled(detector, frame, combined), float(detector.level))


def lagged_settle(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The default's members, settled against the median of rows that ended some days ago (module text)."""
    from forewarn.models.anomaly.ensemble import combine, recover, to_unit

    rows = int(os.environ.get("D14_SETTLE_ROWS", "48"))
    lag = int(os.environ.get("D14_SETTLE_LAG", "96"))
    factor = float(os.environ.get("D14_FACTOR", "8"))
    detector, _, members = _default_fit(frame, n_train)
    level = float(detector.level)
    e = combine(members.to_numpy())
    recent = pd.Series(e).rolling(rows, min_periods=1, closed="left").median()
    before = np.fmin(np.nan_to_num(recent.shift(lag).to_numpy(), nan=0.0), recent.to_numpy())
    damp = np.maximum(level, factor * np.nan_to_num(before, nan=0.0)) / level
    return to_unit(recover(e / damp, float(detector.recover or 20.0), level), level)


def relaxed_regimes(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The default with regimes accepted on fewer visits and a smaller share (module text); patched for this call."""
    from forewarn.models.anomaly import regimes

    saved = {"MIN_SHARE": regimes.MIN_SHARE, "MIN_VISITS": regimes.MIN_VISITS}
    for name, value in json.loads(os.environ.get("D14_REGIMES", '{"MIN_SHARE": 0.005, "MIN_VISITS": 2}')).items():
        setattr(regimes, name, value)
    try:
        return score_frame(frame, n_train)
    finally:
        for name, value in saved.items():
            setattr(regimes, name, value)


def reference_rows(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """``forewarn detect``'s default (``detect_frame``) with the small-sample corrections on (``small_sample``),
    relative to ``D14_REFERENCE_ROWS`` training rows (default: ``ensemble.REFERENCE_ROWS``, 600; 10**9 makes them
    absolute, so they also act, a little, on fits of 600 rows and more); patched for this call."""
    from forewarn.models.anomaly import ensemble

    saved = ensemble.REFERENCE_ROWS
    ensemble.REFERENCE_ROWS = int(os.environ.get("D14_REFERENCE_ROWS", str(saved)))
    try:
        from forewarn.detect import detect_frame

        options: dict[str, Any] = {"timestamp_column": "timestamp", "params": {"small_sample": True}}
        if n_train is not None:
            options["train_fraction"] = (n_train + 0.5) / len(frame)
        return detect_frame(frame, **options).scores["anomaly_score"].to_numpy(dtype="float64")
    finally:
        ensemble.REFERENCE_ROWS = saved


def window_share(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The default with windows and discord subsequences at most ``1 / D14_WINDOW_SHARE`` of the training rows
    (``ensemble.WINDOW_SHARE``, 4 in the default), with ``D14_PARAMS``; patched for this call."""
    from forewarn.models.anomaly import ensemble

    saved = ensemble.WINDOW_SHARE
    ensemble.WINDOW_SHARE = int(os.environ.get("D14_WINDOW_SHARE", str(saved)))
    try:
        return score_frame(frame, n_train, **_params())
    finally:
        ensemble.WINDOW_SHARE = saved


def train_rows(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The default (with ``D14_PARAMS``) fitted on the first ``D14_TRAIN_ROWS`` rows (default 150) whatever the
    series' length: on the standing 4,000-row corpus this separates the effect of a short fit from that of the
    shorter deviations a shorter series of the corpus holds (its deviations' lengths are shares of the series)."""
    return score_frame(frame, int(os.environ.get("D14_TRAIN_ROWS", "150")), **_params())


def honest_forecast(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """``small_sample``'s first correction alone: the forecast's training errors made honest for a short fit
    (``residual.fit_honest``), without widening the members' tail scales; with ``D14_PARAMS`` and
    ``D14_TRAIN_ROWS`` (as ``train_rows``, when set); patched for this call."""
    from forewarn.models.anomaly import ensemble

    saved = ensemble.tail_fit

    def no_widening(
        scores: np.ndarray, tail: float = 0.1, level: float | None = None, reference: int = 600
    ) -> np.ndarray:
        return saved(scores, tail)

    ensemble.tail_fit = no_widening
    try:
        rows = os.environ.get("D14_TRAIN_ROWS")
        return score_frame(frame, int(rows) if rows else n_train, small_sample=True, **_params())
    finally:
        ensemble.tail_fit = saved


def tail_exceedances(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The default whose tail fits rest on at least ``D14_EXCEEDANCES`` training scores (default 60): the tail
    share ``ensemble.TAIL`` (0.1) raised to ``D14_EXCEEDANCES / n_train`` for short fits, at most ``D14_TAIL_CAP``
    (default 0.3); with ``D14_PARAMS`` and ``D14_TRAIN_ROWS`` (when set); patched for this call."""
    from forewarn.models.anomaly import ensemble

    rows = os.environ.get("D14_TRAIN_ROWS")
    n = int(rows) if rows else n_train if n_train is not None else max(10, int(TRAIN_FRACTION * len(frame)))
    saved = ensemble.TAIL
    wanted = float(os.environ.get("D14_EXCEEDANCES", "60")) / n
    ensemble.TAIL = min(max(saved, wanted), float(os.environ.get("D14_TAIL_CAP", "0.3")))
    try:
        return score_frame(frame, n, **_params())
    finally:
        ensemble.TAIL = saved


def _expanded_embedding(detector: EnsembleDetector, values: np.ndarray, members: pd.DataFrame, n_train: int) -> None:
    """The embedding column of ``members`` rescored against references refitted at doublings of the rows seen
    (``expanding``, module text); in place."""
    from forewarn.models.anomaly import embedding
    from forewarn.models.anomaly.ensemble import EMBEDDING_STATE, MEMBERS, TAIL
    from forewarn.models.anomaly.robust import tail_fit, tail_normalise

    if "embedding" not in members.columns:
        return
    threshold = float(os.environ.get("D14_EXPAND_EXCL", str(detector.level)))
    grow = os.environ.get("D14_EXPAND_REFS", "fixed")
    first = float(os.environ.get("D14_EXPAND_FIRST", "2"))
    z = detector._prepare(values)
    windows = tuple(int(w) for w in detector.windows_)
    widest = max(windows)
    state = {k: getattr(detector, f"embedding_{k}_") for k in EMBEDDING_STATE}
    e = members["embedding"].to_numpy(dtype="float64").copy()
    others = members.drop(columns="embedding").to_numpy(dtype="float64")
    n = len(z)
    start = int(first * n_train)
    while start < n:
        end = min(2 * start, n)
        hot = (
            np.fmax(
                np.nanmax(np.c_[others[:start], np.full(start, -np.inf)], axis=1), np.nan_to_num(e[:start], nan=-np.inf)
            )
            >= threshold
        )
        near = pd.Series(hot).rolling(2 * widest + 1, center=True, min_periods=1).max().to_numpy() > 0
        keep = np.flatnonzero(~near)
        keep = keep[keep >= widest - 1]
        if len(keep) >= 2 * len(state["index"]) // 2 and len(keep) > 4 * widest:
            wanted = (
                int(detector.references)
                if grow == "fixed"
                else int(min(4 * detector.references, detector.references * start / n_train))
            )
            pick = keep[np.unique(np.linspace(0, len(keep) - 1, min(wanted, len(keep))).round().astype("int64"))]
            f = embedding.features(z[:start], windows, state["noise"])
            new = {**state, "reference": (f[pick] - state["center"]) / state["spread"], "index": pick}
            honest = embedding.train_scores(new, z[:start], windows)
            tail = tail_fit(honest[keep], TAIL + (detector.contamination or 0.0))
            if os.environ.get("D14_EXPAND_TAIL") == "keep":
                tail = detector.tails_[MEMBERS.index("embedding")]
            lo = max(0, start - widest)
            raw = embedding.score(new, z[lo:end], windows)[start - lo :]
            e[start:end] = tail_normalise(raw, tail)
        start = end
    members["embedding"] = e


def expanding(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The default whose embedding member is refitted at doublings of the rows seen (from ``D14_EXPAND_FIRST``
    times the training rows, default 2) on the rows seen so far, rows within the longest window of one where any
    member's surprise reached ``D14_EXPAND_EXCL`` (default the level) left out; a new tail fit on the kept rows'
    honest scores; ``D14_EXPAND_REFS`` ``fixed`` (the default's number of references) or ``grow``."""
    from forewarn.models.anomaly.ensemble import combine, to_unit

    detector, values, members = _default_fit(frame, n_train)
    n0 = max(10, int(TRAIN_FRACTION * len(values))) if n_train is None else n_train
    if os.environ.get("D14_EXPAND_GATE") == "regimes" and len(detector.regime_centroids_) > 1:
        return to_unit(_settled(detector, frame, combine(members.to_numpy())), float(detector.level))
    _expanded_embedding(detector, values.to_numpy(dtype="float64", na_value=np.nan), members, n0)
    combined = _settled(detector, frame, combine(members.to_numpy()))
    return to_unit(combined, float(detector.level))


def rebased_embedding(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The default with only the embedding member rebased on its own last ``D14_REBASE_ROWS`` rows (default 1000;
    :func:`~forewarn.models.anomaly.adjust.rebase` at ``D14_REBASE_QUANTILE``, default 0.95), the forecast, change
    point and discord members as they are."""
    from forewarn.models.anomaly.adjust import rebase
    from forewarn.models.anomaly.ensemble import combine, to_unit

    detector, _, members = _default_fit(frame, n_train)
    if "embedding" in members.columns:
        rows = int(os.environ.get("D14_REBASE_ROWS", "1000"))
        quantile = float(os.environ.get("D14_REBASE_QUANTILE", "0.95"))
        members["embedding"] = rebase(members[["embedding"]].to_numpy(), rows, quantile)[:, 0]
    combined = _settled(detector, frame, combine(members.to_numpy()))
    return to_unit(combined, float(detector.level))


def gated_rebase(frame: pd.DataFrame, n_train: int | None = None) -> np.ndarray:
    """The default with every member rebased on its own last ``D14_REBASE_ROWS`` rows (default 4000) as
    ``rebase_rows`` does, read once ``D14_REBASE_MIN`` rows are there (default all of them), at
    ``D14_REBASE_QUANTILE`` (default 0.95), and only where the fit found one operating regime (a series that
    neither starts nor stops nor moves between separate states) when ``D14_REBASE_GATE=regimes``."""
    from forewarn.models.anomaly.ensemble import combine, to_unit

    detector, _, members = _default_fit(frame, n_train)
    rows = int(os.environ.get("D14_REBASE_ROWS", "4000"))
    least = int(os.environ.get("D14_REBASE_MIN", str(rows)))
    quantile = float(os.environ.get("D14_REBASE_QUANTILE", "0.95"))
    gated = os.environ.get("D14_REBASE_GATE") == "regimes" and len(detector.regime_centroids_) > 1
    if not gated:
        m = members.to_numpy()
        base = -np.log10(1.0 - quantile)
        recent = pd.DataFrame(m).rolling(rows, min_periods=least).quantile(quantile).shift(1).to_numpy()
        members[:] = m - np.maximum(0.0, np.nan_to_num(recent, nan=base) - base)
    combined = _settled(detector, frame, combine(members.to_numpy()))
    return to_unit(combined, float(detector.level))
