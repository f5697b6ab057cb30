"""Ensemble member: discords, the subsequences unlike any normal one (a matrix-profile style score, ours).

A matrix profile gives each subsequence of length ``m`` its z-normalised Euclidean distance to the nearest
other subsequence; the largest values are *discords*. The exact profile costs ``O(n^2)``, too much for a
million rows, so this member approximates it in three ways: (1) the neighbour is looked for among up to
``references`` training subsequences per channel (evenly spaced), a nearest-neighbour search against normal
behaviour rather than the whole series, which is also what a causal detector may use; (2) each subsequence is
reduced to ``PAA`` piecewise means (``m / PAA`` rows each), computed for all rows at once from one trailing
mean; (3) the z-normalisation divides by the window's standard deviation floored at ``STD_FLOOR``, so a
near-flat window (a stuck sensor) is a discord instead of amplified noise. The score of a row is the largest,
over channels, of the squared distance per PAA point from its trailing subsequence to the nearest reference;
on training rows the references that overlap the row's subsequence are left out.

Discords answer "has this *shape* been seen?": a new frequency, a changed waveform, a stuck or chattering
sensor; levels are the other members' job (z-normalisation removes them).

>>> import numpy as np
>>> t = np.arange(2000.0)
>>> z = np.sin(2 * np.pi * t / 50)[:, None]
>>> z[1500:1560, 0] = np.sin(2 * np.pi * t[1500:1560] / 9)   # a new frequency
>>> state = fit(z[:1000], length=32, references=128)
>>> s = score(state, z, length=32)
>>> bool(s[1540] > 3 * np.nanquantile(train_scores(state, z[:1000], length=32), 0.99))
True
"""

from __future__ import annotations

import numpy as np

from forewarn.models.anomaly.robust import trailing_mean, trailing_std

#: piecewise means per subsequence
PAA = 8
#: the floor of a subsequence's standard deviation (standardised units of the channel)
STD_FLOOR = 0.1
#: rows scored per block (memory)
BLOCK = 32768
#: rows per matrix product of a block against the references (1,024 rows x 256 references: 2 MiB, in cache;
#: 118 ms a block of 10 channels against 238 ms for whole blocks in float32, one thread, load 4.5)
PRODUCT_ROWS = 1024


def _segment(length: int) -> int:
    return max(1, length // PAA)


def memory(length: int) -> int:
    """Rows before a row that its score reads: its trailing subsequence (:mod:`.memo`)."""
    return _segment(length) * PAA


def shapes(z: np.ndarray, length: int) -> np.ndarray:
    """``(rows, channels, PAA)``-shaped z-normalised PAA of every row's trailing subsequence (``float32``)."""
    seg = _segment(length)
    means = trailing_mean(z, seg)
    spread = np.maximum(trailing_std(z, seg * PAA), STD_FLOOR)
    out = np.empty((len(z), z.shape[1], PAA), dtype="float32")
    for j in range(PAA):
        shift = (PAA - 1 - j) * seg
        part = np.empty_like(means)
        part[shift:] = means[: len(z) - shift] if shift < len(z) else means[:0]
        part[: min(shift, len(z))] = means[:1]
        out[:, :, j] = part
    out -= out.mean(axis=2, keepdims=True)
    out /= spread[:, :, None].astype("float32")
    return out


def fit(z: np.ndarray, length: int, references: int) -> dict[str, np.ndarray]:
    """The reference subsequences: up to ``references`` training rows, evenly spaced, every channel."""
    start = min(_segment(length) * PAA - 1, len(z) - 1)
    index = np.unique(np.linspace(start, len(z) - 1, min(references, len(z) - start)).round().astype("int64"))
    return {"reference": shapes(z, length)[index], "index": index}


def _nearest(v: np.ndarray, reference: np.ndarray, exclude: tuple[np.ndarray, int] | None, lo: int) -> np.ndarray:
    """Each row's squared distance per PAA point to its nearest reference (largest channel), in float64.

    ``|v - r|^2 = |v|^2 + (|r|^2 - 2 v.r)``: the bracket is one matrix product per channel, each row's PAA points
    and a 1 against each reference's ``-2 r`` and ``|r|^2``, taken :data:`PRODUCT_ROWS` rows at a time so that the
    distances stay in cache; its nearest reference is ``|v|^2`` plus the row's smallest bracket. The ``float32``
    subsequences are exact in float64 and so are their products, so only the sums round, at ``2**-53`` of the
    squares: a row's distance does not depend, beyond that, on which rows are scored with it (the order of a
    matrix product's sums is the library's: one row goes through another routine than many). In float32 (until
    2026-12-06) a stream's single row differed from the same row in a batch by 6.0e-8, and the expanded form's
    cancellation left errors of about ``2**-24 * |v|^2`` in every distance (BENCHMARKS.md, issue 14)."""
    best = np.full(len(v), -np.inf)
    v64, r64 = v.astype("float64"), reference.astype("float64")
    v_square = (v64 * v64).sum(axis=2)  # every channel at once
    rows_one = np.concatenate([v64, np.ones(v64.shape[:2] + (1,))], axis=2)
    refs_square = np.concatenate([-2.0 * r64, (r64 * r64).sum(axis=2)[:, :, None]], axis=2)
    for c in range(v.shape[1]):
        a, r = np.ascontiguousarray(rows_one[:, c, :]), np.ascontiguousarray(refs_square[:, c, :].T)
        for start in range(0, len(v), PRODUCT_ROWS):
            end = min(start + PRODUCT_ROWS, len(v))
            d = a[start:end] @ r  # |r|^2 - 2 v.r for each row and reference
            if exclude is not None:
                index, zone = exclude
                rows = np.arange(lo + start, lo + end)
                d[np.abs(rows[:, None] - index[None, :]) < zone] = np.inf
            np.maximum(best[start:end], d.min(axis=1) + v_square[start:end, c], out=best[start:end])
    return np.where(np.isfinite(best), np.maximum(best, 0.0) / PAA, np.nan)


def _score(state: dict[str, np.ndarray], z: np.ndarray, length: int, exclude: bool, first: int = 0) -> np.ndarray:
    out = np.full(len(z), np.nan)
    reference = np.asarray(state["reference"], dtype="float32")
    zone = _segment(length) * PAA
    for lo in range(0, len(z), BLOCK):
        if lo + BLOCK <= first:
            continue
        before = max(0, lo - zone)  # the block's subsequences need the rows before it
        v = shapes(z[before : lo + BLOCK], length)[lo - before :]
        begin = max(lo, first)
        rows = _nearest(v[begin - lo :], reference, (state["index"], zone) if exclude else None, begin)
        out[begin : begin + len(rows)] = rows
    out[: zone - 1] = np.nan  # no full subsequence yet
    return out


def score(state: dict[str, np.ndarray], z: np.ndarray, length: int, first: int = 0) -> np.ndarray:
    """Squared distance per PAA point of each row's subsequence to the nearest reference (largest channel); the rows
    before ``first`` are not scored (NaN: a caller that knows them already, :mod:`.memo`)."""
    return _score(state, z, length, exclude=False, first=first)


def train_scores(state: dict[str, np.ndarray], z: np.ndarray, length: int) -> np.ndarray:
    """Scores of the training rows without the references overlapping them (NaN where none is left)."""
    return _score(state, z, length, exclude=True)
