"""Operating regimes for the ensemble detector: states a machine enters and leaves as part of normal work.

A machine that starts and stops, or switches between load and idle, jumps between clearly separate clouds of
readings. Scored against one baseline, every switch looks like a fault: a jump for the forecast, a new level
for the embeddings, an onset for the CUSUM (on the failing twin fleet, 65 % of the ensemble's false episode
starts lay within 3 rows of a start or a stop). This module finds such regimes in the training rows and
standardises each row against its own regime, so a switch leaves no trace and a fault inside a regime still
does.

**Finding regimes** (:func:`fit`): k-means (k = 2..``max_regimes``) on a sample of the robustly standardised
training rows (clipped at ``CLIP`` so one gross outlier cannot form a cluster). A k is acceptable only when its
silhouette is at least ``MIN_SILHOUETTE`` (clearly separate clouds, not a continuum cut in pieces) and every
cluster is *recurrent*: it holds at least ``MIN_SHARE`` of the training rows and the machine enters it at least
``MIN_VISITS`` times. Recurrence is what tells a regime from an anomaly in the training rows: a level shift that
happened once in the training part forms a tight cluster too, but it is visited once, so it stays an anomaly.
The best acceptable k by silhouette wins; none acceptable: one regime (the detector is unchanged).

**Standardising** (:func:`standardise`): each row goes to the nearest centroid (the same clipped space); its
values become ``(z - median of the regime) / spread of the regime`` (the regime's MAD-based spread, floored at
``FLOOR`` global spreads so a channel that is constant in a regime, e.g. speed 0 when stopped, does not blow up).

The risk, documented: a fault that moves a machine into a cloud that looks like another regime is scored
against that regime. With clearly separate, recurrent regimes (stopped and running) that needs a fault as
large as the difference between stopped and running.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> on = (np.arange(600) // 25) % 2 == 0                  # runs 25 rows, stops 25 rows, again and again
>>> z = np.where(on[:, None], [10.0, 5.0], [0.0, 0.0]) + rng.normal(0, [1.0, 0.5], (600, 2)) * on[:, None]
>>> state = fit(z)
>>> len(state["centroids"]), round(float(np.abs(standardise(state, z)).max()), 1) < 6
(2, True)
>>> len(fit(rng.normal(size=(600, 2)))["centroids"])    # one cloud: one regime
1
"""

from __future__ import annotations

import numpy as np

from forewarn.models.anomaly.robust import robust_location_scale

#: standardised values are clipped here for clustering and assignment
CLIP = 50.0
#: a k is acceptable only with a silhouette at least this high (clearly separate clouds)
MIN_SILHOUETTE = 0.7
#: every regime holds at least this share of the training rows ...
MIN_SHARE = 0.02
#: ... and the machine enters it at least this many times in the training rows
MIN_VISITS = 3
#: a regime's spread of a channel is at least this many global (training) spreads
FLOOR = 0.05
#: training rows sampled for k-means and the silhouette
SAMPLE = 1500
#: rows after a switch of regime that the forecast and change-point members sit out (a machine settles)
SETTLE = 3
#: divide by the regime's spread too (centring alone was tried: more false alarms on the twin fleet, BENCHMARKS.md)
SCALE = True
#: the state's arrays (centroids in the clipped standardised space, each regime's median and spread)
NAMES = ("centroids", "center", "spread")


def _one(z: np.ndarray) -> dict[str, np.ndarray]:
    n_channels = z.shape[1]
    return {
        "centroids": np.zeros((1, n_channels)),
        "center": np.zeros((1, n_channels)),
        "spread": np.ones((1, n_channels)),
    }


def _visits(labels: np.ndarray, k: int) -> np.ndarray:
    """How many times each label is entered (a run of equal labels is one visit)."""
    starts = np.r_[True, labels[1:] != labels[:-1]]
    return np.bincount(labels[starts], minlength=k)


def fit(
    z: np.ndarray,
    max_regimes: int = 4,
    seed: int = 0,
    *,
    min_share: float | None = None,
    min_visits: int | None = None,
) -> dict[str, np.ndarray]:
    """Regimes of the standardised, gap-filled training rows ``z`` (module text); one regime when none is clear."""
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    # one thread: k-means on a sample of rows is slower with OpenMP on a busy 2-core machine
    with threadpool_limits(1):
        return _fit(
            z,
            max_regimes,
            seed,
            MIN_SHARE if min_share is None else min_share,
            MIN_VISITS if min_visits is None else min_visits,
        )


def _fit(z: np.ndarray, max_regimes: int, seed: int, min_share: float, min_visits: int) -> dict[str, np.ndarray]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(z)
    if n < 2 * min_visits * 2 or max_regimes < 2:
        return _one(z)
    clipped = np.clip(z, -CLIP, CLIP)
    rng = np.random.default_rng(seed)
    sample = clipped[np.sort(rng.choice(n, size=min(n, SAMPLE), replace=False))]
    if len(np.unique(np.round(sample, 9), axis=0)) < 3:
        return _one(z)
    best: tuple[float, np.ndarray] | None = None
    for k in range(2, max_regimes + 1):
        model = KMeans(n_clusters=k, n_init=2, random_state=seed).fit(sample)
        if len(set(model.labels_.tolist())) < k:
            break
        silhouette = float(silhouette_score(sample, model.labels_, random_state=seed))
        if silhouette < MIN_SILHOUETTE or (best is not None and silhouette <= best[0]):
            continue
        labels = _assign(model.cluster_centers_, clipped)
        shares = np.bincount(labels, minlength=k) / n
        if shares.min() < min_share or _visits(labels, k).min() < min_visits:
            continue
        best = (silhouette, model.cluster_centers_)
    if best is None:
        return _one(z)
    centroids = best[1]
    labels = _assign(centroids, clipped)
    center = np.zeros_like(centroids)
    spread = np.ones_like(centroids)
    for r in range(len(centroids)):
        center[r], spread[r] = robust_location_scale(z[labels == r])
        # robust_location_scale gives 1 for a constant channel: a constant channel of a regime gets the floor
        constant = np.ptp(z[labels == r], axis=0) == 0
        spread[r] = np.maximum(np.where(constant, FLOOR, spread[r]), FLOOR)
    return {"centroids": centroids, "center": center, "spread": spread}


def _assign(centroids: np.ndarray, clipped: np.ndarray) -> np.ndarray:
    distance = np.zeros((len(clipped), len(centroids)))
    for r, centroid in enumerate(centroids):
        distance[:, r] = ((clipped - centroid) ** 2).sum(axis=1)
    labels: np.ndarray = distance.argmin(axis=1)
    return labels


def assign(state: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    """The regime of each row: the nearest centroid in the clipped standardised space."""
    return _assign(state["centroids"], np.clip(z, -CLIP, CLIP))


def standardise(state: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    """Each row against its own regime's median and spread (unchanged with one regime)."""
    if len(state["centroids"]) == 1:
        return z
    labels = assign(state, z)
    out: np.ndarray = z - state["center"][labels]
    if SCALE:
        out = out / state["spread"][labels]
    return out


def settling(state: dict[str, np.ndarray], z: np.ndarray, rows: int = SETTLE) -> np.ndarray:
    """Rows whose regime differs from that of one of the ``SETTLE`` rows before them (all False with one regime):
    a machine that just started or stopped is still settling (temperatures lag, a forecast jumps)."""
    out = np.zeros(len(z), dtype=bool)
    if len(state["centroids"]) == 1:
        return out
    labels = assign(state, z)
    switched = np.r_[False, labels[1:] != labels[:-1]]
    # a row is settling when a switch happened at it or in the ``rows - 1`` rows before it
    count = np.cumsum(switched)
    out = (
        count - np.r_[np.zeros(min(rows, len(z)), dtype=count.dtype), count[:-rows]] > 0 if len(z) > rows else count > 0
    )
    return out
