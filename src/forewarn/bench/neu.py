"""NEU-DET steel-surface defects (6 classes x 300 images, 200x200): image classification and localisation.

Protocol: for each seed, a split stratified by class, 80 % of each class trains and 20 % (60 per class, 360
images) tests; the seed drives both the split and the network's initialisation. The file-name class is the
label (:mod:`forewarn.datasets.neu`). Reported over seeds:

* ``accuracy``, ``macro_f1`` and ``recall_<class>`` on the test images, and the confusion matrix summed over
  seeds (``confusion``);
* ``pointing_accuracy``: share of test images whose localisation map peaks inside one of the image's annotated
  boxes (any box name: the map localises "the defect", the box names follow the annotators). The map is the
  localisation head's when the model has one (``loc_weight`` > 0: trained on the *training* images' boxes, weak
  supervision), else the class activation map of the true class; ``cam_pointing_accuracy`` is always the class
  activation map's;
* ``ms_per_image``: median milliseconds to decode, resize and classify one 200x200 JPEG, one image at a time, on
  one thread (``torch.set_num_threads(1)``), over the test images.

Model: ``small-cnn`` (:class:`forewarn.quality.vision.DefectClassifier` with :data:`DEFAULTS`, trained from scratch).
Published figures (``published``) are for NEU-CLS (the same six classes, the classification release).

Run: ``forewarn bench neu --seeds 5 --json neu.json`` (or :func:`run`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from forewarn.bench.report import ModelRun, summarise
from forewarn.datasets.neu import CLASSES, NEUData, load_neu
from forewarn.evaluate.classification import confusion, multiclass_metrics
from forewarn.exceptions import ConfigError
from forewarn.quality.images import decode_many
from forewarn.quality.vision import DefectClassifier, box_mask, peak_in_boxes, time_per_image

TEST_FRACTION = 0.2
#: the benchmark's model settings (chosen on a validation split of seed 0's training images,
#: benchmarks/quality_select.py; BENCHMARKS.md, issue 17): 128 px input through a stride-2 stem, the localisation
#: head on box masks, flip averaging, 30 epochs; any of them can be overridden through ``run(**params)``
DEFAULTS: dict[str, Any] = {"size": 128, "stem": 2, "loc_weight": 1.0, "tta": True, "epochs": 30}
MODELS: dict[str, Callable[..., DefectClassifier]] = {
    "small-cnn": lambda seed, **kw: DefectClassifier(seed=seed, **{**DEFAULTS, **kw}),
}
PUBLISHED = [
    {
        "method": "completed local binary patterns + nearest neighbour (NEU-CLS)",
        "source": "Song & Yan, Applied Surface Science 285 (2013) 858-864",
        "accuracy": 0.989,
    },
]


def stratified_split(
    labels: Sequence[str] | np.ndarray, seed: int, test_fraction: float = TEST_FRACTION
) -> tuple[Any, Any]:
    """(train indices, test indices): ``test_fraction`` of each class to the test part, drawn with ``seed``.

    >>> train, test = stratified_split(["a"] * 10 + ["b"] * 5, seed=0)
    >>> len(train), len(test), sorted(set(test.tolist()) & set(train.tolist()))
    (12, 3, [])
    """
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    test: list[int] = []
    for label in sorted(set(y.tolist())):
        idx = np.flatnonzero(y == label)
        test += rng.choice(idx, size=int(round(len(idx) * test_fraction)), replace=False).tolist()
    test_idx = np.sort(np.asarray(test, dtype=int))
    return np.setdiff1d(np.arange(len(y)), test_idx), test_idx


def _boxes(data: NEUData, i: int) -> list[tuple[int, int, int, int]]:
    return [(b.xmin, b.ymin, b.xmax, b.ymax) for b in data.images[i].boxes]


def box_masks(data: NEUData, idx: np.ndarray, size: int) -> np.ndarray:
    """``(len(idx), size, size)`` masks of the images' annotated boxes (any box name), training labels of the
    localisation head."""
    return np.stack([box_mask(_boxes(data, int(i)), data.images[int(i)].width, size) for i in idx])


def pointing_accuracy(
    model: DefectClassifier, images: np.ndarray, data: NEUData, idx: np.ndarray, *, source: str = "auto"
) -> float:
    """Share of images ``idx`` whose map peaks inside one of their boxes: the localisation head's map
    (``source="head"``; ``"auto"`` when the model has one) or the true class's activation map (``"cam"``)."""
    if source == "head" or (source == "auto" and model.loc_weight > 0):
        maps = model.locate(images[idx])
    else:
        maps = model.cam(images[idx], [model.classes_.index(data.images[i].label) for i in idx])
    hits = [
        peak_in_boxes(found, _boxes(data, int(i)), data.images[i].width) for found, i in zip(maps, idx, strict=True)
    ]
    return float(np.mean(hits))


def _one_seed(name: str, seed: int, data: NEUData, params: dict[str, Any]) -> tuple[ModelRun, np.ndarray]:
    """Split, train and evaluate one model with one seed (runs in a worker process when ``workers > 1``)."""
    labels = np.asarray(data.labels)
    images = decode_many(data.image_paths, MODELS[name](0, **params).size)
    train, test = stratified_split(labels, seed)
    start = time.perf_counter()
    model = MODELS[name](seed, **params)
    masks = box_masks(data, train, model.size) if model.loc_weight > 0 else None
    model.fit(images[train], labels[train], masks=masks)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model.predict(images[test])
    predict_s = time.perf_counter() - start
    metrics = multiclass_metrics(labels[test], predicted)
    matrix = confusion(labels[test], predicted, labels=model.classes_)
    for label in model.classes_:
        row = matrix.loc[label]
        metrics[f"recall_{label}"] = float(row[label] / max(row.sum(), 1))
    metrics["pointing_accuracy"] = pointing_accuracy(model, images, data, test)
    metrics["cam_pointing_accuracy"] = pointing_accuracy(model, images, data, test, source="cam")
    metrics["ms_per_image"] = time_per_image(model, [data.image_paths[i] for i in test[:120]], repeats=1)
    run = ModelRun(name, seed, metrics, fit_s, predict_s, extra={"classes": model.classes_})
    return run, matrix.to_numpy()


def run(
    models: Sequence[str] | None = None,
    seeds: int = 5,
    data_dir: Any = None,
    *,
    progress: Callable[[str], None] | None = None,
    limit_per_class: int | None = None,
    workers: int = 1,
    **params: Any,
) -> dict[str, Any]:
    """Run the NEU benchmark; ``params`` go to the model (``epochs``, ``size``, ``width``...);
    ``limit_per_class`` keeps the first images of each class (tests); ``workers`` > 1 trains that many seeds at
    once in worker processes (each on one thread)."""
    chosen = list(MODELS) if models is None else list(models)
    unknown = [m for m in chosen if m not in MODELS]
    if unknown or seeds < 1:
        raise ConfigError(f"unknown model(s) {unknown} (known: {', '.join(MODELS)}) or seeds={seeds} < 1")
    say = progress or (lambda message: None)
    data = load_neu(data_dir)
    if limit_per_class is not None:
        keep = [im for label in CLASSES for im in [i for i in data.images if i.label == label][:limit_per_class]]
        data = NEUData(images=keep)
    jobs = [(name, seed) for name in chosen for seed in range(seeds)]
    say(f"neu: {len(data.images)} images, {len(jobs)} runs ({workers} at a time)")
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            outcomes = list(pool.map(_one_seed, *zip(*[(n, s, data, params) for n, s in jobs], strict=True)))
    else:
        outcomes = []
        for name, seed in jobs:
            say(f"neu {name} seed {seed}")
            outcomes.append(_one_seed(name, seed, data, params))
    matrices: dict[str, np.ndarray] = {}
    for outcome, matrix in outcomes:
        say(f"neu {outcome.model} seed {outcome.seed}: accuracy {outcome.metrics['accuracy']:.4f}, "
            f"pointing {outcome.metrics['pointing_accuracy']:.3f}")  # fmt: skip
        matrices[outcome.model] = matrices.get(outcome.model, 0) + matrix
    results = summarise([outcome for outcome, _ in outcomes])
    for row in results:
        row["confusion"] = {"labels": row["classes"], "matrix": matrices[row["model"]].tolist(),
                            "summed_over_seeds": seeds}  # fmt: skip
    return {
        "dataset": "neu",
        "subset": None,
        "protocol": f"NEU-DET, split stratified by class ({1 - TEST_FRACTION:.0%} train / {TEST_FRACTION:.0%} test "
        "per seed), file-name class as label; pointing game against the annotated boxes; one thread per run",
        "primary_metric": "accuracy",
        "results": results,
        "published": PUBLISHED,
        "images": len(data.images),
        "params": {**DEFAULTS, **params},
    }
