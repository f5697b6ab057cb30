"""``forewarn detect --store DB --cases``: each alarm episode filed into the store's case book, as the stream files a
detector's alarm, so ``forewarn serve --store DB`` lists them (a plant without failure labels that exports CSVs in
batches: ``forewarn ingest`` each night, then ``forewarn detect --store --cases``).

What is filed, with the case book's own functions (:meth:`forewarn.decide.cases.CaseBook.file_alerts`, the plan of
:mod:`forewarn.decide.case_filing`, the case rule of :mod:`forewarn.decide.quiet`), as the stream files the alarms of
``forewarn detect --save-models`` fits (:mod:`forewarn.stream.scoring`):

* one alert per episode, on its alarm row (the episode's start): asset, time, model id (``detect``, the stream
  entry's), its ``anomaly_score``, risk level ``high``, source :data:`SOURCE`; its explanation is the episode's
  channels on that row, furthest from their training median first (:attr:`forewarn.detect.DetectResult.explanations`);
  the case's top sensors are those;
* the alarm state of each scored asset under the policy ``detect:<model id>`` (:func:`policy_name`; the layout of
  :meth:`forewarn.decide.alerts.AlertPolicy.get_state`, as the stream's ``stream:<model id>``): ``last_active_ns``
  the last alarming row of its latest episode, ``last_ns`` its last scored row. The case rule measures "quiet" from
  that row: a case closes once its asset has had no alarming row for the gap (7 d by default), at that row + the gap,
  and its next alarm opens a new case. So an episode longer than the gap keeps its case. The episodes of an asset are
  filed in order, each with the state its earlier ones left (:func:`file_cases`), as the stream files them batch by
  batch; then each asset's case is closed if it went quiet by its last scored row
  (:meth:`~forewarn.decide.cases.CaseBook.close_quiet`), and an asset whose readings stopped for longer than the
  gap while the others went on keeps its case open with a note saying so
  (:meth:`~forewarn.decide.cases.CaseBook.note_silent`).

Filing is idempotent: an alert already in the book (same source, model, asset and time) is not filed again, so a
rerun on the same readings files nothing, and a nightly rerun on a store that grew files only the new episodes;
an episode that was still open at the last run extends its case through the state. Scored with the same fits
(``--models DIR``), the earlier rows keep their scores and episodes, so the nightly runs file the cases one run
over the whole history files.

>>> import numpy as np, pandas as pd
>>> from forewarn.decide.cases import CaseBook
>>> from forewarn.detect import detect_frame
>>> rng = np.random.default_rng(0)
>>> ts = pd.date_range("2024-01-01", periods=400, freq="h").astype(str)
>>> frame = pd.DataFrame({"asset_id": "P-1", "ts": ts, "temp": 50 + rng.normal(0, 1, 400)})
>>> frame.loc[300:, "temp"] += 8.0   # a fault starts at row 300
>>> result = detect_frame(frame)
>>> book = CaseBook()
>>> first = file_cases(result, book)
>>> case = book.cases()[0]
>>> first.filed == result.alarms, case["asset_id"], case["top_sensors"], case["model_id"]
(True, 'P-1', ['temp'], 'detect')
>>> file_cases(result, book).filed   # the same episodes again: nothing new
0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forewarn.decide.alarms import Episode
from forewarn.decide.alerts import Alert
from forewarn.decide.cases import CaseBook
from forewarn.detect.scoring import DetectResult
from forewarn.exceptions import ConfigError

#: the ``source`` of the alerts ``forewarn detect --cases`` files (the dashboard's alerts table shows it)
SOURCE = "detect"
#: the model id of those alerts and cases: the one the stream gives ``forewarn detect``'s fits
MODEL_ID = "detect"
#: the risk level of an alarm's alert (the stream's for a detector's alarm)
RISK_LEVEL = "high"
_NEVER = int(np.iinfo("int64").min)


def policy_name(model_id: str = MODEL_ID) -> str:
    """The alert-policy name under which the book keeps each asset's alarm state (module text).

    >>> policy_name()
    'detect:detect'
    """
    return f"{SOURCE}:{model_id}"


@dataclass
class Filing:
    """What one filing did: the result's episodes, the alerts new in the book (the others were there), the cases it
    opened, the cases closed by the case rule (in the book, before or now), the scored assets' open cases after it."""

    episodes: int
    filed: int
    opened: int
    closed: int
    open_cases: int


def episode_alert(result: DetectResult, index: int, *, model_id: str = MODEL_ID) -> Alert:
    """The alert of episode ``index`` of ``result``: on its alarm row (module text)."""
    episode = result.episodes[index]
    if episode.asset_id is None or episode.start_ts is None:
        raise ConfigError("filing alarms into the case book needs assets and times: score the store (--store)")
    if index < len(result.alarm_scores):
        score = result.alarm_scores[index]
    else:
        score = float(result.scores["anomaly_score"].iloc[episode.start])
    return Alert(
        str(episode.asset_id),
        pd.Timestamp(episode.start_ts),
        model_id,
        float(score),
        RISK_LEVEL,
        dict(result.explanations[index]) if index < len(result.explanations) else {},
        source=SOURCE,
    )


def last_scored(result: DetectResult) -> dict[str, pd.Timestamp]:
    """Each asset's last scored row's time (only the new rows scored: an asset with none, its mark's)."""
    if result.asset_column is None:
        raise ConfigError("filing alarms into the case book needs assets: score the store (--store)")
    stamps = pd.DatetimeIndex(pd.to_datetime(result.scores["timestamp"], utc=True, format="ISO8601"))
    latest = pd.Series(stamps, index=result.scores["asset_id"].astype(str)).groupby(level=0).max()
    found = {str(a): pd.Timestamp(t) for a, t in latest.items()}
    for asset, mark in (result.marks or {}).items():
        found.setdefault(asset, pd.Timestamp(mark.last_ns, tz="UTC"))
    return found


def _state(assets: list[str], active: list[bool], ends: list[int], last: Mapping[str, pd.Timestamp]) -> dict:
    """The alarm state rows of ``assets`` in the layout of ``AlertPolicy.get_state``."""
    return {
        "asset_id": np.asarray(assets, dtype=str),
        "active": np.asarray(active, dtype=bool),
        "streak": np.zeros(len(assets), dtype="int64"),
        "last_active_ns": np.asarray(ends, dtype="int64"),
        "last_ns": np.asarray([pd.Timestamp(last[a]).value for a in assets], dtype="int64"),
    }


def _first_rounds(
    result: DetectResult, by_asset: Mapping[str, list[int]], book: CaseBook, model_id: str
) -> dict[str, int]:
    """Per asset, the first of its episodes that must be filed again: the one before its first episode not in the
    book (its end is the state the new one is filed with), or its last one when all are there (its end may have
    moved on: an episode still open at the last run). The earlier ones were filed, each with its state, and filing
    them again would change nothing, so a nightly rerun costs the new episodes, not the whole history."""
    filed = {
        (str(a["asset_id"]), pd.Timestamp(a["ts"]).value)
        for a in book.alerts(limit=np.iinfo("int32").max)
        if a.get("source") == SOURCE and a["model_id"] == model_id
    }
    first = {}
    for asset, found in by_asset.items():
        new = [k for k, i in enumerate(found) if (asset, pd.Timestamp(result.episodes[i].start_ts).value) not in filed]
        first[asset] = max((new[0] if new else len(found)) - 1, 0)
    return first


def file_cases(result: DetectResult, book: CaseBook, *, model_id: str = MODEL_ID) -> Filing:
    """File the episodes of ``result`` (scored per asset, with times: ``detect --store``) into ``book`` (module
    text): the ``k``-th episode of each asset in the ``k``-th transaction, told the state the ``k - 1`` before it
    left (from the one before the first new episode on, :func:`_first_rounds`); then the state of every scored
    asset, the case rule up to each asset's last scored row, and the note on an open case whose asset went
    silent."""
    last = last_scored(result)
    by_asset: dict[str, list[int]] = {}
    for index, episode in enumerate(result.episodes):
        by_asset.setdefault(str(episode.asset_id), []).append(index)
    before = book.counts()
    policy = policy_name(model_id)
    first = _first_rounds(result, by_asset, book, model_id)
    rounds = max((len(v) for v in by_asset.values()), default=0)
    for k in range(min(first.values(), default=0), rounds):
        chosen = [(a, found[k]) for a, found in sorted(by_asset.items()) if first[a] <= k < len(found)]
        alerts = [episode_alert(result, i, model_id=model_id) for _, i in chosen]
        episodes: list[Episode] = [result.episodes[i] for _, i in chosen]
        assets = [a for a, _ in chosen]
        active = [k == len(by_asset[a]) - 1 and not e.closed for a, e in zip(assets, episodes, strict=True)]
        ends = [_NEVER if e.end_ts is None else pd.Timestamp(e.end_ts).value for e in episodes]
        book.file_alerts(alerts, {policy: _state(assets, active, ends, last)})
    quiet = sorted(set(last) - set(by_asset))  # assets without an episode: how far they were scored
    if quiet:
        # only the new rows scored: an asset's latest episode before them ended where its mark says
        ended = {a: m.latest_end_ns for a, m in (result.marks or {}).items() if m.latest_end_ns is not None}
        ends = [ended.get(a, _NEVER) for a in quiet]
        book.file_alerts([], {policy: _state(quiet, [False] * len(quiet), ends, last)})
    book.close_quiet(last)
    if last:
        book.note_silent(last, max(last.values()))
    after = book.counts()
    open_now = sum(1 for a in last if book.open_case_id(a) is not None)
    return Filing(
        episodes=len(result.episodes),
        filed=after["alerts"] - before["alerts"],
        opened=sum(after[s] for s in ("open", "acknowledged", "closed"))
        - sum(before[s] for s in ("open", "acknowledged", "closed")),
        closed=after["closed"] - before["closed"],
        open_cases=open_now,
    )
