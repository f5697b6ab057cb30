"""A small CNN for surface-defect classification, trained from scratch on CPU, with class activation maps.

The network (:class:`SmallCNN`) is four 3x3 convolution blocks (batch norm, ReLU, 2x2 max pooling after the
first three) and a global average pool into one linear layer: the class activation map of Zhou et al. (CVPR
2016, "Learning deep features for discriminative localization") is then the last block's feature maps weighted
by the linear layer's row for a class, with no extra cost. Inputs are greyscale images resized to ``size`` px,
each standardised. The constructor's defaults are the first version's (64 px, stride 1, no head); ``forewarn
quality train`` and ``forewarn bench neu`` use 128 px through a stride-2 first convolution (the cost of 64 px),
a localisation head trained on box masks (a 1x1 convolution on the last block: weak supervision from the
training images' boxes, whose map's peak points at the defect far more often than the class activation map's)
and flip averaging (:data:`forewarn.bench.neu.DEFAULTS`, chosen on a validation split of training images).

:class:`DefectClassifier` follows the estimator protocol (keyword hyper-parameters, ``fit`` returns self, learned
attributes end in ``_``, one ``seed``); ``predict_proba`` takes a ``(n, 1, size, size)`` batch from
:func:`forewarn.quality.images.decode_many`. Save is a folder with ``manifest.json`` and ``model.pt`` (a
``state_dict`` loaded with ``weights_only=True``).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.random((8, 1, 16, 16), dtype=np.float32); X[4:, :, 4:8, :] += 2.0   # a bright band = "defect"
>>> model = DefectClassifier(size=16, epochs=3, width=4, seed=0).fit(X, ["ok"] * 4 + ["band"] * 4)
>>> model.predict_proba(X).shape, model.classes_, model.cam(X[:1], [0]).shape
((8, 2), ['band', 'ok'], (1, 16, 16))
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forewarn.exceptions import DataNotFoundError, NotFittedError, ParameterError, SchemaError
from forewarn.quality.images import augment, standardise


def _torch() -> Any:
    import torch

    return torch


def build_network(n_classes: int, width: int = 16, stem: int = 1, localise: bool = False) -> Any:
    """The :class:`SmallCNN` module (built on first use so that importing this module does not load torch).

    ``stem`` is the stride of the first convolution: 2 lets a 128 px input cost what a 64 px one does with
    stride 1 (the first 3x3 filters still see the full-resolution texture). ``localise`` adds a 1x1 convolution
    on the last block's maps that scores each cell as inside or outside a defect (trained on box masks).
    """
    torch = _torch()
    nn = torch.nn

    def block(cin: int, cout: int, pool: bool, stride: int = 1) -> list[Any]:
        conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        layers = [conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        return [*layers, nn.MaxPool2d(2)] if pool else layers

    class SmallCNN(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            w = width
            self.features = nn.Sequential(
                *block(1, w, True, stem),
                *block(w, 2 * w, True),
                *block(2 * w, 4 * w, True),
                *block(4 * w, 8 * w, False),
            )
            self.head = nn.Linear(8 * w, n_classes)
            self.locator: Any = nn.Conv2d(8 * w, 1, 1) if localise else None

        def forward(self, x: Any) -> Any:
            return self.head(self.features(x).mean(dim=(2, 3)))

        def forward_with_mask(self, x: Any) -> tuple[Any, Any]:
            """The logits and the locator's (n, h, w) cell logits (the locator must exist)."""
            fmap = self.features(x)
            return self.head(fmap.mean(dim=(2, 3))), self.locator(fmap)[:, 0]

        def maps(self, x: Any) -> Any:
            """Class activation maps for every class: (n, classes, h, w), and the logits."""
            fmap = self.features(x)
            # softmax ignores a vector added to every class's weights: each class's map uses its weights minus the
            # classes' mean, so a map shows what favours that class over the others
            weight = self.head.weight - self.head.weight.mean(dim=0, keepdim=True)
            cams = torch.einsum("kc,nchw->nkhw", weight, fmap)
            return cams, self.head(fmap.mean(dim=(2, 3)))

    return SmallCNN()


PARAMS = ("size", "width", "epochs", "batch_size", "lr", "seed", "stem", "loc_weight", "tta")
# a model saved before these parameters existed was built and used this way
_LEGACY = {"stem": 1, "loc_weight": 0.0, "tta": False}
# test-time views: the identity and the three flips (each a (flip rows, flip columns) pair)
_VIEWS = ((False, False), (False, True), (True, False), (True, True))


class DefectClassifier:
    """Image-level defect classifier: :func:`build_network` trained with AdamW, a one-cycle (cosine) learning
    rate, label smoothing 0.05 and :func:`~forewarn.quality.images.augment`.

    ``stem`` is the first convolution's stride; ``loc_weight`` > 0 trains a localisation head on box masks (pass
    ``masks`` to :meth:`fit`; the loss is cross-entropy plus ``loc_weight`` times the head's binary cross-entropy
    against the share of each cell covered by boxes); ``tta`` averages the probabilities over the image and its
    three flips.
    """

    def __init__(
        self,
        *,
        size: int = 64,
        width: int = 16,
        epochs: int = 15,
        batch_size: int = 32,
        lr: float = 3e-3,
        seed: int = 0,
        stem: int = 1,
        loc_weight: float = 0.0,
        tta: bool = False,
    ) -> None:
        self.size = size
        self.width = width
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.stem = stem
        self.loc_weight = loc_weight
        self.tta = tta

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's keyword hyper-parameters."""
        return {k: getattr(self, k) for k in PARAMS}

    def _check_params(self) -> None:
        for name in ("size", "width", "epochs", "batch_size", "stem"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ParameterError(
                    f"The '{name}' parameter of DefectClassifier must be an int >= 1. Got {value!r} instead.",
                    param=name,
                    estimator="DefectClassifier",
                )
        for name in ("lr", "loc_weight"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not (value > 0 or (name == "loc_weight" and value == 0)):
                raise ParameterError(
                    f"The '{name}' parameter of DefectClassifier must be > 0{' or 0' * (name == 'loc_weight')}. "
                    f"Got {value!r} instead.",
                    param=name,
                    estimator="DefectClassifier",
                )

    def _batch(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 4 or X.shape[1:] != (1, self.size, self.size):
            raise SchemaError(
                f"images must be a batch of shape (n, 1, {self.size}, {self.size}), got {X.shape}",
                column="X",
                hint="decode them with forewarn.quality.images.decode_many(paths, size)",
            )
        return X

    def fit(
        self, X: np.ndarray, y: Sequence[str], *, masks: np.ndarray | None = None, progress: Any = None
    ) -> DefectClassifier:
        """Train from scratch on images ``X`` with class names ``y``; returns self.

        ``masks`` (``(n, size, size)``, 1 inside a defect box, see :func:`box_mask`) train the localisation head;
        they are needed when ``loc_weight`` > 0 and ignored otherwise. An image without boxes (e.g. a reviewed
        unit) has an all-NaN mask: it trains the classifier only.
        """
        self._check_params()
        X = self._batch(X)
        labels = np.asarray([str(v) for v in y])
        if len(labels) != len(X):
            raise SchemaError(f"{len(X)} images but {len(labels)} labels", column="y")
        localise = self.loc_weight > 0
        if localise:
            if masks is None:
                raise SchemaError("loc_weight > 0 trains on box masks: pass masks=", column="masks")
            masks = np.asarray(masks, dtype=np.float32)
            if masks.shape != (len(X), self.size, self.size):
                raise SchemaError(
                    f"masks must have shape ({len(X)}, {self.size}, {self.size}), got {masks.shape}", column="masks"
                )
            known = ~np.isnan(masks).any(axis=(1, 2))
        self.classes_ = sorted(set(labels.tolist()))
        if len(self.classes_) < 2:
            raise SchemaError("need images of at least 2 classes", column="y")
        torch = _torch()
        torch.set_num_threads(1)
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        target = torch.as_tensor(np.searchsorted(self.classes_, labels))
        net = build_network(len(self.classes_), self.width, self.stem, localise)
        steps = self.epochs * int(np.ceil(len(X) / self.batch_size))
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=steps)
        loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.05)
        bce = torch.nn.BCEWithLogitsLoss()
        net.train()
        for epoch in range(self.epochs):
            order = rng.permutation(len(X))
            total = 0.0
            for start in range(0, len(X), self.batch_size):
                idx = order[start : start + self.batch_size]
                opt.zero_grad()
                if localise:
                    images, cells = augment(X[idx], rng, masks=None if masks is None else masks[idx])
                    logits, mask_logits = net.forward_with_mask(torch.as_tensor(standardise(images)))
                    share = torch.nn.functional.adaptive_avg_pool2d(
                        torch.as_tensor(cells)[:, None], tuple(mask_logits.shape[-2:])
                    )[:, 0]
                    loss = loss_fn(logits, target[idx])
                    rows = torch.as_tensor(known[idx])
                    if bool(rows.any()):
                        loss = loss + self.loc_weight * bce(mask_logits[rows], share[rows])
                else:
                    logits = net(torch.as_tensor(standardise(augment(X[idx], rng))))
                    loss = loss_fn(logits, target[idx])
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
            if progress is not None:
                progress(f"epoch {epoch + 1}/{self.epochs}: loss {total / len(X):.4f}")
        net.eval()
        self.net_ = net
        return self

    def _fitted(self) -> Any:
        if not hasattr(self, "net_"):
            raise NotFittedError("this DefectClassifier is not fitted yet: call fit(X, y) or load(folder) first")
        return self.net_

    def predict_proba(self, X: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Class probabilities, columns in :attr:`classes_` order."""
        net, torch = self._fitted(), _torch()
        X = self._batch(X)
        out = []
        with torch.inference_mode():
            for start in range(0, len(X), batch_size):
                batch = torch.as_tensor(standardise(X[start : start + batch_size]))
                views = _VIEWS if self.tta else _VIEWS[:1]
                proba = sum(torch.softmax(net(_flip(batch, rows, cols)), dim=1) for rows, cols in views)
                out.append((proba / len(views)).numpy())
        return np.concatenate(out).astype(float)

    def predict(self, X: np.ndarray) -> list[str]:
        """The most probable class of each image."""
        return [self.classes_[i] for i in self.predict_proba(X).argmax(axis=1)]

    def cam(self, X: np.ndarray, class_index: Sequence[int] | np.ndarray) -> np.ndarray:
        """Class activation map of the given class for each image, upsampled (bilinear) to ``size`` x ``size``.

        The class's weights are centred on the classes' mean (see :func:`build_network`), as the softmax only sees
        differences between classes.
        """
        net, torch = self._fitted(), _torch()
        X = self._batch(X)
        with torch.inference_mode():
            maps, _ = net.maps(torch.as_tensor(standardise(X)))
            chosen = maps[torch.arange(len(X)), torch.as_tensor(np.asarray(class_index, dtype=np.int64))]
            up = torch.nn.functional.interpolate(chosen[:, None], size=(self.size, self.size), mode="bilinear")
        return up[:, 0].numpy().astype(float)

    def locate(self, X: np.ndarray) -> np.ndarray:
        """The localisation head's map (probability that a pixel lies in a defect box), upsampled (bilinear) to
        ``size`` x ``size``; a model trained without box masks (``loc_weight`` 0) has no such head."""
        net, torch = self._fitted(), _torch()
        if net.locator is None:
            raise NotFittedError("this DefectClassifier has no localisation head: train it with loc_weight > 0")
        X = self._batch(X)
        with torch.inference_mode():
            _, cells = net.forward_with_mask(torch.as_tensor(standardise(X)))
            up = torch.nn.functional.interpolate(cells[:, None], size=(self.size, self.size), mode="bilinear")
        return torch.sigmoid(up[:, 0]).numpy().astype(float)

    def save(self, folder: str | os.PathLike[str], metrics: dict[str, Any] | None = None) -> Path:
        """Write ``manifest.json`` and ``model.pt`` into ``folder``."""
        net, torch = self._fitted(), _torch()
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), path / "model.pt")
        manifest = {
            "name": "quality-cnn",
            "params": self.get_params(),
            "classes": self.classes_,
            "metrics": metrics or {},
        }
        (path / "manifest.json").write_text(json.dumps(manifest, indent=2))
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> DefectClassifier:
        """A model written by :meth:`save` (the weights are read with ``weights_only=True``)."""
        path = Path(folder)
        if not (path / "manifest.json").is_file() or not (path / "model.pt").is_file():
            raise DataNotFoundError(f"{str(path)!r} holds no manifest.json and model.pt: train a model first")
        manifest = json.loads((path / "manifest.json").read_text())
        model = cls(**{**_LEGACY, **manifest["params"]})
        torch = _torch()
        torch.set_num_threads(1)
        net = build_network(len(manifest["classes"]), model.width, model.stem, model.loc_weight > 0)
        net.load_state_dict(torch.load(path / "model.pt", weights_only=True))
        net.eval()
        model.classes_, model.net_ = list(manifest["classes"]), net
        return model


def _flip(batch: Any, rows: bool, cols: bool) -> Any:
    dims = [d for d, on in ((2, rows), (3, cols)) if on]
    return batch.flip(dims) if dims else batch


def box_mask(boxes: Sequence[tuple[int, int, int, int]], image_side: int, size: int) -> np.ndarray:
    """A ``(size, size)`` mask, 1 where a pixel's centre (scaled to the original image) lies in one of the boxes
    (VOC corners, inclusive).

    >>> box_mask([(0, 0, 99, 49)], 200, 4)                   # the left half, top quarter, at 4 px
    array([[1., 1., 0., 0.],
           [0., 0., 0., 0.],
           [0., 0., 0., 0.],
           [0., 0., 0., 0.]], dtype=float32)
    """
    centre = (np.arange(size) + 0.5) * image_side / size
    mask = np.zeros((size, size), dtype=np.float32)
    for xmin, ymin, xmax, ymax in boxes:
        inside_y = (centre >= ymin) & (centre <= ymax + 1)
        inside_x = (centre >= xmin) & (centre <= xmax + 1)
        mask[np.ix_(inside_y, inside_x)] = 1.0
    return mask


def peak_in_boxes(cam: np.ndarray, boxes: Sequence[tuple[int, int, int, int]], image_side: int) -> bool:
    """Whether the map's peak, scaled to the original image's pixels, falls inside one of the boxes.

    >>> m = np.zeros((4, 4)); m[1, 3] = 1.0                  # peak at row 1, column 3 of a 4 px map
    >>> peak_in_boxes(m, [(150, 50, 199, 99)], 200)          # its center is (x 175, y 75) in a 200 px image
    True
    """
    row, col = np.unravel_index(int(np.argmax(cam)), cam.shape)
    scale = image_side / cam.shape[0]
    x, y = (col + 0.5) * scale, (row + 0.5) * scale
    return any(xmin <= x <= xmax + 1 and ymin <= y <= ymax + 1 for xmin, ymin, xmax, ymax in boxes)


def time_per_image(model: DefectClassifier, sources: Sequence[Any], repeats: int = 3) -> float:
    """Median milliseconds to decode, resize and classify one image at a time, on one thread."""
    from forewarn.quality.images import decode

    torch = _torch()
    torch.set_num_threads(1)
    times = []
    for _ in range(repeats):
        for source in sources:
            start = time.perf_counter()
            model.predict_proba(decode(source, model.size)[None, None])
            times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000.0)
