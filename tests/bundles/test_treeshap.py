"""Per-leaf TreeSHAP tables (serve/treeshap.py) give LightGBM's own ``pred_contrib`` for one row.

Models of several shapes (leaf counts, gaps treated as missing, zeros as missing, gaps not used, a feature split
more than once on a path, a single-leaf tree), rows with gaps, zeros, values on the thresholds and far outside
them; and the cases the tables decline: over the size budget, categorical splits, several trees per iteration.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from forewarn.bundles.contrib import RowContributions, row_contributions
from forewarn.bundles.treeshap import PathTables


def training_data(seed: int = 0, n: int = 2000, d: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = 3 * X[:, 0] + np.sin(2 * X[:, 1]) + X[:, 2] * X[:, 3] + (X[:, 4] > 0.5) + rng.normal(0, 0.3, n)
    X[rng.uniform(size=X.shape) < 0.05] = np.nan
    X[:, 5] = np.where(rng.uniform(size=n) < 0.3, 0.0, X[:, 5])
    return X, y


def probe_rows(X: np.ndarray, booster: lgb.Booster, seed: int = 1) -> np.ndarray:
    """Random rows, rows on split thresholds (LightGBM sends a value equal to the threshold left), gaps, zeros,
    values within and just beyond LightGBM's kZeroThreshold of zero (it reads those within as 0.0, and splits
    between zeros and other values at +-kZeroThreshold), values far outside the training range."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(120, X.shape[1])) * rng.choice([0.5, 1.0, 10.0], size=(120, 1))
    thresholds = booster.trees_to_dataframe().dropna(subset=["threshold"])
    for i in range(40):
        pick = thresholds.sample(n=min(len(thresholds), X.shape[1]), random_state=i)
        for name, value in zip(pick["split_feature"], pick["threshold"], strict=True):
            rows[i, int(str(name).removeprefix("Column_"))] = value
    rows[rng.uniform(size=rows.shape) < 0.1] = np.nan
    rows[rng.uniform(size=rows.shape) < 0.1] = 0.0
    k_zero = float(np.float32(1e-35))
    near_zero = [-0.0, 1e-36, -1e-36, k_zero, -k_zero, np.nextafter(k_zero, 1.0), np.nextafter(-k_zero, -1.0), 3e-35]
    tiny = rng.uniform(size=rows.shape) < 0.1
    rows[tiny] = rng.choice(near_zero, size=int(tiny.sum()))
    rows[-1] = np.nan
    rows[-2] = 0.0
    return rows


@pytest.mark.parametrize(
    "params",
    [
        {"num_leaves": 15},
        {"num_leaves": 31, "min_data_in_leaf": 5},
        {"num_leaves": 7, "zero_as_missing": True},
        {"num_leaves": 15, "use_missing": False},
        {"num_leaves": 4, "max_depth": 2},
        {"num_leaves": 15, "objective": "binary"},
    ],
)
def test_tables_equal_lightgbm_contributions(params: dict[str, object]) -> None:
    X, y = training_data()
    if params.get("objective") == "binary":
        y = (y > np.median(y)).astype(float)
    booster = lgb.train(
        {"verbose": -1, "num_threads": 1, "learning_rate": 0.1, **params}, lgb.Dataset(X, y), num_boost_round=60
    )
    tables = PathTables.of(booster, budget=1 << 22)
    assert tables is not None
    rows = probe_rows(X, booster)
    want = booster.predict(rows, pred_contrib=True, num_threads=1)
    got = np.array([tables(row) for row in rows])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # what the contributions add up to is the model's raw output
    np.testing.assert_allclose(got.sum(axis=1), booster.predict(rows, raw_score=True), rtol=1e-10, atol=1e-10)


def test_repeated_features_on_a_path_and_single_leaf_trees() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1500, 2))
    y = np.sin(3 * X[:, 0]) + 0.1 * X[:, 1]  # one feature split again and again on the same path
    booster = lgb.train(
        {"verbose": -1, "num_threads": 1, "num_leaves": 12, "min_data_in_leaf": 3},
        lgb.Dataset(X, y),
        num_boost_round=25,
    )
    paths = booster.trees_to_dataframe()
    assert (paths.groupby("tree_index")["split_feature"].apply(lambda s: (s == "Column_0").sum()) > 3).any()
    tables = PathTables.of(booster)
    assert tables is not None
    rows = probe_rows(X, booster)
    np.testing.assert_allclose(
        np.array([tables(r) for r in rows]), booster.predict(rows, pred_contrib=True), rtol=1e-10, atol=1e-12
    )
    constant = lgb.train(
        {"verbose": -1, "num_threads": 1, "min_data_in_leaf": 2000}, lgb.Dataset(X, y), num_boost_round=3
    )  # nothing can split: every tree is one leaf
    tables = PathTables.of(constant)
    assert tables is not None
    np.testing.assert_allclose(tables(X[0]), constant.predict(X[:1], pred_contrib=True)[0], rtol=1e-12)


def test_tables_decline_what_they_cannot_reproduce() -> None:
    X, y = training_data()
    booster = lgb.train({"verbose": -1, "num_threads": 1, "num_leaves": 31}, lgb.Dataset(X, y), num_boost_round=40)
    assert PathTables.of(booster, budget=1000) is None  # over the size budget
    assert isinstance(row_contributions(booster), PathTables)
    cats = X.copy()
    cats[:, 6] = np.random.default_rng(0).integers(0, 6, len(X))
    categorical = lgb.train(
        {"verbose": -1, "num_threads": 1},
        lgb.Dataset(cats, y + cats[:, 6], categorical_feature=[6]),
        num_boost_round=20,
    )
    assert PathTables.of(categorical) is None
    assert isinstance(row_contributions(categorical), RowContributions)  # LightGBM's own single-row path
    multi = lgb.train(
        {"verbose": -1, "num_threads": 1, "objective": "multiclass", "num_class": 3},
        lgb.Dataset(X, np.digitize(y, np.quantile(y, [0.33, 0.66]))),
        num_boost_round=5,
    )
    assert PathTables.of(multi) is None


def test_a_row_of_the_wrong_width_is_refused() -> None:
    X, y = training_data()
    booster = lgb.train({"verbose": -1, "num_threads": 1, "num_leaves": 7}, lgb.Dataset(X, y), num_boost_round=5)
    tables = PathTables.of(booster)
    assert tables is not None
    assert tables(X[0, :-1]) is None
