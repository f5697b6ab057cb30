"""Texture-statistics anomaly detector for lines with good images only: a filter bank and the nearest good image.

A surface defect changes the texture of the whole image (its grain, its blotches, its streaks), so each image is
described by a small vector of texture statistics, computed with scipy's Gaussian filters (no pretrained network,
nothing fetched):

* grey level (11): mean, standard deviation, skewness, kurtosis and the 1, 5, 25, 50, 75, 95, 99th percentiles
  (a fixed camera and lighting make the brightness a property of the surface);
* filter-bank energies (44): the image standardised, then at scales sigma = 1, 2, 4, 8 px the Gaussian derivatives
  of orders (0, 1), (1, 0), (0, 2), (2, 0), (1, 1) (edges and ridges across and along the rolling direction), each
  as the mean absolute response and the response's standard deviation, and the mean absolute residual of the image
  from its Gaussian blur (fine-grain roughness at that scale).

:class:`TextureDetector` standardises the good images' vectors (each feature to zero mean and unit variance) and
scores an image by its mean squared distance to the ``k`` nearest good images (PatchCore's nearest-neighbour
distance, on whole images): good surfaces of several kinds each keep their own neighbourhood, where one Gaussian
would spread over all of them. Higher = more anomalous, no threshold inside (thresholds:
:mod:`forewarn.quality.decisions`). On NEU-DET with each class held out in turn as the defect never seen
(``benchmarks/quality_unsupervised.py --backbone texture``) it is far ahead of the CNN patch features of
:mod:`forewarn.quality.patches`: BENCHMARKS.md, issue 17. ``k = 1`` with the grey-level statistics was chosen by
a validation inside the seen classes (each seen class held out in turn from the training images).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> good = rng.normal(0.5, 0.05, (12, 1, 48, 48)).clip(0, 1)
>>> bad = good[:4].copy(); bad[:, :, 10:30, 20:24] = 0.9                 # a bright streak
>>> det = TextureDetector().fit(good[:8])
>>> texture_features(good[:2]).shape, bool(det.score(bad).min() > det.score(good[8:]).max())
((2, 55), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forewarn.exceptions import NotFittedError, ParameterError, SchemaError

SCALES = (1.0, 2.0, 4.0, 8.0)
ORDERS = ((0, 1), (1, 0), (0, 2), (2, 0), (1, 1))
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
N_GREY = 4 + len(PERCENTILES)


def _as_images(X: Any) -> np.ndarray:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 3 or min(arr.shape[1:]) < 16 or len(arr) == 0:
        raise SchemaError(
            f"images must be a non-empty greyscale batch (n, 1, h, w) or (n, h, w) of at least 16 px, got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise SchemaError("images hold NaN or infinite pixel values")
    return arr


def _one(image: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    std = image.std()
    z = (image - image.mean()) / max(std, 1e-3)
    grey = [image.mean(), std, (z**3).mean(), (z**4).mean(), *np.percentile(image, PERCENTILES)]
    bank: list[float] = []
    for sigma in SCALES:
        for order in ORDERS:
            response = ndimage.gaussian_filter(z, sigma, order=order)
            bank += [float(np.abs(response).mean()), float(response.std())]
        bank.append(float(np.abs(z - ndimage.gaussian_filter(z, sigma)).mean()))
    return np.asarray(grey + bank)


def texture_features(X: Any) -> np.ndarray:
    """The ``(n, 55)`` texture vectors of greyscale images ``X`` (``(n, 1, h, w)`` or ``(n, h, w)``, in [0, 1]).

    Columns: the 11 grey-level statistics, then per scale the 10 derivative energies and the blur residual.
    """
    return np.stack([_one(image) for image in _as_images(X)])


class TextureDetector:
    """Nearest-good-image distance on texture statistics (see the module text).

    ``k``: neighbours averaged; ``grey``: keep the grey-level statistics (False: the filter bank only, for lines
    whose lighting varies).
    """

    def __init__(self, *, k: int = 1, grey: bool = True) -> None:
        self.k = k
        self.grey = grey

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"k": self.k, "grey": self.grey}

    def _columns(self, feats: np.ndarray) -> np.ndarray:
        feats = np.asarray(feats, dtype=np.float64)
        if feats.ndim != 2 or feats.shape[1] != N_GREY + len(SCALES) * (2 * len(ORDERS) + 1):
            raise SchemaError(f"texture features must be an (n, 55) array from texture_features, got {feats.shape}")
        return feats if self.grey else feats[:, N_GREY:]

    def fit(self, X: Any, y: Any = None) -> TextureDetector:
        """Learn the good images ``X`` (all good); returns self."""
        return self.fit_features(texture_features(X))

    def fit_features(self, feats: np.ndarray) -> TextureDetector:
        """Learn from good images' :func:`texture_features` (computed once, e.g. for several splits)."""
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ParameterError(
                f"The 'k' parameter of TextureDetector must be an int >= 1. Got {self.k!r} instead.",
                param="k",
                estimator="TextureDetector",
            )
        cols = self._columns(feats)
        if len(cols) < self.k:
            raise SchemaError(f"TextureDetector needs at least k={self.k} good images, got {len(cols)}")
        self.mean_ = cols.mean(axis=0)
        self.scale_ = np.maximum(cols.std(axis=0), 1e-9)
        self.bank_ = (cols - self.mean_) / self.scale_
        return self

    def score(self, X: Any) -> np.ndarray:
        """One score per image: mean squared standardised distance to its ``k`` nearest good images."""
        return self.score_features(texture_features(X))

    def score_features(self, feats: np.ndarray) -> np.ndarray:
        """:meth:`score` from precomputed :func:`texture_features`."""
        if not hasattr(self, "bank_"):
            raise NotFittedError("this TextureDetector is not fitted yet: call fit(good_images) first")
        q = (self._columns(feats) - self.mean_) / self.scale_
        bank_sq = (self.bank_**2).sum(axis=1)
        out = np.empty(len(q))
        for start in range(0, len(q), 1024):
            part = q[start : start + 1024]
            dist = (part**2).sum(axis=1)[:, None] - 2 * part @ self.bank_.T + bank_sq[None, :]
            out[start : start + 1024] = np.maximum(np.sort(dist, axis=1)[:, : self.k], 0.0).mean(axis=1)
        return out
