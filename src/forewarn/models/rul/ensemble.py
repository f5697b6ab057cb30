"""An ensemble of remaining-useful-life regressors: the (weighted) mean of registered members.

Gradient boosting on window statistics and a convolutional network on the raw window make different
mistakes; their mean is steadier than either. Each member sees the columns it is built for: a member whose
class says ``input_kind = "sequence"`` (such as ``cnn-rul``) gets the ``f"{sensor}__t{k}"`` sequence columns
plus plain columns without ``__`` (say ``cycle``); every other member gets all columns that are not sequence
steps. When that selection is empty (a frame of plain columns), a member gets every column.

State: each member's state under ``m<i>.<name>`` (text blobs such as a LightGBM model included); members
are rebuilt from ``members`` and ``member_params`` on load. Nothing is pickled.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"wear": rng.uniform(0, 1, 300), "noise": rng.normal(size=300)})
>>> model = EnsembleRUL(members=("lightgbm-rul", "lightgbm-rul"),
...                     member_params={"lightgbm-rul": {"n_estimators": 150, "learning_rate": 0.1}}).fit(
...                         X, 150 * (1 - X["wear"]))
>>> young, old = model.predict(pd.DataFrame({"wear": [0.05, 0.9], "noise": [0.0, 0.0]}))
>>> bool(young > 100 and old < 40)
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from forewarn.base.estimator import RULRegressor, State
from forewarn.base.params import SEED, InstanceOf, Interval, SequenceOf
from forewarn.base.registry import get, register
from forewarn.exceptions import ParameterError, StateError

_STEP = re.compile(r"__t\d+$")


def member_columns(kind: str, names: Sequence[str]) -> list[str]:
    """The columns a member of ``input_kind`` ``kind`` receives (see the module docstring).

    >>> names = ["s__mean", "s__t0", "s__t1", "cycle"]
    >>> member_columns("sequence", names), member_columns("features", names)
    (['s__t0', 's__t1', 'cycle'], ['s__mean', 'cycle'])
    """
    if kind == "sequence":
        chosen = [n for n in names if _STEP.search(n) or "__" not in n]
        if not any(_STEP.search(n) for n in chosen):
            chosen = []
    else:
        chosen = [n for n in names if not _STEP.search(n)]
    return chosen or list(names)


@register("ensemble-rul")
class EnsembleRUL(RULRegressor):
    """Mean of registered RUL models (``weights`` for a weighted mean); each member gets the ensemble's ``seed``."""

    tags = {"unit": "cycles", "nan_allowed": False}
    parameter_constraints = {
        "members": [SequenceOf(InstanceOf(str, "a str"))],
        "member_params": [InstanceOf(Mapping, "a dict of member name -> parameters"), None],
        "weights": [SequenceOf(Interval(float, 0)), None],
        "seed": SEED,
    }

    def __init__(
        self,
        *,
        members: Sequence[str] = ("lightgbm-rul", "cnn-rul"),
        member_params: Mapping[str, Mapping[str, Any]] | None = None,
        weights: Sequence[float] | None = None,
        seed: int = 0,
    ):
        self.members = members
        self.member_params = member_params
        self.weights = weights
        self.seed = seed

    def _validate_params(self) -> None:
        super()._validate_params()
        owner = type(self).__name__
        for name in self.members:
            task = getattr(get(name), "task", None)
            if task != "rul":
                raise ParameterError(
                    f"The 'members' parameter of {owner} must name RUL regressors. Got {name!r}, "
                    f"a {task!r} model, instead.",
                    param="members",
                    estimator=owner,
                )
        if self.weights is not None and (len(self.weights) != len(self.members) or sum(self.weights) <= 0):
            raise ParameterError(
                f"The 'weights' parameter of {owner} must hold one non-negative number per member, "
                f"not all zero. Got {list(self.weights)!r} for {len(self.members)} members instead.",
                param="weights",
                estimator=owner,
            )

    def _build_members(self) -> list[RULRegressor]:
        built = []
        for name in self.members:
            cls = get(name)
            params = dict((self.member_params or {}).get(name, {}))
            if "seed" in cls._param_names():
                params.setdefault("seed", self.seed)
            built.append(cls(**params))
        return built

    def _weights(self) -> np.ndarray:
        if self.weights is None:
            return np.full(len(self.members), 1.0 / len(self.members))
        weights = np.asarray(self.weights, dtype="float64")
        return weights / weights.sum()

    def _columns(self, member: RULRegressor) -> list[str]:
        return member_columns(getattr(member, "input_kind", "features"), list(self.feature_names_in_))

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> None:
        self.members_ = self._build_members()
        for member in self.members_:
            member.fit(X[self._columns(member)], y)

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        predictions = np.stack([m.predict(X[self._columns(m)]) for m in self.members_])
        return self._weights() @ predictions

    # -- state: every member's state under a prefix ------------------------------------------------------
    def get_state(self) -> State:
        state = super().get_state()
        for i, member in enumerate(self.members_):
            for name, value in member.get_state().items():
                state[f"m{i}.{name}"] = value
        return state

    def set_state(self, state: Mapping[str, np.ndarray | str]) -> EnsembleRUL:
        self._member_states = [
            {k.removeprefix(f"m{i}."): v for k, v in state.items() if k.startswith(f"m{i}.")}
            for i in range(len(self.members))
        ]
        return super().set_state(state)  # type: ignore[return-value]

    def _restore(self) -> None:
        members = self._build_members()
        for i, (member, member_state) in enumerate(zip(members, self._member_states, strict=True)):
            if not member_state:
                raise StateError(f"ensemble state lacks member {i} ({self.members[i]})")
            member.set_state(member_state)
        self.members_ = members
