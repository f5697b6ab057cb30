"""forewarn bench neu on a small subset of the real NEU-DET images (slow: trains a CNN)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from forewarn.bench.neu import run, stratified_split
from forewarn.cli.main import app
from forewarn.quality.vision import DefectClassifier

pytestmark = [pytest.mark.slow, pytest.mark.needs_data]


def test_bench_neu_subset_end_to_end(shared_data_dir):
    if not (shared_data_dir / "neu_det").is_dir():
        pytest.skip("neu_det not in the data directory")
    payload = run(None, 1, shared_data_dir, limit_per_class=30, size=32, width=8, epochs=10)
    (row,) = payload["results"]
    assert payload["images"] == 180 and row["model"] == "small-cnn" and row["seeds"] == 1
    # 6 classes x 6 test images: the confusion matrix holds every test image once
    matrix = row["confusion"]["matrix"]
    assert len(matrix) == 6 and sum(map(sum, matrix)) == 36
    assert row["accuracy"] == pytest.approx(sum(matrix[i][i] for i in range(6)) / 36)
    assert row["accuracy"] > 0.4  # well above chance (1/6) after 10 epochs on 144 images
    assert 0.0 <= row["pointing_accuracy"] <= 1.0 and row["ms_per_image"] > 0
    assert {f"recall_{c}" for c in row["classes"]} <= set(row)


def test_split_is_stratified_and_seeded():
    labels = ["a"] * 50 + ["b"] * 25
    train, test = stratified_split(labels, seed=1)
    assert sorted(labels[i] for i in test).count("a") == 10 and len(test) == 15
    assert list(stratified_split(labels, seed=1)[1]) == list(test)
    assert list(stratified_split(labels, seed=2)[1]) != list(test)


def test_quality_train_cli_writes_a_model(shared_data_dir, tmp_path):
    if not (shared_data_dir / "neu_det").is_dir():
        pytest.skip("neu_det not in the data directory")
    args = ["quality", "train", "--out", str(tmp_path / "m"), "--data-dir", str(shared_data_dir)]
    options = ["--epochs", "1", "--size", "32", "--limit-per-class", "10", "--stem", "2", "--loc-weight", "1"]
    result = CliRunner().invoke(app, [*args, *options, "--tta"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["train_images"] == 48 and out["test_images"] == 12
    assert (tmp_path / "m" / "model.pt").is_file()
    model = DefectClassifier.load(tmp_path / "m")
    assert (model.stem, model.loc_weight, model.tta) == (2, 1.0, True)
    assert model.locate(np.zeros((1, 1, 32, 32), np.float32)).shape == (1, 32, 32)


def test_texture_detector_finds_a_class_it_never_saw(shared_data_dir):
    """The held-out-class protocol on a small subset: patches never seen, three other classes as good surface."""
    if not (shared_data_dir / "neu_det").is_dir():
        pytest.skip("neu_det not in the data directory")
    from sklearn.metrics import roc_auc_score

    from forewarn.datasets.neu import load_neu
    from forewarn.quality.images import decode_many
    from forewarn.quality.texture import TextureDetector

    data = load_neu(shared_data_dir)
    by_class: dict[str, list] = {}
    for path, label in zip(data.image_paths, data.labels, strict=True):
        by_class.setdefault(label, []).append(path)
    good = ["crazing", "rolled-in_scale", "scratches"]
    fit = decode_many([p for c in good for p in by_class[c][:30]], 200)
    held_good = decode_many([p for c in good for p in by_class[c][30:40]], 200)
    unseen = decode_many(by_class["patches"][:30], 200)
    det = TextureDetector(lbp=False).fit(fit)
    scores = det.score(np.concatenate([held_good, unseen]))
    auc = roc_auc_score(np.r_[np.zeros(len(held_good)), np.ones(len(unseen))], scores)
    assert auc > 0.9, auc
