"""Federated gradient boosting by bagging: every site boosts LightGBM trees on its own rows, the server keeps the
sites' boosters and the global model averages their predictions, weighted by each site's training rows.

Why bagging and not histogram aggregation or cyclic boosting: one message per site (the site's trees as
LightGBM's model text: split thresholds and leaf values, no row), no round trips per tree or per level, and no
site's rows shape another site's trees, so a site that joins late or leaves costs the others nothing. The price:
every booster sees only its own site's rows (a split that needs two sites' data together is never found), which
histogram aggregation would keep; the bench measures what the price is (``lightgbm-*`` arms).

It runs through the same Flower ``ClientApp`` (:func:`forewarn.federated.apps.client_app`): the server
(:mod:`~forewarn.federated.boosting`) sends a ``query`` with ``stage = "lightgbm"`` and the booster settings; the
site answers with its model text (as bytes) and its row count (:func:`site_answer`).

>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 3)); y = np.where(X[:, 0] > 0, 50.0, 10.0)
>>> text = train_booster(X, y, "regression", {"num_leaves": 7}, seed=0)
>>> bag = BaggedBoosters([text, text], [100.0, 300.0], "regression")
>>> bool(np.corrcoef(bag.predict(X), y)[0, 1] > 0.95)
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from forewarn.exceptions import ConfigError, DataNotFoundError

STAGE = "lightgbm"
BOOSTERS_FILE = "boosters.json"
#: the boosters' settings unless told otherwise (the benches' `lightgbm-*` arms use these)
DEFAULTS: dict[str, Any] = {
    "num_boost_round": 200,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
}


def _objective(kind: str, classes: int) -> dict[str, Any]:
    if kind == "regression":
        return {"objective": "regression"}
    if kind == "binary":
        return {"objective": "binary"}
    if kind == "multiclass":
        return {"objective": "multiclass", "num_class": int(classes)}
    raise ConfigError(f"kind={kind!r} is not binary, multiclass or regression")


def train_booster(
    X: np.ndarray, y: np.ndarray, kind: str, settings: dict[str, Any], seed: int, classes: int = 1
) -> str:
    """One site's LightGBM booster on its own rows, single-threaded, as LightGBM's model text."""
    import lightgbm as lgb

    if len(X) != len(y) or len(X) == 0:
        raise DataNotFoundError(f"a site has {len(X)} rows and {len(y)} targets to boost on")
    options = dict(DEFAULTS) | dict(settings)
    rounds = int(options.pop("num_boost_round"))
    params = options | _objective(kind, classes) | {"seed": int(seed), "num_threads": 1, "verbose": -1}
    params["deterministic"] = True
    booster = lgb.train(params, lgb.Dataset(np.asarray(X, dtype="float64"), label=np.asarray(y)), rounds)
    return str(booster.model_to_string())


@dataclass
class BaggedBoosters:
    """The global model: the sites' boosters, their predictions averaged with weights (training rows)."""

    models: list[str]
    weights: list[float]
    kind: str

    def __post_init__(self) -> None:
        if not self.models or len(self.models) != len(self.weights) or sum(self.weights) <= 0:
            raise ConfigError(f"{len(self.models)} boosters with weights {self.weights}: need one positive each")

    def predict(self, X: np.ndarray) -> np.ndarray:
        """RUL (regression), P(failure) (binary) or class probabilities (multiclass), averaged over boosters."""
        import lightgbm as lgb

        total = float(sum(self.weights))
        out: np.ndarray | None = None
        for text, weight in zip(self.models, self.weights, strict=True):
            p = np.asarray(lgb.Booster(model_str=text).predict(np.asarray(X, dtype="float64"), num_threads=1))
            out = p * (weight / total) if out is None else out + p * (weight / total)
        assert out is not None
        return np.maximum(out, 0.0) if self.kind == "regression" else out


def site_answer(data: dict[str, np.ndarray], config: Any) -> tuple[np.ndarray, int]:
    """What a site's ``ClientApp`` answers the ``lightgbm`` query with: its model text as bytes, its rows."""
    settings = json.loads(str(config["settings"]))
    text = train_booster(
        data["X_train"],
        data["y_train"],
        str(config["kind"]),
        settings,
        seed=int(config["seed"]) * 100_003 + int(config["site-index"]),
        classes=int(config["classes"]),
    )
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy(), len(data["X_train"])
