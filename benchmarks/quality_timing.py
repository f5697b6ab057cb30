"""Milliseconds per 200x200 NEU-DET image on one thread: decode, resize and the CNN's forward pass.

The network's weights do not change its cost, so an untrained network of each size is timed (100 images, all
classes, one at a time; the median of 5 passes). Run: ``.venv/bin/python benchmarks/quality_timing.py``
(expects the data directory at ../shared/data, or FOREWARN_DATA_DIR).
"""

import os

import numpy as np

from forewarn.datasets.neu import load_neu
from forewarn.quality.vision import DefectClassifier, build_network, time_per_image

data = load_neu(os.environ.get("FOREWARN_DATA_DIR", "../shared/data"))
paths = data.image_paths[::18]  # 100 images, all classes
for size, width in ((64, 16), (48, 12)):
    m = DefectClassifier(size=size, width=width)
    net = build_network(6, width)
    net.eval()  # inference cost does not depend on the weights' values
    m.net_, m.classes_ = net, list(range(6))
    runs = [time_per_image(m, paths, repeats=1) for _ in range(5)]
    print(
        size,
        width,
        "median ms per image over 5 passes of 100 images:",
        [round(r, 2) for r in runs],
        round(float(np.median(runs)), 2),
    )
