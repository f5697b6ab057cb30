"""Image decoding and augmentation for defect vision, with pillow and numpy only (no torchvision).

:func:`decode` reads an image file (or bytes) as greyscale and resizes it to ``size`` x ``size`` (area filter),
scaled to [0, 1]. :func:`augment` gives a batch random flips, quarter turns and a brightness/contrast jitter,
from one numpy generator, so a seed fixes the whole training run.

>>> import numpy as np
>>> batch = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 1, 4, 4) / 32
>>> out = augment(batch, np.random.default_rng(0))
>>> out.shape, bool(np.isclose(out[0].std(), batch[0].std(), rtol=0.3))
((2, 1, 4, 4), True)

:func:`overlay_png` draws a defect map over an image (red where the map is high) for the review page:

>>> from PIL import Image
>>> heat = np.zeros((4, 4)); heat[0, 0] = 1.0                  # the defect in the top-left corner
>>> png = overlay_png(np.full((8, 8), 0.5), heat)
>>> with Image.open(io.BytesIO(png)) as shown:
...     shown.size, shown.getpixel((0, 0)), shown.getpixel((7, 7))
((8, 8), (223, 32, 32), (128, 128, 128))
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from forewarn.exceptions import SchemaError


def decode(source: str | os.PathLike[str] | bytes, size: int) -> np.ndarray:
    """One image as a ``(size, size)`` float32 array in [0, 1]; a file that is not an image is a SchemaError."""
    from PIL import Image, UnidentifiedImageError

    where = "<bytes>" if isinstance(source, bytes) else str(source)
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
        with handle, Image.open(handle) as image:
            grey = image.convert("L").resize((size, size), Image.Resampling.BOX)
            return np.asarray(grey, dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise SchemaError("no such file", source=where) from None
    except UnidentifiedImageError:  # its text repeats the file object: "cannot identify image file <_io...>"
        raise SchemaError("not an image pillow can read", source=where, hint="give a JPEG or PNG file") from None
    except (OSError, SyntaxError) as err:
        raise SchemaError(f"cannot decode the image: {err}", source=where, hint="give a JPEG or PNG file") from None


def decode_many(sources: Sequence[str | os.PathLike[str] | bytes], size: int) -> np.ndarray:
    """Images as an ``(n, 1, size, size)`` float32 batch."""
    return np.stack([decode(s, size) for s in sources])[:, None, :, :]


def augment(batch: np.ndarray, rng: np.random.Generator, masks: np.ndarray | None = None) -> Any:
    """Random horizontal and vertical flips, quarter turns, and a +/-10 % contrast and brightness jitter.

    With ``masks`` (``(n, h, w)``, e.g. defect boxes) each mask gets its image's flips and turn (not the jitter)
    and the result is the pair (images, masks).
    """
    out = batch.copy()
    moved = None if masks is None else np.empty_like(masks)
    for i in range(len(out)):
        image = out[i, 0]
        mask = None if masks is None else masks[i]
        if rng.random() < 0.5:
            image = image[:, ::-1]
            mask = None if mask is None else mask[:, ::-1]
        if rng.random() < 0.5:
            image = image[::-1, :]
            mask = None if mask is None else mask[::-1, :]
        turns = int(rng.integers(4))
        image = np.rot90(image, turns)
        mean = image.mean()
        image = (image - mean) * rng.uniform(0.9, 1.1) + mean + rng.uniform(-0.1, 0.1)
        out[i, 0] = image
        if moved is not None and mask is not None:
            moved[i] = np.rot90(mask, turns)
    return out if moved is None else (out, moved)


def standardise(batch: np.ndarray) -> np.ndarray:
    """Each image to zero mean and unit variance (removes the lighting level of a line or a camera)."""
    mean = batch.mean(axis=(1, 2, 3), keepdims=True)
    std = batch.std(axis=(1, 2, 3), keepdims=True)
    return ((batch - mean) / np.maximum(std, 1e-3)).astype(np.float32)


def overlay_png(grey: np.ndarray, heat: np.ndarray, alpha: float = 0.75) -> bytes:
    """PNG bytes of the ``(h, w)`` greyscale image ``grey`` (in [0, 1]) with the map ``heat`` (in [0, 1], any size,
    resized to the image's) blended in red: a pixel becomes ``(1 - a) * grey + a * red`` with ``a = alpha * heat``."""
    from PIL import Image

    grey = np.clip(np.asarray(grey, dtype=float), 0.0, 1.0)
    heat = np.clip(np.nan_to_num(np.asarray(heat, dtype=float)), 0.0, 1.0)
    if grey.ndim != 2 or heat.ndim != 2:
        raise SchemaError(f"overlay_png takes a 2-D image and a 2-D map, got {grey.shape} and {heat.shape}")
    h, w = grey.shape
    resized = Image.fromarray(heat.astype(np.float32)).resize((w, h), Image.Resampling.NEAREST)
    a = alpha * np.asarray(resized, dtype=float)
    red = np.stack([np.ones_like(grey), np.zeros_like(grey), np.zeros_like(grey)], axis=-1)
    rgb = (1.0 - a)[..., None] * grey[..., None] + a[..., None] * red
    buffer = io.BytesIO()
    Image.fromarray(np.round(rgb * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
