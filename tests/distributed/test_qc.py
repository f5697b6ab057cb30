"""QC image scoring in batches (``forewarn qc-score``): the same records in this process, on the session's Ray
cluster (head and worker on 127.0.0.1) and from ``forewarn quality inspect``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import Cluster
from forewarn.cli.main import app
from forewarn.distributed import RayExecutor
from forewarn.distributed.qc import score_images
from forewarn.exceptions import ConfigError

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """A tiny defect classifier (good / spot; ``m``, and ``m-loc`` with a localisation head trained on the spots'
    boxes) and 11 grey images of a line."""
    from PIL import Image

    from forewarn.quality.vision import DefectClassifier

    root = tmp_path_factory.mktemp("qc")
    rng = np.random.default_rng(0)
    X = rng.random((8, 1, 16, 16), dtype=np.float32)
    X[4:, :, 4:8, 4:8] = 1.0  # the spots
    labels = ["good"] * 4 + ["spot"] * 4
    DefectClassifier(size=16, width=4, epochs=2, seed=0).fit(X, labels).save(root / "m")
    masks = np.zeros((8, 16, 16), dtype=np.float32)
    masks[4:, 4:8, 4:8] = 1.0
    located = DefectClassifier(size=16, width=4, epochs=2, seed=0, loc_weight=1.0).fit(X, labels, masks=masks)
    located.save(root / "m-loc")
    paths = []
    for i in range(11):
        pixels = rng.random((30, 30)) * 200
        if i % 3 == 0:
            pixels[8:16, 8:16] = 255
        paths.append(root / f"unit{i:02d}.png")
        Image.fromarray(pixels.astype(np.uint8)).save(paths[-1])
    return root / "m", paths


def test_qc_scores_equal_locally_on_ray_and_from_inspect(ray_cluster: Cluster, line: tuple[Path, list[Path]]) -> None:
    model, paths = line
    local = list(score_images(paths, model, good_class="good", batch_size=3, chunk=2))
    on_ray = list(
        score_images(paths, model, good_class="good", batch_size=3, executor=RayExecutor(ray_cluster.address))
    )
    assert on_ray == local and [r["image"] for r in local] == [str(p) for p in paths]
    assert {r["decision"] for r in local} <= {"pass", "review", "reject"}
    for record in local:  # a defect probability is 1 - P(good), and the decision follows the default costs
        assert record["defect_probability"] == pytest.approx(1 - record["probabilities"]["good"], abs=2e-6)
        p = record["defect_probability"]
        assert record["decision"] == ("reject" if p > 0.8 else "review" if p > 0.5 else "pass")
    for folder in (model, model.with_name("m-loc")):  # the same lines as quality inspect, with and without the head
        mine = list(score_images(paths, folder, good_class="good", batch_size=4))
        inspected = CliRunner().invoke(
            app, ["quality", "inspect", *map(str, paths), "--model", str(folder), "--good-class", "good"]
        )
        assert inspected.exit_code == 0, inspected.output
        assert [json.loads(row) for row in inspected.output.splitlines()] == mine
        assert all(("defect_peak" in r) == (folder.name == "m-loc") for r in mine)


def test_cli_qc_score_on_ray_writes_the_same_lines(
    ray_cluster: Cluster, line: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    model, paths = line
    runner = CliRunner()
    args = ["qc-score", *map(str, paths), "--model", str(model), "--batch-size", "4"]
    printed = runner.invoke(app, args)
    assert printed.exit_code == 0, printed.output
    done = runner.invoke(
        app, [*args, "--engine", "ray", "--ray-address", ray_cluster.address, "--out", str(tmp_path / "qc.jsonl")]
    )
    assert done.exit_code == 0, done.output
    assert (tmp_path / "qc.jsonl").read_text() == printed.output and len(printed.output.splitlines()) == 11
    rows = [json.loads(row) for row in printed.output.splitlines()]
    assert all(r["defect_probability"] == 1.0 for r in rows)  # no --good-class: every class is a defect type
    bad = runner.invoke(app, ["qc-score", str(tmp_path / "nope.png"), "--model", str(model)])
    assert isinstance(bad.exception, ConfigError) and "do not exist" in str(bad.exception)
    bad = runner.invoke(app, ["qc-score", str(paths[0]), "--model", str(tmp_path)])
    assert isinstance(bad.exception, ConfigError) and "holds neither a classifier" in str(bad.exception)
    bad = runner.invoke(app, ["qc-score", str(paths[0]), "--model", str(model), "--good-class", "ok"])
    assert isinstance(bad.exception, ConfigError) and "not a class of the model" in str(bad.exception)


def test_qc_score_adds_novelty_as_inspect_does(line: tuple[Path, list[Path]], tmp_path: Path) -> None:
    """A model folder with a texture detector beside the classifier: qc-score's lines carry novelty_score and
    novel and lift novel passes to review, equal to `forewarn quality inspect`'s; the detector alone scores too."""
    import shutil

    model, paths = line
    both = tmp_path / "both"
    shutil.copytree(model, both)
    runner = CliRunner()
    good = tmp_path / "good"
    good.mkdir()
    for path in paths[1:6]:
        shutil.copy(path, good / path.name)
    trained = runner.invoke(app, ["quality", "train", "--unsupervised", "--good-images", str(good), "--out", str(both),
                                  "--texture-size", "32"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    for threshold in ("0", "1e9"):
        extra = ["--good-class", "good", "--escape", "0.1", "--novelty-threshold", threshold]  # every unit would pass
        scored = runner.invoke(app, ["qc-score", *map(str, paths), "--model", str(both), "--batch-size", "4", *extra])
        inspected = runner.invoke(app, ["quality", "inspect", *map(str, paths), "--model", str(both), *extra])
        assert scored.exit_code == 0 and inspected.exit_code == 0, scored.output + inspected.output
        rows = [json.loads(row) for row in scored.output.splitlines()]
        assert rows == [json.loads(row) for row in inspected.output.splitlines()]
        assert all(r["novel"] == (threshold == "0" and r["novelty_score"] > 0) for r in rows)
        assert all(r["decision"] == ("review" if r["novel"] else "pass") for r in rows)
    assert any(r["novelty_score"] > 0 for r in rows) and any(r["novelty_score"] == 0 for r in rows)  # seen: 0
    only = tmp_path / "only"
    only.mkdir()
    shutil.copy(both / "texture.npz", only / "texture.npz")
    alone = list(score_images(paths, only, novelty_threshold=0.0))
    assert [r["novelty_score"] for r in alone] == [r["novelty_score"] for r in rows]
    assert all(r["decision"] == ("review" if r["novelty_score"] > 0 else "pass") for r in alone)
    assert {tuple(sorted(r)) for r in alone} == {("decision", "image", "novel", "novelty_score")}
    with pytest.raises(ConfigError, match="only a texture detector"):
        list(score_images(paths, only, good_class="good"))
