"""An asset's stored labels (``ingest --label-columns``) as the dashboard shows them: how many rows each name has
and which values, and the spans of time each value held.

A label is stored where its cell was not empty, at the reading's time (:mod:`forewarn.store.labels`). A *span* is
a run of rows of one name with the same value; it ends where the next row of that name has another value, or at its
own last row when the next row is far away (more than :data:`GAP_FACTOR` times the name's median spacing: empty
cells were not stored, so a long silence is not read as the value holding). A value is *set* unless it reads as
off (:func:`is_set`: ``0``, ``false``, ``no``, ``normal``, ...), or, for a name with several values none of which
reads so (a state such as ``run`` / ``fault``), unless it is the name's most frequent value (its normal state,
:func:`unset`):
the dashboard shades the spans where a label is set.

>>> import pandas as pd
>>> rows = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=6, freq="1h", tz="UTC"),
...                      "name": "anomaly", "value": ["0", "0", "1", "1", "0", "0"]})
>>> [(s["value"], s["start"][11:16], s["end"][11:16], s["rows"], s["set"]) for s in label_spans(rows)["spans"]]
[('0', '00:00', '02:00', 2, False), ('1', '02:00', '04:00', 2, True), ('0', '04:00', '05:00', 2, False)]
>>> label_counts(rows)
[{'name': 'anomaly', 'rows': 6, 'set_rows': 2, 'values': [{'value': '0', 'rows': 4}, {'value': '1', 'rows': 2}]}]
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["GAP_FACTOR", "is_set", "label_counts", "label_spans", "trained_label", "trained_labels", "unset"]

#: a run of one value breaks where the next row is more than this many median spacings away
GAP_FACTOR = 3.0
#: values that say a label is not set (compared in lower case, blanks stripped)
OFF_VALUES = frozenset({"", "0", "0.0", "false", "f", "no", "n", "off", "none", "normal", "ok", "nan"})
#: most values listed per name
TOP_VALUES = 10
#: a name with one value over at least this share of the asset's history is an attribute (not shaded)
ATTRIBUTE_SHARE = 0.9
#: an asset's history: its first and last reading (None: unknown)
Span = tuple[Any, Any] | None


def is_set(value: object) -> bool:
    """Whether a label's value says the label is set (a fault, an anomaly, "fails within 24 h").

    >>> [is_set(v) for v in ["1", "yes", "fault", "0", "No", " normal "]]
    [True, True, True, False, False, False]
    """
    return str(value).strip().lower() not in OFF_VALUES


def unset(rows: pd.DataFrame, history: Span = None) -> frozenset[str]:
    """The values of one label name (``rows``: its ``ts`` and ``value``) that do not set it: those that read as off,
    else its most frequent value (its normal state); a name with one value sets it (a fault code stored only where
    it was set), unless that value spans nearly all of the asset's ``history`` (first and last reading): then it is
    an attribute of the asset (a machine type written on every row), not an event.

    >>> frame = lambda values: pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=len(values), freq="h"),
    ...                                      "value": values})
    >>> sorted(unset(frame(["run", "run", "fault", "run"]))), sorted(unset(frame(["1", "0", "1"])))
    (['run'], ['0'])
    >>> sorted(unset(frame(["E12", "E12"])))
    []
    >>> history = (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-01 02:00"))
    >>> sorted(unset(frame(["L", "L", "L"]), history))
    ['L']
    """
    text = rows["value"].astype(str)
    off = frozenset(v for v in text.unique() if not is_set(v))
    if off:
        return off
    if text.nunique() < 2:
        if history is None or text.empty:
            return off
        whole = (pd.Timestamp(history[1]) - pd.Timestamp(history[0])).total_seconds()
        ts = pd.to_datetime(rows["ts"])
        covered = (ts.max() - ts.min()).total_seconds()
        return frozenset(text.unique()) if whole > 0 and covered >= ATTRIBUTE_SHARE * whole else off
    counts = text.value_counts(sort=False).sort_index()  # ties: the first in sort order, whatever the row order
    return frozenset({str(counts.idxmax())})


def label_counts(labels: pd.DataFrame, history: Span = None) -> list[dict[str, Any]]:
    """Per label name (sorted): its rows, the rows where it is set, and its most frequent values with their rows
    (``history``: see :func:`unset`)."""
    out = []
    for name, rows in labels.groupby("name", sort=True):
        values = rows["value"].astype(str)
        counts = values.value_counts(sort=False).sort_index()
        counts = counts.sort_values(ascending=False, kind="stable").head(TOP_VALUES)
        off = unset(rows, history)
        out.append(
            {
                "name": str(name),
                "rows": len(rows),
                "set_rows": int((~values.isin(off)).sum()),
                "values": [{"value": str(v), "rows": int(n)} for v, n in counts.items()],
            }
        )
    return out


def label_spans(
    labels: pd.DataFrame, limit: int = 5000, history: Span = None, *, set_only: bool = False
) -> dict[str, Any]:
    """The runs of equal value of each name (see the module docstring), oldest first (only those where the label is
    set with ``set_only``); at most ``limit`` (the newest kept, ``truncated`` says so). ``labels``: ``ts`` (UTC),
    ``name``, ``value``, as the store gives them; ``history``: see :func:`unset`."""
    spans: list[dict[str, Any]] = []
    for name, rows in labels.sort_values(["name", "ts"], kind="stable").groupby("name", sort=True):
        ts = pd.to_datetime(rows["ts"], utc=True).to_numpy(dtype="datetime64[ns]")
        values = rows["value"].astype(str).to_numpy()
        off = unset(rows, history)
        steps = np.diff(ts).astype("int64")
        gap = GAP_FACTOR * float(np.median(steps)) if steps.size else 0.0
        near = np.concatenate([steps <= gap, [False]])  # row k's next row is close enough to carry its value
        change = np.concatenate([[True], (values[1:] != values[:-1]) | ~near[:-1]])
        starts = np.flatnonzero(change)
        ends = np.append(starts[1:], len(values))  # exclusive row index of each run
        for a, b in zip(starts, ends, strict=True):
            last = b - 1
            stop = ts[b] if near[last] else ts[last]  # contiguous: up to the next value's first row
            if set_only and str(values[a]) in off:
                continue
            spans.append(
                {
                    "name": str(name),
                    "value": str(values[a]),
                    "start": pd.Timestamp(ts[a], tz="UTC").isoformat(),
                    "end": pd.Timestamp(stop, tz="UTC").isoformat(),
                    "rows": int(b - a),
                    "set": str(values[a]) not in off,
                }
            )
    spans.sort(key=lambda s: (s["start"], s["name"]))
    truncated = len(spans) > limit
    return {"spans": spans[-limit:] if truncated else spans, "truncated": truncated}


#: how a model card (``card.json``, :mod:`forewarn.train.card`) says the model learned a stored label column
STORED_LABEL = "stored label "
_cards: dict[Path, tuple[float, str | None]] = {}


def trained_label(card: Mapping[str, Any]) -> str | None:
    """The stored label column a model was trained on (``train --label NAME``), from its model card; None when it
    learned failures from the events (its probability is then of a failure within its horizon).

    The card says so in ``recipe.labels`` (``"stored label 'fail24'"``, the name as Python writes it) or, where a
    card carries one, in ``recipe.label``. What the label means is the plant's (a flag "fails within 24 h", a fault
    code): the probability is of the label being set at a reading, not of a failure within the horizon.

    >>> trained_label({"recipe": {"labels": "stored label 'fail24'"}}), trained_label({"recipe": {"label": "Ausfall"}})
    ('fail24', 'Ausfall')
    >>> trained_label({"recipe": {"labels": "events: failures end a life"}}), trained_label({})
    (None, None)
    >>> trained_label({"recipe": {"labels": "stored label " + repr("it's down")}})
    "it's down"
    """
    recipe = card.get("recipe")
    if not isinstance(recipe, Mapping):
        return None
    named = recipe.get("label")
    if isinstance(named, str) and named:
        return named
    text = recipe.get("labels")
    if not isinstance(text, str) or not text.startswith(STORED_LABEL):
        return None
    try:
        name = ast.literal_eval(text[len(STORED_LABEL) :].strip())
    except (ValueError, SyntaxError):
        return None
    return name if isinstance(name, str) and name else None


def card_label(folder: str | Path, card_file: str = "card.json") -> str | None:
    """:func:`trained_label` of the card in a bundle's ``folder`` (None without a readable card); read again only
    when the file changes."""
    path = Path(folder) / card_file
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    held = _cards.get(path)
    if held is None or held[0] != stamp:
        try:
            card = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            card = {}
        held = _cards[path] = (stamp, trained_label(card) if isinstance(card, Mapping) else None)
    return held[1]


def trained_labels(registry: Any) -> dict[str, str]:
    """``{model_id: label}`` of the live models of a :class:`~forewarn.bundles.registry.ModelRegistry` that were
    trained on a stored label (:func:`trained_label`); empty without a registry. A model that fails to load is left
    out (the pages say "failure" for it, and its own errors show where it is used)."""
    if registry is None:
        return {}
    out: dict[str, str] = {}
    for model_id in registry.model_ids():
        try:
            folder = registry.bundle(model_id).folder
        except Exception:  # noqa: BLE001 - a page must render whatever one model's state
            continue
        label = card_label(folder)
        if label is not None:
            out[str(model_id)] = label
    return out
