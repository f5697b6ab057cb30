"""QC image scoring over many images, in batches, in this process or on a Ray cluster, with the same function.

:func:`score_images` cuts the image list into batches of ``batch_size``; each batch is one unit of the engine
seam (:mod:`forewarn.base.executor`): :func:`score_batch` decodes its images and classifies them with the quality
package's public functions (:meth:`forewarn.quality.vision.DefectClassifier.load`,
:func:`forewarn.quality.images.decode_many`, :func:`forewarn.quality.inspection.inspection_records` on the costs'
:func:`~forewarn.quality.decisions.thresholds`), and returns one record per image: the lines of
``forewarn quality inspect``, built by the same function. The model is loaded once per process (a worker keeps it while the model
folder's files are unchanged), and batches are computed the same way whatever runs them, so the records do not
depend on the engine (tests compare them). The batches are handed out a few at a time (``chunk`` per round):
this process holds the records of one round, not of every image, and :func:`score_images` yields them in the
images' order.

>>> list(score_images([], "no-model-needed-for-no-images"))
[]
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from forewarn.base.executor import Executor, resolve
from forewarn.exceptions import ConfigError

_LOADED: dict[tuple[str, str], tuple[tuple[int, int], Any]] = {}


def _kept(model: str, file: str, load: Any) -> Any:
    """``load(model)``, once per process while ``model``'s ``file`` is unchanged."""
    path = Path(model) / file
    stamp = (path.stat().st_size, path.stat().st_mtime_ns) if path.is_file() else (0, 0)
    kept = _LOADED.get((model, file))
    if kept is None or kept[0] != stamp:
        kept = (stamp, load(model))
        _LOADED[(model, file)] = kept
    return kept[1]


def _classifier(model: str) -> Any:
    """The classifier in ``model``, loaded once per process while its weights file is unchanged."""
    from forewarn.quality.vision import DefectClassifier

    return _kept(model, "model.pt", DefectClassifier.load)


def _texture(model: str) -> Any:
    """The texture novelty detector in ``model`` and its image side, or None when the folder has none."""
    from forewarn.quality.texture import TEXTURE_FILE, TextureDetector

    return _kept(model, TEXTURE_FILE, TextureDetector.load) if (Path(model) / TEXTURE_FILE).is_file() else None


def score_batch(
    model: str,
    good_class: str | None,
    costs: tuple[float, float, float],
    images: Sequence[str],
    novelty_threshold: float = 1.0,
) -> list[dict[str, Any]]:
    """One record per image of ``images`` (``image, predicted, defect_type, defect_probability, decision,
    probabilities, cam_peak``, and ``defect_peak`` for a model with a localisation head): the model's class
    probabilities, the defect probability (1 - P(``good_class``), or 1 without one), the decision for the costs
    ``(scrap, review, escape)``, where the class activation map of the predicted class peaks and where the
    localisation head's map peaks (row, col as fractions of the image). When the folder holds a texture detector
    (``forewarn quality train --unsupervised``), each record adds ``novelty_score`` and ``novel`` and a novel unit
    that would pass goes to review (:func:`forewarn.quality.inspection.add_novelty`); a folder with the detector
    alone gives ``image, decision, novel, novelty_score``."""
    from threadpoolctl import threadpool_limits

    from forewarn.quality.decisions import InspectionCosts, thresholds
    from forewarn.quality.images import decode_many
    from forewarn.quality.inspection import add_novelty, inspection_records

    texture = _texture(model)
    with threadpool_limits(limits=1):
        records = [{"image": str(name), "decision": "pass"} for name in images]
        if (Path(model) / "manifest.json").is_file():
            clf = _classifier(model)
            if good_class is not None and good_class not in clf.classes_:
                raise ConfigError(f"good class {good_class!r} is not a class of the model ({', '.join(clf.classes_)})")
            limits = thresholds(InspectionCosts(scrap=costs[0], review=costs[1], escape=costs[2]))
            records = inspection_records(clf, images, decode_many(list(images), clf.size), good_class, limits)
        if texture is not None:
            detector, side = texture
            add_novelty(records, detector.score(decode_many(list(images), side)), novelty_threshold)
    return records


def score_images(
    images: Sequence[str | os.PathLike[str]],
    model: str | os.PathLike[str],
    *,
    good_class: str | None = None,
    costs: tuple[float, float, float] = (5.0, 1.0, 2.0),
    batch_size: int = 64,
    chunk: int = 16,
    executor: Executor | None = None,
    novelty_threshold: float = 1.0,
) -> Iterator[dict[str, Any]]:
    """The records of :func:`score_batch` for every image, in the order of ``images``, scored in batches of
    ``batch_size`` images by ``executor`` (this process by default; :class:`forewarn.distributed.RayExecutor`:
    each batch a Ray task, retried when its worker dies), ``chunk`` batches at a time. ``costs``: ``(scrap,
    review, escape)`` as ``forewarn quality inspect`` takes them. The image files must be readable where the
    batches run (on a cluster: shared storage at the same path). ``novelty_threshold``: the novelty score above
    which a unit is novel, when the folder holds a texture detector (as ``forewarn quality inspect``)."""
    if int(batch_size) < 1 or int(chunk) < 1:
        raise ConfigError(f"batch_size={batch_size!r} and chunk={chunk!r} must be at least 1")
    paths = [str(Path(p)) for p in images]
    if not paths:
        return
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise ConfigError(f"{len(missing)} image(s) do not exist, e.g. {missing[0]!r}")
    from forewarn.quality.texture import TEXTURE_FILE

    if not any((Path(model) / name).is_file() for name in ("manifest.json", TEXTURE_FILE)):
        raise ConfigError(
            f"{str(model)!r} holds neither a classifier (manifest.json) nor a texture detector ({TEXTURE_FILE}): "
            "give a folder written by `forewarn quality train`"
        )
    if good_class is not None and not (Path(model) / "manifest.json").is_file():
        raise ConfigError(f"{str(model)!r} holds only a texture detector: --good-class needs a classifier")
    scrap, review, escape = (float(c) for c in costs)
    run = partial(score_batch, str(Path(model).resolve()), good_class, (scrap, review, escape),
                  novelty_threshold=float(novelty_threshold))  # fmt: skip
    batches = [paths[i : i + int(batch_size)] for i in range(0, len(paths), int(batch_size))]
    engine = resolve(executor)
    for start in range(0, len(batches), int(chunk)):
        for records in engine.map(run, batches[start : start + int(chunk)]):
            yield from records
