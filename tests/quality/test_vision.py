"""The defect CNN, its maps and the patch detector on small synthetic images (NEU itself: test_neu.py, slow)."""

import numpy as np
import pytest

from forewarn.exceptions import DataNotFoundError, NotFittedError, ParameterError, SchemaError
from forewarn.quality.images import augment, decode, decode_many
from forewarn.quality.patches import PatchDetector
from forewarn.quality.vision import DefectClassifier, peak_in_boxes


def _images(n, rng, size=24):
    """Noise; class 'spot' has a bright 5x5 square at a random place (returned as boxes), 'ok' none."""
    X = rng.normal(0.5, 0.05, (2 * n, 1, size, size)).astype(np.float32)
    boxes = []
    for i in range(n, 2 * n):
        r, c = rng.integers(0, size - 5, 2)
        X[i, 0, r : r + 5, c : c + 5] += 0.5
        boxes.append((int(c), int(r), int(c) + 4, int(r) + 4))
    return X, np.array(["ok"] * n + ["spot"] * n), boxes


def test_training_loop_learns_and_localises_a_synthetic_defect(tmp_path):
    rng = np.random.default_rng(0)
    X, y, _ = _images(16, rng, size=16)
    Xt, yt, boxes = _images(10, rng, size=16)
    model = DefectClassifier(size=16, width=4, epochs=12, batch_size=8, seed=0).fit(X, y)
    assert model.classes_ == ["ok", "spot"]
    assert np.mean(np.array(model.predict(Xt)) == yt) >= 0.9
    # a 16 px input leaves a 2x2 map: too coarse to localise a 5 px spot (pointing is measured on NEU, test_neu.py)
    assert model.cam(Xt[10:], [1] * 10).shape == (10, 16, 16)
    # save / load reproduces the probabilities; same seed -> same model
    again = DefectClassifier.load(model.save(tmp_path / "m"))
    assert np.allclose(again.predict_proba(Xt), model.predict_proba(Xt), atol=1e-6)
    twin = DefectClassifier(size=16, width=4, epochs=12, batch_size=8, seed=0).fit(X, y)
    assert np.allclose(twin.predict_proba(Xt), model.predict_proba(Xt), atol=1e-5)


def test_peak_in_boxes_maps_the_grid_to_image_pixels():
    cam = np.zeros((8, 8))
    cam[2, 5] = 1.0  # cell centre (x 5.5 * 25 = 137.5, y 2.5 * 25 = 62.5) in a 200 px image
    assert peak_in_boxes(cam, [(130, 50, 140, 70)], 200)
    assert not peak_in_boxes(cam, [(50, 130, 70, 140)], 200)  # the transposed box
    assert peak_in_boxes(cam, [(0, 0, 10, 10), (137, 62, 138, 63)], 200)  # any box counts


def test_classifier_errors():
    with pytest.raises(NotFittedError):
        DefectClassifier(size=8).predict_proba(np.zeros((1, 1, 8, 8), np.float32))
    with pytest.raises(ParameterError, match="'epochs'"):
        DefectClassifier(size=8, epochs=0).fit(np.zeros((2, 1, 8, 8), np.float32), ["a", "b"])
    with pytest.raises(SchemaError, match=r"shape \(n, 1, 8, 8\)"):
        DefectClassifier(size=8).fit(np.zeros((2, 1, 9, 9), np.float32), ["a", "b"])
    with pytest.raises(DataNotFoundError):
        DefectClassifier.load("/nonexistent/model")


def test_decode_resizes_and_rejects_non_images(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((40, 20), 255, np.uint8)).save(tmp_path / "w.png")
    out = decode(tmp_path / "w.png", 16)
    assert out.shape == (16, 16) and np.allclose(out, 1.0)
    assert decode_many([tmp_path / "w.png"] * 2, 8).shape == (2, 1, 8, 8)
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(SchemaError, match="bad.jpg"):
        decode(tmp_path / "bad.jpg", 8)


def test_augment_keeps_content_up_to_flips_and_turns():
    image = np.zeros((1, 1, 4, 4), np.float32)
    image[0, 0, 0, 0] = 1.0
    out = augment(image, np.random.default_rng(1))
    # one bright pixel stays one bright pixel, in a corner (flips and quarter turns map corners to corners)
    flat = out[0, 0]
    peak = np.unravel_index(int(flat.argmax()), flat.shape)
    assert peak in {(0, 0), (0, 3), (3, 0), (3, 3)} and (flat > flat[peak] - 0.5).sum() == 1


@pytest.mark.parametrize("method", ["gaussian", "knn"])
def test_patch_detector_ranks_unseen_defects_above_good_images(method):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(2)
    X, y, _ = _images(20, rng, size=32)
    good, bad = X[y == "ok"], X[y == "spot"]
    detector = PatchDetector(size=32, width=8, method=method, seed=0).fit(good[:12])
    scores = detector.score(np.concatenate([good[12:], bad]))
    assert roc_auc_score([0] * 8 + [1] * 20, scores) >= 0.95
    assert detector.patch_map(bad[:1]).shape == (1, 4, 4)
    with pytest.raises(ParameterError):
        PatchDetector(method="nope").fit(good)


def test_box_mask_marks_pixels_whose_centre_lies_in_a_box():
    from forewarn.quality.vision import box_mask

    # 200 px image at 8 px: pixel centres at 12.5, 37.5, ..., 187.5; box x 30..80 covers centres 37.5 and 62.5
    mask = box_mask([(30, 0, 80, 24)], 200, 8)
    assert mask.shape == (8, 8) and mask.sum() == 2 and mask[0, 1] == mask[0, 2] == 1.0
    both = box_mask([(30, 0, 80, 24), (150, 150, 199, 199)], 200, 8)
    assert both.sum() == 2 + 4 and both[7, 7] == 1.0
    assert box_mask([], 200, 8).sum() == 0


def test_augment_moves_a_mask_with_its_image():
    rng = np.random.default_rng(3)
    images = rng.random((6, 1, 8, 8)).astype(np.float32)
    masks = np.zeros((6, 8, 8), np.float32)
    masks[:, 0, 0] = 1.0
    images[:, 0, 0, 0] = 5.0  # the masked pixel is the brightest: it must stay under the mask
    out, moved = augment(images, np.random.default_rng(4), masks=masks)
    assert moved.shape == masks.shape and (moved.sum(axis=(1, 2)) == 1).all()
    for image, mask in zip(out[:, 0], moved, strict=True):
        assert np.unravel_index(image.argmax(), image.shape) == np.unravel_index(mask.argmax(), mask.shape)
    # the images alone come out as with masks (same draws from the generator)
    assert np.allclose(augment(images, np.random.default_rng(4)), out)


def test_localisation_head_learns_where_the_defect_is(tmp_path):
    from forewarn.quality.vision import box_mask

    rng = np.random.default_rng(0)
    X, y, boxes = _images(24, rng, size=32)
    masks = np.zeros((len(X), 32, 32), np.float32)
    masks[24:] = [box_mask([b], 32, 32) for b in boxes]
    Xt, _, test_boxes = _images(12, rng, size=32)
    model = DefectClassifier(size=32, width=4, epochs=15, batch_size=8, stem=1, loc_weight=1.0, seed=0)
    model.fit(X, y, masks=masks)
    found = model.locate(Xt[12:])
    assert found.shape == (12, 32, 32) and ((found >= 0) & (found <= 1)).all()
    # a 32 px input leaves a 4x4 grid of 8 px cells; the peak must land within one cell of the spot
    hits = [
        peak_in_boxes(m, [(x0 - 8, y0 - 8, x1 + 8, y1 + 8)], 32)
        for m, (x0, y0, x1, y1) in zip(found, test_boxes, strict=True)
    ]
    assert np.mean(hits) >= 0.9
    # the head survives save / load; a model without it says so
    again = DefectClassifier.load(model.save(tmp_path / "m"))
    assert np.allclose(again.locate(Xt[12:]), found, atol=1e-6)
    with pytest.raises(NotFittedError, match="no localisation head"):
        DefectClassifier(size=32, width=4, epochs=1).fit(X, y).locate(Xt[:1])
    with pytest.raises(SchemaError, match="masks"):
        DefectClassifier(size=32, width=4, epochs=1, loc_weight=1.0).fit(X, y)


def test_unknown_masks_train_the_classifier_only():
    rng = np.random.default_rng(1)
    X, y, _ = _images(8, rng, size=16)
    masks = np.full((len(X), 16, 16), np.nan, np.float32)
    masks[0] = 0.0  # one known (empty) mask; the rest are units without boxes
    model = DefectClassifier(size=16, width=4, epochs=2, batch_size=4, loc_weight=1.0).fit(X, y, masks=masks)
    assert np.isfinite(model.locate(X[:2])).all()


def test_flip_averaging_is_the_mean_over_the_four_flips():
    rng = np.random.default_rng(2)
    X, y, _ = _images(8, rng, size=16)
    model = DefectClassifier(size=16, width=4, epochs=2, batch_size=4).fit(X, y)
    views = [X, X[..., ::-1], X[..., ::-1, :], X[..., ::-1, ::-1]]
    expected = np.mean([model.predict_proba(np.ascontiguousarray(v)) for v in views], axis=0)
    model.tta = True
    assert np.allclose(model.predict_proba(X), expected, atol=1e-6)
    assert np.allclose(model.predict_proba(X).sum(axis=1), 1.0)


def test_a_model_saved_before_stem_and_head_loads(tmp_path):
    import json

    rng = np.random.default_rng(5)
    X, y, _ = _images(4, rng, size=16)
    model = DefectClassifier(size=16, width=4, epochs=1).fit(X, y)
    folder = model.save(tmp_path / "old")
    manifest = json.loads((folder / "manifest.json").read_text())
    old = {k: manifest["params"][k] for k in ("size", "width", "epochs", "batch_size", "lr", "seed")}
    (folder / "manifest.json").write_text(json.dumps({**manifest, "params": old}))
    again = DefectClassifier.load(folder)
    assert (again.stem, again.loc_weight, again.tta) == (1, 0.0, False)
    assert np.allclose(again.predict_proba(X), model.predict_proba(X), atol=1e-6)
