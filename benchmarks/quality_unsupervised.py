"""Unsupervised defect detection on NEU-DET with whole classes held out as "defects never seen".

For each held-out class c and each seed: the other five classes are the "good" surface; 80 % of each of them
(stratified, drawn with the seed) fits a :class:`forewarn.quality.patches.PatchDetector`, and the ROC-AUC is
measured on the remaining 20 % of the good classes (negatives) against all 300 images of c (positives). The
backbone is either random (``--backbone random``: no training, nothing seen of any class) or a
:class:`~forewarn.quality.vision.DefectClassifier` trained to tell the five good classes apart on the same 80 %
(``--backbone trained``; never sees class c).

Run: ``.venv/bin/python benchmarks/quality_unsupervised.py --data-dir ../shared/data --seeds 3 --json out.json``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from forewarn.bench.neu import stratified_split
from forewarn.datasets.neu import CLASSES, load_neu
from forewarn.quality.images import decode_many
from forewarn.quality.patches import PatchDetector
from forewarn.quality.vision import DefectClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--methods", default="gaussian,knn")
    parser.add_argument("--backbone", choices=("random", "trained"), default="random")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--held-out", default=",".join(CLASSES), help="comma-separated classes to hold out in turn")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    data = load_neu(args.data_dir)
    labels = np.asarray(data.labels)
    images = decode_many(data.image_paths, args.size)
    rows = []
    chosen = [c.strip() for c in args.held_out.split(",") if c.strip()]
    for held_out in chosen:
        good = np.flatnonzero(labels != held_out)
        bad = np.flatnonzero(labels == held_out)
        for seed in range(args.seeds):
            train_rel, test_rel = stratified_split(labels[good], seed)
            train, test = good[train_rel], good[test_rel]
            backbone = None
            if args.backbone == "trained":
                backbone = DefectClassifier(size=args.size, epochs=args.epochs, seed=seed)
                backbone.fit(images[train], labels[train])
            for method in args.methods.split(","):
                start = time.perf_counter()
                detector = PatchDetector(size=args.size, method=method, seed=seed, backbone=backbone)
                detector.fit(images[train])
                scores = detector.score(images[np.concatenate([test, bad])])
                truth = np.r_[np.zeros(len(test)), np.ones(len(bad))]
                auc = float(roc_auc_score(truth, scores))
                rows.append({"held_out": held_out, "seed": seed, "method": method, "roc_auc": auc,
                             "seconds": time.perf_counter() - start})  # fmt: skip
                print(f"{held_out:16s} seed {seed} {method:8s} ROC-AUC {auc:.3f}", flush=True)
    summary = {}
    for method in args.methods.split(","):
        per_class = {
            c: float(np.mean([r["roc_auc"] for r in rows if r["method"] == method and r["held_out"] == c]))
            for c in chosen
        }
        summary[method] = {"mean_roc_auc": float(np.mean(list(per_class.values()))), "per_class": per_class}
        print(method, json.dumps(summary[method]))
    if args.json:
        args.json.write_text(json.dumps({"backbone": args.backbone, "rows": rows, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
