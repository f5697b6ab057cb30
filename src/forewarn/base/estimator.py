"""The estimator protocol: scikit-learn conventions, one small base class per task.

* The constructor only stores keyword hyper-parameters; ``fit(X, y=None)`` validates, learns and returns
  ``self``; learned attributes end in ``_``; ``get_params``, ``set_params``, :func:`clone` and ``repr`` work.
* Every hyper-parameter has declared constraints (``parameter_constraints``, :mod:`forewarn.base.params`);
  ``fit`` checks them before anything else and raises :class:`~forewarn.exceptions.ParameterError` in
  scikit-learn's wording.
* scikit-learn sees the models as its own: ``__sklearn_tags__`` (regressor for RUL, classifier for failure and
  fault, neither for anomaly detectors), ``get_params(deep=...)``, so ``sklearn.base.clone``,
  ``cross_val_score`` and ``is_regressor``/``is_classifier`` work (see ``docs/sklearn-compatibility.md``).
* Randomness comes from one ``seed`` parameter.
* State is a dict of named arrays (``get_state``/``set_state``): the same state serves save/load and
  federated averaging.
* Scores are not decisions: no threshold lives inside a model.

>>> from forewarn.base.params import Interval
>>> class Mean(RULRegressor):
...     parameter_constraints = {"shift": [Interval(float)]}
...     def __init__(self, *, shift: float = 0.0):
...         self.shift = shift
...     def _fit(self, X, y):
...         self.mean_ = np.asarray([np.mean(y) + self.shift])
...     def _predict(self, X):
...         return np.full(len(X), self.mean_[0])
...     def _state_names(self):
...         return ("mean_",)
>>> import pandas as pd
>>> model = Mean(shift=1.0).fit(pd.DataFrame({"a": [1.0, 2.0]}), [10.0, 20.0])
>>> model
Mean(shift=1.0)
>>> model.predict(pd.DataFrame({"a": [3.0]})).tolist()
[16.0]
>>> Mean(shift="up").fit(pd.DataFrame({"a": [1.0]}), [1.0])
Traceback (most recent call last):
...
forewarn.exceptions.ParameterError: The 'shift' parameter of Mean must be a float. Got 'up' instead.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from forewarn.base.params import Constraints, validate_params
from forewarn.exceptions import FeatureMismatchError, NotFittedError, ParameterError, SchemaError, StateError

State = dict[str, np.ndarray | str]


class Estimator:
    """Base of every Forewarn model. Subclasses implement ``_fit`` and their task's ``_predict``-style hook."""

    #: the task this estimator solves: "anomaly", "failure", "rul" or "fault"
    task: ClassVar[str] = ""
    #: the name it is registered under (set by :func:`forewarn.base.registry.register`)
    registry_name: ClassVar[str] = ""
    #: capabilities: {"online": bool, "requires_y": bool, "nan_allowed": bool, "deep": bool, "unit": str}
    tags: ClassVar[Mapping[str, Any]] = {}
    #: accepted values of each constructor parameter (see :mod:`forewarn.base.params`); checked by ``fit``
    parameter_constraints: ClassVar[Constraints] = {}

    # -- parameters -------------------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        names = []
        for name, param in signature.parameters.items():
            if name == "self" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            names.append(name)
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's keyword hyper-parameters and their current values.

        ``deep`` is accepted for scikit-learn; no Forewarn parameter holds an estimator, so it changes nothing.
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Estimator:
        """Change hyper-parameters; an unknown name is a :class:`ParameterError`. Returns ``self``.

        Values are stored as given and checked by the next ``fit`` (as in scikit-learn).
        """
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ParameterError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {', '.join(valid)}.",
                    param=name,
                    estimator=type(self).__name__,
                )
            setattr(self, name, value)
        return self

    def _validate_params(self) -> None:
        """Check every hyper-parameter against ``parameter_constraints`` (``fit`` calls this first)."""
        validate_params(self, self.parameter_constraints)

    def __repr__(self) -> str:
        defaults = {n: p.default for n, p in inspect.signature(type(self).__init__).parameters.items()}
        shown = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults.get(k))]
        return f"{type(self).__name__}({', '.join(shown)})"

    @classmethod
    def get_tags(cls) -> dict[str, Any]:
        """Tags with defaults filled in."""
        return {
            "online": False,
            "requires_y": cls.task in {"failure", "rul", "fault"},
            "nan_allowed": False,
            "deep": False,
            "unit": "",
            **cls.tags,
        }

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (imported here, so ``import forewarn`` does not import scikit-learn)."""
        from sklearn.utils import ClassifierTags, InputTags, RegressorTags, Tags, TargetTags

        tags = self.get_tags()
        kind = {"rul": "regressor", "failure": "classifier", "fault": "classifier"}.get(self.task)
        return Tags(
            estimator_type=kind,
            target_tags=TargetTags(required=bool(tags["requires_y"])),
            classifier_tags=ClassifierTags(multi_class=self.task == "fault") if kind == "classifier" else None,
            regressor_tags=RegressorTags() if kind == "regressor" else None,
            input_tags=InputTags(allow_nan=bool(tags["nan_allowed"])),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return bool(getattr(self, "is_fitted_", False))

    # -- fitting ----------------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame | np.ndarray, y: Any = None) -> Estimator:
        """Check the hyper-parameters, validate ``X`` (and ``y``), learn, and return ``self``."""
        self._validate_params()
        frame = self._validate_fit_input(X)
        if self.get_tags()["requires_y"]:
            if y is None:
                raise SchemaError(
                    f"{type(self).__name__} requires y to be passed, but the target y is None", hint="pass fit(X, y)"
                )
            y = np.asarray(y)
            if y.ndim != 1:
                raise SchemaError(
                    f"y should be a 1d array, got an array of shape {y.shape} instead",
                    column="y",
                    hint="pass one target per row",
                )
            if len(y) != len(frame):
                raise SchemaError(f"y has {len(y)} rows but X has {len(frame)}", column="y")
        self._fit(frame, y)
        self.is_fitted_ = True
        return self

    def _fit(self, X: pd.DataFrame, y: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _validate_fit_input(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        frame = as_frame(X)
        if len(frame) == 0:
            raise SchemaError(f"{type(self).__name__}.fit got no rows")
        if len(frame.columns) == 0:
            raise SchemaError(
                f"Found array with 0 feature(s) (shape={frame.shape}) while a minimum of 1 is required.",
                hint="pass at least one feature column",
            )
        self._check_values(frame)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=str)
        self.n_features_in_ = len(self.feature_names_in_)
        return frame

    def _check_values(self, frame: pd.DataFrame) -> None:
        values = frame.to_numpy(dtype="float64", na_value=np.nan) if len(frame.columns) else np.empty((0, 0))
        bad = np.isinf(values) if self.get_tags()["nan_allowed"] else ~np.isfinite(values)
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            raise SchemaError(
                f"value {values[row, col]!r} at row {row} is not finite (NaN or inf)",
                column=str(frame.columns[col]),
                hint="impute or drop missing values before this model",
            )

    def _validate_input(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """Check fitted state and columns; return the frame in the fitted column order."""
        self._check_fitted()
        if not isinstance(X, pd.DataFrame):
            X = np.asarray(X)
            width = X.shape[1] if X.ndim == 2 else None
            if width is not None and width != len(self.feature_names_in_):
                raise FeatureMismatchError(
                    f"X has {width} features, but {type(self).__name__} is expecting {len(self.feature_names_in_)} "
                    "features as input",
                    hint="pass the same feature columns the model was fitted on",
                )
        frame = as_frame(X, names=self.feature_names_in_ if not isinstance(X, pd.DataFrame) else None)
        expected = list(self.feature_names_in_)
        got = [str(c) for c in frame.columns]
        if got != expected:
            missing = [c for c in expected if c not in got]
            extra = [c for c in got if c not in expected]
            if missing or extra:
                raise FeatureMismatchError(
                    f"columns differ from those seen in fit: missing {missing or 'none'}, unexpected {extra or 'none'}",
                    source=type(self).__name__,
                    hint="pass the same feature columns the model was fitted on",
                )
            frame = frame[expected]
        self._check_values(frame)
        return frame

    def _check_fitted(self) -> None:
        if not getattr(self, "is_fitted_", False):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    # -- state --------------------------------------------------------------------------------------------
    def _state_names(self) -> tuple[str, ...]:
        """Names of the learned attributes that make up the state (besides the feature names)."""
        return ()

    def get_state(self) -> State:
        """The learned state as named arrays (text blobs allowed for e.g. LightGBM models)."""
        self._check_fitted()
        state: State = {"feature_names_in_": np.asarray(self.feature_names_in_, dtype=str)}
        for name in self._state_names():
            value = getattr(self, name)
            state[name] = value if isinstance(value, str) else np.asarray(value)
        return state

    def set_state(self, state: Mapping[str, np.ndarray | str]) -> Estimator:
        """Restore learned state from :meth:`get_state` output. Returns ``self``."""
        needed = ("feature_names_in_", *self._state_names())
        missing = [n for n in needed if n not in state]
        if missing:
            raise StateError(f"state for {type(self).__name__} lacks {', '.join(missing)}")
        for name in needed:
            value = state[name]
            setattr(self, name, value if isinstance(value, str) else np.array(value, copy=True))
        self.feature_names_in_ = np.asarray(self.feature_names_in_, dtype=str)
        self.n_features_in_ = len(self.feature_names_in_)
        self._restore()
        self.is_fitted_ = True
        return self

    def _restore(self) -> None:
        """Rebuild derived objects (boosters, torch modules) after :meth:`set_state`."""


class AnomalyDetector(Estimator):
    """Unsupervised: ``score(X)`` is higher for more anomalous rows. No threshold inside."""

    task = "anomaly"

    def score(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        frame = self._validate_input(X)
        return np.asarray(self._score(frame), dtype="float64")

    def _score(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class FailurePredictor(Estimator):
    """``predict_proba(X)``: probability of failure within the model's ``horizon``."""

    task = "failure"

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        frame = self._validate_input(X)
        return np.clip(np.asarray(self._predict_proba(frame), dtype="float64"), 0.0, 1.0)  # type: ignore[no-any-return]

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class RULRegressor(Estimator):
    """``predict(X)``: remaining useful life, never negative, in the unit declared by the ``unit`` tag."""

    task = "rul"

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        frame = self._validate_input(X)
        return np.maximum(np.asarray(self._predict(frame), dtype="float64"), 0.0)  # type: ignore[no-any-return]

    def _predict(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class FaultClassifier(Estimator):
    """``predict_proba(X)`` with one column per entry of ``classes_``; ``predict`` gives the likeliest class."""

    task = "fault"

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        frame = self._validate_input(X)
        return np.asarray(self._predict_proba(frame), dtype="float64")

    classes_: np.ndarray  # set by fit

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        classes: np.ndarray = np.asarray(self.classes_)[np.argmax(self.predict_proba(X), axis=1)]
        return classes

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def as_frame(X: pd.DataFrame | np.ndarray, names: Any = None) -> pd.DataFrame:
    """A DataFrame view of ``X``; arrays get ``x0, x1, ...`` (or the given) column names."""
    if isinstance(X, pd.DataFrame):
        return X
    if hasattr(X, "toarray") and hasattr(X, "nnz"):  # a scipy sparse matrix or array
        raise SchemaError("sparse input is not supported", hint="pass a dense array or DataFrame (X.toarray())")
    raw = np.asarray(X)
    if np.iscomplexobj(raw):
        raise SchemaError("Complex data not supported", hint="pass real-valued features (e.g. magnitudes)")
    array = raw.astype("float64")
    if array.ndim != 2:
        raise SchemaError(
            f"X must be 2-D (rows x features), got shape {array.shape}",
            hint="Reshape your data: X.reshape(-1, 1) for a single feature, X.reshape(1, -1) for a single row",
        )
    if names is None or len(names) != array.shape[1]:
        names = [f"x{i}" for i in range(array.shape[1])]
    return pd.DataFrame(array, columns=[str(n) for n in names])


def clone(estimator: Estimator) -> Estimator:
    """A new, unfitted estimator with the same hyper-parameters.

    >>> from forewarn.models.anomaly.pca import PCADetector
    >>> clone(PCADetector(variance=0.9))
    PCADetector(variance=0.9)
    """
    params = {k: copy.deepcopy(v) for k, v in estimator.get_params().items()}
    return type(estimator)(**params)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays and other things without a plain truth value
        return a is b
