"""Unsupervised defect detection on NEU-DET with whole classes held out as "defects never seen".

For each held-out class c and each seed: the other five classes are the "good" surface; 80 % of each of them
(stratified, drawn with the seed) fits the detector, and the ROC-AUC is measured on the remaining 20 % of the good
classes (negatives) against all 300 images of c (positives). Class c is never seen by any fit or choice.

Detectors (``--backbone``):

* ``random``: :class:`forewarn.quality.patches.PatchDetector` on a randomly initialised CNN (nothing trained);
* ``trained``: the same on a :class:`~forewarn.quality.vision.DefectClassifier` trained to tell the five good
  classes apart on the same 80 % (never sees class c);
* ``texture``: :class:`forewarn.quality.texture.TextureDetector` (grey-level statistics and filter-bank energies,
  local binary patterns, nearest good images), 200 px images. With ``--select`` its settings (k in 1, 3, 5; with or
  without the grey-level statistics; with or without the local binary patterns) are chosen per fold by a validation inside the fitting images only: each seen class in turn is the
  pseudo-unseen defect, the other four split 80/20 again; the setting with the best mean validation ROC-AUC is
  then fitted on all the fitting images and scored once on the fold's test images.

Run: ``.venv/bin/python benchmarks/quality_unsupervised.py --data-dir ../shared/data --backbone texture --seeds 5
--select --json out.json``
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from forewarn.bench.neu import stratified_split
from forewarn.datasets.neu import CLASSES, load_neu
from forewarn.quality.images import decode_many
from forewarn.quality.patches import PatchDetector
from forewarn.quality.texture import TextureDetector, texture_features
from forewarn.quality.vision import DefectClassifier

TEXTURE_GRID = [
    {"k": k, "grey": grey, "lbp": lbp} for lbp in (True, False) for grey in (True, False) for k in (1, 3, 5)
]


def _auc(negatives: np.ndarray, positives: np.ndarray) -> float:
    truth = np.r_[np.zeros(len(negatives)), np.ones(len(positives))]
    return float(roc_auc_score(truth, np.r_[negatives, positives]))


def texture_fold(feats: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray, bad: np.ndarray,
                 select: bool) -> tuple[float, dict[str, object], float | None]:  # fmt: skip
    """(test ROC-AUC, the setting used, its validation ROC-AUC or None)."""
    setting: dict[str, object] = TextureDetector().get_params()
    validation = None
    if select:
        scored = []
        for params in TEXTURE_GRID:
            inner = []
            for pseudo in sorted(set(labels[train].tolist())):
                seen = train[labels[train] != pseudo]
                fit_rel, val_rel = stratified_split(labels[seen], 100)
                det = TextureDetector(**params).fit_features(feats[seen[fit_rel]])  # type: ignore[arg-type]
                val_bad = train[labels[train] == pseudo]
                inner.append(_auc(det.score_features(feats[seen[val_rel]]), det.score_features(feats[val_bad])))
            scored.append((float(np.mean(inner)), params))
        validation, setting = max(scored, key=lambda item: item[0])
    det = TextureDetector(**setting).fit_features(feats[train])  # type: ignore[arg-type]
    return _auc(det.score_features(feats[test]), det.score_features(feats[bad])), setting, validation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--methods", default="gaussian,knn", help="patch detectors' methods (random, trained)")
    parser.add_argument("--backbone", choices=("random", "trained", "texture"), default="random")
    parser.add_argument("--select", action="store_true", help="texture: choose the setting inside each fold")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--size", type=int, default=64, help="CNN input size (texture: always 200 px)")
    parser.add_argument("--held-out", default=",".join(CLASSES), help="comma-separated classes to hold out in turn")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    started, cpu0 = time.perf_counter(), time.process_time()
    data = load_neu(args.data_dir)
    labels = np.asarray(data.labels)
    texture = args.backbone == "texture"
    images = decode_many(data.image_paths, 200 if texture else args.size)
    feats = texture_features(images) if texture else None
    feature_cpu = time.process_time() - cpu0
    methods = ["texture-knn"] if texture else args.methods.split(",")
    rows = []
    chosen = [c.strip() for c in args.held_out.split(",") if c.strip()]
    for held_out in chosen:
        good = np.flatnonzero(labels != held_out)
        bad = np.flatnonzero(labels == held_out)
        for seed in range(args.seeds):
            train_rel, test_rel = stratified_split(labels[good], seed)
            train, test = good[train_rel], good[test_rel]
            start = time.perf_counter()
            if feats is not None:
                auc, setting, validation = texture_fold(feats, labels, train, test, bad, args.select)
                rows.append({"held_out": held_out, "seed": seed, "method": "texture-knn", "roc_auc": auc,
                             "setting": setting, "validation_roc_auc": validation,
                             "seconds": time.perf_counter() - start})  # fmt: skip
                print(f"{held_out:16s} seed {seed} texture {setting} val {validation} ROC-AUC {auc:.3f}", flush=True)
                continue
            backbone = None
            if args.backbone == "trained":
                backbone = DefectClassifier(size=args.size, epochs=args.epochs, seed=seed)
                backbone.fit(images[train], labels[train])
            for method in methods:
                start = time.perf_counter()
                detector = PatchDetector(size=args.size, method=method, seed=seed, backbone=backbone)
                detector.fit(images[train])
                auc = _auc(detector.score(images[test]), detector.score(images[bad]))
                rows.append({"held_out": held_out, "seed": seed, "method": method, "roc_auc": auc,
                             "seconds": time.perf_counter() - start})  # fmt: skip
                print(f"{held_out:16s} seed {seed} {method:8s} ROC-AUC {auc:.3f}", flush=True)
    summary = {}
    for method in methods:
        per_class = {
            c: float(np.mean([r["roc_auc"] for r in rows if r["method"] == method and r["held_out"] == c]))
            for c in chosen
        }
        per_seed = [
            float(np.mean([r["roc_auc"] for r in rows if r["method"] == method and r["seed"] == s]))
            for s in range(args.seeds)
        ]
        summary[method] = {"mean_roc_auc": float(np.mean(list(per_class.values()))), "per_class": per_class,
                           "per_seed_mean": per_seed, "min_fold": float(min(r["roc_auc"] for r in rows))}  # fmt: skip
        print(method, json.dumps(summary[method]))
    cpu = {"feature_cpu_s": feature_cpu, "total_cpu_s": time.process_time() - cpu0,
           "wall_s": time.perf_counter() - started, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip
    print(json.dumps(cpu))
    if args.json:
        out = {"backbone": args.backbone, "select": args.select, "rows": rows, "summary": summary, **cpu}
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
