"""Unsupervised defect detector for lines that only have good images: patch features and a distance.

In the manner of PaDiM (Defard et al., 2021: a Gaussian of patch features) and PatchCore (Roth et al., 2022: the
nearest patch in a memory bank), without a pretrained backbone (none is fetched at run time): patch features are
the feature maps of blocks 2 and 3 of a :class:`~forewarn.quality.vision.DefectClassifier` network (a trained one
given as ``backbone``, or the same architecture with random weights from ``seed``), block 2 average-pooled to
block 3's grid and concatenated, so each patch of the image is one vector. Surfaces are textures, so one model
covers every patch position (no per-position Gaussian as in PaDiM):

* ``method="gaussian"``: mean and shrunk covariance of all good patches; a patch's score is its Mahalanobis
  distance;
* ``method="knn"``: distance to the nearest good patch of a random memory bank of ``bank`` patches.

An image's score is its highest patch score; :meth:`PatchDetector.patch_map` gives the map. Higher = more
anomalous, no threshold inside (calibration and thresholds: :mod:`forewarn.quality.decisions`).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> good = rng.normal(0.5, 0.05, (12, 1, 32, 32)).astype(np.float32)
>>> bad = good[:4].copy(); bad[:, :, 8:16, 8:16] += 0.6                  # a bright square
>>> det = PatchDetector(size=32, seed=0).fit(good[:8])
>>> bool(det.score(bad).min() > det.score(good[8:]).max())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forewarn.exceptions import NotFittedError, ParameterError, SchemaError
from forewarn.quality.images import standardise
from forewarn.quality.vision import DefectClassifier, build_network

METHODS = ("gaussian", "knn")


class PatchDetector:
    """Patch-feature anomaly detector (see the module text)."""

    def __init__(
        self,
        *,
        size: int = 64,
        width: int = 16,
        method: str = "gaussian",
        bank: int = 4000,
        shrinkage: float = 0.01,
        seed: int = 0,
        backbone: DefectClassifier | None = None,
    ) -> None:
        self.size = size
        self.width = width
        self.method = method
        self.bank = bank
        self.shrinkage = shrinkage
        self.seed = seed
        self.backbone = backbone

    def _net(self) -> Any:
        import torch

        torch.set_num_threads(1)
        if self.backbone is not None:
            return self.backbone._fitted()
        torch.manual_seed(self.seed)
        net = build_network(2, self.width)
        net.eval()
        return net

    def _features(self, X: np.ndarray) -> np.ndarray:
        """(n, grid, grid, d) patch features."""
        import torch

        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 4 or X.shape[1:] != (1, self.size, self.size):
            raise SchemaError(f"images must be a batch of shape (n, 1, {self.size}, {self.size}), got {X.shape}")
        layers = list(self.net_.features)
        # blocks are (conv, bn, relu, pool) x 3 then (conv, bn, relu): block 2 ends at 8, block 3 at 12
        out = []
        with torch.inference_mode():
            for start in range(0, len(X), 64):
                h = torch.as_tensor(standardise(X[start : start + 64]))
                for layer in layers[:8]:
                    h = layer(h)
                second = h
                for layer in layers[8:12]:
                    h = layer(h)
                pooled = torch.nn.functional.adaptive_avg_pool2d(second, (int(h.shape[-2]), int(h.shape[-1])))
                out.append(torch.cat([pooled, h], dim=1).permute(0, 2, 3, 1).numpy())
        return np.concatenate(out).astype(np.float64)

    def fit(self, X: np.ndarray, y: Any = None) -> PatchDetector:
        """Learn the good patches of images ``X`` (all good); returns self."""
        if self.method not in METHODS:
            raise ParameterError(
                f"The 'method' parameter of PatchDetector must be one of {METHODS}. Got {self.method!r} instead.",
                param="method",
                estimator="PatchDetector",
            )
        if self.backbone is not None:
            self.size, self.width = self.backbone.size, self.backbone.width
        from threadpoolctl import threadpool_limits

        self.net_ = self._net()
        with threadpool_limits(1):
            return self._fit(self._features(X))

    def _fit(self, feats: np.ndarray) -> PatchDetector:
        flat = feats.reshape(-1, feats.shape[-1])
        self.mean_ = flat.mean(axis=0)
        if self.method == "gaussian":
            cov = np.cov(flat, rowvar=False)
            cov = (1 - self.shrinkage) * cov + self.shrinkage * np.trace(cov) / len(cov) * np.eye(len(cov))
            self.precision_ = np.linalg.inv(cov)
        else:
            rng = np.random.default_rng(self.seed)
            keep = rng.choice(len(flat), size=min(self.bank, len(flat)), replace=False)
            self.bank_ = flat[keep]
        return self

    def patch_map(self, X: np.ndarray) -> np.ndarray:
        """Per image, the grid of patch scores (n, grid, grid)."""
        if not hasattr(self, "net_"):
            raise NotFittedError("this PatchDetector is not fitted yet: call fit(good_images) first")
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return self._scores(self._features(X))

    def _scores(self, feats: np.ndarray) -> np.ndarray:
        n, g1, g2, d = feats.shape
        flat = feats.reshape(-1, d)
        if self.method == "gaussian":
            diff = flat - self.mean_
            scores = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", diff, self.precision_, diff), 0.0))
        else:
            scores = np.empty(len(flat))
            bank_sq = (self.bank_**2).sum(axis=1)
            for start in range(0, len(flat), 2048):
                part = flat[start : start + 2048]
                dist = (part**2).sum(axis=1)[:, None] - 2 * part @ self.bank_.T + bank_sq[None, :]
                scores[start : start + 2048] = np.sqrt(np.maximum(dist.min(axis=1), 0.0))
        return scores.reshape(n, g1, g2)

    def score(self, X: np.ndarray) -> np.ndarray:
        """One score per image: its highest patch score."""
        return self.patch_map(X).max(axis=(1, 2))
