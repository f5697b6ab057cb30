"""One inspection record per image: the class probabilities, the defect probability, the cost-based decision
and where the maps peak. ``forewarn quality inspect`` and the batch scorer (:mod:`forewarn.distributed.qc`)
both build their lines here, so the two never disagree.

>>> import numpy as np
>>> from forewarn.quality.decisions import InspectionCosts, thresholds
>>> class Stub:  # a two-class model whose maps peak at the top-left corner
...     classes_ = ["good", "scratch"]
...     loc_weight = 0.0
...     def predict_proba(self, batch):
...         return np.array([[0.2, 0.8]] * len(batch))
...     def cam(self, batch, classes):
...         return [np.eye(4)] * len(batch)
>>> limits = thresholds(InspectionCosts(scrap=5.0, review=1.0, escape=2.0))
>>> [record] = inspection_records(Stub(), ["unit-7.png"], np.zeros((1, 8, 8)), "good", limits)
>>> record["defect_probability"], record["defect_type"], record["cam_peak"]
(0.8, 'scratch', {'row': 0.0, 'col': 0.0})
>>> defect_map(Stub(), np.zeros((1, 8, 8)))[0].diagonal().tolist()
[1.0, 1.0, 1.0, 1.0]
>>> [unit] = add_novelty([{"image": "unit-8.png", "decision": "pass"}], [1.4], threshold=1.0)
>>> unit["decision"], unit["novelty_score"], unit["novel"]
('review', 1.4, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from forewarn.exceptions import SchemaError
from forewarn.quality.decisions import DecisionThresholds, decide, with_novelty


def _peak(where: np.ndarray) -> dict[str, float]:
    """Where ``where`` is largest, as fractions of its height (row) and width (col)."""
    row, col = divmod(int(where.argmax()), where.shape[1])
    return {"row": row / where.shape[0], "col": col / where.shape[1]}


def inspection_records(
    clf: Any, names: Sequence[object], batch: np.ndarray, good_class: str | None, limits: DecisionThresholds
) -> list[dict[str, Any]]:
    """One record per image of ``batch`` (decoded images, named ``names``) for the classifier ``clf``:
    ``image, predicted, defect_type, defect_probability, decision, probabilities, cam_peak``, and
    ``defect_peak`` when the model has a localisation head. The defect probability is 1 - P(``good_class``),
    or 1 without a good class (every class is a defect); the decision follows ``limits``; ``defect_type`` is the
    likeliest defect class unless the unit passes; ``cam_peak`` is where the predicted class's activation map
    peaks, ``defect_peak`` where the head's map does."""
    proba = clf.predict_proba(batch)
    cams = clf.cam(batch, proba.argmax(axis=1))
    located = clf.locate(batch) if clf.loc_weight > 0 else [None] * len(batch)
    good = clf.classes_.index(good_class) if good_class is not None else None
    records = []
    for name, row, cam, where in zip(names, proba, cams, located, strict=True):
        p_defect = 1.0 if good is None else float(1.0 - row[good])
        defects = [(p, c) for p, c in zip(row, clf.classes_, strict=True) if c != good_class]
        decision = decide(min(max(p_defect, 0.0), 1.0), limits)
        record: dict[str, Any] = {
            "image": str(name),
            "predicted": clf.classes_[int(row.argmax())],
            "defect_type": max(defects)[1] if defects and decision != "pass" else "",
            "defect_probability": round(p_defect, 6),
            "decision": decision,
            "probabilities": {c: round(float(p), 6) for c, p in zip(clf.classes_, row, strict=True)},
            "cam_peak": _peak(cam),
        }
        if where is not None:  # the localisation head's peak (models trained with box masks)
            record["defect_peak"] = _peak(where)
        records.append(record)
    return records


def defect_map(clf: Any, batch: np.ndarray) -> np.ndarray:
    """Where each image's defect is, as an ``(n, h, w)`` map in [0, 1]: the localisation head's probability map
    when the model has a head, else the class activation map of the predicted class scaled to [0, 1] per image
    (the review page draws it over the unit's image)."""
    if clf.loc_weight > 0:
        return np.clip(np.asarray(clf.locate(batch), dtype=float), 0.0, 1.0)
    cams = np.asarray(clf.cam(batch, clf.predict_proba(batch).argmax(axis=1)), dtype=float)
    low = cams.min(axis=(1, 2), keepdims=True)
    span = cams.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (cams - low) / np.where(span > 0, span, 1.0), 0.0)


def add_novelty(records: list[dict[str, Any]], scores: Sequence[float], threshold: float) -> list[dict[str, Any]]:
    """``records`` (one per image, each with a ``decision``) with the texture detector's ``novelty_score`` (rounded
    to 6 decimals) and ``novel`` added and the decision moved by :func:`~forewarn.quality.decisions.with_novelty`
    (a novel unit that would pass goes to review). Records of a line with no classifier start as ``pass``."""
    if len(scores) != len(records):
        raise SchemaError(f"{len(scores)} novelty scores for {len(records)} records", column="novelty_score")
    for record, raw in zip(records, scores, strict=True):
        score = round(float(raw), 6)
        record["decision"], record["novel"] = with_novelty(record["decision"], score, threshold)
        record["novelty_score"] = score
    return records
