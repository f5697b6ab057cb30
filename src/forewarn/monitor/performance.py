"""Score drift, feature drift and the model's realised record against its card's promise.

* :func:`score_drift`: PSI of the window's predicted probabilities against those of the reference span's last
  days, with a threshold from the reference's own variability: PSI of ``n_boot`` resamples of whole reference
  days (as many as the window holds) against all reference days, 95th percentile, times ``margin``, and at
  least :data:`PSI_FLOOR`.
* :func:`feature_drift`: PSI of each window feature against the card's deciles of the training rows, flagged
  above the feature's own line (``line``): the highest PSI of the training span's stretches as long as the window,
  times a margin, at least 0.25 (:mod:`forewarn.train.references`), so a month the model was trained on is no
  drift on a seasonal plant; a card written before the lines gives the customary 0.25 (``line_basis``
  ``customary``).
* :func:`realised`: the failures of the window, the alerts the model would have raised at its own thresholds
  (a row at or above its class threshold, one alert per horizon per asset), caught and missed failures, lead
  times, false alerts per asset-month, and row figures where the horizon is known (recall, precision, false
  alarm rate, ROC AUC), beside the card's held-out figures.

>>> round(psi_values(np.linspace(0, 1, 1000), np.linspace(0, 1, 1000)), 6)
0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forewarn.evaluate.events import event_metrics
from forewarn.monitor.drift import DECILES, Reference, psi, psi_bin, psi_bins
from forewarn.train.references import PSI_LINE, line_for, psi_shares

#: below this PSI a score distribution has not moved, whatever the bootstrap says (the customary "no change" line)
PSI_FLOOR = 0.1


def bin_shares(edges: np.ndarray, values: np.ndarray, *, floor: float = 1e-3) -> np.ndarray:
    """The share of ``values`` in each bin of ``edges`` (:func:`forewarn.monitor.drift.psi_bins`), at least
    ``floor``."""
    return np.maximum(np.bincount(psi_bin(edges, values), minlength=len(edges) + 1) / len(values), floor)


def psi_values(reference: np.ndarray, values: np.ndarray) -> float:
    """PSI of ``values`` against ``reference`` (raw values) in the bins of the reference's deciles, the expected
    share of each bin counted from the reference itself: a model's probabilities take few distinct values (tree
    ensembles), and a decile bin that a tie fills holds far more than a tenth of them.

    >>> reference = np.r_[np.zeros(600), np.linspace(0.1, 1, 400)]  # 60 % of the scores exactly 0
    >>> round(psi_values(reference, reference[::2]), 6)
    0.0
    """
    reference, values = reference[np.isfinite(reference)], values[np.isfinite(values)]
    if not len(reference) or not len(values):
        return float("nan")
    edges, _ = psi_bins(np.quantile(reference, DECILES))
    return float(psi_shares(bin_shares(edges, reference), bin_shares(edges, values)))


#: the event figures that are counts
COUNTS = ("failures", "caught", "missed", "alerts", "false_alarms")


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return round(out, 6) if np.isfinite(out) else None


def score_drift(
    bundle: Any, scores: pd.DataFrame, references: dict[str, Reference], *, n_boot: int = 200, margin: float = 1.5
) -> dict[str, Any]:
    """PSI of the window's probabilities against the reference's, and its bootstrap threshold."""
    pooled = [(r.scores, r.score_days) for r in references.values() if len(r.scores)]
    if not pooled or scores.empty:
        return {"psi": None, "threshold": None, "drifted": False, "rows": len(scores)}
    ref_p = np.concatenate([p for p, _ in pooled])
    ref_day = np.concatenate([d for _, d in pooled])
    value = psi_values(ref_p, scores["p"].to_numpy(dtype="float64"))
    day_keys, inverse = np.unique(ref_day, return_inverse=True)
    window_days = max(1, int(pd.to_datetime(scores["ts"], utc=True).dt.floor("1D").nunique()))
    rng = np.random.default_rng(0)
    finite = np.isfinite(ref_p)
    edges, _ = psi_bins(np.quantile(ref_p[finite], DECILES))
    expected = bin_shares(edges, ref_p[finite])
    boot = []
    for _ in range(n_boot):
        picked = rng.choice(len(day_keys), size=min(window_days, len(day_keys)), replace=True)
        rows = np.isin(inverse, picked) & finite
        boot.append(float(psi_shares(expected, bin_shares(edges, ref_p[rows]))) if rows.any() else 0.0)
    threshold = float(max(PSI_FLOOR, margin * np.quantile(boot, 0.95)))
    return {
        "psi": _number(value),
        "threshold": _number(threshold),
        "drifted": bool(value > threshold),
        "rows": len(scores),
        "mean_probability": _number(scores["p"].mean()),
        "reference_mean_probability": _number(ref_p.mean()),
    }


def feature_drift(
    card: dict[str, Any], scores: pd.DataFrame, *, days: int = 30, top: int | None = 20
) -> list[dict[str, Any]]:
    """PSI of each feature of the window (``days`` long) against the card's training deciles, with the feature's
    line (:func:`forewarn.train.references.line_for`) and where it comes from; the drifted features first, then
    the largest PSI (the first ``top``; every one with ``None``)."""
    lines = card.get("reference_lines")
    out = []
    for feature, deciles in (card.get("reference") or {}).items():
        if feature not in scores or any(d is None for d in deciles):
            continue
        cut = np.asarray(deciles, dtype="float64")
        values = scores[feature].to_numpy(dtype="float64")
        value = psi(cut, values)
        if np.isfinite(value):
            line, basis = line_for(lines, feature, days=days, rows=int(np.isfinite(values).sum()), deciles=cut)
            out.append(
                {
                    "feature": feature,
                    "psi": round(value, 4),
                    "drifted": bool(value > line),
                    "line": round(line, 4),
                    "line_basis": basis,
                }
            )
    return sorted(out, key=lambda r: (not r["drifted"], -r["psi"]))[:top]  # [:None] is every one


#: a class's entry of :func:`class_feature_drift` lists at most this many flagged features (``drifted`` counts all)
CLASS_FEATURES_SHOWN = 20
#: what a class without its own reference is told (its rows are judged with the fleet's, in the pooled result)
POOLED_NOTE = "judged with the fleet: its features are the pooled result's (the model's whole fleet)"
#: why a class of a card written before per-class references has none
OLD_CARD = "the model card has no per-class references (written before them; forewarn retrain writes a card with them)"


def class_feature_drift(
    card: dict[str, Any], scores: pd.DataFrame, pooled: list[dict[str, Any]], *, days: int = 30
) -> dict[str, Any]:
    """Feature drift per asset class (``scores``: the window's rows with their ``asset_class`` and features): each
    class's rows against its own reference in the card (``reference_by_class``, :func:`forewarn.train.references.
    class_references`: deciles and lines of the class's training rows), so a change that hits one class is not
    diluted by the others' rows (``basis`` ``class``). A class the card keeps no reference for (too few training
    rows, or a card written before them) is judged with the fleet: its entry says why and lists the pooled result's
    flagged features (``pooled``: :func:`feature_drift` of the whole window; ``basis`` ``pooled``). A class's rows
    are never measured against the fleet's deciles: a pump's readings are not the fleet's mixture, and on a healthy
    twin fleet 77-85 of 144 features of each class read as drift over 30-day windows that way (BENCHMARKS.md, "Drift
    monitoring", benchmarks/monitor_classes.py).

    >>> rng = np.random.default_rng(0)
    >>> ref = {"t": np.linspace(-2, 2, 11).tolist()}
    >>> card = {"reference_by_class": {"classes": {"pump": {"rows": 900, "reference": ref, "reference_lines": None},
    ...                                            "fan": {"rows": 20, "pooled": "fan: 20 training rows, ..."}}}}
    >>> scores = pd.DataFrame({"asset_id": "a", "asset_class": ["pump"] * 500 + ["fan"] * 500,
    ...                        "t": np.r_[rng.normal(1.5, 1, 500), rng.normal(0, 1, 500)]})
    >>> out = class_feature_drift(card, scores, [], days=30)
    >>> [(e["asset_class"], e["basis"], e["drifted"]) for e in out["by_class"]], out["drifted_classes"]
    ([('fan', 'pooled', 0), ('pump', 'class', 1)], ['pump'])
    """
    known = (card.get("reference_by_class") or {}).get("classes") or {}
    flagged_pooled = [r for r in pooled if r["drifted"]]
    entries = []
    groups = scores.groupby("asset_class", sort=True) if len(scores) and "asset_class" in scores else []
    for name, rows in groups:
        own = known.get(str(name)) or {}
        entry: dict[str, Any] = {
            "asset_class": str(name),
            "assets": int(rows["asset_id"].nunique()),
            "rows": len(rows),
            "reference_rows": own.get("rows"),
        }
        if "reference" in own:
            mine = {"reference": own["reference"], "reference_lines": own.get("reference_lines")}
            verdicts = feature_drift(mine, rows, days=days, top=None)
            flagged = [v for v in verdicts if v["drifted"]]
            nearest = max(verdicts, key=lambda v: v["psi"] / v["line"], default=None)
            entry.update(basis="class", judged=len(verdicts), drifted=len(flagged), nearest=nearest)
            entry["features"] = flagged[:CLASS_FEATURES_SHOWN]
        else:
            why = own.get("pooled") or (
                f"{name}: the model card keeps no reference of this class" if known else OLD_CARD
            )
            entry.update(basis="pooled", note=f"{why}; {POOLED_NOTE}", judged=None, drifted=len(flagged_pooled))
            entry["features"] = flagged_pooled[:CLASS_FEATURES_SHOWN]
        entries.append(entry)
    own_classes = [e for e in entries if e["basis"] == "class"]
    return {
        "basis": "class" if entries and len(own_classes) == len(entries) else ("mixed" if own_classes else "pooled"),
        "min_rows": (card.get("reference_by_class") or {}).get("min_rows"),
        "drifted_classes": [e["asset_class"] for e in own_classes if e["drifted"]],
        "by_class": entries,
    }


def lines_note(card: dict[str, Any], judged: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Where the feature lines of a report come from: the card's (how they were made), or the customary 0.25 for a
    card written before them; with ``judged`` (every feature's verdict), how many were judged and drifted.

    >>> lines_note({"reference": {}}, [{"drifted": True}, {"drifted": False}])
    ... # doctest: +ELLIPSIS
    {'judged': 2, 'drifted': 1, 'basis': 'customary', 'line': 0.25, 'note': 'the model card has no reference lines...}
    """
    lines = card.get("reference_lines")
    counts = {} if judged is None else {"judged": len(judged), "drifted": sum(bool(r["drifted"]) for r in judged)}
    if not lines or not lines.get("lines"):
        return {
            **counts,
            "basis": "customary",
            "line": PSI_LINE,
            "note": "the model card has no reference lines (written before them): every feature is judged at the "
            "customary PSI 0.25; forewarn retrain (or train) writes a card with them",
        }
    return {**counts, "basis": "reference", "method": lines.get("method"), "window_days": lines.get("window_days")}


def _alerts(scores: pd.DataFrame, bundle: Any) -> pd.DataFrame:
    thresholds = scores["asset_class"].map(lambda c: bundle.thresholds.threshold_for(str(c)))
    return scores.loc[scores["p"].to_numpy() >= thresholds.to_numpy(dtype="float64"), ["asset_id", "ts"]]


def _row_figures(
    scores: pd.DataFrame, alarms: np.ndarray, failures: pd.DataFrame, horizon: pd.Timedelta, stop: Any
) -> dict[str, Any]:
    ts = pd.to_datetime(scores["ts"], utc=True)
    label = np.zeros(len(scores), bool)
    known = (ts + horizon <= pd.Timestamp(stop)).to_numpy().copy()
    for failure in failures.itertuples():
        rows = ((scores["asset_id"] == failure.asset_id) & (ts <= failure.ts) & (ts > failure.ts - horizon)).to_numpy()
        label |= rows
        known |= rows
    y, a, p = label[known], alarms[known], scores["p"].to_numpy(dtype="float64")[known]
    out: dict[str, Any] = {"rows": int(known.sum()), "positive_rows": int(y.sum())}
    out["recall"] = _number(a[y].mean()) if y.any() else None
    out["precision"] = _number(y[a].mean()) if a.any() else None
    out["far"] = _number(a[~y].mean()) if (~y).any() else None
    if y.any() and (~y).any():
        from sklearn.metrics import roc_auc_score

        out["roc_auc"] = _number(roc_auc_score(y, p))
    return out


def realised(
    bundle: Any, card: dict[str, Any], scores: pd.DataFrame, events: pd.DataFrame, start: Any, stop: Any
) -> dict[str, Any]:
    """The model's record over the window against its card (see the module docstring)."""
    horizon = pd.Timedelta(hours=float(card["recipe"].get("horizon_hours") or bundle.spec.horizon))
    # ``stop`` is one interval after the last reading: a failure logged then (a failed machine stops reporting) is
    # the window's, as a backtest counts it
    failures = events[(events["kind"] == "failure") & (events["ts"] >= start) & (events["ts"] <= stop)]
    failures = failures[failures["asset_id"].isin(scores["asset_id"].unique())][["asset_id", "ts"]]
    promised = {
        k: _number(v)
        for k, v in card.get("metrics", {}).items()
        if k in ("recall", "precision", "far", "roc_auc", "ece", "f1") or "caught" in k or "lead" in k or "false" in k
    }
    out: dict[str, Any] = {"promised": {k: v for k, v in promised.items() if v is not None}}
    if scores.empty:
        out["realised"] = None
        return out
    alarms = np.zeros(len(scores), bool)
    alarm_rows = _alerts(scores, bundle)
    alarms[scores.index.get_indexer(alarm_rows.index)] = True
    observed = {str(a): (start, stop) for a in scores["asset_id"].unique()}
    metrics = event_metrics(
        alarm_rows.reset_index(drop=True),
        failures.reset_index(drop=True),
        horizon=horizon,
        cooldown=horizon,
        observed=observed,
    )
    events_figures: dict[str, float | int | None] = {k: _number(v) for k, v in metrics.as_dict().items()}
    for count in COUNTS:  # counts read as counts (9, not 9.0) in the JSON and the printed report
        value = events_figures.get(count)
        if value is not None:
            events_figures[count] = int(value)
    if not events_figures.get("failures"):  # no failure in the window: nothing was caught or missed, no rate
        events_figures["catch_rate"] = None
    rows = _row_figures(scores, alarms, failures, horizon, stop)
    out["realised"] = {**events_figures, **{f"row_{k}": v for k, v in rows.items()}}
    gaps = {}
    for name in ("recall", "precision", "far", "roc_auc"):
        if out["promised"].get(name) is not None and rows.get(name) is not None:
            gaps[name] = round(float(rows[name]) - float(out["promised"][name]), 4)
    out["gap"] = gaps
    return out
