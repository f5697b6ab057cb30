"""RUL intervals that cover what they say for a new asset (issue 12 item 6): every held-out asset one unit of
evidence, the card's coverage judged asset by asset, and no upper bound past the model's RUL cap."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from forewarn.bundles.bundle import (
    INTERVAL,
    QUANTILE_LEVELS,
    SPEC_FILE,
    Bundle,
    ResidualModel,
    interval_bands,
    make_bundle,
    residual_bands,
)
from forewarn.exceptions import StateError
from forewarn.features.last_row import feature_names
from forewarn.features.window import DEFAULT_STATS
from forewarn.models.rul.lightgbm_rul import LightGBMRUL
from forewarn.train.holdout import interval_figures, rul_holdout

NAMES = feature_names(("temp",), DEFAULT_STATS)


def _assets(rng: np.random.Generator, n: int, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` assets whose errors move together: each asset's residuals are its own offset plus a little noise."""
    predicted = np.tile(np.linspace(10.0, 200.0, rows), n)
    offset = np.repeat(rng.normal(0.0, 20.0, n), rows)
    truth = predicted + offset + rng.normal(0.0, 2.0, n * rows)
    return predicted, truth, np.repeat([f"a{i}" for i in range(n)], rows)


def test_one_long_asset_does_not_set_the_interval_of_the_others() -> None:
    rng = np.random.default_rng(0)
    p, t, g = _assets(rng, 12, 50)
    steady = np.linspace(10.0, 200.0, 5000)  # one asset with 100 times the rows, its model exactly right
    p, t, g = np.r_[p, steady], np.r_[t, steady], np.r_[g, ["long"] * 5000]
    new_p, new_t, _ = _assets(np.random.default_rng(1), 200, 20)
    fitted = interval_bands(p, t, g)
    low, high = fitted.bounds(new_p)
    assets_cover = float(np.mean((new_t >= low) & (new_t <= high)))
    edges, q = residual_bands(p, t, 1)  # the rows' own quantiles: the long asset's zeros swamp the others
    rows_low = new_p + np.interp(INTERVAL[0], QUANTILE_LEVELS, q[0])
    rows_high = new_p + np.interp(INTERVAL[1], QUANTILE_LEVELS, q[0])
    rows_cover = float(np.mean((new_t >= rows_low) & (new_t <= rows_high)))
    assert fitted.assets == 13
    assert assets_cover >= 0.8 and rows_cover < 0.5


def test_bands_need_rows_of_several_assets() -> None:
    rng = np.random.default_rng(2)
    p, t, g = _assets(rng, 12, 40)
    # two more assets whose predictions alone fill the lowest band: it would be fitted on two assets
    low_p = np.linspace(0.0, 5.0, 400)
    p2, t2, g2 = np.r_[p, low_p], np.r_[t, low_p + 1.0], np.r_[g, ["x"] * 200 + ["y"] * 200]
    assert len(interval_bands(p2, t2, g2, bands=4, min_assets=3).edges) + 1 < 4
    assert len(interval_bands(p, t, g, bands=4, min_assets=3).edges) + 1 == 4


def test_the_card_judges_each_held_out_asset_by_the_others() -> None:
    rng = np.random.default_rng(3)
    p, t, g = _assets(rng, 10, 60)
    figures = interval_figures(p, t, g, cap=np.inf)
    assert figures["interval_assets"] == 10
    assert 0.0 <= figures["interval_coverage_worst_asset"] <= figures["interval_coverage"] <= 1.0
    assert figures["interval_width_median"] > 0
    # an asset judged by itself would be covered (its own residuals): left out, the one far-off asset is missed
    far = np.r_[t[g != "a0"], p[g == "a0"] + 500.0]
    order = np.r_[p[g != "a0"], p[g == "a0"]]
    groups = np.r_[g[g != "a0"], g[g == "a0"]]
    assert interval_figures(order, far, groups)["interval_coverage_worst_asset"] == 0.0
    assert interval_figures(p[g == "a1"], t[g == "a1"], g[g == "a1"])["interval_coverage"] is None  # one asset


def test_rul_holdout_reports_rows_below_the_cap_and_ships_the_interval() -> None:
    rng = np.random.default_rng(4)
    p, t, g = _assets(rng, 10, 60)
    cap = 150.0
    t = np.minimum(np.maximum(t, 0.0), cap)
    judged = rul_holdout(p, t, g, 24.0, 0)
    metrics = judged.metrics
    assert metrics["interval_assets"] == 10 and metrics["interval_bands"] >= 1
    assert metrics["interval_coverage_below_cap"] is not None
    assert metrics["interval_coverage"] >= metrics["interval_coverage_below_cap"]  # rows at the cap: the easy ones
    assert isinstance(judged.residual_model, ResidualModel) and judged.residual_model.interval is not None
    edges, quantiles = judged.residual_model  # unpacks as the (edges, quantiles) it always was
    assert quantiles.shape[1] == len(QUANTILE_LEVELS)


def _fleet(rows: int = 1200) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    wear = rng.uniform(0, 1, rows)
    X = pd.DataFrame(rng.normal(size=(rows, len(NAMES))), columns=NAMES)
    X["temp__mean"] = 60 + 40 * wear + rng.normal(0, 2, rows)
    rul = np.minimum(np.maximum(200 * (1 - wear) + rng.normal(0, 10, rows), 0.0), 120.0)
    return X, rul, np.repeat(np.arange(rows // 20), 20)


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("capped") / "b"
    X, rul, groups = _fleet()
    model = LightGBMRUL(seed=0, n_estimators=40, max_rul=120.0).fit(X, rul)
    make_bundle(model, folder, channels=("temp",), window=3, horizon=24.0, X_holdout=X, y_holdout=rul, groups=groups)
    return folder, X


def test_no_interval_reaches_past_the_models_cap(capped: tuple[Path, pd.DataFrame]) -> None:
    folder, X = capped
    bundle = Bundle(folder)
    spec = json.loads((folder / SPEC_FILE).read_text())
    assert bundle.rul_cap == 120.0 and spec["interval_offsets"]
    out = bundle.predict(X)
    assert out.rul is not None and out.rul_low is not None and out.rul_high is not None
    top = np.maximum(120.0, out.rul)  # the cap, or an estimate past it (a boosted model's may pass it a little)
    assert (out.rul_high <= top).all() and (out.rul_low <= out.rul_high).all()
    band = np.searchsorted(bundle.interval.edges, out.rul, side="right")
    past = out.rul + bundle.interval.offsets[band, 1] > top  # the intervals the residuals alone put past the cap
    assert past.any() and (out.rul_high[past] == top[past]).all()  # "120 h or more", never "100-146 h"


INTERVAL_KEYS = ("interval_edges", "interval_offsets")


def _copy_with_spec(folder: Path, to: Path, edit: Callable[[dict[str, Any]], object]) -> Path:
    """A copy of the bundle ``folder`` at ``to`` whose serving spec ``edit`` changed in place."""
    to.mkdir()
    for file in folder.iterdir():
        (to / file.name).write_bytes(file.read_bytes())
    spec = json.loads((to / SPEC_FILE).read_text())
    edit(spec)
    (to / SPEC_FILE).write_text(json.dumps(spec))
    return to


def test_a_bundle_written_before_the_interval_keys_serves_its_residual_quantiles(
    capped: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    folder, X = capped
    old = _copy_with_spec(folder, tmp_path / "old", lambda spec: [spec.pop(k) for k in INTERVAL_KEYS])
    spec = json.loads((old / SPEC_FILE).read_text())
    bundle = Bundle(old)
    out = bundle.predict(X)
    assert out.rul is not None and out.rul_low is not None and out.rul_high is not None
    q = np.asarray(spec["residual_quantiles"]).reshape(len(spec["residual_edges"]) + 1, -1)
    band = np.searchsorted(spec["residual_edges"], out.rul, side="right")
    expected_low = np.maximum(out.rul + np.array([np.interp(INTERVAL[0], QUANTILE_LEVELS, r) for r in q])[band], 0.0)
    np.testing.assert_allclose(out.rul_low, np.minimum(expected_low, out.rul_high))
    assert (out.rul_high <= np.maximum(120.0, out.rul)).all()  # its model's cap holds there too
    np.testing.assert_allclose(out.probability, Bundle(folder).predict(X).probability)  # the probability unchanged


def test_a_spec_with_a_broken_interval_is_refused_clearly(capped: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    folder, _ = capped
    bad = _copy_with_spec(
        folder, tmp_path / "bad", lambda spec: spec.update(interval_offsets=spec["interval_offsets"][:-1])
    )
    with pytest.raises(StateError, match="interval_offsets need a"):
        Bundle(bad)
