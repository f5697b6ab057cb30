"""``forewarn detect``: "is anything odd here?" for a CSV export or the store, without labels.

What it does, in order:

1. Read the input. A CSV file: the separator (``,`` or ``;``) is taken from the header line; numbers written
   with a decimal comma in a ``;`` file are read as numbers. Three layouts:

   * *wide, one series*: a timestamp column (named ``timestamp``, ``datetime``, ``time`` or ``ts`` in any
     case, else the first column whose every value parses as a date-time) and numeric columns (the
     channels; ``exclude`` drops some, e.g. labels; text columns are ignored);
   * *wide with an asset column*: the same plus a column naming the asset of each row (``asset_column``,
     found automatically when a column is named ``asset_id`` or ``asset``); each asset is its own series;
   * *long*: ``asset_id, ts, channel, value`` (one reading per row, :func:`forewarn.schema.to_long_readings`);
     readings of one asset at one time become one row (duplicates averaged), so the output has one row per
     ``(asset_id, ts)``.

   Or the store (:func:`detect_store`): the selected assets' readings, one series per asset.
   Rows of different assets are never mixed in one series: each asset is put in time order (stable sort;
   the output keeps the input's row order) and scored on its own.
2. Fill gaps causally, per asset: a missing value repeats the asset's last earlier value; a missing value
   before the first one takes the training median. A column without any value in a model's training rows
   is dropped for that model (listed in :attr:`DetectResult.dropped`).
3. Fit the detector (default :data:`DEFAULT_DETECTOR`) on the first ``train_fraction`` (15 %) of each asset's
   rows, one model per asset. An asset with fewer than :data:`MIN_TRAIN_ROWS` training rows is *pooled*:
   one model per asset class (the ``asset_classes`` map, e.g. the store's classes; every such asset of an
   input without classes shares one pool) learns from the training rows of all its small assets; when the
   pool still has fewer than :data:`MIN_TRAIN_ROWS`, each of its assets lends more of its leading rows, up to
   half of them. Each pooled fit is reported as a one-line note (:attr:`DetectResult.notes`) and in
   :attr:`DetectResult.fits` (column ``model``: ``own`` or ``pooled: <class>``). So 10 rows per asset score,
   with a warning: so few rows cannot tell normal variation from an anomaly well. The default detector says what
   it cannot know below 100 training rows (a note), and widens its alarm levels for a short fit with
   ``params={"small_sample": True}`` (:mod:`forewarn.models.anomaly.ensemble`).
4. Score every row, smooth with a trailing mean of ``smooth`` rows (default: :data:`SMOOTH` for a detector
   with raw scores, none for one whose scores are already an ``anomaly_score``, tag ``unit`` =
   ``"probability-like"``, e.g. ``ensemble``). Nothing looks ahead: for an asset with its own model, a row's
   score after the training part depends only on that row and earlier ones. A detector's warnings while it
   learns (e.g. too few rows) become one-line notes (:attr:`DetectResult.notes`).
5. ``anomaly_score`` in [0, 1], continuous: a calibrated detector's score as is; else (:func:`anomaly_level`)
   learned from the training rows' scores
   (:class:`~forewarn.models.anomaly.series.ScoreCalibration`): up to the alarm level ``q99 * (q99 / q50)``
   it mixes the training scores' empirical CDF (90 %) with a linear ramp from the lowest training score
   (10 %), so it keeps rising between the highest training score and the level (no pile-up at 0.5); the
   level maps to 0.5; above it ``1 - 0.5 / (1 + (s - level) / w)`` with ``w = level - q50`` (0.75 one ``w``
   past the level) climbs towards 1 without reaching it, so a long fault still ranks its rows.
6. ``alarm``: 1 on the row where an anomaly episode starts, 0 elsewhere, from the one alarm rule
   (:mod:`forewarn.decide.alarms`, default :class:`~forewarn.decide.alarms.AlarmRule`: an episode opens on
   a row with ``anomaly_score >= 0.5``, it clears after 5 rows below 0.3, a refractory period and a longest
   episode are optional; ``episode_rows="auto"`` is resolved against each asset's fit's training rows),
   per asset in time order. :attr:`DetectResult.episodes` holds the episodes (``--events``: one line each);
   an episode's ``top_channels`` are the (up to) three channels whose standardised deviation is largest on
   its peak row: ``|value - training median| / training scale`` with the scale ``1.4826 * MAD`` of the
   model's training rows (their standard deviation where the MAD is 0; 1 where both are 0).
7. Write ``timestamp`` (the input's text; ISO 8601 for long input and the store), ``anomaly_score`` and
   ``alarm`` (after ``asset_id`` when there are assets), one row per input row, to a temporary file renamed
   into place, so a failed run never leaves half a file.

The code: :mod:`forewarn.detect.inputs` (step 1), :mod:`forewarn.detect.scoring` (steps 2-6, :func:`detect_frame`),
:mod:`forewarn.detect.stored` (the store, :func:`detect_store`) and :mod:`forewarn.detect.output` (step 7,
:func:`detect_file`); every name is imported here.
The fits kept for the stream (``forewarn detect --save-models DIR``, ``keep_models=True``): :mod:`forewarn.detect.saved`;
scoring with them again (``--models DIR``, ``kept=``), so a nightly rerun on a grown store leaves the earlier rows'
scores and episodes as they were: the same module. Each episode filed into the store's case book as the stream files
a detector's alarm (``forewarn detect --store DB --cases``, what ``forewarn serve --store DB`` lists):
:mod:`forewarn.detect.cases`. Scoring only the rows a nightly load added (``--only-new``, ``since=``), each asset after
the last row the previous run scored, with the stream's context rule and the alarm rule's state carried, so that the
nights add up to one run over the whole history: :mod:`forewarn.detect.since`.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=400, freq="min").astype(str),
...                       "temp": 50 + rng.normal(0, 1, 400), "flow": 10 + rng.normal(0, 0.2, 400)})
>>> frame.loc[300:, "temp"] += 8.0   # a fault starts at row 300
>>> result = detect_frame(frame, detector="var-residual", train_fraction=0.3)
>>> list(result.scores.columns), len(result.scores), result.timestamp_column, result.n_train
(['timestamp', 'anomaly_score', 'alarm'], 400, 'ts', 120)
>>> score = result.scores["anomaly_score"]
>>> bool(score[310:].mean() > 0.9 > 0.5 > score[:300].mean())
True
>>> [(e.start, e.end, e.top_channels[0]) for e in result.episodes], result.alarms   # 48 rows at most each
([(300, 347, 'temp'), (348, 395, 'temp'), (396, 399, 'temp')], 3)

The fault lasts 100 rows and is announced every 48: an episode lasts at most a quarter of the rows the fit learnt
from, 48 at the least (:mod:`forewarn.decide.alarms`, the cap tied to the fit); ``episode_rows=0`` in the rule
(``forewarn detect --episode-rows 0``) keeps one episode however long it lasts.
"""

from __future__ import annotations

from forewarn.detect.channels import TOP_CHANNELS
from forewarn.detect.inputs import (
    ASSET_NAMES,
    TIMESTAMP_NAMES,
    feature_frame,
    find_asset_column,
    find_timestamp_column,
    read_table,
)
from forewarn.detect.output import detect_file, events_frame, write_result
from forewarn.detect.scoring import (
    DEFAULT_DETECTOR,
    MIN_TRAIN_ROWS,
    SMOOTH,
    DetectResult,
    anomaly_level,
    detect_frame,
)
from forewarn.detect.stored import detect_store

__all__ = [
    "ASSET_NAMES",
    "DEFAULT_DETECTOR",
    "MIN_TRAIN_ROWS",
    "SMOOTH",
    "TIMESTAMP_NAMES",
    "TOP_CHANNELS",
    "DetectResult",
    "anomaly_level",
    "detect_file",
    "detect_frame",
    "detect_store",
    "events_frame",
    "feature_frame",
    "find_asset_column",
    "find_timestamp_column",
    "read_table",
    "write_result",
]
