"""Normalisation fitted on training data only: per operating regime, and per asset against its own early past.

:class:`OperatingConditionNormaliser`
    Machines run in several operating conditions (altitude and throttle for an engine, load and speed for a
    pump); a sensor's level moves with the condition far more than with wear. The normaliser clusters the
    operating settings with k-means on training rows, then standardises each sensor with the mean and spread
    of its regime on training rows. The number of regimes is chosen by a fixed rule, never by a test score:
    the k in 2..``max_regimes`` with the highest silhouette on (a sample of) the training settings, or one
    regime when even the best silhouette is below ``min_silhouette`` (the settings form no clear clusters).
:class:`BaselineNormaliser`
    Each asset starts life at its own level (manufacturing spread, initial wear). The normaliser subtracts
    the mean of the asset's first ``n_baseline`` rows, causally: a row earlier than that uses only the rows up
    to itself, so nothing is borrowed from the future and it is as fair for a test asset as for a training
    one. ``fit`` learns only the spread of those deviations on training rows (to put columns on one scale).

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> regime = rng.integers(0, 2, 400)
>>> frame = pd.DataFrame({"load": regime * 10.0 + rng.normal(0, 0.1, 400),
...                       "temp": 50.0 + regime * 30.0 + rng.normal(0, 1.0, 400)})
>>> norm = OperatingConditionNormaliser(settings=["load"], columns=["temp"]).fit(frame)
>>> norm.n_regimes_, round(float(norm.transform(frame)["temp"].std()), 1)
(2, 1.0)
>>> early = pd.DataFrame({"unit": [1, 1, 1, 1], "cycle": [1, 2, 3, 4], "temp": [10.0, 12.0, 20.0, 30.0]})
>>> BaselineNormaliser(group="unit", order="cycle", columns=["temp"], n_baseline=2, scale=False).fit(early).transform(early)["temp"].tolist()
[0.0, 1.0, 9.0, 19.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forewarn.exceptions import NotFittedError, SchemaError


def _require(frame: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"{where} expects a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"missing column(s) {', '.join(map(repr, missing))}",
            source=where,
            hint="pass the same columns the normaliser was built with",
        )


class OperatingConditionNormaliser:
    """Cluster operating ``settings`` into regimes (k-means) and standardise ``columns`` per regime."""

    def __init__(
        self,
        *,
        settings: Sequence[str],
        columns: Sequence[str],
        n_regimes: int | None = None,
        max_regimes: int = 8,
        min_silhouette: float = 0.5,
        sample_size: int = 3000,
        seed: int = 0,
    ):
        self.settings = list(settings)
        self.columns = list(columns)
        self.n_regimes = n_regimes
        self.max_regimes = max_regimes
        self.min_silhouette = min_silhouette
        self.sample_size = sample_size
        self.seed = seed

    def fit(self, frame: pd.DataFrame) -> OperatingConditionNormaliser:
        """Learn regimes and per-regime mean/spread from training rows."""
        from threadpoolctl import threadpool_limits  # installed with scikit-learn

        # one thread: k-means on a few thousand points is slower with OpenMP on a busy 2-core machine
        with threadpool_limits(1):
            return self._fit(frame)

    def _fit(self, frame: pd.DataFrame) -> OperatingConditionNormaliser:
        from sklearn.cluster import KMeans

        _require(frame, [*self.settings, *self.columns], "OperatingConditionNormaliser.fit")
        settings = frame[self.settings].to_numpy(dtype="float64")
        if not np.isfinite(settings).all():
            raise SchemaError(
                "operating settings must be finite to assign a regime",
                source="fit",
                hint="impute or drop rows with missing settings",
            )
        self.settings_mean_ = settings.mean(axis=0)
        spread = settings.std(axis=0)
        self.settings_scale_ = np.where(spread > 1e-12, spread, 1.0)
        z = (settings - self.settings_mean_) / self.settings_scale_
        k = self.n_regimes if self.n_regimes is not None else self._choose_k(z)
        if k <= 1:
            self.centroids_ = z.mean(axis=0, keepdims=True)
        else:
            model = KMeans(n_clusters=int(k), n_init=4, random_state=self.seed).fit(z)
            self.centroids_ = model.cluster_centers_
        self.n_regimes_ = len(self.centroids_)
        labels = self._assign(z)
        values = frame[self.columns].to_numpy(dtype="float64", na_value=np.nan)
        self.mean_ = np.zeros((self.n_regimes_, len(self.columns)))
        self.scale_ = np.ones((self.n_regimes_, len(self.columns)))
        for r in range(self.n_regimes_):
            rows = values[labels == r]
            finite = np.isfinite(rows)
            count = finite.sum(axis=0)
            seen = count > 0  # a column never seen in a regime keeps mean 0 and scale 1
            mean = np.divide(np.where(finite, rows, 0.0).sum(axis=0), count, out=np.zeros(len(count)), where=seen)
            var = np.divide(
                np.where(finite, (rows - mean) ** 2, 0.0).sum(axis=0), count, out=np.zeros(len(count)), where=seen
            )
            self.mean_[r] = mean
            self.scale_[r] = np.where(np.sqrt(var) > 1e-9, np.sqrt(var), 1.0)
        return self

    def _choose_k(self, z: np.ndarray) -> int:
        """The documented rule: best silhouette over k = 2..max_regimes, or 1 below ``min_silhouette``."""
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        rng = np.random.default_rng(self.seed)
        sample = z[rng.choice(len(z), size=min(len(z), self.sample_size), replace=False)]
        distinct = len(np.unique(np.round(sample, 9), axis=0))
        best_k, best = 1, -1.0
        for k in range(2, min(self.max_regimes, distinct - 1) + 1):
            labels = KMeans(n_clusters=k, n_init=2, random_state=self.seed).fit_predict(sample)
            score = float(silhouette_score(sample, labels, sample_size=min(len(sample), 2000), random_state=self.seed))
            if score > best:
                best_k, best = k, score
        self.silhouette_ = best
        return best_k if best >= self.min_silhouette else 1

    def _check_fitted(self) -> None:
        if not hasattr(self, "centroids_"):
            raise NotFittedError("this OperatingConditionNormaliser is not fitted yet; call fit(train_frame) first")

    def _assign(self, z: np.ndarray) -> np.ndarray:
        distance = ((z[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(axis=2)
        nearest: np.ndarray = distance.argmin(axis=1)
        return nearest

    def regimes(self, frame: pd.DataFrame) -> np.ndarray:
        """The regime (0..n_regimes_-1) of each row: the nearest training centroid of its settings."""
        self._check_fitted()
        _require(frame, self.settings, "OperatingConditionNormaliser.regimes")
        settings = frame[self.settings].to_numpy(dtype="float64")
        if not np.isfinite(settings).all():
            raise SchemaError("operating settings must be finite to assign a regime", source="transform")
        return self._assign((settings - self.settings_mean_) / self.settings_scale_)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``frame`` whose ``columns`` are standardised with their regime's training mean and spread."""
        labels = self.regimes(frame)
        _require(frame, self.columns, "OperatingConditionNormaliser.transform")
        out = frame.copy()
        values = frame[self.columns].to_numpy(dtype="float64", na_value=np.nan)
        out[self.columns] = (values - self.mean_[labels]) / self.scale_[labels]
        return out

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.fit(frame).transform(frame)


class BaselineNormaliser:
    """Subtract each asset's causal early-life mean (first ``n_baseline`` rows); optionally divide by a training spread."""

    def __init__(self, *, group: str, order: str, columns: Sequence[str], n_baseline: int = 20, scale: bool = True):
        if int(n_baseline) < 1:
            raise SchemaError(f"n_baseline must be at least 1, got {n_baseline}", column="n_baseline")
        self.group = group
        self.order = order
        self.columns = list(columns)
        self.n_baseline = int(n_baseline)
        self.scale = scale

    def _deviations(self, frame: pd.DataFrame) -> np.ndarray:
        _require(frame, [self.group, self.order, *self.columns], "BaselineNormaliser")
        codes, _ = pd.factorize(frame[self.group], use_na_sentinel=False)
        permutation = np.lexsort((frame[self.order].to_numpy(), codes))
        values = frame[self.columns].to_numpy(dtype="float64", na_value=np.nan)[permutation]
        sorted_codes = codes[permutation]
        rank = pd.Series(sorted_codes).groupby(sorted_codes).cumcount().to_numpy()
        early = (rank < self.n_baseline)[:, None]
        finite = np.isfinite(values) & early
        grouped = pd.DataFrame(np.hstack([np.where(finite, values, 0.0), finite.astype("float64")]))
        sums = grouped.groupby(sorted_codes, sort=False).cumsum().to_numpy()
        total, count = sums[:, : len(self.columns)], sums[:, len(self.columns) :]
        baseline = np.divide(total, count, out=np.full_like(total, np.nan), where=count > 0)
        deviations: np.ndarray = np.empty_like(values)
        deviations[permutation] = values - baseline
        return deviations

    def fit(self, frame: pd.DataFrame) -> BaselineNormaliser:
        """Learn the spread of the deviations from baseline on training rows (used when ``scale``)."""
        deviations = self._deviations(frame)
        finite = np.isfinite(deviations)
        count = np.maximum(finite.sum(axis=0), 1)
        spread = np.sqrt((np.where(finite, deviations, 0.0) ** 2).sum(axis=0) / count)
        self.scale_ = np.where(spread > 1e-9, spread, 1.0) if self.scale else np.ones(len(self.columns))
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``frame`` with ``columns`` replaced by (reading - asset baseline) / training spread."""
        if not hasattr(self, "scale_"):
            raise NotFittedError("this BaselineNormaliser is not fitted yet; call fit(train_frame) first")
        out = frame.copy()
        out[self.columns] = self._deviations(frame) / self.scale_
        return out

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.fit(frame).transform(frame)
