"""Texture-statistics anomaly detector for lines with good images only: a filter bank, local binary patterns and
the nearest good image.

A surface defect changes the texture of the whole image (its grain, its blotches, its streaks), so each image is
described by texture statistics computed with numpy and scipy (no pretrained network, nothing fetched), in two
families:

* ``texture`` (55, :func:`texture_features` with ``lbp=False``): grey level (11: mean, standard deviation,
  skewness, kurtosis and the 1, 5, 25, 50, 75, 95, 99th percentiles; a fixed camera and lighting make the
  brightness a property of the surface) and filter-bank energies (44: the image standardised, then at scales
  sigma = 1, 2, 4, 8 px the Gaussian derivatives of orders (0, 1), (1, 0), (0, 2), (2, 0), (1, 1), each as the mean
  absolute response and the response's standard deviation, and the mean absolute residual from the Gaussian blur);
* ``lbp`` (650): completed local binary patterns (Guo, Zhang and Zhang 2010, "A completed modeling of local binary
  pattern operator for texture classification", IEEE TIP 19(6); the texture descriptor Song and Yan 2013 used on
  NEU): 8 neighbours on a circle of radius 1, 2, 3 px of the image and 1, 2 px of the image halved, each with the
  rotation-invariant uniform code of the signs (10 bins), of the magnitudes against their image mean (with the
  centre against the image mean: 20 bins) and the joint sign-magnitude code (100 bins); histograms as shares,
  square-rooted.

:class:`TextureDetector` standardises each family's vectors over the good images (zero mean, unit variance) and
takes an image's mean squared distance to its ``k`` nearest good images (PatchCore's nearest-neighbour distance, on
whole images: good surfaces of several kinds each keep their own neighbourhood, where one Gaussian would spread
over all of them), divided by the 95th percentile of the good images' own leave-one-out distances; with both
families the score is the larger of the two (a defect need only stand out in one). Higher = more anomalous; a
score above 1 is farther out than 95 % of the good images were from the rest. No threshold inside (thresholds:
:mod:`forewarn.quality.decisions`). On NEU-DET with each class held out in turn as the defect never seen
(``benchmarks/quality_unsupervised.py --backbone texture``) it is far ahead of the CNN patch features of
:mod:`forewarn.quality.patches`: BENCHMARKS.md, issue 17. The defaults (``k = 1``, grey level kept, both families)
were chosen by a validation inside the seen classes (each seen class held out in turn from the fitting images).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> good = rng.normal(0.5, 0.05, (12, 1, 48, 48)).clip(0, 1)
>>> bad = good[:4].copy(); bad[:, :, 10:30, 20:24] = 0.9                 # a bright streak
>>> det = TextureDetector().fit(good[:8])
>>> texture_features(good[:2]).shape, bool(det.score(bad).min() > det.score(good[8:]).max())
((2, 705), True)

A fitted detector is kept beside a model with :meth:`TextureDetector.save` (one ``texture.npz``, no pickle; the
image side it was fitted at goes with it, as the features depend on it) and read back with
:meth:`TextureDetector.load` (``forewarn quality train --unsupervised`` and ``forewarn quality inspect``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from forewarn.exceptions import DataNotFoundError, NotFittedError, ParameterError, SchemaError

SCALES = (1.0, 2.0, 4.0, 8.0)
ORDERS = ((0, 1), (1, 0), (0, 2), (2, 0), (1, 1))
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
N_GREY = 4 + len(PERCENTILES)
N_TEXTURE = N_GREY + len(SCALES) * (2 * len(ORDERS) + 1)
TEXTURE_FILE = "texture.npz"
LBP_POINTS = 8
LBP_RADII = ((1, 1), (1, 2), (1, 3), (2, 1), (2, 2))  # (downsampling, radius px)
N_LBP = len(LBP_RADII) * ((LBP_POINTS + 2) * 3 + (LBP_POINTS + 2) ** 2)


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


def _riu2(bits: np.ndarray) -> np.ndarray:
    """Rotation-invariant uniform code of ``(P, h, w)`` bits: the number of ones when the circle has at most two
    0/1 transitions, else P + 1."""
    transitions = (bits != np.roll(bits, 1, axis=0)).sum(axis=0)
    return np.where(transitions <= 2, bits.sum(axis=0), bits.shape[0] + 1)


def _neighbour(image: np.ndarray, oy: float, ox: float, radius: int) -> np.ndarray:
    """The image sampled at offset (``oy``, ``ox``) from each pixel of its ``radius``-px inner part (bilinear)."""
    h, w = image.shape
    y0, x0 = int(np.floor(oy)), int(np.floor(ox))
    wy, wx = oy - y0, ox - x0

    def part(dy: int, dx: int) -> np.ndarray:
        return image[radius + y0 + dy : h - radius + y0 + dy, radius + x0 + dx : w - radius + x0 + dx]

    out = part(0, 0) * ((1 - wy) * (1 - wx))
    if wx > 0:
        out = out + part(0, 1) * ((1 - wy) * wx)
    if wy > 0:
        out = out + part(1, 0) * (wy * (1 - wx))
    if wx > 0 and wy > 0:
        out = out + part(1, 1) * (wy * wx)
    return out


def _clbp(image: np.ndarray, radius: int) -> np.ndarray:
    p = LBP_POINTS
    h, w = image.shape
    centre = image[radius : h - radius, radius : w - radius]
    diffs = []
    for i in range(p):  # neighbour i at angle 2 pi i / p, counter-clockwise from the right (rows grow downwards)
        angle = 2 * np.pi * i / p
        offset = (round(-radius * np.sin(angle), 9), round(radius * np.cos(angle), 9))
        diffs.append(_neighbour(image, *offset, radius) - centre)
    d = np.stack(diffs)
    d[np.abs(d) < 1e-9] = 0.0  # interpolation round-off: an equal neighbour counts as equal
    sign = _riu2(d >= 0)
    size = np.abs(d)
    magnitude = _riu2(size >= size.mean())
    above = (centre >= image.mean()).astype(int)
    n = sign.size
    return np.sqrt(
        np.concatenate(
            [
                np.bincount(sign.ravel(), minlength=p + 2) / n,
                np.bincount((magnitude * 2 + above).ravel(), minlength=2 * (p + 2)) / n,
                np.bincount((sign * (p + 2) + magnitude).ravel(), minlength=(p + 2) ** 2) / n,
            ]
        )
    )


def _lbp(image: np.ndarray) -> np.ndarray:
    parts = []
    for step, radius in LBP_RADII:
        h, w = (image.shape[0] // step) * step, (image.shape[1] // step) * step
        small = image[:h, :w].reshape(h // step, step, w // step, step).mean(axis=(1, 3))
        parts.append(_clbp(small, radius))
    return np.concatenate(parts)


def texture_features(X: Any, lbp: bool = True) -> np.ndarray:
    """The texture vectors of greyscale images ``X`` (``(n, 1, h, w)`` or ``(n, h, w)``, in [0, 1]): ``(n, 705)``,
    or ``(n, 55)`` with ``lbp=False``.

    Columns: the 11 grey-level statistics, then per scale the 10 derivative energies and the blur residual, then
    (``lbp``) per circle the 10 sign, 20 magnitude-and-centre and 100 joint bins.
    """
    return np.stack([np.r_[_one(image), _lbp(image)] if lbp else _one(image) for image in _as_images(X)])


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a**2).sum(axis=1)[:, None] - 2 * a @ b.T + (b**2).sum(axis=1)[None, :], 0.0)


class TextureDetector:
    """Nearest-good-image distance on texture statistics (see the module text).

    ``k``: neighbours averaged; ``grey``: keep the grey-level statistics (False: the filter bank only, for lines
    whose lighting varies); ``lbp``: add the local-binary-pattern family (needs :func:`texture_features`' 705
    columns; False: 55 or 705 columns, the first 55 used).
    """

    def __init__(self, *, k: int = 1, grey: bool = True, lbp: bool = True) -> None:
        self.k = k
        self.grey = grey
        self.lbp = lbp

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"k": self.k, "grey": self.grey, "lbp": self.lbp}

    def _families(self, feats: Any) -> list[np.ndarray]:
        feats = np.asarray(feats, dtype=np.float64)
        widths = (N_TEXTURE + N_LBP,) if self.lbp else (N_TEXTURE, N_TEXTURE + N_LBP)
        if feats.ndim != 2 or feats.shape[1] not in widths:
            raise SchemaError(
                f"texture features must be an (n, {' or '.join(map(str, widths))}) array from texture_features"
                f"{'' if self.lbp else ' (lbp=False: 55 columns are enough)'}, got {feats.shape}"
            )
        if not np.isfinite(feats).all():
            raise SchemaError("texture features hold NaN or infinite values")
        out = [feats[:, :N_TEXTURE] if self.grey else feats[:, N_GREY:N_TEXTURE]]
        return [*out, feats[:, N_TEXTURE:]] if self.lbp else out

    def _nearest(self, dist: np.ndarray) -> np.ndarray:
        return np.sort(dist, axis=1)[:, : self.k].mean(axis=1)

    def fit(self, X: Any, y: Any = None) -> TextureDetector:
        """Learn the good images ``X`` (all good); returns self."""
        return self.fit_features(texture_features(X, lbp=self.lbp))

    def fit_features(self, feats: Any) -> TextureDetector:
        """Learn from good images' :func:`texture_features` (computed once, e.g. for several splits)."""
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ParameterError(
                f"The 'k' parameter of TextureDetector must be an int >= 1. Got {self.k!r} instead.",
                param="k",
                estimator="TextureDetector",
            )
        families = self._families(feats)
        if len(families[0]) < self.k + 1:
            raise SchemaError(
                f"TextureDetector needs at least k + 1 = {self.k + 1} good images, got {len(families[0])}"
            )
        self.means_, self.scales_, self.banks_, self.references_ = [], [], [], []
        for cols in families:
            # a feature (a pattern bin) all but constant on the good images must not blow a distance up: its
            # scale is at least 10 % of the family's median one
            mean, spread = cols.mean(axis=0), cols.std(axis=0)
            scale = np.maximum(spread, max(0.1 * float(np.median(spread)), 1e-12))
            bank = (cols - mean) / scale
            own = _sq_dist(bank, bank)
            np.fill_diagonal(own, np.inf)  # leave-one-out: each good image against the others
            self.means_.append(mean)
            self.scales_.append(scale)
            self.banks_.append(bank)
            self.references_.append(max(float(np.quantile(self._nearest(own), 0.95)), 1e-12))
        return self

    def score(self, X: Any) -> np.ndarray:
        """One score per image (see the module text); 1 = the 95th percentile of the good images' own."""
        return self.score_features(texture_features(X, lbp=self.lbp))

    def score_features(self, feats: Any) -> np.ndarray:
        """:meth:`score` from precomputed :func:`texture_features`."""
        if not hasattr(self, "banks_"):
            raise NotFittedError("this TextureDetector is not fitted yet: call fit(good_images) first")
        families = self._families(feats)
        out = np.zeros(len(families[0]))
        for cols, mean, scale, bank, ref in zip(
            families, self.means_, self.scales_, self.banks_, self.references_, strict=True
        ):
            q = (cols - mean) / scale
            for start in range(0, len(q), 1024):
                part = self._nearest(_sq_dist(q[start : start + 1024], bank)) / ref
                out[start : start + 1024] = np.maximum(out[start : start + 1024], part)
        return out

    def save(self, folder: str | os.PathLike[str], size: int) -> Path:
        """Write the fitted detector into ``folder``/texture.npz with ``size``, the image side (px) the good
        images were decoded at (score new images at the same side); returns the file's path."""
        if not hasattr(self, "banks_"):
            raise NotFittedError("this TextureDetector is not fitted yet: call fit(good_images) first")
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "params": np.asarray([self.k, int(self.grey), int(self.lbp), int(size)], dtype=np.int64),
            "references": np.asarray(self.references_, dtype=np.float64),
        }
        for i, (mean, scale, bank) in enumerate(zip(self.means_, self.scales_, self.banks_, strict=True)):
            arrays |= {f"mean{i}": mean, f"scale{i}": scale, f"bank{i}": bank}
        np.savez(path / TEXTURE_FILE, **arrays)  # type: ignore[arg-type]
        return path / TEXTURE_FILE

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> tuple[TextureDetector, int]:
        """The detector written by :meth:`save` into ``folder`` and the image side it was fitted at.

        >>> import tempfile
        >>> good = np.random.default_rng(1).normal(0.5, 0.05, (6, 32, 32)).clip(0, 1)
        >>> det = TextureDetector().fit(good)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = det.save(folder, size=32)
        ...     back, side = TextureDetector.load(folder)
        >>> side, bool(np.allclose(back.score(good), det.score(good)))
        (32, True)
        """
        file = Path(folder) / TEXTURE_FILE
        if not file.is_file():
            raise DataNotFoundError(f"{str(file)!r} does not exist: fit one with forewarn quality train --unsupervised")
        try:
            with np.load(file, allow_pickle=False) as data:
                k, grey, lbp, size = (int(v) for v in data["params"])
                n = 2 if lbp else 1
                det = cls(k=k, grey=bool(grey), lbp=bool(lbp))
                det.means_ = [data[f"mean{i}"] for i in range(n)]
                det.scales_ = [data[f"scale{i}"] for i in range(n)]
                det.banks_ = [data[f"bank{i}"] for i in range(n)]
                det.references_ = [float(v) for v in data["references"]]
        except (KeyError, ValueError, OSError) as err:
            raise SchemaError(f"not a texture detector file: {err}", source=str(file)) from None
        return det, size
