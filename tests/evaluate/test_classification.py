"""Classification metrics against hand counts, and the F1-optimal threshold against brute force."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.evaluate.classification import (
    best_f1_threshold,
    binary_metrics,
    confusion,
    multiclass_metrics,
    per_class_f1,
)
from forewarn.exceptions import SchemaError


def test_binary_metrics_match_hand_counts():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.7, 0.2, 0.8, 0.1, 0.1, 0.3, 0.0, 0.05, 0.4])
    m = binary_metrics(y, p, threshold=0.5)  # TP 2, FP 1, FN 1, TN 6
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(0.8)
    # ROC-AUC = share of (positive, negative) pairs ranked correctly
    pairs = [(a > b) + 0.5 * (a == b) for a in p[y == 1] for b in p[y == 0]]
    assert m["roc_auc"] == pytest.approx(np.mean(pairs))
    assert 0 < m["pr_auc"] <= 1


def test_degenerate_cases_do_not_warn_or_crash():
    nothing = binary_metrics([0, 1, 0], [0.1, 0.2, 0.3], threshold=0.9)
    assert nothing["precision"] == 0.0 and nothing["f1"] == 0.0
    one_class = binary_metrics([0, 0, 0], [0.1, 0.2, 0.3])
    assert math.isnan(one_class["roc_auc"]) and math.isnan(one_class["pr_auc"])
    assert best_f1_threshold([0, 0], [0.2, 0.4]) > 0.4  # no positives: predict nothing


def test_bad_inputs_are_rejected():
    with pytest.raises(SchemaError, match="same length"):
        binary_metrics([0, 1], [0.5])
    with pytest.raises(SchemaError, match="0/1"):
        binary_metrics([0, 2], [0.1, 0.9])
    with pytest.raises(SchemaError, match="non-finite"):
        binary_metrics([0, 1], [0.1, np.nan])
    with pytest.raises(SchemaError, match="empty"):
        multiclass_metrics([], [])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1, allow_nan=False)), min_size=2, max_size=40))
def test_best_threshold_is_as_good_as_any_cut(rows):
    y = np.array([int(a) for a, _ in rows])
    p = np.array([b for _, b in rows])
    if y.sum() == 0:
        return
    chosen = _f1(y, p >= best_f1_threshold(y, p))
    brute = max(_f1(y, p >= t) for t in np.unique(p))
    assert chosen == pytest.approx(brute)


def _f1(y, predicted):
    tp = int((predicted & (y == 1)).sum())
    return 2 * tp / (int(predicted.sum()) + int(y.sum()))


def test_multiclass_macro_f1_and_label_subset():
    truth = ["none", "none", "heat", "power", "power", "odd"]
    pred = ["none", "heat", "heat", "power", "none", "power"]
    f1 = per_class_f1(truth, pred)
    assert f1["heat"] == pytest.approx(2 / 3) and f1["odd"] == 0.0
    everything = multiclass_metrics(truth, pred)
    subset = multiclass_metrics(truth, pred, labels=["none", "heat", "power"])
    assert everything["macro_f1"] == pytest.approx(f1.mean())
    assert subset["macro_f1"] == pytest.approx(f1[["none", "heat", "power"]].mean())
    assert everything["accuracy"] == pytest.approx(3 / 6)


def test_confusion_rows_are_truth():
    table = confusion(["a", "a", "b"], ["a", "b", "b"], labels=["a", "b", "c"])
    assert table.loc["a", "b"] == 1 and table.loc["b", "b"] == 1 and table["c"].sum() == 0
    assert table.index.name == "true" and table.columns.name == "predicted"
