"""Milliseconds per 200x200 NEU-DET image on one thread: decode, resize and the CNN's forward pass (then the
texture detector's features).

The network's weights do not change its cost, so an untrained network of each configuration is timed (100
images, all classes, one at a time; the median of 5 passes): wall time (what a line waits) and the thread's CPU
time (what the core spends; on a loaded machine the wall time is inflated by waiting for a core, the CPU time much
less). Run: ``.venv/bin/python benchmarks/quality_timing.py`` (expects the data directory at ../shared/data, or
FOREWARN_DATA_DIR).
"""

import os
import time

import numpy as np

from forewarn.datasets.neu import load_neu
from forewarn.quality.images import decode
from forewarn.quality.vision import DefectClassifier, build_network

data = load_neu(os.environ.get("FOREWARN_DATA_DIR", "../shared/data"))
paths = data.image_paths[::18]  # 100 images, all classes
CONFIGS = [  # size, width, stem, localisation head, flip averaging
    (64, 16, 1, False, False),
    (48, 12, 1, False, False),
    (128, 16, 2, True, False),
    (128, 16, 2, True, True),
    (200, 16, 2, True, True),
]
for size, width, stem, head, tta in CONFIGS:
    m = DefectClassifier(size=size, width=width, stem=stem, loc_weight=1.0 if head else 0.0, tta=tta)
    net = build_network(6, width, stem, head)
    net.eval()  # inference cost does not depend on the weights' values
    m.net_, m.classes_ = net, list(range(6))
    import torch

    torch.set_num_threads(1)
    walls, cpus = [], []
    for _ in range(5):
        wall, cpu = [], []
        for path in paths:
            w0, c0 = time.perf_counter(), time.thread_time()
            m.predict_proba(decode(path, size)[None, None])
            if head:
                m.locate(decode(path, size)[None, None])
            wall.append(time.perf_counter() - w0)
            cpu.append(time.thread_time() - c0)
        walls.append(np.median(wall) * 1000)
        cpus.append(np.median(cpu) * 1000)
    print(
        f"size {size} width {width} stem {stem} head {head} tta {tta}: median ms per image over 5 passes of 100: "
        f"wall {np.median(walls):.2f} (passes {', '.join(f'{w:.2f}' for w in walls)}), "
        f"cpu {np.median(cpus):.2f}",
        flush=True,
    )

# the texture detector's features (decode at 200 px + texture_features), with and without the binary patterns
from threadpoolctl import threadpool_limits  # noqa: E402

from forewarn.quality.texture import texture_features  # noqa: E402

with threadpool_limits(1):
    for lbp in (False, True):
        walls, cpus = [], []
        for _ in range(5):
            wall, cpu = [], []
            for path in paths:
                w0, c0 = time.perf_counter(), time.thread_time()
                texture_features(decode(path, 200)[None], lbp=lbp)
                wall.append(time.perf_counter() - w0)
                cpu.append(time.thread_time() - c0)
            walls.append(np.median(wall) * 1000)
            cpus.append(np.median(cpu) * 1000)
        print(
            f"texture features, lbp {lbp}: median ms per image over 5 passes of 100: wall {np.median(walls):.2f} "
            f"(passes {', '.join(f'{w:.2f}' for w in walls)}), cpu {np.median(cpus):.2f}",
            flush=True,
        )
