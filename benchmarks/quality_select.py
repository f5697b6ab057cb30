"""Choose the NEU-DET defect CNN's settings on a validation split made from the *training* images only.

For the seed given, :func:`forewarn.bench.neu.stratified_split` makes the benchmark's train/test split; the test
part is never read here. The training part is split again (stratified, 20 % per class, seed ``1000 + seed``) into
fit and validation images. One network is trained on the fit images and scored on the validation images:
accuracy without and with test-time flip averaging, and pointing (map peak inside an annotated box) for the class
activation map and, when trained with box masks, the localisation head. Prints one JSON line per run.

Run: ``.venv/bin/python benchmarks/quality_select.py --size 128 --stem 2 --epochs 15 --loc-weight 1``
(data directory ../shared/data or FOREWARN_DATA_DIR).
"""

import argparse
import json
import os
import resource
import time

import numpy as np

from forewarn.bench.neu import stratified_split
from forewarn.datasets.neu import load_neu
from forewarn.quality.images import decode_many
from forewarn.quality.vision import DefectClassifier, box_mask, peak_in_boxes

parser = argparse.ArgumentParser()
parser.add_argument("--size", type=int, default=64)
parser.add_argument("--stem", type=int, default=1)
parser.add_argument("--width", type=int, default=16)
parser.add_argument("--epochs", type=int, default=15)
parser.add_argument("--lr", type=float, default=3e-3)
parser.add_argument("--loc-weight", type=float, default=0.0)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

data = load_neu(os.environ.get("FOREWARN_DATA_DIR", "../shared/data"))
labels = np.asarray(data.labels)
train, _test = stratified_split(labels, args.seed)
inner_fit, inner_val = stratified_split(labels[train], 1000 + args.seed)
fit_idx, val_idx = train[inner_fit], train[inner_val]
images = decode_many([data.image_paths[i] for i in train], args.size)
position = {int(i): k for k, i in enumerate(train)}
X = images[[position[int(i)] for i in fit_idx]]
V = images[[position[int(i)] for i in val_idx]]


def boxes(i):
    return [(b.xmin, b.ymin, b.xmax, b.ymax) for b in data.images[i].boxes]


masks = np.stack([box_mask(boxes(i), data.images[i].width, args.size) for i in fit_idx])
model = DefectClassifier(size=args.size, stem=args.stem, width=args.width, epochs=args.epochs, lr=args.lr,
                         loc_weight=args.loc_weight, seed=args.seed)  # fmt: skip
cpu0, wall0 = time.process_time(), time.perf_counter()
model.fit(X, labels[fit_idx], masks=masks)
fit_s, fit_cpu_s = time.perf_counter() - wall0, time.process_time() - cpu0
out = {**vars(args), "fit_images": len(fit_idx), "val_images": len(val_idx), "fit_s": round(fit_s, 1),
       "fit_cpu_s": round(fit_cpu_s, 1)}  # fmt: skip
for tta in (False, True):
    model.tta = tta
    out[f"val_accuracy{'_tta' * tta}"] = float(np.mean(np.asarray(model.predict(V)) == labels[val_idx]))
true = [model.classes_.index(labels[i]) for i in val_idx]
side = [data.images[i].width for i in val_idx]
maps = {"cam": model.cam(V, true)}
if args.loc_weight > 0:
    maps["head"] = model.locate(V)
for name, found in maps.items():
    hits = [peak_in_boxes(m, boxes(i), s) for m, i, s in zip(found, val_idx, side, strict=True)]
    out[f"val_pointing_{name}"] = float(np.mean(hits))
out["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(out), flush=True)
