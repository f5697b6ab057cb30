"""Federated boosting by histogram aggregation: splits by hand, the federated model equals the one grown on the
pooled rows with the same edges, and only sketches and histograms cross."""

from __future__ import annotations

import numpy as np
import pytest

from forewarn.bench.federated import Site, Task
from forewarn.exceptions import ConfigError
from forewarn.federated import histboost as hb
from forewarn.federated.boosting import federate_hist, hist_server_app
from forewarn.federated.simulate import SiteRows


def _hist(cells: list[tuple[float, float, float]]) -> np.ndarray:
    """One node, one feature: (gradient, hessian, rows) per bin, bin 0 the missing values."""
    return np.array(cells, dtype="float64").reshape(1, 1, len(cells), 3)


def test_split_by_hand() -> None:
    # squared error from score 0, lambda 1, learning rate 1: rows y = 1, 1 | 5, 5 | 5, 5 in bins 1 | 2 | 3
    settings = hb.HistSettings(trees=1, depth=1, learning_rate=1.0, l2=1.0, min_rows=1, bins=3)
    tree = hb.Tree.empty(1)
    hb.split_level(tree, 0, _hist([(0, 0, 0), (-2, 2, 2), (-10, 2, 2), (-10, 2, 2)]), settings, np.array([2]))
    # G = -22, H = 6: gain at t=1 is 4/3 + 400/5 - 484/7 = 12.19 > 0, at t=2 144/5 + 100/3 - 484/7 < 0
    assert tree.split[0] and tree.feature[0] == 0 and tree.threshold[0] == 1
    assert tree.value.tolist() == pytest.approx([22 / 7, 2 / 3, 4.0])
    # missing values like the high rows: they go right with bin 3 (gain 16/5 + 400/5 - 576/9 = 19.2, the best)
    tree = hb.Tree.empty(1)
    hb.split_level(tree, 0, _hist([(-10, 2, 2), (-2, 2, 2), (-2, 2, 2), (-10, 2, 2)]), settings, np.array([2]))
    assert tree.split[0] and tree.threshold[0] == 2 and not tree.nan_left[0]
    assert tree.value[1:].tolist() == pytest.approx([0.8, 4.0])
    # too few rows for min_rows on both sides: a leaf
    tree = hb.Tree.empty(1)
    few = hb.HistSettings(trees=1, depth=1, learning_rate=1.0, min_rows=4, bins=3)
    hb.split_level(tree, 0, _hist([(0, 0, 0), (-2, 2, 2), (-10, 2, 2), (-10, 2, 2)]), few, np.array([2]))
    assert not tree.split.any() and tree.value[0] == pytest.approx(22 / 7)


def test_merged_edges_follow_the_pooled_quantiles_of_offset_sites() -> None:
    rng = np.random.default_rng(2)
    # one sensor read on two scales (calibration): 1,000 rows near 0, 3,000 near 5
    a, b = rng.normal(0.0, 1.0, (1000, 1)), rng.normal(5.0, 1.0, (3000, 1))
    sketches = [hb.sketch(x, 16) for x in (a, b)]
    merged = hb.merge_edges([q for q, _ in sketches], [n for _, n in sketches])[0]
    rows = np.sort(np.concatenate([a, b])[:, 0])
    levels = np.arange(1, 16) / 16

    def share_below(edges: np.ndarray) -> np.ndarray:  # the pooled rows' distribution function at the edges
        return np.searchsorted(rows, edges, side="right") / len(rows)

    assert len(merged) == 15 and np.abs(share_below(merged) - levels).max() < 0.01
    # what averaging the sites' quantiles would give: a quarter of the rows off
    averaged = (sketches[0][0] * 1000 + sketches[1][0] * 3000)[0] / 4000
    assert np.abs(share_below(averaged) - levels).max() > 0.2


def test_rows_follow_the_tree_and_the_model_predicts_in_raw_values() -> None:
    model = hb.HistBooster("regression", [np.array([1.0, 2.0])], 10.0)
    tree = hb.Tree.empty(1)
    tree.split[0], tree.threshold[0], tree.nan_left[0] = True, 1, False  # x <= 1 left, missing right
    tree.value[:] = [0.0, -3.0, 5.0]
    model.trees.append(tree)
    X = np.array([[0.5], [1.0], [1.5], [9.0], [np.nan]])
    assert model.predict(X).tolist() == [7.0, 7.0, 15.0, 15.0, 15.0]


def _sites() -> tuple[np.ndarray, np.ndarray, list[SiteRows]]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 4))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (np.nan_to_num(X[:, 0]) + 0.5 * np.nan_to_num(X[:, 1]) ** 2 > 0.6).astype(float)
    X[:500, 2] += 3.0  # site 0 reads feature 2 offset: non-IID
    cuts = [slice(0, 500), slice(500, 1100), slice(1100, 1500)]
    return X, y, [SiteRows(str(i), X[c], y[c], X[c][:0], y[c][:0]) for i, c in enumerate(cuts)]


def test_the_federated_model_is_the_pooled_model_with_the_same_edges() -> None:
    X, y, sites = _sites()
    settings = hb.HistSettings(trees=12, depth=3, min_rows=10)
    federated, record = federate_hist(sites, "binary", settings)
    central = hb.fit_central(X, y, "binary", settings, start=hb.HistBooster("binary", federated.edges, federated.base))
    assert len(federated.trees) == len(central.trees) == 12
    assert np.abs(federated.score(X) - central.score(X)).max() < 1e-9
    for a, b in zip(federated.trees, central.trees, strict=True):
        assert (a.split == b.split).all() and (a.feature == b.feature).all() and (a.threshold == b.threshold).all()
    # the starting score is the log-odds of the pooled positive rate
    assert federated.base == pytest.approx(np.log(y.mean() / (1 - y.mean())))
    # 3 sites x (sketch, setup, 12 trees x at most 3 levels); it learns
    assert 3 * (2 + 12) <= record["messages"] <= 3 * (2 + 36) and record["bytes_from_sites"] > 0
    assert ((federated.predict(X) > 0.5) == y).mean() > 0.9
    # personalisation keeps the federated trees and adds the site's own
    more = hb.fit_central(X[:500], y[:500], "binary", hb.HistSettings(trees=3, depth=2), start=federated)
    assert len(more.trees) == 15 and more.trees[:12] == federated.trees


def test_only_sketches_and_histograms_cross(tmp_path) -> None:
    from forewarn.federated import apps
    from forewarn.federated.inprocess import run_local

    _, _, sites = _sites()
    for i, s in enumerate(sites):
        apps.write_site(apps.site_file(tmp_path / "sites", i), s.X_train, s.y_train, s.X_test, s.y_test)
    server = hist_server_app(3, "binary", str(tmp_path / "out"), hb.HistSettings(trees=2, depth=2))
    grid = run_local(server, apps.client_app(str(tmp_path / "sites")), 3)
    assert {entry[3] for entry in grid.log if entry[0] == "to-server"} == {("arrays", "metrics")}
    assert {entry[2] for entry in grid.log} == {"query"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["hist-booster.npz", "hist-record.json"]


def test_bad_input_is_refused() -> None:
    X, y, sites = _sites()
    with pytest.raises(ConfigError, match="binary or regression"):
        hb.fit_central(X, np.zeros(len(X)), "multiclass")
    with pytest.raises(ConfigError, match="bins"):
        hb.HistSettings(bins=300)
    with pytest.raises(ConfigError, match="before hist-setup"):
        hb.site_reply({"X_train": X, "y_train": y}, {"stage": "hist-level", "kind": "binary"}, {}, {})


def test_bench_hist_arms_and_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    from forewarn.federated import benchmark
    from forewarn.federated.benchmark import comparison, run_seed

    monkeypatch.setattr(benchmark, "HIST_SETTINGS", {"trees": 8, "depth": 3})

    _, _, parts = _sites()
    sites = [
        Site(f"s{i}", p.X_train[:-100], p.y_train[:-100], p.X_train[-100:], p.y_train[-100:], held_out=i == 2)
        for i, p in enumerate(parts)
    ]
    arms = ["hist-local", "hist-federated", "hist-personalised", "hist-pooled"]
    rows, record = run_seed("fleet", sites, Task("binary"), 0, arms)
    assert {r["arm"] for r in rows} == set(arms) and len(rows) == 4 * 3
    assert record["hist"]["sites"] == 2 and record["hist"]["settings"]["trees"] == 8
    c = comparison([r | {"seed": 0} for r in rows], "pr_auc", "hist-")
    local = np.mean([r["pr_auc"] for r in rows if r["arm"] == "hist-local" and not r["held_out"]])
    fed = np.mean([r["pr_auc"] for r in rows if r["arm"] == "hist-federated" and not r["held_out"]])
    assert c["gain_over_local"] == pytest.approx((fed - local) / local)
